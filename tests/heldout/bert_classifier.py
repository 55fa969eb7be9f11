"""BERT fine-tuning for sentence classification, in the style of google-research/bert
``run_classifier.py`` (``file_based_input_fn_builder``, ``create_model``), ``modeling.py``
(``BertModel``: embeddings with token-type one-hot and position slice, layer norm and
dropout, self-attention with the 3-D attention mask, gelu intermediate, tanh pooler)
and ``optimization.py`` (``create_optimizer``: polynomial decay with warmup,
``AdamWeightDecayOptimizer`` written out with plain ``*/adam_m`` and ``*/adam_v``
variables, gradients clipped by global norm, the global step bumped by hand).

A tiny model: 2 layers, hidden 16, 2 heads, a 30-word vocabulary, sequences of 8.
Serialized examples (``input_ids``, ``input_mask``, ``segment_ids``, ``label_ids``,
``is_real_example``) are read with ``TFRecordDataset`` and parsed with
``parse_single_example`` inside the ``map`` (int64 cast to int32 there, as the original
does), then batched. The original batches with ``drop_remainder=True`` in training, which
makes the batch static and bakes it into ``BertModel``'s reshapes; here the remainder is
kept (``drop_remainder=False``) so the batch dimension stays open, in training and twin.
``is_training=True`` is a Python value (dropout 0.1 everywhere, no placeholder). The
Saver covers the model's trainable variables only, so the optimizer's ``adam_m``/``adam_v``
and the global step have no values in the checkpoint.

Served: the classifier's ``logits`` and ``probabilities`` (the softmax the original
returns for prediction; ``log_probs`` feeds only the loss). The three model inputs come
out of ``IteratorGetNext`` (parsed inside the dataset function, so no ``parse_example``
key is visible in the graph) and are keyed by role: the word ids read by the embedding
gather are ``input_ids``; the mask and the segment ids (read through a cast/reshape and
a one-hot matmul, not an embedding gather) are ``inputs`` and ``inputs_2``, in
``IteratorGetNext`` output order (the dataset's dict flattens in key order:
``input_ids``, ``input_mask``, ``is_real_example``, ``label_ids``, ``segment_ids``).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from tests.heldout import twin

SEQ_LENGTH = 8
NUM_LABELS = 3
CONFIG = {"vocab_size": 30, "hidden_size": 16, "num_hidden_layers": 2,
          "num_attention_heads": 2, "intermediate_size": 32, "hidden_dropout_prob": 0.1,
          "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 16,
          "type_vocab_size": 2, "initializer_range": 0.02}


def _tf():
    import tensorflow as tf

    return tf, tf.compat.v1


def _initializer():
    _, tf1 = _tf()
    return tf1.truncated_normal_initializer(stddev=CONFIG["initializer_range"])


def _shape_list(x: Any) -> list[Any]:
    tf, _ = _tf()
    static = x.shape.as_list()
    dynamic = tf.shape(x)
    return [dim if dim is not None else dynamic[i] for i, dim in enumerate(static)]


def _gelu(x: Any) -> Any:
    tf, _ = _tf()
    cdf = 0.5 * (1.0 + tf.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * tf.pow(x, 3))))
    return x * cdf


def _dropout(x: Any, prob: float) -> Any:
    _, tf1 = _tf()
    if not prob:
        return x
    return tf1.nn.dropout(x, keep_prob=1.0 - prob)


def _layer_norm(x: Any, name: str = "LayerNorm") -> Any:
    """contrib's ``layer_norm`` over the last axis: moments, then batch_normalization."""
    tf, tf1 = _tf()
    with tf1.variable_scope(name):
        width = x.shape[-1]
        beta = tf1.get_variable("beta", [width], initializer=tf1.zeros_initializer())
        gamma = tf1.get_variable("gamma", [width], initializer=tf1.ones_initializer())
        mean, variance = tf1.nn.moments(x, [-1], keep_dims=True)
        return tf.nn.batch_normalization(x, mean, variance, offset=beta, scale=gamma,
                                         variance_epsilon=1e-12)


def _dense(x: Any, units: int, name: str, activation: Any = None) -> Any:
    _, tf1 = _tf()
    return tf1.layers.dense(x, units, activation=activation, name=name,
                            kernel_initializer=_initializer())


