"""MetaGraphDef edits the rewrites share: copy, add a placeholder, redirect readers.

Every helper works on whichever protobuf class the MetaGraphDef is (TensorFlow's or
TensorBoard's copy), so nodes are made with ``graph_def.node.add()`` and op
definitions travel as bytes. Only `ensure_op_def` touches TensorFlow (its op
registry), and only when the graph's own op list lacks the op.
"""

from __future__ import annotations

from typing import Any

from app.core.dtypes import dtype_enum

Shape = tuple[int | None, ...] | None


def copied(meta: Any) -> Any:
    """A deep copy of ``meta``: appliers never mutate their input."""
    out = type(meta)()
    out.CopyFrom(meta)
    return out


def redirect(meta: Any, old: str, new: str, readers: list[tuple[int, str]] | None = None) -> int:
    """Make every data input reading tensor ``old`` (``op:N``) read ``new``; returns how many.

    ``readers`` (node index, node name) limits the edit to the nodes a finder saw
    reading ``old``; a big graph is then not walked input by input. A reader whose
    index no longer names it (an earlier edit moved nodes) falls back to a full walk.
    TensorFlow writes output 0 as the bare op name, so ``op`` matches ``op:0`` too.
    """
    nodes = meta.graph_def.node
    if readers is not None and all(i < len(nodes) and nodes[i].name == n for i, n in readers):
        chosen = [nodes[i] for i, _ in readers]
    else:
        chosen = nodes
    bare = old[:-2] if old.endswith(":0") else None
    count = 0
    for node in chosen:
        for i, text in enumerate(node.input):
            if text == old or (bare is not None and text == bare):
                node.input[i] = new
                count += 1
    return count


def _set_shape(proto: Any, shape: Shape) -> None:
    if shape is None:
        proto.unknown_rank = True
        return
    for dim in shape:
        proto.dim.add().size = -1 if dim is None else dim


def add_placeholder(meta: Any, name: str, dtype: str, shape: Shape) -> str:
    """Add a ``Placeholder`` node named ``name`` (the caller picks a free name)."""
    node = meta.graph_def.node.add()
    node.name = name
    node.op = "Placeholder"
    node.attr["dtype"].type = dtype_enum(dtype)
    _set_shape(node.attr["shape"].shape, shape)
    _set_shape(node.attr["_output_shapes"].list.shape.add(), shape)
    ensure_op_def(meta, "Placeholder")
    return f"{name}:0"


def make_scalar_constant(meta: Any, name: str, dtype: str, value: bool | int | float) -> None:
    """Turn node ``name`` into a scalar ``Const`` holding ``value`` (same name, same readers)."""
    node = next(n for n in meta.graph_def.node if n.name == name)
    node.op = "Const"
    del node.input[:]
    node.ClearField("attr")
    enum = dtype_enum(dtype)
    node.attr["dtype"].type = enum
    tensor = node.attr["value"].tensor
    tensor.dtype = enum
    tensor.tensor_shape.SetInParent()
    if dtype == "bool":
        tensor.bool_val.append(bool(value))
    elif dtype in ("float32", "float16", "bfloat16"):
        tensor.float_val.append(float(value))
    elif dtype == "float64":
        tensor.double_val.append(float(value))
    elif dtype in ("int64",):
        tensor.int64_val.append(int(value))
    else:
        tensor.int_val.append(int(value))
    _set_shape(node.attr["_output_shapes"].list.shape.add(), ())
    ensure_op_def(meta, "Const")


def ensure_op_def(meta: Any, op_type: str) -> None:
    """Add ``op_type``'s OpDef to the meta graph's op list when it is not there yet.

    The op list is what `OpGraph` reads dtypes from and what ``import_meta_graph``
    checks default attributes against.
    """
    ops = meta.meta_info_def.stripped_op_list.op
    if any(op.name == op_type for op in ops):
        return
    from tensorflow.python.framework import op_def_registry

    op_def = op_def_registry.get(op_type)
    if op_def is not None:
        ops.add().MergeFromString(op_def.SerializeToString())
