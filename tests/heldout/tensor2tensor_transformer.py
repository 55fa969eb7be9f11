"""A tensor2tensor text classifier in training, in the style of tensorflow/tensor2tensor
``models/transformer.py`` (``TransformerEncoder.body``, ``transformer_prepare_encoder``,
``transformer_encoder``, ``transformer_ffn_layer``), ``layers/common_attention.py``
(``multihead_attention``, ``dot_product_attention``, ``add_timing_signal_1d``,
``attention_bias_ignore_padding``), ``layers/common_layers.py`` (``layer_preprocess`` /
``layer_postprocess`` with sequences ``n`` and ``da``, ``layer_norm``,
``padded_cross_entropy``, ``smoothing_cross_entropy``) and ``layers/modalities.py``
(``SymbolModality`` bottom over sharded ``shared/weights_*``, ``ClassLabelModality``
top), trained with ``utils/optimize.py``'s Adam and the ``noam`` learning-rate schedule.

Serialized ``tf.train.Example``s (a variable-length ``inputs`` id list ending in EOS=1,
a one-element ``targets`` class) come from a ``TFRecordDataset`` batched into strings,
are decoded by one graph-level ``parse_example`` (``VarLenFeature`` → ``sparse.to_dense``,
0 = PAD), cast to int32 and standardised to t2t's 4-D ``features`` dict
(``inputs`` [batch, length, 1, 1], ``targets`` [batch, 1, 1, 1], a constant
``target_space_id``). The ``hparams`` object drives everything: at training
``layer_prepostprocess_dropout``, ``attention_dropout`` and ``relu_dropout`` are Python
values (t2t zeroes them for other modes), ``label_smoothing`` 0.1 in the loss. The
default Saver saves everything, as the Estimator does.

Smaller than the original: hidden 16, 2 heads, 2 layers, filter 32, a 20-id vocabulary
in 2 shards, 3 classes.

Served: t2t's logits as the model returns them from ``ClassLabelModality.top``
(``[batch, 1, 1, 1, classes]``, the ``expand_dims`` after the dense layer; the loss
reshapes them into its own format), keyed ``logits``, from the densified ``inputs``
feature (``inputs``). No softmax exists in the training graph. The ``targets`` feature is
the label.
"""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from tests.heldout import twin

VOCAB_SIZE = 20
NUM_CLASSES = 3
TARGET_SPACE_ID = 4


def transformer_hparams(training: bool) -> SimpleNamespace:
    """``transformer_tiny``-like hparams; dropouts only in TRAIN mode, as t2t sets them."""
    dropout = 0.1 if training else 0.0
    return SimpleNamespace(
        hidden_size=16, num_hidden_layers=2, num_heads=2, filter_size=32,
        layer_prepostprocess_dropout=dropout, attention_dropout=dropout,
        relu_dropout=dropout, label_smoothing=0.1, symbol_modality_num_shards=2,
        norm_epsilon=1e-6, learning_rate=0.2, learning_rate_warmup_steps=4,
        optimizer_adam_beta1=0.9, optimizer_adam_beta2=0.98,
        optimizer_adam_epsilon=1e-9)


def _tf():
    import tensorflow as tf

    return tf, tf.compat.v1


def shape_list(x: Any) -> list[Any]:
    tf, _ = _tf()
    static = x.shape.as_list()
    dynamic = tf.shape(x)
    return [dim if dim is not None else dynamic[i] for i, dim in enumerate(static)]


def dropout_with_broadcast_dims(x: Any, keep_prob: float) -> Any:
    _, tf1 = _tf()
    return x if keep_prob >= 1.0 else tf1.nn.dropout(x, keep_prob)


def layer_norm(x: Any, hparams: SimpleNamespace) -> Any:
    tf, tf1 = _tf()
    with tf1.variable_scope(None, default_name="layer_norm"):
        filters = x.shape[-1]
        scale = tf1.get_variable("layer_norm_scale", [filters],
                                 initializer=tf1.ones_initializer())
        bias = tf1.get_variable("layer_norm_bias", [filters],
                                initializer=tf1.zeros_initializer())
        mean = tf.reduce_mean(x, axis=[-1], keepdims=True)
        variance = tf.reduce_mean(tf1.squared_difference(x, mean), axis=[-1], keepdims=True)
        return (x - mean) * tf1.rsqrt(variance + hparams.norm_epsilon) * scale + bias


