"""Static serving checks: what on a signature's path makes its answers wrong, before any work.

A training ``.meta`` can hold ops that a server must never run per request: random
ops (dropout masks, sampling) make two identical requests answer differently, and
input-pipeline ops (iterators, queues, readers) make the answer come from the next
training batch instead of the request. Both are found here by walking the
`OpGraph` backwards over data edges from a signature's outputs, stopping at the
tensors the signature feeds, so the window can run them on the UI thread after
every edit (no TensorFlow, one graph walk per signature).

Each finding carries its own fix, computed from the graph: a hint never names a
placeholder, flag or library the graph does not have.

Rewrites (issue 13: dropout bypassed, batch norm on moving statistics, pipeline
inputs rewired to placeholders) remove some of these causes before export. They
are passed in as ``replaced``: the names of ops a rewrite bypasses or replaces.
Those ops are never reported, but the walk still goes on through their inputs,
since a rewrite keeps the rest of the path. Ops a rewrite would take off the path
but that the user switched off come in as ``off``, each with the line that says how
to switch its rewrite back on: that is their fix, not rebuilding the model.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from app.core.graph.opgraph import Op, OpGraph

# Stateful random ops: each run draws new numbers. (Stateless* ops are deterministic.)
RANDOM_OPS = frozenset({
    "RandomUniform", "RandomUniformInt", "RandomStandardNormal", "TruncatedNormal",
    "ParameterizedTruncatedNormal", "Multinomial", "RandomShuffle", "RandomGamma",
    "RandomPoisson", "RandomPoissonV2", "RandomCrop", "SampleDistortedBoundingBox",
    "SampleDistortedBoundingBoxV2", "StatefulUniform", "StatefulUniformInt",
    "StatefulUniformFullInt", "StatefulStandardNormal", "StatefulStandardNormalV2",
    "StatefulTruncatedNormal", "StatefulRandomBinomial", "RandomBinomial",
    "AllCandidateSampler", "UniformCandidateSampler", "LogUniformCandidateSampler",
    "LearnedUnigramCandidateSampler", "FixedUnigramCandidateSampler",
    "ThreadUnsafeUnigramCandidateSampler",
})
# Ops that hand out the next element of an input pipeline on every run.
PIPELINE_OPS = frozenset({
    "IteratorGetNext", "IteratorGetNextSync", "IteratorGetNextAsOptional",
    "MultiDeviceIteratorGetNextFromShard",
    "QueueDequeue", "QueueDequeueV2", "QueueDequeueMany", "QueueDequeueManyV2",
    "QueueDequeueUpTo", "QueueDequeueUpToV2",
    "ReaderRead", "ReaderReadV2", "ReaderReadUpTo", "ReaderReadUpToV2",
})
_PLACEHOLDERS = ("Placeholder", "PlaceholderWithDefault")
# How far back from a random op's surroundings a switching placeholder is looked for
# (``rate = 1 - keep_prob`` is two hops; a cond's ``pred`` one or two).
_NEAR = 6


@dataclass(frozen=True)
class Finding:
    """One cause of wrong answers on a signature's path."""

    kind: str  # "random" | "pipeline"
    op: str  # the op that causes it
    error: bool  # False: it may be switched off by a placeholder the export fixes
    message: str  # the whole line: cause and fix
    output: int = 0  # index of the first output whose path holds it


def path_ops(graph: OpGraph, outputs: Iterable[str], fed: Iterable[str]) -> dict[str, int]:
    """Ops whose values reach ``outputs`` over data edges, stopping at ``fed`` tensors.

    Maps each op to the index of the first output whose path holds it (one walk
    in all, however many outputs). Control-only inputs are not followed: they
    order ops but do not change values.
    """
    fed_set = {_tensor(t) for t in fed}
    ops = graph.ops
    owner: dict[str, int] = {}
    for index, out in enumerate(outputs):
        if _tensor(out) in fed_set:
            continue
        stack = [_tensor(out).rpartition(":")[0]]
        while stack:
            name = stack.pop()
            if name in owner or name not in ops:
                continue
            owner[name] = index
            stack.extend(t.rpartition(":")[0] for t in ops[name].inputs if t not in fed_set)
    return owner


