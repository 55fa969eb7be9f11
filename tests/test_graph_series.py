"""Series of repeated sibling scopes and fan-out sources in the graph view's core.

Real checkpoints: keras.applications-named ResNet-like stacks trained with Adam, in
TF1 behaviour (child process, ref variables, v1 cond on the learning phase) and TF2
behaviour (resource variables, functional If), and a ~180-scope Keras-named chain.
"""

from __future__ import annotations

from itertools import pairwise

import pytest

from app.core.graph.graph_view_model import ROOT, ViewState, is_training_op
from app.core.graph.layout import FANOUT_MIN, GraphLayouter, fanout_sources
from app.core.graph.series import Sibling, find_series
from app.core.loader import load_checkpoint
from tests.isolated_build import build
from tests.keras_stacks import STAGES, resnet_like_v2
from tests.long_chain import build_long_chain, layer_names
from tests.test_layout import _check_geometry


def _scopes(names):
    return [Sibling(n + "/", n, "scope") for n in names]


def _chain(names):
    return [(a + "/", b + "/") for a, b in pairwise(names)]


def test_series_groups_blocks_not_stages_nor_layers():
    names = layer_names()
    found = {s.label: s for s in find_series("", _scopes(names), _chain(names))}
    assert set(found) == {"conv2_block[1-3]", "conv3_block[1-4]", "conv4_block[1-6]",
                          "conv5_block[1-3]"}
    assert len(found["conv4_block[1-6]"].members) == 6 * 10  # 3 conv, 3 bn, 2 relu, add, out
    assert found["conv2_block[1-3]"].id == "conv2_block[1-3]*"
    grouped = {m for s in found.values() for m in s.members}
    assert "conv1_conv/" not in grouped and "predictions/" not in grouped


def test_series_of_uniquified_ops_counts_the_plain_name_as_zero():
    names = ["Const", "Const_1", "Const_2", "Const_3", "Mul"]
    siblings = [Sibling(n, n, "Const" if n != "Mul" else "Mul") for n in names]
    (series,) = find_series("enc", siblings, [])
    assert series.label == "Const_[0-3]" and series.path == "enc/Const_[0-3]"
    assert set(series.members) == {"Const", "Const_1", "Const_2", "Const_3"}


def test_interleaved_series_that_would_feed_each_other_stay_apart():
    # tf.compat.v1.layers names: conv2d_1, batch_normalization_1, conv2d_2, ... in one chain
    names = [f"{kind}_{i}" for i in range(1, 6) for kind in ("conv2d", "batch_normalization")]
    assert find_series("", _scopes(names), _chain(names)) == []
    # the same names without the chain between them (parallel towers) do group
    labels = {s.label for s in find_series("", _scopes(names), [])}
    assert labels == {"conv2d_[1-5]", "batch_normalization_[1-5]"}


def test_short_runs_and_a_series_of_everything_are_not_grouped():
    assert find_series("", _scopes(["layer_1", "layer_2", "out"]), []) == []
    assert find_series("", _scopes(["block0", "block1", "block2"]), []) == []


@pytest.fixture(scope="module")
def keras_tf1(tmp_path_factory):
    result = build("tests.keras_stacks:resnet_like", tmp_path_factory.mktemp("k1"),
                   legacy_keras=True)
    return load_checkpoint(result["prefix"]).graph


@pytest.fixture(scope="module")
def keras_tf2(tmp_path_factory):
    return load_checkpoint(resnet_like_v2(tmp_path_factory.mktemp("k2"))).graph


@pytest.mark.parametrize("which", ["keras_tf1", "keras_tf2"])
def test_keras_resnet_overview_groups_blocks_and_expands(request, which):
    graph = request.getfixturevalue(which)
    types = {op.type for op in graph.ops.values()}
    assert ("Switch" in types) == (which == "keras_tf1")  # v1 cond vs functional If
    layouter = GraphLayouter(graph)
    overview = layouter.layout(ViewState())
    series = {n.label: n for n in overview.nodes.values() if n.is_series}
    assert set(series) == {f"conv{s}_block[1-{b}]" for s, b in STAGES}
    assert "loss_1/" not in overview.nodes  # the summary tag constant is hidden
    blocks = series["conv2_block[1-3]"]
    members = layouter.scoped.structure("conv2_block[1-3]", False).children
    assert {m.id for m in members} >= {"conv2_block1_0_conv/", "conv2_block3_out/"}
    assert sum(m.op_count for m in members) == blocks.op_count
    _check_geometry(overview)

    expanded = layouter.layout(ViewState(frozenset({"conv2_block[1-3]"})))
    assert expanded.nodes[blocks.id].expanded
    inside = [n for n in expanded.nodes.values() if n.parent == blocks.id]
    assert {n.id for n in inside} == {m.id for m in members}
    _check_geometry(expanded)
    # the learning phase feeds every batch norm: one source with markers, not a fan of lines
    assert expanded.fanout.get("keras_learning_phase/", 0) >= FANOUT_MIN
    fan = [e for e in expanded.edges if e.fanout]
    assert fan and all(e.src == "keras_learning_phase/" for e in fan)
    assert layouter.layout(ViewState()).nodes.keys() == overview.nodes.keys()  # collapse

    scopes = {n.rsplit("/", 1)[0] for n in graph.ops}
    op = next(n for n, o in graph.ops.items() if n.startswith("conv2_block2_1_bn/")
              and not is_training_op(o) and n not in scopes)  # a plain op, not also a scope
    assert layouter.node_for_op(overview, op) == blocks.id
    reveal = layouter.scoped.scopes_to_reveal(op)
    assert reveal == {"conv2_block[1-3]", "conv2_block2_1_bn"} | {
        "/".join(op.split("/")[:i]) for i in range(2, op.count("/") + 1)}
    assert layouter.node_for_op(layouter.layout(ViewState(frozenset(reveal))), op) == op


def test_long_chain_collapses_to_a_few_boxes(tmp_path):
    graph = load_checkpoint(build_long_chain(tmp_path / "chain")).graph
    layout = GraphLayouter(graph).layout(ViewState())
    top = [n for n in layout.nodes.values() if n.parent == ROOT]
    assert len(layer_names()) > 160 and len(top) < 16
    assert layout.fanout == {"keras_learning_phase/": 5}
    assert layout.height < 1200  # a readable column, not 160 boxes tall


def test_fanout_sources_are_inputs_or_read_only_inputs():
    targets = [f"bn{i}/" for i in range(FANOUT_MIN)]
    chain = {("images", "bn0/", False): 1, **{(a, b, False): 1 for a, b in pairwise(targets)}}
    phase = {("phase/", t, False): 1 for t in targets}
    assert fanout_sources({**chain, **phase}) == {"phase/": FANOUT_MIN}
    cast = {("phase/", "Cast", False): 1, **{("Cast", t, False): 1 for t in targets}}
    assert fanout_sources({**chain, **cast}) == {"Cast": FANOUT_MIN}
    # a node in the middle of the data flow is never a fan-out source
    hub = {("bn0/", f"out{i}", False): 1 for i in range(FANOUT_MIN)}
    assert fanout_sources({**chain, **hub}) == {}
    fewer = {("phase/", t, False): 1 for t in targets[:-1]}
    assert fanout_sources({**chain, **fewer}) == {}
