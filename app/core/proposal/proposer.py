"""The proposal worked out: outputs from the reading's heads, the inputs they need, notes.

`Proposer` turns the structural reading (`reading.read_program`) of one graph into its
`Proposal`: each head's prediction and probability head, deliberately named ends of
the forward graph, the sources those outputs need (keyed for what they are), the
training switches bound for inference, plain-words notes, and the other candidates
it left out, with why.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from app.core.graph.opgraph import Op, OpGraph
from app.core.proposal import sampling, teacher_forcing
from app.core.proposal.keys import Namer, clean_key, unique
from app.core.proposal.model import Candidate, Note, Proposal, ProposedSlot
from app.core.proposal.reading import (
    VARIABLES,
    Reading,
    forward_from,
    read_program,
)
from app.core.proposal.sources import Source, ops_of_type
from app.core.rewrite import learning_phase, training_switch
from app.core.signature.draft import Draft

_UNSERVABLE = ("resource", "variant", "unknown")
_NOT_OUTPUT = frozenset({
    "Const", "VariableV2", "Variable", "VarHandleOp", "ReadVariableOp", "Placeholder",
    "PlaceholderWithDefault", "Shape", "ShapeN", "Size", "Rank", "Enter", "Exit", "Merge",
    "Switch", "NextIteration", "LoopCond", "HashTableV2", "HashTable", "MutableHashTableV2",
    "LookupTableSizeV2", "TensorArrayV3", "TensorArraySizeV3", "StopGradient", "ZerosLike",
    "OnesLike", "Fill", "Range", "Assert", "NoOp", "IteratorGetNext", "QueueDequeueV2",
    "QueueDequeueManyV2", "QueueDequeueUpToV2",
})
_OBSERVERS = frozenset({"ScalarSummary", "HistogramSummary", "ImageSummary", "AudioSummary",
                        "AudioSummaryV2", "TensorSummary", "TensorSummaryV2",
                        "WriteScalarSummary", "WriteHistogramSummary", "WriteSummary",
                        "Print", "PrintV2", "Assert", "MergeSummary"})
_RESHAPES = frozenset({"Squeeze", "Reshape", "ExpandDims", "Cast"})
_SHAPE_TYPES = ("Shape", "ShapeN", "Size", "Rank", "TensorArraySizeV3")
_PREDICTION_TYPES = frozenset({"ArgMax", "ArgMin", "TopKV2", "Softmax", "Sigmoid",
                               "LogSoftmax"})


@dataclass(frozen=True)
class _Switch:
    tensor: str
    value: Any  # None: nothing is bound (read only by the input pipeline)
    why: str


class Proposer:
    """Works out one graph's proposal (see the package docstring)."""

    def __init__(self, graph: OpGraph) -> None:
        self.graph = graph
        self.ops = graph.ops
        self.namer = Namer(graph)
        self.switches, switched_off = _switches(graph)
        self.reading: Reading = read_program(graph, self.switches, self.namer.is_deliberate)
        self.samplers = sampling.samplers(graph, switched_off)
        self.sampling_notes: list[Note] = []

    def proposal(self) -> Proposal:
        outputs = self._outputs()
        needed = self._needed(outputs)
        notes: list[Note] = []
        labels = set(self.reading.labels)
        left_out: list[Candidate] = []
        if labels & set(needed):
            kept, needed, note = self._teacher_forced_by_labels(outputs, needed)
            left_out = [Candidate(s.tensor, "needs the target sequence (teacher forcing)",
                                  s.dtype, s.shape) for s in outputs if s not in kept]
            outputs = kept
            notes.append(note)
        inputs = self._input_slots(needed)
        if not notes:
            notes += self._teacher_forcing(inputs, outputs)
        notes += self.sampling_notes + self._notes()
        bind = {s.tensor: s.value for s in self.switches.values() if s.value is not None}
        why = {s.tensor: s.why for s in self.switches.values() if s.value is not None}
        served = {s.tensor for s in inputs}
        return Proposal(inputs=tuple(inputs), outputs=tuple(outputs), bind=bind, bind_why=why,
                        labels=tuple(t for t in self.reading.labels if t not in served),
                        notes=tuple(notes), other_inputs=tuple(self._other_inputs(served)),
                        other_outputs=tuple(self._other_outputs(outputs, left_out)))

    def _other_outputs(self, chosen: list[ProposedSlot], left_out: list[Candidate],
                       limit: int = 10) -> list[Candidate]:
        """Heads the proposal put aside, then the other ends of the forward graph, the
        last computed first."""
        taken = {s.tensor for s in chosen}
        found = list(left_out)
        reading = self.reading
        for heads, reason in ((reading.auxiliary, "read by an auxiliary loss on the model's "
                               "features (a penalty, not a prediction)"),
                              (reading.critics, "the prediction of a model that only judges "
                               "another in training")):
            found += [self._candidate(h.prediction, reason) for h in heads]
        label_dependent = self._label_dependent
        for name in reversed(self._ends(strict=True)):
            op = self.ops[name]
            if name in label_dependent or name in self.reading.loss_side \
                    or op.type in _NOT_OUTPUT or not op.output_count or _scalar(op) \
                    or (op.type == "Identity" and not self.namer.is_deliberate(op)) \
                    or self._feeds_only_machinery(op) or not self._weighted(name):
                continue
            found.append(self._candidate(f"{name}:0", "ends the forward graph"))
            if len(found) > limit + len(taken):
                break
        for op in ops_of_type(self.graph, ["Identity"]):  # tf.identity(x, name=...)
            if op.name in self._fed and self.namer.is_deliberate(op) and \
                    op.name not in label_dependent and self._weighted(op.name):
                found.append(self._candidate(f"{op.name}:0", "named by the program; the "
                                             "model reads it on"))
        out: list[Candidate] = []
        for c in found:
            if c.tensor not in taken and c.dtype not in _UNSERVABLE:
                taken.add(c.tensor)
                out.append(c)
        return out[:limit]

    def _feeds_only_machinery(self, op: Op) -> bool:
        """Read, but only by updates, savers and checks (a moving-average update's math)."""
        machinery = self.reading.machinery
        return bool(op.consumers) and all(c in machinery and self.ops[c].type not in _OBSERVERS
                                          for c in op.consumers)

    def _candidate(self, tensor: str, reason: str) -> Candidate:
        t = self.graph.tensor(tensor)
        if t is None:
            return Candidate(tensor, reason)
        return Candidate(t.name, reason, t.dtype, t.shape_text)

    def _other_inputs(self, served: set[str]) -> list[Candidate]:
        """The graph's other sources: features the outputs do not read, placeholders
        with a default, and the labels (marked)."""
        reading = self.reading
        labels = set(reading.labels)
        features = set(reading.features)
        found: list[Candidate] = []
        for tensor, source in reading.sources.items():
            t = self.graph.tensor(tensor)
            if tensor in served or tensor in self.switches or t is None:
                continue
            kind = "placeholder" if source.kind == "placeholder" else "pipeline"
            if tensor in labels:
                reason, label = "the label the loss compares with the prediction", True
            elif source.defaulted:
                reason, label = "placeholder with a default", False
            elif tensor in features:
                reason, label = "read by the model, not by the proposed outputs", False
            else:
                continue
            found.append(Candidate(t.name, reason, t.dtype.removesuffix("_ref"),
                                   t.shape_text, kind, source.defaulted, label))
        found.sort(key=lambda c: c.label)
        return found

    def _teacher_forced_by_labels(self, outputs: list[ProposedSlot],
                                  needed: dict[str, Source]
                                  ) -> tuple[list[ProposedSlot], dict[str, Source], Note]:
        """Outputs computed from the target sequence itself (a decoder fed the shifted
        targets): left out when other outputs do without it, else served with it."""
        labels = set(self.reading.labels)
        forced = [s for s in outputs if labels & set(self._needed([s]))]
        target = ", ".join(sorted(labels & set(needed)))
        free = [s for s in outputs if s not in forced]
        if free:
            text = (f"{', '.join(s.key for s in forced)} would need the target sequence "
                    f"({target}): the decoder reads it shifted (teacher forcing), so it is "
                    "left out; to generate sequences, build a decoding graph from the "
                    "model code and export that")
            return free, self._needed(free), Note("teacher_forcing", text)
        text = (f"the decoder reads the target sequence ({target}) shifted and predicts "
                "each next token from the true previous ones (teacher forcing): serving "
                "this graph needs the target sequence. To generate sequences, build a "
                "decoding graph from the model code and export that")
        return outputs, needed, Note("teacher_forcing", text)

    def _teacher_forcing(self, inputs: list[ProposedSlot],
                         outputs: list[ProposedSlot]) -> list[Note]:
        decoder = teacher_forcing.decoder_input(self.graph, inputs, outputs, self.reading.labels)
        if decoder is None:
            return []
        return [Note("teacher_forcing", (
            f"the decoder reads the target sequence ({decoder}) and predicts each next "
            "token from the true previous ones (teacher forcing): serving this graph needs "
            "the target sequence. To generate sequences, build a decoding graph from the "
            "model code and export that"))]

    # Outputs ----------------------------------------------------------------------------

    def _outputs(self) -> list[ProposedSlot]:
        slots: list[ProposedSlot] = []
        taken: set[str] = set()

        def add(tensor: str, role_key: str, why: str) -> None:
            tensor = self._named_alias(tensor)
            t = self.graph.tensor(tensor)
            if t is None or t.dtype in _UNSERVABLE or t.dtype.endswith("_ref") or \
                    any(s.tensor == t.name for s in slots):
                return
            op = t.op
            key = clean_key(op.name.rsplit("/", 1)[-1]) if self.namer.is_deliberate(op) \
                else role_key
            key = unique(key, taken)
            taken.add(key)
            slots.append(ProposedSlot(key, t.name, why, t.dtype, t.shape_text))

        for head in self.reading.heads:
            compared = _listed(head.compared_with)
            drawn = sampling.drawn_from(self.graph, head.prediction, self.samplers,
                                        self.reading.machinery) if self.samplers else None
            if drawn is not None:
                mean = sampling.centre(self.graph, drawn, self.reading.machinery)
                self.sampling_notes.append(Note("sampling", (
                    f"{head.prediction} is computed from a random draw ({drawn}), so it "
                    "would answer differently at every request; "
                    + (f"the proposal serves {mean}, the mean the draw is taken around"
                       if mean else "it is left out"))))
                if mean is not None:
                    add(mean, "predictions", "the mean the model draws its random sample "
                                             "around (what it computes without the draw)")
                continue
            if head.role == "logits":
                add(head.prediction, "logits",
                    f"the model's logits, which the loss compares with {compared}"
                    if compared else "the model's logits, which the loss reads")
                if head.probabilities is not None:
                    add(head.probabilities, "probabilities",
                        f"the {self.ops[head.probabilities[:-2]].type.lower()} of the "
                        "logits: the model's probabilities")
            else:
                add(head.prediction, "predictions",
                    f"the model's prediction, which the loss compares with {compared}"
                    if compared else "what the model produces for the loss")
        for tensor in self._named_ends({s.tensor for s in slots}):
            name = tensor.rpartition(":")[0]
            add(tensor, "outputs", f"named {name.rsplit('/', 1)[-1]!r} by the program and "
                                   "computed by the model; nothing in training reads it")
        if not slots:
            for tensor in self._plain_ends():
                add(tensor, "outputs", "ends the model's forward graph (the graph has no "
                                       "loss to read the prediction from)")
        return slots

    def _named_alias(self, tensor: str) -> str:
        """A deliberately named ``tf.identity`` of ``tensor``, if the program made one
        (``logits = tf.identity(x, name="logits")``): same values, a telling name."""
        op = self.ops.get(tensor.rpartition(":")[0])
        if op is None or self.namer.is_deliberate(op):
            return tensor
        readers = [self.ops[c] for c in op.consumers]
        for reader in readers:
            if reader.type == "Identity" and reader.inputs == [tensor] and \
                    self.namer.is_deliberate(reader):
                return f"{reader.name}:0"
        if len(readers) == 1 and readers[0].type in _RESHAPES and \
                readers[0].inputs[:1] == [tensor] and self.namer.is_deliberate(readers[0]):
            return f"{readers[0].name}:0"  # tf.squeeze(age, name="age")
        return tensor

    def _named_ends(self, chosen: set[str]) -> list[str]:
        """Deliberately named tensors computed by the model from its data that nothing in
        training reads (only summaries, metrics against the labels, or nothing)."""
        found = []
        label_dependent = self._label_dependent
        ops = self.ops
        for name in self._ends():
            op = ops[name]
            if name in label_dependent or op.type in _NOT_OUTPUT or _scalar(op) \
                    or not self.namer.is_deliberate(op) or not self._weighted(name):
                continue
            tensor = f"{name}:0"
            if tensor not in chosen and op.output_count:
                found.append(tensor)
        return found

    def _plain_ends(self) -> list[str]:
        """Without a loss or names: the last op the model computes that nothing reads."""
        ends = [n for n in self._ends(strict=True) if not self.ops[n].consumers
                and self.ops[n].type not in _NOT_OUTPUT and n not in self.reading.loss_side
                and n not in self._label_dependent and not _scalar(self.ops[n])
                and self._weighted(n)]
        return [f"{ends[-1]}:0"] if ends else []

    def _ends(self, strict: bool = False) -> list[str]:
        """Ops of the data's reach that nothing computed from the data reads on, except
        summaries and evaluation against the labels, in graph order: where the forward
        graph stops. ``strict``: evaluation may read only a prediction-like op (an argmax,
        a softmax), not the arithmetic of a loss or a metric."""
        ops = self.ops
        return [name for name, evaluated in self._end_facts
                if not (strict and evaluated and ops[name].type not in _PREDICTION_TYPES)]

    @cached_property
    def _end_facts(self) -> list[tuple[str, bool]]:
        """(op, whether evaluation reads it) for every end of the data's reach."""
        ops = self.ops
        fed = self._fed
        label_dependent = self._label_dependent
        ends = []
        for name in ops:
            if name not in fed:
                continue
            evaluated = False
            for c in ops[name].consumers:
                if c in label_dependent:
                    evaluated = True
                elif c in fed and ops[c].type not in _OBSERVERS:
                    break
            else:
                ends.append((name, evaluated))
        return ends

    @cached_property
    def _fed(self) -> set[str]:
        """Ops computed from the model's data (the machinery left out)."""
        reading = self.reading
        features = reading.features or [t for t, s in reading.sources.items()
                                        if t not in self.switches and not s.defaulted]
        stop = self.reading.machinery | self._shape_ops
        return forward_from(self.ops, _readers(self.ops, features), stop)

    @cached_property
    def _shape_ops(self) -> set[str]:
        """Ops that read only a tensor's shape: what they compute is no data."""
        return {op.name for op in ops_of_type(self.graph, _SHAPE_TYPES)}

    def _weighted(self, name: str) -> bool:
        """Whether ``name`` is computed from a variable: a model's answer, not a reshaped
        input (searched backwards from it, nearest first, as weights are near)."""
        ops = self.ops
        seen, frontier = {name}, [name]
        while frontier and len(seen) < 20_000:
            following = []
            for n in frontier:
                for src in ops[n].input_ops:
                    if src in seen or src not in ops:
                        continue
                    if ops[src].type in VARIABLES:
                        return True
                    seen.add(src)
                    following.append(src)
            frontier = following
        return False

    @cached_property
    def _label_dependent(self) -> set[str]:
        """Ops computed from the labels (the loss, metrics, evaluation)."""
        return forward_from(self.ops, _readers(self.ops, self.reading.labels),
                            self.reading.machinery)

    # Inputs -----------------------------------------------------------------------------

    def _needed(self, outputs: list[ProposedSlot]) -> dict[str, Source]:
        """The sources (switches left out) computing ``outputs`` reads, by tensor: the walk
        `signature.needed_ops` makes (data and control inputs), stopped at each source."""
        sources = self.reading.sources
        switches = self.switches
        stop = self.reading.machinery
        get = self.ops.get
        needed: dict[str, Source] = {}
        seen: set[str] = set()
        add = seen.add
        stack = [s.tensor.rpartition(":")[0] for s in outputs]
        push = stack.append
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            add(name)
            op = get(name)
            if op is None or name in stop:
                continue
            for tensor in op.inputs:
                if tensor in sources:
                    if tensor not in switches:
                        needed[tensor] = sources[tensor]
                    continue
                src = tensor[:tensor.rindex(":")]
                if src not in seen:
                    push(src)
            if op.has_control:
                stack.extend(op.control_inputs)
        return needed

    def _input_slots(self, needed: dict[str, Source]) -> list[ProposedSlot]:
        """The needed sources as input slots, in graph order, keyed for what they are
        (a placeholder with a default keeps it: feeding it stays optional)."""
        ops = self.ops
        slots: list[ProposedSlot] = []
        taken: set[str] = set()
        for tensor in sorted(needed, key=lambda t: (ops[t.rpartition(":")[0]].position, t)):
            source = needed[tensor]
            t = self.graph.tensor(tensor)
            if source.defaulted or t is None:
                continue
            key = unique(self._input_key(source, t.op, t.dtype, t.shape), taken)
            taken.add(key)
            slots.append(ProposedSlot(key, t.name, self._input_why(source, t.op),
                                      t.dtype.removesuffix("_ref"), t.shape_text))
        return slots

    def _input_key(self, source: Source, op: Op, dtype: str, shape: Any) -> str:
        if source.kind == "parsed" and source.feature_key:
            return clean_key(source.feature_key)
        if source.kind == "placeholder":
            if self.namer.is_deliberate(op):
                return clean_key(op.name.rsplit("/", 1)[-1])
            scope = self.namer.chosen_scope(op)
            if scope is not None:
                return clean_key(scope)
        rank = None if shape is None else len(shape)
        dtype = dtype.removesuffix("_ref")
        if dtype == "string":
            return "examples"
        if dtype.startswith(("float", "bfloat", "half", "double")):
            return "images" if rank == 4 else "features"
        if dtype.startswith(("int", "uint")):
            if rank == 1:
                return "lengths"
            if rank == 2 and teacher_forcing.looked_up(self.graph, source.tensor) is not None:
                return "input_ids"
        return "inputs"

    def _input_why(self, source: Source, op: Op) -> str:
        if source.kind == "placeholder":
            return f"placeholder {op.name} that the outputs read"
        if source.kind == "parsed":
            return (f"feature {source.feature_key!r} that parse_example decodes for the model; "
                    "served as a new placeholder with an open batch dimension")
        return (f"what the input pipeline ({op.type}) hands the model; served as a new "
                "placeholder with an open batch dimension")

    # Notes ------------------------------------------------------------------------------

    def _notes(self) -> list[Note]:
        notes = []
        if self.reading.critics:
            critic = self.reading.critics[0].prediction
            notes.append(Note("several_models", (
                "two models are trained here; the proposal serves the one whose output the "
                f"other judges ({critic} belongs to the judge, which only training needs)")))
        if self.reading.objectives and not self.reading.heads:
            notes.append(Note("no_prediction", (
                "the loss reads no prediction of the model that Signet can tell apart; "
                "choose the outputs by hand")))
        return notes


