"""Work run beside other work: really at once, both always finished, the earlier error first;
and the export's verification keeps its messages (the checkpoint side runs inside open_export)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from app.core.disk.beside import run_beside
from app.core.errors import ExportError
from app.core.export import export_model
from app.core.export.verify import open_export
from app.core.serving.serving_model import CannotLoad, ServingModel
from app.core.signature.draft import Draft, Signature, Slot
from app.core.tf_runtime import tensorflow
from tests.checkpoints import save_initialized


def test_a_session_run_and_a_graph_import_run_at_once():
    """The thread's session run waits for the import here to start: one after the other
    would never finish (the wait's timeout fails the test instead of hanging)."""
    tf = tensorflow()
    tf1 = tf.compat.v1
    started = threading.Event()
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [None, 2], name="x")
        tf.identity(tf.matmul(x, tf.ones([2, 2])), name="y")
    other = tf.Graph()
    with other.as_default():
        tf.identity(tf.constant([1.0, 2.0]) * 3.0, name="z")
    graph_def = other.as_graph_def()

    def run() -> list:
        assert started.wait(timeout=10), "the import never started beside the run"
        with tf1.Session(graph=graph) as session:
            return session.run(["y:0"], {"x:0": np.ones((3, 2), np.float32)})

    def import_here() -> list:
        started.set()
        fresh = tf.Graph()
        with fresh.as_default():
            tf.graph_util.import_graph_def(graph_def, name="")
        return [op.name for op in fresh.get_operations()]

    (y,), names = run_beside(run, import_here)
    assert y.tolist() == [[2.0, 2.0]] * 3
    assert "z" in names


def test_the_first_error_wins_and_both_halves_always_finish():
    finished = []

    def first_fails() -> None:
        finished.append("first")
        raise ExportError("first")

    def second_fails() -> None:
        raise ValueError("second")

    with pytest.raises(ExportError, match="first"):
        run_beside(first_fails, second_fails)
    assert finished == ["first"]

    def slow_first() -> int:
        threading.Event().wait(0.2)
        finished.append("slow")
        return 1

    with pytest.raises(ValueError, match="second"):
        run_beside(slow_first, second_fails)
    assert finished[-1] == "slow"  # not left running behind the error
    assert run_beside(lambda: 1, lambda: 2) == (1, 2)


def _asserting_model(folder):
    """y = x @ w, guarded by an assert that normal samples (some negative) break."""
    tf = tensorflow()
    tf1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [None, 2], name="x")
        w = tf1.get_variable("w", [2, 2])
        with tf.control_dependencies([tf1.assert_non_negative(x, name="x_is_a_count")]):
            tf.identity(tf.matmul(x, w), name="y")
        return save_initialized(graph, folder / "m.ckpt")


def test_the_checkpoint_side_failing_before_the_load_says_so_and_publishes_nothing(tmp_path):
    prefix = _asserting_model(tmp_path)
    draft = Draft([Signature(inputs=[Slot("x", "x:0")], outputs=[Slot("y", "y:0")])])
    draft.options.base, draft.options.name = str(tmp_path / "out"), "m"
    with pytest.raises(ExportError, match=r"verification: the checkpoint graph fails on sample "
                                          r"inputs for signature 'serving_default' "
                                          r"\(assertion failed: "):  # the kernel's own words
        export_model(draft, prefix)
    assert not list((tmp_path / "out" / "m").glob("[0-9]*"))
    draft.options.verify = draft.options.warmup = False
    assert export_model(draft, prefix).version == 1  # the graph itself exports


def test_a_savedmodel_tensorflow_refuses_is_named_once(tmp_path):
    folder = tmp_path / "1"
    folder.mkdir()
    (folder / "saved_model.pb").write_bytes(b"not a SavedModel")
    with pytest.raises(CannotLoad, match=rf"{folder}: TensorFlow cannot load this SavedModel"):
        ServingModel(folder)
    ran = []
    with pytest.raises(ExportError, match=r"^verification: TensorFlow cannot load the export"):
        open_export(folder, beside=lambda: ran.append(True))
    assert ran == [True]  # the work before the load ran; the load error is still named
