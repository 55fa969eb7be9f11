"""Nothing wrong gets published: batch mixing, NaN, randomness and input pipelines.

Training checkpoints come from TF1-behaviour graphs (`tests.graphs_tf1`, built in a
child process) and TF2-behaviour ones built here; each has an inference twin built
from the same model code with ``training=False`` and restored from the same
checkpoint. With the inference rewrites on (the default) a training graph publishes
and answers like its twin, deterministically and example by example. With the
rewrite switched off it is refused, and the line's fix is switching it back on;
causes no rewrite removes (NaN, sampling, a pipeline the signature does not feed)
stay refused with their own fixes.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from app.core.errors import ExportError, SignatureError
from app.core.export import export_model
from app.core.export.verify import _close, max_difference
from app.core.loader import load_checkpoint
from app.core.signature.checks import signature_findings
from app.core.signature.draft import Draft, Level, Signature, Slot
from app.core.tf_runtime import tensorflow
from app.core.validation.draft import validate
from tests.checkpoints import save_initialized
from tests.isolated_build import build

IMAGES = np.random.default_rng(11).normal(size=(4, 4, 4, 2)).astype("float32")


@pytest.fixture(scope="module")
def tf1_graphs(tmp_path_factory):
    root = tmp_path_factory.mktemp("tf1")
    built = {}
    for name, target, kwargs in [
        ("bn_fused", "batch_norm", {"form": "fused"}),
        ("bn_moments", "batch_norm", {"form": "moments"}),
        ("dropout", "dropout", {}),
        ("log", "log_outputs", {}),
        ("iterator", "iterator_input", {}),
    ]:
        built[name] = build(f"tests.graphs_tf1:{target}", root / name, **kwargs)
    return built


def _draft(base: Path, name: str, inputs: dict[str, str], outputs: dict[str, str]) -> Draft:
    draft = Draft([Signature(inputs=[Slot(k, t) for k, t in inputs.items()],
                             outputs=[Slot(k, t) for k, t in outputs.items()])])
    draft.options.base, draft.options.name = str(base), name
    return draft


def _run_checkpoint(prefix: str, fetches: list[str], feeds: dict[str, np.ndarray]) -> list:
    tf = tensorflow()
    tf1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default(), tf1.Session(graph=graph) as sess:
        saver = tf1.train.import_meta_graph(prefix + ".meta", clear_devices=True)
        saver.restore(sess, prefix)
        return sess.run(fetches, feeds)


def _serve(path: Path, feeds: list[dict[str, np.ndarray]], key: str = "serving_default"
           ) -> list[dict[str, np.ndarray]]:
    """The export's answers to several requests, from one load."""
    tf = tensorflow()
    tf1 = tf.compat.v1
    graph = tf.Graph()
    with tf1.Session(graph=graph) as sess:
        meta = tf1.saved_model.loader.load(sess, ["serve"], str(path))
        sig = meta.signature_def[key]
        keys = sorted(sig.outputs)
        return [dict(zip(keys, sess.run([sig.outputs[k].name for k in keys],
                                        {sig.inputs[k].name: v for k, v in feed.items()}),
                         strict=True)) for feed in feeds]


