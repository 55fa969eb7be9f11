"""Which checkpoint key the Saver restores into each variable, read from the graph.

A TF1 Saver restores through ``save/RestoreV2``: its ``tensor_names`` constant lists
the checkpoint keys, and output ``i`` flows into an ``Assign`` (ref variables) or an
``Identity`` then ``AssignVariableOp`` (resource variables) on one variable. Reading
that wiring, rather than assuming key == op name, is right for savers built with a
``var_list`` dict, and it is what the moving-average rewrite edits.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.graph.opgraph import Op, OpGraph
from app.core.rewrite.graph_walk import producer, variable_of

_ASSIGNS = frozenset({"Assign", "AssignVariableOp"})


@dataclass(frozen=True)
class RestoreSite:
    restore_op: str  # the RestoreV2 op
    names_op: str  # the Const holding its tensor_names
    index: int  # which output (and which entry of tensor_names)
    key: str  # the checkpoint key restored into the variable


def restore_map(graph: OpGraph) -> dict[str, RestoreSite]:
    """Variable op name -> where the Saver restores it from. One pass over restore ops."""
    sites: dict[str, RestoreSite] = {}
    for restore in graph.ops.values():
        if restore.type != "RestoreV2" or len(restore.inputs) < 2:
            continue
        names = producer(graph, restore.inputs[1])
        if names is None or names.type != "Const":
            continue
        keys = [k.decode("utf-8", "replace") for k in names.node.attr["value"].tensor.string_val]
        for consumer in dict.fromkeys(restore.consumers):
            op = graph.ops.get(consumer)
            if op is None:
                continue
            for tensor in op.inputs:
                if tensor.rpartition(":")[0] != restore.name:
                    continue
                index = int(tensor.rpartition(":")[2])
                target = _assigned(graph, op)
                if target is not None and index < len(keys):
                    sites[target] = RestoreSite(restore.name, names.name, index, keys[index])
    return sites


def _assigned(graph: OpGraph, op: Op) -> str | None:
    """The variable that ``op`` (reading a restored tensor) assigns it to."""
    if op.type == "Identity":  # resource variables: RestoreV2 -> Identity -> AssignVariableOp
        following = [graph.ops.get(c) for c in op.consumers]
        op = next((c for c in following if c is not None and c.type in _ASSIGNS), None)
        if op is None:
            return None
    if op.type not in _ASSIGNS or len(op.inputs) < 2:
        return None
    variable = variable_of(graph, op.inputs[0])
    return variable.name if variable is not None else None
