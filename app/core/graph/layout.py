"""Layered (Sugiyama-style) coordinates for the graph view, nested by name scope.

Each container (the whole graph, or an expanded scope) lays out its children on
its own: cycles broken inside strongly connected components against data-flow
order, layers from networkx topological generations (sources pulled down next to
their first consumer), order within layers by barycenter sweeps to cut crossings,
then x positions pulled towards neighbours. An expanded child is a box sized by
its own nested layout. Layerings are cached per container and placements per
container and expansion state inside it, so expanding one scope re-lays out only
that scope and re-places its ancestors. Results are plain data:
``GraphLayout.boxes`` maps node id to ``(x, y, w, h)``, top left origin, y down.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

import networkx as nx

from app.core.errors import Cancelled
from app.core.graph.graph_view_model import (
    ROOT,
    Edge,
    Node,
    ScopedGraph,
    Structure,
    ViewState,
)
from app.core.graph.opgraph import OpGraph

Box = tuple[float, float, float, float]

CHAR_WIDTH = 7.0  # average label character width the view's font is chosen to match
OP_HEIGHT = 28.0
SCOPE_HEIGHT = 44.0
PAD = 14.0  # inside an expanded box
HEADER = 30.0  # title strip of an expanded box
GAP_X = 24.0
GAP_Y = 44.0
SWEEPS = 4
FANOUT_MIN = 5  # a source feeding this many visible nodes is drawn once, with markers


def op_size(label: str) -> tuple[float, float]:
    return min(max(len(label) * CHAR_WIDTH + 24.0, 64.0), 240.0), OP_HEIGHT


def scope_size(label: str, op_count: int) -> tuple[float, float]:
    chars = max(len(label), len(count_text(op_count)))
    return min(max(chars * CHAR_WIDTH + 32.0, 96.0), 260.0), SCOPE_HEIGHT


def count_text(op_count: int) -> str:
    return f"{op_count} op" if op_count == 1 else f"{op_count} ops"


@dataclass
class Layering:
    layers: list[list[str]]  # top to bottom, each in left-to-right order
    layer_of: dict[str, int]
    preds: dict[str, list[str]]
    succs: dict[str, list[str]]


def layer_and_order(nodes: list[str], edges: Iterable[tuple[str, str]],
                    hint: dict[str, int], sweeps: int = SWEEPS) -> Layering:
    """Assign layers (edges point down) and an order within layers with few crossings."""
    graph = nx.DiGraph()
    graph.add_nodes_from(nodes)
    graph.add_edges_from(edges)
    graph.remove_edges_from(nx.selfloop_edges(graph))
    rank = {n: (hint.get(n, 0), n) for n in nodes}
    back = [
        (u, v)
        for component in nx.strongly_connected_components(graph) if len(component) > 1
        for u in component for v in graph.succ[u]
        if v in component and rank[u] >= rank[v]
    ]
    graph.remove_edges_from(back)
    layer_of: dict[str, int] = {}
    for index, generation in enumerate(nx.topological_generations(graph)):
        for node in generation:
            layer_of[node] = index
    for node in nodes:  # a constant or variable sits just above its first reader
        if graph.in_degree(node) == 0 and graph.out_degree(node) > 0:
            layer_of[node] = min(layer_of[s] for s in graph.succ[node]) - 1
    count = max(layer_of.values(), default=-1) + 1
    layers: list[list[str]] = [[] for _ in range(count)]
    for node in sorted(nodes, key=rank.__getitem__):
        layers[layer_of[node]].append(node)
    layers = [layer for layer in layers if layer]
    layer_of = {node: i for i, layer in enumerate(layers) for node in layer}
    preds = {n: list(graph.pred[n]) for n in nodes}
    succs = {n: list(graph.succ[n]) for n in nodes}

    position = {}
    for layer in layers:
        _set_positions(layer, position)
    for sweep in range(sweeps):
        downward = sweep % 2 == 0
        neighbours = preds if downward else succs
        sequence = layers[1:] if downward else list(reversed(layers[:-1]))
        for layer in sequence:
            keys = {}
            for node in layer:
                near = neighbours[node]
                keys[node] = (sum(position[m] for m in near) / len(near) if near
                              else position[node])
            layer.sort(key=keys.__getitem__)
            _set_positions(layer, position)
    return Layering(layers, layer_of, preds, succs)


def _set_positions(layer: list[str], position: dict[str, float]) -> None:
    middle = (len(layer) - 1) / 2
    for i, node in enumerate(layer):
        position[node] = i - middle


def place(layering: Layering, sizes: dict[str, tuple[float, float]]
          ) -> tuple[dict[str, Box], float, float]:
    """x and y for every node: layers stacked downwards, nodes pulled under their inputs."""
    centre: dict[str, float] = {}
    for layer in layering.layers:
        width = sum(sizes[n][0] for n in layer) + GAP_X * (len(layer) - 1)
        left = -width / 2
        for node in layer:
            w = sizes[node][0]
            centre[node] = left + w / 2
            left += w + GAP_X
    passes = ((layering.layers, layering.preds), (list(reversed(layering.layers)),
                                                   layering.succs))
    for layers, neighbours in passes:
        for layer in layers:
            desired = []
            for node in layer:
                near = neighbours[node]
                desired.append(sum(centre[m] for m in near) / len(near) if near
                               else centre[node])
            _pack(layer, desired, sizes, centre)
    boxes: dict[str, Box] = {}
    top = 0.0
    lefts = [centre[n] - sizes[n][0] / 2 for n in centre]
    shift = -min(lefts, default=0.0)
    right = 0.0
    for layer in layering.layers:
        height = max(sizes[n][1] for n in layer)
        for node in layer:
            w, h = sizes[node]
            x = centre[node] - w / 2 + shift
            boxes[node] = (x, top, w, h)
            right = max(right, x + w)
        top += height + GAP_Y
    return boxes, right, max(top - GAP_Y, 0.0)


def _pack(layer: list[str], desired: list[float], sizes: dict[str, tuple[float, float]],
          centre: dict[str, float]) -> None:
    """Put nodes as near their desired centres as the order and spacing allow."""
    placed = []
    limit = float("-inf")
    for node, want in zip(layer, desired, strict=True):
        w = sizes[node][0]
        x = max(want, limit + w / 2)
        placed.append(x)
        limit = x + w / 2 + GAP_X
    shift = sum(d - p for d, p in zip(desired, placed, strict=True)) / len(layer)
    for node, x in zip(layer, placed, strict=True):
        centre[node] = x + shift


@dataclass
class GraphLayout:
    """A laid-out view: nodes, their boxes and the aggregated edges between them."""

    state: ViewState
    nodes: dict[str, Node]  # visible nodes, expanded scope boxes included
    boxes: dict[str, Box]
    edges: list[Edge]
    width: float
    height: float
    fanout: dict[str, int] = field(default_factory=dict)  # source id -> nodes it feeds

    def children(self, container: str) -> list[Node]:
        return [n for n in self.nodes.values() if n.parent == container]


@dataclass
class _Placed:
    structure: Structure
    layering: Layering
    boxes: dict[str, Box]  # relative to the container's inner origin
    width: float
    height: float


class GraphLayouter:
    """Lays out `ViewState`s of one graph; keeps caches, so use it from one thread at a time."""

    def __init__(self, graph: OpGraph, cache_size: int = 32) -> None:
        self.scoped = ScopedGraph(graph)
        self._layerings: dict[tuple[str, bool], Layering] = {}
        self._placed: dict[tuple[str, bool, frozenset[str]], _Placed] = {}
        self._layouts: OrderedDict[ViewState, GraphLayout] = OrderedDict()
        self._cache_size = cache_size
        self._cancelled: Callable[[], bool] | None = None
        self._inside: dict[str, frozenset[str]] = {}

    def layout(self, state: ViewState,
               cancelled: Callable[[], bool] | None = None) -> GraphLayout:
        """The layout for ``state`` (normalized first); raises `Cancelled` when asked to stop."""
        state = self.scoped.normalize(state)
        found = self._layouts.get(state)
        if found is not None:
            self._layouts.move_to_end(state)
            return found
        self._cancelled = cancelled
        self._inside = _expanded_inside(state.expanded)
        if state.focus is not None:
            structure = self.scoped.neighbourhood_structure(state)
            placed = self._place(structure, self._layer(structure), state)
        else:
            placed = self._container(ROOT, state)
        nodes: dict[str, Node] = {}
        boxes: dict[str, Box] = {}
        layerings: dict[str, Layering] = {}
        self._compose(placed, ROOT, 0.0, 0.0, state, nodes, boxes, layerings)
        visible = self.scoped.visible_edges(state)
        fanout = fanout_sources(visible)
        edges = [
            Edge(a, b, count, control, _is_back(a, b, nodes, layerings), a in fanout)
            for (a, b, control), count in visible.items()
        ]
        edges.sort(key=lambda e: (e.src, e.dst, e.control))
        result = GraphLayout(state, nodes, boxes, edges, placed.width, placed.height, fanout)
        self._layouts[state] = result
        if len(self._layouts) > self._cache_size:
            self._layouts.popitem(last=False)
        return result

    def node_for_op(self, layout: GraphLayout, op_name: str) -> str | None:
        """The visible node standing for ``op_name`` in ``layout`` (None when hidden)."""
        if layout.state.focus is not None:
            return op_name if op_name in layout.nodes else None
        node = self.scoped.representative(op_name, layout.state.expanded)
        return node if node in layout.nodes else None

    def _check(self) -> None:
        if self._cancelled is not None and self._cancelled():
            raise Cancelled("layout cancelled")

    def _layer(self, structure: Structure) -> Layering:
        return layer_and_order([c.id for c in structure.children], structure.layering_edges,
                               structure.order_hint)

    def _container(self, path: str, state: ViewState) -> _Placed:
        inside_of = path
        if self.scoped.series_at(path, state.show_training) is not None:
            inside_of = path.rpartition("/")[0]  # members keep their names' parent
        key = (path, state.show_training, self._inside.get(inside_of, frozenset()))
        found = self._placed.get(key)
        if found is not None:
            return found
        self._check()
        structure = self.scoped.structure(path, state.show_training)
        layering = self._layerings.get((path, state.show_training))
        if layering is None:
            layering = self._layer(structure)
            self._layerings[(path, state.show_training)] = layering
        placed = self._place(structure, layering, state)
        self._placed[key] = placed
        return placed

    def _place(self, structure: Structure, layering: Layering, state: ViewState) -> _Placed:
        sizes: dict[str, tuple[float, float]] = {}
        for child in structure.children:
            if child.is_scope:
                sizes[child.id] = scope_size(child.label, child.op_count)
                path = child.id[:-1]
                if path in state.expanded:
                    inner = self._container(path, state)
                    sizes[child.id] = (max(inner.width + 2 * PAD, sizes[child.id][0]),
                                       inner.height + HEADER + PAD)
            else:
                sizes[child.id] = op_size(child.label)
        boxes, width, height = place(layering, sizes)
        return _Placed(structure, layering, boxes, width, height)

    def _compose(self, placed: _Placed, container: str, x0: float, y0: float,
                 state: ViewState, nodes: dict[str, Node], boxes: dict[str, Box],
                 layerings: dict[str, Layering]) -> None:
        layerings[container] = placed.layering
        for child in placed.structure.children:
            x, y, w, h = placed.boxes[child.id]
            box = (x0 + x, y0 + y, w, h)
            boxes[child.id] = box
            expanded = child.is_scope and child.id[:-1] in state.expanded
            nodes[child.id] = replace(child, expanded=True) if expanded else child
            if expanded:
                inner = self._container(child.id[:-1], state)
                self._compose(inner, child.id, box[0] + PAD, box[1] + HEADER, state, nodes,
                              boxes, layerings)


def fanout_sources(edges: dict[tuple[str, str, bool], int]) -> dict[str, int]:
    """Sources feeding ``FANOUT_MIN`` or more nodes, with that count.

    The Keras learning phase feeds every batch norm; as lines it is a fan of dozens
    of parallel edges across the picture, so the view draws it once with a marker on
    each node it feeds. A source has no visible input, or is a single op reading
    only nodes that have none (``Cast(keras_learning_phase)``). Positions are
    unchanged: the source still sits above its first reader.
    """
    targets: dict[str, set[str]] = {}
    inputs: dict[str, set[str]] = {}
    for a, b, _control in edges:
        targets.setdefault(a, set()).add(b)
        inputs.setdefault(b, set()).add(a)

    def source(node: str) -> bool:
        if node not in inputs:
            return True
        is_op = not node.endswith(("/", "*"))  # a box is a layer of the model, not a source
        return is_op and all(a not in inputs for a in inputs[node])

    return {a: len(found) for a, found in targets.items()
            if len(found) >= FANOUT_MIN and source(a)}


def _expanded_inside(expanded: frozenset[str]) -> dict[str, frozenset[str]]:
    """For each container path (ROOT too), the expanded scopes strictly inside it."""
    inside: dict[str, set[str]] = {ROOT: set(expanded)}
    for path in expanded:
        parent = path.rpartition("/")[0]
        while parent:
            inside.setdefault(parent, set()).add(path)
            parent = parent.rpartition("/")[0]
    return {path: frozenset(found) for path, found in inside.items()}


def _is_back(a: str, b: str, nodes: dict[str, Node], layerings: dict[str, Layering]) -> bool:
    """Whether the edge goes against the layering of the container holding both ends."""
    chain_a = _chain(a, nodes)
    chain_b = _chain(b, nodes)
    index_b = {c: i for i, c in enumerate(chain_b)}
    for i, container in enumerate(chain_a):
        if container in index_b and i > 0:
            child_a = chain_a[i - 1]
            child_b = chain_b[index_b[container] - 1]
            layer_of = layerings[container].layer_of
            return layer_of[child_a] >= layer_of[child_b]
    return False


def _chain(node: str, nodes: dict[str, Node]) -> list[str]:
    """``node`` followed by its containers out to ROOT."""
    chain = [node]
    while node != ROOT:
        node = nodes[node].parent
        chain.append(node)
    return chain

