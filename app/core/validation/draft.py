"""A draft's validation, and the drafts that need the rewrites to be made.

- ``validate(draft, graph) -> list[Problem]``: every problem with the signature
  index/key, side (``"inputs"``/``"outputs"``/``None``), slot index/key, level
  (``error``/``warning``/``info``) and a plain-words message. Slots naming
  missing tensors are kept and reported, never dropped. It also reports the serving
  checks of `app.core.signature.checks` (random ops, input pipelines on an output's
  path), leaving out the ops the draft's active inference rewrites bypass or replace
  (`app.core.rewrite`), the REST checks of `app.core.validation.serving_checks` and
  the proposal's label warnings.
- ``bound_value_problem(value, dtype, shape)``: why a binding cannot be that constant.
- ``unfed_placeholders(draft, sig, graph)``: the placeholders no input, binding or
  inference rewrite feeds; ``draft_from_suggestions(loaded)`` (the proposal).

These sit above `app.core.signature` because they need `app.core.rewrite` and
`app.core.proposal`, which import the draft types. Importing this module does not
import TensorFlow.
"""

from __future__ import annotations

from typing import Any

from app.core import rewrite
from app.core.graph.opgraph import OpGraph, format_shape
from app.core.proposal import label_warning
from app.core.signature.checks import signature_findings
from app.core.signature.draft import (
    METHODS,
    Draft,
    Level,
    Problem,
    Signature,
    Slot,
    drop_problem,
    fed_tensors,
    is_valid_key,
    loop_scopes,
    needed_ops,
    new_slot,
    tensor_name,
)
from app.core.validation.serving_checks import request_problems

_PY_FUNCS = {"PyFunc", "PyFuncStateless", "EagerPyFunc"}


def unfed_placeholders(draft: Draft, sig: Signature, graph: OpGraph,
                       with_default: bool = False) -> list[str]:
    """Placeholders ``sig``'s outputs need that no input feeds, no binding sets and no
    inference rewrite binds (`app.core.rewrite`).

    With ``with_default=True`` the ``PlaceholderWithDefault`` ones (which are
    fine to leave unfed) are listed instead.
    """
    wanted = "PlaceholderWithDefault" if with_default else "Placeholder"
    needed = needed_ops(graph, (s.tensor for s in sig.outputs), fed_tensors(draft, sig))
    needed -= _rewritten_ops(graph, draft)  # e.g. the learning phase, bound by its rewrite
    return sorted(f"{name}:0" for name in needed if graph.ops[name].type == wanted)


def draft_from_suggestions(loaded: Any) -> Draft:
    """A one-signature draft from ``loaded`` (a `LoadedCheckpoint`): its proposal when
    there is one; else the best suggested output and exactly the placeholders it needs."""
    proposal = loaded.proposal
    if not proposal.empty:
        return proposal.draft()
    graph: OpGraph = loaded.graph
    draft = Draft()
    sig = draft.signatures[0]
    for s in loaded.suggestions.outputs[:1]:
        t = graph.tensor(s.tensor)
        if t is not None:
            sig.outputs.append(new_slot(t, []))
    for name in unfed_placeholders(draft, sig, graph):
        t = graph.tensor(name)
        if t is not None:
            sig.inputs.append(new_slot(t, [x.key for x in sig.inputs]))
    return draft


def _rewritten_ops(graph: OpGraph, draft: Draft) -> set[str]:
    """Ops the draft's inference rewrites take off the served path (app.core.rewrite)."""
    return rewrite.bypassed_ops(rewrite.active(rewrite.find_all(graph, draft), draft))


def validate(draft: Draft, graph: OpGraph) -> list[Problem]:
    """Every problem of ``draft`` against ``graph``, errors and warnings, in draft order.

    The serving checks (`app.core.signature.checks`) look at the graph the export will serve: ops
    the active inference rewrites bypass or replace are not reported.
    """
    problems: list[Problem] = []
    scopes = loop_scopes(graph)
    if not draft.signatures:
        problems.append(Problem(Level.ERROR, "the export has no signature; add one"))
    problems += _validate_bound(draft, graph)
    findings = rewrite.find_all(graph, draft)
    bypassed = rewrite.bypassed_ops(rewrite.active(findings, draft))
    off = rewrite.switched_off(findings, draft)  # their fix: switch the rewrite on
    sig_keys = [s.key for s in draft.signatures]
    for i, sig in enumerate(draft.signatures):
        problems += _validate_signature(draft, i, sig, graph, scopes, sig_keys, bypassed)
        if not any(p.signature_index == i and p.level is Level.ERROR for p in problems):
            problems += _serving_problems(draft, i, sig, graph, frozenset(bypassed), off)
    problems += request_problems(draft, graph)
    return problems + rewrite.plan_problems(graph, draft, findings)