def _switches(graph: OpGraph) -> tuple[dict[str, _Switch], set[str]]:
    """Training switches the rewrites bind for inference, by tensor, and the ops the
    training branches they turn off hold."""
    findings = [f for f in training_switch.switches(graph) if f.blocked is None]
    found = {f.data["tensor"]: _Switch(f.data["tensor"], f.data["value"], f.summary)
             for f in findings}
    for f in learning_phase.find(graph, Draft()):
        if f.blocked is None:
            tensor = f"{f.data['op']}:0"
            found[tensor] = _Switch(tensor, False if f.data["dtype"] == "bool" else 0,
                                    f.summary)
    return found, training_switch.killed_ops(findings)


def _readers(ops: dict[str, Op], tensors: list[str]) -> list[str]:
    found = []
    for tensor in tensors:
        producer = ops.get(tensor.rpartition(":")[0])
        if producer is not None:
            found += [c for c in producer.consumers if tensor in ops[c].inputs]
    return found


def _scalar(op: Op) -> bool:
    """Whether ``op`` computes one number for the whole batch (a summary's statistic, a
    loss): an answer has one row per example."""
    outputs = op.outputs
    return bool(outputs) and outputs[0].shape == ()


def _listed(tensors: tuple[str, ...]) -> str:
    if not tensors:
        return ""
    shown = ", ".join(tensors[:2]) + (" and more" if len(tensors) > 2 else "")
    return shown

