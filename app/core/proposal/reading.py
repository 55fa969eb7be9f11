"""What a training program trains and what its model predicts, read from structure alone.

The ``.meta`` of a training checkpoint holds the loss, the model and the machinery
that trains it. The reading works from the gradients backwards:

1. **Objectives.** ``tf.gradients`` seeds each backward pass with
   ``<scope>/grad_ys_N = Fill(Shape(loss), 1)``, so each gradient scope names a loss.
   With several scopes (a GAN's two optimizers), the ``Apply*`` ops that take a
   scope's gradients tell which variables that objective trains.
2. **The model of an objective.** Among the loss's ancestors, an op that reads a
   trained variable's value and depends on fed data is a *layer*; the *body* is the
   layers and what leads to them. Sources the loss reads without a layer between
   are *labels*; the others are *features*.
3. **The tail and the loss side.** What lies between the body and the loss is the
   tail. An op of the tail is *loss side* when it reads a label, is a loss op
   (cross entropy, ``L2Loss``, log, square...), reduces over the batch, compares the
   model with a target that is not the model (``out - 1``, ``reconstruction - x``),
   compares examples with each other, reads a variable the objective does not train
   (a GAN's critic), or is computed from a loss-side op.
4. **Heads.** The tensors the loss side reads from the model are grouped by the
   part of the body they come from (immediate dominators from the body, with
   networkx): each group is one head, and its prediction is the nearest tensor that
   every path of the group passes through. Ops that exist only to feed the loss
   (slices, casts, reshapes that flatten) are followed back to what the model
   produces; a reshape that gives back the batch structure (GPT-2's
   ``[batch, time, vocab]``) is the model's. A head whose prediction is a
   softmax or sigmoid serves its input as the logits and itself as the
   probabilities; logits with a softmax or sigmoid elsewhere get it as their
   probability head, even when the loss never reads it.
5. **Several heads and models.** A head upstream of another head of the same
   objective (a center loss or norm penalty on the embeddings) is auxiliary; the
   heads of an objective whose model only judges another objective's prediction
   (a discriminator) are a critic's, not served.

Names are never read, except those TensorFlow gives itself (``grad_ys``) and, as a
tie-breaker structure cannot settle, whether a format op between the model and its
loss was named by somebody (``named``). Every walk stays inside the loss's ancestors
or the forward graph; only the small tail is handed to networkx.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import networkx as nx

from app.core.graph.opgraph import Op, OpGraph
from app.core.proposal.sources import Source, find_sources, ops_of_type

_GRAD_SEED = re.compile(r"^(?P<scope>(?:.*/)?gradients(?:_\d+)?)/grad_ys_\d+$")
VARIABLES = frozenset({"VariableV2", "Variable", "VarHandleOp", "_VarHandlesOp"})
# Ops that hand a variable's value on unchanged (reads, loop entry, cond, casts).
_VALUE_PASS = frozenset({"Identity", "ReadVariableOp", "Enter", "RefEnter", "Switch",
                         "RefSwitch", "RefIdentity", "Cast"})
_LOSS_OPS = frozenset({"SoftmaxCrossEntropyWithLogits", "SparseSoftmaxCrossEntropyWithLogits",
                       "SigmoidCrossEntropyWithLogits", "L2Loss", "Log", "Log1p", "Neg",
                       "Square", "Abs", "SquaredDifference", "CTCLoss", "CTCLossV2",
                       "Xlogy", "Xlog1py"})
_LOSS_TYPES = frozenset({"SoftmaxCrossEntropyWithLogits", "SparseSoftmaxCrossEntropyWithLogits",
                         "SigmoidCrossEntropyWithLogits", "CTCLoss", "CTCLossV2"})
_XENT = frozenset({"SoftmaxCrossEntropyWithLogits", "SparseSoftmaxCrossEntropyWithLogits"})
_REDUCTIONS = frozenset({"Mean", "Sum", "Prod", "Max", "Min", "EuclideanNorm", "All", "Any"})
_COMPARE = frozenset({"Sub", "SquaredDifference"})
_CLAMP = frozenset({"Maximum", "Minimum", "ClipByValue"})
_EPSILON_ADD = frozenset({"Add", "AddV2"})
_MIXING = frozenset({"MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "Einsum"})
# Ops that only move or retype values: between a model's output and its loss they
# exist to put the prediction in the loss's format.
FORMAT = frozenset({"StridedSlice", "Slice", "Reshape", "Cast", "Squeeze", "ExpandDims",
                    "Transpose", "Identity", "GatherV2", "Gather", "GatherNd",
                    "ConjugateTranspose"})
ACTIVATIONS = frozenset({"Softmax", "Sigmoid", "LogSoftmax"})
_PROBABILITIES = frozenset({"Softmax", "Sigmoid"})
_WRITER_TYPES = frozenset({
    "NoOp", "Assert", "SaveV2", "RestoreV2", "Save", "Restore", "SaveSlices", "RestoreSlice",
    "ShardedFilename", "ShardedFilespec", "MergeV2Checkpoints", "ScalarSummary",
    "HistogramSummary", "ImageSummary", "AudioSummary", "AudioSummaryV2", "TensorSummary",
    "TensorSummaryV2", "MergeSummary", "WriteScalarSummary", "WriteHistogramSummary",
    "WriteSummary", "Print", "PrintV2", "IsVariableInitialized", "VarIsInitializedOp",
    "AssignVariableOp", "AssignAddVariableOp", "AssignSubVariableOp", "Assign", "AssignAdd",
    "AssignSub", "InitializeTableV2", "InitializeTableFromTextFileV2", "InitializeTable",
    "InitializeTableFromTextFile", "MakeIterator", "IteratorToStringHandle",
    "DestroyResourceOp",
})
_WRITER_PREFIXES = ("Apply", "ResourceApply", "SparseApply", "ResourceSparseApply",
                    "Scatter", "ResourceScatter", "QueueEnqueue", "QueueClose", "StackPush",
                    "StackPop", "StackClose")
_SHAPE_READERS = frozenset({"Shape", "ShapeN", "Size", "Rank"})
_ROOT = "\0root"


@dataclass(frozen=True)
class Objective:
    loss: str  # the op the gradients start from
    scope: str | None  # its gradient name scope
    trained: frozenset[str] | None  # variable ops its optimizer updates; None: all of them


@dataclass(frozen=True)
class Head:
    prediction: str  # "op:N": what the model produces for this head
    role: str  # "logits" | "prediction"
    probabilities: str | None  # the softmax/sigmoid of the logits, if the graph has one
    objective: str  # the loss op
    compared_with: tuple[str, ...] = ()  # the labels this objective's loss reads
    entry: str = ""  # the body op the head comes from


@dataclass
class Reading:
    objectives: list[Objective]
    heads: list[Head]
    auxiliary: list[Head] = field(default_factory=list)  # upstream of another head
    critics: list[Head] = field(default_factory=list)  # a model judging another's output
    features: list[str] = field(default_factory=list)  # tensors the model is fed
    labels: list[str] = field(default_factory=list)  # tensors the loss compares with
    sources: dict[str, Source] = field(default_factory=dict)
    # The gradient scopes' ops and every writer (updates, savers, summaries, checks):
    # the machinery no walk of the model enters.
    machinery: set[str] = field(default_factory=set)
    loss_side: set[str] = field(default_factory=set)  # the losses and what only they read


def read_program(graph: OpGraph, switches: Iterable[str] = (),
                 named: Callable[[Op], bool] = lambda op: False) -> Reading:
    """The objectives, heads and data roles of ``graph`` (see the module docstring).

    ``switches`` are training-switch tensors (an ``is_training`` flag, a
    ``keep_prob``): they steer the model but are no data, so they are neither
    features nor labels. ``named`` tells a deliberately named op: between a model's
    output and its loss, a reshape or squeeze somebody named (slim's
    ``SpatialSqueeze``) is the model's, not the loss's; structure cannot tell.
    """
    sources = find_sources(graph)
    switched = set(switches)
    objectives, scopes = _objectives(graph)
    machinery = _machinery(graph, scopes)
    values = _weights(graph, _variable_values(graph))
    reading = Reading(objectives, [], sources=sources, machinery=machinery)
    features: dict[str, None] = {}
    labels: dict[str, None] = {}
    for objective in objectives:
        program = _Program(graph, objective, sources, switched, values, machinery, named)
        heads = program.heads()
        reading.loss_side |= program.loss_side
        features.update(dict.fromkeys(program.features))
        labels.update(dict.fromkeys(program.labels))
        heads.sort(key=lambda h: graph.ops[h.prediction.rpartition(":")[0]].position)
        kept, auxiliary = _split_auxiliary(graph, heads, program.region)
        reading.heads += kept
        reading.auxiliary += auxiliary
    reading.features = list(features)
    reading.labels = [t for t in labels if t not in features]
    if len({o.trained for o in objectives}) > 1:
        _split_critics(graph, reading)
    seen: set[str] = set()
    reading.heads = [h for h in reading.heads
                     if not (h.prediction in seen or seen.add(h.prediction))]
    return reading


def _machinery(graph: OpGraph, scopes: list[str]) -> set[str]:
    """The ops of the gradient scopes and the writers, by name."""
    prefixes = tuple(s + "/" for s in scopes)
    found = {n for n in graph.ops if n.startswith(prefixes)} if prefixes else set()
    writers = [t for t in graph.type_positions
               if t in _WRITER_TYPES or t.startswith(_WRITER_PREFIXES)]
    found.update(op.name for op in ops_of_type(graph, writers))
    return found


def _objectives(graph: OpGraph) -> tuple[list[Objective], list[str]]:
    """One objective per gradient scope whose gradients train something; without
    gradients, the ``losses`` collection, else the loss ops themselves."""
    ops = graph.ops
    seeds: dict[str, str] = {}  # scope -> loss op
    for op in ops_of_type(graph, ["Fill"]):
        match = _GRAD_SEED.match(op.name)
        if match is None or match["scope"] in seeds:
            continue
        loss = _seeded_loss(graph, op, match["scope"])
        if loss is not None:
            seeds[match["scope"]] = loss
    scopes = list(seeds)
    if not seeds:
        losses = [n for n in graph.collection_names("losses") if n in ops]
        if not losses:
            losses = [op.name for op in ops_of_type(graph, _LOSS_TYPES)]
        return [Objective(n, None, None) for n in dict.fromkeys(losses)], scopes
    if len(seeds) == 1:
        return [Objective(loss, scope, None) for scope, loss in seeds.items()], scopes
    trained = _trained_by_scope(graph, scopes)
    objectives = [Objective(loss, scope, frozenset(trained[scope]) if trained else None)
                  for scope, loss in seeds.items() if not trained or trained.get(scope)]
    return objectives, scopes


def _seeded_loss(graph: OpGraph, seed: Op, scope: str) -> str | None:
    """The loss a gradient seed ``Fill(Shape(loss), 1)`` differentiates; with the shape
    folded to a constant, the forward op of the ``<op>_grad`` scope the seed feeds."""
    shape = graph.ops.get(seed.input_ops[0]) if seed.inputs else None
    if shape is not None and shape.type == "Shape" and shape.inputs:
        return shape.input_ops[0]
    for consumer in seed.consumers:
        rest = consumer[len(scope) + 1:] if consumer.startswith(scope + "/") else ""
        forward = rest.split("_grad/", 1)[0] if "_grad/" in rest else ""
        if forward in graph.ops:
            return forward
    return None


def _trained_by_scope(graph: OpGraph, scopes: list[str]) -> dict[str, set[str]]:
    """Gradient scope -> the variables whose ``Apply*`` update takes its gradients."""
    prefixes = {s + "/": s for s in scopes}
    trained: dict[str, set[str]] = {}
    appliers = [t for t in graph.type_positions if t.startswith(("Apply", "ResourceApply",
                                                                 "SparseApply",
                                                                 "ResourceSparseApply"))]
    for op in ops_of_type(graph, appliers):
        variable = _variable_behind(graph.ops, op.input_ops[0]) if op.inputs else None
        if variable is None:
            continue
        scope = _gradient_scope(graph, op, prefixes)
        if scope is not None:
            trained.setdefault(scope, set()).add(variable)
    return trained


def _gradient_scope(graph: OpGraph, apply: Op, prefixes: dict[str, str]) -> str | None:
    """The gradient scope the ``grad`` input of an optimizer update comes from
    (breadth first through clipping and scaling, a few dozen ops at most)."""
    args = [a.name for a in apply.op_def.input_arg] if apply.op_def is not None else []
    index = next((i for i, a in enumerate(args) if a in ("grad", "delta")), len(apply.inputs) - 1)
    frontier = [apply.inputs[index]] if index < len(apply.inputs) else []
    seen: set[str] = set()
    while frontier and len(seen) < 64:
        name = frontier.pop(0).rpartition(":")[0]
        if name in seen or name not in graph.ops:
            continue
        seen.add(name)
        for prefix, scope in prefixes.items():
            if name.startswith(prefix):
                return scope
        frontier += graph.ops[name].inputs
    return None


def _variable_behind(ops: dict[str, Op], name: str) -> str | None:
    """The variable op whose value or handle op ``name`` hands on (reads, identities,
    loop entries), if any."""
    op = ops.get(name)
    for _ in range(4):
        if op is None:
            return None
        if op.type in VARIABLES:
            return op.name
        if op.type not in _VALUE_PASS or not op.inputs:
            return None
        op = ops.get(op.input_ops[0])
    return None


def _weights(graph: OpGraph, values: dict[str, str]) -> dict[str, str]:
    """The value ops of the trainable variables: a layer is what reads the model's
    weights, not its state (batch norm's moving statistics, a center loss's centers).
    Without a ``trainable_variables`` collection, every variable counts."""
    trainable = set(graph.collection_names("trainable_variables"))
    if not trainable:
        return values
    return {v: var for v, var in values.items() if var in trainable}


def _variable_values(graph: OpGraph) -> dict[str, str]:
    """Every op that hands on a variable's value or handle unchanged -> the variable."""
    ops = graph.ops
    passing = {op.name for op in ops_of_type(graph, _VALUE_PASS)}
    values: dict[str, str] = {}
    for var in ops_of_type(graph, VARIABLES):
        values[var.name] = var.name
        frontier = [var.name]
        for _ in range(6):  # variable -> read -> Enter -> Switch -> Identity -> Cast
            following = []
            for name in frontier:
                for c in ops[name].consumers:
                    if c in passing and c not in values:
                        values[c] = var.name
                        following.append(c)
            frontier = following
    return values


