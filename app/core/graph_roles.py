"""What each part of a training graph is for, read from its structure rather than its names.

A TF1 ``.meta`` usually holds the training graph. Its loss is what the gradients
differentiate: ``tf.gradients`` seeds the backward pass with
``<scope>/grad_ys_N = Fill(Shape(loss), 1)``, so the loss is the input of that
``Shape`` (or, when the shape was folded to a constant, the forward op named by
the ``<op>_grad`` scope the seed feeds), plus the ``losses`` collection. From the
loss everything else follows:

- sources are placeholders and the tensors the input pipeline hands the model
  (``IteratorGetNext`` components, dequeue outputs, ``parse_example`` dense values);
- a *parametric* op reads a variable directly and depends on a source (a layer);
  the *model body* is the loss's ancestors that are parametric or lead to one;
- labels are sources the loss reads without a layer in between (a source that also
  feeds a layer counts as a label only when other sources are pure features);
- machinery is the gradient scope and all it feeds (optimizer updates, clipping),
  and whatever flows only into variable writes, summaries or checks (initializers,
  moving-average updates, streaming metrics' updates);
- every other op gets a *fate*, decided from its consumers: it feeds only the loss
  (``loss-side``), it ends the forward graph (``end``: a sink, or read only by
  label-dependent evaluation), it only feeds machinery (``machinery``), or it is
  still used by the forward graph (``forward``).

Names are never consulted except those TensorFlow gives itself (``grad_ys``,
``<op>_grad``, the unread ``Identity``/``switch_t`` a loop or cond leaves on its
outputs) and the name-based `is_machinery` evidence, which counts only for ops
structure leaves outside the model.
Every pass is linear in the number of ops and edges.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from app.core.opgraph import Op, OpGraph

_GRAD_SEED = re.compile(r"^(?P<scope>(?:.*/)?gradients(?:_\d+)?)/grad_ys_\d+$")

_VARIABLE_TYPES = {"VariableV2", "Variable", "VarHandleOp", "_VarHandlesOp"}
# Ops that hand a variable's value on unchanged (reads, loop entry, casts, cond).
_PASS_THROUGH = {"Identity", "ReadVariableOp", "Enter", "RefEnter", "Cast", "Switch",
                 "RefSwitch", "RefIdentity", "_Retval"}
_PLACEHOLDERS = {"Placeholder", "PlaceholderWithDefault", "PlaceholderV2"}
_DEFAULTED = {"PlaceholderWithDefault"}
_PIPELINE = {"IteratorGetNext", "IteratorGetNextSync", "QueueDequeue", "QueueDequeueV2",
             "QueueDequeueMany", "QueueDequeueManyV2", "QueueDequeueUpTo",
             "QueueDequeueUpToV2", "OptionalGetValue"}
_PARSERS = {"ParseExample", "ParseExampleV2", "ParseSingleExample", "ParseSingleExampleV2"}
# Ops that write state, log or check: nothing they compute is a model output.
_WRITER_TYPES = {
    "NoOp", "Assert", "SaveV2", "RestoreV2", "Save", "Restore", "SaveSlices",
    "RestoreSlice", "ShardedFilename", "ShardedFilespec", "MergeV2Checkpoints",
    "ScalarSummary", "HistogramSummary", "ImageSummary", "AudioSummary", "AudioSummaryV2",
    "TensorSummary", "TensorSummaryV2", "MergeSummary", "WriteScalarSummary",
    "WriteHistogramSummary", "WriteSummary", "Print", "PrintV2", "IsVariableInitialized",
    "VarIsInitializedOp", "AssignVariableOp", "AssignAddVariableOp", "AssignSubVariableOp",
    "Assign", "AssignAdd", "AssignSub", "InitializeTableV2", "InitializeTableFromTextFileV2",
    "InitializeTable", "InitializeTableFromTextFile", "MakeIterator", "IteratorToStringHandle",
    "DestroyResourceOp",
}
# Writers that only look: a tensor read by these alone still ends the forward graph.
_OBSERVERS = {"ScalarSummary", "HistogramSummary", "ImageSummary", "AudioSummary",
              "AudioSummaryV2", "TensorSummary", "TensorSummaryV2", "WriteScalarSummary",
              "WriteHistogramSummary", "WriteSummary", "Print", "PrintV2", "Assert"}
_WRITER_PREFIXES = ("Apply", "ResourceApply", "SparseApply", "ResourceSparseApply",
                    "Scatter", "ResourceScatter", "QueueEnqueue", "QueueClose", "StackPush",
                    "StackPop", "StackClose")


class Fate(StrEnum):
    LOSS = "loss"  # a loss op itself
    LOSS_SIDE = "loss-side"  # feeds only the loss (and machinery or evaluation)
    END = "end"  # a sink of the forward graph, or read only by label-dependent evaluation
    MACHINERY = "machinery"  # gradients, optimizer, writes, summaries, what feeds only them
    FORWARD = "forward"  # still read by the forward graph


class SourceRole(StrEnum):
    FEATURE = "feature"  # the model reads it through its layers
    LABEL = "label"  # the loss reads it directly
    UNUSED = "unused"  # nothing outside machinery reads it


@dataclass(frozen=True)
class Source:
    """A tensor the model is fed: a placeholder or an input-pipeline output."""

    tensor: str  # "op:N"
    kind: str  # "placeholder" | "pipeline"
    role: SourceRole


@dataclass
class GraphRoles:
    loss: list[str]  # loss op names, seeds first
    gradient_scopes: list[str]
    sources: list[Source]
    fate: dict[str, Fate]  # every main-graph op
    loss_ancestors: set[str]  # the loss's forward ancestors (loss ops excluded)
    model_body: set[str]  # loss ancestors that are layers or lead to one
    label_dependent: set[str]
    feature_dependent: set[str]
    order: list[str]  # data-flow order (loop back edges dropped)
    inputs: dict[str, list[str]]  # op -> the ops its data inputs come from

    def is_machinery(self, name: str) -> bool:
        return self.fate.get(name) is Fate.MACHINERY

    @property
    def features(self) -> list[Source]:
        return [s for s in self.sources if s.role is SourceRole.FEATURE]

    @property
    def labels(self) -> list[Source]:
        return [s for s in self.sources if s.role is SourceRole.LABEL]


def read_roles(graph: OpGraph, name_machinery: set[str] | None = None) -> GraphRoles:
    """Classify every main-graph op of ``graph``.

    ``name_machinery`` is name-based evidence (`app.core.suggest.is_machinery`): such
    ops count as machinery unless structure puts them in the model (they depend on
    a source or lead to the loss).
    """
    ops = graph.ops
    inputs = {name: [t[: t.rindex(":")] for t in op.inputs] for name, op in ops.items()}
    order = _topological(ops, inputs)
    loss, scopes = _find_loss(graph, inputs)
    loss_set = set(loss)
    prefixes = tuple(s + "/" for s in scopes)
    scoped = {n for n in ops if n.startswith(prefixes)} if prefixes else set()
    writers = {n for n, op in ops.items() if n not in scoped and _is_writer(op)}
    ancestors = _backward_reach(inputs, loss, scoped | writers | loss_set)
    # The gradient scope and all it feeds, except the forward ops the loss needs: a v2
    # While reads the gradient's accumulator lists as inputs.
    gradients = _closure(ops, scoped, ancestors | loss_set)
    blocked = gradients | writers | (scoped - ancestors)
    named = name_machinery or set()
    sources = [(t, kind) for t, kind in _sources(ops, blocked)
               if t.rpartition(":")[0] not in named or t.rpartition(":")[0] in ancestors]
    source_dependent = _forward_reach(ops, [t for t, _ in sources], blocked)
    parametric = {n for n in ancestors if n in source_dependent
                  and _reads_parameter(ops, inputs, n)}
    body = _leading_to(ops, order, ancestors, parametric)

    roles = _source_roles(ops, sources, ancestors, body, loss_set)
    typed = [(t, r) for (t, _), r in zip(sources, roles, strict=True)]
    label_dep = _forward_reach(ops, [t for t, r in typed if r is SourceRole.LABEL], blocked)
    features = [t for t, r in typed if r is SourceRole.FEATURE]
    # A placeholder with a default (keep_prob, the Keras learning phase) switches the
    # model; what depends only on it is no answer to an input.
    required = [t for t in features if ops[t.rpartition(":")[0]].type not in _DEFAULTED]
    feature_dep = _forward_reach(ops, required or features, blocked)

    extra = {n for n in named
             if n not in source_dependent and n not in ancestors and n not in loss_set}
    fate = _fates(ops, order, loss_set, blocked | extra, label_dep)
    return GraphRoles(
        loss=loss, gradient_scopes=scopes,
        sources=[Source(t, kind, role) for (t, kind), role in zip(sources, roles, strict=True)],
        fate=fate, loss_ancestors=ancestors, model_body=body, label_dependent=label_dep,
        feature_dependent=feature_dep, order=order, inputs=inputs,
    )


def _topological(ops: dict[str, Op], inputs: dict[str, list[str]]) -> list[str]:
    """Kahn's algorithm over data edges; ``NextIteration`` back edges of v1 loops dropped,
    anything left in a cycle appended in graph order."""
    pending = {n: 0 for n in ops}
    for name, srcs in inputs.items():
        pending[name] = sum(1 for s in srcs if s in ops and ops[s].type != "NextIteration")
    ready = [n for n, k in pending.items() if k == 0]
    order: list[str] = []
    while ready:
        name = ready.pop()
        order.append(name)
        if ops[name].type == "NextIteration":
            continue
        for consumer in ops[name].consumers:
            pending[consumer] -= 1
            if pending[consumer] == 0:
                ready.append(consumer)
    if len(order) < len(ops):
        done = set(order)
        order += [n for n in ops if n not in done]
    return order


def _find_loss(graph: OpGraph, inputs: dict[str, list[str]]) -> tuple[list[str], list[str]]:
    """Loss op names and the gradient name scopes, from the gradient seeds and the
    ``losses`` collection; without either, the ops whose type is a loss."""
    ops = graph.ops
    loss: list[str] = []
    scopes: list[str] = []
    for name, op in ops.items():
        match = _GRAD_SEED.match(name) if op.type == "Fill" else None
        if match is None:
            continue
        scope = match["scope"]
        scopes.append(scope)
        shape_op = ops.get(inputs[name][0]) if inputs[name] else None
        if shape_op is not None and shape_op.type == "Shape" and inputs[shape_op.name]:
            loss.append(inputs[shape_op.name][0])
            continue
        # Shape folded to a constant: the seed feeds the gradient of the loss op.
        for consumer in op.consumers:
            rest = consumer[len(scope) + 1:] if consumer.startswith(scope + "/") else ""
            forward = rest.split("_grad/", 1)[0] if "_grad/" in rest else ""
            if forward in ops:
                loss.append(forward)
                break
    loss += graph.collection_names("losses")
    if not loss:
        loss = [n for n, op in ops.items() if op.type in _LOSS_TYPES]
    seen: set[str] = set()
    return [n for n in loss if n in ops and not (n in seen or seen.add(n))], scopes


_LOSS_TYPES = {"SoftmaxCrossEntropyWithLogits", "SparseSoftmaxCrossEntropyWithLogits",
               "SigmoidCrossEntropyWithLogits", "CTCLoss", "CTCLossV2"}


def _is_writer(op: Op) -> bool:
    return op.type in _WRITER_TYPES or op.type.startswith(_WRITER_PREFIXES)


def _sources(ops: dict[str, Op], blocked: set[str]) -> list[tuple[str, str]]:
    """``(tensor, kind)`` of every placeholder and pipeline output the graph computes from.

    A placeholder read only by writers (the Saver's filename, Keras' assign feeds) is no
    source; a pipeline tensor read only by ``parse_example`` gives way to the parsed
    dense values."""
    found: list[tuple[str, str]] = []
    for name, op in ops.items():
        if name in blocked:
            continue
        if op.type in _PLACEHOLDERS:
            if op.consumers and all(c in blocked for c in op.consumers):
                continue
            found.append((f"{name}:0", "placeholder"))
        elif op.type in _PIPELINE:
            for i in range(op.output_count):
                readers = _readers(ops, name, i)
                if readers and all(ops[c].type in _PARSERS for c in readers):
                    continue
                found.append((f"{name}:{i}", "pipeline"))
        elif op.type in _PARSERS:
            found += [(f"{name}:{i}", "pipeline") for i in _dense_outputs(op)]
    return found


def _dense_outputs(op: Op) -> range:
    """Output indices of a parse_example op's dense values."""
    attr = op.node.attr
    sparse = attr["num_sparse"].i if "num_sparse" in attr else attr["Nsparse"].i
    dense = len(attr["Tdense"].list.type)
    return range(3 * sparse, 3 * sparse + dense)


