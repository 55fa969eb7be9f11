"""Nothing wrong gets published: batch mixing, NaN, randomness and input pipelines are refused.

Training checkpoints come from TF1-behaviour graphs (`tests.graphs_tf1`, built in a
child process); each has an inference twin built from the same model code with
``training=False`` and restored from the same checkpoint, which must publish and
answer like the twin.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from app.core.checks import signature_findings
from app.core.errors import ExportError, SignatureError
from app.core.export import export_model
from app.core.export.verify import _close, max_difference
from app.core.loader import load_checkpoint
from app.core.signature import Draft, Level, Signature, Slot, validate
from app.core.tf_runtime import tensorflow
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


def _run_export(path: Path, feeds: dict[str, np.ndarray], key: str = "serving_default"
                ) -> dict[str, np.ndarray]:
    tf = tensorflow()
    tf1 = tf.compat.v1
    graph = tf.Graph()
    with tf1.Session(graph=graph) as sess:
        meta = tf1.saved_model.loader.load(sess, ["serve"], str(path))
        sig = meta.signature_def[key]
        keys = sorted(sig.outputs)
        values = sess.run([sig.outputs[k].name for k in keys],
                          {sig.inputs[k].name: v for k, v in feeds.items()})
    return dict(zip(keys, values, strict=True))


@pytest.mark.parametrize("kind, cause", [
    ("bn_fused", r"cause: batch norm in training mode \(FusedBatchNorm with is_training=true\) "
                 r"normalises with the batch's own statistics instead of its moving averages "
                 r"\(bn/FusedBatchNorm\w*\); export a graph built with training=False$"),
    ("bn_moments", r"cause: moments over the batch axis normalise every example with the other "
                   r"examples' statistics \(bn/moments/\w+, bn/moments/\w+\); export a graph "
                   r"built with training=False that uses the stored \(moving\) mean and "
                   r"variance$"),
])
def test_training_batch_norm_is_refused_and_its_inference_twin_published(
        tf1_graphs, tmp_path, kind, cause):
    prefixes = tf1_graphs[kind]
    draft = _draft(tmp_path, "bn", {"x": "x"}, {"logits": "logits"})
    with pytest.raises(ExportError) as info:
        export_model(draft, prefixes["train"])
    message = str(info.value)
    assert message.startswith("verification: signature 'serving_default' output 'logits' "
                              "mixes the examples of a batch: example 1 sent alone differs by ")
    assert re.search(cause, message), message
    assert not (tmp_path / "bn").exists()

    result = export_model(draft, prefixes["infer"])
    got = _run_export(result.path, {"x": IMAGES})["logits"]
    twin = _run_checkpoint(prefixes["infer"], ["logits:0"], {"x:0": IMAGES})[0]
    np.testing.assert_allclose(got, twin, rtol=1e-5, atol=1e-5)
    for i in range(len(IMAGES)):  # one example alone gets its row
        alone = _run_export(result.path, {"x": IMAGES[i:i + 1]})["logits"]
        np.testing.assert_allclose(alone, got[i:i + 1], rtol=1e-5, atol=1e-5)
    # ...and the training graph really answered differently (the refusal was deserved).
    train = _run_checkpoint(prefixes["train"], ["logits:0"], {"x:0": IMAGES})[0]
    assert np.abs(train - twin).max() > 1e-3


def test_constant_rate_dropout_is_refused_before_any_work(tf1_graphs, tmp_path):
    prefixes = tf1_graphs["dropout"]
    draft = _draft(tmp_path, "drop", {"x": "x"}, {"logits": "logits"})
    problems = validate(draft, load_checkpoint(prefixes["train"]).graph)
    errors = [str(p) for p in problems if p.level is Level.ERROR]
    assert len(errors) == 1, errors
    error = errors[0]
    assert error.startswith("signature 'serving_default', output 'logits': dropout in "
                            "'hidden/dropout' draws a new random mask on every request "
                            "(hidden/dropout/random_uniform/RandomUniform)")
    assert "nothing in the graph switches it off: rebuild the model in inference mode" in error
    # The fix names nothing this graph lacks: no placeholder, no --bind.
    assert "--bind" not in error and "keep_prob" not in error
    with pytest.raises(SignatureError, match="draws a new random mask"):
        export_model(draft, prefixes["train"])
    assert not (tmp_path / "drop").exists()

    result = export_model(draft, prefixes["infer"])
    got = _run_export(result.path, {"x": IMAGES})["logits"]
    twin = _run_checkpoint(prefixes["infer"], ["logits:0"], {"x:0": IMAGES})[0]
    np.testing.assert_allclose(got, twin, rtol=1e-5, atol=1e-5)


def test_nan_output_is_refused_naming_it(tf1_graphs, tmp_path):
    prefix = tf1_graphs["log"]["prefix"]
    draft = _draft(tmp_path, "log", {"x": "x"}, {"raw": "log_raw", "safe": "log_safe"})
    with pytest.raises(ExportError, match=r"^verification: signature 'serving_default' output "
                                          r"'raw' is NaN in \d+ of 6 value\(s\) on sample "
                                          r"inputs; .* it first appears at log_raw \(Log\)"):
        export_model(draft, prefix)
    assert not (tmp_path / "log").exists()

    clean = _draft(tmp_path, "log", {"x": "x"}, {"safe": "log_safe"})
    result = export_model(clean, prefix)
    x = np.array([[1.0, -2.0, 0.5], [3.0, 0.0, -1.0]], np.float32)
    got = _run_export(result.path, {"x": x})["safe"]
    want = _run_checkpoint(prefix, ["log_safe:0"], {"x:0": x})[0]
    np.testing.assert_allclose(got, want, rtol=1e-6)


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
    result = export_model(fixed, prefix)
    x = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 0.0]], np.float32)
    got = _run_export(result.path, {"x": x})["logits"]
    want = _run_checkpoint(prefix, ["logits:0"], {built["next"]: x})[0]
    np.testing.assert_allclose(got, want, rtol=1e-6)


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
        with tf1.Session(graph=graph) as sess:
            sess.run(tf1.global_variables_initializer())
            return tf1.train.Saver().save(sess, str(folder / "m.ckpt"), global_step=1)


def test_dropout_switched_by_a_placeholder_names_that_placeholder(tmp_path):
    prefix = _keep_prob_graph(tmp_path / "half", 0.5)
    draft = _draft(tmp_path / "out", "kp", {"x": "x"}, {"y": "y"})
    warnings = [str(p) for p in validate(draft, load_checkpoint(prefix).graph)
                if p.level is Level.WARNING]
    assert warnings == [
        "signature 'serving_default', output 'y': dropout in 'dense/dropout' draws a new "
        "random mask on every request (dense/dropout/random_uniform/RandomUniform) unless "
        "keep_prob:0 (left at its default) switches it off; bind keep_prob to its inference "
        "value (verification checks that two identical requests agree)"]
    with pytest.raises(ExportError, match=r"output 'y' changes between two runs on the same "
                                          r"inputs; dropout in 'dense/dropout' .* unless "
                                          r"keep_prob:0 \(left at its default\)"):
        export_model(draft, prefix)
    assert not (tmp_path / "out" / "kp").exists()
    draft.bound["keep_prob"] = 1.0
    assert [p for p in validate(draft, load_checkpoint(prefix).graph)
            if p.level is not Level.INFO] == []
    assert export_model(draft, prefix).version == 1


def test_ops_a_rewrite_replaces_are_not_reported(tf1_graphs):
    graph = load_checkpoint(tf1_graphs["dropout"]["train"]).graph
    findings = signature_findings(graph, ["logits"], ["x"])
    assert [f.op for f in findings] == ["hidden/dropout/random_uniform/RandomUniform"]
    replaced = frozenset({"hidden/dropout/random_uniform/RandomUniform"})
    assert signature_findings(graph, ["logits"], ["x"], replaced=replaced) == []
    draft = _draft(Path("/nowhere"), "d", {"x": "x"}, {"logits": "logits"})
    assert [p for p in validate(draft, graph, replaced=replaced)
            if p.level is Level.ERROR] == []


def test_the_command_line_refuses_in_one_line(tf1_graphs, tmp_path, capsys):
    from app.cli import main

    def export(prefix: str, *args: str) -> tuple[int, str]:
        code = main(["export", prefix, "--out", str(tmp_path), "--name", "m", *args])
        _, err = capsys.readouterr()
        return code, err

    code, err = export(tf1_graphs["dropout"]["train"], "--input", "x=x",
                       "--output", "logits=logits")
    assert code == 2 and len(err.strip().splitlines()) == 1, err  # refused before any work
    assert err.startswith("signet: ") and "dropout in 'hidden/dropout' draws" in err
    code, err = export(tf1_graphs["bn_fused"]["train"], "--input", "x=x",
                       "--output", "logits=logits")
    last = err.strip().splitlines()[-1]  # after the progress lines
    assert code == 2 and "Traceback" not in err, err
    assert last.startswith("signet: verification: ") and "FusedBatchNorm" in last
    assert not (tmp_path / "m").exists() or not any(
        p.name.isdigit() for p in (tmp_path / "m").iterdir())


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


def test_layers_dropout_in_a_v1_cond_names_its_training_switch(tmp_path):
    prefix = build("tests.graphs_tf1:layers_dropout", tmp_path / "ld", legacy_keras=True)["prefix"]
    graph = load_checkpoint(prefix).graph
    draft = _draft(tmp_path / "out", "ld", {"x": "x"}, {"logits": "logits"})
    warnings = [str(p) for p in validate(draft, graph) if p.level is Level.WARNING]
    assert len(warnings) == 1 and "unless is_training:0 (left at its default) switches it " \
        "off; bind is_training to its inference value" in warnings[0], warnings
    with pytest.raises(ExportError, match=r"changes between two runs .* is_training:0"):
        export_model(draft, prefix)
    draft.bound["is_training"] = False
    assert [p for p in validate(draft, graph) if p.level is not Level.INFO] == []
    result = export_model(draft, prefix)
    x = np.random.default_rng(4).normal(size=(3, 6)).astype("float32")
    got = _run_export(result.path, {"x": x})["logits"]
    want = _run_checkpoint(prefix, ["logits:0"], {"x:0": x, "is_training:0": False})[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_moving_average_updates_are_not_suggested_as_outputs(tf1_graphs):
    """Their deltas end a path but are batch-level training state, which verification refuses."""
    loaded = load_checkpoint(tf1_graphs["bn_moments"]["train"])
    graph = loaded.graph
    deltas = {f"{name}:0" for name, op in graph.ops.items()
              if op.consumers and all(graph.ops[c].type == "AssignSub" for c in op.consumers)}
    assert len(deltas) == 2  # moving mean and moving variance
    suggested = {s.tensor for s in loaded.suggestions.outputs}
    assert suggested and not suggested & deltas
