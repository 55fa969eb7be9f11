"""Predictions computed from a random draw, and the mean the draw is taken around.

A variational autoencoder trains its decoder on ``z = mu + sigma * eps`` with ``eps``
drawn anew at every run: what the decoder answers differs at every request, and no
rewrite can make it the model's one answer (unlike dropout, which inference simply
leaves out). What the model computes deterministically is the distribution the draw
comes from; its centre ``mu`` (the encoder's mean) is what such a program serves.

A *sampler* is a random op that is neither a dropout mask (the dropout rewrite
bypasses those) nor in a branch a training switch turns off.
"""

from __future__ import annotations

from app.core.graph.opgraph import OpGraph
from app.core.proposal.sources import ops_of_type
from app.core.rewrite import dropout
from app.core.signature.checks import RANDOM_OPS
from app.core.signature.draft import Draft

_SCALE = frozenset({"Mul", "RealDiv"})
_SHIFT = frozenset({"Add", "AddV2"})
# What tf.random.normal and friends wrap a raw draw in, with constant operands.
_WRAP = _SCALE | _SHIFT | frozenset({"Sub", "Cast", "Identity"})
_DEPTH = 6


def samplers(graph: OpGraph, switched_off: set[str]) -> set[str]:
    """The random ops whose draws reach a served answer as they are."""
    randoms = {op.name for op in ops_of_type(graph, RANDOM_OPS)}
    if not randoms:
        return set()
    masks = {op for f in dropout.find(graph, Draft()) if f.blocked is None for op in f.ops}
    return randoms - masks - switched_off


def drawn_from(graph: OpGraph, tensor: str, random: set[str], stop: set[str]) -> str | None:
    """The sampler ``tensor`` is computed from, if any (nearest first)."""
    ops = graph.ops
    seen = {tensor.rpartition(":")[0]}
    frontier = list(seen)
    while frontier:
        following = []
        for name in frontier:
            for src in ops[name].input_ops:
                if src in random:
                    return src
                if src not in seen and src in ops and src not in stop:
                    seen.add(src)
                    following.append(src)
        frontier = following
    return None


def centre(graph: OpGraph, sampler: str, machinery: set[str]) -> str | None:
    """``mu`` of ``mu + sigma * draw`` (the reparameterisation) when ``sampler``'s draw is
    scaled and shifted by the model's tensors; None for any other use of a draw. The
    gradients that also read the draw (``machinery``) are left aside."""
    ops = graph.ops
    current, scaled = f"{sampler}:0", False
    for _ in range(_DEPTH):
        readers = [c for c in dict.fromkeys(ops[current.rpartition(":")[0]].consumers)
                   if current in ops[c].inputs and c not in machinery]
        if len(readers) != 1 or ops[readers[0]].type not in _WRAP:
            return None
        reader = ops[readers[0]]
        others = [t for t in reader.inputs if t != current]
        computed = [t for t in others if not _constant(graph, t)]
        if computed and reader.type in _SCALE:
            scaled = True
        elif computed and reader.type in _SHIFT and scaled and len(computed) == 1:
            return computed[0]
        elif computed:
            return None
        current = f"{reader.name}:0"
    return None


def _constant(graph: OpGraph, tensor: str) -> bool:
    op = graph.ops.get(tensor.rpartition(":")[0])
    return op is not None and op.type == "Const"