def _assert_serves_like_twin(path: Path, twin: str, x: np.ndarray, key: str = "logits",
                             fetch: str = "logits:0", twin_feeds: dict | None = None,
                             feed: str = "x:0") -> np.ndarray:
    """The export answers like the inference twin (``twin`` run with ``twin_feeds``), the
    same way twice, and each example alone gets its row of the batch answer."""
    requests = [{"x": x}, {"x": x}] + [{"x": x[i:i + 1]} for i in range(len(x))]
    answers = [a[key] for a in _serve(path, requests)]
    want = _run_checkpoint(twin, [fetch], {feed: x, **(twin_feeds or {})})[0]
    np.testing.assert_allclose(answers[0], want, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(answers[1], answers[0])  # deterministic
    for i, alone in enumerate(answers[2:]):
        np.testing.assert_allclose(alone, answers[0][i:i + 1], rtol=1e-5, atol=1e-5)
    return answers[0]


# The fix a refusal names when the rewrite that removes its cause is switched off.
def _switch_on(rewrite: str, title: str, switch: str) -> str:
    return (f"the rewrite '{rewrite}' ({title}) fixes this but is switched off: switch "
            f"{switch} on (command line: drop --no-rewrite {switch}, or add --rewrite {switch} "
            "when a preset switches it off; window: its box in the \"Training → serving\" "
            "section)")


BN_ON = re.escape(_switch_on("batch_norm", "Batch norm uses moving statistics", "batch_norm"))


@pytest.mark.parametrize("kind", ["bn_fused", "bn_moments"])
def test_training_batch_norm_publishes_its_inference_answer(tf1_graphs, tmp_path, kind):
    prefixes = tf1_graphs[kind]
    draft = _draft(tmp_path, "bn", {"x": "x"}, {"logits": "logits"})
    result = export_model(draft, prefixes["train"])  # the batch_norm rewrite is on by default
    twin = _assert_serves_like_twin(result.path, prefixes["infer"], IMAGES)
    # ...and the training graph as saved answers differently: the rewrite did the work.
    train = _run_checkpoint(prefixes["train"], ["logits:0"], {"x:0": IMAGES})[0]
    assert np.abs(train - twin).max() > 1e-3


@pytest.mark.parametrize("kind, cause", [
    ("bn_fused", r"cause: batch norm in training mode \(FusedBatchNorm with is_training=true\) "
                 r"normalises with the batch's own statistics instead of its moving averages "
                 r"\(bn/FusedBatchNorm\w*\); " + BN_ON + "$"),
    ("bn_moments", r"cause: moments over the batch axis normalise every example with the other "
                   r"examples' statistics \(bn/moments/\w+, bn/moments/\w+\); " + BN_ON + "$"),
])
def test_training_batch_norm_with_its_rewrite_off_is_refused_naming_the_switch(
        tf1_graphs, tmp_path, kind, cause):
    draft = _draft(tmp_path, "bn", {"x": "x"}, {"logits": "logits"})
    draft.rewrites["batch_norm"] = False
    with pytest.raises(ExportError) as info:
        export_model(draft, tf1_graphs[kind]["train"])
    message = str(info.value)
    assert message.startswith("verification: signature 'serving_default' output 'logits' "
                              "mixes the examples of a batch: example 1 sent alone differs by ")
    assert re.search(cause, message), message
    assert "training=False" not in message  # a switch fixes it: no rebuild
    assert not (tmp_path / "bn").exists()


def _batch_norm_without_averages(folder: Path) -> str:
    """TF2-behaviour graph: a fused batch norm in training mode that keeps no moving
    averages, so no rewrite can serve it in inference mode."""
    tf = tensorflow()
    tf1 = tf.compat.v1
    folder.mkdir()
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [None, 4, 4, 2], name="x")
        scale = tf1.get_variable("bn/gamma", [2], initializer=tf1.ones_initializer())
        offset = tf1.get_variable("bn/beta", [2], initializer=tf1.zeros_initializer())
        y, _, _ = tf1.nn.fused_batch_norm(x, scale, offset, is_training=True,
                                          name="bn/FusedBatchNorm")
        tf.identity(y, name="y")
        return save_initialized(graph, folder / "m.ckpt")


def test_batch_norm_no_rewrite_can_fix_names_the_rebuild_and_no_switch(tmp_path):
    prefix = _batch_norm_without_averages(tmp_path / "bn")
    draft = _draft(tmp_path / "out", "bn", {"x": "x"}, {"y": "y"})
    errors = [str(p) for p in validate(draft, load_checkpoint(prefix).graph)
              if p.level is Level.ERROR]
    assert errors == [
        "training → serving: batch_norm:bn cannot be rewritten: bn/FusedBatchNorm normalises "
        "over the batch (is_training=true) and no moving-average update reads its batch mean "
        "(bn/FusedBatchNorm:1); serve a graph built with training=False"]
    with pytest.raises(SignatureError, match="cannot be rewritten"):
        export_model(draft, prefix)
    draft.kept.append("batch_norm:bn")  # kept anyway: verification refuses what it serves
    with pytest.raises(ExportError) as info:
        export_model(draft, prefix)
    message = str(info.value)
    assert re.search(r"mixes the examples of a batch: .*cause: batch norm in training mode "
                     r".*\(bn/FusedBatchNorm\); export a graph built with training=False$",
                     message), message
    assert "--rewrite" not in message
    assert not (tmp_path / "out" / "bn").exists()