class _Program:
    """One objective's reading: its region, body, sources and heads."""

    def __init__(self, graph: OpGraph, objective: Objective, sources: dict[str, Source],
                 switches: set[str], values: dict[str, str],
                 machinery: set[str], named: Callable[[Op], bool]) -> None:
        self.graph = graph
        self.named = named
        self.trainable = set(graph.collection_names("trainable_variables"))
        self.objective = objective
        ops = graph.ops
        self.ops = ops
        loss = objective.loss
        anc = backward(ops, [loss], machinery)
        self.region = region = anc | {loss}
        read = {t: s for n in region for t in ops[n].inputs
                if (s := sources.get(t)) is not None and t not in switches}
        trained = objective.trained
        self.values = values = {v: var for v, var in values.items()
                                if trained is None or var in trained}
        source_dependent = forward(ops, _readers(ops, read, region), region)
        param = {n for n in source_dependent if n not in values
                 and any(src in values for src in ops[n].input_ops)}
        self.body = body = (backward(ops, param, within=source_dependent)
                            & source_dependent) | param
        value_readers = {c for v in values for c in ops[v].consumers
                         if c in region and c not in values}
        self.pd = forward(ops, value_readers, region) | value_readers
        self.features, self.labels = _source_roles(ops, read, region, body, loss, self.pd)
        required = [t for t in self.features if not read[t].defaulted] or self.features
        # What reads only a shape computes no data: it stays out of the data's reach.
        data = {n for n in region if ops[n].type not in _SHAPE_READERS}
        self.fd = forward(ops, _readers(ops, required, data), data)
        self.ld = forward(ops, _readers(ops, self.labels, region), region)
        self.model = self.fd & self.pd
        self.tail = ((anc & self.fd) - body) | {loss}

    def heads(self) -> list[Head]:
        ops, tail, body = self.ops, self.tail, self.body
        self.loss_side = loss_side = forward(
            self.ops, [n for n in tail if self._loss_side(n)], tail)
        frontier = {n for n in body if any(c in tail for c in ops[n].consumers)}
        kept = frontier | (tail - loss_side)
        meeting = [n for n in kept if n in self.model
                   and any(c in loss_side for c in ops[n].consumers)]
        if not meeting:
            return []
        dominators = _dominators(ops, kept, frontier)
        groups: dict[str, list[str]] = {}
        for name in meeting:
            groups.setdefault(_entry(dominators, name), []).append(name)
        heads = []
        for entry, members in groups.items():
            head = self._head(dominators, _common_dominator(dominators, members), entry,
                              loss_side)
            if head is not None:
                heads.append(head)
        return heads

    def _loss_side(self, name: str) -> bool:
        ops = self.ops
        op = ops[name]
        if name == self.objective.loss or name in self.ld or op.type in _LOSS_OPS:
            return True
        inputs = op.input_ops
        if op.type in _REDUCTIONS:
            return _reduces_batch(self.graph, op)
        model_inputs = [i for i in inputs if i in self.model]
        if op.type in _COMPARE:
            return len(model_inputs) == 1
        if op.type in _MIXING:
            return len(model_inputs) == 2
        if op.type in _CLAMP or op.type in _EPSILON_ADD:
            return _scalar_constant(self.graph, inputs, small=op.type in _EPSILON_ADD)
        if self.objective.trained is not None:  # reads a variable another objective trains
            return any(v not in self.objective.trained and v in self.trainable
                       for v in _variable_values_of(ops, inputs))
        return False

    def _head(self, dominators: dict[str, str], start: str, entry: str,
              loss_side: set[str]) -> Head | None:
        """The head whose loss-side readers ``start`` dominates."""
        ops = self.ops
        chain = [start]
        while ops[chain[-1]].type in FORMAT and dominators.get(chain[-1], _ROOT) != _ROOT:
            chain.append(dominators[chain[-1]])
        best = chain[-1]
        for name in reversed(chain[:-1]):
            op = ops[name]
            raises = op.type in ("Reshape", "ExpandDims") and _rank(ops, name) > _rank(ops, best)
            if raises or op.type in ("Transpose", "ConjugateTranspose") or self.named(op):
                best = name
            elif op.type != "Identity":
                break
        named = [name for name in chain[:-1] if self.named(ops[name])]
        if named and chain.index(named[0]) < chain.index(best):
            best = named[0]  # y = tf.identity(tf.squeeze(x), name="age"): the model's own
        prediction, probabilities = best, None
        if ops[best].type in ACTIVATIONS:
            logits = ops[best].input_ops[0] if ops[best].inputs else None
            if logits is not None and logits in self.model:
                probabilities = best if ops[best].type in _PROBABILITIES else None
                prediction = logits
        if probabilities is None:
            probabilities = _probability_head(ops, prediction, self.ld)
        read_as_logits = probabilities is not None or _read_as_logits(ops, prediction)
        tensor = _tensor_toward(ops, prediction, self.region | loss_side)
        return Head(tensor, "logits" if read_as_logits else "prediction",
                    None if probabilities is None else f"{probabilities}:0",
                    self.objective.loss, tuple(self.labels), entry)


