"""An Estimator ``model_fn`` trained by hand (``tf.estimator`` is gone in TF 2.21).

In the style of tensorflow/tensorflow ``tensorflow/examples/tutorials/layers/cnn_mnist.py``
(``cnn_model_fn(features, labels, mode)`` on ``features["x"]`` with ``tf.layers``,
``tf.layers.dropout(rate=0.4, training=mode == TRAIN)``, ``predictions = {"classes":
argmax, "probabilities": tf.nn.softmax(logits, name="softmax_tensor")}``,
``tf.losses.sparse_softmax_cross_entropy``, SGD on the global step, an accuracy
metric), as ``Estimator.train`` ran it: an ``input_fn`` returning a ``tf.data`` dataset
of a ``features`` dict and labels, read through an initializable iterator, the
``model_fn`` called in TRAIN mode, a loss summary, and a ``MonitoredTrainingSession``
whose scaffold's Saver (sharded) writes ``model.ckpt-N`` at the end. Dense layers stand
in for the tutorial's convolutions.

Served: the iterator's ``features["x"]`` (an ``IteratorGetNext`` output: key by role,
``features``) → the logits and the named ``softmax_tensor``; the ``classes`` argmax is
read by the metric only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from tests.programs.running import facts, serve_twin

tf1 = tf.compat.v1

TRAIN, PREDICT = "train", "infer"
FEATURES = 6
CLASSES = 3


def model_fn(features: dict[str, Any], labels: Any, mode: str) -> dict[str, Any]:
    """What the ``EstimatorSpec`` would carry, as a dict."""
    dense = tf1.layers.dense(inputs=features["x"], units=16, activation=tf.nn.relu)
    dropout = tf1.layers.dropout(inputs=dense, rate=0.4, training=mode == TRAIN)
    logits = tf1.layers.dense(inputs=dropout, units=CLASSES)
    predictions = {"classes": tf.argmax(input=logits, axis=1),
                   "probabilities": tf.nn.softmax(logits, name="softmax_tensor")}
    if mode == PREDICT:
        return {"predictions": predictions, "logits": logits}
    loss = tf1.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)
    optimizer = tf1.train.GradientDescentOptimizer(learning_rate=0.05)
    train_op = optimizer.minimize(loss=loss, global_step=tf1.train.get_global_step())
    accuracy = tf1.metrics.accuracy(labels=labels, predictions=predictions["classes"])
    return {"predictions": predictions, "logits": logits, "loss": loss, "train_op": train_op,
            "eval_metric_ops": {"accuracy": accuracy}}


def input_fn(x: np.ndarray, y: np.ndarray) -> Any:
    return (tf.data.Dataset.from_tensor_slices(({"x": x}, y))
            .shuffle(len(x), seed=110).repeat().batch(8))


def build(directory: Path) -> dict[str, Any]:
    rng = np.random.default_rng(110)
    train_x = rng.normal(size=(40, FEATURES)).astype(np.float32)
    train_y = rng.integers(0, CLASSES, 40).astype(np.int32)
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(110)
        global_step = tf1.train.get_or_create_global_step()
        iterator = tf1.data.make_initializable_iterator(input_fn(train_x, train_y))
        features, labels = iterator.get_next()
        spec = model_fn(features, labels, TRAIN)
        tf1.summary.scalar("loss", spec["loss"])
        _, update_accuracy = spec["eval_metric_ops"]["accuracy"]
        scaffold = tf1.train.Scaffold(
            local_init_op=tf.group(tf1.local_variables_initializer(), iterator.initializer))
        hooks = [tf1.train.StopAtStepHook(last_step=6),
                 tf1.train.NanTensorHook(spec["loss"]),
                 tf1.train.LoggingTensorHook({"loss": spec["loss"], "step": global_step},
                                             every_n_iter=100)]
        with tf1.train.MonitoredTrainingSession(
                checkpoint_dir=str(directory), scaffold=scaffold, hooks=hooks,
                save_summaries_steps=None, save_summaries_secs=None,
                log_step_count_steps=None) as sess:
            while not sess.should_stop():
                sess.run([spec["train_op"], update_accuracy])
        prefix = tf1.train.latest_checkpoint(str(directory))
    twin = tf.Graph()
    with twin.as_default():
        served = tf1.placeholder(tf.float32, [None, FEATURES], name="x")
        twin_spec = model_fn({"x": served}, None, PREDICT)
    batch = rng.normal(size=(3, FEATURES)).astype(np.float32)
    files = serve_twin(twin, prefix, directory, {"features": (served, batch)},
                       {"logits": twin_spec["logits"],
                        "softmax_tensor": twin_spec["predictions"]["probabilities"]})
    return facts(prefix, files, inputs={"features": features["x"].name},
                 outputs={"logits": spec["logits"].name,
                          "softmax_tensor": spec["predictions"]["probabilities"].name},
                 labels=[labels.name])
