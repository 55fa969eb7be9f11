"""The export draft (signatures, slots, bound placeholders, options) and its validation.

A `Draft` is the user's in-progress export spec, shared by the command line, the
GUI's signature editor and presets (`app.core.signature.preset`). Everything is a plain,
mutable dataclass; ``draft.copy()`` gives an independent deep copy (the GUI keeps
one per undo step).

- ``Draft(signatures=[Signature(key, method, inputs=[Slot(key, tensor)], outputs=[...])],
  bound={"keep_prob:0": 1.0}, options=ExportOptions(name, base, version, overwrite,
  strip_training, verify))``
- ``Slot.dtype`` / ``Slot.shape`` (shape text such as ``"[?, 8]"``) are what a
  preset recorded; ``None`` means "not recorded". `record_facts` fills them from a graph.
- ``validate(draft, graph) -> list[Problem]``: every problem with the signature
  index/key, side (``"inputs"``/``"outputs"``/``None``), slot index/key, level
  (``error``/``warning``/``info``) and a plain-words message. Slots naming
  missing tensors are kept and reported, never dropped. ``has_errors(problems)``.
  It also reports the serving checks of `app.core.signature.checks` (random ops, input
  pipelines on an output's path), leaving out the ops the draft's active inference
  rewrites bypass or replace (`app.core.rewrite`).
- Helpers: ``tensor_name(text)`` ("op" -> "op:0"), ``slot_key_for(tensor, existing)``
  (a unique, valid key such as ``encode_ids``), ``proposed_key`` and ``key_unkeyed_slots``
  (the key a tensor gets when the user gives none: the proposal's, else its name's),
  ``unfed_placeholders(draft, sig, graph)``,
  ``needed_ops(graph, outputs, fed)``, ``draft_from_suggestions(loaded)`` (the proposal),
  ``drop_problem(graph, tensor, side)`` (why a tensor cannot go on that side, or None).

Importing this module does not import TensorFlow.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from app.core.graph.opgraph import OpGraph, Tensor
from app.core.signature.checks import signature_findings

DEFAULT_SIGNATURE = "serving_default"
METHODS = ("predict", "classify", "regress")
# TensorFlow's method names for the SignatureDef.
METHOD_NAMES = {
    "predict": "tensorflow/serving/predict",
    "classify": "tensorflow/serving/classify",
    "regress": "tensorflow/serving/regress",
}
# Keys TensorFlow Serving accepts everywhere (REST JSON, gRPC maps, Python kwargs on load).
_VALID_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_PY_FUNCS = {"PyFunc", "PyFuncStateless", "EagerPyFunc"}
_UNSERVABLE_DTYPES = {"resource", "variant", "unknown"}
_CONTROL_FLOW = {"Enter", "Merge", "Switch", "NextIteration", "LoopCond",
                 "RefEnter", "RefMerge", "RefSwitch", "RefNextIteration"}


class Level(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass
class Slot:
    key: str
    tensor: str  # "op:N"
    dtype: str | None = None  # recorded when added / saved in a preset
    shape: str | None = None  # recorded shape text, e.g. "[?, 8]" or "<unknown>"


@dataclass
class Signature:
    key: str = DEFAULT_SIGNATURE
    method: str = "predict"
    inputs: list[Slot] = field(default_factory=list)
    outputs: list[Slot] = field(default_factory=list)

    def slots(self, side: str) -> list[Slot]:
        return self.inputs if side == "inputs" else self.outputs


@dataclass
class ExportOptions:
    name: str = ""
    base: str = ""
    version: int | None = None  # None: the next free version
    overwrite: bool = False
    strip_training: bool = True  # serve only what the signatures need (False: keep it all)
    verify: bool = True
    warmup: bool = True  # write and replay assets.extra/tf_serving_warmup_requests
    samples: str = ""  # a samples file (`app.core.samples.files`); "": drawn or synthetic


@dataclass
class Draft:
    signatures: list[Signature] = field(default_factory=lambda: [Signature()])
    bound: dict[str, Any] = field(default_factory=dict)  # placeholder tensor -> JSON value
    options: ExportOptions = field(default_factory=ExportOptions)
    # Inference rewrites (app.core.rewrite): a rewrite id ("dropout") or site id
    # ("dropout:dense/dropout") -> on/off, overriding the rewrite's default; and the
    # blocked site ids the user exports as they are, on purpose.
    rewrites: dict[str, bool] = field(default_factory=dict)
    kept: list[str] = field(default_factory=list)

    def copy(self) -> Draft:
        return copy.deepcopy(self)

    def signature(self, key: str) -> Signature | None:
        return next((s for s in self.signatures if s.key == key), None)


@dataclass(frozen=True)
class Problem:
    level: Level
    message: str
    signature: str | None = None  # signature key
    side: str | None = None  # "inputs" | "outputs" | None
    slot: str | None = None  # slot key
    signature_index: int | None = None
    slot_index: int | None = None

    def __str__(self) -> str:
        where = []
        if self.signature is not None:
            where.append(f"signature {self.signature!r}")
        if self.slot is not None:
            where.append(f"{self.side[:-1] if self.side else 'slot'} {self.slot!r}")
        return (", ".join(where) + ": " if where else "") + self.message


def has_errors(problems: Iterable[Problem]) -> bool:
    return any(p.level is Level.ERROR for p in problems)


def tensor_name(text: str) -> str:
    """``'op' -> 'op:0'``; ``'op:1'`` stays; surrounding spaces are dropped."""
    text = text.strip()
    name, sep, index = text.rpartition(":")
    return text if sep and index.isdigit() and name else f"{text}:0"


def is_valid_key(key: str) -> bool:
    return bool(_VALID_KEY.match(key)) and not key.startswith("__")


def default_op_name(name: str, op_type: str) -> bool:
    """Whether ``name`` is the name TensorFlow gives an op of ``op_type`` that nobody named
    (``Identity``, ``Identity_3``, ``add`` for ``AddV2``): it says nothing about the tensor."""
    base = re.sub(r"_\d+$", "", name).lower()
    kind = op_type.lower()
    return base in (kind, re.sub(r"v\d+$", "", kind))


def slot_key_for(tensor: str, existing: Iterable[str], op_type: str = "") -> str:
    """A valid key not in ``existing``: ``'encoder/thought_vectors:0' -> 'thought_vectors'``.

    An op with TensorFlow's default name for its ``op_type`` is keyed by its scope
    (``'encoder/Identity:0' -> 'encoder'``). Falls back to the scope-qualified name,
    then numbered suffixes.
    """
    taken = set(existing)
    op_name, _, index = tensor_name(tensor).rpartition(":")
    parts = op_name.split("/")
    if len(parts) > 1 and op_type and default_op_name(parts[-1], op_type):
        parts = parts[:-1]
    suffix = "" if index == "0" else f"_{index}"
    candidates = [_clean_key(parts[-1] + suffix)]
    if len(parts) > 1:
        candidates.append(_clean_key("_".join(parts[-2:]) + suffix))
        candidates.append(_clean_key("_".join(parts) + suffix))
    for key in candidates:
        if key not in taken:
            return key
    base, n = candidates[0], 2
    while f"{base}_{n}" in taken:
        n += 1
    return f"{base}_{n}"


def proposed_key(proposal: Any, tensor: str, side: str, taken: Iterable[str]) -> str | None:
    """The key Signet's `proposal` gives ``tensor`` on ``side``, made unique among ``taken``,
    or None when it does not propose that tensor there: a pipeline tensor is ``features`` as
    proposed, not ``IteratorGetNext``."""
    for slot in proposal.inputs if side == "inputs" else proposal.outputs:
        if slot.tensor == tensor:
            return slot_key_for(slot.key, taken)
    return None


def key_unkeyed_slots(draft: Draft, loaded: Any) -> None:
    """Key every slot that has none (``--output probabilities``, no ``KEY=``) as the window
    keys a dropped tensor: the proposal's key for it, else one from its name and op type.

    ``loaded`` is the `LoadedCheckpoint`; its proposal is worked out only when a slot needs it.
    """
    proposal = None
    for sig in draft.signatures:
        for side in ("inputs", "outputs"):
            slots = sig.slots(side)
            for slot in slots:
                if slot.key:
                    continue
                proposal = proposal or loaded.proposal
                slot.tensor = tensor_name(slot.tensor)
                taken = [s.key for s in slots if s.key]
                found = loaded.graph.tensor(slot.tensor)
                slot.key = proposed_key(proposal, slot.tensor, side, taken) or slot_key_for(
                    slot.tensor, taken, found.op.type if found is not None else "")


def _clean_key(text: str) -> str:
    key = re.sub(r"[^A-Za-z0-9_]", "_", text).strip("_") or "tensor"
    if key[0].isdigit():
        key = "t_" + key
    return key[:128]


def _loop_scopes(graph: OpGraph) -> list[str]:
    """Name prefixes of TF1 while-loop frames (``.../while/``), from their Enter ops."""
    scopes = {op.name.rsplit("/", 1)[0] + "/" for op in graph.ops.values()
              if op.type in ("Enter", "RefEnter") and "/" in op.name}
    return sorted(scopes)


def _in_loop(name: str, op_type: str, scopes: list[str]) -> bool:
    return op_type not in ("Exit", "RefExit") and any(name.startswith(s) for s in scopes)


def drop_problem(graph: OpGraph, tensor: str, side: str,
                 _scopes: list[str] | None = None) -> str | None:
    """Why ``tensor`` cannot be a signature input/output (``side``), or None when it can."""
    name = tensor_name(tensor)
    op_name = name.rpartition(":")[0]
    op = graph.ops.get(op_name)
    if op is None:
        return f"no tensor {name} in this graph"
    if not op.outputs:
        return f"{op_name} is an op with no outputs ({op.type}); pick one of its inputs' tensors"
    found = graph.tensor(name)
    if found is None:
        return f"{op_name} has only {len(op.outputs)} output(s); {name} does not exist"
    if found.dtype in _UNSERVABLE_DTYPES:
        return f"{name} is a {found.dtype} tensor, which cannot be sent over TensorFlow Serving"
    if side == "inputs":
        scopes = _loop_scopes(graph) if _scopes is None else _scopes
        if found.dtype.endswith("_ref") or op.type in ("VariableV2", "Variable"):
            return f"{name} is a variable, not feedable; feed the tensor that reads it instead"
        if op.type in _CONTROL_FLOW or _in_loop(op.name, op.type, scopes):
            return f"{name} is inside a while loop or control-flow plumbing and is not feedable"
    return None


def needed_ops(graph: OpGraph, outputs: Iterable[str], fed: Iterable[str],
               stop: Iterable[str] = ()) -> set[str]:
    """Ops computing ``outputs`` when the ``fed`` tensors are given (data and control edges).

    The ``stop`` ops are never entered: ops whose values no answer depends on (the branch
    of a cond that a bound training switch no longer takes)."""
    fed_set = {tensor_name(t) for t in fed}
    ops = graph.ops
    stopped = set(stop)
    seen: set[str] = set(stopped)
    stack = []
    for t in outputs:
        name = tensor_name(t)
        if name not in fed_set:
            stack.append(name.rpartition(":")[0])
    while stack:
        name = stack.pop()
        if name in seen or name not in ops:
            continue
        seen.add(name)
        op = ops[name]
        stack.extend(t.rpartition(":")[0] for t in op.inputs if t not in fed_set)
        stack.extend(op.control_inputs)
    return seen - stopped if stopped else seen


def _fed(draft: Draft, sig: Signature) -> set[str]:
    return {tensor_name(s.tensor) for s in sig.inputs} | {tensor_name(t) for t in draft.bound}


def unfed_placeholders(draft: Draft, sig: Signature, graph: OpGraph,
                       with_default: bool = False) -> list[str]:
    """Placeholders ``sig``'s outputs need that no input feeds, no binding sets and no
    inference rewrite binds (`app.core.rewrite`).

    With ``with_default=True`` the ``PlaceholderWithDefault`` ones (which are
    fine to leave unfed) are listed instead.
    """
    wanted = "PlaceholderWithDefault" if with_default else "Placeholder"
    needed = needed_ops(graph, (s.tensor for s in sig.outputs), _fed(draft, sig))
    needed -= _rewritten_ops(graph, draft)  # e.g. the learning phase, bound by its rewrite
    return sorted(f"{name}:0" for name in needed if graph.ops[name].type == wanted)


def record_facts(draft: Draft, graph: OpGraph) -> None:
    """Store each slot's current dtype and shape (before saving a preset)."""
    for sig in draft.signatures:
        for slot in sig.inputs + sig.outputs:
            found = graph.tensor(tensor_name(slot.tensor))
            if found is not None:
                slot.tensor = found.name
                slot.dtype, slot.shape = found.dtype, found.shape_text


