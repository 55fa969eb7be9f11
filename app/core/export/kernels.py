"""Whether every op of the exported graph has a kernel TensorFlow Serving could place.

TensorFlow Serving places the whole graph when it loads a version, so an op with no
kernel for this machine's devices (a GPU-only ``CudnnRNN`` in the training part, a
dtype only GPUs implement) makes it refuse the version even if no signature runs
that op. The export's own session places only what each run needs
(`place_pruned_graph`: placing the whole training graph cost more than the runs), so
this check tells it from TensorFlow's kernel registry and the op's dtype constraints
before anything is written; verification's load then places the whole graph as TF
Serving does.

- ``unplaceable(graph_def, device_types) -> list[str]``: "name (Type)" of each node no
  kernel fits (empty when every node can be placed).
"""

from __future__ import annotations

from typing import Any


def _fits(kernel: Any, node: Any, defaults: dict[str, Any]) -> bool:
    """Whether ``kernel``'s type constraints admit ``node`` (a missing attr: its default)."""
    for constraint in kernel.constraint:
        allowed = set(constraint.allowed_values.list.type)
        if not allowed:
            continue
        value = node.attr[constraint.name] if constraint.name in node.attr else \
            defaults.get(constraint.name)
        if value is None:
            continue  # unknown here: placement decides, never a false refusal
        types = list(value.list.type) if value.HasField("list") else [value.type]
        if any(t not in allowed for t in types):
            return False
    return True


def unplaceable(graph_def: Any, device_types: set[str]) -> list[str]:
    """Nodes of ``graph_def`` (top level, as placement sees it) with no fitting kernel."""
    from tensorflow.python.framework import kernels, op_def_registry

    functions = {f.signature.name for f in graph_def.library.function}
    # op type -> (kernels for these devices, attr defaults), None when unregistered
    cache: dict[str, tuple[list[Any], dict[str, Any]] | None] = {}
    missing = []
    for node in graph_def.node:
        if node.op in functions:
            continue
        if node.op not in cache:
            op_def = op_def_registry.get(node.op)
            cache[node.op] = None if op_def is None else (
                [k for k in kernels.get_registered_kernels_for_op(node.op).kernel
                 if k.device_type in device_types or k.device_type == "DEFAULT"],
                {a.name: a.default_value for a in op_def.attr if a.HasField("default_value")})
        entry = cache[node.op]
        if entry is None:
            continue  # unregistered ops are refused earlier, naming the library to load
        usable, defaults = entry
        if not any(_fits(k, node, defaults) for k in usable):
            missing.append(f"{node.name} ({node.op})")
    return missing
