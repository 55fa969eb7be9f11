"""The TF Serving warmup file: written by every export, parsed with the serving-api protos,
replayed with TensorFlow's loader; a failing record publishes nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.core.errors import ExportError
from app.core.export import export_model
from app.core.export.warmup import MAX_RECORDS, SMALL_BATCH, warmup_path
from app.core.signature.draft import Draft, Signature, Slot
from app.core.tf_runtime import tensorflow
from tests.checkpoints import save_initialized
from tests.isolated_build import build


def _records(path: Path) -> list:
    from tensorflow_serving.apis import prediction_log_pb2

    raws = list(tensorflow().compat.v1.io.tf_record_iterator(str(path)))
    return [prediction_log_pb2.PredictionLog.FromString(r) for r in raws]


def _replay_with_tf(saved: Path, logs: list) -> list[dict[str, np.ndarray]]:
    """Feed every record through its signature as TF Serving does (TF's v1 loader)."""
    tf = tensorflow()
    tf1 = tf.compat.v1
    answers = []
    with tf1.Session(graph=tf.Graph()) as sess:
        meta = tf1.saved_model.loader.load(sess, ["serve"], str(saved))
        for log in logs:
            kind = log.WhichOneof("log_type")
            request = getattr(log, kind).request
            sig = meta.signature_def[request.model_spec.signature_name]
            if kind == "predict_log":
                feeds = {sig.inputs[k].name: tf.make_ndarray(v)
                         for k, v in request.inputs.items()}
            else:
                examples = [e.SerializeToString() for e in request.input.example_list.examples]
                feeds = {sig.inputs["inputs"].name: np.array(examples, object)}
            keys = sorted(sig.outputs)
            values = sess.run([sig.outputs[k].name for k in keys], feeds)
            answers.append(dict(zip(keys, values, strict=True)))
    return answers


def _cnn_draft(built, base: Path, name: str) -> Draft:
    draft = Draft([
        Signature(inputs=[Slot("images", "images:0")],
                  outputs=[Slot("probabilities", "probabilities:0"),
                           Slot("classes", "classes:0")]),
        Signature("logits", inputs=[Slot("images", "images:0")],
                  outputs=[Slot("logits", "dense/logits:0")]),
    ])
    draft.options.base, draft.options.name = str(base), name
    return draft


def test_cnn_export_writes_a_warmup_file_tf_serving_can_replay(cnn, tmp_path):
    result = export_model(_cnn_draft(cnn, tmp_path, "cnn"), cnn.latest)
    path = warmup_path(result.path)
    assert path == result.path / "assets.extra" / "tf_serving_warmup_requests"
    logs = _records(path)
    assert len(logs) == 4 <= MAX_RECORDS
    assert [log.WhichOneof("log_type") for log in logs] == ["predict_log"] * 4
    tf = tensorflow()
    seen = [(log.predict_log.request.model_spec.signature_name,
             tf.make_ndarray(log.predict_log.request.inputs["images"]).shape) for log in logs]
    assert seen == [("logits", (1, 8, 8, 1)), ("logits", (SMALL_BATCH, 8, 8, 1)),
                    ("serving_default", (1, 8, 8, 1)),
                    ("serving_default", (SMALL_BATCH, 8, 8, 1))]
    answers = _replay_with_tf(result.path, logs)
    probs = answers[3]["probabilities"]
    assert probs.shape == (SMALL_BATCH, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    # The warmup answers are the model's: the logits signature agrees with softmax.
    np.testing.assert_allclose(tf.nn.softmax(answers[1]["logits"]).numpy(), probs, rtol=1e-5)


def test_no_warmup_writes_no_file(cnn, tmp_path):
    draft = _cnn_draft(cnn, tmp_path, "cnn")
    draft.options.warmup = False
    result = export_model(draft, cnn.latest)
    assert not (result.path / "assets.extra").exists()


def tf1_loop_with_regress(directory: Path) -> dict:
    """TF1 behaviour: ref variables, a v1 while loop, and a regress signature on strings."""
    import tensorflow as tf

    tf1 = tf.compat.v1
    x = tf1.placeholder(tf.float32, [None, 2], name="x")
    w = tf1.get_variable("w", [2, 2])
    _, y = tf.while_loop(lambda i, _: i < 3, lambda i, h: (i + 1, tf.matmul(h, w)),
                         [tf.constant(0), x])
    tf.identity(y, name="y")
    text = tf1.placeholder(tf.string, [None], name="text")
    scale = tf1.get_variable("scale", [], initializer=tf1.constant_initializer(0.5))
    tf.identity(tf.cast(tf.strings.length(text), tf.float32) * scale + 1.0, name="score")
    prefix = save_initialized(tf1.get_default_graph(), directory / "loop.ckpt")
    return {"prefix": prefix}


@pytest.fixture(scope="module")
def tf1_regress(tmp_path_factory):
    return build("tests.test_warmup:tf1_loop_with_regress",
                 tmp_path_factory.mktemp("ckpt") / "tf1")


def test_tf1_graph_with_regress_signature_gets_regress_log_records(tf1_regress, tmp_path):
    draft = Draft([
        Signature(inputs=[Slot("x", "x:0")], outputs=[Slot("y", "y:0")]),
        Signature("score", "regress", [Slot("inputs", "text:0")], [Slot("outputs", "score:0")]),
    ])
    draft.options.base, draft.options.name = str(tmp_path), "loop"
    result = export_model(draft, tf1_regress["prefix"])
    logs = _records(warmup_path(result.path))
    kinds = [(log.WhichOneof("log_type"), getattr(log, log.WhichOneof("log_type"))
              .request.model_spec.signature_name) for log in logs]
    assert kinds == [("regress_log", "score")] * 2 + [("predict_log", "serving_default")] * 2
    assert len(logs[1].regress_log.request.input.example_list.examples) == SMALL_BATCH
    answers = _replay_with_tf(result.path, logs)
    # An Example serializes to bytes; the regress graph scores their length.
    lengths = [len(e.SerializeToString())
               for e in logs[1].regress_log.request.input.example_list.examples]
    np.testing.assert_allclose(answers[1]["outputs"], np.array(lengths) * 0.5 + 1.0)
    assert answers[3]["y"].shape == (SMALL_BATCH, 2)


def tf1_failing_on_small_batch(directory: Path) -> dict:
    """Verification's batches (BATCH examples, and each alone) pass; TF Serving's warmup
    batch (SMALL_BATCH, one more) fails an assert."""
    import tensorflow as tf

    from app.core.export.verify import BATCH

    tf1 = tf.compat.v1
    x = tf1.placeholder(tf.float32, [None, 2], name="x")
    w = tf1.get_variable("w", [2, 2])
    check = tf1.assert_less_equal(tf.shape(x)[0], BATCH, message="batch too big")
    with tf.control_dependencies([check]):
        tf.identity(tf.matmul(x, w), name="y")
    prefix = save_initialized(tf1.get_default_graph(), directory / "m.ckpt")
    return {"prefix": prefix}


def test_a_failing_warmup_record_fails_the_export_and_publishes_nothing(tmp_path):
    built = build("tests.test_warmup:tf1_failing_on_small_batch", tmp_path / "ckpt")
    draft = Draft([Signature(inputs=[Slot("x", "x:0")], outputs=[Slot("y", "y:0")])])
    draft.options.base, draft.options.name = str(tmp_path / "out"), "m"
    with pytest.raises(ExportError, match=r"warmup: record 2 of 2 \(predict_log, signature "
                                          r"'serving_default'\) fails: .*batch too big"):
        export_model(draft, built["prefix"])
    assert list((tmp_path / "out").iterdir()) == [] if (tmp_path / "out").exists() else True
    draft.options.warmup = False
    assert export_model(draft, built["prefix"]).version == 1
