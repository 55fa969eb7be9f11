"""Keras ResNet-like training checkpoints named the way keras.applications names layers.

`resnet_like` builds ``conv1_*``, then ``conv{stage}_block{n}_{i}_{conv,bn,relu}``,
``…_add`` and ``…_out`` layers at the top level (block 1 of each stage has a
projection shortcut ``…_0_conv``/``…_0_bn``), batch norm fed by the Keras learning
phase, a ``loss`` scalar summary and Adam. Run it through `tests.isolated_build.build`
with ``legacy_keras=True`` for TF1 behaviour (ref variables, v1 cond), or call
`resnet_like_v2` in-process for TF2 behaviour (resource variables) in a v1 graph.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

STAGES = ((2, 3), (3, 4))  # (stage, blocks): conv2_block[1-3], conv3_block[1-4]


def _model(tf, layers, keras):
    inputs = keras.Input((8, 8, 3), name="images")
    x = layers.Conv2D(4, 3, padding="same", name="conv1_conv")(inputs)
    x = layers.BatchNormalization(name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    for stage, blocks in STAGES:
        for block in range(1, blocks + 1):
            name = f"conv{stage}_block{block}"
            shortcut = x
            if block == 1:
                shortcut = layers.Conv2D(4, 1, name=name + "_0_conv")(x)
                shortcut = layers.BatchNormalization(name=name + "_0_bn")(shortcut)
            y = x
            for i in (1, 2, 3):
                y = layers.Conv2D(4, 1 if i != 2 else 3, padding="same",
                                  name=f"{name}_{i}_conv")(y)
                y = layers.BatchNormalization(name=f"{name}_{i}_bn")(y)
                if i != 3:
                    y = layers.Activation("relu", name=f"{name}_{i}_relu")(y)
            x = layers.Add(name=name + "_add")([shortcut, y])
            x = layers.Activation("relu", name=name + "_out")(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = layers.Dense(3, name="predictions")(x)
    return keras.Model(inputs, outputs)


def _train_and_save(tf, tf1, model, directory: Path) -> str:
    labels = tf1.placeholder(tf.int64, [None], name="labels")
    logits = model.outputs[0]
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=labels, logits=logits), name="loss")
    tf1.summary.scalar("loss", loss)
    tf1.summary.merge_all()
    step = tf1.train.get_or_create_global_step()
    train = tf1.train.AdamOptimizer(0.01).minimize(loss, global_step=step)
    rng = np.random.default_rng(0)
    with tf1.Session() as sess:
        sess.run(tf1.global_variables_initializer())
        sess.run(train, {model.inputs[0]: rng.normal(size=(2, 8, 8, 3)),
                         labels: rng.integers(0, 3, 2)})
        return tf1.train.Saver().save(sess, str(directory / "resnet.ckpt"), global_step=step)


def resnet_like(directory: Path) -> dict:
    """TF1 behaviour: run in a child process (`build(..., legacy_keras=True)`)."""
    import tensorflow as tf

    tf1 = tf.compat.v1
    keras = tf.keras  # tf-keras under TF_USE_LEGACY_KERAS=1
    model = _model(tf, keras.layers, keras)
    prefix = _train_and_save(tf, tf1, model, directory)
    return {"prefix": prefix}


def resnet_like_v2(directory: Path) -> Path:
    """TF2 behaviour (resource variables) in a v1 graph of this process, with tf-keras."""
    import tensorflow as tf
    import tf_keras

    tf1 = tf.compat.v1
    directory.mkdir(parents=True, exist_ok=True)
    graph = tf.Graph()
    with graph.as_default():
        model = _model(tf, tf_keras.layers, tf_keras)
        return Path(_train_and_save(tf, tf1, model, directory))
