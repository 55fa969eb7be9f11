"""Search over every op and tensor name: substring, ``type:OpType`` and regex.

Each op has one lower-cased text holding its name and its tensor names, and a
query is one tight comprehension over those plain strings. Case-insensitivity
comes from the lower-cased text (and a lower-cased pattern), not
``re.IGNORECASE``, whose slow path alone would cost more than the 50 ms budget
at 100k ops.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field
from itertools import compress, repeat

import numpy as np

from app.core.opgraph import OpGraph


@dataclass(frozen=True)
class SearchResult:
    ops: list[str]  # matching op names, in graph order
    error: str | None = None  # e.g. an invalid regular expression
    indices: list[int] = field(default_factory=list)  # positions of `ops` in graph.ops

    def __len__(self) -> int:
        return len(self.ops)


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
        self._names = np.array(list(graph.ops), dtype=object)
        # One name per line, so ^ and $ anchor to a name (MULTILINE); lower-cased in
        # one pass over all of them.
        raw = [
            f"{name}\n{name}:0" if count == 1
            else "\n".join([name, *(f"{name}:{i}" for i in range(count))])
            for name, count in ((name, op.output_count) for name, op in graph.ops.items())
        ]
        self._lines = "\0".join(raw).lower().split("\0")
        by_type: dict[str, list[int]] = {}
        for i, op in enumerate(graph.ops.values()):
            by_type.setdefault(op.type.lower(), []).append(i)
        self._by_type = by_type

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
            return SearchResult([])

        selected: list[int] | None = None
        if types:
            selected = sorted({i for t in types for i in self._by_type.get(t, ())})
        for word in words:
            hits = self._matching(word, regex)
            if isinstance(hits, str):
                return SearchResult([], error=hits)
            if selected is not None:
                keep = set(hits)
                hits = [i for i in selected if i in keep]
            selected = hits
            if not selected:
                break
        selected = selected or []
        ops = self._names[np.asarray(selected, dtype=np.intp)].tolist() if selected else []
        return SearchResult(ops, indices=selected)

    def _matching(self, word: str, regex: bool) -> list[int] | str:
        if not regex:
            # map/compress keep the per-line loop in C: a one-letter query at 100k ops
            # matches nearly every line.
            found = map(operator.contains, self._lines, repeat(word.lower()))
            return list(compress(range(len(self._lines)), found))
        try:
            search = re.compile(fold_pattern(word), re.MULTILINE).search
        except re.error as exc:
            return f"invalid regular expression: {exc}"
        return list(compress(range(len(self._lines)), map(search, self._lines)))
