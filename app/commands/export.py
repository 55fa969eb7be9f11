"""`signet export`: build a draft from flags and/or a preset, export, print the snippets."""

from __future__ import annotations

import argparse
import json
import sys

from app.core.errors import SignetError
from app.core.signature.draft import DEFAULT_SIGNATURE, Draft, Signature, Slot, record_facts

SIGNATURES_DEST = "signatures"


class SignatureAction(argparse.Action):
    """Collect --signature/--method/--input/--output in order: slots join the last signature."""

    def __call__(self, parser, namespace, values, option_string=None):
        sigs = getattr(namespace, SIGNATURES_DEST, None)
        if sigs is None:
            sigs = []
            setattr(namespace, SIGNATURES_DEST, sigs)
        if option_string == "--signature" or not sigs:
            sigs.append({"key": DEFAULT_SIGNATURE, "method": None, "inputs": [], "outputs": []})
        current = sigs[-1]
        if option_string == "--signature":
            current["key"] = values
        elif option_string == "--method":
            current["method"] = values
        else:
            current[option_string.lstrip("-") + "s"].append(values)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="checkpoint folder, prefix, or one of its files")
    parser.add_argument("--out", metavar="BASE", help="base folder TensorFlow Serving reads")
    parser.add_argument("--name", help="model name (the folder inside BASE)")
    parser.add_argument("--version", type=int, metavar="N",
                        help="version number (default: one more than the highest there)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace VERSION if it already exists")
    parser.add_argument("--save-preset", metavar="FILE", help="save this export as a preset")
    add_draft_arguments(parser)


def add_draft_arguments(parser: argparse.ArgumentParser, keep_flag: str = "--keep") -> None:
    """The flags that make the draft: signatures, binds, a preset, what to keep, checks,
    samples and the rewrites (`signet watch` takes the same; its ``--keep`` counts
    versions, so it names the rewrite flag ``keep_flag``)."""
    parser.add_argument("--signature", action=SignatureAction, metavar="KEY",
                        help="start a signature (default key serving_default); the "
                             "--method/--input/--output after it belong to it")
    parser.add_argument("--method", action=SignatureAction,
                        choices=("predict", "classify", "regress"),
                        help="the current signature's method (default predict)")
    parser.add_argument("--input", action=SignatureAction, metavar="[KEY=]TENSOR",
                        help="a signature input (TENSOR may omit :0; without KEY= the key "
                             "is the proposal's or the tensor's name); repeat for more")
    parser.add_argument("--output", action=SignatureAction, metavar="[KEY=]TENSOR",
                        help="a signature output (KEY= as for --input); repeat for more")
    parser.add_argument("--bind", action="append", default=[], metavar="TENSOR=VALUE",
                        help="bake a tensor (a placeholder, a constant...) in as a constant "
                             "(JSON value or text)")
    parser.add_argument("--preset", metavar="FILE", help="apply a saved signature preset")
    training = parser.add_mutually_exclusive_group()
    training.add_argument("--keep-training-state", action="store_true",
                          help="also keep what only training uses (optimizer slots, "
                               "gradients, summaries, the global step)")
    training.add_argument("--strip-training", action="store_true",
                          help="keep only what the signatures need (the default; overrides "
                               "a preset that keeps the training state)")
    parser.add_argument("--no-verify", action="store_true",
                        help="skip comparing the export with the checkpoint")
    parser.add_argument("--no-warmup", action="store_true",
                        help="write no TensorFlow Serving warmup file (assets.extra)")
    parser.add_argument("--samples", metavar="FILE",
                        help="real examples to verify on and replay as warmup: a REST "
                             "predict body, an .npz keyed by input, or a TFRecord of "
                             "tf.Example")
    add_rewrite_arguments(parser, keep_flag)


def add_rewrite_arguments(parser: argparse.ArgumentParser, keep_flag: str = "--keep") -> None:
    """Switches for the training-to-serving rewrites (`signet inspect` lists the ids)."""
    parser.add_argument("--no-rewrite", action="append", default=[], metavar="ID",
                        help="switch off a rewrite (e.g. dropout) or one site "
                             "(e.g. dropout:dense/dropout); repeat for more")
    parser.add_argument("--rewrite", action="append", default=[], metavar="ID",
                        help="switch on a rewrite or site that is off by default "
                             "(e.g. moving_average)")
    parser.add_argument(keep_flag, action="append", default=[], metavar="SITE",
                        help="export a site that cannot be rewritten as it is, on purpose")


def apply_rewrite_flags(draft: Draft, args: argparse.Namespace) -> None:
    """Put --rewrite/--no-rewrite/--keep on top of what the draft (a preset) says."""
    for name in getattr(args, "rewrite", []):
        draft.rewrites[name.strip()] = True
    for name in getattr(args, "no_rewrite", []):
        draft.rewrites[name.strip()] = False
    for site in getattr(args, "keep", []):
        if site.strip() not in draft.kept:
            draft.kept.append(site.strip())


def _slot(text: str, flag: str) -> Slot:
    """``KEY=TENSOR``, or a bare ``TENSOR`` whose key is given once the graph is read
    (`key_unkeyed_slots`), as the window keys a dropped tensor."""
    if "=" not in text and text.strip():
        return Slot("", text.strip())
    return Slot(*_pair(text, flag))


