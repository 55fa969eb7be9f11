"""Which checkpoint key restores each variable an export holds, and which variables the
checkpoint has no value for: known from the ``.index`` and the graph, before any
TensorFlow work, so a missing variable is one line naming it instead of a failed run.

TensorFlow restores a variable from the key its Saver gives it. The checkpoint's own
Saver is in the ``.meta`` (its SaverDef): its restore op assigns output *i* of a
``RestoreV2`` to a variable (``Assign`` for ref variables, ``AssignVariableOp`` for
resource ones), and that ``RestoreV2``'s ``tensor_names`` constant holds key *i*. So a
``var_list`` dict saves under other names (``{"net/dense/kernel": v}``), and a Saver
over the model variables only (GPT-2 fine-tuning, facenet) gives the optimizer slots no
key at all. A Saver made anew (``Saver()``: what importing a graph without a SaverDef
makes, as for a serving-only export) gives each variable its default key: the whole
variable's name for a partition (``dense/kernel`` for ``dense/kernel/part_0``), else its
op's name.

- ``saver_keys(graph) -> {variable op: key}``: the ``.meta``'s own Saver (`OpGraph`); None
  for a variable its restore reaches in a way not read here (a custom saveable object):
  such a variable is never called missing.
- ``plan(meta, saver, index_keys) -> RestorePlan``: for the meta graph an export imports
  (with or without its SaverDef), every variable that needs a value and the key it is
  found under (the Saver's first, then the default one: a checkpoint that has the
  value under either is never refused), the ones found under neither, and whether the
  import's own Saver would look some of them up under another key.
- ``missing_message(plan, prefix, read)``: the one line for what is missing.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.graph.opgraph import OpGraph
from app.core.graph.protos import VariableDef

_ASSIGNS = {"Assign", "AssignVariableOp"}
_VARIABLES = {"VariableV2", "Variable", "VarHandleOp"}


def _op(name: str) -> str:
    return name.split(":", 1)[0].lstrip("^")


def saver_keys(graph: OpGraph) -> dict[str, str | None]:
    """``{variable op: checkpoint key}`` for every variable the graph's SaverDef restores,
    None for one its restore reaches otherwise (a custom saveable object; every variable
    of a TF2 SavedModel, restored by a function call). Empty without a SaverDef."""
    meta = graph.meta_graph
    if not meta.HasField("saver_def"):
        return {}
    ops = graph.ops
    names: dict[str, list[str]] = {}  # RestoreV2 op -> its keys
    keys: dict[str, str | None] = {}
    seen: set[str] = set()
    stack = [_op(meta.saver_def.restore_op_name)]
    while stack:  # the restore's own subgraph: variables end it (they have no inputs)
        name = stack.pop()
        op = ops.get(name)
        if op is None or name in seen:
            continue
        seen.add(name)
        if op.type in _VARIABLES:
            keys.setdefault(name, None)
        if op.type in _ASSIGNS and len(op.inputs) == 2:
            source = _restored_output(ops, op.inputs[1])
            if source is not None:
                restore, index = source
                if restore not in names:
                    names[restore] = _strings(ops.get(_op(ops[restore].inputs[1])))
                if index < len(names[restore]):
                    keys[_op(op.inputs[0])] = names[restore][index]
        stack.extend(op.control_inputs)
        stack.extend(_op(t) for t in op.inputs)
    return keys


def _restored_output(ops: dict[str, Any], tensor: str) -> tuple[str, int] | None:
    """``(RestoreV2 op, output index)`` that ``tensor`` is (through Identity ops), or None."""
    for _ in range(8):  # a resource variable's value passes one Identity; never many
        name, _, index = tensor.partition(":")
        op = ops.get(name)
        if op is None:
            return None
        if op.type == "RestoreV2" and len(op.inputs) >= 2:
            return name, int(index or 0)
        if op.type != "Identity" or not op.inputs:
            return None
        tensor = op.inputs[0]
    return None


def _strings(op: Any) -> list[str]:
    if op is None or op.type != "Const":
        return []
    return [v.decode("utf-8", "replace") for v in op.node.attr["value"].tensor.string_val]


def default_keys(meta: Any) -> dict[str, str]:
    """``{variable op: key}`` a new ``Saver()`` gives each global variable of ``meta``."""
    collection = meta.collection_def.get("variables")
    if collection is None or collection.WhichOneof("kind") != "bytes_list":
        return {}
    keys = {}
    for raw in collection.bytes_list.value:
        var = VariableDef.FromString(raw)
        op = _op(var.variable_name)
        keys[op] = var.save_slice_info_def.full_name or op
    return keys


@dataclass(frozen=True)
class RestorePlan:
    """What restoring an export's variables from a checkpoint takes."""

    keys: dict[str, str]  # variable op -> the checkpoint key holding its value
    missing: dict[str, str]  # variable op -> the key it was looked for under (none found)
    rekeyed: bool  # the import's own Saver would look some of them up under another key


def plan(meta: Any, saver: dict[str, str | None], index_keys: Collection[str]) -> RestorePlan:
    """The variables ``meta`` (the meta graph an export imports) needs values for, each
    with the key the checkpoint (``index_keys``) holds it under; ``saver``: `saver_keys`
    of the checkpoint's own graph.

    With its SaverDef (training state kept) ``meta`` is restored by that Saver, and the
    export then saves every global variable: both need a value. Without one (pruned to
    serving) a new ``Saver()`` restores its global variables. A SaverDef whose restore
    this module cannot read tells nothing: nothing is planned, TensorFlow has the say; so
    for a variable the Saver restores in a way not read here (None in ``saver``), and
    then nothing is restored under other keys either.
    """
    defaults = default_keys(meta)
    if meta.HasField("saver_def"):
        if not saver:
            return RestorePlan({}, {}, False)
        own, needed = saver, set(defaults) | set(saver)
    else:
        own, needed = defaults, set(defaults)
    keys: dict[str, str] = {}
    missing: dict[str, str] = {}
    unread = False  # a variable restored in a way not read here
    for op in sorted(needed):
        candidates = [k for k in (saver.get(op), defaults.get(op)) if k]
        found = next((k for k in candidates if k in index_keys), None)
        if found is not None:
            keys[op] = found
        elif op in saver and saver[op] is None:
            unread = True
        else:
            missing[op] = candidates[0]
    rekeyed = not unread and any(own.get(op) != key for op, key in keys.items())
    return RestorePlan(keys, missing, rekeyed)


def missing_message(restore: RestorePlan, prefix: Path, read: Collection[str]) -> str:
    """One line for ``restore.missing``: the variables the signatures ``read`` (op names)
    first, as no export can do without them; else the training state kept."""
    served = sorted({key for op, key in restore.missing.items() if op in read})
    if served:
        more = f" (and {len(served) - 1} more)" if len(served) > 1 else ""
        return (f"{prefix}: the checkpoint has no value for {served[0]}{more}, which the "
                "signatures read: the Saver that wrote it left it out; export from a "
                "checkpoint that has it")
    kept = sorted(set(restore.missing.values()))
    return (f"{prefix}: the checkpoint has no value for {len(kept)} variable(s) kept for "
            f"training, e.g. {kept[0]}: its Saver saved only the model; export serving-only "
            "(the default: without --keep-training-state, or with \"Keep training state\" "
            "unticked) or save them with the checkpoint")
