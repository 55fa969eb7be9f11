"""Batch norm uses moving statistics: training-mode batch norm served in inference mode.

In a training graph batch norm normalises each batch by its own mean and variance, so
served as saved an example's answer would depend on the rest of its batch. Inference
mode uses the moving mean and variance the training loop kept. Two forms:

- ``FusedBatchNorm``/``V2``/``V3`` with ``is_training=true`` (``layers`` and Keras with
  ``fused``, slim): the op is switched to ``is_training=false`` and fed the moving
  statistics;
- the moments form (``tf.nn.moments`` then ``batch_normalization`` or hand-written
  arithmetic, as in non-fused layers, Keras on 2-D input and hand-written code): every
  reader of the batch mean and variance reads the moving statistics instead.

Either way the updates become plain reads of their variable (``updates_collections=None``
and ``ema.apply`` inside a ``cond`` hang them on the forward path), so serving never
writes the moving statistics.

The moving statistics are found through the update ops (``AssignMovingAvg``: an
``AssignSub`` or ``AssignSubVariableOp`` fed by the batch statistic that also reads the
variable it writes), for ref and resource variables, whatever the variables are called.
A training-mode batch norm without such updates is blocked, with the reason. Moments
that do not reduce over the batch (layer or instance norm) are left alone: they are
the same in training and inference.

`warn_initial_statistics` is the checkpoint-reading half: the export calls it (it reads
the bundle) to warn when a moving mean is still all 0 and its variance all 1.
"""

from __future__ import annotations

import dataclasses
import functools
import struct
from pathlib import Path
from typing import Any

from app.core.graph.opgraph import Op, OpGraph
from app.core.rewrite.base import Applied, Finding, Rewrite
from app.core.rewrite.graph_walk import (
    ASSIGN_OPS,
    ancestors,
    averaged_input,
    const_values,
    consumers_of,
    op_of,
    producer,
    updates_from,
    value_read,
    variable_of,
)
from app.core.rewrite.graphdef import (
    add_variable_read,
    copied,
    disarm_update,
    node_input,
    nodes_by_name,
    rewire_readers,
)
from app.core.rewrite.restore_map import restore_map
from app.core.rewrite.site_keys import unique_keys

ID = "batch_norm"
_FUSED = frozenset({"FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"})
_AVERAGE_UPDATES = frozenset({"AssignSub", "AssignSubVariableOp"})


def find(graph: OpGraph, draft: Any) -> list[Finding]:
    findings: list[Finding] = []
    keys: dict[str, str] | None = None
    for op in graph.ops.values():
        if op.type in _FUSED and _training(op):
            finding = _fused(graph, op)
        elif op.type == "SquaredDifference":
            finding = _moments(graph, op)
        else:
            continue
        if finding is None:
            continue
        if finding.blocked is None:
            if keys is None:
                keys = {var: site.key for var, site in restore_map(graph).items()}
            data = finding.data
            data["mean_key"] = keys.get(data["moving_mean"], data["moving_mean"])
            data["variance_key"] = keys.get(data["moving_variance"], data["moving_variance"])
        findings.append(finding)
    explained = {u for f in findings if f.blocked is None for u in f.data["updates"]}
    findings += _unexplained_averages(graph, draft, explained)
    return unique_keys(findings)


def _unexplained_averages(graph: OpGraph, draft: Any, explained: set[str]) -> list[Finding]:
    """A safety net for forms the finder does not know (TF 1.0's shifted moments, custom
    arithmetic): a tensor the draft's outputs need, whose moving average the training
    loop keeps, is a batch statistic served as such; it blocks, naming both.

    Only with outputs picked: a moving average of the loss (for summaries) is no
    concern, and the outputs are what tell the two apart.
    """
    outputs = [slot.tensor for sig in getattr(draft, "signatures", []) for slot in sig.outputs]
    if not outputs:
        return []
    needed: set[str] | None = None
    found = []
    for op in graph.ops.values():
        if op.type not in _AVERAGE_UPDATES or op.name in explained or len(op.inputs) < 2:
            continue
        average = variable_of(graph, op.inputs[0])
        statistic = (_averaged_tensor(graph, op, average.name) if average is not None
                     else None)
        if statistic is None:
            continue
        if needed is None:
            needed = ancestors(graph, outputs)
        if op_of(statistic) not in needed:
            continue
        key = _scope(op_of(statistic))
        found.append(Finding(
            rewrite=ID, key=key, ops=(op_of(statistic),), summary=f"{key}: keeps batch statistics",
            blocked=(f"{statistic} is on the served path and training keeps its moving "
                     f"average in {average.name}, but Signet does not recognise the batch "
                     "norm around it; serve a graph built with training=False")))
    return found


