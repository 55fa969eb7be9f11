"""Which ops hold a word, found among the distinct pieces of their names, not per op.

A word of the search box never holds ``/`` here, so it occurs in an op's text
(``a/b/c:0``) exactly when it occurs in one of the text's ``/``-separated pieces: a
scope component (``a``, ``b``) or the leaf (``c:0``); the text of an op with several
outputs (``a/b\na/b:0\na/b:1``) splits the same way. Op names repeat
their pieces: the 100k-op synthetic graph has 122 distinct scope components and 33
distinct leaves over 50k scopes. So a word is looked for once per distinct piece
and leaf, a scope holds it when any of its components does, and an op when its
scope or its leaf does: two gathers over the ops instead of a substring scan of
every op's text, about a third of the time at 100k ops.

Building this is Python work over every op (~70 ms at 100k ops, ~12 ms at 10k), so
it is not part of opening a checkpoint: whoever searches on every keystroke (the
window) builds it with the rest of its opening work (`SearchIndex.index_pieces`).

- ``NamePieces(texts)``: ``texts`` are the ops' lower-cased search texts as UTF-8
  bytes (several lines for an op with several outputs).
- ``.holding(word)``: a boolean per op, whether its text holds ``word`` (lower-cased
  UTF-8 bytes without ``/``).
"""

from __future__ import annotations

import numpy as np


def _distinct(items: list[bytes]) -> np.ndarray:
    """``items`` as a fixed-width bytes array (what ``numpy.char.find`` scans fastest)."""
    return np.array(items, dtype=f"S{max(1, max(map(len, items), default=1))}")


class NamePieces:
    """The ops' texts as (scope, leaf) pairs of distinct pieces (see module doc)."""

    def __init__(self, texts: list[bytes]) -> None:
        scopes: dict[bytes, int] = {}
        leaves: dict[bytes, int] = {}
        scope_id, leaf_id = scopes.setdefault, leaves.setdefault
        scope_of: list[int] = []
        leaf_of: list[int] = []
        for text in texts:
            scope, _, leaf = text.rpartition(b"/")
            scope_of.append(scope_id(scope, len(scopes)))
            leaf_of.append(leaf_id(leaf, len(leaves)))
        pieces: dict[bytes, int] = {}
        piece_id = pieces.setdefault
        scope_pieces: list[int] = []
        starts: list[int] = []
        for scope in scopes:  # ids in insertion order: scope i is the i-th key
            starts.append(len(scope_pieces))
            scope_pieces.extend(piece_id(piece, len(pieces)) for piece in scope.split(b"/"))
        self._scope_of = np.array(scope_of, dtype=np.intp)
        self._leaf_of = np.array(leaf_of, dtype=np.intp)
        self._scope_pieces = np.array(scope_pieces, dtype=np.intp)
        self._starts = np.array(starts, dtype=np.intp)
        self._pieces = _distinct(list(pieces))
        self._leaves = _distinct(list(leaves))

    def holding(self, word: bytes) -> np.ndarray:
        """Whether each op's text holds ``word`` (one bool per op, in the texts' order)."""
        if not len(self._scope_of):
            return np.zeros(0, dtype=bool)
        in_leaf = np.char.find(self._leaves, word) >= 0
        in_piece = np.char.find(self._pieces, word) >= 0
        # Every scope has at least one piece (b"" for ops at the top), so no segment of
        # the reduction is empty.
        in_scope = np.logical_or.reduceat(in_piece[self._scope_pieces], self._starts)
        return in_leaf[self._leaf_of] | in_scope[self._scope_of]