def _readers(ops: dict[str, Op], name: str, index: int) -> list[str]:
    """Ops reading output ``index`` of ``name`` (not its other outputs)."""
    tensor = f"{name}:{index}"
    seen: list[str] = []
    for c in ops[name].consumers:
        if c not in seen and tensor in ops[c].inputs:
            seen.append(c)
    return seen


def _closure(ops: dict[str, Op], start: Iterable[str], blocked: set[str]) -> set[str]:
    """``start`` and every op fed by it through data edges, not entering ``blocked``."""
    seen: set[str] = set()
    stack = [s for s in start if s in ops and s not in blocked]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack.extend(c for c in ops[name].consumers if c not in seen and c not in blocked)
    return seen


def _forward_reach(ops: dict[str, Op], tensors: list[str], blocked: set[str]) -> set[str]:
    """Ops computed from any of ``tensors`` (the tensors' own ops left out, so one output
    of an ``IteratorGetNext`` does not taint its others)."""
    start: list[str] = []
    for tensor in tensors:
        name, _, index = tensor.rpartition(":")
        start += _readers(ops, name, int(index))
    return _closure(ops, start, blocked)


def _backward_reach(inputs: dict[str, list[str]], start: list[str],
                    blocked: set[str]) -> set[str]:
    seen: set[str] = set()
    stack = [src for s in start for src in inputs.get(s, ())]
    while stack:
        name = stack.pop()
        if name in seen or name in blocked or name not in inputs:
            continue
        seen.add(name)
        stack.extend(inputs[name])
    return seen