def signature_findings(graph: OpGraph, outputs: Iterable[str], inputs: Iterable[str],
                       bound: Iterable[str] = (),
                       replaced: frozenset[str] = frozenset(),
                       off: Mapping[str, str] | None = None) -> list[Finding]:
    """Random and input-pipeline ops between a signature's ``inputs`` and ``outputs``.

    ``bound``: placeholders the export bakes in as constants. ``replaced``: ops the
    inference rewrites bypass or replace (never reported; see the module doc).
    ``off``: op -> how to switch on the rewrite that would remove it
    (`app.core.rewrite.switched_off`), given as that op's fix.
    Each finding names (`Finding.output`) the first output whose path holds it.
    """
    outputs = list(outputs)
    if not _may_reach(graph, _candidates(graph) - replaced, outputs):
        return []
    inputs = [_tensor(t) for t in inputs]
    bound_set = {_tensor(t) for t in bound}
    owner = path_ops(graph, outputs, [*inputs, *bound_set])
    path_set = set(owner)
    findings = []
    pipeline: dict[str, list[str]] = {}  # pipeline op -> its tensors the path reads
    for name, index in owner.items():
        op = graph.ops[name]
        if name in replaced:
            continue
        if op.type in RANDOM_OPS:
            finding = _random_finding(graph, op, path_set, inputs, bound_set, index,
                                      (off or {}).get(name))
            if finding is not None:
                findings.append(finding)
        elif op.type in PIPELINE_OPS:
            pipeline[name] = []
    if pipeline:
        for name in owner:
            for t in graph.ops[name].inputs:
                src = t.rpartition(":")[0]
                if src in pipeline and t not in pipeline[src] and t not in inputs:
                    pipeline[src].append(t)
        for t in outputs:
            src = _tensor(t).rpartition(":")[0]
            if src in pipeline and _tensor(t) not in pipeline[src]:
                pipeline[src].append(_tensor(t))
        for name, tensors in pipeline.items():
            findings.append(_pipeline_finding(graph.ops[name], sorted(tensors), owner[name]))
    return findings


_CANDIDATES: weakref.WeakKeyDictionary[OpGraph, frozenset[str]] = weakref.WeakKeyDictionary()


def _candidates(graph: OpGraph) -> frozenset[str]:
    """The graph's random and pipeline ops, found once per graph: most graphs have none,
    and then no signature needs a path walk (the window validates after every edit)."""
    found = _CANDIDATES.get(graph)
    if found is None:
        kinds = RANDOM_OPS | PIPELINE_OPS
        found = frozenset(name for name, op in graph.ops.items() if op.type in kinds)
        _CANDIDATES[graph] = found
    return found


def _may_reach(graph: OpGraph, sources: frozenset[str], outputs: list[str]) -> bool:
    """Whether any of ``sources`` is upstream of an output (feeds ignored: a quick
    over-estimate). Walking forward is cheap where it matters: the random ops of
    variable initializers lead to an ``Assign`` within a few ops."""
    if not sources:
        return False
    targets = {_tensor(t).rpartition(":")[0] for t in outputs}
    ops = graph.ops
    seen = set(sources)
    stack = list(sources)
    while stack:
        name = stack.pop()
        if name in targets:
            return True
        for consumer in ops[name].consumers:
            if consumer not in seen:
                seen.add(consumer)
                stack.append(consumer)
    return False


def _random_finding(graph: OpGraph, op: Op, path: set[str], inputs: list[str],
                    bound: set[str], output: int, rewrite_off: str | None = None
                    ) -> Finding | None:
    """An error when nothing can switch ``op`` off; a warning when a placeholder the
    export does not fix can; nothing when every such placeholder is bound (whether
    the bound value really switches it off is what verification's two runs prove).

    The fix: ``rewrite_off`` (how to switch on the rewrite that removes ``op``) when
    given, and binding the placeholder when there is one. Otherwise, for a dropout no
    rewrite removes, rebuilding the model in inference mode; for other random ops
    (sampling, noise), which inference mode may not remove, serving a tensor from
    before the op, or rebuilding without it."""
    where = _layer(op.name)
    # A signature input is the request's data, unless it is a scalar (keep_prob, is_training).
    switches = [ph for ph in _switching_placeholders(graph, op, path)
                if ph not in inputs or _is_scalar(graph, ph)]
    what = f"{op.name} ({op.type}) in {where!r} draws new random numbers on every request"
    dropout = "dropout" in where.lower()
    if dropout:
        what = f"dropout in {where!r} draws a new random mask on every request ({op.name})"
    if not switches:
        if rewrite_off is not None:
            fix = rewrite_off
        elif dropout:
            fix = ("nothing in the graph switches it off: rebuild the model in inference mode "
                   "(training=False), write that graph with "
                   "tf.compat.v1.train.export_meta_graph next to the checkpoint and export it")
        else:
            fix = ("nothing in the graph switches it off and no inference rewrite removes it: "
                   "serve a tensor from before it (for sampling, the scores it draws from) "
                   "or, if only training adds it, rebuild the model with training=False "
                   "and export that graph")
        return Finding("random", op.name, True,
                       f"{what}, so the same request gets different answers; {fix}", output)
    if all(ph in bound for ph in switches):
        return None
    named = []
    for ph in switches:
        state = ("bound" if ph in bound else "sent by each request" if ph in inputs
                 else "left at its default" if graph.ops[ph[:-2]].type != "Placeholder"
                 else "unfed")
        named.append(f"{ph} ({state})")
    first = next((ph for ph in switches if ph not in bound), switches[0])
    fix = (f"take {first} off the inputs and bind it" if first in inputs
           else f"bind {first.rsplit(':', 1)[0]}")
    also = f", or: {rewrite_off}" if rewrite_off is not None else ""
    return Finding("random", op.name, False,
                   f"{what} unless {', '.join(named)} switches it off; {fix} to its "
                   "inference value (verification checks that two identical requests agree)"
                   + also, output)


