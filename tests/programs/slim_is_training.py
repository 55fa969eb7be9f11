"""A slim network trained with an ``is_training`` placeholder.

In the style of tensorflow/models ``research/slim/nets/inception_v1.py`` (the stem,
one ``Mixed_3b`` block of three branches concatenated, ``Logits`` = average pool →
``Dropout_0b`` → a 1x1 ``Conv2d_0c_1x1`` → ``SpatialSqueeze``, ``end_points`` with
``Predictions = slim.softmax(logits)``) under ``inception_arg_scope`` (batch norm after
every conv: fused, no gamma, decay 0.9997, updates in ``UPDATE_OPS``; L2 weight
regularisers), and of ``research/slim/train_image_classifier.py`` (one-hot labels,
``tf.losses.softmax_cross_entropy`` with label smoothing, the regularisation losses
summed in, the update ops as control dependencies of a momentum step, a global step).
As many 2018 programs built on slim did, ``is_training`` is a bool placeholder fed True
to train (so batch norm and dropout are conds on it) and the input is a ``tf.data``
iterator.

Served: the iterator's images → the logits (the op is named ``SpatialSqueeze``) and the
``Predictions`` end point (slim's softmax reshapes back: ``Predictions/Reshape_1``), with
``is_training`` bound to False.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from tests.programs.contrib_layers import batch_norm, conv2d, dropout, l2_regularizer
from tests.programs.running import facts, serve_twin

tf1 = tf.compat.v1

SIDE = 12
CLASSES = 5


def slim_softmax(logits: Any, scope: str) -> Any:
    """``slim.softmax``: softmax over the last axis of a reshaped 2-D view."""
    with tf1.variable_scope(scope):
        flat = tf.reshape(logits, [-1, logits.shape[-1]])
        return tf.reshape(tf.nn.softmax(flat), tf.shape(logits))


def inception_tiny(inputs: Any, num_classes: int, is_training: Any,
                   dropout_keep_prob: float = 0.8,
                   scope: str = "InceptionTiny") -> tuple[Any, dict[str, Any]]:
    end_points: dict[str, Any] = {}
    conv = partial(conv2d, activation_fn=tf.nn.relu, normalizer_fn=batch_norm,
                   normalizer_params={"is_training": is_training, "decay": 0.9997,
                                      "epsilon": 0.001},
                   weights_regularizer=l2_regularizer(4e-5))
    with tf1.variable_scope(scope, "InceptionTiny", [inputs]):
        net = conv(inputs, 8, 3, stride=2, scope="Conv2d_1a_3x3")
        end_points["Conv2d_1a_3x3"] = net
        net = tf.nn.max_pool2d(net, 3, 1, "SAME", name="MaxPool_2a_3x3")
        with tf1.variable_scope("Mixed_3b"):
            with tf1.variable_scope("Branch_0"):
                branch_0 = conv(net, 4, 1, scope="Conv2d_0a_1x1")
            with tf1.variable_scope("Branch_1"):
                branch_1 = conv(net, 4, 1, scope="Conv2d_0a_1x1")
                branch_1 = conv(branch_1, 6, 3, scope="Conv2d_0b_3x3")
            with tf1.variable_scope("Branch_2"):
                branch_2 = tf.nn.max_pool2d(net, 3, 1, "SAME", name="MaxPool_0a_3x3")
                branch_2 = conv(branch_2, 4, 1, scope="Conv2d_0b_1x1")
            net = tf.concat(axis=3, values=[branch_0, branch_1, branch_2])
        end_points["Mixed_3b"] = net
        with tf1.variable_scope("Logits"):
            net = tf.nn.avg_pool2d(net, net.shape[1:3], 1, "VALID", name="AvgPool_0a_6x6")
            net = dropout(net, dropout_keep_prob, is_training, scope="Dropout_0b")
            logits = conv2d(net, num_classes, 1, scope="Conv2d_0c_1x1")
            logits = tf.squeeze(logits, [1, 2], name="SpatialSqueeze")
            end_points["Logits"] = logits
            end_points["Predictions"] = slim_softmax(logits, scope="Predictions")
    return logits, end_points


def _preprocess(image: Any, label: Any) -> tuple[Any, Any]:
    image = tf.image.convert_image_dtype(image, tf.float32)
    image = tf.image.random_flip_left_right(image)
    return (image - 0.5) * 2.0, label


def build(directory: Path) -> dict[str, Any]:
    rng = np.random.default_rng(30)
    pixels = rng.integers(0, 256, (24, SIDE, SIDE, 3), dtype=np.uint8)
    classes = rng.integers(0, CLASSES, 24).astype(np.int64)
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(30)
        global_step = tf1.train.get_or_create_global_step()
        dataset = (tf.data.Dataset.from_tensor_slices((pixels, classes))
                   .map(_preprocess).shuffle(24).repeat().batch(6))
        iterator = tf1.data.make_initializable_iterator(dataset)
        images, labels = iterator.get_next()
        is_training = tf1.placeholder(tf.bool, name="is_training")
        logits, end_points = inception_tiny(images, CLASSES, is_training)
        onehot = tf.one_hot(labels, CLASSES)
        tf1.losses.softmax_cross_entropy(onehot, logits, label_smoothing=0.1, weights=1.0)
        total_loss = tf1.losses.get_total_loss()
        for name, point in end_points.items():
            tf1.summary.histogram("activations/" + name, point)
            tf1.summary.scalar("sparsity/" + name, tf.nn.zero_fraction(point))
        tf1.summary.scalar("total_loss", total_loss)
        learning_rate = tf1.train.exponential_decay(0.01, global_step, 100, 0.94,
                                                    staircase=True, name="exponential_decay")
        optimizer = tf1.train.MomentumOptimizer(learning_rate, 0.9)
        with tf.control_dependencies(tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)):
            train_op = optimizer.minimize(total_loss, global_step=global_step)
        summaries = tf1.summary.merge_all()
        with tf1.Session() as sess:
            sess.run([tf1.global_variables_initializer(), iterator.initializer])
            for _ in range(5):
                sess.run([train_op, summaries], {is_training: True})
            prefix = tf1.train.Saver().save(sess, str(directory / "model.ckpt"),
                                            global_step=global_step)
    twin = tf.Graph()
    with twin.as_default():
        served = tf1.placeholder(tf.float32, [None, SIDE, SIDE, 3])
        twin_logits, twin_points = inception_tiny(served, CLASSES, is_training=False)
    batch = rng.uniform(-1, 1, (3, SIDE, SIDE, 3)).astype(np.float32)
    files = serve_twin(twin, prefix, directory, {"images": (served, batch)},
                       {"SpatialSqueeze": twin_logits,
                        "probabilities": twin_points["Predictions"]})
    return facts(prefix, files, inputs={"images": images.name},
                 outputs={"SpatialSqueeze": logits.name,
                          "probabilities": end_points["Predictions"].name},
                 labels=[labels.name], switches={is_training.name: False})
