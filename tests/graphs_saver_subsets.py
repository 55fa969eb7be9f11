"""TF1 training checkpoints whose Saver saves a subset of the graph's variables, or saves
them under other keys, as GPT-2 fine-tuning and facenet do.

GPT-2's ``train.py`` and facenet's ``train_softmax.py`` train with Adam but build their
Saver over the model variables only (``tf.compat.v1.train.Saver(var_list=trainable +
batch-norm moving statistics)``): the ``.meta`` holds the optimizer slots, the checkpoint
does not. Run through `tests.isolated_build.build` (TF1 behaviour: ref variables; with
``v1=False``: resource variables).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

STEP = 3
IMAGES = np.random.default_rng(3).normal(size=(4, 6)).astype(np.float32)


def classifier(directory: Path, saved: str = "model", leave_out: str = "") -> dict:
    """A dense layer (its kernel split in two partitions), normalised with moving statistics
    (non-trainable model state updated from the batch's moments), logits and softmax,
    trained with Adam and a global step; the Saver holds ``saved``:

    - ``"model"``: the trainable variables and the moving statistics (no slots, no step);
    - ``"renamed"``: every variable, each under ``net/<its name>`` (a ``var_list`` dict).

    ``leave_out`` (a variable's name) is left out of the Saver as well. Returns the
    checkpoint prefix, the model's variables and the probabilities for `IMAGES`.
    """
    import tensorflow as tf

    tf1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(1)
        images = tf1.placeholder(tf.float32, [None, 6], name="images")
        labels = tf1.placeholder(tf.int64, [None], name="labels")
        kernel = tf1.get_variable("dense/kernel", [6, 4],
                                  partitioner=tf1.fixed_size_partitioner(2))
        h = tf.matmul(images, kernel)
        with tf1.variable_scope("bn"):
            mean = tf1.get_variable("moving_mean", [4], trainable=False,
                                    initializer=tf1.zeros_initializer())
            variance = tf1.get_variable("moving_variance", [4], trainable=False,
                                        initializer=tf1.ones_initializer())
            beta = tf1.get_variable("beta", [4], initializer=tf1.zeros_initializer())
            batch_mean, batch_var = tf.nn.moments(h, [0])
            updates = [tf1.assign_sub(mean, (mean - batch_mean) * 0.5),
                       tf1.assign_sub(variance, (variance - batch_var) * 0.5)]
            h = tf.nn.relu(tf.nn.batch_normalization(h, mean, variance, beta, None, 1e-3))
        weights = tf1.get_variable("logits/kernel", [4, 3])
        bias = tf1.get_variable("logits/bias", [3], initializer=tf1.constant_initializer(0.1))
        logits = tf.nn.bias_add(tf.matmul(h, weights), bias, name="logits")
        probabilities = tf.nn.softmax(logits, name="probabilities")
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=labels, logits=logits))
        step = tf1.train.get_or_create_global_step()
        with tf1.control_dependencies(updates):
            train = tf1.train.AdamOptimizer(0.05).minimize(loss, global_step=step)

        model = [*tf1.trainable_variables(), mean, variance]
        if saved == "model":
            var_list = [v for v in model if _name(v) != leave_out]
        else:
            var_list = {f"net/{name}": v for name, v in _by_name(tf1).items()
                        if name != leave_out}
        saver = tf1.train.Saver(var_list=var_list)
        rng = np.random.default_rng(7)
        with tf1.Session(graph=graph) as sess:
            sess.run(tf1.global_variables_initializer())
            for _ in range(STEP):
                sess.run(train, {images: rng.normal(size=(8, 6)), labels: rng.integers(0, 3, 8)})
            prefix = saver.save(sess, str(directory / "model.ckpt"), global_step=STEP)
            want = sess.run(probabilities, {images: IMAGES})
    return {"prefix": prefix, "model": sorted({_name(v) for v in model}),
            "probabilities": want.tolist()}


def _name(variable) -> str:
    """The name a default Saver saves ``variable`` under (a partition: the whole's)."""
    info = variable._save_slice_info
    return variable.op.name if info is None else info.full_name


def _by_name(tf1) -> dict:
    """Every global variable by `_name`: a partitioned variable's parts are one entry, a
    list."""
    named: dict = {}
    for v in tf1.global_variables():
        if v._save_slice_info is None:
            named[v.op.name] = v
        else:
            named.setdefault(_name(v), []).append(v)
    return named


def classifiers(directory: Path, variants: dict[str, dict]) -> dict:
    """`classifier` once per ``{name: its keyword arguments}``, each in ``directory/name``
    (one child process builds them all)."""
    return {name: classifier(directory / name, **kwargs) for name, kwargs in variants.items()}
