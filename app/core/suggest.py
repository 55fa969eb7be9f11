"""Ranked serving candidates, led by the proposal, and what the window hides as machinery.

`suggest` lists what `app.core.proposal` proposes first (best first), then what it
left out and why: heads it put aside, other ends of the forward graph, features the
proposed outputs do not read, placeholders with a default and, last, the labels
(marked). One structural reading of the graph serves both, so the ranked lists never
disagree with the proposal.

`is_machinery` judges an op by name and type (gradients, optimizer, saver, init,
summaries): the graph view hides these; it is no evidence for what to serve.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.core.graph.opgraph import Op, OpGraph
from app.core.proposal import propose

# Top-level or nested scopes that are never part of the served model.
_MACHINERY_SCOPE = re.compile(
    r"(^|/)(gradients(_\d+)?|save(_\d+)?|train(_op)?|optimizer|Optimizer|training|"
    r"[A-Za-z]*Adam(_\d+)?|Momentum|RMSProp|Adagrad|GradientDescent|Ftrl|"
    r"init(_all_tables|_\d+)?|report_uninitialized_variables|summaries|"
    r"ExponentialMovingAverage|global_step|beta[12]_power|cond_\w*/?switch_t|"
    r"Initializer|AssignMovingAvg(_\d+)?)(/|$)"
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


@dataclass(frozen=True)
class Suggestion:
    tensor: str  # "op:N"
    dtype: str
    shape: str
    reason: str
    optional: bool = False  # PlaceholderWithDefault: has a default, feeding is optional
    # Inputs: "placeholder", or "pipeline" for a tensor the input pipeline hands the
    # model (an export must rewire it to a new placeholder). Outputs: "output".
    kind: str = "placeholder"
    label: bool = False  # what the loss compares with (labels, training targets)
    proposed: bool = False  # part of the proposed signature


@dataclass(frozen=True)
class Suggestions:
    inputs: list[Suggestion]
    outputs: list[Suggestion]


def is_machinery(op: Op) -> bool:
    """True for gradient, optimizer, saver, init and summary ops, judged by name and type
    (what the graph view hides)."""
    return op.type in _MACHINERY_TYPES or bool(_MACHINERY_SCOPE.search(op.name)) or (
        op.type.startswith(("Apply", "ResourceApply", "SparseApply", "ResourceSparseApply"))
    )


def suggest(graph: OpGraph, limit: int = 10) -> Suggestions:
    """Serving inputs and outputs of ``graph``, best first: the proposal, then the rest."""
    proposal = propose(graph)
    inputs = [Suggestion(s.tensor, s.dtype, s.shape, s.why, kind=_input_kind(graph, s.tensor),
                         proposed=True) for s in proposal.inputs]
    inputs += [Suggestion(c.tensor, c.dtype, c.shape, c.reason, c.optional, c.kind, c.label)
               for c in proposal.other_inputs]
    outputs = [Suggestion(s.tensor, s.dtype, s.shape, s.why, kind="output", proposed=True)
               for s in proposal.outputs]
    outputs += [Suggestion(c.tensor, c.dtype, c.shape, c.reason, kind="output")
                for c in proposal.other_outputs]
    return Suggestions(inputs[:limit], outputs[:limit])


def _input_kind(graph: OpGraph, tensor: str) -> str:
    """"placeholder", or "pipeline" for what an input pipeline hands the model."""
    op = graph.ops.get(tensor.rpartition(":")[0])
    return "placeholder" if op is not None and op.type.startswith("Placeholder") else "pipeline"