def _serving_problems(draft: Draft, index: int, sig: Signature, graph: OpGraph,
                      replaced: frozenset[str], off: dict[str, str]) -> list[Problem]:
    """`app.core.signature.checks` findings, each on the first output slot whose path holds it."""
    findings = signature_findings(graph, [s.tensor for s in sig.outputs],
                                  [s.tensor for s in sig.inputs], draft.bound, replaced, off)
    problems = []
    for finding in findings:
        slot = sig.outputs[finding.output]
        problems.append(Problem(Level.ERROR if finding.error else Level.WARNING,
                                finding.message, sig.key, "outputs", slot.key, index,
                                finding.output))
    return problems


def _validate_bound(draft: Draft, graph: OpGraph) -> list[Problem]:
    problems = []
    fed_anywhere = {tensor_name(s.tensor) for sig in draft.signatures for s in sig.inputs}
    for raw, value in draft.bound.items():
        name = tensor_name(raw)
        t = graph.tensor(name)
        if t is None:
            problems.append(Problem(Level.ERROR, f"binding {raw}: no tensor {name} in this graph"))
            continue
        reason = drop_problem(graph, name, "inputs")
        if reason:
            problems.append(Problem(Level.ERROR, f"binding {raw}: {reason}"))
            continue
        if name in fed_anywhere:
            problems.append(Problem(Level.ERROR, f"binding {raw}: {name} is also a signature "
                                                 "input; bind it or feed it, not both"))
        reason = bound_value_problem(value, t.dtype, t.shape)
        if reason:
            problems.append(Problem(Level.ERROR, f"binding {raw}={value!r}: {reason}"))
    return problems


def bound_value_problem(value: Any, dtype: str, shape: Any) -> str | None:
    """Why ``value`` cannot be a constant of ``dtype``/``shape`` (None when it can)."""
    import numpy as np

    if dtype == "string":
        items = np.asarray(value, dtype=object).ravel()
        if not all(isinstance(v, str) for v in items):
            return "a string placeholder needs text"
        array = np.asarray(value, dtype=object)
    else:
        try:
            array = np.asarray(value, dtype=dtype if dtype != "bfloat16" else "float32")
        except (TypeError, ValueError, OverflowError):
            return f"not a {dtype} value"
        if array.dtype.kind in "iu" and np.asarray(value).dtype.kind == "f":
            return f"not a {dtype} value (it has a fraction)"
    if shape is not None and (
        len(shape) != array.ndim
        or any(d is not None and d != n for d, n in zip(shape, array.shape, strict=False))
    ):
        return f"shape {list(array.shape)} does not fit the placeholder's {format_shape(shape)}"
    return None


