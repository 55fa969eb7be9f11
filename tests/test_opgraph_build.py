"""The one-pass op-graph build against the graph definition it reads.

Consumers are linked while the nodes are read and op leaves share their empty
children, so these tests check the result against what the ``GraphDef`` itself
says, on a TF1-behaviour graph (v1 while loops: ``NextIteration`` is read after
the ``Merge`` that consumes it) and a TF2-behaviour one (function bodies), and on
the same graphs with their nodes reordered or a name repeated.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from app.core.disk.metagraph import read_meta_graph
from app.core.graph.opgraph import OpGraph
from app.core.graph.protos import MetaGraphDef
from tests.isolated_build import build


@pytest.fixture(scope="module")
def scan_meta(tmp_path_factory):
    """A TF1 training graph with a ``tf.scan`` while loop and its gradient loop."""
    prefix = build("tests.graphs_tf1:scan_encoder", tmp_path_factory.mktemp("scan"))["prefix"]
    return read_meta_graph(Path(prefix + ".meta"))


@pytest.fixture(params=["tf1_scan", "tf2_skip_thoughts"])
def meta(request, scan_meta, loaded):
    return scan_meta if request.param == "tf1_scan" else loaded.graph.meta_graph


def _kept_nodes(meta) -> dict:
    """Name -> NodeDef, the last node of a repeated name winning (as ``graph.ops`` does)."""
    return {node.name: node for node in meta.graph_def.node}


def _expected_consumers(meta) -> dict[str, list[str]]:
    """Every data reader of each op, in graph order, straight from the NodeDefs."""
    nodes = _kept_nodes(meta)
    consumers: dict[str, list[str]] = {name: [] for name in nodes}
    for name, node in nodes.items():
        for text in node.input:
            if text.startswith("^"):
                break
            source = text.rpartition(":")[0] if ":" in text else text
            if source in consumers:
                consumers[source].append(name)
    return consumers


def _check_types(graph: OpGraph) -> None:
    """``type_positions`` lists each op's position in ``graph.ops`` under its type."""
    expected: dict[str, list[int]] = {}
    for i, op in enumerate(graph.ops.values()):
        expected.setdefault(op.type, []).append(i)
    assert graph.type_positions == expected


def _check_tree(graph: OpGraph) -> None:
    """Every op has its leaf, every node its row and count, children in display order."""
    names = list(graph.ops)
    for name, op in graph.ops.items():
        node = graph.scope_node(name)
        assert node is not None and node.op is op and node.path == name
    for node in graph.root.walk():
        children = list(node.children)
        assert [c.row for c in children] == list(range(len(children)))
        assert all(c.parent is node for c in children)
        assert set(node.by_name) == {c.name for c in children}
        keys = [(not c.children, c.name.lower()) for c in children]
        assert keys == sorted(keys)
        inside = sum(1 for n in names if node.path == "" or n.startswith(node.path + "/"))
        assert node.op_count == inside + (node.op is not None and node.path != "")


def test_consumers_are_every_reader_in_graph_order(meta):
    graph = OpGraph(meta)
    expected = _expected_consumers(meta)
    assert {name: op.consumers for name, op in graph.ops.items()} == expected
    _check_types(graph)


def test_a_while_loop_links_readers_that_come_before_their_producer(scan_meta):
    graph = OpGraph(scan_meta)
    position = {name: i for i, name in enumerate(graph.ops)}
    early = [(name, c) for name, op in graph.ops.items() for c in op.consumers
             if position[c] < position[name]]
    assert early, "a v1 while loop's Merge reads NextIteration before it is defined"
    assert {graph.ops[name].type for name, _ in early} >= {"NextIteration"}


def test_scope_tree_holds_every_op_once(meta):
    _check_tree(OpGraph(meta))


def test_output_count_is_the_number_of_outputs_before_they_are_built(meta):
    for graph in (OpGraph(meta), OpGraph(meta)):
        ops = [*graph.ops.values(), *(op for body in graph.functions.values() for op in body)]
        counts = [op.output_count for op in ops]  # first: nothing built yet
        assert counts == [len(op.outputs) for op in ops]


