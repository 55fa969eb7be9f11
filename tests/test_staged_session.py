"""The staged load (issue 16, goal 2): a session created from the GraphDef before the
SavedModel is written, finished from the written folder, answers what TensorFlow
Serving's C++ loader answers; any other folder falls back to that loader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.core.export import export_model
from app.core.serving import serving_model
from app.core.serving.cc_session import CcSession
from app.core.serving.serving_model import ServingModel, stage
from app.core.serving.staged_session import NotStaged, StagedSession
from app.core.signature.draft import Draft, Signature, Slot
from app.core.tf_runtime import tensorflow
from tests.checkpoints import save_initialized
from tests.isolated_build import build
from tests.test_cc_session import table_model  # noqa: F401 - the fixture


def _written_graph(folder: Path) -> Any:
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel.FromString((folder / "saved_model.pb").read_bytes())
    return saved.meta_graphs[0].graph_def


def _staged(folder: Path) -> StagedSession:
    graph_def = _written_graph(folder)
    return stage(graph_def, graph_def.SerializeToString(deterministic=True))


def _plain_model(folder: Path, variables: bool) -> Path:
    """y = x @ w (a variable, or a constant when not ``variables``), no main op."""
    tf = tensorflow()
    tf1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [None, 2], name="x")
        w = tf1.get_variable("w", [2, 2]) if variables else tf.constant([[1.0, 2], [3, 4]])
        y = tf.identity(tf.matmul(x, w), name="y")
        with tf1.Session(graph=graph) as sess:
            sess.run(tf1.global_variables_initializer())
            info = tf1.saved_model.build_tensor_info
            sig = tf1.saved_model.signature_def_utils.build_signature_def(
                {"x": info(x)}, {"y": info(y)}, "tensorflow/serving/predict")
            builder = tf1.saved_model.Builder(str(folder))
            builder.add_meta_graph_and_variables(sess, ["serve"],
                                                 signature_def_map={"serving_default": sig})
            builder.save()
    return folder


def test_a_staged_load_answers_what_the_cc_loader_answers(table_model):  # noqa: F811
    words = np.array([b"world", b"nope", b"a-much-longer-word-than-twenty-two-bytes"], object)
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    fetches = ["ids:0", "y:0", "echo:0"]
    staged = _staged(table_model).load(table_model, ["serve"])
    cc = CcSession(table_model, ["serve"])
    try:
        assert staged.meta_graph == cc.meta_graph
        got = staged.run(fetches, {"words:0": words, "x:0": x.astype(np.float64)})
        want = cc.run(fetches, {"words:0": words, "x:0": x})
    finally:
        staged.close()
        cc.close()
    assert got[0].tolist() == [1, -1, 2] == want[0].tolist()  # the table read the asset
    assert got[1].dtype == np.float32 and np.array_equal(got[1], want[1])  # restored w
    assert got[2].tolist() == words.tolist()


def test_bad_feeds_are_refused_as_the_cc_session_refuses_them(table_model):  # noqa: F811
    tf = tensorflow()
    staged = _staged(table_model).load(table_model, ["serve"])
    try:
        with pytest.raises(ValueError, match=r"Cannot feed value of shape \(2,\) for Tensor "
                                             r"x:0, which has shape \(None, 2\)"):
            staged.run(["y:0"], {"x:0": np.zeros(2, np.float32)})
        with pytest.raises(KeyError, match="nope:0"):
            staged.run(["y:0"], {"nope:0": np.zeros(2, np.float32)})
        with pytest.raises(tf.errors.InvalidArgumentError, match="must feed a value"):
            staged.run(["y:0"], {})
        (y,) = staged.run(["y:0"], {"x:0": np.zeros((1, 2), np.float32)})
        assert y.tolist() == [[0.0, 0.0]]
    finally:
        staged.close()


@pytest.mark.parametrize("variables", [True, False])
def test_a_model_with_or_without_variables_loads_staged(tmp_path, variables):
    folder = _plain_model(tmp_path / "m", variables)
    assert (folder / "variables" / "variables.index").is_file() == variables
    staged = _staged(folder).load(folder, ["serve"])
    try:
        x = np.ones((1, 2), np.float32)
        with tensorflow().compat.v1.Session(graph=tensorflow().Graph()) as python:
            tensorflow().compat.v1.saved_model.loader.load(python, ["serve"], str(folder))
            want = python.run("y:0", {"x:0": x})
        assert np.array_equal(staged.run(["y:0"], {"x:0": x})[0], want)
    finally:
        staged.close()


def test_another_graph_is_not_staged_and_the_cc_loader_loads_it(tmp_path, table_model,  # noqa: F811
                                                                 monkeypatch):
    other = _plain_model(tmp_path / "other", variables=True)
    with pytest.raises(NotStaged, match="not the staged one"):
        _staged(other).load(table_model, ["serve"])
    with pytest.raises(NotStaged, match="tags"):
        _staged(table_model).load(table_model, ["serve", "gpu"])
    loads: list[Path] = []
    original = CcSession.__init__

    def counted(self, folder, *args):
        loads.append(Path(folder))
        original(self, folder, *args)

    monkeypatch.setattr(CcSession, "__init__", counted)
    staged = _staged(other)
    with ServingModel(table_model, staged=staged) as model:
        assert model.run("serving_default", {"words": np.array([b"hello"], object),
                                             "x": np.ones((1, 2), np.float32)})["ids"].tolist() \
            == [0]
    assert loads == [table_model]
    assert staged._session is None  # closed when it could not finish the load


def test_a_constant_without_a_value_is_left_to_the_cc_loader():
    from tensorflow.core.framework import graph_pb2

    graph_def = graph_pb2.GraphDef()
    node = graph_def.node.add()
    node.name, node.op = "c", "Const"
    with pytest.raises(NotStaged, match="constant"):
        StagedSession(graph_def, graph_def.SerializeToString(deterministic=True))


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, tuple[Path, str, str]]:
    """name -> (prefix, input, output): TF2 behaviour (resource variables) built here, and
    TF1 behaviour built in a child process (ref variables; v1 while and cond with Adam's
    state; a vocabulary table read from an asset)."""
    root = tmp_path_factory.mktemp("staged_exports")
    scan = build("tests.graphs_tf1:scan_encoder", root / "scan")["prefix"]
    vocab = build("tests.test_checkpoint_side_beside_write:tf1_vocab_model", root / "vocab")
    return {"resource": (_checkpoint(root / "resource"), "x:0", "y:0"),
            "tf1_scan": (Path(scan), "ids:0", "encoder/vectors:0"),
            "tf1_vocab": (Path(vocab["prefix"]), "tokens:0", "out:0")}


@pytest.mark.parametrize("strip", [False, True])
@pytest.mark.parametrize("model", ["resource", "tf1_scan", "tf1_vocab"])
def test_a_verified_export_finishes_the_staged_load(tmp_path, monkeypatch, checkpoints, model,
                                                    strip):
    """The export is loaded for verification and warmup without the C++ loader's own
    load: the session made while the variables were written is the one checked."""
    made: list[StagedSession] = []
    original = serving_model.stage

    def recorded(*args: Any) -> StagedSession:
        made.append(original(*args))
        return made[-1]

    monkeypatch.setattr(serving_model, "stage", recorded)
    monkeypatch.setattr(CcSession, "__init__", _refuse)
    prefix, source, target = checkpoints[model]
    draft = Draft([Signature(inputs=[Slot("in", source)], outputs=[Slot("out", target)])])
    draft.options.base, draft.options.name = str(tmp_path / "out"), "m"
    draft.options.strip_training = strip
    result = export_model(draft, prefix)
    assert result.verification is not None and result.verification.checks
    assert len(made) == 1 and made[0]._session is None  # used, then closed
    assert (result.path / "assets.extra" / "tf_serving_warmup_requests").is_file()


def _refuse(self, *args: Any) -> None:
    raise AssertionError("the export loaded its SavedModel a second time")


def _checkpoint(folder: Path) -> Path:
    """A checkpoint of y = relu(x @ w + b) trained one step with Adam (TF2 behaviour:
    resource variables)."""
    tf = tensorflow()
    tf1 = tf.compat.v1
    folder.mkdir()
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [None, 3], name="x")
        w = tf1.get_variable("w", [3, 2])
        b = tf1.get_variable("b", [2])
        y = tf.nn.relu(tf.matmul(x, w) + b, name="y")
        train = tf1.train.AdamOptimizer().minimize(tf.reduce_sum(y))
        return Path(save_initialized(graph, folder / "model.ckpt",
                                     (train, {x: np.ones((2, 3), np.float32)})))