def _reads_parameter(ops: dict[str, Op], inputs: dict[str, list[str]], name: str) -> bool:
    """True when ``name`` (itself no mere read) takes a variable's value as an input."""
    if ops[name].type in _PASS_THROUGH:
        return False
    for src in inputs[name]:
        for _ in range(8):  # read chains are short: variable -> read -> Enter -> Switch
            op = ops.get(src)
            if op is None:
                break
            if op.type in _VARIABLE_TYPES:
                return True
            if op.type not in _PASS_THROUGH or not inputs[src]:
                break
            src = inputs[src][0]
    return False


def _leading_to(ops: dict[str, Op], order: list[str], region: set[str],
                targets: set[str]) -> set[str]:
    """Ops of ``region`` in ``targets`` or with a descendant in ``targets`` inside it."""
    found: set[str] = set()
    for name in reversed(order):
        if name in region and (name in targets or any(
                c in found for c in ops[name].consumers)):
            found.add(name)
    return found


def _source_roles(ops: dict[str, Op], sources: list[tuple[str, str]], ancestors: set[str],
                  body: set[str], loss: set[str]) -> list[SourceRole]:
    """Feature, label or unused for each source (see the module docstring)."""
    reaches_layer: list[bool] = []
    read_by_loss: list[bool] = []
    for tensor, _ in sources:
        name, _, index = tensor.rpartition(":")
        readers = _readers(ops, name, int(index))
        reaches_layer.append(any(r in body for r in readers))
        read_by_loss.append(any(r in loss or (r in ancestors and r not in body)
                                for r in readers))
    pure_features = any(a and not b for a, b in zip(reaches_layer, read_by_loss, strict=True))
    roles = []
    for (tensor, _), layer, direct in zip(sources, reaches_layer, read_by_loss, strict=True):
        name, _, index = tensor.rpartition(":")
        if direct and (not layer or pure_features):
            roles.append(SourceRole.LABEL)
        elif layer or _readers(ops, name, int(index)):
            roles.append(SourceRole.FEATURE)
        else:
            roles.append(SourceRole.UNUSED)
    return roles