def _attention(layer_input: Any, mask: Any, batch: Any, seq: int, dropout: float) -> Any:
    tf, _ = _tf()
    heads = CONFIG["num_attention_heads"]
    size = CONFIG["hidden_size"] // heads

    def split_heads(x: Any) -> Any:
        return tf.transpose(tf.reshape(x, [batch, seq, heads, size]), [0, 2, 1, 3])

    query = split_heads(_dense(layer_input, heads * size, "query"))
    key = split_heads(_dense(layer_input, heads * size, "key"))
    value = split_heads(_dense(layer_input, heads * size, "value"))
    scores = tf.multiply(tf.matmul(query, key, transpose_b=True), 1.0 / math.sqrt(size))
    adder = (1.0 - tf.cast(tf.expand_dims(mask, axis=[1]), tf.float32)) * -10000.0
    probs = _dropout(tf.nn.softmax(scores + adder), dropout)
    context = tf.transpose(tf.matmul(probs, value), [0, 2, 1, 3])
    return tf.reshape(context, [batch * seq, heads * size])


class BertModel:
    """``modeling.BertModel`` in small: embeddings, encoder, pooler."""

    def __init__(self, is_training: bool, input_ids: Any, input_mask: Any,
                 token_type_ids: Any) -> None:
        tf, tf1 = _tf()
        hidden_drop = CONFIG["hidden_dropout_prob"] if is_training else 0.0
        attn_drop = CONFIG["attention_probs_dropout_prob"] if is_training else 0.0
        batch, seq = _shape_list(input_ids)
        width = CONFIG["hidden_size"]
        with tf1.variable_scope("bert"):
            with tf1.variable_scope("embeddings"):
                table = tf1.get_variable("word_embeddings",
                                         [CONFIG["vocab_size"], width],
                                         initializer=_initializer())
                flat_ids = tf.reshape(tf.expand_dims(input_ids, axis=[-1]), [-1])
                output = tf.reshape(tf.gather(table, flat_ids), [batch, seq, width])
                type_table = tf1.get_variable("token_type_embeddings",
                                              [CONFIG["type_vocab_size"], width],
                                              initializer=_initializer())
                one_hot = tf.one_hot(tf.reshape(token_type_ids, [-1]),
                                     depth=CONFIG["type_vocab_size"])
                output += tf.reshape(tf.matmul(one_hot, type_table), [batch, seq, width])
                assert_op = tf1.assert_less_equal(seq, CONFIG["max_position_embeddings"])
                with tf.control_dependencies([assert_op]):
                    positions = tf1.get_variable(
                        "position_embeddings", [CONFIG["max_position_embeddings"], width],
                        initializer=_initializer())
                    output += tf.reshape(tf.slice(positions, [0, 0], [seq, -1]),
                                         [1, seq, width])
                output = _dropout(_layer_norm(output), hidden_drop)
            with tf1.variable_scope("encoder"):
                to_mask = tf.cast(tf.reshape(input_mask, [batch, 1, seq]), tf.float32)
                mask = tf.ones([batch, seq, 1], tf.float32) * to_mask
                prev = tf.reshape(output, [-1, width])
                for index in range(CONFIG["num_hidden_layers"]):
                    with tf1.variable_scope(f"layer_{index}"):
                        with tf1.variable_scope("attention"):
                            with tf1.variable_scope("self"):
                                heads = _attention(prev, mask, batch, seq, attn_drop)
                            with tf1.variable_scope("output"):
                                attn = _dropout(_dense(heads, width, "dense"), hidden_drop)
                                attn = _layer_norm(attn + prev)
                        with tf1.variable_scope("intermediate"):
                            inter = _dense(attn, CONFIG["intermediate_size"], "dense",
                                           activation=_gelu)
                        with tf1.variable_scope("output"):
                            out = _dropout(_dense(inter, width, "dense"), hidden_drop)
                            prev = _layer_norm(out + attn)
                self.sequence_output = tf.reshape(prev, [batch, seq, width])
            with tf1.variable_scope("pooler"):
                first = tf.squeeze(self.sequence_output[:, 0:1, :], axis=1)
                self.pooled_output = _dense(first, width, "dense", activation=tf.tanh)

    def get_pooled_output(self) -> Any:
        return self.pooled_output


