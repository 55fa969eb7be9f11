"""The graph view's core: scoped view model and layered layout on real checkpoints."""

from __future__ import annotations

from collections import Counter

import networkx as nx
import pytest

from app.core.graph.graph_view_model import ROOT, ScopedGraph, ViewState, is_training_op, scope_id
from app.core.graph.layout import GraphLayout, GraphLayouter, layer_and_order
from app.core.graph.opgraph import OpGraph
from app.core.loader import load_checkpoint

FIXTURES = ["skip_thoughts", "cnn", "vocab_table", "gpu_pinned"]


@pytest.fixture(scope="module")
def graphs(request) -> dict[str, OpGraph]:
    return {name: load_checkpoint(request.getfixturevalue(name).latest).graph
            for name in FIXTURES}


def _overlap(a, b) -> bool:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    return ax < bx + bw - 1e-6 and bx < ax + aw - 1e-6 and ay < by + bh - 1e-6 and \
        by < ay + ah - 1e-6


def _inside(inner, outer) -> bool:
    ix, iy, iw, ih = inner
    ox, oy, ow, oh = outer
    eps = 1e-6
    return ox - eps <= ix and oy - eps <= iy and ix + iw <= ox + ow + eps and \
        iy + ih <= oy + oh + eps


def _check_geometry(layout: GraphLayout) -> None:
    containers = {n.parent for n in layout.nodes.values()}
    for container in containers:
        siblings = layout.children(container)
        for i, a in enumerate(siblings):
            if container != ROOT:
                assert _inside(layout.boxes[a.id], layout.boxes[container]), a.id
            for b in siblings[i + 1:]:
                assert not _overlap(layout.boxes[a.id], layout.boxes[b.id]), (a.id, b.id)
    for edge in layout.edges:
        if not edge.back:
            _x, y, _w, h = layout.boxes[edge.src]
            assert y + h < layout.boxes[edge.dst][1], edge


def _all_scopes(graph: OpGraph) -> frozenset[str]:
    return frozenset(n.path for n in graph.root.walk() if n.children and n.path)


@pytest.mark.parametrize("name", FIXTURES)
def test_layouts_have_no_overlaps_and_edges_point_down(graphs, name):
    graph = graphs[name]
    layouter = GraphLayouter(graph)
    states = [ViewState(), ViewState(show_training=True),
              ViewState(_all_scopes(graph)), ViewState(_all_scopes(graph), show_training=True)]
    for state in states:
        layout = layouter.layout(state)
        assert layout.nodes
        _check_geometry(layout)


@pytest.mark.parametrize("name", FIXTURES)
def test_flat_layout_follows_topological_order(graphs, name):
    """A neighbourhood covering the whole (acyclic) graph: every edge points down."""
    graph = graphs[name]
    focus = next(iter(graph.ops))
    layout = GraphLayouter(graph).layout(ViewState(focus=focus, hops=10_000,
                                                   show_training=True))
    component = nx.node_connected_component(graph.digraph.to_undirected(), focus)
    assert set(layout.nodes) == component
    assert not any(edge.back for edge in layout.edges)
    _check_geometry(layout)
    tops = {n: layout.boxes[n][1] for n in layout.nodes}
    for src, dst in graph.digraph.subgraph(component).edges:
        assert tops[src] < tops[dst]


def test_back_edges_only_close_cycles_between_scopes(graphs):
    graph = graphs["skip_thoughts"]
    layout = GraphLayouter(graph).layout(ViewState(show_training=True))
    visible = nx.DiGraph((e.src, e.dst) for e in layout.edges)
    back = [e for e in layout.edges if e.back]
    assert back  # gradients feed the encoder's loop and read from it
    for edge in back:
        assert nx.has_path(visible, edge.dst, edge.src), edge


def test_overview_shows_top_level_scopes_with_visible_op_counts(graphs):
    graph = graphs["skip_thoughts"]
    layout = GraphLayouter(graph).layout(ViewState())
    visible = [name for name, op in graph.ops.items() if not is_training_op(op)]
    expected = Counter(name.split("/")[0] for name in visible)
    shown = {n.id: n for n in layout.nodes.values()}
    for top, count in expected.items():
        node = shown.get(scope_id(top)) or shown.get(top)
        assert node is not None, top
        assert node.op_count == count and node.parent == ROOT
    assert all(n.parent == ROOT for n in layout.nodes.values())
    for hidden in ("gradients/", "Adam/", "save/", "init"):
        assert hidden not in shown
    training = GraphLayouter(graph).layout(ViewState(show_training=True))
    assert {"gradients/", "Adam/", "save/"} <= set(training.nodes)


def test_aggregated_edge_counts_equal_underlying_edges(graphs):
    graph = graphs["skip_thoughts"]
    for show_training in (False, True):
        layout = GraphLayouter(graph).layout(ViewState(show_training=show_training))
        scoped = ScopedGraph(graph)
        visible = scoped.visible_ops(show_training)
        top = {name: (name.split("/")[0] + "/" if "/" in name or name in scoped.scope_paths
                      else name) for name in visible}
        expected = Counter()
        for src, dst, control in graph.digraph.edges(data="control"):
            if src in visible and dst in visible and top[src] != top[dst]:
                expected[(top[src], top[dst], control)] += 1
        got = {(e.src, e.dst, e.control): e.count for e in layout.edges}
        assert got == dict(expected)
        assert any(e.control for e in layout.edges) == any(k[2] for k in expected)


