"""What a proposal holds: the signature to serve, what it binds, and why.

A `Proposal` is Signet's answer to *which tensors do I serve?* for a checkpoint it has
never seen. It is a plain value: the window pre-fills a draft with it, ``signet
inspect --json`` prints it, and ``signet export`` without ``--input``/``--output``
exports it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.core.signature.draft import DEFAULT_SIGNATURE, Draft, Slot


@dataclass(frozen=True)
class ProposedSlot:
    key: str  # named for what the tensor is: "images", "input_ids", "logits"
    tensor: str  # "op:N" in the checkpoint's graph
    why: str  # one line in the user's words
    dtype: str = "unknown"
    shape: str = "<unknown>"


@dataclass(frozen=True)
class Candidate:
    """A tensor the proposal left out that a user may still want, and why it was."""

    tensor: str
    reason: str
    dtype: str = "unknown"
    shape: str = "<unknown>"
    kind: str = "output"  # inputs: "placeholder" | "pipeline"
    optional: bool = False  # a placeholder with a default
    label: bool = False  # what the loss compares with


@dataclass(frozen=True)
class Note:
    """A remark about the whole program (teacher forcing, several models)."""

    kind: str  # "teacher_forcing", "several_models", ...
    text: str


@dataclass(frozen=True)
class Proposal:
    inputs: tuple[ProposedSlot, ...] = ()
    outputs: tuple[ProposedSlot, ...] = ()
    # Training switches the export binds through the training-switch rewrite (tensor ->
    # value), with one line each: shown so the user knows, never fed by clients.
    bind: dict[str, Any] = field(default_factory=dict)
    bind_why: dict[str, str] = field(default_factory=dict)
    labels: tuple[str, ...] = ()  # what the loss compares with: never an input
    notes: tuple[Note, ...] = ()
    # What else could be served, best first: the window and `signet inspect` list them.
    other_inputs: tuple[Candidate, ...] = ()
    other_outputs: tuple[Candidate, ...] = ()
    method: str = "predict"
    key: str = DEFAULT_SIGNATURE

    @property
    def empty(self) -> bool:
        return not self.outputs

    def to_json(self) -> dict[str, Any]:
        """The ``"proposal"`` object of ``signet inspect --json``."""
        return {
            "signatures": {self.key: {
                "method": self.method,
                "inputs": {s.key: s.tensor for s in self.inputs},
                "outputs": {s.key: s.tensor for s in self.outputs},
            }},
            "bind": dict(self.bind),
            "why": {"inputs": {s.key: s.why for s in self.inputs},
                    "outputs": {s.key: s.why for s in self.outputs},
                    "bind": dict(self.bind_why)},
            "labels": list(self.labels),
            "notes": [{"kind": n.kind, "text": n.text} for n in self.notes],
        }

    def draft(self) -> Draft:
        """A one-signature draft serving this proposal (the switches are left to their
        rewrite, which binds them unless the user switches it off)."""
        draft = Draft()
        sig = draft.signatures[0]
        sig.key, sig.method = self.key, self.method
        sig.inputs = [Slot(s.key, s.tensor, s.dtype, s.shape) for s in self.inputs]
        sig.outputs = [Slot(s.key, s.tensor, s.dtype, s.shape) for s in self.outputs]
        return draft
