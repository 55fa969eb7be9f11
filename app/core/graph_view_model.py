"""What the graph view shows: name scopes as boxes, aggregated edges, hidden machinery.

A view is described by a `ViewState` (expanded scopes, the training toggle and an
optional neighbourhood focus). `ScopedGraph` turns an `OpGraph` into the visible
nodes for a state: a collapsed scope is one node standing for every op inside it,
an expanded scope is a container whose children are laid out inside its box, and
edges between visible nodes are the op edges aggregated with counts (data and
control apart). Node ids: ops by name (``"enc/MatMul"``), scopes by path with a
trailing slash (``"enc/"``), so an op and a scope of the same name never clash.
Coordinates are `app.core.layout`'s job.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property

from app.core.opgraph import Op, OpGraph
from app.core.suggest import is_machinery

ROOT = ""  # the id of the outermost container (no box is drawn for it)

_PLACEHOLDER_TYPES = {"Placeholder", "PlaceholderWithDefault", "PlaceholderV2"}
_VARIABLE_TYPES = {"VariableV2", "Variable", "VarHandleOp", "AutoReloadVariable",
                   "MutableHashTableV2", "HashTableV2"}
_CONSTANT_TYPES = {"Const", "HostConst"}
_LOOP_BACK_TYPES = {"NextIteration", "RefNextIteration"}
_TRAINING_UPDATE_TYPES = {"AssignSubVariableOp", "AssignAddVariableOp"}


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
    updates (batch norm moving averages) whose control edges reach every gradient."""
    return is_machinery(op) or op.type in _TRAINING_UPDATE_TYPES


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
    kind: str  # "scope", "placeholder", "variable", "constant" or "op"
    label: str
    parent: str  # the container id (ROOT or an expanded scope's id)
    op_count: int  # visible ops inside (1 for an op)
    expanded: bool = False
    op: str | None = None  # the op name for op nodes

    @property
    def is_scope(self) -> bool:
        return self.kind == "scope"


@dataclass(frozen=True, slots=True)
class Edge:
    src: str
    dst: str
    count: int  # underlying op edges
    control: bool  # only control dependencies (drawn dashed)
    back: bool = False  # closes a cycle (a loop, or scopes feeding each other): drawn upward


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
            if p in self.scope_paths and self._ancestors_expanded(p, state.expanded)
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

    def scopes_to_reveal(self, op_name: str) -> set[str]:
        """The scopes to expand so ``op_name`` is drawn as itself."""
        parts = op_name.split("/")
        prefixes = {"/".join(parts[:i]) for i in range(1, len(parts) + 1)}
        return prefixes & self.scope_paths

    def representative(self, op_name: str, expanded: frozenset[str]) -> str:
        """The id of the visible node that stands for ``op_name``."""
        parts = op_name.split("/")
        prefix = ""
        for part in parts:
            prefix = f"{prefix}/{part}" if prefix else part
            if prefix in self.scope_paths and prefix not in expanded:
                return scope_id(prefix)
        return op_name

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
            found = self._build_structure(path, show_training)
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
        layering = [pair for pair, (d, c, back) in edges.items() if d + c > back]
        return Structure(children, edges, hint, layering)

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
        layering = [pair for pair, (d, c, back) in edges.items() if d + c > back]
        return Structure(children, edges, {n: topo[n] for n in ordered}, layering)

    # -- visible edges ------------------------------------------------------------

    def visible_edges(self, state: ViewState) -> dict[tuple[str, str, bool], int]:
        """Op edges between visible nodes, aggregated: (src, dst, control) -> count."""
        if state.focus is not None:
            structure = self.neighbourhood_structure(state)
            return {(a, b, bool(c)): 1 for (a, b), (_d, c, _l) in structure.edges.items()}
        visible = self.visible_ops(state.show_training)
        rep = {name: self.representative(name, state.expanded) for name in visible}
        counts: dict[tuple[str, str, bool], int] = defaultdict(int)
        succ = self.succ(state.show_training)
        for name, a in rep.items():
            for target, control in succ[name]:
                b = rep.get(target)
                if b is not None and b != a:
                    counts[(a, b, control)] += 1
        return dict(counts)
