"""A decoder fed the target sequence (teacher forcing), and the tables ids are looked up in.

A sequence-to-sequence graph trained with teacher forcing predicts each next token
from the true previous ones: besides its source sequence it is fed the target
sequence, whose ids index the output vocabulary (its embedding table has as many
rows as the logits have classes). Serving such a graph needs the target; the
proposal says so in plain words.
"""

from __future__ import annotations

from app.core.graph.opgraph import OpGraph
from app.core.proposal.model import ProposedSlot
from app.core.proposal.reading import FORMAT, VARIABLES

_GATHERS = frozenset({"GatherV2", "Gather", "ResourceGather", "GatherNd"})


def decoder_input(graph: OpGraph, inputs: list[ProposedSlot], outputs: list[ProposedSlot],
                  labels: list[str]) -> str | None:
    """The input that feeds a decoder the target sequence, when the graph is a
    sequence-to-sequence model trained with teacher forcing: besides a source sequence
    it is fed an id sequence drawn from the output vocabulary (its embedding table has
    as many rows as the logits have classes), and the logits, one per time step, are
    compared with an id sequence label."""
    def ids(tensor: str) -> bool:
        t = graph.tensor(tensor)
        return t is not None and t.dtype.removesuffix("_ref").startswith(("int", "uint")) \
            and t.shape is not None and len(t.shape) >= 2

    sequences = [s for s in inputs if ids(s.tensor)]
    if len(sequences) < 2 or not any(ids(label) for label in labels):
        return None
    classes = set()
    for slot in outputs:
        t = graph.tensor(slot.tensor)
        if t is not None and t.shape is not None and len(t.shape) >= 3 and t.shape[-1]:
            classes.add(t.shape[-1])
    decoders = [s for s in sequences[1:] if _table_rows(graph, s.tensor) in classes]
    return decoders[-1].key if decoders else None


def _table_rows(graph: OpGraph, tensor: str) -> int | None:
    """The rows of the embedding table ``tensor`` looks up, if it looks one up."""
    table = looked_up(graph, tensor)
    shape = _variable_shape(graph, table) if table is not None else None
    return shape[0] if shape else None


def looked_up(graph: OpGraph, tensor: str) -> str | None:
    """The table (a gather's params) that ``tensor`` indexes, through the casts, reshapes
    and squeezes a model puts ids through first."""
    ops = graph.ops
    frontier, seen = [tensor], set()
    for _ in range(6):
        following = []
        for t in frontier:
            for c in ops[t.rpartition(":")[0]].consumers:
                reader = ops[c]
                if c in seen or t not in reader.inputs:
                    continue
                seen.add(c)
                if reader.type in _GATHERS and reader.inputs[0] != t:
                    return reader.inputs[0]
                if reader.type in FORMAT:
                    following.append(f"{c}:0")
        frontier = following
    return None


def _variable_shape(graph: OpGraph, tensor: str) -> tuple[int | None, ...] | None:
    op = graph.ops.get(tensor.rpartition(":")[0])
    for _ in range(4):
        if op is None:
            return None
        if op.type in VARIABLES:
            shape = op.node.attr["shape"].shape if "shape" in op.node.attr else None
            if shape is None or shape.unknown_rank:
                return None
            return tuple(d.size if d.size >= 0 else None for d in shape.dim)
        if not op.inputs:
            return None
        op = graph.ops.get(op.input_ops[0])
    return None
