"""The TF NMT tutorial's attention model in training, in the style of tensorflow/nmt
``nmt/utils/iterator_utils.py`` (``get_iterator``), ``nmt/utils/vocab_utils.py``
(``create_vocab_tables``), ``nmt/model.py`` (``BaseModel``: ``_build_encoder`` with a
bidirectional encoder, ``_build_decoder``, ``_compute_loss``, the SGD update with warmup
and global-norm clipping) and ``nmt/attention_model.py`` (Luong attention wrapped around
the decoder cell, the encoder state passed to the decoder).

The pipeline is NMT's: source and target ``TextLineDataset``s zipped, shuffled,
``string_split``, empty lines filtered, truncated to ``src_max_len``, words mapped to ids
by vocabulary tables built from the vocabulary files (``StaticHashTable`` over a
``TextFileInitializer``, which is what ``index_table_from_file`` builds, with ``<unk>`` as
default), ``<s>``/``</s>`` added to make the target input and output, lengths added, and
``padded_batch`` by source-length bucket (``group_by_window``) from an initializable
iterator. The model: ``embeddings/encoder/embedding_encoder`` and
``embeddings/decoder/embedding_decoder``; a one-layer bidirectional LSTM encoder; a
two-layer LSTM decoder (``DropoutWrapper`` with ``input_keep_prob = 1 - dropout`` at
training) started from the encoder's forward and backward states, wrapped in Luong
attention (``memory_layer`` over the encoder outputs, masked by the source lengths,
``attention_layer`` on cell output and context); ``output_projection`` without bias;
the masked sparse cross entropy summed and divided by the batch size. Training is
teacher-forced: the decoder reads ``target_input``.

Different from the original: ``tf.contrib.seq2seq`` does not exist in TF 2, so the
attention wrapper is a small hand-written ``RNNCell`` and the ``TrainingHelper`` +
``BasicDecoder`` + ``dynamic_decode`` loop is a ``dynamic_rnn`` over the embedded target
input with the target lengths (the same decoding at training; its outputs past a
sentence's end are zeros instead of the steps ``dynamic_decode`` runs on the padding).
``time_major=False`` (an NMT option) so the logits come out batch-major.

Served (teacher forcing: the target sequence is an input): the ``[batch, time, vocab]``
logits, from the four tensors the decoder path reads out of ``IteratorGetNext``: the
source and target-input ids (``input_ids``, ``input_ids_2``) and their lengths
(``lengths``, ``lengths_2``), keyed by role in ``IteratorGetNext`` output order. The
target output is the label.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tests.heldout import twin

SRC_WORDS = ["ich", "bin", "ein", "kleiner", "hund", "katze", "haus"]
TGT_WORDS = ["i", "am", "a", "small", "dog", "cat", "house"]
SPECIAL = ["<unk>", "<s>", "</s>"]
UNITS = 8
EMBED = 6
DROPOUT = 0.2
SRC_MAX_LEN = 6


def _tf():
    import tensorflow as tf

    return tf, tf.compat.v1


def _attention_cell_class() -> type:
    """Built on first use: the base class exists only once TensorFlow is imported."""
    tf, tf1 = _tf()

    class LuongAttentionCell(tf1.nn.rnn_cell.RNNCell):
        """contrib's ``AttentionWrapper(cell, LuongAttention(units, memory,
        memory_sequence_length), attention_layer_size=units)``, output_attention=True."""

        def __init__(self, cell: Any, memory: Any, memory_sequence_length: Any) -> None:
            super().__init__(name="attention")
            self._cell = cell
            self._values = memory
            self._keys = tf1.layers.Dense(UNITS, use_bias=False, name="memory_layer")(memory)
            self._mask = tf.sequence_mask(memory_sequence_length, tf.shape(memory)[1])
            self._attention_layer = tf1.layers.Dense(UNITS, use_bias=False,
                                                     name="attention_layer")

        @property
        def state_size(self) -> Any:
            return (self._cell.state_size, UNITS)

        @property
        def output_size(self) -> int:
            return UNITS

        def call(self, inputs: Any, state: Any) -> tuple[Any, Any]:
            cell_state, attention = state
            cell_output, next_cell_state = self._cell(tf.concat([inputs, attention], -1),
                                                      cell_state)
            score = tf.squeeze(tf.matmul(tf.expand_dims(cell_output, 1), self._keys,
                                         transpose_b=True), [1])
            score = tf1.where(self._mask, score, tf.ones_like(score) * -np.inf)
            alignments = tf.nn.softmax(score)
            context = tf.squeeze(tf.matmul(tf.expand_dims(alignments, 1), self._values), [1])
            attention = self._attention_layer(tf.concat([cell_output, context], 1))
            return attention, (next_cell_state, attention)

    return LuongAttentionCell


def _single_cell(training: bool) -> Any:
    _, tf1 = _tf()
    cell = tf1.nn.rnn_cell.LSTMCell(UNITS)
    if training:
        cell = tf1.nn.rnn_cell.DropoutWrapper(cell, input_keep_prob=1.0 - DROPOUT)
    return cell


def build_model(training: bool, source: Any, target_input: Any, source_length: Any,
                target_length: Any) -> Any:
    """``AttentionModel.build_graph`` up to the logits (batch-major)."""
    tf, tf1 = _tf()
    with tf1.variable_scope("dynamic_seq2seq", dtype=tf.float32):
        with tf1.variable_scope("embeddings"):
            with tf1.variable_scope("encoder"):
                embedding_encoder = tf1.get_variable(
                    "embedding_encoder", [len(SPECIAL) + len(SRC_WORDS), EMBED])
            with tf1.variable_scope("decoder"):
                embedding_decoder = tf1.get_variable(
                    "embedding_decoder", [len(SPECIAL) + len(TGT_WORDS), EMBED])
        with tf1.variable_scope("build_network"), tf1.variable_scope(
                "decoder/output_projection"):
            output_layer = tf1.layers.Dense(len(SPECIAL) + len(TGT_WORDS), use_bias=False,
                                            name="output_projection")
        with tf1.variable_scope("encoder"):
            encoder_emb_inp = tf.nn.embedding_lookup(embedding_encoder, source)
            bi_outputs, bi_state = tf1.nn.bidirectional_dynamic_rnn(
                _single_cell(training), _single_cell(training), encoder_emb_inp,
                dtype=tf.float32, sequence_length=source_length, time_major=False,
                swap_memory=True)
            encoder_outputs = tf.concat(bi_outputs, -1)
            encoder_state = bi_state
        with tf1.variable_scope("decoder"):
            batch_size = tf.size(source_length)
            cell = tf1.nn.rnn_cell.MultiRNNCell([_single_cell(training) for _ in range(2)])
            cell = _attention_cell_class()(cell, encoder_outputs, source_length)
            initial_state = (encoder_state, tf.zeros([batch_size, UNITS]))
            decoder_emb_inp = tf.nn.embedding_lookup(embedding_decoder, target_input)
            outputs, _ = tf1.nn.dynamic_rnn(cell, decoder_emb_inp,
                                            sequence_length=target_length,
                                            initial_state=initial_state, time_major=False,
                                            swap_memory=True)
            return output_layer(outputs)


def _write_corpus(directory: Path) -> dict[str, Path]:
    rng = np.random.default_rng(41)
    files = {"src_vocab": directory / "vocab.de", "tgt_vocab": directory / "vocab.en",
             "src": directory / "train.de", "tgt": directory / "train.en"}
    files["src_vocab"].write_text("\n".join(SPECIAL + SRC_WORDS) + "\n")
    files["tgt_vocab"].write_text("\n".join(SPECIAL + TGT_WORDS) + "\n")
    src, tgt = [], []
    for _ in range(16):
        idx = rng.integers(0, len(SRC_WORDS), int(rng.integers(2, 8)))
        src.append(" ".join(SRC_WORDS[i] for i in idx))
        tgt.append(" ".join(TGT_WORDS[i] for i in idx[: max(1, len(idx) - 1)]))
    files["src"].write_text("\n".join(src) + "\n")
    files["tgt"].write_text("\n".join(tgt) + "\n")
    return files


def _vocab_table(vocab_file: Path) -> Any:
    """``lookup_ops.index_table_from_file(vocab_file, default_value=UNK_ID)``."""
    tf, tf1 = _tf()
    with tf1.name_scope("string_to_index"):
        initializer = tf1.lookup.TextFileInitializer(
            str(vocab_file), tf.string, tf1.lookup.TextFileIndex.WHOLE_LINE, tf.int64,
            tf1.lookup.TextFileIndex.LINE_NUMBER)
        return tf1.lookup.StaticHashTable(initializer, default_value=0)


def _iterator(files: dict[str, Path], batch_size: int) -> tuple[Any, tuple[Any, ...]]:
    tf, tf1 = _tf()
    src_vocab_table = _vocab_table(files["src_vocab"])
    tgt_vocab_table = _vocab_table(files["tgt_vocab"])
    src_eos_id = tf.cast(src_vocab_table.lookup(tf.constant("</s>")), tf.int32)
    tgt_sos_id = tf.cast(tgt_vocab_table.lookup(tf.constant("<s>")), tf.int32)
    tgt_eos_id = tf.cast(tgt_vocab_table.lookup(tf.constant("</s>")), tf.int32)
    dataset = tf.data.Dataset.zip((tf.data.TextLineDataset(str(files["src"])),
                                   tf.data.TextLineDataset(str(files["tgt"]))))
    dataset = dataset.shuffle(64, seed=41).repeat()
    dataset = dataset.map(lambda src, tgt: (tf1.string_split([src]).values,
                                            tf1.string_split([tgt]).values))
    dataset = dataset.filter(lambda src, tgt: tf.logical_and(tf.size(src) > 0,
                                                             tf.size(tgt) > 0))
    dataset = dataset.map(lambda src, tgt: (src[:SRC_MAX_LEN], tgt))
    dataset = dataset.map(lambda src, tgt: (tf.cast(src_vocab_table.lookup(src), tf.int32),
                                            tf.cast(tgt_vocab_table.lookup(tgt), tf.int32)))
    dataset = dataset.map(lambda src, tgt: (src, tf.concat(([tgt_sos_id], tgt), 0),
                                            tf.concat((tgt, [tgt_eos_id]), 0)))
    dataset = dataset.map(lambda src, tgt_in, tgt_out: (
        src, tgt_in, tgt_out, tf.size(src), tf.size(tgt_in)))

    def batching_func(x: Any) -> Any:
        return x.padded_batch(batch_size, padded_shapes=(
            tf.TensorShape([None]), tf.TensorShape([None]), tf.TensorShape([None]),
            tf.TensorShape([]), tf.TensorShape([])),
            padding_values=(src_eos_id, tgt_eos_id, tgt_eos_id, 0, 0))

    def key_func(unused_1: Any, unused_2: Any, unused_3: Any, src_len: Any,
                 tgt_len: Any) -> Any:
        bucket_width = (SRC_MAX_LEN + 1) // 2
        bucket_id = tf.maximum(src_len // bucket_width, tgt_len // bucket_width)
        return tf.cast(tf.minimum(2, bucket_id), tf.int64)

    batched = dataset.group_by_window(key_func=key_func,
                                      reduce_func=lambda _, window: batching_func(window),
                                      window_size=batch_size)
    iterator = tf1.data.make_initializable_iterator(batched)
    return iterator, iterator.get_next()


def _samples() -> dict[str, np.ndarray]:
    """Four sentence pairs as the pipeline hands them over: ids padded with ``</s>``."""
    sentences = [[3, 4, 5], [6, 7, 8, 9, 3], [4], [5, 9, 3, 3]]
    targets = [[3, 4], [6, 7, 8, 9], [4], [5, 9, 3]]
    eos, sos = 2, 1
    width = max(map(len, sentences))
    t_width = max(map(len, targets)) + 1
    return {
        "input_ids": np.array([s + [eos] * (width - len(s)) for s in sentences], np.int32),
        "input_ids_2": np.array([[sos, *t] + [eos] * (t_width - len(t) - 1)
                                 for t in targets], np.int32),
        "lengths": np.array([len(s) for s in sentences], np.int32),
        "lengths_2": np.array([len(t) + 1 for t in targets], np.int32),
    }


def build(directory: Path) -> dict[str, Any]:
    tf, tf1 = _tf()
    files = _write_corpus(directory)
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(41)
        iterator, batch = _iterator(files, 4)
        source, target_input, target_output, source_length, target_length = batch
        global_step = tf.Variable(0, trainable=False, name="global_step")
        logits = build_model(True, source, target_input, source_length, target_length)
        with tf1.name_scope("compute_loss"):
            max_time = tf.shape(target_output)[1]
            crossent = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=target_output,
                                                                      logits=logits)
            target_weights = tf.sequence_mask(target_length, max_time, dtype=logits.dtype)
            batch_size = tf.size(source_length)
            train_loss = tf.reduce_sum(crossent * target_weights) / tf1.to_float(batch_size)
        word_count = tf.reduce_sum(source_length) + tf.reduce_sum(target_length)
        predict_count = tf.reduce_sum(target_length)
        warmup_steps = 2
        learning_rate = tf.constant(0.5)
        warmup_factor = tf.exp(tf1.log(0.01) / warmup_steps)
        inv_decay = warmup_factor ** tf1.to_float(warmup_steps - global_step)
        learning_rate = tf1.cond(global_step < warmup_steps,
                                 lambda: inv_decay * learning_rate, lambda: learning_rate,
                                 name="learning_rate_warump_cond")
        params = tf1.trainable_variables()
        gradients = tf1.gradients(train_loss, params, colocate_gradients_with_ops=True)
        clipped, gradient_norm = tf.clip_by_global_norm(gradients, 5.0)
        update = tf1.train.GradientDescentOptimizer(learning_rate).apply_gradients(
            zip(clipped, params, strict=True), global_step=global_step)
        train_summary = tf1.summary.merge([
            tf1.summary.scalar("lr", learning_rate),
            tf1.summary.scalar("train_loss", train_loss),
            tf1.summary.scalar("grad_norm", gradient_norm),
            tf1.summary.scalar("clipped_gradient", tf1.global_norm(clipped))])
        with tf1.Session() as sess:
            sess.run([tf1.global_variables_initializer(), tf1.tables_initializer()])
            sess.run(iterator.initializer)
            for _ in range(4):
                sess.run([update, train_loss, train_summary, word_count, predict_count])
            saver = tf1.train.Saver(tf1.global_variables(), max_to_keep=5)
            prefix = saver.save(sess, str(directory / "translate.ckpt"),
                                global_step=global_step)

    samples = _samples()
    serving = tf.Graph()
    with serving.as_default():
        ids = tf1.placeholder(tf.int32, [None, None], name="source")
        ids_in = tf1.placeholder(tf.int32, [None, None], name="target_input")
        length = tf1.placeholder(tf.int32, [None], name="source_sequence_length")
        length_in = tf1.placeholder(tf.int32, [None], name="target_sequence_length")
        twin_logits = build_model(False, ids, ids_in, length, length_in)
    got = twin.answer(serving, prefix, {"logits": twin_logits}, {
        ids: samples["input_ids"], ids_in: samples["input_ids_2"],
        length: samples["lengths"], length_in: samples["lengths_2"]})
    return twin.facts(
        directory, prefix,
        inputs={"input_ids": source.name, "input_ids_2": target_input.name,
                "lengths": source_length.name, "lengths_2": target_length.name},
        outputs={"logits": logits.name}, labels=[target_output.name],
        samples=samples, expected=got, notes=("teacher_forcing",))
