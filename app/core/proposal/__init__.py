"""Which tensors to serve: a proposed signature for a training graph Signet has never seen.

``propose(graph) -> Proposal`` reads the training program's structure
(`reading.read_program`: its objectives, the model each trains and the heads that
model predicts with) and turns it into one ``serving_default`` predict signature:

- **outputs**: each head's prediction (the logits, or a regression's or a generator's
  output), its probability head when the graph has one, and deliberately named
  tensors that end the forward graph next to the model (facenet's ``embeddings``);
- **inputs**: exactly what those outputs need from outside (placeholders, the tensors
  the input pipeline hands the model, ``parse_example`` features), never labels and
  never training switches;
- **bind**: the training switches the export binds for inference (the
  ``training_switch`` and ``learning_phase`` rewrites), shown so the user knows;
- a line of **why** for every slot, and **notes** in plain words about the program as
  a whole (a teacher-forced decoder, a second model that only judges the first, a
  prediction drawn at random, for which the mean it is drawn around is served:
  `sampling`).

Keys are named for what the tensors are (`keys`). Nothing here imports TensorFlow.

Room of understanding a training program (the proposal, `suggest`): may import `graph`,
`signature`, `disk`, `serving`, `rewrite` and the top modules, never `samples` and above.
"""

from __future__ import annotations

import weakref

from app.core.graph.opgraph import OpGraph, collector_paused
from app.core.proposal.model import Candidate, Note, Proposal, ProposedSlot
from app.core.proposal.proposer import Proposer

__all__ = ["Candidate", "Note", "Proposal", "ProposedSlot", "label_warning", "propose"]

_PROPOSALS: weakref.WeakKeyDictionary[OpGraph, Proposal] = weakref.WeakKeyDictionary()


def propose(graph: OpGraph) -> Proposal:
    """The signature to serve from ``graph``, with why (see the module docstring).

    Worked out once per graph: the window's validation asks for the labels after
    every edit.
    """
    found = _PROPOSALS.get(graph)
    if found is None:
        with collector_paused():
            found = _PROPOSALS[graph] = Proposer(graph).proposal()
    return found


def label_warning(graph: OpGraph, tensor: str) -> str | None:
    """Why ``tensor`` should not be a serving input, when the loss compares it with the
    model's prediction (a label); None otherwise."""
    if tensor in propose(graph).labels:
        return f"{tensor} is the label the loss compares with; serving clients don't have it"
    return None
