"""Training switches bound to inference: placeholders that only tell the graph it trains.

TF1 programs feed their training mode through placeholders of their own: a bool
``is_training``/``phase_train`` read by the ``cond`` around each batch norm and dropout
(slim's ``batch_norm(is_training=...)``), a ``keep_prob`` or dropout ``rate``, a
``learning_rate`` only the optimizer reads, a ``batch_size`` only the input pipeline
reads. None of them is an input a client sends. Each is found by what reads it,
never by its name:

- *mode*: a bool scalar placeholder (with or without a default) that, through
  ``Identity``, ``LogicalNot``, ``Cast``…, is the predicate of v1 conds (the ``Switch``
  ops' ``pred``), of v2 ``If``/``StatelessIf`` or of a scalar ``Select``, where one side
  holds training behaviour: a random op (dropout), batch norm over the batch
  (``FusedBatchNorm`` with ``is_training``, ``tf.nn.moments`` over axis 0) or a
  variable update (moving averages). It is bound to the predicate value that takes
  the other side: ``False``, or ``True`` when the flag is inverted or training is the
  false branch;
- *keep_prob* / *rate*: a float scalar placeholder that sets the threshold of a dropout
  mask (``floor(keep_prob + uniform)``, ``uniform >= rate``…), bound to the value at
  which the mask keeps every unit, worked back through the arithmetic in between
  (``rate = 1 - keep_prob``): 1.0 for a keep probability, 0.0 for a rate;
- *optimizer*: a float scalar placeholder that only reaches the optimizer's
  hyperparameter inputs (``lr``, ``momentum``…), through a schedule or not: bound to
  0.0, so even an update that did run would change nothing;
- *pipeline*: a placeholder that only reaches the input pipeline (a ``BatchDataset``'s
  size, a dequeue's count, a filename queue's enqueue). Nothing is bound: serving never
  reads it, since the signature inputs rewired from the pipeline replace what it fed.

The Keras learning phase stays with the `learning_phase` rewrite.

A finding's ops are the placeholder and the ops its value switches off: the branches
the conds no longer take and what only feeds them, and the random masks a keep
probability of 1 makes constant. `killed_ops` names them, so the serving checks and
the other rewrites' blocked sites look only at what serving runs. The applier turns
each placeholder with a value into a constant of its own dtype under the same name (as
`learning_phase` does), so every reader sees the inference value.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from app.core.graph.opgraph import Op, OpGraph
from app.core.rewrite.base import Applied, Finding, Rewrite
from app.core.rewrite.graph_walk import ASSIGN_OPS, const_values, consumers_of, op_of, producer
from app.core.rewrite.graphdef import copied, make_scalar_constant
from app.core.rewrite.learning_phase import is_learning_phase
from app.core.signature.checks import PIPELINE_OPS, RANDOM_OPS
from app.core.signature.draft import Draft, tensor_name

ID = "training_switch"
_PLACEHOLDERS = ("Placeholder", "PlaceholderWithDefault")
_FLOATS = frozenset({"float32", "float16", "float64", "bfloat16"})
_SWITCH = frozenset({"Switch", "RefSwitch"})
_MERGE = frozenset({"Merge", "RefMerge"})
_IF = frozenset({"If", "StatelessIf"})
_SELECT = frozenset({"Select", "SelectV2"})
# Ops that hand a predicate on unchanged (a cond's ``pred_id``, a reshape to a scalar).
_SAME = frozenset({"Identity", "Snapshot", "Reshape", "Squeeze", "ExpandDims", "StopGradient",
                   *_MERGE})
# Ops that run another function of the library (named in an attribute).
_CALLS = frozenset({*_IF, "PartitionedCall", "StatefulPartitionedCall", "While",
                    "StatelessWhile", "Case", "StatelessCase"})
_UNIFORM = frozenset({"RandomUniform", "StatelessRandomUniform", "StatelessRandomUniformV2"})
_RANDOM = RANDOM_OPS | _UNIFORM
_FUSED = frozenset({"FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"})
_AFFINE = frozenset({"Identity", "Snapshot", "Cast", "Sub", "Add", "AddV2", "Mul", "RealDiv",
                     "Div"})
_JOIN = frozenset({"Mul", "Select", "SelectV2"})
# A dropout mask keeps every unit when the uniform draw ``u`` passes the test for every
# u in [0, 1): the threshold that guarantees it, by test and by the operand ``u`` is.
_KEEP_ALL = {("GreaterEqual", 0): 0.0, ("Greater", 0): 0.0, ("Less", 0): 1.0,
             ("LessEqual", 0): 1.0, ("GreaterEqual", 1): 1.0, ("Greater", 1): 1.0,
             ("Less", 1): 0.0, ("LessEqual", 1): 0.0}
_APPLY = ("Apply", "ResourceApply", "SparseApply", "ResourceSparseApply")
# Optimizer inputs that are hyperparameters: a placeholder reaching only these is one.
_HYPERPARAMETERS = frozenset({"lr", "alpha", "momentum", "rho", "beta1", "beta2", "epsilon",
                              "l1", "l2", "l2_shrinkage", "lr_power", "decay", "beta",
                              "logbase", "sign_decay"})
_OBSERVERS = frozenset({"ScalarSummary", "HistogramSummary", "TensorSummary",
                        "TensorSummaryV2", "WriteScalarSummary", "Print", "PrintV2"})
_ITERATORS = frozenset({"MakeIterator", "Iterator", "IteratorV2", "AnonymousIterator",
                        "AnonymousIteratorV2", "AnonymousIteratorV3", "OneShotIterator"})
_GRADIENTS = re.compile(r"^gradients(_\d+)?$")
_PREDICATE_DEPTH = 8  # flag -> Cast -> LogicalNot -> pred_id, and nested conds' switches
_CHAIN_DEPTH = 4  # keep_prob -> Sub (rate = 1 - keep_prob) -> Cast -> the mask's test
_FEEDER_DEPTH = 3  # a batch mean entering a cond: Squeeze <- Mean
_WALK_BUDGET = 2000  # ops a forward walk from a placeholder may visit (optimizer, pipeline)


@dataclass
class Reading:
    """What a placeholder switches, read from the graph: its kind, the inference value
    (None: nothing to bind), the sites it reaches, and the ops that value switches off."""

    kind: str  # "mode" | "keep_prob" | "rate" | "optimizer" | "pipeline"
    value: bool | float | None
    sites: list[str]
    off: set[str] = field(default_factory=set)
    behind: list[str] = field(default_factory=list)  # "batch norm", "dropout", ...
    blocked: str | None = None


def find(graph: OpGraph, draft: Draft) -> list[Finding]:
    """Switch placeholders the user neither feeds (a signature input) nor binds."""
    chosen = {tensor_name(s.tensor) for sig in draft.signatures for s in sig.inputs}
    chosen |= {tensor_name(t) for t in draft.bound}
    context = _Context(graph)
    findings = []
    for op in graph.ops.values():
        if (op.type not in _PLACEHOLDERS or f"{op.name}:0" in chosen
                or is_learning_phase(op.name)):
            continue
        reading = read_switch(graph, op, context)
        if reading is not None:
            findings.append(_finding(op, reading))
    return findings


def switches(graph: OpGraph) -> list[Finding]:
    """Every training switch of ``graph``, nobody feeding any (for a proposed signature)."""
    return find(graph, Draft())


def killed_ops(findings: Iterable[Finding]) -> set[str]:
    """The ops the given (active) switches switch off, without the placeholders: nothing
    a served answer needs is among them, so a walk from the outputs stops there."""
    return {op for f in findings if f.rewrite == ID and f.blocked is None
            and f.data.get("value") is not None for op in f.ops if op != f.key}


def read_switch(graph: OpGraph, placeholder: Op, context: _Context | None = None
                ) -> Reading | None:
    """What ``placeholder`` switches, or None when it is no training switch."""
    context = context or _Context(graph)
    tensor = placeholder.outputs[0] if placeholder.outputs else None
    if tensor is None:
        return None
    scalar = tensor.shape is None or tensor.shape == ()
    reading = None
    if scalar and tensor.dtype == "bool":
        reading = _mode(context, placeholder)
    elif scalar and tensor.dtype in _FLOATS:
        reading = _mask(context, placeholder) or _optimizer(graph, placeholder)
    return reading or _pipeline(graph, placeholder)


def overridden(graph: OpGraph, draft: Draft, applied: list[Finding]) -> list[str]:
    """One line per user binding of a training switch to a training value that other
    rewrites override: the sites it would switch on are served in inference form anyway
    (a ``keep_prob`` of 0.5 whose dropouts are bypassed), so the binding changes nothing
    there. Said, never dropped in silence. ``applied``: the active findings (the plan's
    `active`, which this module cannot import: the plan imports it)."""
    lines = []
    applied = [f for f in applied if f.rewrite != ID]
    for raw, value in draft.bound.items():
        name = tensor_name(raw)
        op = graph.ops.get(op_of(name))
        if op is None or op.type not in _PLACEHOLDERS or not name.endswith(":0"):
            continue
        reading = read_switch(graph, op)
        if (reading is None or reading.value is None or reading.blocked is not None
                or _same_value(value, reading.value)):
            continue
        sites = [f.id for f in applied if reading.off.intersection(f.ops)]
        if sites:
            lines.append(
                f"the binding {raw}={value!r} changes nothing at {', '.join(sites)}: "
                f"{'that rewrite serves it' if len(sites) == 1 else 'those rewrites serve them'}"
                f" in inference form, as at {op.name}={reading.value!r}")
    return lines


def _same_value(value: Any, inference: bool | float) -> bool:
    try:
        return float(value) == float(inference)
    except (TypeError, ValueError):
        return False


def _finding(op: Op, reading: Reading) -> Finding:
    dtype = op.outputs[0].dtype
    ops = (op.name,) if reading.value is None else (op.name, *sorted(reading.off - {op.name}))
    return Finding(
        ID, op.name, ops, _summary(op.name, reading), blocked=reading.blocked,
        data={"tensor": f"{op.name}:0", "dtype": dtype, "value": reading.value,
              "kind": reading.kind, "sites": reading.sites},
    )


def _summary(name: str, reading: Reading) -> str:
    sites = _shown(reading.sites)
    count = len(reading.sites)
    one = count == 1
    if reading.kind == "mode":
        behind = _listed(reading.behind) or "training behaviour"
        return (f"{name} is bound to {reading.value} (inference): {count} "
                f"{'cond' if one else 'conds'} around {behind} "
                f"{'takes its' if one else 'take their'} inference branch ({sites})")
    if reading.kind in ("keep_prob", "rate"):
        what = ("keeps every unit" if one else "keep every unit") \
            if reading.kind == "keep_prob" else ("drops nothing" if one else "drop nothing")
        return (f"{name} is bound to {reading.value} (inference): {count} "
                f"{'dropout' if one else 'dropouts'} {what} ({sites})")
    if reading.kind == "optimizer":  # an update by its variable's scope
        updates = _shown([s.rpartition("/")[0] or s for s in reading.sites])
        return (f"{name} is bound to {reading.value}: only the optimizer reads it ({count} "
                f"{'update' if one else 'updates'}: {updates}); serving never does")
    return (f"{name} is read only by the input pipeline ({sites}); serving never reads it "
            "(the signature inputs rewired from the pipeline replace it), so nothing is bound")


def _listed(words: list[str]) -> str:
    """``["a", "b", "c"] -> "a, b and c"``."""
    return ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else "".join(words)


def _shown(sites: list[str]) -> str:
    """The first sites by their scope (a cond's, a dropout's), for a summary line."""
    scopes = [s.removesuffix("/pred_id").split("/random_uniform")[0] for s in sites]
    return ", ".join(scopes[:3]) + (", …" if len(scopes) > 3 else "")


class _Context:
    """What one look at a graph reads once: the function library by name, and which
    arguments each function reads (both sides of an ``If`` ask about both branches)."""

    def __init__(self, graph: OpGraph) -> None:
        self.graph = graph
        self._functions: dict[str, Any] | None = None
        self._used: dict[str, set[int]] = {}

    def function_def(self, name: str) -> Any:
        if self._functions is None:
            library = self.graph.meta_graph.graph_def.library.function
            self._functions = {f.signature.name: f for f in library}
        return self._functions.get(name)

    def used_args(self, name: str) -> set[int]:
        if name not in self._used:
            self._used[name] = _used_args(self.function_def(name))
        return self._used[name]


# ---------------------------------------------------------------- mode: the cond predicate


def _mode(context: _Context, placeholder: Op) -> Reading | None:
    graph = context.graph
    predicated = _predicated(graph, placeholder)
    if not predicated:
        return None
    groups: dict[str, list[tuple[Op, bool]]] = {}
    for op, same in predicated:
        if not _in_gradients(graph, op.name):  # the backward pass mirrors each side
            groups.setdefault(_site(op), []).append((op, same))
    values: dict[bool, list[str]] = {}
    behind: set[str] = set()
    for site, members in groups.items():
        words = {side: _side_words(context, members, side) for side in (True, False)}
        training = [side for side in (True, False) if words[side]]
        polarity = {same for _, same in members}
        if len(training) != 1 or len(polarity) != 1:
            continue  # no training side (or two): the cond follows the flag, not a site
        behind |= words[training[0]]
        # The predicate value that takes the other side, and the flag value giving it.
        value = (not training[0]) if polarity.pop() else training[0]
        values.setdefault(value, []).append(site)
    if not values:
        return None
    order = [w for w in ("batch norm", "dropout", "random noise", "variable updates")
             if w in behind]
    if len(values) > 1:
        return Reading("mode", None, sorted(s for v in values.values() for s in v),
                       behind=order, blocked=(
                           f"{placeholder.name} switches training behaviour on at both values "
                           f"(on True at {_shown(sorted(values[False]))}, on False at "
                           f"{_shown(sorted(values[True]))}); bind it yourself with --bind"))
    value = next(iter(values))
    off = _killed_by_value(graph, predicated, value)
    return Reading("mode", value, sorted(values[value]), off - {placeholder.name}, order)


def _predicated(graph: OpGraph, placeholder: Op) -> list[tuple[Op, bool]]:
    """Ops whose predicate the flag is (cond switches, ``If``, scalar ``Select``), each
    with whether the predicate is the flag itself (True) or its negation."""
    found: dict[str, tuple[Op, bool]] = {}
    stack = [(placeholder.name + ":0", True, 0)]
    seen: set[tuple[str, bool]] = set()
    while stack:
        tensor, same, depth = stack.pop()
        if (tensor, same) in seen or depth > _PREDICATE_DEPTH:
            continue
        seen.add((tensor, same))
        for op in consumers_of(graph, tensor):
            at = [i for i, t in enumerate(op.inputs) if t == tensor]
            if op.type in _SWITCH:
                if 1 in at:
                    found.setdefault(op.name, (op, same))
                else:  # the flag itself carried into a cond (a nested cond's predicate)
                    stack += [(f"{op.name}:{port}", same, depth + 1) for port in (0, 1)]
            elif op.type in _IF | _SELECT:
                if 0 in at:
                    found.setdefault(op.name, (op, same))
            elif op.type == "LogicalNot":
                stack.append((op.name + ":0", not same, depth + 1))
            elif op.type in _SAME or (op.type == "Cast" and op.node.attr["DstT"].type == 10):
                stack.append((op.name + ":0", same, depth + 1))
    return list(found.values())


def _in_gradients(graph: OpGraph, name: str) -> bool:
    """Whether ``name`` is in a scope ``tf.gradients`` made (``gradients/``, ``gradients_1/``:
    the scope of a ``grad_ys_0`` seed, as TensorFlow names it)."""
    parts = name.split("/")
    for i, part in enumerate(parts[:-1]):
        if _GRADIENTS.match(part) and "/".join(parts[:i + 1]) + "/grad_ys_0" in graph.ops:
            return True
    return False


def _site(op: Op) -> str:
    """The op naming the cond ``op`` belongs to: a v1 cond's ``pred_id`` (every data
    switch reads it; the pivot switch beside it is named in the same scope), else ``op``."""
    if op.type in _SWITCH:
        pred = op_of(op.inputs[1])
        if op_of(op.inputs[0]) == pred:  # the pivot: Switch(pred, pred)
            return op.name.rpartition("/")[0] + "/pred_id"
        return pred
    return op.name


def _side_words(context: _Context, members: list[tuple[Op, bool]], side: bool) -> set[str]:
    """Training behaviour on one side of a cond (``side``: the predicate's value there):
    in the ops that run only on that side, and behind the tensors only that side reads."""
    graph = context.graph
    port = 1 if side else 0
    switches = [op for op, _ in members if op.type in _SWITCH]
    inside = _dead(graph, [f"{op.name}:{port}" for op in switches])
    words = set().union(*(_marker(graph, graph.ops[name]) for name in inside))
    entering = _entering(graph, switches, port) - _entering(graph, switches, 1 - port)
    for op, _ in members:
        if op.type in _IF:
            branch = op.node.attr["then_branch" if side else "else_branch"].func.name
            other = op.node.attr["else_branch" if side else "then_branch"].func.name
            words |= _function_words(context, branch, 0)
            used, other_used = context.used_args(branch), context.used_args(other)
            entering |= {op.inputs[1 + i] for i in used - other_used if 1 + i < len(op.inputs)}
        elif op.type in _SELECT and len(op.inputs) == 3:
            entering.add(op.inputs[1 if side else 2])
    for tensor in entering:
        words |= _feeder_words(graph, tensor)
    return words


def _entering(graph: OpGraph, switches: list[Op], port: int) -> set[str]:
    """Tensors the given switches carry into the side behind ``port`` (someone reads it)."""
    return {op.inputs[0] for op in switches
            if op.inputs[0] != op.inputs[1] and consumers_of(graph, f"{op.name}:{port}")}


def _dead(graph: OpGraph, seeds: list[str]) -> set[str]:
    """Ops that do not run when the ``seeds`` tensors are dead (a cond's untaken switch
    outputs): TensorFlow's rule, an op with a dead data or control input is dead, a
    ``Merge`` only when all its data inputs are. The backward pass, which serving never
    runs, is left out."""
    dead: set[str] = set()
    dead_tensors = set(seeds)
    queue = deque(op.name for t in seeds for op in consumers_of(graph, t))
    ops = graph.ops
    while queue:
        name = queue.popleft()
        if name in dead or _in_gradients(graph, name):
            continue
        op = ops[name]
        if op.type in _MERGE and not all(
                t in dead_tensors or op_of(t) in dead for t in op.inputs):
            continue
        dead.add(name)
        queue.extend(c for c in op.consumers if c not in dead)
        queue.extend(c for c in graph.control_consumers(name) if c not in dead)
    return dead


def _killed_by_value(graph: OpGraph, predicated: list[tuple[Op, bool]], value: bool
                     ) -> set[str]:
    """The untaken sides of every cond the flag decides, at ``value``, and what only
    feeds them."""
    seeds = []
    edges: set[tuple[str, int]] = set()  # (op, input index) that no longer matters
    for op, same in predicated:
        predicate = value if same else not value
        if op.type in _SWITCH:
            seeds.append(f"{op.name}:{0 if predicate else 1}")
        elif op.type in _SELECT and len(op.inputs) == 3:
            edges.add((op.name, 2 if predicate else 1))
    dead = _dead(graph, seeds)
    for tensor in seeds:  # a branch may hand a switch's output straight to the Merge
        for reader in consumers_of(graph, tensor):
            edges.update((reader.name, i) for i, t in enumerate(reader.inputs) if t == tensor)
    return dead | _only_feeding(graph, dead, edges)


def _only_feeding(graph: OpGraph, off: set[str], edges: set[tuple[str, int]]) -> set[str]:
    """Ops whose every reader is in ``off``, reads them only through ``edges`` (inputs that
    carry nothing: an untaken switch output) or belongs to the backward pass: what only
    switched-off ops use (a batch mean computed outside the cond that selects it)."""
    ops = graph.ops
    found: set[str] = set()

    def unused(name: str) -> bool:
        op = ops[name]
        if (not op.consumers or op.type in _PLACEHOLDERS or _is_pipeline(op)
                or _in_gradients(graph, name)):
            return False  # still run whatever reads them: a placeholder must still be fed
        for reader in dict.fromkeys(op.consumers):
            if reader in off or reader in found or _in_gradients(graph, reader):
                continue
            inputs = ops[reader].inputs
            if not all((reader, i) in edges for i, t in enumerate(inputs) if op_of(t) == name):
                return False
        return True

    queue = deque(op_of(t) for name in off for t in ops[name].inputs)
    queue.extend(op_of(ops[name].inputs[i]) for name, i in edges)
    while queue:
        name = queue.popleft()
        if name in off or name in found or name not in ops or not unused(name):
            continue
        found.add(name)
        queue.extend(op_of(t) for t in ops[name].inputs)
    return found


def _marker(graph: OpGraph, op: Op) -> set[str]:
    """What training behaviour ``op`` is, in the user's words (empty when none)."""
    if op.type in _UNIFORM:
        return {"dropout"}
    if op.type in _RANDOM:
        return {"random noise"}
    if op.type in _FUSED:
        attr = op.node.attr
        return {"batch norm"} if "is_training" not in attr or attr["is_training"].b else set()
    if op.type in ASSIGN_OPS:
        return {"variable updates"}
    if op.type == "Mean" and len(op.inputs) > 1 and _batch_moments(graph, op):
        return {"batch norm"}
    return set()


def _batch_moments(graph: OpGraph, mean: Op) -> bool:
    """``tf.nn.moments`` over the batch: the mean's ``StopGradient`` feeds a
    ``SquaredDifference``, and its axes hold 0."""
    axes = producer(graph, mean.inputs[1])
    values = const_values(axes) if axes is not None else None
    if values is None or 0.0 not in values:
        return False
    return any(c.type == "StopGradient" and any(
        r.type == "SquaredDifference" for r in consumers_of(graph, c.name + ":0"))
        for c in consumers_of(graph, mean.name + ":0"))


def _feeder_words(graph: OpGraph, tensor: str) -> set[str]:
    """Training behaviour a few ops behind a tensor that enters one side of a cond only
    (slim's batch mean, selected against the moving mean)."""
    words: set[str] = set()
    level = [op_of(tensor)]
    seen: set[str] = set()
    for _ in range(_FEEDER_DEPTH):
        following = []
        for name in level:
            op = graph.ops.get(name)
            if op is None or name in seen:
                continue
            seen.add(name)
            words |= _marker(graph, op) - {"variable updates"}
            following.extend(op_of(t) for t in op.inputs)
        level = following
    return words


def _function_words(context: _Context, name: str, depth: int) -> set[str]:
    """Training behaviour in a function body (an ``If`` branch) and the functions it
    calls."""
    body = context.graph.functions.get(name, [])
    by_name = {op.name: op for op in body}
    words: set[str] = set()
    for op in body:
        if op.type in _UNIFORM:
            words.add("dropout")
        elif op.type in _RANDOM:
            words.add("random noise")
        elif op.type in _FUSED and ("is_training" not in op.node.attr
                                    or op.node.attr["is_training"].b):
            words.add("batch norm")
        elif op.type in ASSIGN_OPS:
            words.add("variable updates")
        elif op.type == "SquaredDifference" and _moments_in_function(op, by_name):
            words.add("batch norm")
        if depth < 3 and (op.type in _CALLS or op.type in context.graph.functions):
            for value in op.node.attr.values():
                if value.HasField("func"):
                    words |= _function_words(context, value.func.name, depth + 1)
            if op.type in context.graph.functions:  # a function called as an op
                words |= _function_words(context, op.type, depth + 1)
    return words


def _moments_in_function(diff: Op, by_name: dict[str, Op]) -> bool:
    """``SquaredDifference(x, StopGradient(Mean(x, axes holding 0)))`` in a function body,
    whose inputs read ``op:output:0``."""
    stop = by_name.get(diff.inputs[1].split(":")[0]) if len(diff.inputs) > 1 else None
    mean = by_name.get(stop.inputs[0].split(":")[0]) if stop is not None and stop.inputs \
        else None
    if stop is None or stop.type != "StopGradient" or mean is None or mean.type != "Mean":
        return False
    axes = by_name.get(mean.inputs[1].split(":")[0]) if len(mean.inputs) > 1 else None
    values = const_values(axes) if axes is not None else None
    return values is not None and 0.0 in values


def _used_args(fdef: Any) -> set[int]:
    """Indices of the arguments a function body reads (a branch ignores what only the
    other branch needs: cond_v2 hands both the same inputs)."""
    if fdef is None:
        return set()
    args = {arg.name: i for i, arg in enumerate(fdef.signature.input_arg)}
    used = {args[t.split(":")[0]] for node in fdef.node_def for t in node.input
            if t[:1] != "^" and t.split(":")[0] in args}
    used |= {args[v.split(":")[0]] for v in fdef.ret.values() if v.split(":")[0] in args}
    return used


# ---------------------------------------------------------------- keep_prob / rate


def _mask(context: _Context, placeholder: Op) -> Reading | None:
    """Dropout masks whose threshold the placeholder sets, and the value keeping all."""
    graph = context.graph
    values: dict[float, list[str]] = {}
    off: set[str] = set()
    frontier = [(placeholder.name + ":0", 1.0, 0.0)]  # tensor = a * placeholder + b
    seen: set[str] = set()
    for _ in range(_CHAIN_DEPTH):
        following = []
        for tensor, a, b in frontier:
            for op in consumers_of(graph, tensor):
                if op.name in seen or len(op.inputs) > 2:
                    continue
                seen.add(op.name)
                mask = _mask_test(graph, op, tensor)
                if mask is not None:
                    threshold, random, ops = mask
                    if a != 0.0:
                        value = (threshold - b) / a
                        values.setdefault(round(value, 6) + 0.0, []).append(random)
                        off |= ops
                    continue
                step = _affine_step(graph, op, tensor)
                if step is not None:
                    scale, shift = step
                    following.append((op.name + ":0", a * scale, b * scale + shift))
        frontier = following
    values = {v: sites for v, sites in values.items() if v in (0.0, 1.0)}
    if not values:
        return None
    if len(values) > 1:
        return Reading("keep_prob", None, sorted(s for v in values.values() for s in v),
                       blocked=(f"{placeholder.name} is a keep probability for some dropouts "
                                "and a rate for others; bind it yourself with --bind"))
    value = next(iter(values))
    kind = "keep_prob" if value == 1.0 else "rate"
    off |= _only_feeding(graph, off, set())
    return Reading(kind, value, sorted(values[value]), off - {placeholder.name}, ["dropout"])


def _affine_step(graph: OpGraph, op: Op, tensor: str) -> tuple[float, float] | None:
    """``op`` as ``scale * tensor + shift`` when its other operand is a constant."""
    if op.type in ("Identity", "Snapshot", "Cast"):
        return 1.0, 0.0
    if op.type not in _AFFINE or len(op.inputs) != 2 or tensor not in op.inputs:
        return None
    first = op.inputs[0] == tensor
    c = _constant(graph, op.inputs[1 if first else 0])
    if c is None:
        return None
    if op.type == "Sub":
        return (1.0, -c) if first else (-1.0, c)
    if op.type in ("Add", "AddV2"):
        return 1.0, c
    if op.type == "Mul":
        return c, 0.0
    if first and c != 0.0:  # x / c; c / x is not affine
        return 1.0 / c, 0.0
    return None


def _constant(graph: OpGraph, tensor: str, depth: int = 3) -> float | None:
    """A scalar constant, also when written as arithmetic on constants
    (``random_uniform``'s ``maxval - minval``)."""
    op = producer(graph, tensor)
    if op is None or depth < 0:
        return None
    values = const_values(op)
    if values is not None:
        return values[0] if len(set(values)) == 1 else None
    if op.type in ("Identity", "Cast") and op.inputs:
        return _constant(graph, op.inputs[0], depth - 1)
    if op.type in _AFFINE and len(op.inputs) == 2:
        left = _constant(graph, op.inputs[0], depth - 1)
        right = _constant(graph, op.inputs[1], depth - 1)
        if left is None or right is None:
            return None
        if op.type == "Sub":
            return left - right
        if op.type in ("Add", "AddV2"):
            return left + right
        if op.type == "Mul":
            return left * right
        return left / right if right else None
    return None


def _mask_test(graph: OpGraph, op: Op, threshold: str
               ) -> tuple[float, str, set[str]] | None:
    """When ``op`` tests a uniform draw against ``threshold`` and the result masks a
    tensor (a dropout): the threshold keeping every unit, the random op and the mask's
    ops (the draw, the test, up to the op where it meets the data)."""
    if len(op.inputs) != 2 or threshold not in op.inputs:
        return None
    at = op.inputs.index(threshold)
    uniform = _uniform(graph, op.inputs[1 - at])
    if uniform is None:
        return None
    random, draw = uniform
    if op.type in ("Add", "AddV2"):  # floor(keep_prob + u): 1 whenever keep_prob is 1
        floors = [c for c in consumers_of(graph, op.name + ":0") if c.type == "Floor"]
        if not floors:
            return None
        needed, last = 1.0, floors[0]
    elif (op.type, 1 - at) in _KEEP_ALL:
        needed, last = _KEEP_ALL[(op.type, 1 - at)], op
    else:
        return None
    mask = {*draw, op.name, last.name}
    tensor = last.name + ":0"
    for _ in range(3):  # a Cast or two before the Mul or Select that applies it
        readers = consumers_of(graph, tensor)
        if any(r.type in _JOIN for r in readers):
            return needed, random.name, mask
        casts = [r for r in readers if r.type in ("Cast", "Identity")]
        if not casts:
            return None
        mask.add(casts[0].name)
        tensor = casts[0].name + ":0"
    return None


def _uniform(graph: OpGraph, tensor: str) -> tuple[Op, set[str]] | None:
    """The random op behind ``tensor`` when it is a uniform draw in [0, 1) (through
    ``random_uniform``'s own ``* (max - min) + min``), with the ops on the way."""
    ops: set[str] = set()
    scale, shift = 1.0, 0.0
    for _ in range(3):
        op = producer(graph, tensor)
        if op is None:
            return None
        ops.add(op.name)
        if op.type in _UNIFORM:
            return (op, ops) if (scale, shift) == (1.0, 0.0) else None
        inner = next((t for t in op.inputs if _constant(graph, t) is None), None)
        step = _affine_step(graph, op, inner) if inner is not None else None
        if step is None:
            return None
        scale, shift = scale * step[0], shift * step[0] + step[1]
        tensor = inner
    return None


# ---------------------------------------------------------------- optimizer and pipeline


def _optimizer(graph: OpGraph, placeholder: Op) -> Reading | None:
    """Optimizer updates a float placeholder reaches only at hyperparameter inputs (the
    learning rate, through a schedule or not)."""
    def at_update(op: Op, source: str) -> bool | None:
        return _hyperparameter_input(op, source) if op.type.startswith(_APPLY) else None

    updates = _reaches_only(graph, placeholder, at_update, skip=_OBSERVERS)
    return Reading("optimizer", 0.0, updates) if updates else None


def _hyperparameter_input(update: Op, source: str) -> bool:
    """Whether every input of ``update`` read from op ``source`` is a hyperparameter."""
    if update.op_def is None:
        return False
    names = [arg.name for arg in update.op_def.input_arg]
    return all(i < len(names) and names[i] in _HYPERPARAMETERS
               for i, t in enumerate(update.inputs) if op_of(t) == source)


def _pipeline(graph: OpGraph, placeholder: Op) -> Reading | None:
    """Input-pipeline ops a placeholder reaches, when it reaches nothing else."""
    reached = _reaches_only(graph, placeholder, lambda op, _: True if _is_pipeline(op) else None)
    return Reading("pipeline", None, reached) if reached else None


def _reaches_only(graph: OpGraph, placeholder: Op, terminal: Callable[[Op, str], bool | None],
                  skip: frozenset[str] = frozenset()) -> list[str]:
    """The ops a bounded forward walk from ``placeholder`` ends at, when every path ends
    at one ``terminal`` accepts (True; False rejects the whole walk, None walks on), or
    at an op of a type in ``skip``; empty otherwise. ``terminal`` gets the op and the
    op it reads the walked value from."""
    reached: list[str] = []
    seen: set[str] = set()
    stack = [placeholder.name]
    while stack:
        name = stack.pop()
        for reader in dict.fromkeys(graph.ops[name].consumers):
            op = graph.ops[reader]
            verdict = terminal(op, name)
            if verdict is False:
                return []
            if verdict:
                if reader not in reached:
                    reached.append(reader)
            elif op.type in skip or reader in seen:
                continue
            elif not op.consumers or len(seen) >= _WALK_BUDGET:
                return []  # it ends somewhere else: the model, the loss
            else:
                seen.add(reader)
                stack.append(reader)
    return sorted(reached)


def _is_pipeline(op: Op) -> bool:
    return (op.type in PIPELINE_OPS or op.type in _ITERATORS or "Dataset" in op.type
            or op.type.startswith("QueueEnqueue"))


# ---------------------------------------------------------------- applier


def apply(meta: Any, findings: list[Finding]) -> Applied:
    """Each switch with a value becomes a constant of its own dtype, under its name."""
    out = copied(meta)
    for f in findings:
        if f.rewrite == ID and f.blocked is None and f.data.get("value") is not None:
            make_scalar_constant(out, f.key, f.data["dtype"], f.data["value"])
    return Applied(out)


REWRITE = Rewrite(ID, "Training switch bound to inference", True, find, apply)
