"""The TF NMT tutorial's attention model in training mode, small and without contrib.

In the style of tensorflow/nmt ``nmt/utils/iterator_utils.py`` (``get_iterator``: text
lines of source and target zipped, shuffled, split, looked up in vocabulary tables read
from files, ``tgt_input`` prefixed with ``<s>`` and ``tgt_output`` suffixed with
``</s>``, lengths added, ``padded_batch``, an initializable iterator giving
``(source, target_input, target_output, source_sequence_length,
target_sequence_length)``), ``nmt/model.py`` and ``nmt/attention_model.py``: embeddings
under ``embeddings/encoder`` and ``embeddings/decoder``, an LSTM encoder by
``dynamic_rnn``, a decoder fed the embedded ``target_input`` (teacher forcing, as
``TrainingHelper`` does) starting from the encoder state, Luong attention over the
encoder outputs masked by the source lengths (a ``memory_layer`` for the keys, an
``attention_layer`` on ``[cell output; context]``, written out: contrib's
``AttentionWrapper`` is gone, and without its input feeding), ``output_projection``
(``tf.layers.Dense`` without bias) giving the logits, the cross entropy weighted by
``tf.sequence_mask`` of the target lengths and divided by the batch size, gradients
clipped by global norm, SGD with a global step, and ``Saver(tf.global_variables())``.
Cells have dropout (``DropoutWrapper``) in training, as the tutorial's ``dropout``
hyperparameter gives. Batch-major (``time_major=False``), one of the tutorial's modes.

What a user can serve from this graph is the teacher-forced logits given the source,
the target input and both lengths (a decoding graph has to be built from the model
code); the target output is the label.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from tests.programs.running import facts, serve_twin

tf1 = tf.compat.v1

SOS, EOS = "<s>", "</s>"
WORDS = [f"w{i}" for i in range(12)]
VOCAB = ["<unk>", SOS, EOS, *WORDS]
NUM_UNITS = 8


def _table(path: Path) -> Any:
    """``lookup_ops.index_table_from_file(path, default_value=UNK_ID)``."""
    initializer = tf.lookup.TextFileInitializer(
        str(path), tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
        tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER)
    return tf1.lookup.StaticHashTable(initializer, default_value=0)


def get_iterator(src_dataset: Any, tgt_dataset: Any, src_vocab_table: Any,
                 tgt_vocab_table: Any, batch_size: int) -> tuple[Any, tuple[Any, ...]]:
    src_eos_id = tf.cast(src_vocab_table.lookup(tf.constant(EOS)), tf.int32)
    tgt_sos_id = tf.cast(tgt_vocab_table.lookup(tf.constant(SOS)), tf.int32)
    tgt_eos_id = tf.cast(tgt_vocab_table.lookup(tf.constant(EOS)), tf.int32)
    dataset = tf.data.Dataset.zip((src_dataset, tgt_dataset)).shuffle(100, 7)
    dataset = dataset.map(lambda src, tgt: (tf1.string_split([src]).values,
                                            tf1.string_split([tgt]).values))
    dataset = dataset.filter(lambda src, tgt: tf.logical_and(tf.size(src) > 0,
                                                             tf.size(tgt) > 0))
    dataset = dataset.map(lambda src, tgt: (tf.cast(src_vocab_table.lookup(src), tf.int32),
                                            tf.cast(tgt_vocab_table.lookup(tgt), tf.int32)))
    dataset = dataset.map(lambda src, tgt: (src, tf.concat(([tgt_sos_id], tgt), 0),
                                            tf.concat((tgt, [tgt_eos_id]), 0)))
    dataset = dataset.map(lambda src, tgt_in, tgt_out: (src, tgt_in, tgt_out, tf.size(src),
                                                        tf.size(tgt_in)))
    batched = dataset.padded_batch(
        batch_size,
        padded_shapes=(tf.TensorShape([None]), tf.TensorShape([None]),
                       tf.TensorShape([None]), tf.TensorShape([]), tf.TensorShape([])),
        padding_values=(src_eos_id, tgt_eos_id, tgt_eos_id, 0, 0)).repeat()
    iterator = tf1.data.make_initializable_iterator(batched)
    return iterator, iterator.get_next()


def _cell(training: bool, dropout: float) -> Any:
    cell = tf1.nn.rnn_cell.BasicLSTMCell(NUM_UNITS, forget_bias=1.0)
    if training and dropout > 0.0:
        cell = tf1.nn.rnn_cell.DropoutWrapper(cell=cell, input_keep_prob=1.0 - dropout)
    return cell


def build_graph(source: Any, target_input: Any, source_sequence_length: Any,
                target_sequence_length: Any, training: bool, dropout: float = 0.2) -> Any:
    """The attention model up to its logits ``[batch, target time, vocab]``."""
    with tf1.variable_scope("embeddings"):
        with tf1.variable_scope("encoder"):
            embedding_encoder = tf1.get_variable("embedding_encoder", [len(VOCAB), NUM_UNITS])
        with tf1.variable_scope("decoder"):
            embedding_decoder = tf1.get_variable("embedding_decoder", [len(VOCAB), NUM_UNITS])
    with tf1.variable_scope("build_network"), tf1.variable_scope("decoder/output_projection"):
        output_layer = tf1.layers.Dense(len(VOCAB), use_bias=False, name="output_projection")
    with tf1.variable_scope("dynamic_seq2seq"):
        with tf1.variable_scope("encoder") as scope:
            encoder_emb_inp = tf.nn.embedding_lookup(embedding_encoder, source)
            encoder_outputs, encoder_state = tf1.nn.dynamic_rnn(
                _cell(training, dropout), encoder_emb_inp, dtype=tf.float32,
                sequence_length=source_sequence_length, time_major=False, swap_memory=True,
                scope=scope)
        with tf1.variable_scope("decoder") as scope:
            decoder_emb_inp = tf.nn.embedding_lookup(embedding_decoder, target_input)
            cell_outputs, _ = tf1.nn.dynamic_rnn(
                _cell(training, dropout), decoder_emb_inp, initial_state=encoder_state,
                sequence_length=target_sequence_length, time_major=False, swap_memory=True,
                scope=scope)
            with tf1.variable_scope("attention"):
                keys = tf1.layers.dense(encoder_outputs, NUM_UNITS, use_bias=False,
                                        name="memory_layer")
                score = tf.matmul(cell_outputs, keys, transpose_b=True)
                mask = tf.sequence_mask(source_sequence_length, tf.shape(keys)[1])
                mask = tf.tile(mask[:, None, :], [1, tf.shape(score)[1], 1])
                score = tf1.where(mask, score, tf.fill(tf.shape(score), -np.inf))
                alignments = tf.nn.softmax(score)
                context = tf.matmul(alignments, encoder_outputs)
                attention = tf1.layers.dense(tf.concat([cell_outputs, context], -1), NUM_UNITS,
                                             use_bias=False, name="attention_layer")
            return output_layer(attention)


def build(directory: Path) -> dict[str, Any]:
    rng = np.random.default_rng(80)
    (directory / "vocab.src").write_text("\n".join(VOCAB) + "\n")
    (directory / "vocab.tgt").write_text("\n".join(VOCAB) + "\n")
    sentences = [(" ".join(rng.choice(WORDS, rng.integers(2, 6))),
                  " ".join(rng.choice(WORDS, rng.integers(2, 5)))) for _ in range(16)]
    (directory / "train.src").write_text("\n".join(s for s, _ in sentences) + "\n")
    (directory / "train.tgt").write_text("\n".join(t for _, t in sentences) + "\n")
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(80)
        iterator, (source, target_input, target_output, source_len, target_len) = get_iterator(
            tf.data.TextLineDataset(str(directory / "train.src")),
            tf.data.TextLineDataset(str(directory / "train.tgt")),
            _table(directory / "vocab.src"), _table(directory / "vocab.tgt"), batch_size=4)
        batch_size = tf.size(source_len)
        global_step = tf1.Variable(0, trainable=False)
        tf1.get_variable_scope().set_initializer(tf1.random_uniform_initializer(-0.1, 0.1, 80))
        logits = build_graph(source, target_input, source_len, target_len, training=True)
        with tf.name_scope("loss"):
            crossent = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=target_output,
                                                                      logits=logits)
            target_weights = tf.sequence_mask(target_len, tf.shape(target_output)[1],
                                              dtype=tf.float32)
            train_loss = tf.reduce_sum(crossent * target_weights) / tf.cast(batch_size,
                                                                          tf.float32)
        word_count = tf.reduce_sum(source_len) + tf.reduce_sum(target_len)
        params = tf1.trainable_variables()
        gradients = tf.gradients(train_loss, params)
        clipped_grads, grad_norm = tf.clip_by_global_norm(gradients, 5.0)
        learning_rate = tf.constant(0.5)
        update = tf1.train.GradientDescentOptimizer(learning_rate).apply_gradients(
            zip(clipped_grads, params, strict=True), global_step=global_step)
        train_summary = tf1.summary.merge([
            tf1.summary.scalar("lr", learning_rate),
            tf1.summary.scalar("train_loss", train_loss),
            tf1.summary.scalar("grad_norm", grad_norm),
            tf1.summary.scalar("clipped_gradient", tf.linalg.global_norm(clipped_grads))])
        saver = tf1.train.Saver(tf1.global_variables(), max_to_keep=5)
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            sess.run(tf1.tables_initializer())
            sess.run(iterator.initializer)
            for _ in range(5):
                sess.run([update, train_loss, train_summary, global_step, word_count])
            prefix = saver.save(sess, str(directory / "translate.ckpt"),
                                global_step=global_step)
    twin = tf.Graph()
    with twin.as_default():
        placeholders = (tf1.placeholder(tf.int32, [None, None]),
                        tf1.placeholder(tf.int32, [None, None]),
                        tf1.placeholder(tf.int32, [None]), tf1.placeholder(tf.int32, [None]))
        twin_logits = build_graph(*placeholders, training=False)
    src_len = np.array([5, 2, 3], np.int32)
    tgt_len = np.array([3, 4, 2], np.int32)
    src = rng.integers(3, len(VOCAB), (3, 5)).astype(np.int32)
    tgt_in = rng.integers(3, len(VOCAB), (3, 4)).astype(np.int32)
    tgt_in[:, 0] = VOCAB.index(SOS)
    for row, (s, t) in enumerate(zip(src_len, tgt_len, strict=True)):
        src[row, s:] = VOCAB.index(EOS)
        tgt_in[row, t:] = VOCAB.index(EOS)
    samples = dict(zip(("input_ids", "input_ids_2", "lengths", "lengths_2"),
                       (src, tgt_in, src_len, tgt_len), strict=True))
    files = serve_twin(twin, prefix, directory,
                       {key: (placeholder, samples[key])
                        for key, placeholder in zip(samples, placeholders, strict=True)},
                       {"logits": twin_logits})
    return facts(prefix, files,
                 inputs={"input_ids": source.name, "input_ids_2": target_input.name,
                         "lengths": source_len.name, "lengths_2": target_len.name},
                 outputs={"logits": logits.name}, labels=[target_output.name],
                 notes=["teacher_forcing"])