def new_slot(tensor: Tensor, existing: Iterable[str], key: str | None = None) -> Slot:
    """A slot for ``tensor`` with a derived unique key and its facts recorded."""
    return Slot(key or slot_key_for(tensor.name, existing, tensor.op.type), tensor.name,
                tensor.dtype, tensor.shape_text)


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
    from app.core import rewrite

    return rewrite.bypassed_ops(rewrite.active(rewrite.find_all(graph, draft), draft))


# ---------------------------------------------------------------- validation


def validate(draft: Draft, graph: OpGraph) -> list[Problem]:
    """Every problem of ``draft`` against ``graph``, errors and warnings, in draft order.

    The serving checks (`app.core.signature.checks`) look at the graph the export will serve: ops
    the active inference rewrites bypass or replace are not reported.
    """
    from app.core import rewrite

    problems: list[Problem] = []
    scopes = _loop_scopes(graph)
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
    from app.core.serving_checks import request_problems  # imports this module

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
        from app.core.graph.opgraph import format_shape

        return f"shape {list(array.shape)} does not fit the placeholder's {format_shape(shape)}"
    return None


def _validate_signature(draft: Draft, index: int, sig: Signature, graph: OpGraph,
                        scopes: list[str], sig_keys: list[str],
                        bypassed: set[str]) -> list[Problem]:
    from app.core.proposal import label_warning  # reads drafts: imports this module

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
        fed = _fed(draft, sig)
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