def test_constant_rate_dropout_publishes_its_inference_answer(tf1_graphs, tmp_path):
    prefixes = tf1_graphs["dropout"]
    draft = _draft(tmp_path, "drop", {"x": "x"}, {"logits": "logits"})
    assert [p for p in validate(draft, load_checkpoint(prefixes["train"]).graph)
            if p.level is not Level.INFO] == []
    result = export_model(draft, prefixes["train"])
    twin = _assert_serves_like_twin(result.path, prefixes["infer"], IMAGES)
    train = _run_checkpoint(prefixes["train"], ["logits:0"], {"x:0": IMAGES})[0]
    assert np.abs(train - twin).max() > 1e-3  # the saved graph is random: the rewrite mattered


@pytest.mark.parametrize("switch", ["dropout", "dropout:hidden/dropout"])
def test_constant_rate_dropout_with_its_rewrite_off_is_refused_before_any_work(
        tf1_graphs, tmp_path, switch):
    prefixes = tf1_graphs["dropout"]
    graph = load_checkpoint(prefixes["train"]).graph
    draft = _draft(tmp_path, "drop", {"x": "x"}, {"logits": "logits"})
    draft.rewrites[switch] = False
    errors = [str(p) for p in validate(draft, graph) if p.level is Level.ERROR]
    assert errors == [
        "signature 'serving_default', output 'logits': dropout in 'hidden/dropout' draws a new "
        "random mask on every request (hidden/dropout/random_uniform/RandomUniform), so the "
        "same request gets different answers; "
        + _switch_on("dropout", "Dropout bypassed", switch)]
    # The fix names nothing this graph lacks (no placeholder, no --bind) and no rebuild.
    assert "--bind" not in errors[0] and "keep_prob" not in errors[0]
    assert "training=False" not in errors[0]
    with pytest.raises(SignatureError, match="draws a new random mask"):
        export_model(draft, prefixes["train"])
    assert not (tmp_path / "drop").exists()
    draft.rewrites[switch] = True  # doing what the line says
    assert [p for p in validate(draft, graph) if p.level is Level.ERROR] == []


def test_nan_output_is_refused_naming_it(tf1_graphs, tmp_path):
    prefix = tf1_graphs["log"]["prefix"]
    draft = _draft(tmp_path, "log", {"x": "x"}, {"raw": "log_raw", "safe": "log_safe"})
    with pytest.raises(ExportError, match=r"^verification: signature 'serving_default' output "
                                          r"'raw' is NaN in \d+ of 16 value\(s\) on sample "
                                          r"inputs; .* it first appears at log_raw \(Log\)"):
        export_model(draft, prefix)
    assert not (tmp_path / "log").exists()

    clean = _draft(tmp_path, "log", {"x": "x"}, {"safe": "log_safe"})
    result = export_model(clean, prefix)
    x = np.array([[1.0, -2.0, 0.5], [3.0, 0.0, -1.0]], np.float32)
    got = _serve(result.path, [{"x": x}])[0]["safe"]
    want = _run_checkpoint(prefix, ["log_safe:0"], {"x:0": x})[0]
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_a_length_per_example_is_sampled_as_one_so_masked_attention_is_defined(tmp_path):
    """Attention masked to -inf past each example's length (as seq2seq attention does)
    answers NaN for a length of 0: verification's samples give every per-example
    integer the value 1, so a right model is not refused for it."""
    from tests.checkpoints import save_initialized

    tf = tensorflow()
    tf1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        scores = tf1.placeholder(tf.float32, [None, None], name="scores")
        lengths = tf1.placeholder(tf.int32, [None], name="lengths")
        w = tf1.get_variable("w", [], initializer=tf1.ones_initializer())
        mask = tf.sequence_mask(lengths, tf.shape(scores)[1])
        tf.nn.softmax(tf1.where(mask, scores * w, tf.fill(tf.shape(scores), -np.inf)),
                      name="attention")
    prefix = save_initialized(graph, tmp_path / "ckpt" / "model.ckpt")
    draft = _draft(tmp_path / "out", "att", {"scores": "scores", "lengths": "lengths"},
                   {"attention": "attention"})
    result = export_model(draft, prefix)
    assert result.verification is not None and result.verification.max_difference == 0
    feed = {"scores": np.array([[1.0, 2.0, 3.0], [0.5, 0.5, 9.0]], np.float32),
            "lengths": np.array([2, 3], np.int32)}
    got = _serve(result.path, [feed])[0]["attention"]
    np.testing.assert_allclose(got[0], [np.exp(-1) / (1 + np.exp(-1)), 1 / (1 + np.exp(-1)), 0],
                               rtol=1e-6)


