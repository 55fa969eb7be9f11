"""The bundled demo: a tiny skip-thoughts-style sentence encoder trained with Adam.

`resources/demo/make_demo.py` calls `build_skip_thoughts` to regenerate the
checkpoint in ``app/data/demo/skip_thoughts`` (package data, so a wheel carries it); the
tests build the same graph.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.core.tf_runtime import tensorflow
from app.resources import resource_path

DEMO_INPUTS = ["encode_ids:0", "encode_mask:0"]
DEMO_OUTPUTS = ["encoder/thought_vectors:0", "encoder_out/thought_vectors:0"]


def demo_checkpoint() -> Path:
    """The bundled demo checkpoint folder."""
    return resource_path("demo", "skip_thoughts")


def _gru_scan(tf, tf1, embedded, mask, hidden: int, scope: str):
    """A GRU over time with `tf.scan` and `get_variable` (no Keras needed)."""
    with tf1.variable_scope(scope):
        dim = embedded.shape[-1]
        w = tf1.get_variable("gates/kernel", [dim + hidden, 2 * hidden])
        b = tf1.get_variable("gates/bias", [2 * hidden], initializer=tf1.ones_initializer())
        wc = tf1.get_variable("candidate/kernel", [dim + hidden, hidden])
        bc = tf1.get_variable("candidate/bias", [hidden], initializer=tf1.zeros_initializer())
        batch = tf.shape(embedded)[0]
        h0 = tf.zeros(tf.stack([batch, hidden]))
        xs = tf.transpose(embedded, [1, 0, 2])
        ms = tf.transpose(tf.cast(mask, tf.float32), [1, 0])

        def step(h, inp):
            x, m = inp
            gates = tf.sigmoid(tf.matmul(tf.concat([x, h], 1), w) + b)
            r, u = tf.split(gates, 2, axis=1)
            c = tf.tanh(tf.matmul(tf.concat([x, r * h], 1), wc) + bc)
            new = u * h + (1 - u) * c
            m = tf.expand_dims(m, 1)
            return m * new + (1 - m) * h

        states = tf.scan(step, (xs, ms), initializer=h0)
        return states[-1]


def build_skip_thoughts(directory: Path, steps: tuple[int, ...] = (3, 6), vocab: int = 40,
                        dim: int = 8, hidden: int = 16) -> list[Path]:
    """A sentence encoder in the style of skip-thoughts, trained with Adam, saved at each step.

    Returns the checkpoint prefixes, oldest first. Inputs are `DEMO_INPUTS`, the
    served outputs `DEMO_OUTPUTS`; the decoder and loss are training machinery.
    """
    tf = tensorflow()
    tf1 = tf.compat.v1
    directory.mkdir(parents=True, exist_ok=True)
    graph = tf.Graph()
    prefixes = []
    with graph.as_default():
        tf1.set_random_seed(7)
        encode_ids = tf1.placeholder(tf.int64, [None, None], name="encode_ids")
        encode_mask = tf1.placeholder(tf.int8, [None, None], name="encode_mask")
        decode_ids = tf1.placeholder(tf.int64, [None, None], name="decode_post_ids")
        decode_mask = tf1.placeholder(tf.int8, [None, None], name="decode_post_mask")
        embeddings = tf1.get_variable("word_embedding", [vocab, dim])
        encoded = tf.nn.embedding_lookup(embeddings, encode_ids)
        final = _gru_scan(tf, tf1, encoded, encode_mask, hidden, "encoder/gru")
        thought = tf.identity(final, name="encoder/thought_vectors")
        with tf1.variable_scope("encoder_out"):
            tf.identity(tf.nn.l2_normalize(thought, axis=1), name="thought_vectors")
        with tf1.variable_scope("decoder"):
            dec_in = tf.nn.embedding_lookup(embeddings, decode_ids)
            proj = tf1.get_variable("init_proj", [hidden, hidden])
            start = tf.matmul(thought, proj)
            steps_out = tf.tanh(dec_in[:, :, :1] * 0.0 + tf.expand_dims(start, 1)[:, :, :1])
            flat = tf.reshape(tf.tile(tf.expand_dims(start, 1), [1, tf.shape(dec_in)[1], 1]),
                              [-1, hidden]) + tf.reduce_mean(steps_out)
            softmax_w = tf1.get_variable("softmax_w", [hidden, vocab])
            logits = tf.matmul(flat, softmax_w, name="logits")
        with tf1.variable_scope("loss"):
            targets = tf.reshape(decode_ids, [-1])
            weights = tf.cast(tf.reshape(decode_mask, [-1]), tf.float32)
            xent = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits)
            loss = tf.reduce_sum(xent * weights) / (tf.reduce_sum(weights) + 1e-6)
        global_step = tf1.train.get_or_create_global_step()
        train = tf1.train.AdamOptimizer(0.05).minimize(loss, global_step=global_step)
        tf1.summary.scalar("loss", loss)
        saver = tf1.train.Saver(max_to_keep=5, save_relative_paths=True)
        rng = np.random.default_rng(0)
        with tf1.Session(graph=graph) as sess:
            sess.run(tf1.global_variables_initializer())
            done = 0
            for target in steps:
                while done < target:
                    feed = {
                        encode_ids: rng.integers(0, vocab, (4, 5)),
                        encode_mask: np.ones((4, 5), np.int8),
                        decode_ids: rng.integers(0, vocab, (4, 5)),
                        decode_mask: np.ones((4, 5), np.int8),
                    }
                    sess.run(train, feed)
                    done += 1
                prefixes.append(Path(saver.save(sess, str(directory / "model.ckpt"),
                                                global_step=target)))
    return prefixes
