"""Dropout bypassed: every consumer of a dropout's output reads the dropout's input.

A training graph applies dropout with a constant rate, so served as saved it would
zero a random part of every answer. In inference mode dropout is the identity, which
is exactly what rewiring its consumers to its input gives, in every form it takes:

- ``tf.nn.dropout`` of TF 1.x with ``keep_prob``: ``x / keep_prob * floor(keep_prob +
  random_uniform(shape(x)))`` (``RealDiv``, ``Add``, ``Floor``, ``Mul``);
- ``tf.nn.dropout`` of TF 2.x (``rate`` or ``keep_prob``), ``tf.compat.v1.layers.dropout``
  and Keras ``Dropout`` with training on: ``select(random_uniform(shape(x)) >= rate,
  x * scale, 0)`` (``GreaterEqual``, ``SelectV2``), or ``x * scale * cast(mask)``;
- any of these inside a ``cond`` on a training flag (``layers.dropout(training=t)``):
  the ``Merge`` of the cond is what gets bypassed.

The finder starts at each random op: one whose mask (``Floor``, a comparison) is
multiplied into a tensor whose shape drew the random numbers is a dropout; a random
mask it cannot tie to an input is reported as blocked, naming the op.
"""

from __future__ import annotations

from typing import Any

from app.core.graph.opgraph import Op, OpGraph
from app.core.rewrite.base import Applied, Finding, Rewrite
from app.core.rewrite.graph_walk import ancestors, consumers_of, op_of, producer
from app.core.rewrite.graphdef import canonical, copied, nodes_by_name, resolve, rewire
from app.core.rewrite.site_keys import unique_keys

ID = "dropout"
_RANDOM = frozenset({"RandomUniform", "StatelessRandomUniform", "StatelessRandomUniformV2"})
# Ops a dropout mask is built from, between the random op and where it meets the input.
_MASK = frozenset({"Mul", "Add", "AddV2", "Sub", "Floor", "GreaterEqual", "Greater", "Less",
                   "LessEqual", "Cast", "Identity", "RealDiv", "Div"})
_MASK_TEST = frozenset({"Floor", "GreaterEqual", "Greater", "Less", "LessEqual"})
_JOIN = frozenset({"Mul", "SelectV2", "Select"})
_SCALE = frozenset({"Mul", "RealDiv", "Div"})
_SWITCH = frozenset({"Switch", "RefSwitch"})
_DEPTH = 8  # the longest mask seen (TF 1.x keep_prob form) is 6 ops deep


def find(graph: OpGraph, draft: Any) -> list[Finding]:
    """Dropouts on the path to the draft's outputs (all of them when it has none)."""
    outputs = [slot.tensor for sig in getattr(draft, "signatures", []) for slot in sig.outputs]
    needed = ancestors(graph, outputs) if outputs else None
    findings = []
    for op in graph.ops.values():
        if op.type in _RANDOM and (needed is None or op.name in needed):
            finding = _site(graph, op)
            if finding is not None:
                findings.append(finding)
    return unique_keys(findings)


def _site(graph: OpGraph, random: Op) -> Finding | None:
    shape_op = producer(graph, random.inputs[0]) if random.inputs else None
    drawn_for = shape_op.inputs[0] if shape_op is not None and shape_op.type == "Shape" \
        and shape_op.inputs else None
    mask: set[str] = {random.name}
    frontier = [random.name + ":0"]
    tested = False
    for _ in range(_DEPTH):
        following = []
        for tensor in frontier:
            for op in consumers_of(graph, tensor):
                if op.name in mask:
                    continue
                joined = _joined_input(graph, op, mask, drawn_for)
                if joined is not None:
                    return _finding(graph, mask, op, joined)
                if op.type in _MASK:
                    mask.add(op.name)
                    tested = tested or op.type in _MASK_TEST
                    following.append(op.name + ":0")
        frontier = following
    if not tested:
        return None  # a random initializer or sampler, not a mask
    key = _scope(random.name)
    return Finding(
        rewrite=ID, key=key, ops=(random.name,),
        summary=f"random mask at {random.name} kept",
        blocked=(f"{random.name} builds a random mask Signet does not recognise as dropout "
                 "(it never meets the tensor its shape was drawn for); serving would stay "
                 "random — rebuild the model with training=False and export that graph"),
    )


