"""Ranked serving candidates, led by the proposal.

`suggest` lists what `app.core.proposal` proposes first (best first), then what it
left out and why: heads it put aside, other ends of the forward graph, features the
proposed outputs do not read, placeholders with a default and, last, the labels
(marked). One structural reading of the graph serves both, so the ranked lists never
disagree with the proposal.

What the window hides as machinery is `app.core.graph.machinery.is_machinery`.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.graph.opgraph import OpGraph
from app.core.proposal import propose


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
