"""The inference-rewrite plan: every registered rewrite, in a fixed order.

- ``registry()``: the `Rewrite` objects, in the order they apply (inputs are rewired
  first, so later rewrites see the served placeholders).
- ``find_all(graph, draft)``: every finding, on or off, from the `OpGraph` alone (no
  TensorFlow; cheap enough for the window after each edit). ``is_on``, ``is_kept``,
  ``active`` and ``blocking`` read the draft's switches (`Draft.rewrites`, `Draft.kept`).
- ``apply_all(meta, graph, draft) -> Applied``: the enabled, unblocked findings applied
  rewrite after rewrite to a copy of ``meta``; ``renamed_draft`` moves the draft's slots
  onto the tensors that replaced theirs.
- ``plan_problems(graph, draft)``: what `validation.draft.validate` reports: a blocked site on
  the served path is an error until kept, a rewrite's warning is a warning. The served
  path leaves out what an active training switch turns off (the branch its conds no
  longer take), and a binding the rewrites override is said, never dropped in silence.
- ``bypassed_ops(findings)``: the ops the given (active) findings take off the served
  path, for static checks that would otherwise blame them (random ops, pipelines).
- ``switched_off(findings, draft)``: for the ops of sites a rewrite would fix but that are
  switched off, the line saying how to switch them back on. The serving checks and
  verification give it as the fix, so they never send the user to rebuild a model that
  a switch in Signet would serve right.

Room of the inference rewrites and their GraphDef helpers: may import `graph`, `signature`,
`disk`, `serving` and the top modules, never `proposal` and above.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from functools import cache
from typing import Any

from app.core.graph.opgraph import OpGraph
from app.core.rewrite.base import Applied, Finding, Rewrite
from app.core.rewrite.batch_norm import warn_initial_statistics
from app.core.rewrite.training_switch import killed_ops, overridden
from app.core.signature.draft import Draft, Level, Problem, needed_ops, tensor_name

# Application order: inputs are rewired before the idioms that read them are followed.
MODULES = ("inputs", "learning_phase", "training_switch", "dropout", "batch_norm",
           "moving_average")

__all__ = ["Applied", "Finding", "Rewrite", "active", "apply_all", "blocking", "bypassed_ops",
           "describe", "find_all", "is_kept", "is_on", "plan_problems", "registry", "renamed_draft",
           "switch_on_hint", "switched_off"]


@cache
def registry() -> tuple[Rewrite, ...]:
    """The registered rewrites, in application order."""
    return tuple(importlib.import_module(f"{__name__}.{name}").REWRITE for name in MODULES)


def by_id(rewrite_id: str) -> Rewrite | None:
    return next((r for r in registry() if r.id == rewrite_id), None)


def is_on(finding: Finding, draft: Draft) -> bool:
    """The site's own switch, else its rewrite's switch, else the rewrite's default."""
    rewrite = by_id(finding.rewrite)
    default = rewrite.default_on if rewrite is not None else True
    return bool(draft.rewrites.get(finding.id, draft.rewrites.get(finding.rewrite, default)))


def is_kept(finding: Finding, draft: Draft) -> bool:
    return finding.id in draft.kept


def find_all(graph: OpGraph, draft: Draft) -> list[Finding]:
    """Every site every registered rewrite finds, in registry order (on and off alike).

    When the graph knows its checkpoint, batch-norm sites whose moving statistics
    still hold their initial 0 and 1 carry a warning (a few cached reads).
    """
    findings: list[Finding] = []
    for rewrite in registry():
        findings += rewrite.find(graph, draft)
    if graph.checkpoint_prefix is not None:
        findings = warn_initial_statistics(findings, graph.checkpoint_prefix)
    return findings


def active(findings: Iterable[Finding], draft: Draft) -> list[Finding]:
    """The findings the export applies: switched on and not blocked."""
    return [f for f in findings if f.blocked is None and is_on(f, draft)]


def blocking(findings: Iterable[Finding], draft: Draft) -> list[Finding]:
    """Blocked sites still switched on and not kept on purpose."""
    return [f for f in findings if f.blocked is not None and is_on(f, draft)
            and not is_kept(f, draft)]


def bypassed_ops(findings: Iterable[Finding]) -> set[str]:
    """Ops that the given findings (pass ``active(...)``) take off the served path."""
    return {op for f in findings if f.blocked is None for op in f.ops}


def switched_off(findings: Iterable[Finding], draft: Draft) -> dict[str, str]:
    """Op -> `switch_on_hint`, for every op of a rewritable site that is switched off."""
    return {op: switch_on_hint(f, draft) for f in findings
            if f.blocked is None and not is_on(f, draft) for op in f.ops}