def _readers(ops: dict[str, Op], tensors: Iterable[str], region: set[str]) -> list[str]:
    """Ops of ``region`` that read any of ``tensors``."""
    wanted = set(tensors)
    found = []
    for tensor in wanted:
        producer = ops.get(tensor.rpartition(":")[0])
        if producer is None:
            continue
        found += [c for c in producer.consumers if c in region and tensor in ops[c].inputs]
    return found


def backward(ops: dict[str, Op], start: Iterable[str], stop: set[str] | None = None,
             within: set[str] | None = None) -> set[str]:
    """Ops the ``start`` ops are computed from (data edges): not entering ``stop``, and
    only inside ``within`` when given."""
    stop = stop or set()
    seen: set[str] = set()
    add = seen.add
    stack = [src for s in start for src in ops[s].input_ops]
    while stack:
        name = stack.pop()
        if name in seen or name in stop or name not in ops or \
                (within is not None and name not in within):
            continue
        add(name)
        stack.extend(ops[name].input_ops)
    return seen


def forward(ops: dict[str, Op], start: Iterable[str], region: set[str]) -> set[str]:
    """``start`` and the ops of ``region`` computed from them (data edges)."""
    seen: set[str] = set()
    stack = [s for s in start if s in region]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack.extend(c for c in ops[name].consumers if c in region and c not in seen)
    return seen


