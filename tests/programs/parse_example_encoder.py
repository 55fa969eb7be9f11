"""A Quick-Thought sentence encoder trained from serialized ``tf.train.Example``s.

In the style of lajanugen/S2V ``src/s2v_model.py``, ``src/ops/input_ops.py`` and
``src/train.py`` (itself grown from tensorflow/models ``research/skip_thoughts``): a
``TFRecordReader`` on a ``filename_queue`` fills a ``fifo_input_queue`` through a queue
runner, ``dequeue_many(batch_size)`` gives serialized Examples, ``tf.parse_example``
reads the ``features`` ``VarLenFeature`` of int64 word ids and ``sparse_tensor_to_dense``
pads them with zeros; two trained word embeddings (``word_embedding`` and
``word_embedding_out``) feed two GRU encoders (``encoder``, ``encoder_out``;
``dynamic_rnn`` with the sentence lengths) whose final states are named
``thought_vectors``; the loss is a softmax cross entropy over the two encoders'
similarity scores (diagonal zeroed) against the neighbouring sentences; slim's
``create_train_op`` (Adam, gradients clipped, a global step) and a plain Saver.

S2V reads the padding mask from a second ``sparse_to_dense`` of the same feature; here
the mask is read from the padded ids (id 0 pads), so the feature has one dense form.
Served: the densified ``features`` → both encoders' ``thought_vectors`` (the second
keyed ``thought_vectors_2``), as S2V's encoder concatenates them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from tests.programs.running import facts, queue_runners, serve_twin

tf1 = tf.compat.v1

VOCAB = 30
WORD_DIM = 6
ENCODER_DIM = 8
BATCH_SIZE = 6
CONTEXT_SIZE = 1


def prefetch_input_data(reader: Any, data_files: list[str], capacity: int) -> Any:
    filename_queue = tf1.train.string_input_producer(data_files, shuffle=False, capacity=16,
                                                     name="filename_queue")
    values_queue = tf1.FIFOQueue(capacity=capacity, dtypes=[tf.string], shapes=[[]],
                                 name="fifo_input_queue")
    _, value = reader.read(filename_queue)
    tf1.train.queue_runner.add_queue_runner(
        tf1.train.queue_runner.QueueRunner(values_queue, [values_queue.enqueue([value])]))
    tf1.summary.scalar(f"queue/{values_queue.name}/fraction_of_{capacity}_full",
                       tf.cast(values_queue.size(), tf.float32) * (1.0 / capacity))
    return values_queue


def parse_example_batch(serialized: Any) -> Any:
    features = tf1.parse_example(serialized,
                                 features={"features": tf1.VarLenFeature(dtype=tf.int64)})
    return tf1.sparse_tensor_to_dense(features["features"])  # Padding with zeroes.


def encode(encode_ids: Any) -> list[Any]:
    """Both encoders' ``thought_vectors`` for padded ids ``[batch, time]``."""
    initializer = tf1.random_uniform_initializer(minval=-0.1, maxval=0.1)
    encode_mask = tf.cast(tf.not_equal(encode_ids, 0), tf.int32)
    thought_vectors = []
    for suffix in ("", "_out"):
        word_emb = tf1.get_variable("word_embedding" + suffix, [VOCAB, WORD_DIM],
                                    initializer=initializer)
        encode_emb = tf.nn.embedding_lookup(word_emb, encode_ids)
        with tf1.variable_scope("encoder" + suffix) as scope:
            length = tf.cast(tf.reduce_sum(encode_mask, 1), tf.int32, name="length")
            _, state = tf1.nn.dynamic_rnn(cell=tf1.nn.rnn_cell.GRUCell(num_units=ENCODER_DIM),
                                          inputs=encode_emb, sequence_length=length,
                                          dtype=tf.float32, scope=scope)
            thought_vectors.append(tf.identity(state, name="thought_vectors"))
    return thought_vectors


def build_loss(thought_vectors: list[Any]) -> Any:
    scores = tf.matmul(thought_vectors[0], thought_vectors[1], transpose_b=True)
    scores = tf1.matrix_set_diag(scores, np.zeros(BATCH_SIZE, np.float32))
    targets_np = np.zeros((BATCH_SIZE, BATCH_SIZE))
    for ctxt_pos in (p for p in range(-CONTEXT_SIZE, CONTEXT_SIZE + 1) if p):
        targets_np += np.eye(BATCH_SIZE, k=ctxt_pos)
    targets_np /= np.sum(targets_np, axis=1, keepdims=True)
    targets = tf.constant(targets_np, dtype=tf.float32)
    losses = tf.nn.softmax_cross_entropy_with_logits(labels=targets, logits=scores)
    loss = tf.reduce_mean(losses)
    tf1.summary.scalar("losses/ent_loss", loss)
    return loss


def create_train_op(total_loss: Any, optimizer: Any, clip_gradient_norm: float) -> Any:
    """slim's ``learning.create_train_op``: returns the loss after the update."""
    global_step = tf1.train.get_or_create_global_step()
    with tf.control_dependencies(tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)):
        grads = optimizer.compute_gradients(total_loss)
    with tf.name_scope("clip_grads"):
        grads = [(tf.clip_by_norm(g, clip_gradient_norm), v) for g, v in grads]
    grad_updates = optimizer.apply_gradients(grads, global_step=global_step)
    with tf.name_scope("train_op"), tf.control_dependencies([grad_updates]):
        return tf.identity(total_loss, name="total_loss")


def _write_records(path: Path, count: int) -> None:
    rng = np.random.default_rng(100)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for _ in range(count):
            ids = rng.integers(1, VOCAB, rng.integers(2, 7))
            writer.write(tf.train.Example(features=tf.train.Features(feature={
                "features": tf.train.Feature(int64_list=tf.train.Int64List(value=ids))}))
                .SerializeToString())


def build(directory: Path) -> dict[str, Any]:
    data = directory / "train-00000-of-00001"
    _write_records(data, 36)
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(100)
        input_queue = prefetch_input_data(tf1.TFRecordReader(), [str(data)], capacity=64)
        serialized = input_queue.dequeue_many(BATCH_SIZE)
        encode_ids = parse_example_batch(serialized)
        thought_vectors = encode(encode_ids)
        total_loss = build_loss(thought_vectors)
        train_tensor = create_train_op(total_loss, tf1.train.AdamOptimizer(0.005), 5.0)
        summaries = tf1.summary.merge_all()
        saver = tf1.train.Saver()
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            with queue_runners(sess):
                for _ in range(4):
                    sess.run([train_tensor, summaries])
                prefix = saver.save(sess, str(directory / "model.ckpt"),
                                    global_step=tf1.train.get_global_step())
    twin = tf.Graph()
    with twin.as_default():
        served = tf1.placeholder(tf.int64, (None, None), name="encode_ids")
        twin_vectors = encode(served)
    rng = np.random.default_rng(101)
    ids = rng.integers(1, VOCAB, (3, 5))
    ids[1, 3:] = 0
    ids[2, 2:] = 0
    files = serve_twin(twin, prefix, directory, {"features": (served, ids)},
                       {"thought_vectors": twin_vectors[0],
                        "thought_vectors_2": twin_vectors[1]})
    return facts(prefix, files, inputs={"features": encode_ids.name},
                 outputs={"thought_vectors": thought_vectors[0].name,
                          "thought_vectors_2": thought_vectors[1].name})
