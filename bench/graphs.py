"""Large real checkpoints for the benchmarks, built once and cached under ``bench/.cache``.

- `resnet50_checkpoint`: a ResNet-50-sized network (bottleneck blocks 3-4-6-3, batch
  norm with moving statistics) written with plain ``tf.compat.v1`` ops and trained
  one step with Adam: ~25M parameters, three times that saved, ~10k ops.
- `synthetic_checkpoint`: a graph of about ``n`` ops in nested scopes (dense layers
  chained in blocks) with a couple of variables, for 100k-op parsing and search.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

CACHE = Path(os.environ.get("SIGNET_BENCH_CACHE", Path(__file__).resolve().parent / ".cache"))


def _tf():
    from app.core.tf_runtime import tensorflow

    tf = tensorflow()
    return tf, tf.compat.v1


def _cached(directory: Path) -> bool:
    """True when a finished build is there; otherwise clear the folder for a new one
    (the state file is written last, so a half-built cache is rebuilt)."""
    if (directory / "checkpoint").exists():
        return True
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return False


def _conv_bn(tf, tf1, x, filters: int, kernel: int, stride: int, training, relu: bool = True):
    channels = x.shape[-1]
    w = tf1.get_variable("kernel", [kernel, kernel, channels, filters],
                         initializer=tf1.variance_scaling_initializer())
    y = tf.nn.conv2d(x, w, [1, stride, stride, 1], "SAME")
    with tf1.variable_scope("bn"):
        gamma = tf1.get_variable("gamma", [filters], initializer=tf1.ones_initializer())
        beta = tf1.get_variable("beta", [filters], initializer=tf1.zeros_initializer())
        mean = tf1.get_variable("moving_mean", [filters], trainable=False,
                                initializer=tf1.zeros_initializer())
        var = tf1.get_variable("moving_variance", [filters], trainable=False,
                               initializer=tf1.ones_initializer())
        batch_mean, batch_var = tf.nn.moments(y, [0, 1, 2])
        use_mean = tf.cond(training, lambda: batch_mean, lambda: tf.identity(mean))
        use_var = tf.cond(training, lambda: batch_var, lambda: tf.identity(var))
        for moving, batch in ((mean, batch_mean), (var, batch_var)):
            update = tf1.assign_sub(moving, 0.1 * (moving - batch))
            tf1.add_to_collection(tf1.GraphKeys.UPDATE_OPS, update)
        y = tf.nn.batch_normalization(y, use_mean, use_var, beta, gamma, 1e-5)
    return tf.nn.relu(y) if relu else y


def _bottleneck(tf, tf1, x, filters: int, stride: int, training, project: bool):
    shortcut = x
    if project:
        with tf1.variable_scope("shortcut"):
            shortcut = _conv_bn(tf, tf1, x, filters * 4, 1, stride, training, relu=False)
    with tf1.variable_scope("conv1"):
        y = _conv_bn(tf, tf1, x, filters, 1, 1, training)
    with tf1.variable_scope("conv2"):
        y = _conv_bn(tf, tf1, y, filters, 3, stride, training)
    with tf1.variable_scope("conv3"):
        y = _conv_bn(tf, tf1, y, filters * 4, 1, 1, training, relu=False)
    return tf.nn.relu(y + shortcut)


def resnet50_checkpoint(cache: Path = CACHE) -> Path:
    """Prefix of the cached ResNet-50-sized Adam checkpoint (built on first use, ~1 min)."""
    directory = cache / "resnet50"
    prefix = directory / "model.ckpt-1"
    if _cached(directory):
        return prefix
    tf, tf1 = _tf()
    graph = tf.Graph()
    with graph.as_default():
        images = tf1.placeholder(tf.float32, [None, 64, 64, 3], name="images")
        labels = tf1.placeholder(tf.int64, [None], name="labels")
        training = tf1.placeholder_with_default(False, [], name="is_training")
        with tf1.variable_scope("resnet50"):
            with tf1.variable_scope("stem"):
                x = _conv_bn(tf, tf1, images, 64, 7, 2, training)
                x = tf.nn.max_pool2d(x, 3, 2, "SAME")
            for stage, (blocks, filters) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512),
                                                          strict=True)):
                for block in range(blocks):
                    with tf1.variable_scope(f"stage{stage + 1}/block{block + 1}"):
                        stride = 2 if block == 0 and stage > 0 else 1
                        x = _bottleneck(tf, tf1, x, filters, stride, training, block == 0)
            pooled = tf.reduce_mean(x, [1, 2], name="pool")
            with tf1.variable_scope("fc"):
                w = tf1.get_variable("kernel", [2048, 1000])
                b = tf1.get_variable("bias", [1000], initializer=tf1.zeros_initializer())
                logits = tf.nn.bias_add(tf.matmul(pooled, w), b, name="logits")
        tf.nn.softmax(logits, name="probabilities")
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=labels, logits=logits), name="loss")
        step = tf1.train.get_or_create_global_step()
        with tf.control_dependencies(tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)):
            train = tf1.train.AdamOptimizer(1e-3).minimize(loss, global_step=step)
        saver = tf1.train.Saver(save_relative_paths=True)
        with tf1.Session(graph=graph) as sess:
            sess.run(tf1.global_variables_initializer())
            rng = np.random.default_rng(0)
            sess.run(train, {images: rng.normal(size=(2, 64, 64, 3)), labels: [1, 2],
                             training: True})
            saver.save(sess, str(directory / "model.ckpt"), global_step=step)
    return prefix


def synthetic_checkpoint(n: int = 100_000, cache: Path = CACHE) -> Path:
    """Prefix of a cached checkpoint whose graph has about ``n`` ops in nested scopes."""
    directory = cache / f"synthetic{n}"
    prefix = directory / "model.ckpt-1"
    if _cached(directory):
        return prefix
    tf, tf1 = _tf()
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [None, 8], name="features")
        w = tf1.get_variable("shared/kernel", [8, 8])
        b = tf1.get_variable("shared/bias", [8], initializer=tf1.zeros_initializer())
        # Each layer adds 4 ops (MatMul, BiasAdd, Relu, add) in a three-level scope tree.
        layer = 0
        while len(graph.get_operations()) < n:
            with tf.name_scope(f"tower{layer // 2500}/block{layer // 50 % 50}/layer{layer % 50}"):
                x = tf.nn.relu(tf.nn.bias_add(tf.matmul(x, w), b)) + x
            layer += 1
        tf.identity(x, name="output")
        saver = tf1.train.Saver(save_relative_paths=True)
        with tf1.Session(graph=graph) as sess:
            sess.run(tf1.global_variables_initializer())
            saver.save(sess, str(directory / "model.ckpt"), global_step=1)
    return prefix


if __name__ == "__main__":
    print(resnet50_checkpoint())
    print(synthetic_checkpoint())
