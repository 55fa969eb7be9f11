"""A tensor2tensor encoder-only transformer classifier, small.

In the style of tensorflow/tensor2tensor ``models/transformer.py`` (``TransformerEncoder``),
``layers/transformer_layers.py`` (``transformer_prepare_encoder``,
``transformer_encoder``), ``layers/common_attention.py`` (padding bias of -1e9,
``add_timing_signal_1d``, ``multihead_attention`` with ``q``/``k``/``v``/
``output_transform`` dense layers and dropout on the weights), ``layers/common_layers.py``
(``layer_preprocess`` = layer norm, ``layer_postprocess`` = dropout + residual) and
``layers/modalities.py`` (symbol bottom: embedding times sqrt(depth), zeroed on padding;
class label top: mean over positions, a dense layer, logits ``[batch, 1, 1, 1,
classes]``): serialized Examples of ``inputs``/``targets`` id lists read by a
``TFRecordDataset`` and ``parse_single_example``, padded into a features dict by an
initializable iterator; dropout (0.1) everywhere in TRAIN mode; a label-smoothed cross
entropy; Adam with a global step; a sharded Saver, as the Estimator's scaffold made it.
The pad remover is off (``use_pad_remover=False``).

Served: the iterator's ``inputs`` (key by role: ``input_ids``) → the class logits.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from tests.programs.running import facts, serve_twin

tf1 = tf.compat.v1

VOCAB = 24
CLASSES = 3
HIDDEN = 8
HEADS = 2
FILTER = 16
LAYERS = 2


def _dropout(x: Any, rate: float) -> Any:
    return tf1.nn.dropout(x, 1.0 - rate) if rate > 0 else x


def layer_norm(x: Any) -> Any:
    with tf1.variable_scope("layer_norm"):
        scale = tf1.get_variable("layer_norm_scale", [HIDDEN],
                                 initializer=tf1.ones_initializer())
        bias = tf1.get_variable("layer_norm_bias", [HIDDEN], initializer=tf1.zeros_initializer())
        mean = tf.reduce_mean(x, axis=[-1], keepdims=True)
        variance = tf.reduce_mean(tf.square(x - mean), axis=[-1], keepdims=True)
        return (x - mean) * tf.math.rsqrt(variance + 1e-6) * scale + bias


def layer_preprocess(x: Any) -> Any:
    with tf1.variable_scope("layer_prepostprocess"):
        return layer_norm(x)


def layer_postprocess(x: Any, y: Any, dropout: float) -> Any:
    with tf1.variable_scope("layer_postprocess"):
        return x + _dropout(y, dropout)


def add_timing_signal_1d(x: Any) -> Any:
    length = tf.shape(x)[1]
    position = tf.cast(tf.range(length), tf.float32)
    num_timescales = HIDDEN // 2
    log_increment = math.log(1.0e4) / (num_timescales - 1)
    inv_timescales = tf.exp(tf.range(num_timescales, dtype=tf.float32) * -log_increment)
    scaled_time = tf.expand_dims(position, 1) * tf.expand_dims(inv_timescales, 0)
    signal = tf.concat([tf.sin(scaled_time), tf.cos(scaled_time)], axis=1)
    return x + tf.reshape(signal, [1, length, HIDDEN])


def split_heads(x: Any) -> Any:
    shape = tf.shape(x)
    return tf.transpose(tf.reshape(x, [shape[0], shape[1], HEADS, HIDDEN // HEADS]),
                        [0, 2, 1, 3])


def combine_heads(x: Any) -> Any:
    x = tf.transpose(x, [0, 2, 1, 3])
    shape = tf.shape(x)
    return tf.reshape(x, [shape[0], shape[1], HIDDEN])


def multihead_attention(x: Any, bias: Any, dropout: float) -> Any:
    with tf1.variable_scope("multihead_attention"):
        q = split_heads(tf1.layers.dense(x, HIDDEN, use_bias=False, name="q"))
        k = split_heads(tf1.layers.dense(x, HIDDEN, use_bias=False, name="k"))
        v = split_heads(tf1.layers.dense(x, HIDDEN, use_bias=False, name="v"))
        q *= (HIDDEN // HEADS) ** -0.5
        with tf1.variable_scope("dot_product_attention"):
            logits = tf.matmul(q, k, transpose_b=True) + bias
            weights = tf.nn.softmax(logits, name="attention_weights")
            weights = _dropout(weights, dropout)
            y = combine_heads(tf.matmul(weights, v))
        return tf1.layers.dense(y, HIDDEN, use_bias=False, name="output_transform")


def transformer_encoder(x: Any, bias: Any, dropout: float) -> Any:
    with tf1.variable_scope("encoder"):
        for layer in range(LAYERS):
            with tf1.variable_scope(f"layer_{layer}"):
                with tf1.variable_scope("self_attention"):
                    y = multihead_attention(layer_preprocess(x), bias, dropout)
                    x = layer_postprocess(x, y, dropout)
                with tf1.variable_scope("ffn"):
                    h = tf1.layers.dense(layer_preprocess(x), FILTER, activation=tf.nn.relu,
                                         name="conv1")
                    y = tf1.layers.dense(_dropout(h, dropout), HIDDEN, name="conv2")
                    x = layer_postprocess(x, y, dropout)
        return layer_preprocess(x)


def model(features: dict[str, Any], training: bool) -> Any:
    """``T2TModel``: symbol bottom, ``TransformerEncoder.body``, class label top."""
    dropout = 0.1 if training else 0.0
    with tf1.variable_scope("transformer_encoder"):
        inputs = tf.expand_dims(tf.expand_dims(features["inputs"], -1), -1)
        with tf1.variable_scope(f"symbol_modality_{VOCAB}_{HIDDEN}"), \
                tf1.variable_scope("shared"):
            x = tf.squeeze(inputs, axis=3)
            var = tf1.get_variable("weights_0", [VOCAB, HIDDEN],
                                   initializer=tf1.random_normal_initializer(0.0, HIDDEN**-0.5))
            emb = tf.gather(var, tf.cast(x, tf.int32)) * HIDDEN**0.5
            emb *= tf.expand_dims(tf.cast(tf.not_equal(x, 0), tf.float32), -1)
        with tf1.variable_scope("body"):
            encoder_input = tf.squeeze(emb, 2)
            padding = tf.cast(tf.equal(tf.reduce_sum(tf.abs(encoder_input), -1), 0.0),
                              tf.float32)
            bias = tf.expand_dims(tf.expand_dims(padding * -1e9, 1), 1)
            target_space = tf1.get_variable("target_space_embedding", [32, HIDDEN])
            encoder_input += tf.reshape(tf.gather(target_space, 0), [1, 1, -1])
            encoder_input = add_timing_signal_1d(encoder_input)
            encoder_input = _dropout(encoder_input, dropout)
            body = tf.expand_dims(transformer_encoder(encoder_input, bias, dropout), 2)
        with tf1.variable_scope(f"class_label_modality_{CLASSES}_{HIDDEN}"):
            pooled = tf.reduce_mean(body, axis=[1, 2], keepdims=True)
            return tf.expand_dims(tf1.layers.dense(pooled, CLASSES), 3)


def _write_records(path: Path, count: int) -> None:
    rng = np.random.default_rng(130)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for _ in range(count):
            feature = {
                "inputs": rng.integers(1, VOCAB, rng.integers(2, 7)),
                "targets": [int(rng.integers(0, CLASSES))]}
            writer.write(tf.train.Example(features=tf.train.Features(feature={
                key: tf.train.Feature(int64_list=tf.train.Int64List(value=value))
                for key, value in feature.items()})).SerializeToString())


def _decode(record: Any) -> dict[str, Any]:
    parsed = tf1.parse_single_example(record, {"inputs": tf1.VarLenFeature(tf.int64),
                                               "targets": tf1.VarLenFeature(tf.int64)})
    return {key: tf1.sparse_tensor_to_dense(value) for key, value in parsed.items()}


def build(directory: Path) -> dict[str, Any]:
    data = directory / "classify-train-00000-of-00001"
    _write_records(data, 32)
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(130)
        global_step = tf1.train.get_or_create_global_step()
        dataset = (tf.data.TFRecordDataset(str(data)).map(_decode).shuffle(32, seed=130)
                   .repeat().padded_batch(8, padded_shapes={"inputs": [None],
                                                            "targets": [None]}))
        iterator = tf1.data.make_initializable_iterator(dataset)
        features = iterator.get_next()
        logits = model(features, training=True)
        with tf.name_scope("padded_cross_entropy"):
            targets = tf.reshape(features["targets"], [-1, 1, 1, 1])
            onehot = tf.one_hot(tf.cast(targets, tf.int32), CLASSES)
            smoothed = onehot * 0.9 + 0.1 / CLASSES
            xent = tf.nn.softmax_cross_entropy_with_logits(labels=smoothed, logits=logits)
            loss = tf.reduce_mean(xent)
        tf1.summary.scalar("losses/training", loss)
        train_op = tf1.train.AdamOptimizer(0.01, beta1=0.9, beta2=0.997,
                                           epsilon=1e-9).minimize(loss,
                                                                  global_step=global_step)
        summaries = tf1.summary.merge_all()
        saver = tf1.train.Saver(sharded=True, max_to_keep=20,
                                keep_checkpoint_every_n_hours=10000)
        with tf1.Session() as sess:
            sess.run([tf1.global_variables_initializer(), iterator.initializer])
            for _ in range(5):
                sess.run([train_op, summaries])
            prefix = saver.save(sess, str(directory / "model.ckpt"), global_step=global_step)
    twin = tf.Graph()
    with twin.as_default():
        served = tf1.placeholder(tf.int64, [None, None])
        twin_logits = model({"inputs": served}, training=False)
    ids = np.random.default_rng(131).integers(1, VOCAB, (3, 5))
    ids[0, 3:] = 0
    ids[2, 4:] = 0
    files = serve_twin(twin, prefix, directory, {"input_ids": (served, ids)},
                       {"logits": twin_logits})
    return facts(prefix, files, inputs={"input_ids": features["inputs"].name},
                 outputs={"logits": logits.name}, labels=[features["targets"].name])
