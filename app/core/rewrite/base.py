"""The contract every training-to-serving rewrite keeps.

A `.meta` almost always holds the training graph: dropout draws random masks, batch
norm normalises over the batch, inputs come from an input pipeline. A rewrite turns
one such idiom into its inference form, in the style of TensorFlow's
``optimize_for_inference_lib``: a small module with

- a *finder*, ``find(graph, draft) -> list[Finding]``: what it would change, named by
  op, from the `OpGraph` alone. It never imports TensorFlow, because the window calls
  it on the UI thread after every edit, and `inspect --json` lists its findings;
- an *applier*, ``apply(meta, findings) -> Applied``: a new MetaGraphDef (the input is
  never mutated) with the found sites rewritten. It works on whichever protobuf class
  ``meta`` is (TensorFlow's or TensorBoard's copy), so it builds its result with
  ``type(meta)()``.

Rewrites compose in a fixed order (the package's registry); each one that cannot
apply to a site says why in `Finding.blocked` and leaves that site as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.core.graph.opgraph import OpGraph
from app.core.signature.draft import Draft


@dataclass(frozen=True)
class Finding:
    """One site a rewrite would change (one dropout layer, one batch-norm op, one input)."""

    rewrite: str  # the `Rewrite.id` that found it
    key: str  # stable within the rewrite across steps of one model, e.g. the layer's scope
    ops: tuple[str, ...]  # ops the site changes or removes: links in the window, graph marks
    summary: str  # one line in the user's words: what serving will do instead
    blocked: str | None = None  # why this site cannot be rewritten (the export then refuses)
    warning: str | None = None  # rewritten, but worth a look (e.g. statistics still at 0/1)
    data: dict[str, Any] = field(default_factory=dict)  # what the applier needs (JSON-able)

    @property
    def id(self) -> str:
        """``rewrite:key``: what the draft, presets and the CLI use to switch one site off."""
        return f"{self.rewrite}:{self.key}"


@dataclass
class Applied:
    """A rewritten MetaGraphDef and the tensors that now stand for others."""

    meta: Any
    # old tensor name -> the tensor that replaces it (e.g. an iterator output rewired to a
    # new placeholder): signatures naming the old tensor are built on the new one.
    renamed: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Rewrite:
    id: str  # "dropout", "batch_norm", "inputs", "learning_phase", "moving_average", ...
    title: str  # "Dropout bypassed"
    default_on: bool
    find: Callable[[OpGraph, Draft], list[Finding]]
    apply: Callable[[Any, list[Finding]], Applied]
    # Whether a blocked site kept on purpose can publish. Not for dropout or batch norm:
    # the serving checks and verification refuse a random mask or batch statistics, so
    # offering ``--keep`` for them would be a fix that cannot work.
    keep_serves: bool = True
