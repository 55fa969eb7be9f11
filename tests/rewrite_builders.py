"""Training graphs and their inference twins for the inference-rewrite tests.

Each builder trains a few steps of one model fed the way training code feeds it
(a ``tf.data`` iterator, a queue of serialized ``tf.Example`` with ``parse_example``,
a Keras learning-phase placeholder), saves the checkpoint, then builds the same
`model` code with ``training=False`` on a placeholder and writes that twin's graph
to ``twin.meta`` (restored later from the same checkpoint). They run in a child
process through `tests.isolated_build` for TF1 behaviour, or in-process for TF2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

FEATURES = 6
CLASSES = 3


def _tf():
    from app.core.tf_runtime import tensorflow

    tf = tensorflow()
    return tf, tf.compat.v1


def model(x: Any, training: Any) -> Any:
    """Two dense layers; with ``training`` a tensor, dropout runs under a cond on it."""
    tf, tf1 = _tf()
    with tf1.variable_scope("model", reuse=tf1.AUTO_REUSE):
        w1 = tf1.get_variable("w1", [FEATURES, 8])
        b1 = tf1.get_variable("b1", [8], initializer=tf1.constant_initializer(0.1))
        h = tf.nn.relu(tf.matmul(x, w1) + b1)
        if training is not False:
            h = tf.cond(training, lambda: tf.nn.dropout(h, rate=0.5), lambda: tf.identity(h))
        w2 = tf1.get_variable("w2", [8, CLASSES])
        b2 = tf1.get_variable("b2", [CLASSES], initializer=tf1.zeros_initializer())
        return tf.matmul(h, w2) + b2


def _data(n: int = 16) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    return (rng.normal(size=(n, FEATURES)).astype(np.float32),
            rng.integers(0, CLASSES, n).astype(np.int64))


def _train_and_save(directory: Path, graph: Any, loss: Any, steps: int,
                    feeds: Any = None, before: Any = None) -> str:
    _, tf1 = _tf()
    with graph.as_default():
        step = tf1.train.get_or_create_global_step()
        train = tf1.train.AdamOptimizer(0.05).minimize(loss, global_step=step)
        saver = tf1.train.Saver()
        with tf1.Session(graph=graph) as sess:
            sess.run(tf1.global_variables_initializer())
            for i in range(steps):
                if before is not None:
                    before(sess, i)
                sess.run(train, feeds(i) if feeds else None)
            return saver.save(sess, str(directory / "model.ckpt"), global_step=step)


def _write_twin(directory: Path) -> dict[str, str]:
    """The inference twin: `model` with training=False on a placeholder, as twin.meta."""
    tf, tf1 = _tf()
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [None, FEATURES], name="x")
        probs = tf.nn.softmax(model(x, False), name="probabilities")
        tf1.train.Saver()
        tf1.train.export_meta_graph(str(directory / "twin.meta"), graph=graph)
    return {"twin_input": x.name, "twin_output": probs.name}


def _head(logits: Any, labels: Any) -> tuple[Any, Any]:
    tf, _ = _tf()
    probs = tf.nn.softmax(logits, name="probabilities")
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=labels, logits=logits))
    return probs, loss


def build_iterator(directory: Path, phase: bool = False) -> dict[str, Any]:
    """Fed by a one-shot ``tf.data`` iterator with a fixed training batch of 4.

    With ``phase``, dropout also runs under a plain learning-phase placeholder fed
    True in training (both rewrites then compose).
    """
    tf, tf1 = _tf()
    directory.mkdir(parents=True, exist_ok=True)
    xs, ys = _data()
    graph = tf.Graph()
    with graph.as_default():
        dataset = tf.data.Dataset.from_tensor_slices((xs, ys)).repeat().batch(
            4, drop_remainder=True)
        features, labels = tf1.data.make_one_shot_iterator(dataset).get_next()
        training = tf1.placeholder(tf.bool, [], name="keras_learning_phase") if phase \
            else False
        probs, loss = _head(model(features, training), labels)
    prefix = _train_and_save(directory, graph, loss, 3,
                             feeds=(lambda i: {training: True}) if phase else None)
    return {"prefix": prefix, "input": features.name, "output": probs.name,
            **_write_twin(directory)}


def build_queue(directory: Path) -> dict[str, Any]:
    """Fed by a queue of serialized tf.Example strings and ``parse_example``."""
    tf, tf1 = _tf()
    directory.mkdir(parents=True, exist_ok=True)
    xs, ys = _data()
    records = [tf.train.Example(features=tf.train.Features(feature={
        "x": tf.train.Feature(float_list=tf.train.FloatList(value=list(map(float, x)))),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(y)])),
    })).SerializeToString() for x, y in zip(xs, ys, strict=True)]
    graph = tf.Graph()
    with graph.as_default():
        queue = tf1.FIFOQueue(64, [tf.string], shapes=[[]], name="examples")
        incoming = tf1.placeholder(tf.string, [None], name="incoming")
        enqueue = queue.enqueue_many([incoming])
        batch = queue.dequeue_many(4)
        parsed = tf1.io.parse_example(batch, {
            "x": tf1.io.FixedLenFeature([FEATURES], tf.float32),
            "label": tf1.io.FixedLenFeature([], tf.int64)})
        probs, loss = _head(model(parsed["x"], False), parsed["label"])
    prefix = _train_and_save(directory, graph, loss, 3,
                             before=lambda sess, i: sess.run(enqueue, {incoming: records[:4]}))
    return {"prefix": prefix, "input": parsed["x"].name, "output": probs.name,
            **_write_twin(directory)}


def build_learning_phase(directory: Path, with_default: bool = False) -> dict[str, Any]:
    """A Keras-style learning phase switching dropout through a cond.

    ``with_default=False``: early Keras's plain bool placeholder, fed True in training;
    ``with_default=True``: a ``PlaceholderWithDefault`` left at True (a graph saved
    in training mode).
    """
    tf, tf1 = _tf()
    directory.mkdir(parents=True, exist_ok=True)
    xs, ys = _data()
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(5)
        if with_default:
            phase = tf1.placeholder_with_default(True, [], name="keras_learning_phase")
        else:
            phase = tf1.placeholder(tf.bool, [], name="keras_learning_phase")
        x = tf1.placeholder(tf.float32, [None, FEATURES], name="features")
        labels = tf1.placeholder(tf.int64, [None], name="labels")
        probs, loss = _head(model(x, phase), labels)
    prefix = _train_and_save(directory, graph, loss, 3,
                             feeds=lambda i: {x: xs, labels: ys, phase: True})
    return {"prefix": prefix, "input": x.name, "output": probs.name, "phase": phase.name,
            **_write_twin(directory)}


def _keras_model(x: Any, training: Any) -> Any:
    """Keras layers (tf_keras under TF_USE_LEGACY_KERAS=1); ``training=None`` reads the phase."""
    tf, _ = _tf()
    with tf.compat.v1.variable_scope("keras_model", reuse=tf.compat.v1.AUTO_REUSE):
        hidden = tf.keras.layers.Dense(8, activation="relu", name="hidden")
        drop = tf.keras.layers.Dropout(0.5, name="drop")
        head = tf.keras.layers.Dense(CLASSES, name="head")
        return head(drop(hidden(x), training=training))


def build_keras_learning_phase(directory: Path) -> dict[str, Any]:
    """Keras Dropout driven by the real ``keras_learning_phase``, trained with it on."""
    tf, tf1 = _tf()
    directory.mkdir(parents=True, exist_ok=True)
    xs, ys = _data()
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [None, FEATURES], name="features")
        labels = tf1.placeholder(tf.int64, [None], name="labels")
        probs, loss = _head(_keras_model(x, None), labels)
        phase = tf.keras.backend.learning_phase()
    prefix = _train_and_save(directory, graph, loss, 3,
                             feeds=lambda i: {x: xs, labels: ys, phase: True})
    twin = tf.Graph()
    with twin.as_default():
        tx = tf1.placeholder(tf.float32, [None, FEATURES], name="x")
        tprobs = tf.nn.softmax(_keras_model(tx, False), name="probabilities")
        tf1.train.Saver()
        tf1.train.export_meta_graph(str(directory / "twin.meta"), graph=twin)
    return {"prefix": prefix, "input": x.name, "output": probs.name, "phase": phase.name,
            "twin_input": tx.name, "twin_output": tprobs.name}
