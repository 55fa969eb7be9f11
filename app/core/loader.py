"""Open a checkpoint into everything the tools need: files, op graph, variables, search.

`load_checkpoint` is what the CLI and the GUI's worker thread call. It reports
stages through ``progress(fraction, message)`` and stops between stages when
``cancelled()`` returns true.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from app.core.disk.checkpoint import Checkpoint, CheckpointFiles, check_complete, resolve
from app.core.disk.metagraph import read_meta_graph
from app.core.disk.saved_model_source import is_saved_model, open_saved_model, signatures_json
from app.core.disk.variables import VariableInventory
from app.core.errors import Cancelled
from app.core.graph.machinery import is_machinery
from app.core.graph.opgraph import OpGraph, collector_paused
from app.core.graph.search import SearchIndex
from app.core.proposal import Proposal, propose
from app.core.proposal.suggest import Suggestions, suggest
from app.core.serving.serving_model import model_version_folder

Progress = Callable[[float, str], None]
CancelCheck = Callable[[], bool]


@dataclass
class LoadedCheckpoint:
    checkpoint: Checkpoint
    files: CheckpointFiles
    graph: OpGraph
    variables: VariableInventory

    @cached_property
    def search_index(self) -> SearchIndex:
        return SearchIndex(self.graph)

    @cached_property
    def suggestions(self) -> Suggestions:
        return suggest(self.graph)

    @property
    def proposal(self) -> Proposal:
        """The signature Signet proposes to serve (empty for a SavedModel, which has its
        own signatures)."""
        if is_saved_model(self):
            return Proposal()
        return propose(self.graph)

    @property
    def placeholders(self) -> list[str]:
        """Placeholder tensors of the model (the Saver's own filename feed left out)."""
        return [
            op.outputs[0].name
            for op in self.graph.ops.values()
            if op.type in ("Placeholder", "PlaceholderWithDefault") and op.outputs
            and not is_machinery(op)
        ]

    def summary(self) -> dict:
        """The ``signet inspect --json`` object."""
        ckpt = self.checkpoint
        sugg = self.suggestions
        return {
            "checkpoint": str(ckpt.prefix),
            "step": ckpt.step,
            "steps": ckpt.steps,
            "ops": len(self.graph.meta_graph.graph_def.node),
            "functions": {name: len(body) for name, body in self.graph.functions.items()},
            "placeholders": self.placeholders,
            "signatures": signatures_json(self.graph.meta_graph),
            "proposal": self.proposal.to_json(),
            "suggested_inputs": [s.tensor for s in sugg.inputs],
            "suggested_outputs": [s.tensor for s in sugg.outputs],
            "inputs": [_suggestion_json(s) for s in sugg.inputs],
            "outputs": [_suggestion_json(s) for s in sugg.outputs],
            "variables": {
                "count": self.variables.count,
                "bytes": self.variables.nbytes,
                "training_bytes": self.variables.training_bytes,
                "list": [
                    {"name": v.name, "dtype": v.dtype, "shape": list(v.shape),
                     "bytes": v.nbytes, "role": str(v.role)}
                    for v in self.variables.variables
                ],
            },
        }


def _suggestion_json(s) -> dict:
    return {"tensor": s.tensor, "dtype": s.dtype, "shape": s.shape, "reason": s.reason,
            "optional": s.optional, "kind": s.kind, "label": s.label}


def load_checkpoint(
    path: str | os.PathLike[str] | Checkpoint,
    progress: Progress | None = None,
    cancelled: CancelCheck | None = None,
    index_names: bool = True,
) -> LoadedCheckpoint:
    """Resolve, check and parse a checkpoint; raise `CheckpointError` on bad input.

    ``index_names=False`` leaves the search index to be built on first use (an
    export never searches).
    """

    def stage(fraction: float, message: str) -> None:
        if cancelled is not None and cancelled():
            raise Cancelled("opening cancelled")
        if progress is not None:
            progress(fraction, message)

    with collector_paused():
        return _load(path, stage, index_names)


def _load(path: str | os.PathLike[str] | Checkpoint, stage: Progress,
          index_names: bool) -> LoadedCheckpoint:
    stage(0.0, "Finding checkpoint files")
    if not isinstance(path, Checkpoint) and (saved := model_version_folder(path)) is not None:
        return _finish(LoadedCheckpoint(*open_saved_model(saved, stage)), stage, index_names)
    checkpoint = path if isinstance(path, Checkpoint) else resolve(path)
    stage(0.05, "Checking the checkpoint is complete")
    files = check_complete(checkpoint.prefix)
    stage(0.15, f"Reading {files.meta.name}")
    meta = read_meta_graph(files.meta)
    stage(0.45, "Building the op graph")
    graph = OpGraph(meta)
    graph.checkpoint_prefix = checkpoint.prefix
    stage(0.8, "Classifying variables")
    trainable = set(graph.collection_names("trainable_variables"))
    variables = VariableInventory.from_index(files.bundle, trainable)
    return _finish(LoadedCheckpoint(checkpoint, files, graph, variables), stage, index_names)


def _finish(loaded: LoadedCheckpoint, stage: Progress, index_names: bool) -> LoadedCheckpoint:
    if index_names:
        stage(0.9, "Indexing names for search")
        _ = loaded.search_index
    stage(1.0, "Done")
    return loaded
