"""Training programs whose synthetic samples are not what the model accepts (issue 24).

``nmt_with_checks`` is a seq2seq training program in the style of the TF NMT tutorial
(tensorflow/nmt ``utils/iterator_utils.py``, ``utils/vocab_utils.py``, ``model.py``,
``attention_model.py``): source and target ``TextLineDataset``s next to the checkpoint,
zipped, shuffled, ``string_split``, mapped to ids by vocabulary tables, ``<s>``/``</s>``
added, ``padded_batch`` from an initializable iterator; an embedding and a
``dynamic_rnn`` LSTM encoder (``DropoutWrapper`` at training), a teacher-forced LSTM
decoder started from the encoder state and Luong attention over the encoder outputs
masked by the source lengths. The attention checks its memory lengths as
``tf.contrib.seq2seq``'s ``_prepare_memory`` does ("All values in memory_sequence_length
must be greater than zero."), and the encoder checks that every source length is the
count of the ids before the ``</s>`` padding: a relation between two inputs no
synthetic sample can guess. The eval twin is built from the same code on placeholders
and restored from the checkpoint; its facts are those `tests.program_checks` reads.

``fixed_batch_model`` bakes its training batch size (2) into a reshape, as GPT-2
fine-tuning does; ``mixes_above_three`` mixes the examples of a batch only when it holds
more than 3.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tests.heldout import twin

SRC_WORDS = ["ich", "bin", "ein", "kleiner", "hund", "katze", "haus"]
TGT_WORDS = ["i", "am", "a", "small", "dog", "cat", "house"]
SPECIAL = ["<unk>", "<s>", "</s>"]
SOS, EOS = 1, 2
UNITS = 8
EMBED = 6
BATCH = 4


def _tf() -> tuple[Any, Any]:
    import tensorflow as tf

    return tf, tf.compat.v1


def _cell(training: bool) -> Any:
    _, tf1 = _tf()
    cell = tf1.nn.rnn_cell.LSTMCell(UNITS)
    return tf1.nn.rnn_cell.DropoutWrapper(cell, input_keep_prob=0.8) if training else cell


def _prepare_memory(memory: Any, memory_sequence_length: Any) -> Any:
    """contrib.seq2seq's check of the attention memory lengths, then the mask."""
    tf, tf1 = _tf()
    check = tf1.debugging.assert_positive(
        memory_sequence_length,
        message="All values in memory_sequence_length must be greater than zero.")
    with tf.control_dependencies([check]):
        return tf.sequence_mask(tf.identity(memory_sequence_length), tf.shape(memory)[1])


def build_model(training: bool, source: Any, target_input: Any, source_length: Any,
                target_length: Any) -> Any:
    """The logits ``[batch, time, vocab]`` of the teacher-forced attention decoder."""
    tf, tf1 = _tf()
    with tf1.variable_scope("dynamic_seq2seq"):
        with tf1.variable_scope("encoder"):
            padding = tf.cast(tf.not_equal(source, EOS), tf.int32)
            counted = tf1.debugging.assert_equal(
                tf.reduce_sum(padding, 1), source_length,
                message="every source length must count the ids before </s>")
            with tf.control_dependencies([counted]):
                source_length = tf.identity(source_length)
            embedding = tf1.get_variable("embedding_encoder",
                                         [len(SPECIAL) + len(SRC_WORDS), EMBED])
            memory, state = tf1.nn.dynamic_rnn(
                _cell(training), tf.nn.embedding_lookup(embedding, source),
                sequence_length=source_length, dtype=tf.float32)
        with tf1.variable_scope("decoder"):
            embedding = tf1.get_variable("embedding_decoder",
                                         [len(SPECIAL) + len(TGT_WORDS), EMBED])
            outputs, _ = tf1.nn.dynamic_rnn(
                _cell(training), tf.nn.embedding_lookup(embedding, target_input),
                sequence_length=target_length, initial_state=state)
            mask = _prepare_memory(memory, source_length)
            keys = tf1.layers.dense(memory, UNITS, use_bias=False, name="memory_layer")
            score = tf.matmul(outputs, keys, transpose_b=True)  # [batch, target, source]
            score = tf1.where(tf.broadcast_to(mask[:, None, :], tf.shape(score)), score,
                              tf.ones_like(score) * -1e9)
            context = tf.matmul(tf.nn.softmax(score), memory)
            attention = tf1.layers.dense(tf.concat([outputs, context], -1), UNITS,
                                         use_bias=False, activation=tf.tanh,
                                         name="attention_layer")
            return tf1.layers.dense(attention, len(SPECIAL) + len(TGT_WORDS),
                                    use_bias=False, name="output_projection")


