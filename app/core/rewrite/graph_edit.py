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


def rewire(graph_def: Any, mapping: dict[str, str]) -> int:
    """Make every data input reading a tensor in ``mapping`` read its replacement instead.

    Control inputs are kept: they order execution, not values. Returns how many inputs
    changed.
    """
    lookup: dict[str, str] = {}
    for old, new in resolve(mapping).items():
        old, new = canonical(old), node_input(canonical(new))
        lookup[old] = new
        if old.endswith(":0"):
            lookup[old[:-2]] = new  # GraphDefs name output 0 without its index
    changed = 0
    if not lookup:
        return changed
    for node in graph_def.node:
        inputs = node.input
        for i, text in enumerate(inputs):
            if text[:1] == "^":
                break
            new = lookup.get(text)
            if new is not None:
                inputs[i] = new
                changed += 1
    return changed


def drop_control_inputs(graph_def: Any, ops: set[str]) -> int:
    """Remove every control input on ``ops`` (e.g. the moving-average updates that
    ``tf.contrib.layers.batch_norm(updates_collections=None)`` or an ``ema.apply`` inside
    a ``cond`` hang on the forward path), so serving never runs them. Returns how many."""
    dropped = 0
    if not ops:
        return dropped
    for node in graph_def.node:
        inputs = node.input
        if not inputs or inputs[-1][:1] != "^":  # control inputs come last
            continue
        if not _controls_any(inputs, ops):
            continue
        kept = [t for t in node.input if t[:1] != "^" or t[1:] not in ops]
        dropped += len(node.input) - len(kept)
        del node.input[:]
        node.input.extend(kept)
    return dropped


def _controls_any(inputs: Any, ops: set[str]) -> bool:
    for text in reversed(inputs):
        if text[:1] != "^":
            return False
        if text[1:] in ops:
            return True
    return False


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
