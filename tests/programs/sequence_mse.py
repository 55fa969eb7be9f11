"""A time-major sequence encoder trained toward a constant, with leftovers in its graph.

The issue's case, in the style of the time-major encoders of tensorflow/nmt
``nmt/model.py`` (``_build_encoder`` transposes the batch to ``[time, batch]``, runs
``tf.nn.bidirectional_dynamic_rnn`` and a further ``dynamic_rnn`` layer with
``time_major=True`` on the sequence lengths) and the quick experiments built on them: the
encoder's output is transposed back to batch-major as ``out`` and trained with
``tf.reduce_mean(tf.square(out - 1.0))`` by Adam; a ``Cast`` of the lengths and a second
``transpose`` of the time-major output were left in the graph and nothing reads them.

Served: ``inputs`` and ``seq_len`` → ``out`` (an auto-named ``transpose``, key by role:
``predictions``), not the leftovers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from tests.programs.running import facts, serve_twin

tf1 = tf.compat.v1

FEATURES = 3
UNITS = 4


def encoder(inputs: Any, seq_len: Any) -> tuple[Any, Any]:
    """The batch-major output and the time-major one it was transposed from."""
    time_major = tf.transpose(inputs, [1, 0, 2])
    with tf1.variable_scope("encoder"):
        (fw, bw), _ = tf1.nn.bidirectional_dynamic_rnn(
            tf1.nn.rnn_cell.LSTMCell(UNITS), tf1.nn.rnn_cell.LSTMCell(UNITS), time_major,
            sequence_length=seq_len, dtype=tf.float32, time_major=True, scope="bi")
        outputs, _ = tf1.nn.dynamic_rnn(tf1.nn.rnn_cell.GRUCell(UNITS),
                                        tf.concat([fw, bw], -1), sequence_length=seq_len,
                                        dtype=tf.float32, time_major=True, scope="top")
    return tf.transpose(outputs, [1, 0, 2]), outputs


def build(directory: Path) -> dict[str, Any]:
    rng = np.random.default_rng(120)
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(120)
        inputs = tf1.placeholder(tf.float32, [None, None, FEATURES], name="inputs")
        seq_len = tf1.placeholder(tf.int32, [None], name="seq_len")
        out, outputs_tm = encoder(inputs, seq_len)
        tf.cast(seq_len, tf.float32)
        tf.transpose(outputs_tm)
        loss = tf.reduce_mean(tf.square(out - 1.0))
        train_op = tf1.train.AdamOptimizer(0.01).minimize(loss)
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            for _ in range(5):
                sess.run(train_op, {inputs: rng.normal(size=(4, 6, FEATURES)),
                                    seq_len: rng.integers(1, 7, 4)})
            prefix = tf1.train.Saver().save(sess, str(directory / "model.ckpt"))
    twin = tf.Graph()
    with twin.as_default():
        served = (tf1.placeholder(tf.float32, [None, None, FEATURES]),
                  tf1.placeholder(tf.int32, [None]))
        twin_out, _ = encoder(*served)
    batch = rng.normal(size=(3, 5, FEATURES)).astype(np.float32)
    lengths = np.array([5, 2, 4], np.int32)
    files = serve_twin(twin, prefix, directory,
                       {"inputs": (served[0], batch), "seq_len": (served[1], lengths)},
                       {"predictions": twin_out})
    return facts(prefix, files, inputs={"inputs": inputs.name, "seq_len": seq_len.name},
                 outputs={"predictions": out.name})
