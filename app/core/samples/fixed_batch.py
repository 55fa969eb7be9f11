"""The training batch size baked into the served path: a model that serves one size only.

A program written for one batch size writes it into shapes: ``tf.reshape(x, [2, -1])``,
a ``tile`` by ``[batch, 1]`` or GPT-2's ``shape_list`` that reads the static batch of a
``[batch_size, None]`` placeholder into every reshape. The export is right at that
size and wrong at any other, and a client sending one example gets a shape error from
the server. Found statically on the checkpoint graph: the training batch size is the
known first dimension of the signature's input tensors (the placeholder, or the batch an
input pipeline hands over); an op on the path from those inputs to the outputs that
takes a shape (``Reshape``, ``Tile``, ``BroadcastTo``, ``Fill``) whose first element
is a constant of that size holds it.

- ``fixed_batches(draft, graph) -> {signature key: FixedBatch}``
- ``FixedBatch.message``: the ``warning:`` text (the size and the op).

Plain Python: verification and warmup then run at that size instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.graph.opgraph import OpGraph
from app.core.rewrite.graph_walk import const_values
from app.core.signature.draft import Draft, Signature, needed_ops, tensor_name

# Op type -> index of the input that holds the shape (or the multiples).
_SHAPED = {"Reshape": 1, "Tile": 1, "BroadcastTo": 1, "Fill": 0}
_LISTS = {"Pack", "ConcatV2"}


@dataclass(frozen=True)
class FixedBatch:
    size: int
    op: str  # the op with the size in its shape

    @property
    def message(self) -> str:
        return (f"accepts batches of exactly {self.size} only: `{self.op}` has the training "
                f"batch size in its shape; a client sending another number of examples "
                f"gets a shape error (verification and warmup run at {self.size})")


def fixed_batches(draft: Draft, graph: OpGraph) -> dict[str, FixedBatch]:
    """Every signature of ``draft`` that only works at the training batch size."""
    found = {}
    for sig in draft.signatures:
        hit = fixed_batch(sig, graph, set(draft.bound))
        if hit is not None:
            found[sig.key] = hit
    return found


def fixed_batch(sig: Signature, graph: OpGraph, bound: set[str] = frozenset()
                ) -> FixedBatch | None:
    size = training_batch(sig, graph)
    if size is None or not sig.outputs:
        return None
    inputs = [tensor_name(s.tensor) for s in sig.inputs]
    fed = set(inputs) | {tensor_name(t) for t in bound}
    needed = needed_ops(graph, (s.tensor for s in sig.outputs), fed)
    for name in _downstream(graph, inputs, needed):
        op = graph.ops[name]
        index = _SHAPED.get(op.type)
        if index is not None and len(op.inputs) > index and \
                _first_element(graph, op.inputs[index]) == size:
            return FixedBatch(size, name)
    return None


def training_batch(sig: Signature, graph: OpGraph) -> int | None:
    """The known first dimension (above 1) of the signature's input tensors, if any."""
    for slot in sig.inputs:
        t = graph.tensor(tensor_name(slot.tensor))
        if t is not None and t.shape and t.shape[0] is not None and t.shape[0] > 1:
            return t.shape[0]
    return None


def _downstream(graph: OpGraph, inputs: list[str], within: set[str]) -> list[str]:
    """Ops of ``within`` that read the inputs' values, nearest the inputs first."""
    order: list[str] = []
    seen: set[str] = set()
    frontier = [tensor_name(t).rpartition(":")[0] for t in inputs]
    while frontier:
        following = []
        for name in frontier:
            op = graph.ops.get(name)
            if op is None:
                continue
            for reader in op.consumers:
                if reader in within and reader not in seen:
                    seen.add(reader)
                    order.append(reader)
                    following.append(reader)
        frontier = following
    return order


def _first_element(graph: OpGraph, tensor: str) -> int | None:
    """The first value of a shape tensor: a constant's, or a packed list's first one."""
    op = graph.ops.get(tensor_name(tensor).rpartition(":")[0])
    if op is None:
        return None
    if op.type in _LISTS and op.inputs:
        op = graph.ops.get(tensor_name(op.inputs[0]).rpartition(":")[0])
        if op is None:
            return None
    values = const_values(op)
    return int(values[0]) if values else None
