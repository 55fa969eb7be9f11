"""Which checkpoints of a running job are complete enough to export.

A Saver writes the ``.data`` shards, then the ``.index``, then the ``.meta``, and
only then names the new prefix in the folder's ``checkpoint`` state file. A watch
that took a checkpoint as soon as its ``.index`` appeared could read shards still
being written; so a candidate is a prefix the state file names, or one at a step
below a prefix it names (a Saver with ``max_to_keep=None`` names only the newest),
whose meta graph, index and every data shard the index counts are there, each shard
as long as the index says (`app.core.disk.checkpoint.check_complete`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.core.disk.checkpoint import check_complete, list_checkpoints, read_state_file, step_of
from app.core.errors import CheckpointError


@dataclass(frozen=True)
class Candidate:
    step: int
    prefix: Path
    saved_at: float  # the .index file's mtime: when the Saver finished this step

    @property
    def key(self) -> str:
        """What tells this checkpoint from another run's checkpoint at the same step."""
        return f"{self.step}@{self.saved_at:.6f}"


def complete_checkpoints(model_dir: Path) -> list[Candidate]:
    """The complete, numbered checkpoints the state file names, in step order.

    A checkpoint that is incomplete now (still being written, or being deleted by the
    Saver's ``max_to_keep``) is left out; the next poll sees it again.
    """
    try:
        # Only this folder's files: a state file copied with its run still names the
        # folder it was written in.
        named = [model_dir / p.name for p in read_state_file(model_dir)]
        on_disk = list_checkpoints(model_dir)
    except CheckpointError:  # being rewritten right now: the next poll reads it
        return []
    steps = [s for s in map(step_of, named) if s is not None]
    if not steps:
        return []
    saved = [p for p in on_disk if (s := step_of(p)) is not None and s <= max(steps)]
    found: dict[int, Candidate] = {}
    for prefix in [*named, *saved]:
        step = step_of(prefix)
        if step is None or step in found:
            continue
        try:
            files = check_complete(prefix)
            saved_at = files.index.stat().st_mtime
        except (CheckpointError, OSError):
            continue
        found[step] = Candidate(step, prefix, saved_at)
    return [found[s] for s in sorted(found)]