def _write_corpus(directory: Path) -> dict[str, Path]:
    rng = np.random.default_rng(24)
    files = {"src_vocab": directory / "vocab.de", "tgt_vocab": directory / "vocab.en",
             "src": directory / "train.de", "tgt": directory / "train.en"}
    files["src_vocab"].write_text("\n".join(SPECIAL + SRC_WORDS) + "\n")
    files["tgt_vocab"].write_text("\n".join(SPECIAL + TGT_WORDS) + "\n")
    src, tgt = [], []
    for _ in range(16):
        idx = rng.integers(0, len(SRC_WORDS), int(rng.integers(1, 6)))
        src.append(" ".join(SRC_WORDS[i] for i in idx))
        tgt.append(" ".join(TGT_WORDS[i] for i in idx))
    files["src"].write_text("\n".join(src) + "\n")
    files["tgt"].write_text("\n".join(tgt) + "\n")
    return files


def _iterator(files: dict[str, Path]) -> tuple[Any, tuple[Any, ...]]:
    """``iterator_utils.get_iterator`` without the length buckets."""
    tf, tf1 = _tf()

    def table(path: Path) -> Any:  # vocab_utils.create_vocab_tables
        return tf1.lookup.StaticHashTable(tf1.lookup.TextFileInitializer(
            str(path), tf.string, tf1.lookup.TextFileIndex.WHOLE_LINE, tf.int64,
            tf1.lookup.TextFileIndex.LINE_NUMBER), default_value=0)

    src_table, tgt_table = table(files["src_vocab"]), table(files["tgt_vocab"])
    dataset = tf.data.Dataset.zip((tf.data.TextLineDataset(str(files["src"])),
                                   tf.data.TextLineDataset(str(files["tgt"]))))
    dataset = dataset.shuffle(32, seed=24).repeat()
    dataset = dataset.map(lambda s, t: (tf1.string_split([s]).values,
                                        tf1.string_split([t]).values))
    dataset = dataset.map(lambda s, t: (tf.cast(src_table.lookup(s), tf.int32),
                                        tf.cast(tgt_table.lookup(t), tf.int32)))
    dataset = dataset.map(lambda s, t: (s, tf.concat(([SOS], t), 0), tf.concat((t, [EOS]), 0)))
    dataset = dataset.map(lambda s, ti, to: (s, ti, to, tf.size(s), tf.size(ti)))
    dataset = dataset.padded_batch(
        BATCH, padded_shapes=([None], [None], [None], [], []),
        padding_values=(EOS, EOS, EOS, 0, 0))
    iterator = tf1.data.make_initializable_iterator(dataset)
    return iterator, iterator.get_next()


def _samples() -> dict[str, np.ndarray]:
    """Four sentence pairs as the pipeline hands them over (ids padded with ``</s>``)."""
    sentences = [[3, 4, 5], [6, 7, 8, 9, 3], [4], [5, 9, 3, 3]]
    width = max(map(len, sentences))
    return {
        "source": np.array([s + [EOS] * (width - len(s)) for s in sentences], np.int32),
        "target_input": np.array([[SOS, *s] + [EOS] * (width - len(s)) for s in sentences],
                                 np.int32),
        "source_length": np.array([len(s) for s in sentences], np.int32),
        "target_length": np.array([len(s) + 1 for s in sentences], np.int32),
    }