def _is_scalar(graph: OpGraph, name: str) -> bool:
    tensor = graph.tensor(name)
    return tensor is not None and tensor.shape == ()


def _pipeline_finding(op: Op, tensors: list[str], output: int) -> Finding:
    where = _layer(op.name)
    feeds = ", ".join(tensors) if tensors else f"{op.name}:0"
    return Finding("pipeline", op.name, True,
                   f"reads the training input pipeline at {op.name} ({op.type}"
                   + (f" in {where!r}" if where != op.name else "")
                   + ") instead of the signature's inputs, so every request gets the next "
                   f"training batch; add {feeds} as input(s) so requests feed them", output)


def _switching_placeholders(graph: OpGraph, op: Op, path: set[str]) -> list[str]:
    """Placeholders near ``op`` that decide whether its randomness reaches the output.

    Two places: the other inputs of the first ops on the path that combine ``op``'s
    numbers with something else (``mask = uniform >= rate``), and the predicate of
    a v1 cond (``Switch``) the random op sits in (``training`` of a layers dropout).
    """
    ops = graph.ops
    derived = {op.name}
    frontier_inputs: list[str] = []
    stack = [op.name]
    while stack:
        name = stack.pop()
        for consumer in ops[name].consumers:
            if consumer not in path or consumer in derived:
                continue
            others = [t for t in ops[consumer].inputs if t.rpartition(":")[0] not in derived]
            if others:
                frontier_inputs.extend(others)
            else:
                derived.add(consumer)
                stack.append(consumer)
    starts = [t.rpartition(":")[0] for t in frontier_inputs]
    starts += _cond_predicates(graph, op)
    found: list[str] = []
    seen: set[str] = set()
    level = [s for s in starts if s in ops]
    for _ in range(_NEAR):
        nxt = []
        for name in level:
            if name in seen:
                continue
            seen.add(name)
            node = ops[name]
            if node.type in _PLACEHOLDERS:
                found.append(f"{name}:0")
                continue
            nxt.extend(t.rpartition(":")[0] for t in node.inputs)
        level = [n for n in nxt if n in ops]
    return sorted(set(found))


def _cond_predicates(graph: OpGraph, op: Op) -> list[str]:
    """Ops feeding the predicate of the v1 conds right around ``op``.

    The walk stays within a few hops and inside ``op``'s top-level scope (a layer's
    cond is built in the layer's scope), so an unrelated cond upstream is not taken.
    """
    ops = graph.ops
    top = op.name.split("/", 1)[0] + "/"
    preds = []
    seen: set[str] = set()
    level = [op.name]
    for _ in range(_NEAR):
        nxt = []
        for name in level:
            if name in seen or name not in ops or not name.startswith(top):
                continue
            seen.add(name)
            node = ops[name]
            if node.type in ("Switch", "RefSwitch") and len(node.inputs) > 1:
                preds.append(node.inputs[1].rpartition(":")[0])
                continue
            nxt.extend(t.rpartition(":")[0] for t in node.inputs)
            nxt.extend(node.control_inputs)
        level = nxt
    return preds


def _layer(name: str) -> str:
    """The layer scope an op sits in: its name without the op's own helper scopes.

    ``dense/dropout/random_uniform/RandomUniform`` -> ``dense/dropout``.
    """
    scope = name.split("/")[:-1]
    parts = list(scope)
    while parts and parts[-1].split("_")[0] in ("random", "truncated", "multinomial", "cond",
                                                "sample", "stateful"):
        parts.pop()
    return "/".join(parts or scope) or name


def _tensor(text: str) -> str:
    text = text.strip()
    head, sep, index = text.rpartition(":")
    return text if sep and index.isdigit() and head else f"{text}:0"
