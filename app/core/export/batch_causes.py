"""Why an output mixes the examples of a batch: the ops that compute over the batch axis.

Called only after verification saw an example answer differently alone than in
a batch, on the loaded export's ``tf.Graph`` (static shapes and constant axes are
known there). The walk goes backwards over data edges from the failing output to
the signature's inputs and names what it finds, each with its own fix:

- ``FusedBatchNorm*`` with ``is_training=true`` (batch norm in training mode),
- a mean/variance over axis 0 (``tf.nn.moments``, hand-written batch norm),
- any other reduction over axis 0 of a batch-shaped tensor.

Batch norm is what the ``batch_norm`` inference rewrite fixes. When it found the op
but was switched off, ``off`` (`app.core.rewrite.switched_off`: op -> how to switch it
on) gives the fix; rebuilding the model is the fix only where no rewrite applies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_FUSED_BN = {"FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"}
_REDUCTIONS = {"Mean", "Sum", "Max", "Min", "Prod", "All", "Any", "EuclideanNorm",
               "ArgMax", "ArgMin", "Cumsum", "Cumprod"}
_SHOWN = 3


def batch_mixing_cause(graph: Any, output: str, inputs: list[str],
                       off: Mapping[str, str] | None = None) -> str:
    """One phrase naming the ops between ``inputs`` and ``output`` that mix examples.

    Ops of one kind are named together, nearest the output first, with the fix once:
    switching a rewrite on when ``off`` has one for them, else the kind's own fix.
    """
    found: dict[str, list[str]] = {}
    path = batch_path(graph, output, inputs)
    for op in path:
        kind = _kind(op)
        if kind is not None:
            found.setdefault(kind, []).append(op.name)
    if not found:
        # Batch norm inside a function body (an If branch) is out of sight, but a
        # switched-off training switch on the path is the fix.
        hints = sorted({off[op.name] for op in path if off and op.name in off})
        if hints:
            return ("no op on its path reduces over the batch axis where Signet can see it; "
                    + "; ".join(hints))
        return ("no op on its path reduces over the batch axis by itself (look for ops "
                "that reshape or transpose the batch axis away)")
    parts = []
    for kind, names in found.items():
        shown = ", ".join(names[:_SHOWN])
        more = f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else ""
        what, fix = _WORDS[kind]
        hints = [off[name] for name in names if off and name in off]
        if hints:
            fix = hints[0]
        parts.append(f"{what} ({shown}{more}); {fix}")
    return "; ".join(parts)


_WORDS = {
    "fused": ("batch norm in training mode (FusedBatchNorm with is_training=true) normalises "
              "with the batch's own statistics instead of its moving averages",
              "export a graph built with training=False"),
    "moments": ("moments over the batch axis normalise every example with the other "
                "examples' statistics",
                "export a graph built with training=False that uses the stored (moving) "
                "mean and variance"),
    "reduction": ("a reduction over the batch axis makes each answer depend on the other "
                  "examples sent with it",
                  "compute it per example (reduce over the other axes) or serve it as a "
                  "separate signature"),
}


def batch_path(graph: Any, output: str, inputs: list[str]) -> list[Any]:
    """Ops reaching ``output`` over data edges, nearest the output first (breadth first)."""
    stop = set(inputs)
    first = graph.get_tensor_by_name(output).op
    seen = {first.name}
    order = [first]
    for op in order:  # grows while it is walked
        for t in op.inputs:
            if t.name not in stop and t.op.name not in seen:
                seen.add(t.op.name)
                order.append(t.op)
    return order


def _kind(op: Any) -> str | None:
    if op.type in _FUSED_BN:
        return "fused" if _attr(op, "is_training") else None
    if op.type not in _REDUCTIONS or len(op.inputs) < 2:
        return None
    axes = _axes(op)
    rank = op.inputs[0].shape.rank
    if axes is None or rank is None or rank == 0:
        return None
    if 0 not in {a % rank for a in axes}:
        return None
    return "moments" if "moments" in op.name or "batchnorm" in op.name.lower() else "reduction"
def _axes(op: Any) -> list[int] | None:
    from app.core.tf_runtime import tensorflow

    value = tensorflow().get_static_value(op.inputs[1])
    if value is None:
        return None
    return [int(a) for a in (value.ravel() if hasattr(value, "ravel") else [value])]


def _attr(op: Any, name: str) -> Any:
    try:
        return op.get_attr(name)
    except ValueError:
        return None
