"""A training checkpoint as a TF1 tutorial leaves it, for the window's proposal tests.

Images and labels come from a ``tf.data`` iterator (``IteratorGetNext:0`` and
``:1``), Keras's ``keras_learning_phase`` (left at its default, True) switches
dropout on through a ``cond`` (a training switch, never an input), the loss compares
the logits with the labels, and a softmax gives the probabilities. Trained one step
and saved with a Saver; built in a child process with TF1 behaviour
(`tests.isolated_build`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.checkpoints import save_initialized


def classifier(directory: Path) -> dict:
    import tensorflow as tf

    tf1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(5)
        rng = np.random.default_rng(5)
        data = tf.data.Dataset.from_tensor_slices(
            (rng.normal(size=(16, 6)).astype(np.float32), rng.integers(0, 3, 16))
        ).repeat().batch(4)
        images, labels = tf1.data.make_one_shot_iterator(data).get_next()
        phase = tf1.placeholder_with_default(True, [], name="keras_learning_phase")
        with tf1.variable_scope("hidden"):
            w = tf1.get_variable("kernel", [6, 8])
            hidden = tf.nn.relu(tf.matmul(images, w))
        hidden = tf1.cond(phase, lambda: tf1.nn.dropout(hidden, rate=0.25), lambda: hidden)
        with tf1.variable_scope("head"):
            w = tf1.get_variable("kernel", [8, 3])
            logits = tf.matmul(hidden, w, name="logits")
        probabilities = tf.nn.softmax(logits, name="probabilities")
        loss = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        train = tf1.train.GradientDescentOptimizer(0.1).minimize(loss)
        prefix = save_initialized(graph, directory / "model.ckpt", (train, {}))
    return {"prefix": prefix, "images": images.name, "labels": labels.name,
            "logits": logits.name, "probabilities": probabilities.name,
            "phase": phase.name}