def _validate_signature(draft: Draft, index: int, sig: Signature, graph: OpGraph,
                        scopes: list[str], sig_keys: list[str],
                        bypassed: set[str]) -> list[Problem]:
    problems: list[Problem] = []

    def add(level: Level, message: str, side: str | None = None, slot: Slot | None = None,
            slot_index: int | None = None) -> None:
        problems.append(Problem(level, message, sig.key, side,
                                slot.key if slot is not None else None, index, slot_index))

    if not is_valid_key(sig.key):
        add(Level.ERROR, "invalid signature key: use letters, digits and _ (not starting "
                         "with a digit or __)")
    elif sig_keys.count(sig.key) > 1:
        add(Level.ERROR, "two signatures share this key; rename one")
    if sig.method not in METHODS:
        add(Level.ERROR, f"unknown method {sig.method!r}; use predict, classify or regress")
    if not sig.outputs:
        add(Level.ERROR, "has no outputs; add at least one")

    seen_inputs: dict[str, str] = {}
    seen_outputs: dict[str, str] = {}
    for side in ("inputs", "outputs"):
        slots = sig.slots(side)
        keys = [s.key for s in slots]
        for j, slot in enumerate(slots):
            if not is_valid_key(slot.key):
                add(Level.ERROR, "invalid key: use letters, digits and _ (not starting with a "
                                 "digit or __)", side, slot, j)
            elif keys.count(slot.key) > 1:
                add(Level.ERROR, f"two {side} share this key; rename one", side, slot, j)
            name = tensor_name(slot.tensor)
            reason = drop_problem(graph, name, side, scopes)
            if reason:
                add(Level.ERROR, reason, side, slot, j)
                continue
            t = graph.tensor(name)
            assert t is not None
            if slot.dtype is not None and slot.dtype != t.dtype:
                add(Level.ERROR, f"{name} changed dtype: the preset recorded {slot.dtype}, "
                                 f"the graph has {t.dtype}", side, slot, j)
            if slot.shape is not None and slot.shape != t.shape_text:
                add(Level.ERROR, f"{name} changed shape: the preset recorded {slot.shape}, "
                                 f"the graph has {t.shape_text}", side, slot, j)
            if t.shape is None:
                add(Level.WARNING, f"{name} has an unknown rank; REST clients and "
                                   "saved_model_cli will not know its shape", side, slot, j)
            if side == "inputs":
                label = label_warning(graph, name)
                if label is not None:
                    add(Level.WARNING, label, side, slot, j)
                if name in seen_inputs:
                    add(Level.ERROR, f"{name} is already fed by input {seen_inputs[name]!r}",
                        side, slot, j)
                else:
                    seen_inputs[name] = slot.key
            elif name in seen_outputs:
                add(Level.WARNING, f"{name} is already output {seen_outputs[name]!r}; "
                                   "the same values would be sent twice", side, slot, j)
            else:
                seen_outputs[name] = slot.key
    _method_problems(sig, graph, add)
    if sig.outputs and not any(p.level is Level.ERROR and p.side == "outputs" for p in problems):
        fed = fed_tensors(draft, sig)
        needed = needed_ops(graph, (s.tensor for s in sig.outputs), fed)
        missing = sorted(f"{n}:0" for n in needed
                         if graph.ops[n].type == "Placeholder" and n not in bypassed)
        if missing:
            add(Level.ERROR, "the outputs need placeholder(s) no input feeds: "
                + ", ".join(missing) + " (add them as inputs or bind them to a constant)")
        defaults = sorted(f"{n}:0" for n in needed
                          if graph.ops[n].type == "PlaceholderWithDefault" and n not in bypassed)
        if defaults:
            add(Level.INFO, "uses the default value of " + ", ".join(defaults)
                + " (not fed; bind it to pin the value)")
        py = sorted(n for n in needed if graph.ops[n].type in _PY_FUNCS)
        if py:
            add(Level.WARNING, "needs Python function op(s) " + ", ".join(py[:5])
                + ", which TensorFlow Serving cannot run")
    return problems


def _method_problems(sig: Signature, graph: OpGraph, add) -> None:
    """Classify and regress signatures need TensorFlow's fixed keys and dtypes."""
    if sig.method == "classify":
        want_in, want_out, need_one = {"inputs": "string"}, {"classes": "string",
                                                             "scores": "float32"}, True
    elif sig.method == "regress":
        want_in, want_out, need_one = {"inputs": "string"}, {"outputs": "float32"}, False
    else:
        return
    in_keys = [s.key for s in sig.inputs]
    if in_keys != ["inputs"]:
        add(Level.ERROR, f"a {sig.method} signature takes exactly one input keyed 'inputs' "
                         "(serialized tf.Example strings)", "inputs")
    out_keys = {s.key for s in sig.outputs}
    allowed = set(want_out)
    if not out_keys <= allowed or (not need_one and out_keys != allowed) or not out_keys:
        add(Level.ERROR, f"a {sig.method} signature's outputs must be keyed "
            + " and/or ".join(repr(k) for k in sorted(allowed)), "outputs")
    for side, want in (("inputs", want_in), ("outputs", want_out)):
        for j, slot in enumerate(sig.slots(side)):
            t = graph.tensor(tensor_name(slot.tensor))
            if t is not None and slot.key in want and t.dtype != want[slot.key]:
                add(Level.ERROR, f"{sig.method} needs {slot.key!r} to be {want[slot.key]}, "
                                 f"not {t.dtype}", side, slot, j)
