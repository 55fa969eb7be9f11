"""Search over every op and tensor name: substring, ``type:OpType`` and regex.

Each op has one lower-cased line holding its name and its tensor names, so a
query is one tight comprehension over plain strings (no per-op Python objects),
which keeps a query well under 50 ms at 100k ops.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.core.opgraph import OpGraph


@dataclass(frozen=True)
class SearchResult:
    ops: list[str]  # matching op names, in graph order
    error: str | None = None  # e.g. an invalid regular expression

    def __len__(self) -> int:
        return len(self.ops)


class SearchIndex:
    def __init__(self, graph: OpGraph) -> None:
        self._names = list(graph.ops)
        self._lines = [
            " ".join([op.name, *(t.name for t in op.outputs)]).lower()
            for op in graph.ops.values()
        ]
        self._by_type: dict[str, list[int]] = {}
        for i, op in enumerate(graph.ops.values()):
            self._by_type.setdefault(op.type.lower(), []).append(i)

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

        selected: set[int] | None = None
        if types:
            selected = set()
            for t in types:
                selected.update(self._by_type.get(t, ()))
        for word in words:
            hits = self._matching(word, regex)
            if isinstance(hits, str):
                return SearchResult([], error=hits)
            selected = hits if selected is None else selected & hits
            if not selected:
                break
        names = self._names
        return SearchResult([names[i] for i in sorted(selected or ())])

    def _matching(self, word: str, regex: bool) -> set[int] | str:
        lines = self._lines
        if not regex:
            needle = word.lower()
            return {i for i, line in enumerate(lines) if needle in line}
        try:
            search = re.compile(word, re.IGNORECASE).search
        except re.error as exc:
            return f"invalid regular expression: {exc}"
        return {i for i, line in enumerate(lines) if search(line)}
