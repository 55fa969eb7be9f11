"""What the graph view shows: name scopes as boxes, aggregated edges, hidden machinery.

A view is described by a `ViewState` (expanded scopes, the training toggle and an
optional neighbourhood focus). `ScopedGraph` turns an `OpGraph` into the visible
nodes for a state: a collapsed scope is one node standing for every op inside it,
an expanded scope is a container whose children are laid out inside its box, and
edges between visible nodes are the op edges aggregated with counts (data and
control apart). Node ids: ops by name (``"enc/MatMul"``), scopes by path with a
trailing slash (``"enc/"``), so an op and a scope of the same name never clash.
Coordinates are `app.core.graph.layout`'s job.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from functools import cached_property

from app.core.graph.machinery import is_machinery
from app.core.graph.opgraph import Op, OpGraph
from app.core.graph.series import Series, Sibling, find_series

ROOT = ""  # the id of the outermost container (no box is drawn for it)

_PLACEHOLDER_TYPES = {"Placeholder", "PlaceholderWithDefault", "PlaceholderV2"}
_VARIABLE_TYPES = {"VariableV2", "Variable", "VarHandleOp", "AutoReloadVariable",
                   "MutableHashTableV2", "HashTableV2"}
_CONSTANT_TYPES = {"Const", "HostConst"}
_LOOP_BACK_TYPES = {"NextIteration", "RefNextIteration"}
_TRAINING_UPDATE_TYPES = {"AssignSubVariableOp", "AssignAddVariableOp"}
_SUMMARY_TYPES = {"ScalarSummary", "HistogramSummary", "ImageSummary", "AudioSummary",
                  "AudioSummaryV2", "TensorSummary", "TensorSummaryV2", "MergeSummary",
                  "WriteSummary", "WriteScalarSummary", "WriteHistogramSummary",
                  "WriteImageSummary", "WriteAudioSummary"}


def op_kind(op: Op) -> str:
    """``placeholder``, ``variable``, ``constant`` or ``op``: how the view draws it."""
    if op.type in _PLACEHOLDER_TYPES:
        return "placeholder"
    if op.type in _VARIABLE_TYPES:
        return "variable"
    if op.type in _CONSTANT_TYPES:
        return "constant"
    return "op"


def is_training_op(op: Op) -> bool:
    """Training machinery the view hides: `is_machinery`, plus resource-variable
    updates (batch norm moving averages) whose control edges reach every gradient,
    plus summary tag constants."""
    return is_machinery(op) or op.type in _TRAINING_UPDATE_TYPES or is_summary_tag(op)


def is_summary_tag(op: Op) -> bool:
    """A constant read only by summary ops: ``tf.summary.scalar("loss", …)`` makes
    ``loss_1/tags``, which would otherwise stand alone as a ``loss_1`` box."""
    if op.type not in _CONSTANT_TYPES or not op.consumers:
        return False
    graph = op.graph
    return graph is not None and all(graph.ops[c].type in _SUMMARY_TYPES for c in op.consumers)


@dataclass(frozen=True)
class ViewState:
    """One picture of the graph; hashable, so it is the layout cache key."""

    expanded: frozenset[str] = frozenset()  # scope paths, no trailing slash
    show_training: bool = False
    focus: str | None = None  # neighbourhood mode: an op name
    hops: int = 2


@dataclass(frozen=True, slots=True)
class Node:
    id: str
    kind: str  # "scope", "series", "placeholder", "variable", "constant" or "op"
    label: str
    parent: str  # the container id (ROOT or an expanded scope's id)
    op_count: int  # visible ops inside (1 for an op)
    expanded: bool = False
    op: str | None = None  # the op name for op nodes

    @property
    def is_scope(self) -> bool:
        """A box that expands: a name scope or a series of sibling scopes."""
        return self.kind in ("scope", "series")

    @property
    def is_series(self) -> bool:
        return self.kind == "series"


@dataclass(frozen=True, slots=True)
class Edge:
    src: str
    dst: str
    count: int  # underlying op edges
    control: bool  # only control dependencies (drawn dashed)
    back: bool = False  # closes a cycle (a loop, or scopes feeding each other): drawn upward
    fanout: bool = False  # from a source feeding many nodes: drawn as markers, not a line


@dataclass
class Structure:
    """A container's children and the op edges between them lifted to child level.

    Independent of which scopes inside the children are expanded, so it is cached
    per (container, training toggle) and reused by every expansion state.
    """

    children: list[Node]
    edges: dict[tuple[str, str], list[int]]  # (a, b) -> [data, control, loop-back]
    order_hint: dict[str, int]  # first op of each child in data-flow order
    layering_edges: list[tuple[str, str]] = field(default_factory=list)
    series: dict[str, Series] = field(default_factory=dict)  # member id -> its series


def _layering(edges: dict[tuple[str, str], list[int]]) -> list[tuple[str, str]]:
    """The edges that decide layers: all but pure loop-back ones (NextIteration)."""
    return [pair for pair, (d, c, back) in edges.items() if d + c > back]


def scope_id(path: str) -> str:
    return path + "/"


def parent_path(path: str) -> str:
    return path.rpartition("/")[0]


class ScopedGraph:
    """An `OpGraph` seen through name scopes; caches per-container structure."""

    def __init__(self, graph: OpGraph) -> None:
        self.graph = graph
        self._structures: dict[tuple[str, bool], Structure] = {}
        self._visible: dict[bool, set[str]] = {}
        self._topo: dict[bool, dict[str, int]] = {}
        self._adjacent: dict[bool, tuple[dict, dict]] = {}

    @cached_property
    def scope_paths(self) -> frozenset[str]:
        """Paths of scopes that hold ops (an op alone at a path is not a scope)."""
        found: set[str] = set()
        for name in self.graph.ops:
            parent = name.rpartition("/")[0]
            while parent and parent not in found:
                found.add(parent)
                parent = parent.rpartition("/")[0]
        return frozenset(found)

    @cached_property
    def machinery(self) -> frozenset[str]:
        return frozenset(name for name, op in self.graph.ops.items() if is_training_op(op))

    def succ(self, show_training: bool) -> dict[str, list[tuple[str, bool]]]:
        """Out-edges between visible ops as plain lists, ``(target, control_only)``.

        The same edges as ``OpGraph.digraph``, read from each visible op's inputs:
        no networkx views in the hot loops, and while training machinery is hidden
        the optimizer's huge control fan-outs are never walked.
        """
        return self._adjacency(show_training)[0]

    def pred(self, show_training: bool) -> dict[str, list[str]]:
        """In-neighbours between visible ops."""
        return self._adjacency(show_training)[1]

    def _adjacency(self, show_training: bool
                   ) -> tuple[dict[str, list[tuple[str, bool]]], dict[str, list[str]]]:
        found = self._adjacent.get(show_training)
        if found is not None:
            return found
        visible = self.visible_ops(show_training)
        ops = self.graph.ops
        succ: dict[str, list[tuple[str, bool]]] = {name: [] for name in visible}
        pred: dict[str, list[str]] = {}
        for name in visible:
            op = ops[name]
            data = [u for u in dict.fromkeys(op.input_ops) if u in visible]
            control = [u for u in dict.fromkeys(op.control_inputs)
                       if u in visible and u not in data]
            for u in data:
                succ[u].append((name, False))
            for u in control:
                succ[u].append((name, True))
            pred[name] = data + control
        found = self._adjacent[show_training] = (succ, pred)
        return found

    def topo_index(self, show_training: bool) -> dict[str, int]:
        """Data-flow position of every visible op (Kahn's algorithm over visible edges).

        Loop back edges (NextIteration) are left out first; ops still on a cycle
        follow in graph order.
        """
        found = self._topo.get(show_training)
        if found is not None:
            return found
        visible = self.visible_ops(show_training)
        ops = self.graph.ops
        succ = self.succ(show_training)
        targets = {
            name: [t for t, _ in succ[name]]
            for name in ops if name in visible and ops[name].type not in _LOOP_BACK_TYPES
        }
        indegree = dict.fromkeys(visible, 0)
        for outs in targets.values():
            for t in outs:
                indegree[t] += 1
        ready = [n for n in ops if n in visible and indegree[n] == 0]
        order: list[str] = []
        while ready:
            name = ready.pop()
            order.append(name)
            for t in targets.get(name, ()):
                indegree[t] -= 1
                if indegree[t] == 0:
                    ready.append(t)
        if len(order) < len(visible):
            placed = set(order)
            order.extend(n for n in ops if n in visible and n not in placed)
        found = {name: i for i, name in enumerate(order)}
        self._topo[show_training] = found
        return found

    def visible_ops(self, show_training: bool) -> set[str]:
        found = self._visible.get(show_training)
        if found is None:
            found = set(self.graph.ops)
            if not show_training:
                found -= self.machinery
            self._visible[show_training] = found
        return found

    def normalize(self, state: ViewState) -> ViewState:
        """Drop expanded scopes that are unknown or inside a collapsed scope."""
        expanded = frozenset(
            p for p in state.expanded
            if (p in self.scope_paths or self.series_at(p, state.show_training) is not None)
            and self._ancestors_expanded(p, state.expanded)
        )
        focus = state.focus if state.focus in self.graph.ops else None
        if focus is not None:
            expanded = frozenset()
        return ViewState(expanded, state.show_training, focus, max(0, state.hops))

    @staticmethod
    def _ancestors_expanded(path: str, expanded: frozenset[str]) -> bool:
        parent = parent_path(path)
        while parent:
            if parent not in expanded:
                return False
            parent = parent_path(parent)
        return True

    def scopes_to_reveal(self, op_name: str, show_training: bool = False) -> set[str]:
        """The scopes and series to expand so ``op_name`` is drawn as itself."""
        parts = op_name.split("/")
        found: set[str] = set()
        container = ROOT
        for i in range(1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            is_scope = prefix in self.scope_paths
            child = scope_id(prefix) if is_scope else prefix
            series = self.structure(container, show_training).series.get(child)
            if series is not None:
                found.add(series.path)
            if not is_scope:
                break
            found.add(prefix)
            container = prefix
        return found

    def representative(self, op_name: str, expanded: frozenset[str],
                       show_training: bool = False) -> str:
        """The id of the visible node that stands for ``op_name``.

        At each level the op's ancestor may be a member of a collapsed series (the
        series stands for it) or a collapsed scope (the scope does).
        """
        parts = op_name.split("/")
        prefix = ""
        container = ROOT
        for part in parts:
            prefix = f"{prefix}/{part}" if prefix else part
            is_scope = prefix in self.scope_paths
            child = scope_id(prefix) if is_scope else prefix
            series = self._series_of(container, show_training).get(child)
            if series is not None and series.path not in expanded:
                return series.id
            if is_scope and prefix not in expanded:
                return scope_id(prefix)
            container = prefix
        return op_name

    def _series_of(self, container: str, show_training: bool) -> dict[str, Series]:
        found = self._structures.get((container, show_training))
        if found is None:
            found = self.structure(container, show_training)
        return found.series

    def series_at(self, path: str, show_training: bool) -> Series | None:
        """The series whose expansion key is ``path``, if there is one."""
        if path in self.scope_paths or "[" not in path:
            return None
        container = parent_path(path)
        if container and container not in self.scope_paths:
            return None
        for series in self._series_of(container, show_training).values():
            if series.path == path:
                return series
        return None

    # -- containers ---------------------------------------------------------------

    def ops_under(self, path: str) -> list[str]:
        """Ops in the scope at ``path``, its own op included."""
        if not path:
            return list(self.graph.ops)
        scope = self.graph.scope_node(path)
        if scope is None:
            return []
        return [n.op.name for n in scope.walk() if n.op is not None]

    def structure(self, path: str, show_training: bool) -> Structure:
        """Children of the container at ``path`` (ROOT for the whole graph) and their edges."""
        key = (path, show_training)
        found = self._structures.get(key)
        if found is None:
            series = self.series_at(path, show_training)  # registers series structures
            found = self._structures.get(key)
            if found is None:
                found = self._build_structure(path, show_training) if series is None \
                    else Structure([], {}, {})
                self._structures[key] = found
        return found

    def _build_structure(self, path: str, show_training: bool) -> Structure:
        visible = self.visible_ops(show_training)
        depth = len(path.split("/")) if path else 0
        inside = [name for name in self.ops_under(path) if name in visible]
        child_of: dict[str, str] = {}
        counts: dict[str, int] = defaultdict(int)
        hint: dict[str, int] = {}
        topo = self.topo_index(show_training)
        for name in inside:
            child = self._child_id(name, depth)
            child_of[name] = child
            counts[child] += 1
            position = topo[name]
            if position < hint.get(child, position + 1):
                hint[child] = position
        ops = self.graph.ops
        succ = self.succ(show_training)
        edges: dict[tuple[str, str], list[int]] = {}
        for name in inside:
            a = child_of[name]
            loop_back = ops[name].type in _LOOP_BACK_TYPES
            for target, control in succ[name]:
                b = child_of.get(target)
                if b is None or a == b:
                    continue
                tally = edges.get((a, b))
                if tally is None:
                    tally = edges[(a, b)] = [0, 0, 0]
                tally[1 if control else 0] += 1
                if loop_back:
                    tally[2] += 1
        children = [self._node(child, path, counts[child]) for child in
                    sorted(counts, key=hint.__getitem__)]
        raw = Structure(children, edges, hint, _layering(edges))
        return self._group_series(path, raw, show_training)

    def _group_series(self, path: str, raw: Structure, show_training: bool) -> Structure:
        """``raw`` with each series of siblings replaced by one series node.

        Each series also gets its own structure (its members and the edges between
        them), the container an expanded series box lays out.
        """
        ops = self.graph.ops
        siblings = [Sibling(c.id, c.label, "scope" if c.is_scope else ops[c.id].type)
                    for c in raw.children]
        found = find_series(path, siblings, raw.edges)
        if not found:
            return raw
        owner: dict[str, Series] = {}
        for series in found:
            owner.update(dict.fromkeys(series.members, series))
        by_id = {c.id: c for c in raw.children}
        parent = scope_id(path) if path else ROOT
        children: list[Node] = []
        for child in raw.children:
            series = owner.get(child.id)
            if series is None:
                children.append(child)
            elif child.id == min(series.members, key=raw.order_hint.__getitem__):
                count = sum(by_id[m].op_count for m in series.members)
                children.append(Node(series.id, "series", series.label, parent, count))
        edges: dict[tuple[str, str], list[int]] = {}
        inner: dict[str, dict[tuple[str, str], list[int]]] = defaultdict(dict)
        for (a, b), tally in raw.edges.items():
            sa, sb = owner.get(a), owner.get(b)
            if sa is not None and sa is sb:
                inner[sa.path][(a, b)] = tally
                continue
            key = (sa.id if sa else a, sb.id if sb else b)
            merged = edges.setdefault(key, [0, 0, 0])
            for i in range(3):
                merged[i] += tally[i]
        hint = {n.id: raw.order_hint[n.id] for n in children if n.id in raw.order_hint}
        for series in found:
            hint[series.id] = min(raw.order_hint[m] for m in series.members)
            members = [replace(by_id[m], parent=series.id)
                       for m in sorted(series.members, key=raw.order_hint.__getitem__)]
            inner_edges = inner.get(series.path, {})
            self._structures[(series.path, show_training)] = Structure(
                members, inner_edges, {m.id: raw.order_hint[m.id] for m in members},
                _layering(inner_edges))
        children.sort(key=lambda n: hint[n.id])
        return Structure(children, edges, hint, _layering(edges), owner)

    def _child_id(self, op_name: str, depth: int) -> str:
        parts = op_name.split("/")
        if len(parts) == depth:  # the container's own op ("enc" inside "enc/")
            return op_name
        prefix = "/".join(parts[: depth + 1])
        return scope_id(prefix) if prefix in self.scope_paths else prefix

    def _node(self, node_id: str, container: str, count: int) -> Node:
        parent = scope_id(container) if container else ROOT
        if node_id.endswith("/"):
            label = node_id[:-1].rpartition("/")[2]
            return Node(node_id, "scope", label, parent, count)
        op = self.graph.ops[node_id]
        return Node(node_id, op_kind(op), node_id.rpartition("/")[2], parent, 1, op=node_id)

    # -- neighbourhood ------------------------------------------------------------

    def neighbourhood(self, op_name: str, hops: int, show_training: bool) -> set[str]:
        """Ops within ``hops`` edges of ``op_name``, edge direction ignored."""
        training = show_training or op_name in self.machinery
        succ, pred = self._adjacency(training)
        seen = {op_name}
        frontier = [op_name]
        for _ in range(hops):
            reached = []
            for name in frontier:
                for near in (*(t for t, _ in succ[name]), *pred[name]):
                    if near not in seen:
                        seen.add(near)
                        reached.append(near)
            frontier = reached
        return seen

    def neighbourhood_structure(self, state: ViewState) -> Structure:
        assert state.focus is not None
        members = self.neighbourhood(state.focus, state.hops, state.show_training)
        topo = self.topo_index(state.show_training)
        ordered = sorted(members, key=topo.__getitem__)
        ops = self.graph.ops
        children = [Node(name, op_kind(ops[name]), name, ROOT, 1, op=name) for name in ordered]
        edges: dict[tuple[str, str], list[int]] = {}
        succ = self.succ(state.show_training or state.focus in self.machinery)
        for name in ordered:
            loop_back = ops[name].type in _LOOP_BACK_TYPES
            for target, control in succ[name]:
                if target in members:
                    edges[(name, target)] = [int(not control), int(control), int(loop_back)]
        return Structure(children, edges, {n: topo[n] for n in ordered}, _layering(edges))

    # -- visible edges ------------------------------------------------------------

    def visible_edges(self, state: ViewState) -> dict[tuple[str, str, bool], int]:
        """Op edges between visible nodes, aggregated: (src, dst, control) -> count."""
        if state.focus is not None:
            structure = self.neighbourhood_structure(state)
            return {(a, b, bool(c)): 1 for (a, b), (_d, c, _l) in structure.edges.items()}
        visible = self.visible_ops(state.show_training)
        rep = {name: self.representative(name, state.expanded, state.show_training)
               for name in visible}
        counts: dict[tuple[str, str, bool], int] = defaultdict(int)
        succ = self.succ(state.show_training)
        for name, a in rep.items():
            for target, control in succ[name]:
                b = rep.get(target)
                if b is not None and b != a:
                    counts[(a, b, control)] += 1
        return dict(counts)