def _reordered(meta, order) -> MetaGraphDef:
    copy = MetaGraphDef()
    copy.CopyFrom(meta)
    nodes = [type(n)() for n in meta.graph_def.node]
    for new, old in zip(nodes, meta.graph_def.node, strict=True):
        new.CopyFrom(old)
    del copy.graph_def.node[:]
    copy.graph_def.node.extend(order(nodes))
    return copy


@pytest.mark.parametrize("order", ["reversed", "by_name"])
def test_reordered_nodes_give_the_same_model(meta, order):
    """Writers that do not sort their nodes topologically. Reversed, every input is
    read before its producer; by name, every op named like a scope (a variable and
    its ``read`` op) comes before the ops under it, so its leaf becomes a scope."""
    reorder = {"reversed": lambda nodes: nodes[::-1],
               "by_name": lambda nodes: sorted(nodes, key=lambda n: n.name)}[order]
    reordered = _reordered(meta, reorder)
    graph, straight = OpGraph(reordered), OpGraph(meta)
    assert list(graph.ops) == [n.name for n in reorder(list(meta.graph_def.node))]
    assert {name: op.consumers for name, op in graph.ops.items()} == \
        _expected_consumers(reordered)
    for name, op in graph.ops.items():
        assert Counter(op.consumers) == Counter(straight.ops[name].consumers)
        assert op.inputs == straight.ops[name].inputs
    _check_tree(graph)
    _check_types(graph)
    if order == "by_name":
        assert any(node.op is not None and node.children for node in graph.root.walk())


def test_a_repeated_name_keeps_the_last_op_and_its_inputs(meta):
    nodes = list(meta.graph_def.node)
    reader = next(n for n in nodes if len([t for t in n.input if t[:1] != "^"]) >= 1)

    def repeat(copies):
        twin = type(reader)()
        twin.CopyFrom(reader)
        del twin.input[:]
        twin.input.append(copies[0].name)  # now reads the first op instead
        return [*copies, twin]

    repeated = _reordered(meta, repeat)
    graph = OpGraph(repeated)
    assert len(graph.ops) == len(nodes)
    assert graph.ops[reader.name].inputs == [nodes[0].name + ":0"]
    assert {name: op.consumers for name, op in graph.ops.items()} == \
        _expected_consumers(repeated)
    _check_tree(graph)
    _check_types(graph)


def test_each_op_reads_its_own_node_def(meta):
    """NodeDefs are fetched when asked for, from the graph or the function body."""
    graph = OpGraph(meta)
    nodes = _kept_nodes(meta)
    for name, op in graph.ops.items():
        assert op.node == nodes[name]
        assert op.device == nodes[name].device
        assert op.control_inputs == [t[1:] for t in nodes[name].input if t.startswith("^")]
    for function in meta.graph_def.library.function:
        body = graph.functions[function.signature.name]
        assert [op.node for op in body] == list(function.node_def)


def test_inputs_are_the_data_inputs_of_short_and_long_fields(meta):
    """Short input fields are read at once, long ones item by item (their control
    inputs never read): both give each op its data inputs as ``op:N``, in order."""
    from app.core.graph.opgraph import _SLICED_INPUTS

    meta = _reordered(meta, list)  # a copy, to add to
    first = meta.graph_def.node[0].name
    wide = meta.graph_def.node.add(name="wide_sum", op="AddN")
    wide.input.extend([first] * (_SLICED_INPUTS + 2) + ["^" + first] * 3)
    short = meta.graph_def.node.add(name="short_with_control", op="Identity")
    short.input.extend([first + ":0", "^" + first])
    graph = OpGraph(meta)
    for name, node in _kept_nodes(meta).items():
        data = [t if ":" in t else t + ":0" for t in node.input if not t.startswith("^")]
        assert graph.ops[name].inputs == data
    assert graph.ops["wide_sum"].inputs == [first + ":0"] * (_SLICED_INPUTS + 2)
    assert graph.ops["short_with_control"].inputs == [first + ":0"]
    assert graph.ops["wide_sum"].control_inputs == [first] * 3
    assert graph.ops[first].consumers[-(_SLICED_INPUTS + 3):] == (
        ["wide_sum"] * (_SLICED_INPUTS + 2) + ["short_with_control"])
