"""`signet inspect`: a readable or JSON summary of a checkpoint."""

from __future__ import annotations

import argparse
import json

from app.core.loader import LoadedCheckpoint, load_checkpoint
from app.core.variables import Role


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def run_inspect(args: argparse.Namespace) -> int:
    loaded = load_checkpoint(args.path)
    if args.json:
        summary = loaded.summary()
        if args.search:
            summary["search"] = _search(loaded, args.search, args.regex)
        print(json.dumps(summary, indent=2))
        return 0
    print(format_summary(loaded))
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
        f"Checkpoint  {ckpt.prefix}",
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
    sugg = loaded.suggestions
    lines.append("\nSuggested inputs")
    for s in sugg.inputs or []:
        flag = ("  (optional)" if s.optional else "") + (
            "  (label: only the loss reads it)" if s.label else
            "  (from the input pipeline)" if s.kind == "pipeline" else "")
        lines.append(f"  {s.tensor:<40} {s.dtype:<8} {s.shape}{flag}")
    if not sugg.inputs:
        lines.append("  (none found)")
    lines.append("Suggested outputs")
    for s in sugg.outputs[:5]:
        lines.append(f"  {s.tensor:<40} {s.dtype:<8} {s.shape}")
    if not sugg.outputs:
        lines.append("  (none found)")
    return "\n".join(lines)
