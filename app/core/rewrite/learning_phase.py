"""The Keras learning phase bound to inference.

Keras layers built without an explicit ``training`` argument read the graph-wide
``keras_learning_phase`` placeholder (a ``PlaceholderWithDefault`` in tf.keras, a
plain bool or uint8 ``Placeholder`` in early Keras) and switch dropout and batch
norm on it through a ``cond``. Serving cannot feed it, and a plain placeholder left
unfed fails every request, so the applier turns it into a constant 0/False of its
own dtype, under the same name: every ``cond`` on it then takes the inference branch.
Keras always gives the tensor this name, which is why the finder matches on it.
"""

from __future__ import annotations

import re
from typing import Any

from app.core.graph.opgraph import OpGraph
from app.core.rewrite.base import Applied, Finding, Rewrite
from app.core.rewrite.graphdef import copied, make_scalar_constant
from app.core.signature.draft import Draft, tensor_name

ID = "learning_phase"
_NAME = re.compile(r"(^|/)keras_learning_phase(_\d+)?$")
_PLACEHOLDERS = ("Placeholder", "PlaceholderWithDefault")
_BINDABLE = {"bool", "uint8", "int8", "int16", "int32", "int64"}


def is_learning_phase(tensor: str) -> bool:
    """Whether ``tensor`` names a Keras learning phase (by the name Keras always gives it)."""
    return bool(_NAME.search(tensor_name(tensor).rpartition(":")[0]))


def find(graph: OpGraph, draft: Draft) -> list[Finding]:
    """Learning-phase placeholders the user neither feeds nor binds."""
    chosen = {tensor_name(s.tensor) for sig in draft.signatures for s in sig.inputs}
    chosen |= {tensor_name(t) for t in draft.bound}
    findings = []
    for op in graph.ops.values():
        if (op.type not in _PLACEHOLDERS or "keras_learning_phase" not in op.name
                or not _NAME.search(op.name) or f"{op.name}:0" in chosen):
            continue
        dtype = op.outputs[0].dtype if op.outputs else "unknown"
        blocked = None
        if dtype not in _BINDABLE:
            blocked = (f"{op.name} is a {dtype} placeholder, not a 0/1 learning phase; "
                       "bind it yourself with --bind")
        value = "False" if dtype == "bool" else "0"
        findings.append(Finding(
            ID, op.name, (op.name,),
            f"{op.name} is bound to {value} (inference): Keras layers run as at prediction",
            blocked=blocked, data={"op": op.name, "dtype": dtype},
        ))
    return findings


def apply(meta: Any, findings: list[Finding]) -> Applied:
    out = copied(meta)
    for f in findings:
        make_scalar_constant(out, f.data["op"], f.data["dtype"], 0)
    return Applied(out)


REWRITE = Rewrite(ID, "Keras learning phase set to inference", True, find, apply)
