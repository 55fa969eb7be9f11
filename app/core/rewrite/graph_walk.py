"""Small, bounded walks over an `OpGraph` that the idiom finders share.

The finders run on the UI thread after every edit and are benched on a 13k-op
ResNet, so every walk here is either one pass over the ops or a breadth-first
search cut off after a few steps: an idiom (a dropout mask, a moving-average
update) is a handful of ops, and a walk that goes further has left it.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable, Iterable

from app.core.graph.opgraph import Op, OpGraph

VARIABLE_OPS = frozenset({"VariableV2", "Variable", "VarHandleOp"})
# Ops that pass a variable's value (or handle) through unchanged.
_PASS_THROUGH = frozenset({"Identity", "ReadVariableOp", "Enter", "RefEnter", "Switch",
                           "RefSwitch"})
# Updates that write a new value into a variable: input 0 is the variable.
_ROUTING = frozenset({"Switch", "RefSwitch", "Merge", "RefMerge", "Identity"})
_DEBIAS_DEPTH = 3  # biased accumulator -> truediv -> sub -> assign_sub on the average
ASSIGN_OPS = frozenset({"Assign", "AssignSub", "AssignAdd", "AssignVariableOp",
                        "AssignSubVariableOp", "AssignAddVariableOp"})


def op_of(tensor: str) -> str:
    """``'scope/op:1' -> 'scope/op'``."""
    return tensor.rpartition(":")[0] if ":" in tensor else tensor


def producer(graph: OpGraph, tensor: str) -> Op | None:
    return graph.ops.get(op_of(tensor))


def variable_of(graph: OpGraph, tensor: str, depth: int = 3) -> Op | None:
    """The variable whose value or handle ``tensor`` is (through reads and identities)."""
    op = producer(graph, tensor)
    while op is not None and depth >= 0:
        if op.type in VARIABLE_OPS:
            return op
        if op.type not in _PASS_THROUGH or not op.inputs:
            return None
        op = producer(graph, op.inputs[0])
        depth -= 1
    return None


def averaged_input(graph: OpGraph, update: Op, average: str,
                   accept: Callable[[str], bool], depth: int = 3) -> str | None:
    """The ``x`` that ``update`` (an assign-sub on the variable ``average``) averages in,
    ``average -= (average - x) * (1 - decay)``, if ``accept(x)``.

    Found breadth-first from the update's value, at most ``depth`` ops back (assign_sub
    <- mul <- sub): the first ``Sub`` that reads ``average`` first and an accepted ``x``.
    Batch norm's moving statistics average a tensor, ExponentialMovingAverage's shadows
    a variable; ``accept`` tells which is looked for.
    """
    frontier = [update.inputs[1]] if len(update.inputs) > 1 else []
    for _ in range(depth):
        following = []
        for tensor in frontier:
            op = producer(graph, tensor)
            if op is None:
                continue
            if op.type == "Sub" and len(op.inputs) == 2:
                first = variable_of(graph, op.inputs[0])
                if first is not None and first.name == average and accept(op.inputs[1]):
                    return op.inputs[1]
            following.extend(op.inputs)
        frontier = following
    return None


# ``struct`` formats of the DataType numbers a small constant is read in.
_FORMATS = {1: "f", 2: "d", 3: "i", 4: "B", 5: "h", 6: "b", 9: "q", 10: "?", 19: "e"}


def const_values(op: Op) -> list[float] | None:
    """The numbers a ``Const`` op holds (a scalar is one), or None for any other op or
    a dtype that is not a plain number. Booleans read as 0/1."""
    if op.type != "Const":
        return None
    tensor = op.node.attr["value"].tensor
    fmt = _FORMATS.get(tensor.dtype)
    if fmt is None:
        return None
    if tensor.tensor_content:
        count = len(tensor.tensor_content) // struct.calcsize(fmt)
        return [float(v) for v in struct.unpack(f"<{count}{fmt}", tensor.tensor_content)]
    values = (list(tensor.float_val) + list(tensor.double_val) + list(tensor.int_val)
              + list(tensor.int64_val) + list(tensor.bool_val))
    if tensor.dtype == 19:  # float16 values travel as their bits in half_val
        values += [struct.unpack("<e", struct.pack("<H", v))[0] for v in tensor.half_val]
    return [float(v) for v in values]


def consumers_of(graph: OpGraph, tensor: str) -> list[Op]:
    """Ops that read exactly this output (not just any output of its op)."""
    source = graph.ops.get(op_of(tensor))
    if source is None:
        return []
    found: list[Op] = []
    seen: set[str] = set()
    for name in source.consumers:
        if name in seen:
            continue
        seen.add(name)
        op = graph.ops.get(name)
        if op is not None and tensor in op.inputs:
            found.append(op)
    return found


def ancestors(graph: OpGraph, tensors: Iterable[str]) -> set[str]:
    """Ops the given tensors depend on through data inputs (one linear walk)."""
    stack = [op_of(t) for t in tensors]
    seen: set[str] = set()
    ops = graph.ops
    while stack:
        name = stack.pop()
        if name in seen or name not in ops:
            continue
        seen.add(name)
        stack.extend(op_of(t) for t in ops[name].inputs)
    return seen


def updates_from(graph: OpGraph, tensor: str, depth: int = 4) -> tuple[Op, list[str]] | None:
    """The variable update that ``tensor`` feeds within ``depth`` ops, and the ops between.

    This is how batch norm's moving statistics are found: the batch mean flows through
    ``AssignMovingAvg/sub`` and ``mul`` into an ``AssignSub`` on ``moving_mean``. The
    update must also read the variable it writes (the moving average's ``sub``), so an
    assign further downstream that merely depends on the tensor does not count.
    ``Switch``, ``Merge`` and ``Identity`` do not count towards ``depth``: Keras routes
    the statistics through a ``cond`` on the learning phase on their way to the update.
    """
    parents: dict[str, str | None] = {}
    queue: deque[tuple[Op, int]] = deque()
    for op in consumers_of(graph, tensor):
        if op.name not in parents:
            parents[op.name] = None
            queue.append((op, _cost(op)))
    while queue:
        op, cost = queue.popleft()
        if op.type in ASSIGN_OPS and op.inputs:
            found = _update(graph, tensor, op, parents)
            if found is not None:
                return found
            continue
        for name in op.consumers:
            following = graph.ops.get(name)
            if following is None or name in parents:
                continue
            step = _cost(following)
            if cost + step <= depth:
                parents[name] = op.name
                if step:
                    queue.append((following, cost + step))
                else:
                    queue.appendleft((following, cost))
    return None


def _cost(op: Op) -> int:
    return 0 if op.type in _ROUTING else 1


def _update(graph: OpGraph, tensor: str, assign: Op, parents: dict[str, str | None]
            ) -> tuple[Op, list[str]] | None:
    """``assign`` and the path to it, if it writes a variable the path also reads."""
    variable = variable_of(graph, assign.inputs[0])
    if variable is None:
        return None
    path = _path(parents, assign.name)
    if not _reads(graph, [producer(graph, tensor), *(graph.ops[p] for p in path)],
                  variable.name):
        return None
    # A zero-debiased average (ExponentialMovingAverage of a tensor) first updates a
    # biased accumulator, whose new value then updates the average: follow the chain to
    # the variable that holds the answer. A ref update hands the new value on as its
    # output; a resource update through a read that waits for it (a control edge).
    further = updates_from(graph, assign.name + ":0", _DEBIAS_DEPTH)
    if further is None and assign.type.endswith("VariableOp"):
        # The variable's own readers, not the assign's control consumers: training
        # graphs hang every update on each gradient op, thousands per update.
        for name in dict.fromkeys(variable.consumers):
            read = graph.ops.get(name)
            if (read is not None and read.type == "ReadVariableOp"
                    and assign.name in read.control_inputs):
                further = updates_from(graph, read.name + ":0", _DEBIAS_DEPTH)
                if further is not None:
                    break
    return (further[0], path + further[1]) if further else (assign, path)


def _path(parents: dict[str, str | None], last: str) -> list[str]:
    path = [last]
    step = parents[last]
    while step is not None:
        path.append(step)
        step = parents[step]
    return path[::-1]


def _reads(graph: OpGraph, ops: Iterable[Op | None], variable: str) -> bool:
    for op in ops:
        if op is None:
            continue
        start = 1 if op.type in ASSIGN_OPS else 0  # an assign's input 0 is its target
        for tensor in op.inputs[start:]:
            var = variable_of(graph, tensor)
            if var is not None and var.name == variable:
                return True
    return False


def value_read(graph: OpGraph, variable: Op) -> str | None:
    """A tensor holding ``variable``'s value that reading costs nothing extra: the ref
    variable's ``read`` identity, or the ref itself. None for a resource variable (the
    applier adds a fresh ``ReadVariableOp``: reusing an existing read could carry control
    inputs that run a training update)."""
    if variable.type == "VarHandleOp":
        return None
    read = graph.ops.get(variable.name + "/read")
    if (read is not None and read.type == "Identity" and read.inputs == [variable.name + ":0"]
            and not read.control_inputs):
        return read.name + ":0"
    return variable.name + ":0"
