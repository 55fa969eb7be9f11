"""The GraphDef edits the rewrites share: copy, placeholders, constants, rewiring, disarming.

A copy (`copied`), a placeholder or a scalar constant, readers redirected (`redirect`) or
rewired through a mapping (`rewire`, `rewire_readers`), an update disarmed, a variable read.

Every helper works on whichever protobuf class the MetaGraphDef is (TensorFlow's or
TensorBoard's copy): edits go to a copy made with ``type(meta)()`` (`copied`), nodes are
made with ``graph_def.node.add()`` and op definitions travel as bytes, so the caller's
MetaGraphDef is never touched. Only `ensure_op_def` touches TensorFlow (its op
registry), and only when the graph's own op list lacks the op. The walks over the
`OpGraph` that find what to edit are `app.core.rewrite.graph_walk`.
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


# ---------------------------------------------------------------- rewiring


def canonical(tensor: str) -> str:
    """``'op' -> 'op:0'``; other names unchanged."""
    return tensor if ":" in tensor else tensor + ":0"


def node_input(tensor: str) -> str:
    """How a GraphDef input names ``tensor``: output 0 without its index."""
    return tensor[:-2] if tensor.endswith(":0") else tensor


def resolve(mapping: dict[str, str]) -> dict[str, str]:
    """Follow chains (a dropout whose input is another dropout's output) to their end."""
    resolved = {}
    for old in mapping:
        new = mapping[old]
        seen = {old}
        while new in mapping and new not in seen:
            seen.add(new)
            new = mapping[new]
        resolved[old] = new
    return resolved


def _lookup(mapping: dict[str, str]) -> dict[str, str]:
    """GraphDef input text -> replacement input text, chains resolved."""
    lookup: dict[str, str] = {}
    for old, new in resolve(mapping).items():
        old, new = canonical(old), node_input(canonical(new))
        lookup[old] = new
        if old.endswith(":0"):
            lookup[old[:-2]] = new  # GraphDefs name output 0 without its index
    return lookup


def rewire(graph_def: Any, mapping: dict[str, str]) -> int:
    """Make every data input reading a tensor in ``mapping`` read its replacement instead.

    Control inputs are kept: they order execution, not values. Returns how many inputs
    changed.
    """
    lookup = _lookup(mapping)
    return _rewire_nodes(graph_def.node, lookup) if lookup else 0


def rewire_readers(graph_def: Any, nodes: dict[str, Any], mapping: dict[str, str],
                   readers: list[str]) -> int:
    """`rewire`, editing only ``readers`` (the ops the finder saw reading the tensors):
    a 13k-op graph is then not walked input by input. Falls back to the full walk when
    a reader is gone (an earlier rewrite renamed it)."""
    if any(name not in nodes for name in readers):
        return rewire(graph_def, mapping)
    return _rewire_nodes((nodes[name] for name in readers), _lookup(mapping))


def _rewire_nodes(nodes: Any, lookup: dict[str, str]) -> int:
    """Point the data inputs of ``nodes`` found in ``lookup`` at their new tensors."""
    changed = 0
    for node in nodes:
        inputs = node.input
        for i, text in enumerate(inputs):
            if text[:1] == "^":
                break
            new = lookup.get(text)
            if new is not None:
                inputs[i] = new
                changed += 1
    return changed


def disarm_update(node: Any) -> None:
    """Turn a variable update into a read of its variable, in place.

    ``tf.contrib.layers.batch_norm(updates_collections=None)`` and ``ema.apply`` inside
    a ``cond`` hang moving-average updates on the forward path; disarmed, whatever still
    depends on them writes nothing. A resource update (no outputs) becomes a ``NoOp``;
    a ref update becomes ``Identity`` of the variable, whose value it used to return.
    Control inputs stay.
    """
    target = node.input[0]
    controls = [t for t in node.input if t[:1] == "^"]
    dtype = node.attr["T"].type if "T" in node.attr else None
    node.ClearField("attr")
    del node.input[:]
    if node.op.endswith("VariableOp") or dtype is None:
        node.op = "NoOp"
        node.input.extend(controls)
    else:
        node.op = "Identity"
        node.input.extend([target, *controls])
        node.attr["T"].type = dtype


def add_variable_read(graph_def: Any, nodes: dict[str, Any], handle_op: str, dtype: int,
                      name: str) -> str:
    """Add ``ReadVariableOp(handle_op)`` named ``name`` unless ``nodes`` (name -> node,
    kept up to date) has it; return its tensor."""
    if name not in nodes:
        node = graph_def.node.add()
        nodes[name] = node
        node.name = name
        node.op = "ReadVariableOp"
        node.input.append(handle_op)
        node.attr["dtype"].type = dtype
    return name + ":0"


def nodes_by_name(graph_def: Any) -> dict[str, Any]:
    return {node.name: node for node in graph_def.node}
