"""The run's evaluation metric, read from ``MODEL_DIR/eval/*.tfevents.*``.

Estimator's evaluator (and any ``tf.compat.v1.summary.FileWriter`` or ``tf.summary``
writer) leaves one event file per evaluation process in ``MODEL_DIR/eval``. They are
read with TensorBoard's own `EventFileLoader`, which also turns the TF1
``simple_value`` scalars into the tensor summaries TF2 writes, so both read the same.
Each file keeps its loader between polls: a poll reads only what was appended since.

Each value keeps its event's ``wall_time``: a checkpoint's value is one written
after that checkpoint was saved (`value_for`), so a second run into the same folder
never borrows the first run's number for the same step.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EVAL_FOLDER = "eval"
# File clocks and event clocks agree on one machine; on a network file system the
# checkpoint's mtime may run a little ahead of the evaluator's clock.
CLOCK_SLACK = 1.0


@dataclass(frozen=True)
class EvalPoint:
    step: int
    value: float
    wall_time: float


class EvalReader:
    """Every value of one scalar tag in a run's eval event files, read incrementally."""

    def __init__(self, model_dir: str | os.PathLike[str], metric: str) -> None:
        self.folder = Path(model_dir) / EVAL_FOLDER
        self.metric = metric
        self._loaders: dict[Path, Any] = {}
        self.points: list[EvalPoint] = []
        self.tags: set[str] = set()  # every scalar tag seen, to name them when one is wrong

    def poll(self) -> list[EvalPoint]:
        """Read what the event files gained since the last poll; return the new points."""
        from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

        new: list[EvalPoint] = []
        try:
            files = sorted(p for p in self.folder.iterdir() if ".tfevents." in p.name)
        except (FileNotFoundError, NotADirectoryError):
            files = []
        for path in files:
            loader = self._loaders.get(path)
            if loader is None:
                loader = self._loaders[path] = EventFileLoader(str(path))
            for event in loader.Load():
                for value in event.summary.value:
                    number = scalar(value)
                    if number is None:
                        continue
                    self.tags.add(value.tag)
                    if value.tag == self.metric:
                        new.append(EvalPoint(int(event.step), number, event.wall_time))
        self.points.extend(new)
        return new

    def value_for(self, step: int, saved_at: float) -> EvalPoint | None:
        """The latest value at ``step`` written after a checkpoint saved at ``saved_at``."""
        found = [p for p in self.points
                 if p.step == step and p.wall_time >= saved_at - CLOCK_SLACK]
        return max(found, key=lambda p: p.wall_time) if found else None

    def evaluated_after(self, step: int, saved_at: float) -> bool:
        """True when evaluation has moved past ``step``: a later step has a value written
        after ``saved_at`` (Estimator's evaluator skips checkpoints it has no time for)."""
        return any(p.step > step and p.wall_time >= saved_at - CLOCK_SLACK
                   for p in self.points)

    def series(self) -> list[tuple[int, float]]:
        """``(step, value)`` in step order, the latest value for a step winning."""
        latest: dict[int, EvalPoint] = {}
        for point in self.points:
            if point.step not in latest or point.wall_time >= latest[point.step].wall_time:
                latest[point.step] = point
        return [(s, latest[s].value) for s in sorted(latest)]


def scalar(value: Any) -> float | None:
    """A summary value's number: ``simple_value``, or a one-element tensor summary."""
    if value.HasField("simple_value"):
        return float(value.simple_value)
    if not value.HasField("tensor"):
        return None
    from tensorboard.util import tensor_util

    array = tensor_util.make_ndarray(value.tensor)
    if array.size != 1 or array.dtype.kind not in "fiu":
        return None
    return float(array.reshape(()))
