"""Series: repeated sibling scopes or ops drawn as one box (``conv2_block[1-3]``).

Keras names every layer at the top level (``conv2_block1_1_conv``, ``conv2_block1_1_bn``,
… ``conv5_block3_out``), so a ResNet-50 has about 170 sibling scopes in one chain.
TensorBoard's graph plugin (``tf_graph_common/hierarchy.ts``: ``clusterNodes``,
``detectSeriesAnywhereInNodeName``, ``addSeriesToDict``) groups siblings whose names
differ only in one number: it clusters sibling *ops* by op type, keys each name by the
text around one of its numbers, and turns runs of consecutive numbers into a series.

Signet keeps that idea and changes three things so it works on Keras layer names:

- a series member is everything named ``<prefix><N>`` followed by a non-digit or the
  end, so one member (``conv2_block1``) may be several siblings (``…_1_conv``,
  ``…_1_bn``, ``…_add``). Consecutive members must look alike (their name rests and
  kinds overlap by ``SIMILAR``), so ``conv1_…`` and ``conv2_…`` never join;
- the outermost number wins (``conv2_block[1-3]`` over ``conv2_block1_[1-3]``), and a
  series needs ``MIN_SERIES`` consecutive numbers and may not be every sibling (one box
  standing for a whole container says nothing);
- a series may not close a cycle among its siblings: a series that data leaves and comes
  back to (``conv2d_[1-52]`` interleaved with ``batch_normalization_[1-52]``) would
  draw a chain as two boxes feeding each other, so it stays ungrouped.

Plain data in, plain data out: `find_series` knows nothing of graphs or Qt.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import networkx as nx

MIN_SERIES = 3  # consecutive numbers before siblings become a series
# Least overlap (Jaccard) of neighbouring members' name rests. ResNet blocks overlap
# by 0.85 (block 1 adds a projection shortcut); stages of 3, 4 and 6 blocks by 0.68 to
# 0.76, and must stay apart, or one conv[2-5] box would swallow the whole body.
SIMILAR = 0.8
ROUNDS = 3  # choose-and-check rounds before cyclic runs are simply dropped
SERIES_MARK = "*"  # a series node id is its path plus this mark (scopes end with "/")

_NUMBER = re.compile(r"\d+")


_Run = tuple[str, tuple[int, ...]]  # (prefix, consecutive numbers)


@dataclass(frozen=True)
class Series:
    """Siblings grouped under one box; ``path`` is what `ViewState.expanded` holds."""

    path: str  # container path + "/" + label (just the label at the top level)
    label: str  # "conv2_block[1-3]"
    members: tuple[str, ...]  # sibling ids, in the order they were given
    numbers: tuple[int, ...]  # the run, ascending

    @property
    def id(self) -> str:
        return self.path + SERIES_MARK


def is_series_id(node_id: str) -> bool:
    return node_id.endswith(SERIES_MARK)


@dataclass(frozen=True)
class Sibling:
    """One child of a container as series detection sees it."""

    id: str  # the view's node id ("enc/" for a scope, the op name for an op)
    leaf: str  # last name part
    kind: str  # "scope", or the op type: ops of different types never share a member


def find_series(container: str, siblings: list[Sibling],
                edges: Iterable[tuple[str, str]]) -> list[Series]:
    """Series among ``siblings`` of the container at path ``container`` (ROOT is "").

    ``edges`` are the sibling-level edges (ids of ``siblings``); they decide which
    groupings would close a cycle. Each sibling is in at most one series.
    """
    if len(siblings) < MIN_SERIES:
        return []
    candidates = _candidate_runs(siblings)
    if not candidates:
        return []
    edge_list = list(edges)
    banned: set[_Run] = set()
    for _round in range(ROUNDS):  # a banned run may leave room for another grouping
        chosen = _choose(candidates, banned, len(siblings))
        cyclic = _closing_cycles(chosen, edge_list)
        if not cyclic:
            break
        banned |= cyclic
    else:  # dropping every run on a cycle at once leaves none on a cycle
        chosen = {run: found for run, found in chosen.items() if run not in cyclic}
    parent = container + "/" if container else ""
    found = []
    for (prefix, numbers), (members, rest) in chosen.items():
        label = f"{prefix}[{numbers[0]}-{numbers[-1]}]{rest}"
        found.append(Series(parent + label, label, members, numbers))
    return found


def _candidate_runs(siblings: list[Sibling]) -> dict[_Run, tuple[tuple[str, ...], str]]:
    """Every run of ``MIN_SERIES`` or more alike members, with its sibling ids and the
    name rest they all share ("" when they differ)."""
    by_prefix: dict[str, dict[int, list[tuple[str, str, str]]]] = defaultdict(
        lambda: defaultdict(list))
    plain: dict[str, Sibling] = {}
    for sibling in siblings:
        matched = False
        for match in _NUMBER.finditer(sibling.leaf):
            prefix = sibling.leaf[:match.start()]
            if not prefix:
                continue
            matched = True
            by_prefix[prefix][int(match.group())].append(
                (sibling.id, sibling.leaf[match.end():], sibling.kind))
        if not matched:
            plain[sibling.leaf] = sibling
    # TensorFlow uniquifies "Const", "Const_1", "Const_2": the plain name is number 0.
    for leaf, sibling in plain.items():
        numbered = by_prefix.get(leaf + "_")
        if numbered is not None and 0 not in numbered:
            numbered[0].append((sibling.id, "", sibling.kind))
    runs: dict[_Run, tuple[tuple[str, ...], str]] = {}
    for prefix, members in by_prefix.items():
        if len(members) < MIN_SERIES:
            continue
        numbers = sorted(members)
        run = [numbers[0]]
        for number in [*numbers[1:], None]:
            if number is not None and number == run[-1] + 1 and _alike(
                    members[run[-1]], members[number]):
                run.append(number)
                continue
            if len(run) >= MIN_SERIES:
                entries = [e for n in run for e in members[n]]
                rests = {rest for _id, rest, _kind in entries}
                ids = tuple(sibling_id for sibling_id, _rest, _kind in entries)
                runs[(prefix, tuple(run))] = (ids, rests.pop() if len(rests) == 1 else "")
            if number is not None:
                run = [number]
    return runs


def _alike(a: list[tuple[str, str, str]], b: list[tuple[str, str, str]]) -> bool:
    sa = {(rest, kind) for _id, rest, kind in a}
    sb = {(rest, kind) for _id, rest, kind in b}
    return len(sa & sb) >= SIMILAR * len(sa | sb)


def _choose(candidates: dict[_Run, tuple[tuple[str, ...], str]], banned: set[_Run],
            sibling_count: int) -> dict[_Run, tuple[tuple[str, ...], str]]:
    """Outermost number first (shortest prefix), then the longest run; no sibling twice."""
    taken: set[str] = set()
    chosen = {}
    order = sorted(candidates, key=lambda r: (len(r[0]), -len(candidates[r][0]), r))
    for run in order:
        members, rest = candidates[run]
        if run in banned or len(members) >= sibling_count or taken.intersection(members):
            continue
        taken.update(members)
        chosen[run] = (members, rest)
    return chosen


def _closing_cycles(chosen: dict[_Run, tuple[tuple[str, ...], str]],
                    edges: list[tuple[str, str]]) -> set[_Run]:
    """The chosen runs that sit on a cycle once their members are merged."""
    if not chosen:
        return set()
    owner = {member: run for run, (members, _rest) in chosen.items() for member in members}
    graph = nx.DiGraph()
    for a, b in edges:
        ra, rb = owner.get(a, a), owner.get(b, b)
        if ra != rb:
            graph.add_edge(ra, rb)
    cyclic: set[_Run] = set()
    for component in nx.strongly_connected_components(graph):
        if len(component) > 1:
            cyclic.update(node for node in component if node in chosen)
    return cyclic
