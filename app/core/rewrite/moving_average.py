"""Moving-average weights: serve the ExponentialMovingAverage shadows of the weights.

Models trained with ``tf.train.ExponentialMovingAverage`` are meant to be evaluated
with the averaged weights, which the checkpoint holds as shadow variables
(``w/ExponentialMovingAverage``). The usual TF1 recipe is ``Saver(ema.variables_to_
restore())``; this rewrite does the same inside the saved graph: the Saver's
``RestoreV2`` is told to read each model variable from its shadow's checkpoint key,
so every op keeps reading the variable it always read, now holding the average.

Shadows are found by structure, not by name: ``ema.apply`` updates each shadow ``S``
of a variable ``X`` with ``S -= (S - X) * (1 - decay)``, an assign-sub on ``S`` whose
``Sub`` reads ``S`` and ``X``. (Batch norm's moving statistics have the same update,
but from a batch statistic, not a variable, so they are not taken for shadows.)
Off by default: serving the raw weights is what the checkpoint's graph computes.
"""

from __future__ import annotations

from typing import Any

from app.core.graph.opgraph import Op, OpGraph
from app.core.rewrite.base import Applied, Finding, Rewrite
from app.core.rewrite.graph_walk import averaged_input, variable_of
from app.core.rewrite.graphdef import copied, nodes_by_name
from app.core.rewrite.restore_map import restore_map

ID = "moving_average"
_UPDATES = frozenset({"AssignSub", "AssignSubVariableOp"})


def find(graph: OpGraph, draft: Any) -> list[Finding]:
    shadows: dict[str, str] = {}  # model variable -> its shadow
    for op in graph.ops.values():
        if op.type in _UPDATES and op.inputs:
            shadow = variable_of(graph, op.inputs[0])
            if shadow is not None:
                averaged = _averaged(graph, op, shadow.name)
                if averaged is not None:
                    shadows.setdefault(averaged, shadow.name)
    if not shadows:
        return []
    sites = restore_map(graph)
    findings = []
    for variable, shadow in sorted(shadows.items()):
        site, shadow_site = sites.get(variable), sites.get(shadow)
        ops = (variable, shadow)
        summary = f"{variable}: serves its moving average {shadow}"
        if site is None or shadow_site is None:
            missing = variable if site is None else shadow
            findings.append(Finding(
                rewrite=ID, key=variable, ops=ops, summary=summary,
                blocked=(f"the graph's Saver does not restore {missing}, so its moving "
                         "average cannot be served from this checkpoint; switch this off")))
            continue
        findings.append(Finding(
            rewrite=ID, key=variable, ops=(*ops, site.names_op), summary=summary,
            data={"names_op": site.names_op, "index": site.index, "key": site.key,
                  "shadow_key": shadow_site.key},
        ))
    return findings


def _averaged(graph: OpGraph, update: Op, shadow: str) -> str | None:
    """The variable whose average ``update`` keeps in ``shadow``, if it is one."""

    def other_variable(tensor: str) -> bool:
        variable = variable_of(graph, tensor)
        return variable is not None and variable.name != shadow

    found = averaged_input(graph, update, shadow, other_variable)
    variable = variable_of(graph, found) if found is not None else None
    return variable.name if variable is not None else None


def apply(meta: Any, findings: list[Finding]) -> Applied:
    new = copied(meta)
    nodes = nodes_by_name(new.graph_def)
    for finding in findings:
        data = finding.data
        if finding.rewrite != ID or finding.blocked is not None or not data:
            continue
        names = nodes[data["names_op"]].attr["value"].tensor.string_val
        if names[data["index"]].decode("utf-8", "replace") == data["key"]:
            names[data["index"]] = data["shadow_key"].encode("utf-8")
    return Applied(new)


REWRITE = Rewrite(id=ID, title="Moving-average weights", default_on=False, find=find,
                  apply=apply)