def switch_on_hint(finding: Finding, draft: Draft) -> str:
    """How to switch ``finding`` on: its own switch when that is what turned it off, else
    its rewrite's (the site switch wins in `is_on`, so naming the rewrite would not help).

    On the command line ``--no-rewrite`` wins over ``--rewrite``, so the line says to drop
    the first and names the second only for a preset that switched it off."""
    switch = finding.id if draft.rewrites.get(finding.id) is False else finding.rewrite
    rewrite = by_id(finding.rewrite)
    title = rewrite.title if rewrite is not None else finding.rewrite
    return (f"the rewrite {finding.rewrite!r} ({title}) fixes this but is switched off: "
            f"switch {switch} on (command line: drop --no-rewrite {switch}, or add --rewrite "
            f"{switch} when a preset switches it off; window: its box in the "
            "\"Training → serving\" section)")


def apply_all(meta: Any, graph: OpGraph, draft: Draft,
              findings: list[Finding] | None = None) -> Applied:
    """``meta`` with every active finding applied, rewrite by rewrite in registry order.

    Returns ``Applied(meta)`` itself (no copy) when nothing applies.
    """
    chosen = active(find_all(graph, draft) if findings is None else findings, draft)
    result = Applied(meta)
    for rewrite in registry():
        mine = [f for f in chosen if f.rewrite == rewrite.id]
        if not mine:
            continue
        step = rewrite.apply(result.meta, mine)
        renamed = {old: step.renamed.get(new, new) for old, new in result.renamed.items()}
        renamed.update(step.renamed)
        result = Applied(step.meta, renamed)
    return result


def renamed_draft(draft: Draft, renamed: dict[str, str]) -> Draft:
    """A copy of ``draft`` whose slots name the tensors that replaced theirs."""
    out = draft.copy()
    for sig in out.signatures:
        for slot in sig.inputs + sig.outputs:
            slot.tensor = renamed.get(tensor_name(slot.tensor), slot.tensor)
    return out


def describe(findings: Iterable[Finding], draft: Draft) -> list[dict[str, Any]]:
    """Findings as JSON objects (``signet inspect --json``): id, rewrite, ops, summary,
    blocked, warning, on, kept."""
    return [{"id": f.id, "rewrite": f.rewrite, "ops": list(f.ops), "summary": f.summary,
             "blocked": f.blocked, "warning": f.warning, "on": is_on(f, draft),
             "kept": is_kept(f, draft)} for f in findings]


def plan_problems(graph: OpGraph, draft: Draft,
                  findings: list[Finding] | None = None) -> list[Problem]:
    """Blocked sites on the served path (errors), active findings' warnings, and bindings
    that the rewrites override (warnings)."""
    findings = find_all(graph, draft) if findings is None else findings
    problems = _unknown_switches(draft, findings)
    if not findings:
        return problems
    fed = {tensor_name(s.tensor) for sig in draft.signatures for s in sig.inputs}
    fed |= {tensor_name(t) for t in draft.bound}
    outputs = [s.tensor for sig in draft.signatures for s in sig.outputs]
    inputs = {name.rpartition(":")[0] for name in fed}  # an input's own op is its site
    served = needed_ops(graph, outputs, fed) | inputs
    killed = killed_ops(active(findings, draft))
    # A blocked site only in a branch a bound switch no longer takes is never served.
    running = needed_ops(graph, outputs, fed, killed) | inputs if killed else served
    for f in blocking(findings, draft):
        if running.intersection(f.ops):
            rewrite = by_id(f.rewrite)
            keep = (f" (to serve it as it is, keep it: --keep {f.id})"
                    if rewrite is None or rewrite.keep_serves else "")
            problems.append(Problem(
                Level.ERROR, f"training → serving: {f.id} cannot be rewritten: {f.blocked}"
                + keep))
    for f in active(findings, draft):
        if f.warning and served.intersection(f.ops):
            problems.append(Problem(Level.WARNING, f"training → serving: {f.id}: {f.warning}"))
    problems += [Problem(Level.WARNING, f"training → serving: {line}")
                 for line in overridden(graph, draft, active(findings, draft))]
    return problems


def _unknown_switches(draft: Draft, findings: list[Finding]) -> list[Problem]:
    """A switch naming no rewrite is a typo (a warning); a site this graph lacks, a note."""
    known = {r.id for r in registry()}
    sites = {f.id for f in findings}
    problems = []
    for name in list(draft.rewrites) + draft.kept:
        rewrite_id, site, _ = name.partition(":")
        if rewrite_id not in known:
            problems.append(Problem(Level.WARNING, f"training → serving: no rewrite {rewrite_id!r}"
                                    f" (known: {', '.join(sorted(known))}); the switch "
                                    f"{name!r} does nothing"))
        elif site and name not in sites:
            problems.append(Problem(Level.INFO, f"training → serving: {name} is not in this "
                                    "graph; its switch does nothing here"))
    return problems