def create_model(is_training: bool, input_ids: Any, input_mask: Any, segment_ids: Any,
                 labels: Any) -> tuple[Any, Any, Any, Any]:
    """``run_classifier.create_model``: returns loss, per-example loss, logits, probs."""
    tf, tf1 = _tf()
    model = BertModel(is_training, input_ids, input_mask, segment_ids)
    output_layer = model.get_pooled_output()
    hidden = output_layer.shape[-1]
    output_weights = tf1.get_variable("output_weights", [NUM_LABELS, hidden],
                                      initializer=_initializer())
    output_bias = tf1.get_variable("output_bias", [NUM_LABELS],
                                   initializer=tf1.zeros_initializer())
    with tf1.variable_scope("loss"):
        if is_training:
            output_layer = tf1.nn.dropout(output_layer, keep_prob=0.9)
        logits = tf.nn.bias_add(tf.matmul(output_layer, output_weights, transpose_b=True),
                                output_bias)
        probabilities = tf.nn.softmax(logits, axis=-1)
        log_probs = tf.nn.log_softmax(logits, axis=-1)
        if labels is None:
            return None, None, logits, probabilities
        one_hot_labels = tf.one_hot(labels, depth=NUM_LABELS, dtype=tf.float32)
        per_example_loss = -tf.reduce_sum(one_hot_labels * log_probs, axis=-1)
        loss = tf.reduce_mean(per_example_loss)
        return loss, per_example_loss, logits, probabilities


class AdamWeightDecayOptimizer:
    """``optimization.AdamWeightDecayOptimizer``: Adam with decoupled weight decay, its
    moments plain variables named after the parameter."""

    def __init__(self, learning_rate: Any, weight_decay_rate: float = 0.01) -> None:
        tf, _ = _tf()
        self.learning_rate = tf.identity(learning_rate, name="learning_rate")
        self.weight_decay_rate = weight_decay_rate
        self.exclude = ["LayerNorm", "layer_norm", "bias"]

    def apply_gradients(self, grads_and_vars: Any) -> Any:
        tf, tf1 = _tf()
        assignments = []
        for grad, param in grads_and_vars:
            if grad is None:
                continue
            name = re.match("^(.*):\\d+$", param.name).group(1)
            m = tf1.get_variable(name + "/adam_m", param.shape.as_list(), tf.float32,
                                 trainable=False, initializer=tf1.zeros_initializer())
            v = tf1.get_variable(name + "/adam_v", param.shape.as_list(), tf.float32,
                                 trainable=False, initializer=tf1.zeros_initializer())
            next_m = tf.multiply(0.9, m) + tf.multiply(0.1, grad)
            next_v = tf.multiply(0.999, v) + tf.multiply(0.001, tf.square(grad))
            update = next_m / (tf.sqrt(next_v) + 1e-6)
            if not any(re.search(r, name) for r in self.exclude):
                update += self.weight_decay_rate * param
            assignments += [param.assign(param - self.learning_rate * update),
                            m.assign(next_m), v.assign(next_v)]
        return tf.group(*assignments)


def create_optimizer(loss: Any, init_lr: float, num_train_steps: int,
                     num_warmup_steps: int) -> Any:
    tf, tf1 = _tf()
    global_step = tf1.train.get_or_create_global_step()
    learning_rate = tf1.train.polynomial_decay(
        tf.constant(init_lr, shape=[], dtype=tf.float32), global_step, num_train_steps,
        end_learning_rate=0.0, power=1.0, cycle=False)
    steps = tf.cast(global_step, tf.int32)
    warmup = tf.constant(num_warmup_steps, dtype=tf.int32)
    warmup_lr = init_lr * (tf.cast(steps, tf.float32) / tf.cast(warmup, tf.float32))
    is_warmup = tf.cast(steps < warmup, tf.float32)
    learning_rate = (1.0 - is_warmup) * learning_rate + is_warmup * warmup_lr
    optimizer = AdamWeightDecayOptimizer(learning_rate)
    tvars = tf1.trainable_variables()
    grads, _ = tf.clip_by_global_norm(tf.gradients(loss, tvars), clip_norm=1.0)
    train_op = optimizer.apply_gradients(zip(grads, tvars, strict=True))
    new_global_step = tf.identity(global_step + 1, name="step_update")
    return tf.group(train_op, [global_step.assign(new_global_step)])


