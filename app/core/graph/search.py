"""Search over every op and tensor name: substring, ``type:OpType`` and regex.

Each op has one lower-cased text holding its name and its tensor names. A plain
word is one vectorised ``numpy.char.find`` over those texts as fixed-width
UTF-8 bytes (a substring of the text is a substring of its bytes): at 100k ops
that is 2-3 ms, a third of a ``str.__contains__`` pass, and the search box runs
it on every keystroke. Once `SearchIndex.index_pieces` has run (the window runs
it while opening), a word without ``/`` is looked for among the distinct pieces of
the names instead (`app.core.graph.name_pieces`), about a third of that. A regex is one
pass in C (``map`` into
``numpy.fromiter``) over the texts as strings. Case-insensitivity comes from the
lower-cased text (and a lower-cased pattern), not ``re.IGNORECASE``, whose slow
path alone would cost more than the 50 ms budget at 100k ops.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cached_property

import numpy as np

from app.core.graph.name_pieces import NamePieces
from app.core.graph.opgraph import Op, OpGraph

_NONE = np.empty(0, dtype=np.intp)
# Texts longer than this many bytes are searched as strings, one by one, so that one
# freak name cannot make the fixed-width array (ops x widest text) huge.
_WIDTH_LIMIT = 256


class SearchResult:
    """The ops a query matched, as positions in ``graph.ops`` (ascending).

    Positions stay a numpy array end to end: a one-letter query at 100k ops matches
    nearly every op, and the op tree filters by position. Names are made on demand.
    """

    def __init__(self, indices: np.ndarray | None = None, names: np.ndarray | None = None,
                 error: str | None = None) -> None:
        self.indices = indices if indices is not None else np.empty(0, dtype=np.intp)
        self._names = names
        self.error = error  # e.g. an invalid regular expression

    def __len__(self) -> int:
        return len(self.indices)

    @cached_property
    def ops(self) -> list[str]:
        """The matching op names, in graph order."""
        return self.head(len(self.indices))

    def head(self, count: int) -> list[str]:
        """The first ``count`` matching op names (without naming all of them)."""
        if self._names is None or not len(self.indices):
            return []
        return self._names[self.indices[:count]].tolist()


def _other_counts(ops: list[Op], type_positions: dict[str, list[int]]) -> Iterator[int]:
    """Positions of the ops whose output count may not be one: those of a type whose
    count plan (the same for every op of the type) is not 1, found per type rather
    than per op."""
    for positions in type_positions.values():
        if ops[positions[0]].count_plan != 1:
            yield from positions


def fold_pattern(pattern: str) -> str:
    """Lower-case a regex except escape letters (``\\D`` must stay ``\\D``)."""
    out = []
    escaped = False
    for char in pattern:
        out.append(char if escaped else char.lower())
        escaped = char == "\\" and not escaped
    return "".join(out)


class SearchIndex:
    def __init__(self, graph: OpGraph) -> None:
        names = list(graph.ops)
        listed = list(graph.ops.values())
        self._names = np.array(names, dtype=object)
        # One name per line, so ^ and $ anchor to a name (MULTILINE). Nearly every op
        # has one output: its lines ("name\nname:0") and its plain text ("name:0": a
        # plain word never holds a line break, and an op's name is the start of its
        # first tensor's name) come from bulk string operations on all the names
        # joined by NULs (lower-casing the joined text equals lower-casing each name,
        # as a NUL ends a word), and the others are patched.
        joined = "\0".join(names).lower()
        lowered = joined.split("\0")
        if len(lowered) == len(names):
            encoded = (joined.replace("\0", ":0\0") + ":0").encode().split(b"\0")
        else:  # no ops, or a NUL inside a name (a foreign GraphDef): name by name
            lowered = [name.lower() for name in names]
            encoded = [f"{name}:0".encode() for name in lowered]
        self._lines = [f"{name}\n{name}:0" for name in lowered]  # faster than map(format)
        for i in _other_counts(listed, graph.type_positions):
            if (count := listed[i].output_count) != 1:
                name = lowered[i]
                self._lines[i] = "\n".join([name, *(f"{name}:{k}" for k in range(count))])
                encoded[i] = self._lines[i].encode()
        self._line_array = np.array(self._lines, dtype=object)
        widths = np.fromiter(map(len, encoded), dtype=np.intp, count=len(encoded))
        self._long_positions = np.flatnonzero(widths > _WIDTH_LIMIT)
        self._long = {int(i): encoded[i].decode() for i in self._long_positions}
        for i in self._long:
            encoded[i] = b""
        width = int(widths[widths <= _WIDTH_LIMIT].max(initial=1))
        self._plain = np.array(encoded, dtype=f"S{width}")
        self._by_type: dict[str, np.ndarray] = {}
        for op_type, positions in graph.type_positions.items():
            key = op_type.lower()
            found = np.array(positions, dtype=np.intp)
            if key in self._by_type:  # types that differ only in case are one
                found = np.sort(np.concatenate([self._by_type[key], found]))
            self._by_type[key] = found
        self._last: tuple[str, np.ndarray] | None = None  # the last plain word and its hits
        self._pieces: NamePieces | None = None

    def index_pieces(self) -> None:
        """Make a plain word's search over all ops look among the names' distinct pieces
        (`app.core.graph.name_pieces`): built once, for whoever searches on every keystroke."""
        if self._pieces is not None:
            return
        texts = self._plain.tolist()
        for i, text in self._long.items():
            texts[i] = text.encode()
        self._pieces = NamePieces(texts)

    def search(self, query: str, regex: bool = False) -> SearchResult:
        """Ops whose name or a tensor name matches every term of ``query``.

        Terms are separated by spaces; ``type:X`` terms keep ops of type X
        (case-insensitive; several are OR-ed). An empty query matches nothing.
        """
        types: list[str] = []
        words: list[str] = []
        for term in query.split():
            if term.lower().startswith("type:") and len(term) > 5:
                types.append(term[5:].lower())
            else:
                words.append(term)
        if not types and not words:
            return SearchResult()

        selected: np.ndarray | None = None
        if types:
            of_types = np.zeros(len(self._names), dtype=bool)
            for name in types:
                of_types[self._by_type.get(name, _NONE)] = True
            selected = np.flatnonzero(of_types)
        for word in words:
            hits = self._matching(word, regex, selected)
            if isinstance(hits, str):
                return SearchResult(error=hits)
            selected = hits
            if not len(selected):
                break
        return SearchResult(selected, self._names)

    def _matching(self, word: str, regex: bool,
                  among: np.ndarray | None) -> np.ndarray | str:
        """Positions of the lines holding ``word`` (only those in ``among``, if given)."""
        if regex:
            try:
                search = re.compile(fold_pattern(word), re.MULTILINE).search
            except re.error as exc:
                return f"invalid regular expression: {exc}"
            lines = self._lines if among is None else self._line_array[among]
            mask = np.fromiter(map(bool, map(search, lines)), dtype=bool, count=len(lines))
            return np.flatnonzero(mask) if among is None else among[mask]

        word = word.lower()
        full = among is None
        by_pieces = full and self._pieces is not None and "/" not in word
        last = self._last
        # Typing on: a word holding the previous one matches a subset of its hits. Worth
        # it up to about 60% of the ops against the full scan (past that, gathering the
        # subset's texts costs more than the scan over the contiguous array saves), and
        # up to about 20% against the names' pieces, which take about a third as long.
        share = 1 / 5 if by_pieces else 3 / 5
        if full and last is not None and last[0] in word \
                and len(last[1]) < len(self._lines) * share:
            among = last[1]
        elif by_pieces:
            hits = np.flatnonzero(self._pieces.holding(word.encode()))
            self._last = (word, hits)
            return hits
        texts = self._plain if among is None else self._plain[among]
        # numpy.char.find is numpy.strings.find (a ufunc) from numpy 2 on; on 1.26 (the
        # oldest numpy pyproject allows) it calls bytes.find per text: same answers, slower.
        mask = np.char.find(texts, word.encode()) >= 0
        if self._long:
            positions = np.arange(len(texts)) if among is None else among
            for j in np.flatnonzero(np.isin(positions, self._long_positions)):
                mask[j] = word in self._long[int(positions[j])]
        hits = np.flatnonzero(mask) if among is None else among[mask]
        if full:
            self._last = (word, hits)
        return hits
