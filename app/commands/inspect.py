"""`signet inspect`: a readable or JSON summary of a checkpoint."""

from __future__ import annotations

import argparse
import json
import sys

from app.core.disk.saved_model_source import is_saved_model, signature_lines, signatures_json
from app.core.disk.variables import Role
from app.core.loader import LoadedCheckpoint, load_checkpoint
from app.core.proposal import Proposal
from app.core.signature.draft import Draft
from app.core.validation.draft import draft_from_suggestions


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def _findings(loaded: LoadedCheckpoint, args: argparse.Namespace) -> tuple[list, Draft]:
    """The rewrites' findings for the proposed signature, with the flags' switches."""
    from app.commands.export import apply_rewrite_flags
    from app.core.rewrite import find_all

    draft = draft_from_suggestions(loaded)
    apply_rewrite_flags(draft, args)
    return find_all(loaded.graph, draft), draft


def run_inspect(args: argparse.Namespace) -> int:
    from app.core.rewrite import describe
    from app.core.samples.fixed_batch import fixed_batches

    loaded = load_checkpoint(args.path)
    for warning in loaded.checkpoint.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    findings, draft = _findings(loaded, args)
    fixed = fixed_batches(draft, loaded.graph)
    if args.json:
        summary = loaded.summary()
        summary["rewrites"] = describe(findings, draft)
        summary["fixed_batch"] = [{"signature": key, "size": hit.size, "op": hit.op,
                                   "warning": hit.message} for key, hit in fixed.items()]
        if args.search:
            summary["search"] = _search(loaded, args.search, args.regex)
        print(json.dumps(summary, indent=2))
        return 0
    print(format_summary(loaded))
    for key, hit in fixed.items():  # a client sending another batch size gets an error
        print(f"warning: signature {key!r}: {hit.message}")
    print("\nTraining → serving")
    for item in describe(findings, draft):
        state = "on " if item["on"] else "off"
        extra = f"  BLOCKED: {item['blocked']}" if item["blocked"] else ""
        extra += f"  warning: {item['warning']}" if item["warning"] else ""
        print(f"  [{state}] {item['id']}: {item['summary']}{extra}")
    if not findings:
        print("  (nothing to rewrite)")
    if args.search:
        matches = _search(loaded, args.search, args.regex)
        print(f"\nSearch {args.search!r}: {len(matches)} ops")
        for name in matches:
            op = loaded.graph.ops[name]
            print(f"  {name}  ({op.type})")
    if args.ops:
        print("\nOps:")
        for op in loaded.graph.ops.values():
            tensors = ", ".join(f"{t.name} {t.dtype} {t.shape_text}" for t in op.outputs)
            print(f"  {op.name}  {op.type}  {tensors}")
    return 0


def _search(loaded: LoadedCheckpoint, query: str, regex: bool) -> list[str]:
    from app.core.errors import SignetError

    result = loaded.search_index.search(query, regex=regex)
    if result.error:
        raise SignetError(f"--search {query!r}: {result.error}")
    return result.ops


def format_summary(loaded: LoadedCheckpoint) -> str:
    ckpt = loaded.checkpoint
    variables = loaded.variables
    graph = loaded.graph
    lines = [
        f"{'SavedModel' if is_saved_model(loaded) else 'Checkpoint'}  {ckpt.prefix}",
        f"Step        {ckpt.step if ckpt.step is not None else '-'}"
        f"   (steps here: {', '.join(map(str, ckpt.steps)) or '-'})",
        f"Ops         {len(graph.ops)} in the main graph"
        + (f", {sum(len(b) for b in graph.functions.values())} in "
           f"{len(graph.functions)} functions" if graph.functions else ""),
    ]
    share = variables.training_bytes / variables.nbytes if variables.nbytes else 0.0
    lines.append(
        f"Variables   {variables.count} ({human_bytes(variables.nbytes)}); training-only "
        f"{human_bytes(variables.training_bytes)} ({share:.0%})"
    )
    for role in Role:
        members = [v for v in variables.variables if v.role is role]
        if members:
            size = human_bytes(sum(v.nbytes for v in members))
            lines.append(f"  {role:<14}{len(members):>5}  {size}")
    if not is_saved_model(loaded):
        lines += ["", *proposal_lines(loaded.proposal), *candidate_lines(loaded.proposal)]
    lines += signature_lines(signatures_json(graph.meta_graph))
    return "\n".join(lines)


def candidate_lines(proposal: Proposal) -> list[str]:
    """What else could be served, with why it was left out."""
    lines = []
    for title, candidates in (("Other inputs", proposal.other_inputs),
                              ("Other outputs", proposal.other_outputs)):
        if candidates:
            lines.append(title)
        for c in candidates:
            flag = "  (label)" if c.label else "  (optional)" if c.optional else ""
            lines.append(f"  {c.tensor:<40} {c.dtype:<8} {c.shape}  {c.reason}{flag}")
    return lines


def proposal_lines(proposal: Proposal) -> list[str]:
    """The proposed signature as ``signet inspect`` and a flag-free export print it."""
    if proposal.empty:
        return ["Proposed signature: none (no prediction found; give --input/--output)"]
    lines = [f"Proposed signature {proposal.key!r} ({proposal.method})"]
    width = max(len(s.key) for s in (*proposal.inputs, *proposal.outputs))
    for side, slots in (("input ", proposal.inputs), ("output", proposal.outputs)):
        for s in slots:
            lines.append(f"  {side} {s.key:<{width}} = {s.tensor}  {s.dtype} {s.shape}")
            lines.append(f"         {'':<{width}}   {s.why}")
    for tensor, value in proposal.bind.items():
        lines.append(f"  bound  {tensor} = {json.dumps(value)}  ({proposal.bind_why[tensor]})")
    for note in proposal.notes:
        lines.append(f"  note: {note.text}")
    return lines