Reader = tuple[str, int]  # (op, input index): where the dropout reads its input


def _joined_input(graph: OpGraph, op: Op, mask: set[str], drawn_for: str | None
                  ) -> tuple[str, Reader] | None:
    """The dropout's input, and the op input that reads it, if ``op`` is where the mask
    meets it; else None."""
    if op.type not in _JOIN or len(op.inputs) < 2:
        return None
    if op.type in ("SelectV2", "Select"):
        if op_of(op.inputs[0]) not in mask or op_of(op.inputs[1]) in mask:
            return None
        index = 1
    else:
        others = [i for i, t in enumerate(op.inputs) if op_of(t) not in mask]
        if len(others) != 1:
            return None
        index = others[0]
    data = op.inputs[index]
    candidates = [(data, (op.name, index))]
    scale = producer(graph, data)
    if scale is not None and scale.type in _SCALE and scale.inputs:
        candidates.append((scale.inputs[0], (scale.name, 0)))
    if drawn_for is not None:
        return next((c for c in candidates if c[0] == drawn_for), None)
    return candidates[1] if len(candidates) > 1 else None


def _finding(graph: OpGraph, mask: set[str], join: Op, joined: tuple[str, Reader]
             ) -> Finding:
    data, reader = joined
    output = join.name + ":0"
    ops = {*mask, join.name}
    source = producer(graph, data)
    merge = _bypassed_cond(graph, output, source)
    if merge is not None and source is not None:
        # layers.dropout(training=flag): the dropout runs in a cond; bypass the whole cond.
        data, reader = source.inputs[0], (source.name, 0)
        output = merge.name + ":0"
        ops.add(merge.name)
    key = _scope(op_of(output))
    return Finding(
        rewrite=ID, key=key, ops=tuple(sorted(ops)),
        summary=f"{key}: serves its input {data} unchanged (no random mask)",
        data={"output": output, "input": data, "reader": list(reader)},
    )


def _bypassed_cond(graph: OpGraph, output: str, source: Op | None) -> Op | None:
    """The cond's ``Merge`` when the dropout is its true branch and the false branch
    passes the same input through (``Identity(Switch(x))``), else None."""
    if source is None or source.type not in _SWITCH or not source.inputs:
        return None
    merges = [op for op in consumers_of(graph, output) if op.type in ("Merge", "RefMerge")]
    if len(merges) != 1 or len(merges[0].inputs) != 2:
        return None
    merge = merges[0]
    other = producer(graph, next((t for t in merge.inputs if t != output), ""))
    switch = producer(graph, other.inputs[0]) if other is not None and other.inputs else None
    if (other is None or other.type != "Identity" or switch is None
            or switch.type not in _SWITCH or switch.inputs[:1] != source.inputs[:1]):
        return None
    return merge


def _scope(name: str) -> str:
    """The dropout's scope: ``dense/dropout/SelectV2 -> dense/dropout``, without the
    ``cond`` and ``random_uniform`` levels a form adds."""
    parts = name.split("/")[:-1] or [name]
    while len(parts) > 1 and (parts[-1].startswith(("cond", "random_uniform"))):
        parts.pop()
    return "/".join(parts)


def apply(meta: Any, findings: list[Finding]) -> Applied:
    """Rewire each dropout's readers to what the dropout reads *in ``meta``*: an earlier
    rewrite may have replaced the input (an iterator output by a placeholder), and the
    dropout's own reader of it shows the replacement."""
    new = copied(meta)
    sites = [f for f in findings if f.rewrite == ID and f.blocked is None and f.data]
    nodes = nodes_by_name(new.graph_def) if sites else {}
    mapping = {}
    for finding in sites:
        holder, index = finding.data["reader"]
        node = nodes.get(holder)
        current = node.input[index] if node is not None and index < len(node.input) else ""
        mapping[finding.data["output"]] = (canonical(current) if current[:1] not in ("", "^")
                                           else finding.data["input"])
    rewire(new.graph_def, mapping)
    return Applied(new, renamed=resolve(mapping))


REWRITE = Rewrite(id=ID, title="Dropout bypassed", default_on=True, find=find, apply=apply,
                  keep_serves=False)