def _averaged_tensor(graph: OpGraph, update: Op, average: str) -> str | None:
    """The tensor (not a variable) whose moving average ``update`` keeps in ``average``:
    ``average -= (average - tensor) * (1 - decay)``."""
    return averaged_input(graph, update, average, lambda x: variable_of(graph, x) is None)


def _training(op: Op) -> bool:
    attr = op.node.attr
    return "is_training" not in attr or attr["is_training"].b  # the OpDef default is true


def _fused(graph: OpGraph, op: Op) -> Finding:
    key = _scope(op.name)
    stats = _moving(graph, op.name + ":1", op.name + ":2")
    if isinstance(stats, str):
        return Finding(
            rewrite=ID, key=key, ops=(op.name,), summary=f"{key}: keeps batch statistics",
            blocked=(f"{op.name} normalises over the batch (is_training=true) and {stats}; "
                     "serve a graph built with training=False"),
        )
    return Finding(
        rewrite=ID, key=key, ops=(op.name,),
        summary=f"{key}: normalises with the moving mean and variance",
        data={"form": "fused", "op": op.name, **stats},
    )


def _moments(graph: OpGraph, diff: Op) -> Finding | None:
    """``tf.nn.moments``: Mean(x) -> StopGradient -> SquaredDifference(x, .) -> Mean."""
    if len(diff.inputs) != 2:
        return None
    stop = producer(graph, diff.inputs[1])
    if stop is None or stop.type != "StopGradient":
        return None
    mean = producer(graph, stop.inputs[0]) if stop.inputs else None
    if mean is None or mean.type != "Mean" or mean.inputs[:1] != diff.inputs[:1]:
        return None
    variance = next((c for c in consumers_of(graph, diff.name + ":0") if c.type == "Mean"), None)
    if variance is None:
        return None
    mean_t, variance_t = _statistic(graph, mean), _statistic(graph, variance)
    key = _scope(mean.name)
    ops = tuple(sorted({mean.name, variance.name, op_of(mean_t), op_of(variance_t)}))
    stats = _moving(graph, mean_t, variance_t)
    if isinstance(stats, str):
        if not _over_batch(graph, mean):
            return None  # layer or instance norm: the same in training and inference
        return Finding(
            rewrite=ID, key=key, ops=ops, summary=f"{key}: keeps batch statistics",
            blocked=(f"{mean.name} normalises over the batch and {stats}; serve a graph "
                     "built with training=False"),
        )
    readers = {op.name for t in (mean_t, variance_t) for op in consumers_of(graph, t)}
    return Finding(
        rewrite=ID, key=key, ops=ops,
        summary=f"{key}: normalises with the moving mean and variance",
        data={"form": "moments", "mean": mean_t, "variance": variance_t,
              "readers": sorted(readers), **stats},
    )


def _statistic(graph: OpGraph, mean: Op) -> str:
    """The moments output: the squeezed mean when ``keep_dims=False``, else the mean."""
    out = mean.name + ":0"
    squeeze = next((c for c in consumers_of(graph, out) if c.type == "Squeeze"), None)
    return squeeze.name + ":0" if squeeze is not None else out


def _over_batch(graph: OpGraph, mean: Op) -> bool:
    """True unless the reduction axes are a constant that leaves out axis 0."""
    axes = producer(graph, mean.inputs[1]) if len(mean.inputs) > 1 else None
    values = const_values(axes) if axes is not None else None
    return values is None or 0 in values


def _moving(graph: OpGraph, mean_t: str, variance_t: str) -> dict[str, Any] | str:
    """The moving mean and variance updated from these batch statistics, or why not."""
    found = {}
    updates: set[str] = set()
    for role, tensor in (("mean", mean_t), ("variance", variance_t)):
        update = updates_from(graph, tensor)
        if update is None:
            return f"no moving-average update reads its batch {role} ({tensor})"
        assign, path = update
        variable = variable_of(graph, assign.inputs[0])
        if variable is None:
            return f"the update {assign.name} writes no variable Signet can read"
        updates.update(p for p in path if graph.ops[p].type in ASSIGN_OPS)
        found[f"moving_{role}"] = variable.name
        found[f"{role}_read"] = value_read(graph, variable)
        found[f"{role}_dtype"] = variable.node.attr["dtype"].type
    found["updates"] = sorted(updates)
    return found