_AUTO_NAME = re.compile(r"^(Identity|switch_[tf]|pred_id)(_\d+)?$")


def _is_plumbing(op: Op) -> bool:
    """An unread, unnamed pass-through TensorFlow made itself (the identities a v2 while
    loop or a v1 cond puts on every output): no answer anyone asked for."""
    return op.type == "Identity" and bool(_AUTO_NAME.match(op.name.rsplit("/", 1)[-1]))


def _fates(ops: dict[str, Op], order: list[str], loss: set[str], machinery: set[str],
           label_dependent: set[str]) -> dict[str, Fate]:
    """Each op's fate from its consumers', last op first (see the module docstring)."""
    fate: dict[str, Fate] = {}
    for name in reversed(order):
        if name in loss:
            fate[name] = Fate.LOSS
            continue
        if name in machinery:
            fate[name] = Fate.MACHINERY
            continue
        watched = [c for c in ops[name].consumers if ops[c].type not in _OBSERVERS]
        consumers = [c for c in watched if fate.get(c) is not Fate.MACHINERY
                     or c in label_dependent]
        machinery_only = bool(watched) and not consumers
        if machinery_only or (not consumers and _is_plumbing(ops[name])):
            fate[name] = Fate.MACHINERY
        elif not consumers:
            fate[name] = Fate.END
        elif all(fate.get(c) in (Fate.LOSS, Fate.LOSS_SIDE) or c in label_dependent
                 for c in consumers):
            to_loss = any(fate.get(c) in (Fate.LOSS, Fate.LOSS_SIDE) for c in consumers)
            fate[name] = Fate.LOSS_SIDE if to_loss else Fate.END
        else:
            fate[name] = Fate.FORWARD
    return fate
