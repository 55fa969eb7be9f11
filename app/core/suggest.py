"""Guess a graph's serving inputs and outputs, best first.

Inputs are placeholders outside saver, optimizer and input-pipeline scopes.
Outputs are forward ops whose results reach only the loss, training, summary or
saver machinery (or nothing), plus ops the loss reads directly (logits). Names
such as softmax, probabilities, logits or predictions rank higher.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.core.opgraph import Op, OpGraph, Tensor

# Top-level or nested scopes that are never part of the served model.
_MACHINERY_SCOPE = re.compile(
    r"(^|/)(gradients(_\d+)?|save(_\d+)?|train(_op)?|optimizer|Optimizer|training|"
    r"[A-Za-z]*Adam(_\d+)?|Momentum|RMSProp|Adagrad|GradientDescent|Ftrl|"
    r"init(_all_tables|_\d+)?|report_uninitialized_variables|summaries|"
    r"ExponentialMovingAverage|global_step|beta[12]_power|cond_\w*/?switch_t)(/|$)"
)
_INPUT_PIPELINE_SCOPE = re.compile(
    r"(^|/)(input_producer|batch|shuffle_batch|queue|parallel_read|prefetch_queue|"
    r"IteratorV2|OneShotIterator|input_queue)(/|$)",
    re.IGNORECASE,
)
_LOSS_NAME = re.compile(r"(^|/|_)(loss(es)?|cost|xent|cross_?entropy|objective|l2_loss)",
                        re.IGNORECASE)
_LABEL_NAME = re.compile(r"(^|/|_)(labels?|targets?|y_true|ground_truth|gt)(_\d+)?$",
                         re.IGNORECASE)
_OUTPUT_NAME = re.compile(
    r"(softmax|probabilit|probs|logits|prediction|predict|output|outputs|scores?|"
    r"classes|embedding|vectors?|sigmoid|argmax)",
    re.IGNORECASE,
)
_CONTROL_FLOW_SCOPE = re.compile(r"/(while|cond|scan|map)(_\d+)?/")
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
_VARIABLE_UPDATE_TYPES = {"Assign", "AssignAdd", "AssignSub", "AssignVariableOp",
                          "AssignAddVariableOp", "AssignSubVariableOp"}
_LOSS_TYPES = {
    "SoftmaxCrossEntropyWithLogits", "SparseSoftmaxCrossEntropyWithLogits", "L2Loss",
    "SigmoidCrossEntropyWithLogits", "CTCLoss",
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
_INPUT_TYPES = {"Placeholder", "PlaceholderWithDefault"}


@dataclass(frozen=True)
class Suggestion:
    tensor: str  # "op:N"
    dtype: str
    shape: str
    reason: str
    optional: bool = False  # PlaceholderWithDefault: has a default, feeding is optional
    score: float = 0.0


@dataclass(frozen=True)
class Suggestions:
    inputs: list[Suggestion]
    outputs: list[Suggestion]


def is_machinery(op: Op) -> bool:
    """True for gradient, optimizer, saver, init and summary ops."""
    return op.type in _MACHINERY_TYPES or bool(_MACHINERY_SCOPE.search(op.name)) or (
        op.type.startswith(("Apply", "ResourceApply", "SparseApply", "ResourceSparseApply"))
    )


def _is_servable_tensor(tensor: Tensor) -> bool:
    return tensor.dtype not in ("resource", "variant", "unknown") and not tensor.dtype.endswith(
        "_ref"
    )


def suggest(graph: OpGraph, limit: int = 10) -> Suggestions:
    ops = graph.ops
    machinery = {name for name, op in ops.items() if is_machinery(op)}

    # Walk in reverse topological order: an op is in the "tail" when it is a
    # loss op or all its consumers are tail or machinery (it feeds only the loss).
    order = _topological(graph)
    depth = _depths(graph, order)
    tail: set[str] = set()
    for name in reversed(order):
        op = ops[name]
        if op.type in _LOSS_TYPES or _LOSS_NAME.search(op.name):
            tail.add(name)
            continue
        consumers = [c for c in op.consumers if c not in machinery]
        if consumers and all(c in tail for c in consumers):
            tail.add(name)

    inputs: list[Suggestion] = []
    training_inputs: set[str] = set()
    for op in ops.values():
        if op.type not in _INPUT_TYPES or op.name in machinery:
            continue
        if _INPUT_PIPELINE_SCOPE.search(op.name) or not op.outputs:
            continue
        optional = op.type in _OPTIONAL_INPUT_TYPES
        reach = _descendants(graph, [op.name], machinery) - {op.name}
        training = _LABEL_NAME.search(op.name) is not None or (
            bool(reach) and reach <= tail
        )
        if training:
            training_inputs.add(op.name)
        score = 10.0
        reason = "placeholder"
        if optional:
            score, reason = 2.0, "placeholder with a default (optional)"
        elif training:
            score, reason = 4.0, "feeds only the loss (labels or training targets)"
        elif not reach:
            score, reason = 1.0, "placeholder nothing reads"
        t = op.outputs[0]
        inputs.append(Suggestion(t.name, t.dtype, t.shape_text, reason,
                                 optional=optional, score=score))
    inputs.sort(key=lambda s: (-s.score, s.tensor))

    # Ops downstream of real inputs: the forward computation.
    feeds = [s.tensor.rsplit(":", 1)[0] for s in inputs]
    forward = _descendants(graph, [f for f in feeds if f not in training_inputs], machinery)
    from_training = _descendants(graph, sorted(training_inputs), machinery)

    max_depth = max(depth.values(), default=1) or 1
    outputs: list[Suggestion] = []
    for name in order:
        op = ops[name]
        if name in machinery or name in tail or op.type in _NOT_OUTPUT_TYPES:
            continue
        if name in from_training or (forward and name not in forward):
            continue
        consumers = [c for c in op.consumers if c not in machinery]
        if op.consumers and all(ops[c].type in _VARIABLE_UPDATE_TYPES for c in op.consumers):
            continue  # a moving-average update's delta: training state, not a result
        live = [c for c in consumers if c not in tail]
        feeds_tail = any(c in tail for c in consumers)
        is_sink = not live
        if not is_sink and not feeds_tail:
            continue
        leaf = name.rsplit("/", 1)[-1]
        if is_sink and _CONTROL_FLOW_SCOPE.search(name) and _GENERIC_NAME.match(leaf):
            continue  # unused loop/cond plumbing, not a result
        tensor = next((t for t in op.outputs if _is_servable_tensor(t)), None)
        if tensor is None:
            continue
        score = 4.0 * depth.get(name, 0) / max_depth
        reason = "ends the forward graph" if is_sink else "read by the loss"
        if is_sink:
            score += 3.0
        if _OUTPUT_NAME.search(name):
            score += 4.0
        if op.type == "Identity" and not _GENERIC_NAME.match(leaf):
            score += 2.0  # a deliberately named output
        if _GENERIC_NAME.match(leaf):
            score -= 1.5
        if op.type in ("Softmax", "Sigmoid", "ArgMax", "TopKV2"):
            score += 2.0
        outputs.append(Suggestion(tensor.name, tensor.dtype, tensor.shape_text, reason,
                                  score=score))
    outputs.sort(key=lambda s: (-s.score, s.tensor))
    return Suggestions(inputs[:limit], outputs[:limit])


def _topological(graph: OpGraph) -> list[str]:
    """Main-graph ops in data-flow order (Kahn's algorithm; cycles from v1 loops appended)."""
    import networkx as nx

    sub = graph.data_digraph
    try:
        return list(nx.topological_sort(sub))
    except nx.NetworkXUnfeasible:
        # TF1 while loops close cycles through NextIteration; drop those edges.
        dag = nx.DiGraph(
            (u, v) for u, v in sub.edges if graph.ops[u].type not in ("NextIteration",)
        )
        dag.add_nodes_from(sub.nodes)
        try:
            return list(nx.topological_sort(dag))
        except nx.NetworkXUnfeasible:
            return list(graph.ops)


def _depths(graph: OpGraph, order: list[str]) -> dict[str, int]:
    ops = graph.ops
    depth: dict[str, int] = {}
    for name in order:
        parents = [depth.get(src, 0) for src in ops[name].input_ops if src in ops]
        depth[name] = 1 + max(parents, default=0)
    return depth


def _descendants(graph: OpGraph, sources: list[str], machinery: set[str]) -> set[str]:
    ops = graph.ops
    seen: set[str] = set()
    stack = [s for s in sources if s in ops]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack.extend(c for c in ops[name].consumers if c not in machinery and c not in seen)
    return seen
