"""Runs of one loaded export, remembered so a later check with the same feeds reuses them.

Verification and the warmup replay both run the staged SavedModel on sample
inputs, and the warmup records are built from the same deterministic samples:
the record at batch 1 is verification's first example sent alone (and a record
at verification's batch size would be its batch). The replay asks one thing of a record:
that it runs on the loaded model. A record whose fetches and feeds equal a run
this very session already answered has run, so it is not run a second time.
Feeds compare by dtype, shape and value; anything else runs.
"""

from __future__ import annotations

from typing import Any


def same_feeds(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two feed dicts name the same tensors with equal arrays (dtype included)."""
    import numpy as np

    if a.keys() != b.keys():
        return False
    for name, left in a.items():
        left, right = np.asarray(left), np.asarray(b[name])
        if left.dtype != right.dtype or left.shape != right.shape:
            return False
        if not np.array_equal(left, right):
            return False
    return True


class SharedRuns:
    """``run(fetches, feeds)`` on one session, and ``answered`` for runs it already did."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.count = 0  # runs actually executed (the benchmark and tests read it)
        self._done: list[tuple[list[str], dict[str, Any], list[Any]]] = []

    def run(self, fetches: list[str], feeds: dict[str, Any]) -> list[Any]:
        """Run the session; remember the answer (errors propagate and are not remembered)."""
        values = self.session.run(list(fetches), feeds)
        self.count += 1
        self._done.append((list(fetches), dict(feeds), values))
        return values

    def answered(self, fetches: list[str], feeds: dict[str, Any]) -> list[Any] | None:
        """The values of an earlier run with these exact fetches and feeds, or None."""
        for done_fetches, done_feeds, values in self._done:
            if done_fetches == list(fetches) and same_feeds(done_feeds, feeds):
                return values
        return None