def layer_preprocess(x: Any, hparams: SimpleNamespace) -> Any:
    _, tf1 = _tf()
    with tf1.variable_scope("layer_prepostprocess"):
        return layer_norm(x, hparams)


def layer_postprocess(x: Any, y: Any, hparams: SimpleNamespace) -> Any:
    _, tf1 = _tf()
    with tf1.variable_scope("layer_postprocess"):
        return dropout_with_broadcast_dims(y, 1.0 - hparams.layer_prepostprocess_dropout) + x


def _dense(x: Any, units: int, name: str, use_bias: bool = True,
           activation: Any = None) -> Any:
    _, tf1 = _tf()
    return tf1.layers.dense(x, units, use_bias=use_bias, activation=activation, name=name)


def multihead_attention(x: Any, bias: Any, hparams: SimpleNamespace) -> Any:
    tf, tf1 = _tf()
    heads, depth = hparams.num_heads, hparams.hidden_size

    def split_heads(t: Any) -> Any:
        batch, length, _ = shape_list(t)
        return tf.transpose(tf.reshape(t, [batch, length, heads, depth // heads]),
                            [0, 2, 1, 3])

    with tf1.variable_scope("multihead_attention"):
        q = split_heads(_dense(x, depth, "q", use_bias=False))
        k = split_heads(_dense(x, depth, "k", use_bias=False))
        v = split_heads(_dense(x, depth, "v", use_bias=False))
        q *= (depth // heads) ** -0.5
        with tf1.variable_scope("dot_product_attention"):
            logits = tf.matmul(q, k, transpose_b=True) + bias
            weights = tf.nn.softmax(logits, name="attention_weights")
            weights = dropout_with_broadcast_dims(weights, 1.0 - hparams.attention_dropout)
            out = tf.matmul(weights, v)
        batch, _, length, _ = shape_list(out)
        out = tf.reshape(tf.transpose(out, [0, 2, 1, 3]), [batch, length, depth])
        return _dense(out, depth, "output_transform", use_bias=False)


def add_timing_signal_1d(x: Any, min_timescale: float = 1.0,
                         max_timescale: float = 1.0e4) -> Any:
    tf, tf1 = _tf()
    length, channels = shape_list(x)[1], shape_list(x)[2]
    position = tf1.to_float(tf.range(length))
    num_timescales = channels // 2
    increment = math.log(max_timescale / min_timescale) / max(num_timescales - 1, 1)
    inv_timescales = min_timescale * tf.exp(
        tf1.to_float(tf.range(num_timescales)) * -increment)
    scaled_time = tf.expand_dims(position, 1) * tf.expand_dims(inv_timescales, 0)
    signal = tf.concat([tf.sin(scaled_time), tf.cos(scaled_time)], axis=1)
    signal = tf.pad(signal, [[0, 0], [0, tf.math.floormod(channels, 2)]])
    return x + tf.reshape(signal, [1, length, channels])


def symbol_modality_bottom(x: Any, hparams: SimpleNamespace) -> Any:
    tf, tf1 = _tf()
    depth = hparams.hidden_size
    with tf1.variable_scope(f"symbol_modality_{VOCAB_SIZE}_{depth}"), \
            tf1.variable_scope("shared"):
        x = tf.squeeze(x, axis=3)
        shards = hparams.symbol_modality_num_shards
        var = tf.concat([tf1.get_variable(
            f"weights_{i}", [VOCAB_SIZE // shards, depth],
            initializer=tf1.random_normal_initializer(0.0, depth ** -0.5))
            for i in range(shards)], 0)
        ret = tf.gather(var, x)
        ret *= depth ** 0.5
        return ret * tf.expand_dims(tf1.to_float(tf.not_equal(x, 0)), -1)


def class_label_modality_top(body_output: Any, hparams: SimpleNamespace) -> Any:
    tf, tf1 = _tf()
    with tf1.variable_scope(f"class_label_modality_{NUM_CLASSES}_{hparams.hidden_size}"):
        x = tf.reduce_mean(body_output, axis=[1, 2], keepdims=True)
        res = tf1.layers.dense(x, NUM_CLASSES)
        return tf.expand_dims(res, 3)


def transformer_encoder_body(features: dict[str, Any], hparams: SimpleNamespace) -> Any:
    tf, tf1 = _tf()
    inputs = features["inputs"]
    batch, length, _, depth = shape_list(inputs)
    inputs = tf.reshape(inputs, [batch, length, depth])
    with tf1.variable_scope("body"):
        padding = tf1.to_float(tf.equal(tf.reduce_sum(tf.abs(inputs), axis=-1), 0.0))
        bias = tf.expand_dims(tf.expand_dims(padding * -1e9, axis=1), axis=1)
        space = tf1.get_variable("target_space_embedding/kernel", [32, depth])
        encoder_input = inputs + tf.reshape(
            tf.gather(space, features["target_space_id"]), [1, 1, -1])
        encoder_input = add_timing_signal_1d(encoder_input)
        x = dropout_with_broadcast_dims(encoder_input,
                                        1.0 - hparams.layer_prepostprocess_dropout)
        with tf1.variable_scope("encoder"):
            for layer in range(hparams.num_hidden_layers):
                with tf1.variable_scope(f"layer_{layer}"):
                    with tf1.variable_scope("self_attention"):
                        y = multihead_attention(layer_preprocess(x, hparams), bias, hparams)
                        x = layer_postprocess(x, y, hparams)
                    with tf1.variable_scope("ffn"):
                        h = _dense(layer_preprocess(x, hparams), hparams.filter_size,
                                   "conv1", activation=tf.nn.relu)
                        h = dropout_with_broadcast_dims(h, 1.0 - hparams.relu_dropout)
                        x = layer_postprocess(x, _dense(h, hparams.hidden_size, "conv2"),
                                              hparams)
            encoder_output = layer_preprocess(x, hparams)
        return tf.expand_dims(encoder_output, 2)


def model_fn(features: dict[str, Any], hparams: SimpleNamespace) -> Any:
    """``T2TModel.model_fn`` for one shard: bottom, body, top; returns the logits."""
    _, tf1 = _tf()
    with tf1.variable_scope("transformer_encoder"):
        transformed = dict(features)
        transformed["inputs"] = symbol_modality_bottom(features["inputs"], hparams)
        body_output = transformer_encoder_body(transformed, hparams)
        return class_label_modality_top(body_output, hparams)


def padded_cross_entropy(logits: Any, labels: Any, label_smoothing: float) -> tuple[Any, Any]:
    tf, tf1 = _tf()
    with tf1.name_scope("padded_cross_entropy"):
        confidence = 1.0 - label_smoothing
        vocab_size = shape_list(logits)[-1]
        logits = tf.reshape(logits, [*shape_list(labels), vocab_size],
                            name="padded_cross_entropy_size_check")
        with tf1.name_scope("smoothing_cross_entropy"):
            low_confidence = (1.0 - confidence) / tf1.to_float(vocab_size - 1)
            normalizing = -(confidence * tf1.log(confidence) + tf1.to_float(vocab_size - 1)
                            * low_confidence * tf1.log(low_confidence + 1e-20))
            soft_targets = tf.one_hot(tf.cast(labels, tf.int32), depth=vocab_size,
                                      on_value=confidence, off_value=low_confidence)
            xentropy = tf.nn.softmax_cross_entropy_with_logits(logits=logits,
                                                               labels=soft_targets)
            xent = xentropy - normalizing
        weights = tf.ones_like(labels, dtype=tf.float32)
        return tf.reduce_sum(xent * weights), tf.reduce_sum(weights)


def _standardize(inputs: Any, targets: Any | None) -> dict[str, Any]:
    """t2t's int cast and ``standardize_shapes``: 4-D features, a target space id."""
    tf, _ = _tf()
    features = {"inputs": tf.expand_dims(tf.expand_dims(tf.cast(inputs, tf.int32), -1), -1),
                "target_space_id": tf.constant(TARGET_SPACE_ID, dtype=tf.int32)}
    if targets is not None:
        features["targets"] = tf.expand_dims(tf.expand_dims(tf.cast(targets, tf.int32), -1),
                                             -1)
    return features


def _examples(rng: np.random.Generator, count: int) -> list[tuple[list[int], int]]:
    rows = []
    for _ in range(count):
        ids = [int(i) for i in rng.integers(2, VOCAB_SIZE, int(rng.integers(2, 7)))]
        rows.append(([*ids, 1], int(rng.integers(0, NUM_CLASSES))))
    return rows


def build(directory: Path) -> dict[str, Any]:
    tf, tf1 = _tf()
    record_file = twin.write_records(directory / "train-00000-of-00001", [
        {"inputs": twin.int_feature(ids), "targets": twin.int_feature([label])}
        for ids, label in _examples(np.random.default_rng(61), 16)])
    hparams = transformer_hparams(training=True)
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(61)
        dataset = tf.data.TFRecordDataset(str(record_file)).repeat().shuffle(32, seed=61)
        iterator = tf1.data.make_initializable_iterator(dataset.batch(4))
        parsed = tf1.io.parse_example(iterator.get_next(), {
            "inputs": tf1.io.VarLenFeature(tf.int64),
            "targets": tf1.io.FixedLenFeature([1], tf.int64)})
        inputs = tf.sparse.to_dense(parsed["inputs"])
        features = _standardize(inputs, parsed["targets"])
        logits = model_fn(features, hparams)
        loss_num, loss_den = padded_cross_entropy(logits, tf.squeeze(features["targets"], 3),
                                                  hparams.label_smoothing)
        loss = loss_num / tf.maximum(1.0, loss_den)
        global_step = tf1.train.get_or_create_global_step()
        step = tf1.to_float(global_step) + 1.0
        learning_rate = hparams.learning_rate * hparams.hidden_size ** -0.5 * tf.minimum(
            step * hparams.learning_rate_warmup_steps ** -1.5, step ** -0.5)
        with tf1.variable_scope("training"):
            optimizer = tf1.train.AdamOptimizer(
                learning_rate, beta1=hparams.optimizer_adam_beta1,
                beta2=hparams.optimizer_adam_beta2, epsilon=hparams.optimizer_adam_epsilon)
            grads_and_vars = optimizer.compute_gradients(loss,
                                                         colocate_gradients_with_ops=True)
            tf1.summary.scalar("loss", loss)
            tf1.summary.scalar("learning_rate", learning_rate)
            tf1.summary.scalar("global_norm/gradient_norm",
                               tf1.global_norm([g for g, _ in grads_and_vars]))
            train_op = optimizer.apply_gradients(grads_and_vars, global_step=global_step)
        with tf1.Session() as sess:
            sess.run([tf1.global_variables_initializer(), iterator.initializer])
            for _ in range(4):
                sess.run([train_op, tf1.summary.merge_all()])
            prefix = tf1.train.Saver().save(sess, str(directory / "model.ckpt"),
                                            global_step=global_step)

    rows = _examples(np.random.default_rng(62), 4)
    width = max(len(ids) for ids, _ in rows)
    sample = np.array([ids + [0] * (width - len(ids)) for ids, _ in rows], np.int64)
    serving = tf.Graph()
    with serving.as_default():
        ids_in = tf1.placeholder(tf.int64, [None, None], name="inputs")
        twin_logits = model_fn(_standardize(ids_in, None), transformer_hparams(False))
    got = twin.answer(serving, prefix, {"logits": twin_logits}, {ids_in: sample})
    return twin.facts(directory, prefix, inputs={"inputs": inputs.name},
                      outputs={"logits": logits.name}, labels=[parsed["targets"].name],
                      samples={"inputs": sample}, expected=got)