def forward_from(ops: dict[str, Op], start: Iterable[str], stop: set[str]) -> set[str]:
    """``start`` and every op computed from it (data edges), not entering ``stop``."""
    seen: set[str] = set()
    add = seen.add
    stack = [s for s in start if s not in stop]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        add(name)
        for c in ops[name].consumers:
            if c not in seen and c not in stop:
                stack.append(c)
    return seen


def _source_roles(ops: dict[str, Op], read: dict[str, Source], region: set[str],
                  body: set[str], loss: str, weighted: set[str]
                  ) -> tuple[list[str], list[str]]:
    """(features, labels), by name. A source the loss reads without a layer
    between is a label. One that also feeds a layer is a label only when other sources
    are pure features and the loss compares it with the prediction (a decoder fed the
    target it is scored on); a length that bounds the decoder and masks the loss is a
    feature."""
    after_loss = forward(ops, [n for n in region if ops[n].type in _LOSS_OPS], region)
    facts = []
    for tensor in sorted(read):
        readers = _readers(ops, [tensor], region)
        layer = any(r in body for r in readers)
        direct = [r for r in readers
                  if r == loss or (r not in body and ops[r].type not in _SHAPE_READERS)]
        compared = bool(direct) and _compared(ops, direct, region - body, weighted,
                                              after_loss)
        facts.append((tensor, layer, bool(direct), compared))
    pure = any(layer and not direct for _, layer, direct, _ in facts)
    features = [t for t, layer, direct, compared in facts
                if layer and not (direct and pure and compared)]
    labels = [t for t, layer, direct, compared in facts
              if direct and (not layer or (pure and compared))]
    return features, labels


