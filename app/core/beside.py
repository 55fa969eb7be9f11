"""Run two independent pieces of TensorFlow work at once, on two cores.

A TensorFlow session run (and its restore) releases the GIL while the runtime
computes, so it can go on in a thread while this one builds Python objects (a
graph import, a walk over a GraphDef). The export overlaps that way what used to
follow each other: the kernel check while the variables are restored.

- ``run_beside(first, second) -> (first(), second())``: ``first`` in a worker thread,
  ``second`` here; both always finish before it returns or raises. ``first``'s error
  wins, since it is the work that used to come first: the user reads the same message
  as when they ran one after the other.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

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