def test_equal_nans_are_not_a_match():
    nan = np.array([1.0, np.nan])
    assert not _close(nan, nan.copy())
    assert np.isnan(max_difference(nan, nan.copy()))
    assert max_difference(np.array([np.inf]), np.array([np.inf])) == float("inf")
    assert max_difference(np.array([1.0, 2.0]), np.array([1.0, 2.5])) == 0.5


def test_output_reading_an_iterator_is_refused_and_the_fix_works(tf1_graphs, tmp_path):
    built = tf1_graphs["iterator"]
    prefix = built["prefix"]
    draft = _draft(tmp_path, "it", {}, {"logits": "logits"})
    with pytest.raises(SignatureError) as info:
        export_model(draft, prefix)
    message = str(info.value)
    assert message == ("signature 'serving_default', output 'logits': reads the training "
                       "input pipeline at IteratorGetNext (IteratorGetNext) instead of the "
                       "signature's inputs, so every request gets the next training batch; "
                       "add IteratorGetNext:0 as input(s) so requests feed them")
    assert not (tmp_path / "it").exists()

    # Doing what the line says publishes a model that answers the request.
    fixed = _draft(tmp_path, "it", {"x": built["next"]}, {"logits": "logits"})
    assert not [p for p in validate(fixed, load_checkpoint(prefix).graph)
                if p.level is not Level.INFO]
    result = export_model(fixed, prefix)  # the inputs rewrite puts a placeholder there
    x = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 0.0], [2.0, 0.0, -3.0]], np.float32)
    _assert_serves_like_twin(result.path, prefix, x, feed=built["next"])


def _keep_prob_graph(folder: Path, default: float) -> str:
    """TF2-behaviour graph: dropout whose keep_prob placeholder defaults to ``default``."""
    tf = tensorflow()
    tf1 = tf.compat.v1
    folder.mkdir()
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [None, 4], name="x")
        keep = tf1.placeholder_with_default(default, [], name="keep_prob")
        with tf1.variable_scope("dense"):
            h = tf.nn.dropout(tf.matmul(x, tf1.get_variable("kernel", [4, 3])), rate=1 - keep)
        tf.identity(h, name="y")
        return save_initialized(graph, folder / "m.ckpt")


def test_dropout_behind_a_placeholder_publishes_its_inference_answer(tmp_path):
    prefix = _keep_prob_graph(tmp_path / "half", 0.5)
    draft = _draft(tmp_path / "out", "kp", {"x": "x"}, {"y": "y"})
    assert [p for p in validate(draft, load_checkpoint(prefix).graph)
            if p.level not in (Level.INFO,)] == []
    result = export_model(draft, prefix)
    x = np.random.default_rng(5).normal(size=(3, 4)).astype("float32")
    _assert_serves_like_twin(result.path, prefix, x, key="y", fetch="y:0",
                             twin_feeds={"keep_prob:0": 1.0})