def _scope(name: str) -> str:
    """``bn/moments/mean -> bn``, ``bn/cond/FusedBatchNormV3 -> bn`` (Keras's learning-phase
    cond)."""
    parts = name.split("/")[:-1] or [name]
    while len(parts) > 1 and (parts[-1] == "moments" or parts[-1].startswith("cond")):
        parts.pop()
    return "/".join(parts)


def apply(meta: Any, findings: list[Finding]) -> Applied:
    new = copied(meta)
    graph_def = new.graph_def
    sites = [f for f in findings if f.rewrite == ID and f.blocked is None and f.data]
    nodes = nodes_by_name(graph_def) if sites else {}
    for finding in sites:
        data = finding.data
        mean = _read(graph_def, nodes, data, "mean")
        variance = _read(graph_def, nodes, data, "variance")
        if data["form"] == "fused":
            node = nodes[data["op"]]
            node.attr["is_training"].b = False
            node.input[3] = node_input(mean)
            node.input[4] = node_input(variance)
        else:
            rewire_readers(graph_def, nodes, {data["mean"]: mean, data["variance"]: variance},
                           data["readers"])
        for update in data["updates"]:
            if update in nodes:
                disarm_update(nodes[update])
    return Applied(new)


def _read(graph_def: Any, nodes: dict[str, Any], data: dict[str, Any], role: str) -> str:
    read = data[f"{role}_read"]
    if read is not None:
        return read
    variable = data[f"moving_{role}"]
    return add_variable_read(graph_def, nodes, variable, data[f"{role}_dtype"],
                             variable + "/signet_read")


def warn_initial_statistics(findings: list[Finding], prefix: Path) -> list[Finding]:
    """The findings, with a warning on each whose checkpoint statistics are still 0 and 1.

    Reads only the moving statistics' bytes from the data shard (a few floats per
    layer, remembered per checkpoint file), so the window can ask on every edit. A
    statistic the checkpoint lacks is left to the export's own missing-variable check.
    """
    sites = {f.id for f in findings if f.rewrite == ID and f.blocked is None and f.data}
    if not sites:
        return findings
    index_file = prefix.with_name(prefix.name + ".index")
    try:
        stamp = index_file.stat().st_mtime_ns
    except OSError:
        return findings
    result = []
    for finding in findings:
        data = finding.data
        if finding.id in sites and _at_start(str(prefix), stamp, data["mean_key"],
                                          data["variance_key"]):
            finding = dataclasses.replace(finding, warning=(
                f"the checkpoint's moving statistics of {finding.key} still hold their "
                "initial 0 and 1: the model was not trained with their updates, so serving "
                "will not normalise (run the update ops while training)"))
        result.append(finding)
    return result


@functools.lru_cache(maxsize=4096)
def _at_start(prefix: str, stamp: int, mean_key: str, variance_key: str) -> bool:
    """Whether the checkpoint (``stamp``: its index file's mtime) holds mean 0, variance 1."""
    from app.core.disk.checkpoint import data_shards

    path = Path(prefix)
    index = _index(str(path.with_name(path.name + ".index")), stamp)
    shards = data_shards(path, index.num_shards)
    mean = _values(index, shards, mean_key)
    variance = _values(index, shards, variance_key)
    return (mean is not None and variance is not None and all(v == 0.0 for v in mean)
            and all(v == 1.0 for v in variance))


@functools.lru_cache(maxsize=8)
def _index(index_file: str, stamp: int) -> Any:
    from app.core.disk.bundle_index import read_bundle_index

    return read_bundle_index(Path(index_file))


def _values(index: Any, shards: tuple[Path, ...], key: str) -> list[float] | None:
    entry = index.entries.get(key)
    formats = {"float32": "f", "float64": "d", "float16": "e"}
    if entry is None or entry.dtype not in formats or not 0 <= entry.shard < len(shards):
        return None
    with shards[entry.shard].open("rb") as file:
        file.seek(entry.offset)
        raw = file.read(entry.size)
    fmt = formats[entry.dtype]
    count = len(raw) // struct.calcsize(fmt)
    return list(struct.unpack(f"<{count}{fmt}", raw[: count * struct.calcsize(fmt)]))


REWRITE = Rewrite(id=ID, title="Batch norm uses moving statistics", default_on=True,
                  find=find, apply=apply, keep_serves=False)
