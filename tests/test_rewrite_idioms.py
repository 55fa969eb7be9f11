"""The dropout, batch-norm and moving-average rewrites against inference twins.

Each model is trained a few steps in its training graph and saved once; its twin,
built from the same model code with ``training=False``, restores that checkpoint and
gives the answers a served model must give. The rewritten training ``.meta`` is
imported with ``import_meta_graph(clear_devices=True)``, restored from the same
checkpoint and must answer the same within 1e-5, twice alike, and each example alone
as in the batch. TF1 behaviour (ref variables, v1 cond, ``tf.compat.v1.layers``,
tf-keras) is built in a child process; TF2 behaviour (resource variables) here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from app.core.disk.metagraph import read_meta_graph
from app.core.graph.opgraph import OpGraph
from app.core.graph.protos import to_tensorflow_meta_graph
from app.core.rewrite import batch_norm, dropout, moving_average
from app.core.rewrite.base import Applied, Finding, Rewrite
from app.core.rewrite.graph_walk import ASSIGN_OPS
from app.core.signature.draft import Draft, Signature, Slot
from app.core.tf_runtime import tensorflow
from tests import graphs_training, isolated_build

ROOT = Path(__file__).resolve().parents[1]
V1_MODELS = ["legacy_dropout", "nn_dropout", "dropout_variants", "layers", "keras",
             "keras_learning_phase", "handwritten", "inline_updates", "ema_cond_bn", "ema_bn",
             "debiased_bn", "rnn_dropout", "ema"]
V2_MODELS = ["legacy_dropout", "nn_dropout", "dropout_variants", "keras", "handwritten",
             "inline_updates", "ema_bn", "debiased_bn", "ema"]
# model -> (dropouts, batch norms, moving-average variables) the finders must report
EXPECTED = {
    "legacy_dropout": (1, 0, 0),
    "nn_dropout": (2, 0, 0),
    "dropout_variants": (3, 0, 0),
    "inline_updates": (0, 1, 0),
    "ema_cond_bn": (0, 1, 0),
    "ema_bn": (0, 1, 0),
    "debiased_bn": (0, 1, 0),
    "rnn_dropout": (2, 0, 0),
    "layers": (2, 2, 0),
    "keras": (1, 2, 0),
    "keras_learning_phase": (1, 2, 0),
    "handwritten": (0, 2, 0),
    "ema": (0, 0, 4),
}
REWRITES = (dropout.REWRITE, batch_norm.REWRITE, moving_average.REWRITE)
_RANDOM = {"RandomUniform", "StatelessRandomUniform", "StatelessRandomUniformV2"}


@pytest.fixture(scope="module")
def v1(tmp_path_factory):
    return isolated_build.build(
        "tests.graphs_training:build_many", tmp_path_factory.mktemp("idioms_v1"), v1=True,
        legacy_keras=True, models=V1_MODELS, untrained=["layers"])


@pytest.fixture(scope="module")
def v2(tmp_path_factory):
    return graphs_training.build_many(tmp_path_factory.mktemp("idioms_v2"), V2_MODELS,
                                      untrained=("handwritten",))


def _draft(built: dict) -> Draft:
    return Draft(signatures=[Signature(inputs=[Slot("x", built["input"])],
                                       outputs=[Slot("y", built["output"])])])


def _found(built: dict) -> tuple[object, OpGraph, dict[str, list[Finding]]]:
    meta = read_meta_graph(Path(built["prefix"] + ".meta"))
    graph = OpGraph(meta)
    return meta, graph, {r.id: r.find(graph, _draft(built)) for r in REWRITES}


def _rewritten(built: dict, rewrites: tuple[Rewrite, ...] = REWRITES) -> tuple[object, str]:
    """The training meta with every finding of ``rewrites`` applied, and the output."""
    meta, _, found = _found(built)
    output = built["output"]
    for rewrite in rewrites:
        applied: Applied = rewrite.apply(meta, found[rewrite.id])
        meta = applied.meta
        output = applied.renamed.get(output, output)
    return meta, output


def _run(meta, prefix: str, fed: str, output: str, batches: list[np.ndarray],
         extra: dict | None = None) -> list[np.ndarray]:
    """Import ``meta`` as the export does (as TensorFlow's class: `read_meta_graph` gives
    TensorBoard's copy), restore ``prefix``, answer each batch."""
    tf = tensorflow()
    tf1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        saver = tf1.train.import_meta_graph(to_tensorflow_meta_graph(meta), clear_devices=True)
    with tf1.Session(graph=graph) as session:
        saver.restore(session, prefix)
        return [session.run(output, {fed: batch, **(extra or {})}) for batch in batches]


def _check_serves_twin(built: dict, model: str) -> None:
    meta, output = _rewritten(built)
    sample = np.asarray(built["sample"], np.float32)
    expected = np.asarray(built["expected"], np.float32)
    rows = [sample[i : i + 1] for i in range(len(sample))]
    first, second, *alone = _run(meta, built["prefix"], built["input"], output,
                                 [sample, sample, *rows])
    np.testing.assert_allclose(first, expected, atol=1e-5, rtol=0)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(np.concatenate(alone), first, atol=1e-5, rtol=0)
    served = OpGraph(meta)
    needed = _ancestors(served, output)
    assert not [n for n in needed if served.ops[n].type in _RANDOM]
    assert not [n for n in needed if served.ops[n].type.startswith("FusedBatchNorm")
                and served.ops[n].node.attr["is_training"].b]
    # Serving never writes a variable (no moving-average update hangs on the answer).
    run = _ancestors(served, output, control=True)
    assert not [n for n in run if served.ops[n].type in ASSIGN_OPS]


def _ancestors(graph: OpGraph, tensor: str, control: bool = False) -> set[str]:
    stack, seen = [tensor.rpartition(":")[0]], set()
    while stack:
        name = stack.pop()
        if name not in seen and name in graph.ops:
            seen.add(name)
            op = graph.ops[name]
            stack.extend(t.rpartition(":")[0] for t in op.inputs)
            if control:
                stack.extend(op.control_inputs)
    return seen


def _check_findings(built: dict, model: str) -> None:
    _, _, found = _found(built)
    counts = tuple(len(found[r.id]) for r in REWRITES)
    assert counts == EXPECTED[model]
    assert all(f.blocked is None and f.ops for fs in found.values() for f in fs)
    json.dumps([f.data for fs in found.values() for f in fs])  # presets and inspect --json


def _check_training_graph_differs(built: dict, model: str) -> None:
    """Without the rewrite the training graph answers otherwise: the comparison bites."""
    meta = read_meta_graph(Path(built["prefix"] + ".meta"))
    sample = np.asarray(built["sample"], np.float32)
    (raw,) = _run(meta, built["prefix"], built["input"], built["output"], [sample])
    assert not np.allclose(raw, np.asarray(built["expected"]), atol=1e-3)


@pytest.mark.parametrize("model", V1_MODELS)
def test_tf1_training_graph_serves_its_inference_twin(v1, model):
    _check_findings(v1[model], model)
    _check_serves_twin(v1[model], model)
    if model != "keras_learning_phase":  # its learning phase defaults to inference
        _check_training_graph_differs(v1[model], model)


@pytest.mark.parametrize("model", V2_MODELS)
def test_tf2_training_graph_serves_its_inference_twin(v2, model):
    _check_findings(v2[model], model)
    _check_serves_twin(v2[model], model)
    _check_training_graph_differs(v2[model], model)


def test_zero_debiased_tensor_averages_serve_the_average_not_the_accumulator(v1):
    """``ema.apply([batch_mean, ...])`` first updates ``.../biased``; the average the
    inference branch reads is the shadow variable the debiased value goes to."""
    _, _, found = _found(v1["ema_cond_bn"])
    (finding,) = found["batch_norm"]
    assert finding.data["moving_mean"].endswith("moments/Squeeze/ExponentialMovingAverage")
    assert finding.data["moving_variance"].endswith(
        "moments/Squeeze_1/ExponentialMovingAverage")


def test_keras_learning_phase_fed_true_still_serves_the_twin(v1):
    """Keras's learning-phase conds: with the phase fed True (as training fed it) the
    rewritten graph still answers as the twin, where the raw graph does not."""
    built = v1["keras_learning_phase"]
    _, _, found = _found(built)
    assert sorted(f.key for fs in found.values() for f in fs) == ["bn_conv", "bn_dense", "drop"]
    meta, output = _rewritten(built)
    sample = np.asarray(built["sample"], np.float32)
    phase = {"keras_learning_phase:0": True}
    (served,) = _run(meta, built["prefix"], built["input"], output, [sample], phase)
    np.testing.assert_allclose(served, built["expected"], atol=1e-5, rtol=0)
    raw_meta = read_meta_graph(Path(built["prefix"] + ".meta"))
    (raw,) = _run(raw_meta, built["prefix"], built["input"], built["output"], [sample], phase)
    assert not np.allclose(raw, built["expected"], atol=1e-3)


def test_debiased_averages_on_resource_variables_are_followed_through_the_read(v2):
    """On resource variables the accumulator's new value reaches the average through a
    read with a control edge on the update; the average, not the accumulator, is served."""
    _, _, found = _found(v2["debiased_bn"])
    (finding,) = found["batch_norm"]
    assert finding.data["moving_mean"] == "bn/mean/average"
    assert finding.data["moving_variance"] == "bn/variance/average"


def test_tf1_forms_are_the_ones_named(v1):
    """The v1 cond of ``layers.dropout(training=flag)`` is bypassed whole; fused and
    moments batch norm on ref variables read the variables' own ``read`` identities."""
    _, graph, found = _found(v1["layers"])
    by_key = {f.key: f for f in found["dropout"]}
    assert set(by_key) == {"drop_const/dropout", "drop_flag"}
    assert by_key["drop_flag"].data["output"] == "drop_flag/cond/Merge:0"
    assert by_key["drop_flag"].data["input"] == "drop_const/dropout/SelectV2:0"
    forms = {f.key: f.data for f in found["batch_norm"]}
    assert forms["bn_conv"]["form"] == "fused"
    assert forms["bn_dense"]["form"] == "moments"
    assert forms["bn_dense"]["mean_read"] == "bn_dense/moving_mean/read:0"
    assert graph.ops["bn_conv/moving_mean"].type == "VariableV2"


def test_tf2_batch_norm_reads_resource_variables(v2):
    meta, graph, found = _found(v2["handwritten"])
    assert {f.data["form"] for f in found["batch_norm"]} == {"fused", "moments"}
    assert graph.ops["bn_fused/moving_mean"].type == "VarHandleOp"
    applied = batch_norm.apply(meta, found["batch_norm"])
    reads = [n for n in applied.meta.graph_def.node if n.name.endswith("/signet_read")]
    assert sorted(n.input[0] for n in reads) == sorted(
        f"{bn}/moving_{stat}" for bn in ("bn_fused", "bn_moments")
        for stat in ("mean", "variance"))


def test_apply_never_mutates_its_input(v1):
    for model in ("layers", "ema"):
        meta, _, found = _found(v1[model])
        before = meta.SerializeToString(deterministic=True)
        for rewrite in REWRITES:
            assert rewrite.apply(meta, found[rewrite.id]).meta is not meta
        assert meta.SerializeToString(deterministic=True) == before


def test_moving_average_weights_serve_the_shadows(v1, v2):
    """Off by default; on, the answer is the averaged weights', unlike the raw ones."""
    assert moving_average.REWRITE.default_on is False
    for built in (v1["ema"], v2["ema"]):
        assert not np.allclose(built["raw"], built["expected"], atol=1e-3)
        meta, output = _rewritten(built, (dropout.REWRITE, batch_norm.REWRITE))
        sample = np.asarray(built["sample"], np.float32)
        (raw,) = _run(meta, built["prefix"], built["input"], output, [sample])
        np.testing.assert_allclose(raw, built["raw"], atol=1e-5, rtol=0)


def test_batch_norm_updates_are_not_taken_for_weight_averages(v1, v2):
    for built in (v1["layers"], v1["keras"], v1["ema_cond_bn"], v2["handwritten"]):
        _, graph, _ = _found(built)
        assert moving_average.find(graph, _draft(built)) == []


def test_untrained_batch_norm_warns_trained_does_not(v1, v2):
    for untrained, trained in ((v1["layers@0"], v1["layers"]),
                               (v2["handwritten@0"], v2["handwritten"])):
        _, _, found = _found(untrained)
        warned = batch_norm.warn_initial_statistics(found["batch_norm"],
                                                    Path(untrained["prefix"]))
        assert len(warned) == 2
        assert all(f.warning and "0 and 1" in f.warning and f.key in f.warning for f in warned)
        _, _, found = _found(trained)
        kept = batch_norm.warn_initial_statistics(found["batch_norm"], Path(trained["prefix"]))
        assert [f.warning for f in kept] == [None, None]


def test_an_opened_checkpoint_warns_of_untrained_statistics_where_users_look(v1):
    """The loader hands the graph its checkpoint, so the window's validation, `inspect`
    and the export all carry the warning (not only a direct call)."""
    from app.core import rewrite
    from app.core.loader import load_checkpoint
    from app.core.signature.draft import Level
    from app.core.validation.draft import validate

    for built, warned in ((v1["layers@0"], True), (v1["layers"], False)):
        loaded = load_checkpoint(built["prefix"])
        draft = _draft(built)
        sites = [f for f in rewrite.find_all(loaded.graph, draft) if f.rewrite == "batch_norm"]
        assert sites and all(bool(f.warning) is warned for f in sites)
        problems = [p for p in validate(draft, loaded.graph)
                    if p.level is Level.WARNING and "0 and 1" in p.message]
        assert bool(problems) is warned


def _meta_of(builder) -> OpGraph:
    tf = tensorflow()
    tf1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        builder(tf, tf1)
        return OpGraph(tf1.train.export_meta_graph(graph=graph))


def test_batch_norm_without_moving_statistics_is_blocked():
    def build(tf, tf1):
        x = tf1.placeholder(tf.float32, [None, 2, 2, 3], name="x")
        scale = tf1.get_variable("scale", [3])
        offset = tf1.get_variable("offset", [3])
        with tf1.name_scope("block"):  # two sites in one scope
            y = tf1.nn.fused_batch_norm(x, scale, offset, is_training=True)[0]
            y = tf1.nn.fused_batch_norm(y, scale, offset, is_training=True)[0]
        flat = tf.reshape(x, [-1, 12])
        mean, var = tf.nn.moments(flat, [0], name="batch_moments")
        tf.identity(y, name="y")
        tf.nn.batch_normalization(flat, mean, var, None, None, 1e-3, name="norm")
        # Layer norm: moments over features, the same in training and inference.
        lmean, lvar = tf.nn.moments(flat, [1], keepdims=True, name="layer_moments")
        tf.nn.batch_normalization(flat, lmean, lvar, None, None, 1e-3, name="layer_norm")

    found = batch_norm.find(_meta_of(build), Draft())
    assert sorted(f.key for f in found) == ["batch_moments", "block", "block#2"]
    for finding in found:
        assert finding.blocked and "no moving-average update" in finding.blocked
        assert any(op in finding.blocked for op in finding.ops)


def test_unrecognised_random_mask_is_blocked_and_initializers_are_not_dropout():
    def build(tf, tf1):
        x = tf1.placeholder(tf.float32, [None, 4], name="x")
        w = tf1.get_variable("w", [4, 4], initializer=tf1.random_uniform_initializer())
        coin = tf.cast(tf1.random_uniform([], name="coin") > 0.5, tf.float32)
        tf.identity(tf.matmul(x, w) * coin, name="y")

    graph = _meta_of(build)
    (finding,) = dropout.find(graph, Draft())
    assert finding.blocked and "coin/RandomUniform" in finding.blocked
    assert finding.ops == ("coin/RandomUniform",)
    # A draft whose outputs do not need the mask does not report it.
    draft = Draft(signatures=[Signature(outputs=[Slot("w", "w/read:0")])])
    assert dropout.find(graph, draft) == []


def test_blocked_sites_are_left_as_they_were():
    def build(tf, tf1):
        x = tf1.placeholder(tf.float32, [None, 4], name="x")
        coin = tf.cast(tf1.random_uniform([], name="coin") > 0.5, tf.float32)
        tf.identity(x * coin, name="y")

    graph = _meta_of(build)
    found = dropout.find(graph, Draft())
    meta = graph.meta_graph
    assert found and found[0].blocked
    applied = dropout.apply(meta, found)
    assert applied.meta.graph_def == meta.graph_def and applied.renamed == {}


def test_finders_do_not_import_tensorflow():
    code = ("import sys\nimport app.core.rewrite.dropout, app.core.rewrite.batch_norm, "
            "app.core.rewrite.moving_average\nprint('tensorflow' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.skipif(not os.environ.get("SIGNET_BENCH_CACHE"),
                    reason="needs the ResNet-50 bench checkpoint (SIGNET_BENCH_CACHE)")
def test_finders_on_resnet50_are_fast():
    meta_path = Path(os.environ["SIGNET_BENCH_CACHE"]) / "resnet50" / "model.ckpt-1.meta"
    if not meta_path.exists():
        pytest.skip(f"{meta_path} is not built")
    graph = OpGraph(read_meta_graph(meta_path))
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        found = [f for r in REWRITES for f in r.find(graph, Draft())]
        best = min(best, time.perf_counter() - start)
    assert best <= 0.2
    assert len([f for f in found if f.rewrite == "batch_norm" and f.blocked is None]) >= 50


def test_moving_average_the_saver_does_not_save_is_blocked():
    """A Saver made before ``ema.apply`` has no key for the shadows: named, not guessed."""
    def build(tf, tf1):
        x = tf1.placeholder(tf.float32, [None, 3], name="x")
        w = tf1.get_variable("w", [3, 2])
        tf.identity(tf.matmul(x, w), name="y")
        tf1.train.Saver()
        tf1.train.ExponentialMovingAverage(0.9).apply([w])

    (finding,) = moving_average.find(_meta_of(build), Draft())
    assert finding.key == "w"
    assert finding.blocked and "w/ExponentialMovingAverage" in finding.blocked
    assert finding.ops == ("w", "w/ExponentialMovingAverage")


def test_dropout_follows_an_input_an_earlier_rewrite_replaced():
    """Dropout straight on a pipeline output: once the input rewiring has moved the
    dropout's readers to a new placeholder, the bypass must serve that placeholder, not
    bring the pipeline back."""
    tf = tensorflow()
    tf1 = tf.compat.v1

    def build(tf, tf1):
        batch = tf.identity(tf1.placeholder(tf.float32, [None, 4], name="raw"), name="batch")
        w = tf1.get_variable("w", [4, 2], initializer=tf1.ones_initializer())
        tf.identity(tf.matmul(tf.nn.dropout(batch, rate=0.5), w), name="y")

    graph = _meta_of(build)
    (finding,) = dropout.find(graph, Draft())
    assert finding.data["input"] == "batch:0"
    meta = type(graph.meta_graph)()
    meta.CopyFrom(graph.meta_graph)
    served = meta.graph_def.node.add()  # what the input rewiring does to "batch:0"
    served.CopyFrom(next(n for n in meta.graph_def.node if n.name == "raw"))
    served.name = "served"
    for node in meta.graph_def.node:
        node.input[:] = ["served" if t == "batch" else t for t in node.input]
    applied = dropout.apply(meta, [finding])
    assert applied.renamed == {finding.data["output"]: "served:0"}
    readers = [n for n in applied.meta.graph_def.node
               if any(t.split(":")[0] == "batch" for t in n.input)]
    assert readers == []
    out = tf.Graph()
    with out.as_default():
        tf1.train.import_meta_graph(to_tensorflow_meta_graph(applied.meta), clear_devices=True)
        with tf1.Session(graph=out) as session:
            session.run(tf1.global_variables_initializer())
            ones = np.ones((3, 4), np.float32)
            np.testing.assert_array_equal(session.run("y:0", {"served:0": ones}),
                                          np.full((3, 2), 4.0, np.float32))


def test_a_moving_average_of_a_served_tensor_no_form_explains_is_blocked():
    """Batch statistics computed by hand (no ``tf.nn.moments``) but averaged by the
    training loop: served as they are they would depend on the batch, so they block;
    a moving average of the loss (for summaries) does not."""
    def build(tf, tf1):
        x = tf1.placeholder(tf.float32, [None, 4], name="x")
        with tf1.variable_scope("bn"):
            mean = tf.reduce_mean(x, 0, name="mean")
            var = tf.reduce_mean(tf.square(x - mean), 0, name="var")
            for name, value in (("moving_mean", mean), ("moving_var", var)):
                moving = tf1.get_variable(name, [4], trainable=False)
                tf1.assign_sub(moving, (moving - value) * 0.1)
            y = tf.identity((x - mean) * tf.math.rsqrt(var + 1e-3), name="y")
        loss = tf.reduce_mean(tf.square(y), name="loss")
        tf1.train.ExponentialMovingAverage(0.9).apply([loss])

    graph = _meta_of(build)
    draft = Draft(signatures=[Signature(outputs=[Slot("y", "bn/y:0")])])
    found = batch_norm.find(graph, draft)
    assert sorted(f.ops for f in found) == [("bn/mean",), ("bn/var",)]
    assert sorted(f.key for f in found) == ["bn", "bn#2"]
    for finding, moving in zip(sorted(found, key=lambda f: f.ops), ("moving_mean", "moving_var"),
                               strict=True):
        assert finding.blocked and f"bn/{moving}" in finding.blocked
        assert finding.ops[0] in finding.blocked
    assert batch_norm.find(graph, Draft()) == []  # no outputs picked: nothing is served yet