def test_dropout_behind_a_placeholder_with_its_rewrite_off_names_both_fixes(tmp_path):
    prefix = _keep_prob_graph(tmp_path / "half", 0.5)
    graph = load_checkpoint(prefix).graph
    draft = _draft(tmp_path / "out", "kp", {"x": "x"}, {"y": "y"})
    draft.rewrites["dropout"] = False
    draft.rewrites["training_switch"] = False  # keep_prob left at its default
    warnings = [str(p) for p in validate(draft, graph) if p.level is Level.WARNING]
    assert warnings == [
        "signature 'serving_default', output 'y': dropout in 'dense/dropout' draws a new "
        "random mask on every request (dense/dropout/random_uniform/RandomUniform) unless "
        "keep_prob:0 (left at its default) switches it off; bind keep_prob to its inference "
        "value (verification checks that two identical requests agree), or: "
        + _switch_on("dropout", "Dropout bypassed", "dropout")]
    with pytest.raises(ExportError, match=r"output 'y' changes between two runs on the same "
                                          r"inputs; dropout in 'dense/dropout' .* unless "
                                          r"keep_prob:0 \(left at its default\) .* switch "
                                          r"dropout on"):
        export_model(draft, prefix)
    assert not (tmp_path / "out" / "kp").exists()
    draft.bound["keep_prob"] = 1.0  # the other fix the line names
    assert [p for p in validate(draft, graph) if p.level is not Level.INFO] == []
    assert export_model(draft, prefix).version == 1


def test_ops_a_rewrite_replaces_are_not_reported(tf1_graphs):
    graph = load_checkpoint(tf1_graphs["dropout"]["train"]).graph
    findings = signature_findings(graph, ["logits"], ["x"])
    assert [f.op for f in findings] == ["hidden/dropout/random_uniform/RandomUniform"]
    replaced = frozenset({"hidden/dropout/random_uniform/RandomUniform"})
    assert signature_findings(graph, ["logits"], ["x"], replaced=replaced) == []
    draft = _draft(Path("/nowhere"), "d", {"x": "x"}, {"logits": "logits"})
    # validate() passes the active rewrites' ops: the dropout rewrite is on by default.
    assert [p for p in validate(draft, graph) if p.level is Level.ERROR] == []


def test_the_command_line_refuses_in_one_line(tf1_graphs, tmp_path, capsys):
    from app.cli import main

    def export(prefix: str, *args: str) -> tuple[int, str]:
        code = main(["export", prefix, "--out", str(tmp_path), "--name", "m", "--input", "x=x",
                     "--output", "logits=logits", *args])
        _, err = capsys.readouterr()
        return code, err

    code, err = export(tf1_graphs["dropout"]["train"], "--no-rewrite", "dropout")
    assert code == 2 and len(err.strip().splitlines()) == 1, err  # refused before any work
    assert err.startswith("signet: ") and "dropout in 'hidden/dropout' draws" in err
    assert "drop --no-rewrite dropout" in err and "training=False" not in err
    code, err = export(tf1_graphs["bn_fused"]["train"], "--no-rewrite", "batch_norm")
    last = err.strip().splitlines()[-1]  # after the progress lines
    assert code == 2 and "Traceback" not in err, err
    assert last.startswith("signet: verification: ") and "FusedBatchNorm" in last
    assert "drop --no-rewrite batch_norm" in last
    assert not (tmp_path / "m").exists() or not any(
        p.name.isdigit() for p in (tmp_path / "m").iterdir())
    code, err = export(tf1_graphs["dropout"]["train"])  # the rewrites on: published
    assert code == 0, err
    assert [p.name for p in (tmp_path / "m").iterdir() if p.name.isdigit()] == ["1"]


def test_an_output_reading_a_queue_is_refused_with_the_tensor_to_feed(tmp_path):
    built = build("tests.graphs_tf1:queue_input", tmp_path / "queue")
    graph = load_checkpoint(built["prefix"]).graph
    draft = _draft(tmp_path, "q", {}, {"logits": "logits"})
    errors = [str(p) for p in validate(draft, graph) if p.level is Level.ERROR]
    assert errors == ["signature 'serving_default', output 'logits': reads the training input "
                      "pipeline at batch (QueueDequeueManyV2) instead of the signature's "
                      f"inputs, so every request gets the next training batch; add "
                      f"{built['next']} as input(s) so requests feed them"]
    fixed = _draft(tmp_path, "q", {"x": built["next"]}, {"logits": "logits"})
    assert [p for p in validate(fixed, graph) if p.level is Level.ERROR] == []


