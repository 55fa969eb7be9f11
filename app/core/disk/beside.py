"""Run two independent pieces of TensorFlow work at once, on two cores.

A TensorFlow session run (and its restore) releases the GIL while the runtime
computes, so it can go on in a thread while this one builds Python objects (a
graph import, a walk over a GraphDef). The export overlaps that way what used to
follow each other: the kernel check while the variables are restored.

- ``run_beside(first, second) -> (first(), second())``: ``first`` in a worker thread,
  ``second`` here; both always finish before it returns or raises. ``first``'s error
  wins, since it is the work that used to come first: the user reads the same message
  as when they ran one after the other.
- ``started(work) -> Started``: ``work`` begins in a thread now; ``.result()`` waits for
  it and returns its value or raises its error (I/O to overlap with what follows, such
  as flushing written files to disk while the export is verified).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

A = TypeVar("A")
B = TypeVar("B")


def run_beside(first: Callable[[], A], second: Callable[[], B]) -> tuple[A, B]:
    """``(first(), second())``, ``first`` run in a thread while ``second`` runs here."""
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["value"] = first()
        except BaseException as exc:  # re-raised in the caller's thread below
            outcome["error"] = exc

    worker = threading.Thread(target=work, name="signet-beside", daemon=True)
    worker.start()
    try:
        second_value = second()
    except BaseException:
        worker.join()
        if "error" in outcome:
            raise outcome["error"] from None
        raise
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"], second_value


class Started(Generic[A]):
    """Work running in a thread since `started`; `result` joins it (see module doc)."""

    def __init__(self, work: Callable[[], A]) -> None:
        self._outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                self._outcome["value"] = work()
            except BaseException as exc:  # re-raised by result() in the caller's thread
                self._outcome["error"] = exc

        self._thread = threading.Thread(target=run, name="signet-started", daemon=True)
        self._thread.start()

    def result(self) -> A:
        """Wait for the work; its value, or its error raised here."""
        self._thread.join()
        if "error" in self._outcome:
            raise self._outcome["error"]
        return self._outcome["value"]


def started(work: Callable[[], A]) -> Started[A]:
    """``work`` started in a thread now; call ``.result()`` to wait for it."""
    return Started(work)
