"""`signet run`: the body `export` printed reproduces the checkpoint's outputs; bad requests
get TF Serving's words and exit 2; request checks warn before the export."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from app.cli import main
from app.core.loader import load_checkpoint
from app.core.signature.draft import Draft, Level, Signature, Slot
from app.core.tf_runtime import tensorflow
from app.core.validation.draft import validate
from tests.builders import checkpoint_outputs
from tests.checkpoints import save_initialized


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _printed_bodies(out: str) -> dict[str, dict]:
    found = re.findall(r"REST :predict body for '(\w+)':\n(.*)\n", out)
    return {key: json.loads(text) for key, text in found}



def build_fixed_weights(directory: Path) -> Path:
    """y = x @ w, with w itself (a fixed [3, 2] tensor) and a scalar as outputs too."""
    tf = tensorflow()
    tf1 = tf.compat.v1
    directory.mkdir(parents=True, exist_ok=True)
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [None, 3], name="x")
        w = tf1.get_variable("w", [3, 2])
        y = tf.matmul(x, w, name="y")
        tf.identity(w, name="weights")
        tf.reduce_sum(y, name="total")
        return Path(save_initialized(graph, directory / "w.ckpt"))


@pytest.fixture(scope="module")
def cnn_export(cnn, tmp_path_factory):
    """`signet export` of the CNN with two signatures, and what it printed."""
    base = tmp_path_factory.mktemp("exports")
    code = main(["export", str(cnn.latest), "--out", str(base), "--name", "cnn",
                 "--input", "images=images", "--output", "probabilities=probabilities",
                 "--output", "classes=classes",
                 "--signature", "logits", "--input", "images=images",
                 "--output", "logits=dense/logits"])
    assert code == 0
    return base / "cnn"


def test_run_on_the_printed_body_reproduces_the_checkpoint(cnn, cnn_export, tmp_path, capsys):
    # Export again to capture the printed bodies (same checkpoint, version 2).
    code, out, err = _run(capsys, "export", cnn.latest, "--out", cnn_export.parent, "--name",
                          "cnn", "--input", "images=images", "--output",
                          "probabilities=probabilities", "--output", "classes=classes",
                          "--signature", "logits", "--input", "images=images",
                          "--output", "logits=dense/logits")
    assert code == 0, err
    bodies = _printed_bodies(out)
    assert set(bodies) == {"logits", "serving_default"}
    for key, fetches in (("serving_default", ["classes:0", "probabilities:0"]),
                         ("logits", ["dense/logits:0"])):
        body = tmp_path / f"{key}.json"
        body.write_text(json.dumps(bodies[key]))
        code, answer, err = _run(capsys, "run", cnn_export, "--request", body)  # newest version
        assert code == 0, answer + err
        images = np.array(bodies[key]["instances"], np.float32)
        want = checkpoint_outputs(cnn.latest, {"images:0": images}, fetches)
        got = json.loads(answer)["predictions"]
        if key == "logits":
            np.testing.assert_allclose(np.array(got, np.float32), want[0], rtol=1e-6)
        else:
            assert [row["classes"] for row in got] == want[0].tolist()
            np.testing.assert_allclose(np.array([row["probabilities"] for row in got]),
                                       want[1], rtol=1e-6)


def test_run_agrees_with_tf2s_loader_on_a_version_folder(cnn_export, tmp_path, capsys):
    tf = tensorflow()
    images = np.random.default_rng(9).normal(size=(2, 8, 8, 1)).astype("f4")
    body = tmp_path / "b.json"
    body.write_text(json.dumps({"inputs": {"images": images.tolist()}}))
    code, answer, err = _run(capsys, "run", cnn_export / "1", "--request", body,
                             "--signature", "logits")
    assert code == 0, err
    loaded = tf.saved_model.load(str(cnn_export / "1"))
    want = loaded.signatures["logits"](images=tf.constant(images))["logits"].numpy()
    np.testing.assert_allclose(np.array(json.loads(answer)["outputs"], np.float32), want,
                               rtol=1e-5)


@pytest.mark.parametrize("body, words", [
    ({"signature_name": "nope", "instances": [[[[0.0]]]]},
     'Serving signature name: \\"nope\\" not found in signature def'),
    ({"inputs": {"pictures": [[[[0.0]]]]}}, "Missing named input: images in 'inputs' object."),
    ({"instances": [{"images": [[[0.0]]], "extra": 1}]},
     "JSON object: does not have named input: extra"),
    ({"inputs": [[[1.0]]]}, "images"),  # a rank the graph refuses: TensorFlow's own message
])
def test_bad_requests_get_tf_serving_words_and_exit_2(cnn_export, tmp_path, capsys, body,
                                                      words):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(body))
    code, answer, _ = _run(capsys, "run", cnn_export, "--request", path)
    assert code == 2
    assert answer.startswith('{\n    "error": ') and words in answer
    assert set(json.loads(answer)) == {"error"}


def test_bad_b64_on_a_string_input(vocab_table, tmp_path, capsys):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"instances": [{"b64": "***"}]}))
    code, answer, _ = _run(capsys, "run", vocab_table.latest, "--request", path,
                           "--input", "tokens=tokens", "--output", "token_ids=token_ids")
    assert code == 2 and "Unable to base64 decode" in json.loads(answer)["error"]
    path.write_text(json.dumps({"instances": [{"b64": "Y2F0"}, "the", "dog"]}))
    code, answer, err = _run(capsys, "run", vocab_table.latest, "--request", path,
                             "--input", "tokens=tokens", "--output", "token_ids=token_ids")
    assert code == 0, err
    words = vocab_table.extra["words"]
    assert json.loads(answer) == {"predictions": [words.index("cat"), words.index("the"), 0]}


def test_inconsistent_batch_is_warned_answered_and_avoided(tmp_path, capsys):
    prefix = build_fixed_weights(tmp_path / "ckpt")
    graph = load_checkpoint(prefix).graph
    draft = Draft([Signature(inputs=[Slot("x", "x:0")],
                             outputs=[Slot("y", "y:0"), Slot("weights", "weights:0"),
                                      Slot("total", "total:0")])])
    warnings = {p.slot: p.message for p in validate(draft, graph) if p.level is Level.WARNING}
    assert set(warnings) == {"weights", "total"}
    assert "fixed first dimension of 3" in warnings["weights"]
    assert "is a scalar" in warnings["total"] and '"inputs"' in warnings["total"]
    row = tmp_path / "row.json"
    row.write_text(json.dumps({"instances": [[1.0, 2.0, 3.0], [0.0, 1.0, 0.0]]}))
    argv = ["run", prefix, "--request", row, "--input", "x=x", "--output", "y=y",
            "--output", "weights=weights"]
    code, answer, _ = _run(capsys, *argv)
    assert code == 2
    assert json.loads(answer) == {"error": "Tensor name: y has inconsistent batch size: 2 "
                                           "expecting: 3"}
    code, out, err = _run(capsys, "export", prefix, "--out", tmp_path / "out", "--name", "w",
                          "--input", "x=x", "--output", "y=y", "--output", "weights=weights")
    assert code == 0, err
    assert "warning: signature 'serving_default', output 'weights':" in out
    body = _printed_bodies(out)["serving_default"]
    assert "inputs" in body  # the columnar format, which the server answers
    (tmp_path / "cols.json").write_text(json.dumps(body))
    code, answer, err = _run(capsys, "run", tmp_path / "out" / "w", "--request",
                             tmp_path / "cols.json")
    assert code == 0, err
    assert np.array(json.loads(answer)["outputs"]["weights"]).shape == (3, 2)


def test_binary_inputs_and_outputs_are_warned_with_the_bytes_convention(tmp_path):
    tf = tensorflow()
    tf1 = tf.compat.v1
    graph_dir = tmp_path / "img"
    graph_dir.mkdir()
    graph = tf.Graph()
    with graph.as_default():
        raw = tf1.placeholder(tf.string, [], name="raw")
        image = tf.io.decode_png(tf.identity(raw), channels=1)
        tf.io.encode_png(image, name="png")
        tf.identity(tf.strings.length(raw), name="size")
        tf1.get_variable("v", [1])
        prefix = save_initialized(graph, graph_dir / "i.ckpt", global_step=None)
    loaded = load_checkpoint(prefix).graph
    draft = Draft([Signature(inputs=[Slot("image", "raw:0")],
                             outputs=[Slot("png", "png:0"), Slot("size", "size:0")])])
    problems = [p for p in validate(draft, loaded) if "b64" in p.message]
    assert [(p.level, p.side, p.slot) for p in problems] == [
        (Level.WARNING, "inputs", "image"), (Level.WARNING, "outputs", "png")]
    assert "DecodePng" in problems[0].message and "image_bytes" in problems[0].message
    assert "png_bytes" in problems[1].message
    draft.signatures[0].inputs[0].key = "image_bytes"
    draft.signatures[0].outputs[0].key = "png_bytes"
    levels = [p.level for p in validate(draft, loaded) if "b64" in p.message]
    assert levels == [Level.INFO]


def test_unreadable_request_file_is_one_line(cnn_export, tmp_path, capsys):
    code, out, err = _run(capsys, "run", cnn_export, "--request", tmp_path / "none.json")
    assert code == 2 and out == ""
    assert err.strip() == (f"signet: --request {tmp_path / 'none.json'}: no such file; give "
                           "the JSON body of a TF Serving :predict request")


def test_body_from_standard_input_and_a_conflicting_signature(cnn_export, capsys,
                                                              monkeypatch):
    import io

    body = json.dumps({"signature_name": "logits", "inputs": {"images": [[[[0.0]] * 8] * 8]}})
    monkeypatch.setattr("sys.stdin", io.StringIO(body))
    code, answer, err = _run(capsys, "run", cnn_export, "--request", "-")
    assert code == 0, err
    assert np.array(json.loads(answer)["outputs"]).shape == (1, 3)
    monkeypatch.setattr("sys.stdin", io.StringIO(body))
    code, answer, err = _run(capsys, "run", cnn_export, "--request", "-",
                             "--signature", "serving_default")
    assert code == 2 and answer == ""
    assert err.strip() == ("signet: --signature serving_default: the body asks for signature "
                           "'logits'; drop one of the two")
