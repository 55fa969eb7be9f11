"""The export draft (signatures, slots, bound placeholders, options) and its problem types.

A `Draft` is the user's in-progress export spec, shared by the command line, the
GUI's signature editor and presets (`app.core.signature.preset`). Everything is a plain,
mutable dataclass; ``draft.copy()`` gives an independent deep copy (the GUI keeps
one per undo step).

- ``Draft(signatures=[Signature(key, method, inputs=[Slot(key, tensor)], outputs=[...])],
  bound={"keep_prob:0": 1.0}, options=ExportOptions(name, base, version, overwrite,
  strip_training, verify))``
- ``Slot.dtype`` / ``Slot.shape`` (shape text such as ``"[?, 8]"``) are what a
  preset recorded; ``None`` means "not recorded". `record_facts` fills them from a graph.
- ``Problem``/``Level``: what `app.core.validation.draft.validate` reports;
  ``has_errors(problems)``.
- Helpers: ``tensor_name(text)`` ("op" -> "op:0"), ``slot_key_for(tensor, existing)``
  (a unique, valid key such as ``encode_ids``), ``proposed_key`` and ``key_unkeyed_slots``
  (the key a tensor gets when the user gives none: the proposal's, else its name's),
  ``needed_ops(graph, outputs, fed)``, ``fed_tensors(draft, sig)``, ``loop_scopes(graph)``,
  ``drop_problem(graph, tensor, side)`` (why a tensor cannot go on that side, or None).

The validation, which needs the rewrites and the proposal (both read drafts), is
`app.core.validation.draft`. Importing this module does not import TensorFlow.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from app.core.graph.opgraph import OpGraph, Tensor

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


def loop_scopes(graph: OpGraph) -> list[str]:
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
        scopes = loop_scopes(graph) if _scopes is None else _scopes
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


def fed_tensors(draft: Draft, sig: Signature) -> set[str]:
    """The tensors ``sig``'s inputs and the draft's bindings feed."""
    return {tensor_name(s.tensor) for s in sig.inputs} | {tensor_name(t) for t in draft.bound}


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
