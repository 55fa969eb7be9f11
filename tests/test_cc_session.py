"""TensorFlow Serving's C++ loader through the C API answers what TensorFlow's Python
loader answers, strings and tables included, and refuses bad feeds without crashing."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.serving.cc_session import CcSession
from app.core.tf_runtime import tensorflow


@pytest.fixture(scope="module")
def table_model(tmp_path_factory):
    """ids = vocabulary lookup of words (an asset and a table initializer); y = x @ w."""
    tf = tensorflow()
    tf1 = tf.compat.v1
    folder = tmp_path_factory.mktemp("cc")
    vocab = folder / "vocab.txt"
    vocab.write_text("hello\nworld\na-much-longer-word-than-twenty-two-bytes\n")
    graph = tf.Graph()
    with graph.as_default():
        words = tf1.placeholder(tf.string, [None], name="words")
        table = tf1.lookup.StaticHashTable(
            tf1.lookup.TextFileInitializer(str(vocab), tf.string, 0, tf.int64, -1,
                                           delimiter=" "), -1)
        ids = tf.identity(table.lookup(words), name="ids")
        x = tf1.placeholder(tf.float32, [None, 2], name="x")
        w = tf1.get_variable("w", [2, 2])
        y = tf.identity(tf.matmul(x, w), name="y")
        echo = tf.identity(words, name="echo")
        with tf1.Session(graph=graph) as sess:
            sess.run(tf1.global_variables_initializer())
            info = tf1.saved_model.build_tensor_info
            sig = tf1.saved_model.signature_def_utils.build_signature_def(
                {"words": info(words), "x": info(x)},
                {"ids": info(ids), "y": info(y), "echo": info(echo)},
                "tensorflow/serving/predict")
            builder = tf1.saved_model.Builder(str(folder / "1"))
            builder.add_meta_graph_and_variables(
                sess, ["serve"], signature_def_map={"serving_default": sig},
                assets_collection=graph.get_collection(tf1.GraphKeys.ASSET_FILEPATHS),
                main_op=tf1.tables_initializer())
            builder.save()
    return folder / "1"


def test_answers_equal_the_python_loaders(table_model):
    tf = tensorflow()
    tf1 = tf.compat.v1
    words = np.array([b"world", b"nope", b"a-much-longer-word-than-twenty-two-bytes"], object)
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    fetches = ["ids:0", "y:0", "echo:0"]
    session = CcSession(table_model, ["serve"])
    try:
        assert list(session.meta_graph.signature_def) == ["serving_default"]
        got = session.run(fetches, {"words:0": words, "x:0": x.astype(np.float64)})
    finally:
        session.close()
    with tf1.Session(graph=tf.Graph()) as python:
        tf1.saved_model.loader.load(python, ["serve"], str(table_model))
        want = python.run(fetches, {"words:0": words, "x:0": x})
    assert got[0].tolist() == [1, -1, 2] == want[0].tolist()
    assert got[1].dtype == np.float32 and np.array_equal(got[1], want[1])
    assert got[2].tolist() == words.tolist()


def test_bad_feeds_and_names_are_refused_and_the_session_lives_on(table_model):
    tf = tensorflow()
    session = CcSession(table_model, ["serve"])
    try:
        with pytest.raises(ValueError, match=r"Cannot feed value of shape \(2,\) for Tensor "
                                             r"x:0, which has shape \(None, 2\)"):
            session.run(["y:0"], {"x:0": np.zeros(2, np.float32)})
        with pytest.raises(KeyError, match="nope:0"):
            session.run(["nope:0"], {})
        with pytest.raises(tf.errors.InvalidArgumentError, match="must feed a value"):
            session.run(["y:0"], {})
        (y,) = session.run(["y:0"], {"x:0": np.zeros((1, 2), np.float32)})
        assert y.tolist() == [[0.0, 0.0]]
        assert "ids" in {op.name for op in session.graph.get_operations()}
    finally:
        session.close()
    session.close()  # closing twice frees nothing twice


def test_a_folder_that_is_no_savedmodel_raises_tensorflows_error(tmp_path):
    tf = tensorflow()
    with pytest.raises(tf.errors.OpError, match="SavedModel"):
        CcSession(tmp_path, ["serve"])
