"""A shared trunk with two heads: age regression and gender classification.

In the style of BoyuanJiang/Age-Gender-Estimate-TF ``train.py`` (one network, an age and
a gender head, their losses summed with the weights' L2 terms, one Adam optimizer with
a global step, scalar summaries, a plain Saver), on a small conv trunk fed by an
``images`` placeholder with ``age_labels``/``gender_labels`` placeholders. Where that
program reads the age as the expectation of a 101-way softmax, the age head here is a
direct regression (mean squared error) whose output is named ``age``; the gender head's
softmax is read by the accuracy.

Served: ``images`` → every head: ``age``, the gender ``logits`` and their softmax
(``probabilities``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from tests.programs.running import facts, serve_twin

tf1 = tf.compat.v1

SIDE = 12


def _conv(x: Any, filters: int, scope: str) -> Any:
    with tf1.variable_scope(scope):
        w = tf1.get_variable("weights", [3, 3, x.shape[-1], filters])
        b = tf1.get_variable("biases", [filters], initializer=tf1.zeros_initializer())
        h = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, w, [1, 1, 1, 1], "SAME"), b))
        return tf.nn.max_pool2d(h, 2, 2, "SAME")


def _fc(x: Any, units: int, scope: str) -> Any:
    with tf1.variable_scope(scope):
        w = tf1.get_variable("weights", [x.shape[-1], units])
        b = tf1.get_variable("biases", [units], initializer=tf1.zeros_initializer())
        return tf.nn.bias_add(tf.matmul(x, w), b)


def inference(images: Any) -> tuple[Any, Any, Any]:
    with tf1.variable_scope("trunk"):
        net = _conv(images, 4, "conv1")
        net = _conv(net, 8, "conv2")
        net = tf.reshape(net, [-1, int(np.prod(net.shape[1:]))])
        net = tf.nn.relu(_fc(net, 16, "fc1"))
    with tf1.variable_scope("age_head"):
        age = tf.squeeze(_fc(tf.nn.relu(_fc(net, 8, "fc")), 1, "out"), 1)
    age = tf.identity(age, name="age")
    with tf1.variable_scope("gender"):
        gender_logits = _fc(net, 2, "logits")
        gender_probs = tf.nn.softmax(gender_logits)
    return age, gender_logits, gender_probs


def build(directory: Path) -> dict[str, Any]:
    rng = np.random.default_rng(90)
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(90)
        images = tf1.placeholder(tf.float32, [None, SIDE, SIDE, 3], name="images")
        age_labels = tf1.placeholder(tf.float32, [None], name="age_labels")
        gender_labels = tf1.placeholder(tf.int64, [None], name="gender_labels")
        age, gender_logits, gender_probs = inference(images)
        global_step = tf1.train.get_or_create_global_step()
        with tf.name_scope("losses"):
            age_loss = tf.reduce_mean(tf.square(age - age_labels), name="age_loss")
            gender_loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=gender_labels, logits=gender_logits), name="gender_loss")
            weights = [v for v in tf1.trainable_variables() if v.op.name.endswith("weights")]
            l2 = tf.multiply(1e-4, tf.add_n([tf.nn.l2_loss(w) for w in weights]), name="l2")
            total_loss = age_loss + gender_loss + l2
        accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(gender_probs, 1), gender_labels),
                                          tf.float32), name="gender_accuracy")
        for each in (age_loss, gender_loss, l2, total_loss, accuracy):
            tf1.summary.scalar(each.op.name, each)
        train_op = tf1.train.AdamOptimizer(1e-3).minimize(total_loss, global_step=global_step)
        summaries = tf1.summary.merge_all()
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            for _ in range(5):
                sess.run([train_op, summaries], {
                    images: rng.normal(size=(6, SIDE, SIDE, 3)),
                    age_labels: rng.uniform(10, 70, 6), gender_labels: rng.integers(0, 2, 6)})
            prefix = tf1.train.Saver().save(sess, str(directory / "model.ckpt"),
                                            global_step=global_step)
    twin = tf.Graph()
    with twin.as_default():
        served = tf1.placeholder(tf.float32, [None, SIDE, SIDE, 3], name="images")
        twin_age, twin_logits, twin_probs = inference(served)
    batch = rng.normal(size=(3, SIDE, SIDE, 3)).astype(np.float32)
    files = serve_twin(twin, prefix, directory, {"images": (served, batch)},
                       {"age": twin_age, "logits": twin_logits, "probabilities": twin_probs})
    return facts(prefix, files, inputs={"images": images.name},
                 outputs={"age": age.name, "logits": gender_logits.name,
                          "probabilities": gender_probs.name},
                 labels=[age_labels.name, gender_labels.name])
