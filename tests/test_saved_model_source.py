"""SavedModels open like checkpoints (inspect, render, run) and re-export with edited
signatures: variables and assets copied, no checkpoint needed. TF1- and TF2-written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from app.cli import main
from app.core.errors import CheckpointError
from app.core.export import export_model
from app.core.loader import load_checkpoint
from app.core.signature.draft import Draft, Signature, Slot
from app.core.tf_runtime import tensorflow
from tests.isolated_build import build


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _draft(base: Path, name: str, key: str, inputs: dict, outputs: dict) -> Draft:
    draft = Draft([Signature(key, inputs=[Slot(k, t) for k, t in inputs.items()],
                             outputs=[Slot(k, t) for k, t in outputs.items()])])
    draft.options.base, draft.options.name = str(base), name
    return draft


def _v1_run(folder: Path, key: str, feeds: dict) -> dict:
    tf = tensorflow()
    tf1 = tf.compat.v1
    with tf1.Session(graph=tf.Graph()) as sess:
        meta = tf1.saved_model.loader.load(sess, ["serve"], str(folder))
        sig = meta.signature_def[key]
        names = sorted(sig.outputs)
        values = sess.run([sig.outputs[n].name for n in names],
                          {sig.inputs[k].name: v for k, v in feeds.items()})
    return dict(zip(names, values, strict=True))


@pytest.fixture(scope="module")
def cnn_v1(cnn, tmp_path_factory):
    base = tmp_path_factory.mktemp("exports")
    export_model(_draft(base, "cnn", "serving_default", {"images": "images:0"},
                        {"probabilities": "probabilities:0", "classes": "classes:0"}),
                 cnn.latest)
    return base / "cnn"


def test_inspect_json_lists_signatures_of_a_model_folder(cnn_v1, capsys):
    code, out, err = _run(capsys, "inspect", cnn_v1, "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["checkpoint"] == str(cnn_v1 / "1" / "variables" / "variables")
    assert summary["signatures"] == {"serving_default": {
        "method": "tensorflow/serving/predict",
        "inputs": {"images": {"tensor": "images:0", "dtype": "float32",
                              "shape": "[?, 8, 8, 1]"}},
        "outputs": {"classes": {"tensor": "classes:0", "dtype": "int64", "shape": "[?]"},
                    "probabilities": {"tensor": "probabilities:0", "dtype": "float32",
                                      "shape": "[?, 3]"}}}}
    assert summary["variables"]["count"] > 0
    code, out, _ = _run(capsys, "inspect", cnn_v1 / "1")
    assert out.startswith(f"SavedModel  {cnn_v1 / '1' / 'variables' / 'variables'}")
    assert "Signatures\n  serving_default  (predict)" in out
    # Its saved_model.pb names the version too, as the window's Open dialog hands it over.
    code, out, _ = _run(capsys, "inspect", cnn_v1 / "1" / "saved_model.pb")
    assert code == 0
    assert out.startswith(f"SavedModel  {cnn_v1 / '1' / 'variables' / 'variables'}")


def test_re_export_with_an_edited_signature_needs_no_checkpoint(cnn_v1, tmp_path, capsys):
    loaded = load_checkpoint(cnn_v1)
    draft = _draft(cnn_v1.parent, "cnn", "logits", {"images": "images:0"},
                   {"logits": "dense/logits:0"})
    result = export_model(draft, loaded)
    assert result.path == cnn_v1 / "2" and result.verification.max_difference == 0.0
    images = np.random.default_rng(4).normal(size=(2, 8, 8, 1)).astype("f4")
    logits = _v1_run(result.path, "logits", {"images": images})["logits"]
    probs = _v1_run(cnn_v1 / "1", "serving_default", {"images": images})["probabilities"]
    tf = tensorflow()
    np.testing.assert_allclose(tf.nn.softmax(logits).numpy(), probs, rtol=1e-5)
    # The new version is complete on its own: TF2's loader runs it too.
    fn = tf.saved_model.load(str(result.path)).signatures["logits"]
    np.testing.assert_allclose(fn(images=tf.constant(images))["logits"].numpy(), logits,
                               rtol=1e-6)
    code, _, err = _run(capsys, "render", cnn_v1, "-o", tmp_path / "g.svg")
    assert code == 0, err
    assert "<svg" in (tmp_path / "g.svg").read_text()[:400]


def test_re_export_copies_assets(vocab_table, tmp_path):
    draft = _draft(tmp_path, "vocab", "serving_default", {"tokens": "tokens:0"},
                   {"ids": "token_ids:0"})
    draft.options.strip_training = False  # the whole graph: the re-export serves more of it
    first = export_model(draft, vocab_table.latest)
    source_assets = first.path / "assets"
    loaded = load_checkpoint(first.path)
    second = export_model(_draft(tmp_path, "vocab", "embed", {"tokens": "tokens:0"},
                                 {"embedded": "embedded:0", "ids": "token_ids:0"}), loaded)
    assert sorted(p.name for p in (second.path / "assets").iterdir()) == \
        sorted(p.name for p in source_assets.iterdir())
    words = vocab_table.extra["words"]
    got = _v1_run(second.path, "embed", {"tokens": np.array([b"cat", b"zzz"], object)})
    assert got["ids"].tolist() == [words.index("cat"), 0]


def test_a_saved_model_that_reads_no_variable_opens_and_re_exports(vocab_table, tmp_path):
    """A serving-only export of a lookup alone has no variables (the builder writes none,
    TF Serving loads it so): it opens as a source all the same."""
    draft = _draft(tmp_path, "ids", "serving_default", {"tokens": "tokens:0"},
                   {"ids": "token_ids:0"})
    draft.options.strip_training = True
    first = export_model(draft, vocab_table.latest)
    assert not (first.path / "variables" / "variables.index").exists()
    loaded = load_checkpoint(first.path)
    assert loaded.variables.count == 0
    second = export_model(_draft(tmp_path, "ids", "again", {"tokens": "tokens:0"},
                                 {"ids": "token_ids:0"}), loaded)
    assert second.verification.max_difference == 0.0
    words = vocab_table.extra["words"]
    got = _v1_run(second.path, "again", {"tokens": np.array([b"cat", b"zzz"], object)})
    assert got["ids"].tolist() == [words.index("cat"), 0]


def test_tf2_saved_model_opens_runs_and_re_exports(tmp_path, capsys):
    tf = tensorflow()

    class Scale(tf.Module):
        def __init__(self):
            self.w = tf.Variable(np.arange(6, dtype="f4").reshape(3, 2))

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")])
        def __call__(self, x):
            return {"y": tf.matmul(x, self.w)}

    module = Scale()
    tf.saved_model.save(module, str(tmp_path / "tf2" / "1"), signatures=module.__call__)
    loaded = load_checkpoint(tmp_path / "tf2")
    sig = loaded.summary()["signatures"]["serving_default"]
    assert sig["inputs"]["x"]["shape"] == "[?, 3]" and sig["outputs"]["y"]["dtype"] == "float32"
    draft = _draft(tmp_path, "tf2", "again", {"x": sig["inputs"]["x"]["tensor"]},
                   {"y": sig["outputs"]["y"]["tensor"]})
    result = export_model(draft, loaded)
    x = np.array([[1, 0, 0], [0, 1, 1]], np.float32)
    np.testing.assert_allclose(_v1_run(result.path, "again", {"x": x})["y"],
                               x @ np.arange(6, dtype="f4").reshape(3, 2))
    body = tmp_path / "b.json"
    body.write_text(json.dumps({"signature_name": "again", "instances": x.tolist()}))
    code, out, err = _run(capsys, "run", tmp_path / "tf2", "--request", body)
    assert code == 0, err
    assert json.loads(out) == {"predictions": [[0.0, 1.0], [6.0, 8.0]]}


def tf1_saved_model(directory: Path) -> dict:
    """TF1 behaviour: ref variables and a v1 while loop, written with SavedModelBuilder."""
    import tensorflow as tf

    tf1 = tf.compat.v1
    x = tf1.placeholder(tf.float32, [None, 2], name="x")
    w = tf1.get_variable("w", initializer=tf.constant([[1.0, 1.0], [0.0, 2.0]]))
    _, y = tf.while_loop(lambda i, _: i < 2, lambda i, h: (i + 1, tf.matmul(h, w)),
                         [tf.constant(0), x])
    y = tf.identity(y, name="y")
    with tf1.Session() as sess:
        sess.run(tf1.global_variables_initializer())
        builder = tf1.saved_model.Builder(str(directory / "1"))
        sig = tf1.saved_model.predict_signature_def({"x": x}, {"y": y})
        builder.add_meta_graph_and_variables(sess, ["serve"],
                                             signature_def_map={"serving_default": sig})
        builder.save()
    return {}


def test_tf1_written_saved_model_re_exports(tmp_path):
    build("tests.test_saved_model_source:tf1_saved_model", tmp_path / "m")
    loaded = load_checkpoint(tmp_path / "m")
    types = {op.type for op in loaded.graph.ops.values()}
    assert {"VariableV2", "Enter", "Exit"} <= types
    result = export_model(_draft(tmp_path, "m", "loop", {"x": "x:0"}, {"y": "y:0"}), loaded)
    x = np.array([[1.0, 0.0]], np.float32)
    w = np.array([[1.0, 1.0], [0.0, 2.0]], np.float32)
    np.testing.assert_allclose(_v1_run(result.path, "loop", {"x": x})["y"], x @ w @ w)


def test_a_saved_model_without_its_variables_is_one_line(cnn_v1, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(cnn_v1 / "1", broken)
    shutil.rmtree(broken / "variables")
    with pytest.raises(CheckpointError, match=r"variables\.index: missing \(the SavedModel's "
                                              r"variables\) — copy the whole version folder"):
        load_checkpoint(broken)
    (broken / "saved_model.pb").write_bytes(b"\x0a\xff\xff garbage")
    shutil.copytree(cnn_v1 / "1" / "variables", broken / "variables")
    with pytest.raises(CheckpointError, match="corrupt or truncated SavedModel"):
        load_checkpoint(broken)