def _compared(ops: dict[str, Op], readers: list[str], loss_region: set[str],
              weighted: set[str], after_loss: set[str]) -> bool:
    """Whether what ``readers`` compute from a source meets the model's prediction (a
    weighted tensor no loss op computed yet) outside the layers: a comparison, not a
    weight applied to the loss."""
    derived = forward(ops, readers, loss_region)
    return any(i in weighted and i not in derived and i not in after_loss
               for n in derived for i in ops[n].input_ops)


def _dominators(ops: dict[str, Op], kept: set[str], frontier: set[str]) -> dict[str, str]:
    """Immediate dominators of the ``kept`` ops from the body's ``frontier``."""
    tail = nx.DiGraph()
    tail.add_node(_ROOT)
    tail.add_edges_from((_ROOT, n) for n in frontier)
    tail.add_edges_from((src, n) for n in kept - frontier for src in ops[n].input_ops
                        if src in kept)
    return nx.immediate_dominators(tail, _ROOT)


def _entry(dominators: dict[str, str], name: str) -> str:
    while dominators.get(name, _ROOT) != _ROOT:
        name = dominators[name]
    return name


def _common_dominator(dominators: dict[str, str], names: list[str]) -> str:
    """The nearest op every one of ``names`` is dominated by (the deepest shared one)."""
    def chain(name: str) -> list[str]:
        out = [name]
        while dominators.get(out[-1], _ROOT) != _ROOT:
            out.append(dominators[out[-1]])
        return out

    shared = chain(names[0])
    for name in names[1:]:
        mine = set(chain(name))
        shared = [n for n in shared if n in mine]
    return shared[0] if shared else names[0]


