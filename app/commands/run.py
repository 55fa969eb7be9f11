"""`signet run PATH --request BODY.json`: answer a REST predict body as TF Serving would.

PATH is an exported SavedModel (a version folder, or a model folder meaning its
newest version) or a checkpoint with the signature given as for `export`
(``--preset``, ``--input``, ``--output``, ``--bind``); a checkpoint is exported
into a temporary folder first, so the answer is the one the export would give.
The answer is the server's text: ``{"predictions": …}`` or ``{"outputs": …}``, and
``{"error": …}`` (exit status 2) for a request the server refuses.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from app.core.errors import SignetError

EXIT_REFUSED = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="SavedModel version folder, model folder (its newest "
                                     "version), or checkpoint")
    parser.add_argument("--request", required=True, metavar="BODY.json",
                        help="a TF Serving REST :predict body ('-' reads standard input)")
    parser.add_argument("--signature", metavar="KEY",
                        help="the signature when the body names none (default "
                             "serving_default); with a checkpoint, the key of the signature "
                             "--input/--output build")
    parser.add_argument("--preset", metavar="FILE", help="checkpoint: a saved signature preset")
    parser.add_argument("--input", action="append", default=[], metavar="[KEY=]TENSOR",
                        help="checkpoint: a signature input (KEY= as for export); repeat "
                             "for more")
    parser.add_argument("--output", action="append", default=[], metavar="[KEY=]TENSOR",
                        help="checkpoint: a signature output; repeat for more")
    parser.add_argument("--bind", action="append", default=[], metavar="PLACEHOLDER=VALUE",
                        help="checkpoint: bake a placeholder in as a constant")


def _read_body(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    path = Path(source)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise SignetError(f"--request {path}: no such file; give the JSON body of a "
                          "TF Serving :predict request") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SignetError(f"--request {path}: cannot read it ({exc}); give a UTF-8 JSON "
                          "file") from exc


def _with_signature(body: str, key: str | None) -> str:
    """The body with ``signature_name`` set to ``key`` when it names none."""
    import json

    if key is None:
        return body
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return body  # the server's parser reports it
    if isinstance(doc, dict) and "signature_name" not in doc:
        doc["signature_name"] = key
        return json.dumps(doc)
    if isinstance(doc, dict) and doc["signature_name"] != key:
        raise SignetError(f"--signature {key}: the body asks for signature "
                          f"{doc['signature_name']!r}; drop one of the two")
    return body


def _checkpoint_draft(args: argparse.Namespace):
    from app.commands.export import _bind_value, _pair, _slot
    from app.core.signature.draft import DEFAULT_SIGNATURE, Draft, Signature
    from app.core.signature.preset import load_preset

    draft = load_preset(args.preset) if args.preset else Draft([])
    if args.input or args.output:
        draft.signatures = [Signature(
            args.signature or DEFAULT_SIGNATURE, "predict",
            [_slot(t, "--input") for t in args.input],
            [_slot(t, "--output") for t in args.output])]
    for text in args.bind:
        name, value = _pair(text, "--bind")
        draft.bound[name] = _bind_value(value)
    if not draft.signatures:
        raise SignetError(f"{args.path} is a checkpoint: give --input KEY=TENSOR and "
                          "--output KEY=TENSOR (or --preset FILE) to say what to run")
    draft.options.verify = False
    draft.options.warmup = False
    return draft


def run_run(args: argparse.Namespace) -> int:
    from app.core.serving.serving_model import ServingModel, answer, model_version_folder

    body = _with_signature(_read_body(args.request), args.signature)
    folder = model_version_folder(args.path)
    if folder is not None:
        with ServingModel(folder) as model:
            text, ok = answer(model, body)
    else:
        from app.core.export import export_model, open_checkpoint
        from app.core.signature.draft import key_unkeyed_slots

        loaded = open_checkpoint(args.path)
        draft = _checkpoint_draft(args)
        key_unkeyed_slots(draft, loaded)
        with tempfile.TemporaryDirectory(prefix="signet-run-") as base:
            draft.options.base, draft.options.name = base, "model"
            result = export_model(draft, loaded)
            with ServingModel(result.path) as model:
                text, ok = answer(model, body)
    print(text)
    return 0 if ok else EXIT_REFUSED
