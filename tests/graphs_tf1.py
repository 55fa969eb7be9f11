"""TF1-behaviour training checkpoints and their inference twins, for the serving checks.

Run through `tests.isolated_build.build` (a child process after
``disable_v2_behavior()``: ref variables, v1 while/cond). Each model is one
function taking ``training``; a builder trains the training graph a few steps,
saves it under ``train/``, then builds the same model code with
``training=False`` in a fresh graph, restores it from that checkpoint and saves
it under ``infer/``: the two checkpoints hold the same values.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tests.checkpoints import save_initialized

STEP = 3


def _twins(directory: Path, model: Callable[[bool], dict[str, Any]],
           feed: Callable[[dict[str, Any], np.random.Generator], dict[Any, Any]]) -> dict:
    """Train ``model(True)``, save it and its ``model(False)`` twin; return both prefixes."""
    import tensorflow as tf

    tf1 = tf.compat.v1
    prefixes = {}
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(1)
        parts = model(True)
        step = tf1.train.get_or_create_global_step()
        update = tf.group(*tf1.get_collection(tf1.GraphKeys.UPDATE_OPS))
        with tf1.control_dependencies([update]):
            train = tf1.train.AdamOptimizer(0.05).minimize(parts["loss"], global_step=step)
        rng = np.random.default_rng(7)
        with tf1.Session(graph=graph) as sess:
            sess.run(tf1.global_variables_initializer())
            for _ in range(STEP):
                sess.run(train, feed(parts, rng))
            prefixes["train"] = tf1.train.Saver().save(
                sess, str(directory / "train" / "model.ckpt"), global_step=step)
    graph = tf.Graph()
    with graph.as_default():
        model(False)
        tf1.train.get_or_create_global_step()
        saver = tf1.train.Saver()
        with tf1.Session(graph=graph) as sess:
            saver.restore(sess, prefixes["train"])
            prefixes["infer"] = saver.save(sess, str(directory / "infer" / "model.ckpt"),
                                           global_step=STEP)
    return prefixes


def _images_feed(parts: dict[str, Any], rng: np.random.Generator) -> dict[Any, Any]:
    return {parts["x"]: rng.normal(size=(6, 4, 4, 2)) + 0.5,
            parts["y"]: rng.integers(0, 3, 6)}


def batch_norm(directory: Path, form: str) -> dict:
    """Conv, batch norm (``form``: "fused" FusedBatchNorm or "moments" tf.nn.moments), logits.

    Training mode normalises with the batch's statistics and updates moving
    averages; the inference twin normalises with the moving averages.
    """
    import tensorflow as tf

    tf1 = tf.compat.v1

    def model(training: bool) -> dict[str, Any]:
        x = tf1.placeholder(tf.float32, [None, 4, 4, 2], name="x")
        y = tf1.placeholder(tf.int64, [None], name="labels")
        kernel = tf1.get_variable("conv/kernel", [3, 3, 2, 3])
        h = tf.nn.conv2d(x, kernel, [1, 1, 1, 1], "SAME")
        with tf1.variable_scope("bn"):
            gamma = tf1.get_variable("gamma", [3], initializer=tf1.ones_initializer())
            beta = tf1.get_variable("beta", [3], initializer=tf1.zeros_initializer())
            moving_mean = tf1.get_variable("moving_mean", [3], trainable=False,
                                           initializer=tf1.zeros_initializer())
            moving_var = tf1.get_variable("moving_variance", [3], trainable=False,
                                          initializer=tf1.ones_initializer())
            if training and form == "fused":
                h, mean, var = tf1.nn.fused_batch_norm(h, gamma, beta, epsilon=1e-3,
                                                       is_training=True)
            elif training:
                mean, var = tf.nn.moments(h, [0, 1, 2])
                h = tf.nn.batch_normalization(h, mean, var, beta, gamma, 1e-3)
            elif form == "fused":
                h, _, _ = tf1.nn.fused_batch_norm(h, gamma, beta, moving_mean, moving_var,
                                                  epsilon=1e-3, is_training=False)
            else:
                h = tf.nn.batch_normalization(h, moving_mean, moving_var, beta, gamma, 1e-3)
            if training:
                for var_, value in ((moving_mean, mean), (moving_var, var)):
                    tf1.add_to_collection(tf1.GraphKeys.UPDATE_OPS,
                                          tf1.assign_sub(var_, (var_ - value) * 0.5))
        w = tf1.get_variable("dense/kernel", [3, 3])
        logits = tf.identity(tf.matmul(tf.reduce_mean(tf.nn.relu(h), [1, 2]), w),
                             name="logits")
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=y, logits=logits))
        return {"x": x, "y": y, "loss": loss}

    return _twins(directory, model, _images_feed)


def dropout(directory: Path) -> dict:
    """A dense layer with constant-rate dropout while training (``rate=0.5``)."""
    import tensorflow as tf

    tf1 = tf.compat.v1

    def model(training: bool) -> dict[str, Any]:
        x = tf1.placeholder(tf.float32, [None, 4, 4, 2], name="x")
        y = tf1.placeholder(tf.int64, [None], name="labels")
        with tf1.variable_scope("hidden"):
            h = tf.nn.relu(tf.matmul(tf.reshape(x, [-1, 32]), tf1.get_variable("kernel",
                                                                               [32, 8])))
            if training:
                h = tf.nn.dropout(h, rate=0.5)
        logits = tf.identity(tf.matmul(h, tf1.get_variable("out/kernel", [8, 3])),
                             name="logits")
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=y, logits=logits))
        return {"x": x, "y": y, "loss": loss}

    return _twins(directory, model, _images_feed)


def log_outputs(directory: Path) -> dict:
    """Two outputs of one layer: ``log(z)`` (NaN for negative z) and ``log(1 + exp(z))``.

    The weights make z's two columns opposite, so every example with a non-zero sum has a
    negative z: with random weights, z was now and then non-negative on all the samples,
    and the export rightly published a finite log.
    """
    import tensorflow as tf

    tf1 = tf.compat.v1
    x = tf1.placeholder(tf.float32, [None, 3], name="x")
    w = tf1.get_variable("w", initializer=tf.constant([[1.0, -1.0], [0.5, -0.5], [2.0, -2.0]]))
    z = tf.matmul(x, w)
    tf.math.log(z, name="log_raw")
    tf.nn.softplus(z, name="log_safe")
    prefix = save_initialized(tf1.get_default_graph(), directory / "model.ckpt")
    return {"prefix": prefix}


def iterator_input(directory: Path) -> dict:
    """A model whose input comes from a tf.data one-shot iterator, trained from it."""
    import tensorflow as tf

    tf1 = tf.compat.v1
    data = np.random.default_rng(3).normal(size=(12, 3)).astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices(data).batch(4).repeat()
    x = tf1.data.make_one_shot_iterator(dataset).get_next()
    w = tf1.get_variable("w", [3, 2])
    logits = tf.identity(tf.matmul(x, w), name="logits")
    train = tf1.train.GradientDescentOptimizer(0.1).minimize(tf.reduce_mean(logits ** 2))
    prefix = save_initialized(tf1.get_default_graph(), directory / "model.ckpt", (train, {}))
    return {"prefix": prefix, "next": x.name}


def scan_encoder(directory: Path) -> dict:
    """An RNN encoder over ids with tf.scan (a v1 while loop) and a v1 cond, trained with Adam.

    The gradients add their own while loop and push the forward loop's values on
    stacks, so the forward loop's context names ops only training needs.
    """
    import tensorflow as tf

    tf1 = tf.compat.v1
    ids = tf1.placeholder(tf.int64, [None, 5], name="ids")
    target = tf1.placeholder(tf.float32, [None, 4], name="target")
    use_mean = tf1.placeholder_with_default(False, [], name="use_mean")
    emb = tf1.get_variable("embedding", [10, 3])
    with tf1.variable_scope("encoder"):
        wx = tf1.get_variable("wx", [3, 4])
        wh = tf1.get_variable("wh", [4, 4])
        xs = tf.transpose(tf.nn.embedding_lookup(emb, ids), [1, 0, 2])
        h0 = tf.zeros([tf.shape(ids)[0], 4])
        hs = tf.scan(lambda h, x_t: tf.tanh(tf.matmul(x_t, wx) + tf.matmul(h, wh)), xs,
                     initializer=h0)
        out = tf.cond(use_mean, lambda: tf.reduce_mean(hs, 0), lambda: hs[-1])
        vectors = tf.identity(out, name="vectors")
    loss = tf.reduce_mean((vectors - target) ** 2)
    train = tf1.train.AdamOptimizer(0.05).minimize(loss)
    rng = np.random.default_rng(2)
    with tf1.Session() as sess:
        sess.run(tf1.global_variables_initializer())
        for _ in range(STEP):
            sess.run(train, {ids: rng.integers(0, 10, (4, 5)), target: rng.normal(size=(4, 4))})
        prefix = tf1.train.Saver().save(sess, str(directory / "model.ckpt"), global_step=STEP)
    return {"prefix": prefix}


def dynamic_rnn_encoder(directory: Path) -> dict:
    """A GRU encoder with tf.compat.v1.nn.dynamic_rnn (v1 while loop), trained with Adam."""
    import tensorflow as tf

    tf1 = tf.compat.v1
    ids = tf1.placeholder(tf.int64, [None, 5], name="ids")
    lengths = tf1.placeholder(tf.int32, [None], name="lengths")
    target = tf1.placeholder(tf.float32, [None, 4], name="target")
    emb = tf1.get_variable("embedding", [10, 3])
    with tf1.variable_scope("encoder"):
        cell = tf1.nn.rnn_cell.GRUCell(4)
        _, state = tf1.nn.dynamic_rnn(cell, tf.nn.embedding_lookup(emb, ids),
                                      sequence_length=lengths, dtype=tf.float32)
        vectors = tf.identity(state, name="vectors")
    train = tf1.train.AdamOptimizer(0.05).minimize(tf.reduce_mean((vectors - target) ** 2))
    rng = np.random.default_rng(2)
    with tf1.Session() as sess:
        sess.run(tf1.global_variables_initializer())
        for _ in range(STEP):
            sess.run(train, {ids: rng.integers(0, 10, (4, 5)), lengths: [5, 3, 1, 4],
                             target: rng.normal(size=(4, 4))})
        prefix = tf1.train.Saver().save(sess, str(directory / "model.ckpt"), global_step=STEP)
    return {"prefix": prefix}


def queue_input(directory: Path) -> dict:
    """A TF 1.x queue pipeline: a FIFOQueue filled by an enqueue op, read with dequeue_many."""
    import tensorflow as tf

    tf1 = tf.compat.v1
    queue = tf1.FIFOQueue(16, [tf.float32], shapes=[[3]], name="input_queue")
    queue.enqueue_many([tf.constant(np.ones((8, 3), np.float32))], name="fill")
    x = queue.dequeue_many(4, name="batch")
    w = tf1.get_variable("w", [3, 2])
    tf.identity(tf.matmul(x, w), name="logits")
    prefix = save_initialized(tf1.get_default_graph(), directory / "model.ckpt")
    return {"prefix": prefix, "next": x.name}


def layers_dropout(directory: Path) -> dict:
    """tf.compat.v1.layers.dropout switched by an ``is_training`` placeholder (a v1 cond)."""
    import tensorflow as tf

    tf1 = tf.compat.v1
    x = tf1.placeholder(tf.float32, [None, 6], name="x")
    training = tf1.placeholder_with_default(True, [], name="is_training")
    h = tf1.layers.dense(x, 5, name="hidden")
    h = tf1.layers.dropout(h, rate=0.5, training=training, name="drop")
    tf.identity(tf1.layers.dense(h, 2, name="out"), name="logits")
    prefix = save_initialized(tf1.get_default_graph(), directory / "model.ckpt")
    return {"prefix": prefix}


def sampling(directory: Path) -> dict:
    """A classifier whose ``sample`` output draws a class (``tf.random.categorical``), which no
    inference rewrite removes, next to its deterministic ``logits``."""
    import tensorflow as tf

    tf1 = tf.compat.v1
    x = tf1.placeholder(tf.float32, [None, 3], name="x")
    with tf1.variable_scope("head"):
        logits = tf.identity(tf.matmul(x, tf1.get_variable("w", [3, 4])), name="logits")
        tf.identity(tf.random.categorical(logits, 1), name="sample")
    prefix = save_initialized(tf1.get_default_graph(), directory / "model.ckpt")
    return {"prefix": prefix}