def _rank(ops: dict[str, Op], name: str) -> int:
    outputs = ops[name].outputs
    shape = outputs[0].shape if outputs else None
    return -1 if shape is None else len(shape)


def _reduces_batch(graph: OpGraph, op: Op) -> bool:
    """A reduction to a scalar, or over axis 0 (the batch)."""
    outputs = op.outputs
    if outputs and outputs[0].shape == ():
        return True
    axes = graph.ops.get(op.input_ops[1]) if len(op.inputs) > 1 else None
    if axes is None or axes.type != "Const":
        return False
    proto = axes.node.attr["value"].tensor
    values = list(proto.int_val) or list(proto.int64_val)
    if not values and proto.tensor_content:
        import numpy as np

        width = 8 if proto.dtype == 9 else 4
        values = np.frombuffer(proto.tensor_content, dtype=f"<i{width}").tolist()
    return 0 in values


def _scalar_constant(graph: OpGraph, inputs: list[str], small: bool) -> bool:
    """Whether one input is a scalar constant (a tiny one when ``small``: an epsilon)."""
    for name in inputs:
        op = graph.ops.get(name)
        if op is None or op.type != "Const":
            continue
        proto = op.node.attr["value"].tensor
        if proto.tensor_shape.dim:
            continue
        values = list(proto.float_val) or list(proto.double_val) or list(proto.half_val)
        if not small:
            return True
        if values and 0 < abs(values[0]) < 1e-3:
            return True
    return False


