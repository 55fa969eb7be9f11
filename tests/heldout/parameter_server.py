"""A between-graph replicated job, in the style of the "Distributed TensorFlow" example
``tensorflow/tools/dist_test/python/mnist_replica.py``: a ``ClusterSpec`` with one
parameter server and one worker, both started in-process as ``tf.train.Server``s;
``replica_device_setter`` puts the variables on ``/job:ps`` and the ops on
``/job:worker/task:0/cpu:0``; a one-hidden-layer softmax classifier written with
``tf.Variable`` and ``xw_plus_b`` (``hid_w``, ``hid_b``, ``sm_w``, ``sm_b``); the
cross entropy taken by hand on the clipped softmax; Adam (the original's default,
``--sync_replicas=false``). The session runs on the worker's gRPC target with the
original's ``allow_soft_placement`` and ``device_filters``, and the default Saver writes
the checkpoint there, so the ``.meta`` keeps every ``/job:ps``/``/job:worker`` device
string.

Different from the original: a ``tf.data`` pipeline (``from_tensor_slices`` → shuffle →
repeat → batch, one-shot iterator) replaces the feed-dict placeholders.
``SyncReplicasOptimizer`` (the original's ``--sync_replicas``) is left out: with a single
worker its chief reads the global step for the next token racily, so a step's gradients
are now and then dropped as stale and the step blocks until a timeout.

Served: the softmax ``probabilities`` and the ``logits`` under it (the second
``xw_plus_b``), from the pipeline's image features (``features``: float, rank 2).
"""

from __future__ import annotations

import math
import socket
from pathlib import Path
from typing import Any

import numpy as np

from tests.heldout import twin

IMAGE_PIXELS = 6
HIDDEN_UNITS = 8
CLASSES = 4


def _tf():
    import tensorflow as tf

    return tf, tf.compat.v1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _variables() -> dict[str, Any]:
    tf, tf1 = _tf()
    return {
        "hid_w": tf.Variable(tf1.truncated_normal([IMAGE_PIXELS * IMAGE_PIXELS, HIDDEN_UNITS],
                                                  stddev=1.0 / IMAGE_PIXELS), name="hid_w"),
        "hid_b": tf.Variable(tf.zeros([HIDDEN_UNITS]), name="hid_b"),
        "sm_w": tf.Variable(tf1.truncated_normal([HIDDEN_UNITS, CLASSES],
                                                 stddev=1.0 / math.sqrt(HIDDEN_UNITS)),
                            name="sm_w"),
        "sm_b": tf.Variable(tf.zeros([CLASSES]), name="sm_b"),
    }


def _model(x: Any, v: dict[str, Any]) -> tuple[Any, Any]:
    tf, tf1 = _tf()
    hid = tf.nn.relu(tf1.nn.xw_plus_b(x, v["hid_w"], v["hid_b"]))
    logits = tf1.nn.xw_plus_b(hid, v["sm_w"], v["sm_b"])
    return logits, tf.nn.softmax(logits)


def _data(rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    images = rng.uniform(0, 1, (count, IMAGE_PIXELS * IMAGE_PIXELS)).astype(np.float32)
    labels = np.eye(CLASSES, dtype=np.float32)[rng.integers(0, CLASSES, count)]
    return images, labels


def build(directory: Path) -> dict[str, Any]:
    tf, tf1 = _tf()
    cluster = tf1.train.ClusterSpec({"ps": [f"localhost:{_free_port()}"],
                                     "worker": [f"localhost:{_free_port()}"]})
    tf1.train.Server(cluster, job_name="ps", task_index=0)
    server = tf1.train.Server(cluster, job_name="worker", task_index=0)
    images, labels = _data(np.random.default_rng(11), 32)

    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(11)
        with tf1.device(tf1.train.replica_device_setter(
                worker_device="/job:worker/task:0/cpu:0", ps_device="/job:ps/cpu:0",
                cluster=cluster)):
            global_step = tf.Variable(0, name="global_step", trainable=False)
            variables = _variables()
            dataset = tf.data.Dataset.from_tensor_slices((images, labels))
            iterator = tf1.data.make_one_shot_iterator(
                dataset.shuffle(32, seed=11).repeat().batch(8))
            x, y_ = iterator.get_next()
            logits, y = _model(x, variables)
            cross_entropy = -tf.reduce_sum(y_ * tf1.log(tf.clip_by_value(y, 1e-10, 1.0)))
            opt = tf1.train.AdamOptimizer(0.01)
            train_step = opt.minimize(cross_entropy, global_step=global_step)
            init_op = tf1.global_variables_initializer()
        config = tf1.ConfigProto(allow_soft_placement=True,
                                 device_filters=["/job:ps", "/job:worker/task:0"])
        with tf1.Session(server.target, config=config) as sess:
            sess.run(init_op)
            for _ in range(4):
                sess.run(train_step)
            step = sess.run(global_step)
            assert step == 4, step
            prefix = tf1.train.Saver().save(sess, str(directory / "model.ckpt"),
                                            global_step=global_step)
    assert "/job:ps" in variables["hid_w"].device and "/job:worker" in logits.device

    sample, _ = _data(np.random.default_rng(12), 5)
    serving = tf.Graph()
    with serving.as_default():
        x_in = tf1.placeholder(tf.float32, [None, IMAGE_PIXELS * IMAGE_PIXELS], name="x")
        twin_logits, twin_probs = _model(x_in, _variables())
    got = twin.answer(serving, prefix, {"logits": twin_logits, "probabilities": twin_probs},
                      {x_in: sample})
    return twin.facts(directory, prefix, inputs={"features": x.name},
                      outputs={"logits": logits.name, "probabilities": y.name},
                      labels=[y_.name], samples={"features": sample}, expected=got)
