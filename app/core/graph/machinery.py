"""Training machinery: the ops the graph view hides and a signature never serves.

`is_machinery` judges an op by name and type (gradients, optimizer, saver, init,
summaries): the graph view hides these; it is no evidence for what to serve. It lives
with the graph (not with the suggestions) because the graph view model needs it and
the graph room imports no room above it.
"""

from __future__ import annotations

import re

from app.core.graph.opgraph import Op

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


def is_machinery(op: Op) -> bool:
    """True for gradient, optimizer, saver, init and summary ops, judged by name and type
    (what the graph view hides)."""
    return op.type in _MACHINERY_TYPES or bool(_MACHINERY_SCOPE.search(op.name)) or (
        op.type.startswith(("Apply", "ResourceApply", "SparseApply", "ResourceSparseApply"))
    )
