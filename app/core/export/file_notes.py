"""Warnings about the files an export reads or writes beyond the checkpoint it was given.

An export copies each vocabulary asset into the SavedModel from wherever the graph
says it is, and a folder's ``checkpoint`` state file may name a checkpoint in another
folder: both are often right (a shared ``vocab/`` folder, a run's moved checkpoint),
but the user should see which files went in. A base folder TensorFlow reads as a file
pattern (`app.core.disk.plain_path`) is one TF Serving cannot load from as it is.
"""

from __future__ import annotations

import os
from pathlib import Path

from app.core.disk.plain_path import PATTERN_CHARACTERS, is_pattern
from app.core.disk.saved_model_source import is_saved_model
from app.core.loader import LoadedCheckpoint
from app.core.signature.draft import Level, Problem


def outside_assets(loaded: LoadedCheckpoint, moved: dict[str, str]) -> list[str]:
    """The asset files the export copies from outside the checkpoint's folder, named.

    ``moved``: the assets `recipe.resolve_assets` found next to the checkpoint instead.
    """
    # A SavedModel's variables sit in variables/, its assets beside them in assets/.
    given = loaded.files.meta.parent if is_saved_model(loaded) else loaded.checkpoint.directory
    folder = _real(given)
    found = []
    for tensor in loaded.graph.asset_files():
        op = loaded.graph.ops.get(tensor.split(":", 1)[0].lstrip("^"))
        if op is None or op.type != "Const" or op.name in moved:
            continue
        values = op.node.attr["value"].tensor.string_val
        if not values:
            continue
        path = Path(os.fsdecode(values[0]))
        if not _real(path).is_relative_to(folder):
            found.append(f"asset {path} (used by {op.name}) is outside the checkpoint folder "
                         f"{given}: the export copies it as it is "
                         "now — check it is the file the model was trained with")
    return found


def _real(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:  # a symlink loop
        return path.absolute()


def file_notes(loaded: LoadedCheckpoint, moved: dict[str, str],
               base: str | os.PathLike[str]) -> list[Problem]:
    """Warnings about the files behind ``loaded`` and the export's ``base`` folder."""
    lines = [*loaded.checkpoint.warnings, *outside_assets(loaded, moved)]
    if is_pattern(Path(base).absolute()):
        lines.append(f"{base}: TensorFlow reads a model's variables through a file pattern, "
                     f"where {' '.join(PATTERN_CHARACTERS)} are wildcards, so TensorFlow "
                     "Serving cannot load from this path as it is: mount the model folder "
                     "at a plain path (as the docker command does) or move it")
    return [Problem(Level.WARNING, line) for line in lines]