def test_expand_and_collapse_round_trip(graphs):
    graph = graphs["skip_thoughts"]
    layouter = GraphLayouter(graph)
    overview = layouter.layout(ViewState())
    expanded = layouter.layout(ViewState(frozenset({"encoder"})))
    box = expanded.boxes["encoder/"]
    assert expanded.nodes["encoder/"].expanded
    inner = [n for n in expanded.nodes.values() if n.parent == "encoder/"]
    assert inner and all(_inside(expanded.boxes[n.id], box) for n in inner)
    assert sum(n.op_count for n in inner) == overview.nodes["encoder/"].op_count
    assert box[2] > overview.boxes["encoder/"][2] and box[3] > overview.boxes["encoder/"][3]
    collapsed = GraphLayouter(graph).layout(ViewState())  # fresh: no cache involved
    assert collapsed.boxes == overview.boxes
    assert collapsed.edges == overview.edges
    assert layouter.layout(ViewState()) is overview  # cached per expansion state


def test_nested_expansion_and_normalisation(graphs):
    graph = graphs["skip_thoughts"]
    layouter = GraphLayouter(graph)
    inner_scope = next(n.path for n in graph.scope_node("encoder").children if n.children)
    only_inner = layouter.layout(ViewState(frozenset({inner_scope})))
    assert only_inner.state.expanded == frozenset()  # inside a collapsed scope: ignored
    both = layouter.layout(ViewState(frozenset({"encoder", inner_scope})))
    assert both.nodes[scope_id(inner_scope)].parent == "encoder/"
    assert any(n.parent == scope_id(inner_scope) for n in both.nodes.values())
    _check_geometry(both)


@pytest.mark.parametrize("hops", [0, 1, 2, 3])
def test_neighbourhood_matches_networkx(graphs, hops):
    graph = graphs["cnn"]
    scoped = ScopedGraph(graph)
    digraph = graph.digraph
    for op in ["dense/logits", "conv1/Relu", "images"]:
        full = nx.ego_graph(digraph, op, radius=hops, undirected=True)
        assert scoped.neighbourhood(op, hops, show_training=True) == set(full)
        visible = scoped.visible_ops(False) | {op}
        hidden = nx.ego_graph(digraph.subgraph(visible), op, radius=hops, undirected=True)
        layout = GraphLayouter(graph).layout(ViewState(focus=op, hops=hops))
        assert set(layout.nodes) == set(hidden)
        expected_edges = {(u, v) for u, v in digraph.subgraph(hidden).edges}
        assert {(e.src, e.dst) for e in layout.edges} == expected_edges


def test_reveal_scopes_for_an_op(graphs):
    graph = graphs["skip_thoughts"]
    layouter = GraphLayouter(graph)
    op = "encoder/thought_vectors"
    scopes = layouter.scoped.scopes_to_reveal(op)
    assert scopes == {"encoder"}
    layout = layouter.layout(ViewState(frozenset(scopes)))
    assert layouter.node_for_op(layout, op) == op
    overview = layouter.layout(ViewState())
    assert layouter.node_for_op(overview, op) == "encoder/"
    assert layouter.node_for_op(overview, "gradients/AddN") is None  # hidden machinery


def _loop_meta_graph():
    """A TF1-style while loop by hand: Enter -> Merge -> add -> NextIteration -> Merge."""
    from tensorflow.core.protobuf import meta_graph_pb2

    meta = meta_graph_pb2.MetaGraphDef()
    nodes = [("x", "Placeholder", []), ("loop/Enter", "Enter", ["x"]),
             ("loop/Merge", "Merge", ["loop/Enter", "loop/NextIteration"]),
             ("loop/add", "AddV2", ["loop/Merge"]),
             ("loop/NextIteration", "NextIteration", ["loop/add"]),
             ("loop/Exit", "Exit", ["loop/Merge"]), ("y", "Identity", ["loop/Exit"])]
    for name, kind, inputs in nodes:
        node = meta.graph_def.node.add(name=name, op=kind)
        node.input.extend(inputs)
    return meta


def test_v1_while_loop_cycle_is_broken_at_next_iteration():
    graph = OpGraph(_loop_meta_graph())
    layout = GraphLayouter(graph).layout(ViewState(frozenset({"loop"})))
    back = [(e.src, e.dst) for e in layout.edges if e.back]
    assert back == [("loop/NextIteration", "loop/Merge")]
    _check_geometry(layout)


def test_barycenter_sweeps_remove_avoidable_crossings():
    # a1 feeds b2, a2 feeds b1: with b1 before b2 the two edges cross; sweeps untangle them.
    layering = layer_and_order(["a1", "a2", "b1", "b2"], [("a1", "b2"), ("a2", "b1")],
                               {"a1": 0, "a2": 1, "b1": 2, "b2": 3})
    top, bottom = layering.layers
    assert top.index("a1") < top.index("a2")
    assert bottom.index("b2") < bottom.index("b1")