def _examples(rng: np.random.Generator, count: int) -> list[dict[str, np.ndarray]]:
    """Tokenised pairs as ``convert_single_example`` writes them: [CLS] a [SEP] b [SEP],
    zero-padded, with the mask and segment ids that go with them."""
    rows = []
    for _ in range(count):
        a, b = int(rng.integers(1, 3)), int(rng.integers(1, 3))
        ids = [2, *rng.integers(5, CONFIG["vocab_size"], a), 3,
               *rng.integers(5, CONFIG["vocab_size"], b), 3]
        segments = [0] * (a + 2) + [1] * (b + 1)
        pad = SEQ_LENGTH - len(ids)
        rows.append({"input_ids": np.array(ids + [0] * pad),
                     "input_mask": np.array([1] * len(ids) + [0] * pad),
                     "segment_ids": np.array(segments + [0] * pad),
                     "label_ids": np.array([int(rng.integers(0, NUM_LABELS))])})
    return rows


def _input_fn(path: Path, batch_size: int) -> Any:
    tf, tf1 = _tf()
    name_to_features = {
        "input_ids": tf1.FixedLenFeature([SEQ_LENGTH], tf.int64),
        "input_mask": tf1.FixedLenFeature([SEQ_LENGTH], tf.int64),
        "segment_ids": tf1.FixedLenFeature([SEQ_LENGTH], tf.int64),
        "label_ids": tf1.FixedLenFeature([], tf.int64),
        "is_real_example": tf1.FixedLenFeature([], tf.int64),
    }

    def decode_record(record: Any) -> dict[str, Any]:
        example = tf1.parse_single_example(record, name_to_features)
        return {name: tf1.to_int32(t) if t.dtype == tf.int64 else t
                for name, t in example.items()}

    d = tf.data.TFRecordDataset(str(path)).repeat().shuffle(buffer_size=100, seed=7)
    return d.map(decode_record).batch(batch_size, drop_remainder=False)


def build(directory: Path) -> dict[str, Any]:
    tf, tf1 = _tf()
    rng = np.random.default_rng(23)
    rows = _examples(rng, 12)
    record_file = twin.write_records(directory / "train.tf_record", [
        {key: twin.int_feature(value) for key, value in row.items()}
        | {"is_real_example": twin.int_feature([1])} for row in rows])

    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(23)
        iterator = tf1.data.make_initializable_iterator(_input_fn(record_file, 4))
        features = iterator.get_next()
        loss, _, logits, probabilities = create_model(
            True, features["input_ids"], features["input_mask"], features["segment_ids"],
            features["label_ids"])
        train_op = create_optimizer(loss, 5e-3, num_train_steps=20, num_warmup_steps=2)
        tf1.summary.scalar("loss", loss)
        with tf1.Session() as sess:
            sess.run([tf1.global_variables_initializer(), iterator.initializer])
            for _ in range(4):
                sess.run(train_op)
            saver = tf1.train.Saver(tf1.trainable_variables())
            prefix = saver.save(sess, str(directory / "model.ckpt"), global_step=4)
    get_next = features["input_ids"].op.name
    names = {key: features[key].name for key in features}
    assert names["input_ids"] == f"{get_next}:0" and names["segment_ids"] == f"{get_next}:4"

    sample = _examples(np.random.default_rng(5), 4)
    feeds = {key: np.stack([row[key] for row in sample]).astype(np.int32)
             for key in ("input_ids", "input_mask", "segment_ids")}
    serving = tf.Graph()
    with serving.as_default():
        placeholders = {key: tf1.placeholder(tf.int32, [None, SEQ_LENGTH], name=key)
                        for key in feeds}
        _, _, twin_logits, twin_probs = create_model(
            False, placeholders["input_ids"], placeholders["input_mask"],
            placeholders["segment_ids"], None)
    got = twin.answer(serving, prefix, {"logits": twin_logits, "probabilities": twin_probs},
                      {placeholders[key]: value for key, value in feeds.items()})
    return twin.facts(
        directory, prefix,
        inputs={"input_ids": names["input_ids"], "inputs": names["input_mask"],
                "inputs_2": names["segment_ids"]},
        outputs={"logits": logits.name, "probabilities": probabilities.name},
        labels=[names["label_ids"]],
        samples={"input_ids": feeds["input_ids"], "inputs": feeds["input_mask"],
                 "inputs_2": feeds["segment_ids"]},
        expected=got)
