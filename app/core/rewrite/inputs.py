"""Input rewiring: a signature input on a pipeline tensor becomes a new placeholder.

Training graphs read their examples from a ``tf.data`` iterator (``IteratorGetNext``),
a queue (``QueueDequeueManyV2``) or ``parse_example`` over dequeued strings. Feeding
such a tensor directly would keep the training batch size in the signature and leave
the pipeline wired into the served graph. The applier adds a ``Placeholder`` of the
same dtype and shape with the batch dimension left open and moves every reader of
the pipeline tensor onto it, so the model no longer reaches the pipeline (and
``--strip-training`` drops it from the file). Signatures then name the new
placeholder through `Applied.renamed`.
"""

from __future__ import annotations

from typing import Any

from app.core.graph.opgraph import OpGraph, format_shape
from app.core.rewrite.base import Applied, Finding, Rewrite
from app.core.rewrite.graphdef import add_placeholder, copied, redirect
from app.core.signature.draft import Draft, drop_problem, needed_ops, tensor_name

_PLACEHOLDERS = ("Placeholder", "PlaceholderWithDefault")
ID = "inputs"


def _open_batch(shape: tuple[int | None, ...] | None) -> tuple[int | None, ...] | None:
    if not shape:
        return shape
    return (None, *shape[1:])


def find(graph: OpGraph, draft: Draft) -> list[Finding]:
    """One finding per signature input that is not a placeholder (each tensor once)."""
    wanted: list[str] = []
    for sig in draft.signatures:
        for slot in sig.inputs:
            name = tensor_name(slot.tensor)
            t = graph.tensor(name)
            if (name not in wanted and t is not None and t.op.type not in _PLACEHOLDERS
                    and drop_problem(graph, name, "inputs") is None):
                wanted.append(name)
    if not wanted:
        return []
    fed = {tensor_name(s.tensor) for sig in draft.signatures for s in sig.inputs}
    fed |= {tensor_name(t) for t in draft.bound}
    served = needed_ops(graph, (s.tensor for sig in draft.signatures for s in sig.outputs), fed)
    order = {op: i for i, op in enumerate(graph.ops)}  # node index in the GraphDef
    taken: set[str] = set()
    findings = []
    for name in wanted:
        t = graph.tensor(name)
        assert t is not None
        dtype = t.dtype.removesuffix("_ref")
        shape = _open_batch(t.shape)
        left = sorted(needed_ops(graph, [name], fed - {name}) - served)
        blocked = None
        if dtype == "unknown":
            blocked = (f"the graph does not record {name}'s dtype, so no placeholder can "
                       "stand for it; pick a tensor below it as the input")
        op_name = t.op.name
        placeholder = f"signet_input/{op_name}_{t.index}"
        n = 2
        while placeholder in graph.ops or placeholder in taken:
            placeholder, n = f"signet_input/{op_name}_{t.index}_{n}", n + 1
        taken.add(placeholder)
        readers = [(order[r], r) for r in dict.fromkeys(t.op.consumers)
                   if name in graph.ops[r].inputs]
        findings.append(Finding(
            ID, name, tuple(left) or (op_name,),
            f"{name} ({t.op.type}) becomes a new {dtype} placeholder {format_shape(shape)}; "
            f"the {len(left)} ops above it (the input pipeline) leave the served graph",
            blocked=blocked,
            data={"tensor": name, "dtype": dtype,
                  "shape": None if shape is None else list(shape),
                  "placeholder": placeholder, "readers": readers},
        ))
    return findings


def apply(meta: Any, findings: list[Finding]) -> Applied:
    out = copied(meta)
    renamed = {}
    for f in findings:
        shape = f.data["shape"]
        new = add_placeholder(out, f.data["placeholder"], f.data["dtype"],
                              None if shape is None else tuple(shape))
        redirect(out, f.data["tensor"], new, [tuple(r) for r in f.data["readers"]])
        renamed[f.data["tensor"]] = new
    return Applied(out, renamed)


REWRITE = Rewrite(ID, "Inputs rewired to placeholders", True, find, apply)
