"""Guess a graph's serving inputs and outputs, best first, from its structure.

`app.core.graph_roles` finds the loss (what the gradients differentiate), the
labels (what the loss reads without a layer between), the machinery and each
op's fate. Outputs are the ends of the forward graph and the tensors the loss
reads from the model; when the model reaches the loss only through loss-side
arithmetic, the prediction in that chain (a named Softmax/Sigmoid/ArgMax/Identity
before the raw arithmetic next to it). Inputs are the placeholders those outputs
need, else the tensors the input pipeline hands the model. Names such as
softmax, probabilities or logits only add to the rank among what structure allows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.core.graph_roles import Fate, GraphRoles, SourceRole, read_roles
from app.core.opgraph import Op, OpGraph, Tensor, collector_paused

# Top-level or nested scopes that are never part of the served model.
_MACHINERY_SCOPE = re.compile(
    r"(^|/)(gradients(_\d+)?|save(_\d+)?|train(_op)?|optimizer|Optimizer|training|"
    r"[A-Za-z]*Adam(_\d+)?|Momentum|RMSProp|Adagrad|GradientDescent|Ftrl|"
    r"init(_all_tables|_\d+)?|report_uninitialized_variables|summaries|"
    r"ExponentialMovingAverage|global_step|beta[12]_power|cond_\w*/?switch_t|"
    r"Initializer|AssignMovingAvg(_\d+)?)(/|$)"
)
_OUTPUT_NAME = re.compile(
    r"(softmax|probabilit|probs|logits|prediction|predict|output|outputs|scores?|"
    r"classes|embedding|vectors?|sigmoid|argmax)",
    re.IGNORECASE,
)
_CONTROL_FLOW_SCOPE = re.compile(r"(^|/)(while|cond|scan|map)(_\d+)?/")
_GENERIC_NAME = re.compile(
    r"^[A-Z][A-Za-z0-9]*(_\d+)?$|^(add|mul|sub|truediv|div|sum|mean)(_\d+)?$"
)

_MACHINERY_TYPES = {
    "NoOp", "Assert", "SaveV2", "RestoreV2", "Save", "Restore", "ShardedFilename",
    "MergeV2Checkpoints", "StringJoin", "ScalarSummary", "HistogramSummary",
    "ImageSummary", "AudioSummary", "TensorSummary", "TensorSummaryV2", "MergeSummary",
    "WriteScalarSummary", "Print", "PrintV2", "IsVariableInitialized",
    "VarIsInitializedOp", "AssignVariableOp", "AssignAddVariableOp", "AssignSubVariableOp",
    "Assign", "AssignAdd", "AssignSub",
    "InitializeTableV2", "InitializeTableFromTextFileV2", "InitializeTable",
    "InitializeTableFromTextFile",
}
# Ops that are never useful as a served output even when they end a path.
_NOT_OUTPUT_TYPES = {
    "Const", "VariableV2", "Variable", "VarHandleOp", "ReadVariableOp", "Placeholder",
    "PlaceholderWithDefault", "Shape", "ShapeN", "Size", "Rank", "Enter", "Exit", "Merge",
    "Switch", "NextIteration", "LoopCond", "HashTableV2", "HashTable", "MutableHashTableV2",
    "LookupTableSizeV2", "TensorArrayV3", "TensorArraySizeV3", "StopGradient", "ZerosLike",
    "OnesLike", "Fill", "Range", "StridedSlice",
}
_OPTIONAL_INPUT_TYPES = {"PlaceholderWithDefault"}

_PREFERRED_TYPES = {"Softmax", "Sigmoid", "ArgMax", "TopKV2", "LogSoftmax"}


@dataclass(frozen=True)
class Suggestion:
    tensor: str  # "op:N"
    dtype: str
    shape: str
    reason: str
    optional: bool = False  # PlaceholderWithDefault: has a default, feeding is optional
    score: float = 0.0
    # Inputs: "placeholder", or "pipeline" for a tensor the input pipeline hands the
    # model (an export must rewire it to a new placeholder). Outputs: "output".
    kind: str = "placeholder"
    label: bool = False  # an input only the loss reads (labels, targets, sample weights)


@dataclass(frozen=True)
class Suggestions:
    inputs: list[Suggestion]
    outputs: list[Suggestion]


def is_machinery(op: Op) -> bool:
    """True for gradient, optimizer, saver, init and summary ops, judged by name and type
    (the UI hides these; `suggest` judges by structure and uses this only as evidence)."""
    return op.type in _MACHINERY_TYPES or bool(_MACHINERY_SCOPE.search(op.name)) or (
        op.type.startswith(("Apply", "ResourceApply", "SparseApply", "ResourceSparseApply"))
    )


def _is_servable_tensor(tensor: Tensor) -> bool:
    return tensor.dtype not in ("resource", "variant", "unknown") and not tensor.dtype.endswith(
        "_ref"
    )


def graph_roles(graph: OpGraph) -> GraphRoles:
    """`read_roles` with the name evidence of `is_machinery` (the Saver's placeholders,
    summaries): what `suggest` and the training-to-serving rewrites read."""
    return read_roles(graph, {n for n, op in graph.ops.items() if is_machinery(op)})


def suggest(graph: OpGraph, limit: int = 10) -> Suggestions:
    """Serving inputs and outputs of ``graph``, best first, from `read_roles`."""
    with collector_paused():  # the passes allocate per op; nothing is garbage yet
        roles = graph_roles(graph)
        outputs = _outputs(graph, roles)
        return Suggestions(_inputs(graph, roles, outputs[:3])[:limit], outputs[:limit])


def _outputs(graph: OpGraph, roles: GraphRoles) -> list[Suggestion]:
    """Ends of the forward graph and what the loss reads from it; when the loss reads
    the model only through the loss-side chain, the prediction in that chain."""
    ops, fate = graph.ops, roles.fate
    depth = _depths(roles)
    max_depth = max(depth.values(), default=1) or 1
    fed = roles.feature_dependent if roles.features else None

    def eligible(name: str) -> bool:
        op = ops[name]
        if name in roles.label_dependent or op.type in _NOT_OUTPUT_TYPES:
            return False
        if fed is not None and name not in fed:
            return False
        leaf = name.rsplit("/", 1)[-1]
        return not (_CONTROL_FLOW_SCOPE.search(name) and _GENERIC_NAME.match(leaf))

    found: dict[str, tuple[float, str]] = {}
    for name in roles.order:
        kind = fate[name]
        if kind is Fate.END and eligible(name):
            if _read_only_by_evaluation(graph, roles, name):
                found[name] = (-1.0, "compared with the labels (evaluation)")
            else:
                found[name] = (3.0, "ends the forward graph")
        elif kind is Fate.FORWARD and any(
                fate.get(c) in (Fate.LOSS, Fate.LOSS_SIDE) for c in ops[name].consumers
        ) and eligible(name):
            found[name] = (0.0, "read by the loss")
    if not any(reason == "read by the loss" for _, reason in found.values()):
        for name, bonus in _loss_side_predictions(graph, roles).items():
            if eligible(name):
                found[name] = (bonus, "the prediction the loss reads")

    for name, (bonus, reason) in list(found.items()):
        for near in _preferred_near(graph, roles, name):
            if eligible(near) and fate[near] is not Fate.MACHINERY:
                found[name] = (bonus - 2.0, reason)  # the raw arithmetic gives way
                found[near] = max(found.get(near, (bonus, reason)), (bonus + 0.5, reason))

    outputs: list[Suggestion] = []
    for name, (bonus, reason) in found.items():
        op = ops[name]
        tensor = _served_tensor(graph, roles, name, reason == "read by the loss")
        if tensor is None:
            continue
        leaf = name.rsplit("/", 1)[-1]
        score = 4.0 * depth.get(name, 0) / max_depth + bonus
        if _OUTPUT_NAME.search(name):
            score += 4.0
        if op.type == "Identity" and not _GENERIC_NAME.match(leaf):
            score += 2.0  # a deliberately named output
        if _GENERIC_NAME.match(leaf):
            score -= 1.5
        if op.type in _PREFERRED_TYPES:
            score += 2.0
        outputs.append(Suggestion(tensor.name, tensor.dtype, tensor.shape_text, reason,
                                  score=score, kind="output"))
    outputs.sort(key=lambda s: (-s.score, s.tensor))
    return outputs


def _read_only_by_evaluation(graph: OpGraph, roles: GraphRoles, name: str) -> bool:
    """True for an end that label-dependent ops read (a metric's ArgMax): an answer, but
    the model's own output usually sits right above it."""
    return any(c in roles.label_dependent for c in graph.ops[name].consumers)


def _served_tensor(graph: OpGraph, roles: GraphRoles, name: str,
                   read_by_loss: bool) -> Tensor | None:
    """The servable output of ``name``; for what the loss reads, the output it reads."""
    op = graph.ops[name]
    tensors = [t for t in op.outputs if _is_servable_tensor(t)]
    if read_by_loss and len(tensors) > 1:
        loss_side = (Fate.LOSS, Fate.LOSS_SIDE)
        read = {t for c in op.consumers if roles.fate.get(c) in loss_side
                for t in graph.ops[c].inputs}
        tensors = [t for t in tensors if t.name in read] or tensors
    return tensors[0] if tensors else None


def _preferred_near(graph: OpGraph, roles: GraphRoles, name: str) -> list[str]:
    """Named activations and outputs next to ``name``: a consumer, or a producer at most
    two ops up (Keras reads the logits under its Softmax; metrics cast an ArgMax)."""
    ops = graph.ops

    def preferred(n: str) -> bool:
        op = ops[n]
        return op.type in _PREFERRED_TYPES or (
            op.type == "Identity" and not _GENERIC_NAME.match(n.rsplit("/", 1)[-1]))

    if preferred(name):
        return []
    near = [c for c in ops[name].consumers if preferred(c)]
    up = [src for src in ops[name].input_ops if src in ops]
    for _ in range(2):
        near += [u for u in up if preferred(u)]
        up = [src for u in up if not preferred(u) for src in ops[u].input_ops if src in ops]
    return near


def _loss_side_predictions(graph: OpGraph, roles: GraphRoles) -> dict[str, float]:
    """Op -> bonus for the label-free, input-dependent tensors between the model body
    and the loss: the body's last ops, what the loss (or a label) meets them in, and
    the activation next to them. Nearer the body ranks higher; named activations win."""
    ops = graph.ops
    loss, body, labels = set(roles.loss), roles.model_body, roles.label_dependent
    chain = {n for n in roles.loss_ancestors
             if n in roles.feature_dependent and n not in labels}
    frontier = [n for n in chain if n in body and any(
        c in loss or (c in roles.loss_ancestors and c not in body)
        for c in ops[n].consumers)]
    hops = {n: 0 for n in frontier}
    queue = list(frontier)
    for name in queue:  # breadth first, so the first visit is the nearest
        for c in ops[name].consumers:
            if c in chain and c not in body and c not in hops:
                hops[c] = hops[name] + 1
                queue.append(c)
    bonus: dict[str, float] = {}
    for name, h in hops.items():
        meets_loss = any(c in loss or c in labels for c in ops[name].consumers)
        bonus[name] = 3.0 - 0.5 * h + (1.0 if meets_loss else 0.0)
    return bonus


def _inputs(graph: OpGraph, roles: GraphRoles, top: list[Suggestion]) -> list[Suggestion]:
    """Placeholders the top outputs need first; pipeline tensors only where no needed
    placeholder is fed; labels and unread placeholders last."""
    ops = graph.ops
    needed = _ancestors(graph, [s.tensor.rsplit(":", 1)[0] for s in top], roles)
    sources = roles.sources
    fed_placeholder = any(s.kind == "placeholder" and s.role is SourceRole.FEATURE
                          and s.tensor.rsplit(":", 1)[0] in needed for s in sources)
    inputs: list[Suggestion] = []
    for source in sources:
        name = source.tensor.rsplit(":", 1)[0]
        op = ops[name]
        if source.kind == "pipeline" and fed_placeholder:
            continue
        optional = op.type in _OPTIONAL_INPUT_TYPES
        label = source.role is SourceRole.LABEL
        if optional:
            score, reason = 2.0, "placeholder with a default (optional)"
        elif label:
            score, reason = 4.0, "read only by the loss (labels or training targets)"
        elif source.role is SourceRole.UNUSED:
            score, reason = 1.0, "placeholder nothing reads"
        elif name in needed:
            score, reason = 10.0, ("placeholder" if source.kind == "placeholder"
                                   else "what the input pipeline hands the model")
        else:
            score, reason = 6.0, "read by the model, not by the suggested outputs"
        t = graph.tensor(source.tensor)
        if t is None:
            continue
        inputs.append(Suggestion(t.name, t.dtype, t.shape_text, reason, optional=optional,
                                 score=score, kind=source.kind, label=label))
    inputs.sort(key=lambda s: (-s.score, s.tensor))
    return inputs


def _ancestors(graph: OpGraph, start: list[str], roles: GraphRoles) -> set[str]:
    ops = graph.ops
    seen: set[str] = set()
    stack = list(start)
    while stack:
        name = stack.pop()
        if name in seen or name not in ops or roles.is_machinery(name):
            continue
        seen.add(name)
        stack.extend(roles.inputs[name])
    return seen


def _depths(roles: GraphRoles) -> dict[str, int]:
    """Longest data path from a graph input to each op (deeper outputs rank higher)."""
    depth: dict[str, int] = {}
    get = depth.get
    for name in roles.order:
        depth[name] = 1 + max((get(src, 0) for src in roles.inputs[name]), default=0)
    return depth
