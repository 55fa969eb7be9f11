"""Verification and the warmup replay share one load of the export and its runs,
and still refuse what they refused when each loaded the export and ran on its own."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.errors import ExportError
from app.core.export import export_model, kernels, shared_runs, warmup
from app.core.export.shared_runs import SharedRuns
from app.core.export.verify import BATCH
from app.core.serving.serving_model import ServingModel
from app.core.signature.draft import Draft, Signature, Slot
from app.core.tf_runtime import tensorflow
from tests.checkpoints import save_initialized
from tests.isolated_build import build


def tf1_counter(directory, batch_axis: bool):
    """y = x @ w + a counter assigned on every run (a ref variable, TF1 behaviour)."""
    import tensorflow as tf

    tf1 = tf.compat.v1
    x = tf1.placeholder(tf.float32, [None if batch_axis else 3, 2], name="x")
    w = tf1.get_variable("w", [2, 2])
    count = tf1.get_variable("count", [], initializer=tf1.zeros_initializer())
    tf.identity(tf.matmul(x, w) + tf1.assign_add(count, 1.0), name="y")
    tf.identity(tf.matmul(x, w), name="z")
    prefix = save_initialized(tf1.get_default_graph(), directory / "m.ckpt")
    return {"prefix": prefix}


def tf1_counter_batch(directory):
    return tf1_counter(directory, batch_axis=True)


def tf1_counter_fixed(directory):
    return tf1_counter(directory, batch_axis=False)


def _draft(base, output: str) -> Draft:
    draft = Draft([Signature(inputs=[Slot("x", "x:0")], outputs=[Slot("y", f"{output}:0")])])
    draft.options.base, draft.options.name = str(base), "m"
    return draft


@pytest.mark.parametrize("builder", ["tf1_counter_batch", "tf1_counter_fixed"])
def test_an_output_changing_every_run_is_still_refused_as_such(builder, tmp_path):
    """With a batch axis the runs alone reveal it; without one the second run does."""
    built = build(f"tests.test_verify_shared:{builder}", tmp_path / "ckpt")
    with pytest.raises(ExportError, match=r"output 'y' changes between two runs on the same "
                                          r"inputs"):
        export_model(_draft(tmp_path / "out", "y"), built["prefix"])
    assert not (tmp_path / "out" / "m").exists() or not any((tmp_path / "out" / "m").iterdir())


def test_one_load_serves_verification_and_the_warmup_replay(tmp_path, monkeypatch):
    """One TensorFlow load, batch + each example alone run once each, and a warmup record
    with the same feeds answered by those runs; the file still replays with TF."""
    built = build("tests.test_verify_shared:tf1_counter_batch", tmp_path / "ckpt")
    loads: list[object] = []
    executed: list[list[str]] = []
    replayed: list[str] = []
    real_init, real_run, real_serve = ServingModel.__init__, SharedRuns.run, ServingModel.run

    def counting_init(self, folder, **options):
        loads.append(folder)
        real_init(self, folder, **options)

    def counting_run(self, fetches, feeds):
        executed.append(list(fetches))
        return real_run(self, fetches, feeds)

    def counting_serve(self, key, inputs):
        replayed.append(key)
        return real_serve(self, key, inputs)

    monkeypatch.setattr(ServingModel, "__init__", counting_init)
    monkeypatch.setattr(ServingModel, "run", counting_serve)
    monkeypatch.setattr(SharedRuns, "run", counting_run)
    result = export_model(_draft(tmp_path / "out", "z"), built["prefix"])
    assert len(loads) == 1
    assert len(executed) == 1 + BATCH  # the batch, then each of its examples alone
    # The batch-1 record is example 1 alone, already run; a record at another batch size
    # than verification's runs.
    assert replayed == ["serving_default"] * (warmup.SMALL_BATCH != BATCH)
    assert result.verification is not None and result.verification.max_difference < 1e-5
    logs = warmup.read_warmup(warmup_path := warmup.warmup_path(result.path))
    assert warmup_path.is_file() and len(logs) == 2
    assert warmup.replay_warmup(result.path) == 2  # alone, it loads and runs each record
    assert len(loads) == 2 and replayed == ["serving_default"] * (2 + (warmup.SMALL_BATCH != BATCH))


def test_runs_are_answered_only_for_the_very_same_feeds():
    tf = tensorflow()
    tf1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [None], name="x")
        tf.identity(x * 2.0, name="y")
    with tf1.Session(graph=graph) as session:
        runs = SharedRuns(session)
        feed = np.array([1.0, 2.0], np.float32)
        (first,) = runs.run(["y:0"], {"x:0": feed})
        assert runs.answered(["y:0"], {"x:0": feed.copy()})[0].tolist() == first.tolist()
        assert runs.answered(["y:0"], {"x:0": feed[:1]}) is None
        assert runs.answered(["y:0"], {"x:0": feed.astype(np.float64)}) is None
        assert runs.answered(["x:0"], {"x:0": feed}) is None
        assert runs.count == 1
    assert shared_runs.same_feeds({"a": np.array([b"x"], object)},
                                  {"a": np.array([b"x"], object)})
    assert not shared_runs.same_feeds({"a": np.zeros(2)}, {"b": np.zeros(2)})


def _gpu_only_training_part(folder):
    """y = x @ w, and beside it (never on y's path) a GPU-only CudnnRNN op."""
    tf = tensorflow()
    tf1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [None, 2], name="x")
        w = tf1.get_variable("w", [2, 2])
        tf.identity(tf.matmul(x, w), name="y")
        seq = tf1.placeholder(tf.float32, [5, 1, 2], name="seq")
        zeros = tf.zeros([1, 1, 2])
        tf.raw_ops.CudnnRNN(input=seq, input_h=zeros, input_c=zeros,
                            params=tf.zeros([64]), name="train/rnn")
        # Trained where it had a GPU: here only the runs' own ops can be placed.
        config = tf1.ConfigProto()
        config.graph_options.place_pruned_graph = True
        with tf1.Session(graph=graph, config=config) as sess:
            sess.run(tf1.global_variables_initializer())
            prefix = tf1.train.Saver().save(sess, str(folder / "m.ckpt"), global_step=1)
    return graph, prefix


def test_an_op_serving_could_not_place_is_refused_though_no_signature_runs_it(tmp_path):
    """Runs place only what they need; the whole graph's kernels are checked instead."""
    graph, prefix = _gpu_only_training_part(tmp_path)
    graph_def = graph.as_graph_def()
    assert kernels.unplaceable(graph_def, {"CPU"}) == ["train/rnn (CudnnRNN)"]
    assert kernels.unplaceable(graph_def, {"CPU", "GPU"}) == []
    draft = Draft([Signature(inputs=[Slot("x", "x:0")], outputs=[Slot("y", "y:0")])])
    draft.options.base, draft.options.name = str(tmp_path / "out"), "m"
    draft.options.strip_training = False  # the whole graph, its training part too
    with pytest.raises(ExportError, match=r"m\.ckpt-1\.meta: 1 op\(s\) have no kernel for this "
                                          r"machine's devices \(CPU\).*train/rnn \(CudnnRNN\); "
                                          r"export serving-only \(the default\)"):
        export_model(draft, prefix)
    draft.options.strip_training = True  # the fix the message names
    assert export_model(draft, prefix).version == 1
