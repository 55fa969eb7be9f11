"""Deep MNIST for experts, small.

In the style of tensorflow/tensorflow ``tensorflow/examples/tutorials/mnist/mnist_deep.py``
(the "Deep MNIST for experts" tutorial): unnamed ``x`` and ``y_`` placeholders, ``deepnn``
reshapes ``x`` into images and runs conv1 → pool1 → conv2 → pool2 → fc1 → dropout → fc2
under name scopes, with variables from ``tf.Variable(truncated_normal)``; the dropout's
``keep_prob`` is an unnamed placeholder made inside the ``dropout`` scope (fed 0.5 to
train, 1.0 to evaluate). The loss is ``softmax_cross_entropy_with_logits_v2`` against the
one-hot ``y_``, Adam minimises it, and an accuracy compares the argmaxes.

Served: ``x`` (its name is the default ``Placeholder``, so its key is its role,
``features``) → the logits ``fc2/add`` with ``keep_prob`` bound to 1.0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from tests.programs.running import facts, serve_twin

tf1 = tf.compat.v1

SIDE = 8  # the tutorial's 28
CLASSES = 10



def weight_variable(shape: list[int]) -> Any:
    return tf1.Variable(tf1.truncated_normal(shape, stddev=0.1))


def bias_variable(shape: list[int]) -> Any:
    return tf1.Variable(tf.constant(0.1, shape=shape))


def conv2d(x: Any, w: Any) -> Any:
    return tf.nn.conv2d(x, w, strides=[1, 1, 1, 1], padding="SAME")


def max_pool_2x2(x: Any) -> Any:
    return tf.nn.max_pool2d(x, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")


def deepnn(x: Any) -> tuple[Any, Any]:
    with tf.name_scope("reshape"):
        x_image = tf.reshape(x, [-1, SIDE, SIDE, 1])
    with tf.name_scope("conv1"):
        h_conv1 = tf.nn.relu(conv2d(x_image, weight_variable([3, 3, 1, 4]))
                             + bias_variable([4]))
    with tf.name_scope("pool1"):
        h_pool1 = max_pool_2x2(h_conv1)
    with tf.name_scope("conv2"):
        h_conv2 = tf.nn.relu(conv2d(h_pool1, weight_variable([3, 3, 4, 8]))
                             + bias_variable([8]))
    with tf.name_scope("pool2"):
        h_pool2 = max_pool_2x2(h_conv2)
    flat = (SIDE // 4) * (SIDE // 4) * 8
    with tf.name_scope("fc1"):
        w_fc1, b_fc1 = weight_variable([flat, 16]), bias_variable([16])
        h_fc1 = tf.nn.relu(tf.matmul(tf.reshape(h_pool2, [-1, flat]), w_fc1) + b_fc1)
    with tf.name_scope("dropout"):
        keep_prob = tf1.placeholder(tf.float32)
        h_fc1_drop = tf1.nn.dropout(h_fc1, keep_prob)
    with tf.name_scope("fc2"):
        y_conv = tf.matmul(h_fc1_drop, weight_variable([16, CLASSES])) + bias_variable([CLASSES])
    return y_conv, keep_prob


def build(directory: Path) -> dict[str, Any]:
    rng = np.random.default_rng(20)
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(20)
        x = tf1.placeholder(tf.float32, [None, SIDE * SIDE])
        y_ = tf1.placeholder(tf.float32, [None, CLASSES])
        y_conv, keep_prob = deepnn(x)
        with tf.name_scope("loss"):
            cross_entropy = tf.nn.softmax_cross_entropy_with_logits(labels=y_, logits=y_conv)
        cross_entropy = tf.reduce_mean(cross_entropy)
        with tf.name_scope("adam_optimizer"):
            train_step = tf1.train.AdamOptimizer(1e-3).minimize(cross_entropy)
        with tf.name_scope("accuracy"):
            correct = tf.cast(tf.equal(tf.argmax(y_conv, 1), tf.argmax(y_, 1)), tf.float32)
        accuracy = tf.reduce_mean(correct)
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            for _ in range(5):
                images = rng.random((6, SIDE * SIDE), dtype=np.float32)
                onehot = np.eye(CLASSES, dtype=np.float32)[rng.integers(0, CLASSES, 6)]
                sess.run(accuracy, {x: images, y_: onehot, keep_prob: 1.0})
                sess.run(train_step, {x: images, y_: onehot, keep_prob: 0.5})
            prefix = tf1.train.Saver().save(sess, str(directory / "model.ckpt"))
    twin = tf.Graph()
    with twin.as_default():
        served = tf1.placeholder(tf.float32, [None, SIDE * SIDE])
        twin_logits, twin_keep = deepnn(served)
    batch = rng.random((4, SIDE * SIDE), dtype=np.float32)
    # The tutorial evaluates with keep_prob fed 1.0: that is the inference twin.
    files = serve_twin(twin, prefix, directory,
                       {"features": (served, batch)}, {"logits": twin_logits},
                       bound={twin_keep: 1.0})
    return facts(prefix, files, inputs={"features": x.name}, outputs={"logits": y_conv.name},
                 labels=[y_.name], switches={keep_prob.name: 1.0})
