"""char-rnn, small.

In the style of sherjilozair/char-rnn-tensorflow ``model.py`` and ``train.py``: a
``MultiRNNCell`` of ``LSTMCell``s (``tf.compat.v1.nn.rnn_cell``) each in a
``DropoutWrapper`` while training, unnamed ``input_data``/``targets`` int32
placeholders, the zero ``initial_state`` (fed the previous batch's ``final_state`` in
training), an ``embedding`` lookup with dropout, the input split into time steps and
run through ``legacy_seq2seq.rnn_decoder`` (written out here: contrib is gone) under
``rnnlm``, the output layer ``softmax_w``/``softmax_b`` as a matmul on the flattened
outputs, ``probs = tf.nn.softmax(logits)``, ``sequence_loss_by_example`` (also written
out) averaged into ``cost``, ``tf.clip_by_global_norm`` on ``tf.gradients`` applied by
Adam with a non-trainable ``lr`` variable, summaries, and ``Saver(tf.global_variables())``.

Two departures so that each sequence is servable alone: the batch dimension is open
(the original's placeholders are ``[batch_size, seq_length]``), and the logits are
reshaped back to ``[batch, seq_length, vocab]`` before the softmax (the original keeps
them ``[batch * seq_length, vocab]``); the loss reshapes them flat again, as GPT-2's
does. The twin is the model with ``training=False`` and the same ``seq_length``
(the original's sampling model has ``seq_length`` 1, where its loop function never
runs). Served: ``input_data`` (key by role: ``input_ids``) → ``logits`` and ``probs``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from tests.programs.running import facts, serve_twin

tf1 = tf.compat.v1

VOCAB = 20
RNN_SIZE = 8
NUM_LAYERS = 2
SEQ_LENGTH = 5


def rnn_decoder(decoder_inputs: list[Any], initial_state: Any, cell: Any,
                scope: str) -> tuple[list[Any], Any]:
    with tf1.variable_scope(scope):
        state = initial_state
        outputs = []
        for i, inp in enumerate(decoder_inputs):
            if i > 0:
                tf1.get_variable_scope().reuse_variables()
            output, state = cell(inp, state)
            outputs.append(output)
    return outputs, state


def sequence_loss_by_example(logits: list[Any], targets: list[Any],
                             weights: list[Any]) -> Any:
    with tf.name_scope("sequence_loss_by_example"):
        log_perp_list = [
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=target, logits=logit) * weight
            for logit, target, weight in zip(logits, targets, weights, strict=True)]
        log_perps = tf.add_n(log_perp_list)
        total_size = tf.add_n(weights) + 1e-12
        return log_perps / total_size


class Model:
    def __init__(self, training: bool = True, input_keep_prob: float = 0.9,
                 output_keep_prob: float = 0.8, grad_clip: float = 5.0) -> None:
        cells = []
        for _ in range(NUM_LAYERS):
            cell = tf1.nn.rnn_cell.LSTMCell(RNN_SIZE)
            if training:
                cell = tf1.nn.rnn_cell.DropoutWrapper(cell, input_keep_prob=input_keep_prob,
                                                      output_keep_prob=output_keep_prob)
            cells.append(cell)
        self.cell = cell = tf1.nn.rnn_cell.MultiRNNCell(cells, state_is_tuple=True)
        self.input_data = tf1.placeholder(tf.int32, [None, SEQ_LENGTH])
        self.targets = tf1.placeholder(tf.int32, [None, SEQ_LENGTH])
        batch_size = tf.shape(self.input_data)[0]
        self.initial_state = cell.zero_state(batch_size, tf.float32)
        with tf1.variable_scope("rnnlm"):
            softmax_w = tf1.get_variable("softmax_w", [RNN_SIZE, VOCAB])
            softmax_b = tf1.get_variable("softmax_b", [VOCAB])
        embedding = tf1.get_variable("embedding", [VOCAB, RNN_SIZE])
        inputs = tf.nn.embedding_lookup(embedding, self.input_data)
        if training and output_keep_prob:
            inputs = tf1.nn.dropout(inputs, output_keep_prob)
        inputs = tf.split(inputs, SEQ_LENGTH, 1)
        inputs = [tf.squeeze(input_, [1]) for input_ in inputs]
        outputs, last_state = rnn_decoder(inputs, self.initial_state, cell, scope="rnnlm")
        output = tf.reshape(tf.concat(outputs, 1), [-1, RNN_SIZE])
        flat_logits = tf.matmul(output, softmax_w) + softmax_b
        self.logits = tf.reshape(flat_logits, [-1, SEQ_LENGTH, VOCAB])
        self.probs = tf.nn.softmax(self.logits)
        self.final_state = last_state
        if not training:
            return
        loss = sequence_loss_by_example([tf.reshape(self.logits, [-1, VOCAB])],
                                        [tf.reshape(self.targets, [-1])],
                                        [tf.ones([batch_size * SEQ_LENGTH])])
        with tf.name_scope("cost"):
            self.cost = (tf.reduce_sum(loss) / tf.cast(batch_size, tf.float32)) / SEQ_LENGTH
        self.lr = tf1.Variable(0.0, trainable=False)
        tvars = tf1.trainable_variables()
        grads, _ = tf.clip_by_global_norm(tf.gradients(self.cost, tvars), grad_clip)
        with tf.name_scope("optimizer"):
            optimizer = tf1.train.AdamOptimizer(self.lr)
        self.train_op = optimizer.apply_gradients(zip(grads, tvars, strict=True))
        tf1.summary.histogram("logits", self.logits)
        tf1.summary.histogram("loss", loss)
        tf1.summary.scalar("train_loss", self.cost)


def build(directory: Path) -> dict[str, Any]:
    rng = np.random.default_rng(60)
    text = rng.integers(0, VOCAB, 4 * 4 * SEQ_LENGTH + 1)
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(60)
        model = Model()
        summaries = tf1.summary.merge_all()
        saver = tf1.train.Saver(tf1.global_variables())
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            sess.run(tf1.assign(model.lr, 0.002))
            xs = text[:-1].reshape(4, 4, SEQ_LENGTH)
            ys = text[1:].reshape(4, 4, SEQ_LENGTH)
            state = sess.run(model.initial_state, {model.input_data: xs[0]})
            for x, y in zip(xs, ys, strict=True):
                feed = {model.input_data: x, model.targets: y}
                for i, (c, h) in enumerate(model.initial_state):
                    feed[c] = state[i].c
                    feed[h] = state[i].h
                _, _, state, _ = sess.run([summaries, model.cost, model.final_state,
                                           model.train_op], feed)
            prefix = saver.save(sess, str(directory / "model.ckpt"), global_step=4)
    twin = tf.Graph()
    with twin.as_default():
        served = Model(training=False)
    chars = rng.integers(0, VOCAB, (3, SEQ_LENGTH)).astype(np.int32)
    files = serve_twin(twin, prefix, directory, {"input_ids": (served.input_data, chars)},
                       {"logits": served.logits, "probabilities": served.probs})
    return facts(prefix, files, inputs={"input_ids": model.input_data.name},
                 outputs={"logits": model.logits.name, "probabilities": model.probs.name},
                 labels=[model.targets.name])
