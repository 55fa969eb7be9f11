"""Why an output mixes the examples of a batch: the ops that compute over the batch axis.

Called only after verification saw an example answer differently alone than in
a batch, on the loaded export's ``tf.Graph`` (static shapes and constant axes are
known there). The walk goes backwards over data edges from the failing output to
the signature's inputs and names what it finds, each with its own fix:

- ``FusedBatchNorm*`` with ``is_training=true`` (batch norm in training mode),
- a mean/variance over axis 0 (``tf.nn.moments``, hand-written batch norm),
- any other reduction over axis 0 of a batch-shaped tensor.
"""

from __future__ import annotations

from typing import Any

_FUSED_BN = {"FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"}
_REDUCTIONS = {"Mean", "Sum", "Max", "Min", "Prod", "All", "Any", "EuclideanNorm",
               "ArgMax", "ArgMin", "Cumsum", "Cumprod"}
_SHOWN = 3


def batch_mixing_cause(graph: Any, output: str, inputs: list[str]) -> str:
    """One phrase naming the ops between ``inputs`` and ``output`` that mix examples."""
    causes = [c for c in (_cause(op) for op in _path(graph, output, inputs)) if c]
    if not causes:
        return ("no op on its path reduces over the batch axis by itself (look for ops "
                "that reshape or transpose the batch axis away)")
    shown = "; ".join(causes[:_SHOWN])
    more = len(causes) - _SHOWN
    return shown + (f"; and {more} more such op(s)" if more > 0 else "")


def _path(graph: Any, output: str, inputs: list[str]) -> list[Any]:
    """Ops reaching ``output`` over data edges, nearest the inputs first."""
    stop = set(inputs)
    seen: set[str] = set()
    order = []
    stack = [graph.get_tensor_by_name(output).op]
    while stack:
        op = stack.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        order.append(op)
        stack.extend(t.op for t in op.inputs if t.name not in stop)
    return list(reversed(order))


def _cause(op: Any) -> str | None:
    scope = op.name.rsplit("/", 1)[0] if "/" in op.name else op.name
    if op.type in _FUSED_BN and _attr(op, "is_training"):
        return (f"batch norm {op.name} ({op.type}) runs in training mode (is_training=true) "
                "and normalises with the batch's own statistics instead of its moving "
                "averages; export a graph built with training=False")
    if op.type not in _REDUCTIONS or len(op.inputs) < 2:
        return None
    axes = _axes(op)
    rank = op.inputs[0].shape.rank
    if axes is None or rank is None or rank == 0:
        return None
    if 0 not in {a % rank for a in axes}:
        return None
    if "moments" in op.name or "batchnorm" in op.name.lower():
        return (f"{op.name} ({op.type}) computes moments over the batch axis in {scope!r}, "
                "so every example is normalised with the other examples' statistics; "
                "export a graph built with training=False that uses the stored "
                "(moving) mean and variance")
    return (f"{op.name} ({op.type}) reduces over the batch axis, so each answer depends "
            "on the other examples sent with it; compute it per example (reduce over "
            "the other axes) or serve it as a separate signature")


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
