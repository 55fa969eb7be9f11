"""GraphDef edits the idiom appliers share: copy, rewire consumers, add a variable read.

Every edit works on a copy made with ``type(meta)()``, so it serves TensorFlow's and
TensorBoard's protobuf classes alike and never touches the caller's MetaGraphDef.
"""

from __future__ import annotations

from typing import Any


def copy_meta(meta: Any) -> Any:
    new = type(meta)()
    new.CopyFrom(meta)
    return new


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