def _pair(text: str, flag: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or not value.strip():
        example = "TENSOR=VALUE (e.g. keep_prob=1.0)" if flag == "--bind" else \
            "[KEY=]TENSOR (e.g. ids=encode_ids:0 or encode_ids)"
        raise SignetError(f"{flag} {text!r}: expected {example}")
    return key.strip(), value.strip()


def _bind_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
    except (ValueError, RecursionError) as exc:  # thousands of digits, or of nested lists
        raise SignetError(f"--bind value {text[:40]}…: no tensor holds a number of thousands "
                          "of digits or lists nested thousands deep") from exc


def draft_from_args(args: argparse.Namespace) -> Draft:
    """The preset (if any) with the command line's signatures, bindings and options on top."""
    from app.core.signature.preset import load_preset

    draft = load_preset(args.preset) if args.preset else Draft([])
    sigs = getattr(args, SIGNATURES_DEST, None) or []
    if sigs:
        draft.signatures = [
            Signature(s["key"], s["method"] or "predict",
                      [_slot(t, "--input") for t in s["inputs"]],
                      [_slot(t, "--output") for t in s["outputs"]])
            for s in sigs
        ]
    for text in args.bind:
        name, value = _pair(text, "--bind")
        draft.bound[name] = _bind_value(value)
    apply_rewrite_flags(draft, args)
    opts = draft.options
    opts.base = args.out or opts.base
    opts.name = args.name or opts.name
    opts.version = args.version
    opts.overwrite = args.overwrite
    if args.keep_training_state or args.strip_training:
        opts.strip_training = args.strip_training
    opts.verify = opts.verify and not args.no_verify
    opts.warmup = opts.warmup and not getattr(args, "no_warmup", False)
    opts.samples = getattr(args, "samples", None) or opts.samples
    if not opts.base or not opts.name:
        raise SignetError("give --out BASE and --name NAME (where TensorFlow Serving will "
                          "look for the model)")
    return draft


def run_export(args: argparse.Namespace) -> int:
    from app.core.export import check_draft, export_model, open_checkpoint
    from app.core.export.publish import check_target
    from app.core.export.serving import curl_command
    from app.core.signature.draft import key_unkeyed_slots
    from app.core.signature.preset import save_preset

    draft = draft_from_args(args)
    opts = draft.options
    check_target(opts.base, opts.name, opts.version, opts.overwrite)
    loaded = open_checkpoint(args.checkpoint)
    if not draft.signatures:
        use_proposal(draft, loaded)
    key_unkeyed_slots(draft, loaded)
    check_draft(draft, loaded)
    for line in rewrite_lines(draft, loaded.graph):
        print(line, file=sys.stderr)
    if args.save_preset:
        record_facts(draft, loaded.graph)
        print(f"Saved preset {save_preset(draft, args.save_preset)}", file=sys.stderr)

    def progress(fraction: float, message: str) -> None:
        print(f"[{fraction:4.0%}] {message}", file=sys.stderr, flush=True)

    result = export_model(draft, loaded, progress=progress)
    print(f"Published {result.path} (version {result.version})")
    if result.verification is not None:
        print(f"Verification: {result.verification.summary()}")
    else:
        print("Verification: skipped (--no-verify)")
    if result.samples_origin:
        print(f"Samples: {result.samples_origin}")
    for note in result.notes:
        print(f"{note.level}: {note}")
    print("\n" + result.summary)
    print("models.config entry:\n" + result.models_config)
    for key in sorted(result.signature_defs):
        refusal = result.rest_refusal(key)
        if refusal:
            print(f"REST :predict body for {key!r}: none; {refusal}")
            continue
        print(f"REST :predict body for {key!r}:\n{result.rest_texts[key]}")
        print(curl_command(result.model_folder.name, result.rest_texts[key]))
    return 0


def use_proposal(draft: Draft, loaded) -> None:
    """Give ``draft`` (no signature of its own) the signature Signet proposes, and print
    it: without --input/--output, the export serves the proposal."""
    from app.commands.inspect import proposal_lines

    proposal = loaded.proposal
    if proposal.empty:
        raise SignetError(f"{loaded.files.meta}: nothing to export: Signet found no "
                          "prediction to serve in this graph; give --input KEY=TENSOR and "
                          "--output KEY=TENSOR (`signet inspect CHECKPOINT` lists tensors)")
    draft.signatures = proposal.draft().signatures
    print("No --input/--output given: exporting the proposed signature.")
    print("\n".join(proposal_lines(proposal)) + "\n", flush=True)


def rewrite_lines(draft: Draft, graph) -> list[str]:
    """One line per inference rewrite the export applies: its title, sites and a few keys."""
    from app.core.rewrite import active, find_all, registry

    applied = active(find_all(graph, draft), draft)
    lines = []
    for rw in registry():
        keys = [f.key for f in applied if f.rewrite == rw.id]
        if keys:
            shown = ", ".join(keys[:3]) + (", …" if len(keys) > 3 else "")
            lines.append(f"Training → serving: {rw.title}: {len(keys)} site(s) ({shown}); "
                         f"--no-rewrite {rw.id} leaves them as trained")
    return lines