def _variable_values_of(ops: dict[str, Op], inputs: list[str]) -> list[str]:
    """The variables behind ``inputs`` that are read directly (value or handle)."""
    return [v for name in inputs if (v := _variable_behind(ops, name)) is not None]


def _probability_head(ops: dict[str, Op], logits: str, label_dependent: set[str]) -> str | None:
    """A softmax or sigmoid computed from ``logits`` (through reshapes and identities)."""
    frontier, seen = [logits], {logits}
    for _ in range(3):
        following = []
        for name in frontier:
            for c in ops[name].consumers:
                if c in seen or c in label_dependent:
                    continue
                seen.add(c)
                if ops[c].type in _PROBABILITIES:
                    return _restored(ops, c, logits)
                if ops[c].type in ("Reshape", "Identity", "Cast"):
                    following.append(c)
        frontier = following
    return None


def _restored(ops: dict[str, Op], probabilities: str, logits: str) -> str:
    """``probabilities``, or the reshape that alone reads it and gives it back the logits'
    shape (slim's softmax flattens to two dimensions and reshapes back)."""
    readers = ops[probabilities].consumers
    if len(readers) == 1 and ops[readers[0]].type == "Reshape":
        back, want = ops[readers[0]].outputs, ops[logits].outputs
        if back and want and back[0].shape == want[0].shape:
            return readers[0]
    return probabilities


def _read_as_logits(ops: dict[str, Op], name: str) -> bool:
    """Whether a softmax cross entropy reads ``name`` (through format ops), or it feeds
    ``sigmoid_cross_entropy_with_logits``' sign test ``logits >= zeros_like(logits)``."""
    frontier, seen = [name], {name}
    for _ in range(4):
        following = []
        for n in frontier:
            for c in ops[n].consumers:
                if c in seen:
                    continue
                seen.add(c)
                op = ops[c]
                if op.type in _XENT:
                    return True
                if op.type == "GreaterEqual" and any(
                        ops[i].type == "ZerosLike" for i in op.input_ops if i in ops):
                    return True
                if op.type in FORMAT:
                    following.append(c)
        frontier = following
    return False


def _tensor_toward(ops: dict[str, Op], name: str, region: set[str]) -> str:
    """``name``'s output that ops of ``region`` read (its first when several do)."""
    op = ops[name]
    if op.output_count == 1:
        return f"{name}:0"
    read = {t for c in op.consumers if c in region for t in ops[c].inputs
            if t.rpartition(":")[0] == name}
    return min(read, key=lambda t: int(t.rpartition(":")[2])) if read else f"{name}:0"


def _split_auxiliary(graph: OpGraph, heads: list[Head], region: set[str]
                     ) -> tuple[list[Head], list[Head]]:
    """Heads whose body op feeds another head of the same objective are auxiliary (a
    center loss on the embeddings under the classifier): the deeper head is the answer."""
    if len(heads) < 2:
        return heads, []
    ops = graph.ops
    kept, auxiliary = [], []
    for head in heads:
        others = [h.prediction.rpartition(":")[0] for h in heads if h is not head]
        upstream = backward(ops, others, within=region)
        (auxiliary if head.entry in upstream else kept).append(head)
    return kept, auxiliary


def _split_critics(graph: OpGraph, reading: Reading) -> None:
    """Move the heads of an objective that judges another objective's prediction (a
    GAN's discriminator on the generator's output) to ``reading.critics``."""
    ops = graph.ops
    by_objective: dict[str, list[Head]] = {}
    for head in reading.heads:
        by_objective.setdefault(head.objective, []).append(head)
    critics: set[str] = set()
    for objective, heads in by_objective.items():
        others = {h.prediction.rpartition(":")[0] for o, hs in by_objective.items()
                  if o != objective for h in hs}
        if not others:
            continue
        upstream = backward(ops, [h.prediction.rpartition(":")[0] for h in heads],
                            reading.machinery)
        if upstream & others:
            critics.add(objective)
    if critics and len(critics) < len(by_objective):
        reading.critics = [h for h in reading.heads if h.objective in critics]
        reading.heads = [h for h in reading.heads if h.objective not in critics]