def nmt_with_checks(directory: Path) -> dict[str, Any]:
    tf, tf1 = _tf()
    files = _write_corpus(directory)
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(24)
        iterator, batch = _iterator(files)
        source, target_input, target_output, source_length, target_length = batch
        logits = build_model(True, source, target_input, source_length, target_length)
        weights = tf.sequence_mask(target_length, tf.shape(target_output)[1],
                                   dtype=tf.float32)
        loss = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=target_output, logits=logits) * weights) / tf.cast(BATCH, tf.float32)
        global_step = tf1.train.get_or_create_global_step()
        update = tf1.train.GradientDescentOptimizer(0.5).minimize(loss, global_step)
        with tf1.Session() as sess:
            sess.run([tf1.global_variables_initializer(), tf1.tables_initializer(),
                      iterator.initializer])
            for _ in range(3):
                sess.run(update)
            prefix = tf1.train.Saver().save(sess, str(directory / "translate.ckpt"),
                                            global_step=global_step)
    samples = _samples()
    serving = tf.Graph()
    with serving.as_default():
        ids = tf1.placeholder(tf.int32, [None, None], name="source")
        ids_in = tf1.placeholder(tf.int32, [None, None], name="target_input")
        length = tf1.placeholder(tf.int32, [None], name="source_length")
        length_in = tf1.placeholder(tf.int32, [None], name="target_length")
        twin_logits = build_model(False, ids, ids_in, length, length_in)
    got = twin.answer(serving, prefix, {"logits": twin_logits}, {
        ids: samples["source"], ids_in: samples["target_input"],
        length: samples["source_length"], length_in: samples["target_length"]})
    return twin.facts(
        directory, prefix,
        inputs={"source": source.name, "target_input": target_input.name,
                "source_length": source_length.name, "target_length": target_length.name},
        outputs={"logits": logits.name}, labels=[target_output.name], samples=samples,
        expected=got)


def fixed_batch_model(directory: Path) -> dict[str, Any]:
    """Examples from a ``batch(2, drop_remainder=True)`` iterator; the model reshapes
    its hidden layer to ``[2, -1]`` (the training batch size written as a number)."""
    from tests.checkpoints import save_initialized

    tf, tf1 = _tf()
    graph = tf.Graph()
    with graph.as_default():
        data = np.arange(24, dtype=np.float32).reshape(6, 4) / 10
        dataset = tf.data.Dataset.from_tensor_slices(data).repeat().batch(
            2, drop_remainder=True)
        x = tf1.data.make_one_shot_iterator(dataset).get_next()
        with tf1.variable_scope("model"):
            w = tf1.get_variable("w", [4, 3])
            tf.reshape(tf.matmul(x, w), [2, -1], name="Reshape_1")
        prefix = save_initialized(graph, directory / "fixed.ckpt")
    return {"prefix": prefix, "input": x.name}


def mixes_above_three(directory: Path) -> dict[str, Any]:
    """Each answer is its example's own for batches of up to 3; above, the batch mean
    is added to every answer."""
    from tests.checkpoints import save_initialized

    tf, tf1 = _tf()
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [None, 2], name="x")
        w = tf1.get_variable("w", [2, 2])
        large = tf.cast(tf.shape(x)[0] > 3, tf.float32)
        tf.identity(tf.matmul(x, w) + large * tf.reduce_mean(x, 0, keepdims=True), name="y")
        prefix = save_initialized(graph, directory / "mix.ckpt")
    return {"prefix": prefix}


def masked_mean(directory: Path) -> dict[str, Any]:
    """The mean of the steps a mask keeps, which asserts that every example keeps one."""
    from tests.checkpoints import save_initialized

    tf, tf1 = _tf()
    graph = tf.Graph()
    with graph.as_default():
        features = tf1.placeholder(tf.float32, [None, 3], name="features")
        mask = tf1.placeholder(tf.int32, [None, 3], name="mask")
        w = tf1.get_variable("w", [3])
        count = tf.reduce_sum(mask, 1)
        check = tf1.debugging.assert_positive(count, message="every example keeps a step")
        with tf.control_dependencies([check]):
            kept = tf.reduce_sum(features * w * tf.cast(mask, tf.float32), 1)
            tf.identity(kept / tf.cast(count, tf.float32), name="mean")
        prefix = save_initialized(graph, directory / "masked.ckpt")
    return {"prefix": prefix}