def test_layers_dropout_in_a_v1_cond_publishes_or_names_its_training_switch(tmp_path):
    prefix = build("tests.graphs_tf1:layers_dropout", tmp_path / "ld", legacy_keras=True)["prefix"]
    graph = load_checkpoint(prefix).graph
    x = np.random.default_rng(4).normal(size=(3, 6)).astype("float32")
    draft = _draft(tmp_path / "on", "ld", {"x": "x"}, {"logits": "logits"})
    assert [p for p in validate(draft, graph) if p.level is not Level.INFO] == []
    result = export_model(draft, prefix)  # the dropout rewrite bypasses the cond
    _assert_serves_like_twin(result.path, prefix, x, twin_feeds={"is_training:0": False})

    draft = _draft(tmp_path / "off", "ld", {"x": "x"}, {"logits": "logits"})
    draft.rewrites["dropout"] = False
    draft.rewrites["training_switch"] = False  # is_training left at its default
    warnings = [str(p) for p in validate(draft, graph) if p.level is Level.WARNING]
    assert len(warnings) == 1 and "unless is_training:0 (left at its default) switches it " \
        "off; bind is_training to its inference value" in warnings[0], warnings
    assert warnings[0].endswith(_switch_on("dropout", "Dropout bypassed", "dropout"))
    with pytest.raises(ExportError, match=r"changes between two runs .* is_training:0"):
        export_model(draft, prefix)
    assert not (tmp_path / "off" / "ld").exists()
    draft.bound["is_training"] = False
    assert [p for p in validate(draft, graph) if p.level is not Level.INFO] == []
    result = export_model(draft, prefix)
    _assert_serves_like_twin(result.path, prefix, x, twin_feeds={"is_training:0": False})


def test_sampling_no_rewrite_removes_is_refused_and_its_scores_published(tmp_path):
    prefix = build("tests.graphs_tf1:sampling", tmp_path / "sampling")["prefix"]
    graph = load_checkpoint(prefix).graph
    draft = _draft(tmp_path / "out", "s", {"x": "x"}, {"sample": "head/sample"})
    errors = [str(p) for p in validate(draft, graph) if p.level is Level.ERROR]
    assert errors == [
        "signature 'serving_default', output 'sample': head/categorical/Multinomial "
        "(Multinomial) in 'head/categorical' draws new random numbers on every request, so the "
        "same request gets different answers; nothing in the graph switches it off and no "
        "inference rewrite removes it: serve a tensor from before it (for sampling, the scores "
        "it draws from) or, if only training adds it, rebuild the model with training=False "
        "and export that graph"]
    assert "--rewrite" not in errors[0] and "--bind" not in errors[0]
    with pytest.raises(SignatureError, match="Multinomial"):
        export_model(draft, prefix)
    assert not (tmp_path / "out" / "s").exists()
    scores = _draft(tmp_path / "out", "s", {"x": "x"}, {"logits": "head/logits"})
    result = export_model(scores, prefix)
    x = np.random.default_rng(6).normal(size=(3, 3)).astype("float32")
    _assert_serves_like_twin(result.path, prefix, x, fetch="head/logits:0")


def test_moving_average_updates_are_not_suggested_as_outputs(tf1_graphs):
    """Their deltas end a path but are batch-level training state, which verification refuses."""
    loaded = load_checkpoint(tf1_graphs["bn_moments"]["train"])
    graph = loaded.graph
    deltas = {f"{name}:0" for name, op in graph.ops.items()
              if op.consumers and all(graph.ops[c].type == "AssignSub" for c in op.consumers)}
    assert len(deltas) == 2  # moving mean and moving variance
    suggested = {s.tensor for s in loaded.suggestions.outputs}
    assert suggested and not suggested & deltas
