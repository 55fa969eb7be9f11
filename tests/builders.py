"""Real TF1 checkpoints for the tests, built with TensorFlow's v1 API in graph mode.

Each builder writes a Saver checkpoint into a folder and returns facts the tests
check against (tensor names, steps). Graphs are tiny so a whole session builds
them in seconds.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.core.tf_runtime import tensorflow
from app.demo import build_skip_thoughts


@dataclass
class Built:
    directory: Path
    prefixes: list[Path]  # oldest first
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    @classmethod
    def of(cls, prefixes: list[Path], inputs: list[str], outputs: list[str]) -> Built:
        return cls(prefixes[-1].parent, prefixes, inputs, outputs)

    @property
    def latest(self) -> Path:
        return self.prefixes[-1]


def _v1():
    tf = tensorflow()
    tf1 = tf.compat.v1
    return tf, tf1


def build_cnn(directory: Path) -> Built:
    """A small CNN classifier with dropout (keep_prob with a default) trained with Adam."""
    tf, tf1 = _v1()
    directory.mkdir(parents=True, exist_ok=True)
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(3)
        images = tf1.placeholder(tf.float32, [None, 8, 8, 1], name="images")
        labels = tf1.placeholder(tf.int64, [None], name="labels")
        keep_prob = tf1.placeholder_with_default(1.0, [], name="keep_prob")
        with tf1.variable_scope("conv1"):
            k = tf1.get_variable("kernel", [3, 3, 1, 4])
            b = tf1.get_variable("bias", [4], initializer=tf1.zeros_initializer())
            h = tf.nn.relu(tf.nn.conv2d(images, k, [1, 1, 1, 1], "SAME") + b)
            h = tf.nn.max_pool2d(h, 2, 2, "SAME")
        with tf1.variable_scope("dense"):
            flat = tf.reshape(h, [-1, 4 * 4 * 4])
            flat = tf.nn.dropout(flat, rate=1 - keep_prob)
            w = tf1.get_variable("kernel", [64, 3])
            b2 = tf1.get_variable("bias", [3], initializer=tf1.zeros_initializer())
            logits = tf.nn.bias_add(tf.matmul(flat, w), b2, name="logits")
        tf.nn.softmax(logits, name="probabilities")
        tf.argmax(logits, axis=1, name="classes")
        loss = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits),
            name="loss",
        )
        step = tf1.train.get_or_create_global_step()
        train = tf1.train.AdamOptimizer(0.01).minimize(loss, global_step=step)
        saver = tf1.train.Saver()
        rng = np.random.default_rng(1)
        with tf1.Session(graph=graph) as sess:
            sess.run(tf1.global_variables_initializer())
            for _ in range(3):
                sess.run(train, {images: rng.normal(size=(5, 8, 8, 1)),
                                 labels: rng.integers(0, 3, 5)})
            prefix = Path(saver.save(sess, str(directory / "cnn.ckpt"), global_step=step))
    return Built(directory, [prefix], inputs=["images:0"],
                 outputs=["probabilities:0", "dense/logits:0", "classes:0"])


def build_vocab_table(directory: Path) -> Built:
    """Words -> ids through a StaticHashTable over a vocabulary file, then an embedding."""
    tf, tf1 = _v1()
    directory.mkdir(parents=True, exist_ok=True)
    vocab_file = directory / "vocab.txt"
    words = ["<unk>", "the", "cat", "sat", "on", "mat"]
    vocab_file.write_text("\n".join(words) + "\n", encoding="utf-8")
    graph = tf.Graph()
    with graph.as_default():
        tokens = tf1.placeholder(tf.string, [None], name="tokens")
        initializer = tf.lookup.TextFileInitializer(
            str(vocab_file), tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
            tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER)
        table = tf.lookup.StaticHashTable(initializer, default_value=0)
        ids = tf.identity(table.lookup(tokens), name="token_ids")
        emb = tf1.get_variable("embedding", [len(words), 4])
        tf.identity(tf.nn.embedding_lookup(emb, ids), name="embedded")
        saver = tf1.train.Saver()
        with tf1.Session(graph=graph) as sess:
            sess.run([tf1.global_variables_initializer(), tf1.tables_initializer()])
            prefix = Path(saver.save(sess, str(directory / "vocab.ckpt"), global_step=1))
    return Built(directory, [prefix], inputs=["tokens:0"],
                 outputs=["embedded:0", "token_ids:0"],
                 extra={"vocab_file": vocab_file, "words": words})


def build_gpu_pinned(directory: Path) -> Built:
    """A graph whose ops are pinned to /device:GPU:0, saved with soft placement on a CPU."""
    tf, tf1 = _v1()
    directory.mkdir(parents=True, exist_ok=True)
    graph = tf.Graph()
    with graph.as_default(), tf.device("/device:GPU:0"):
        x = tf1.placeholder(tf.float32, [None, 3], name="x")
        w = tf1.get_variable("w", [3, 2])
        tf.nn.relu(tf.matmul(x, w), name="y")
        saver = tf1.train.Saver()
    config = tf1.ConfigProto(allow_soft_placement=True)
    with tf1.Session(graph=graph, config=config) as sess:
        sess.run(tf1.variables_initializer(graph.get_collection("variables")))
        prefix = Path(saver.save(sess, str(directory / "gpu.ckpt"), global_step=5))
    return Built(directory, [prefix], inputs=["x:0"], outputs=["y:0"])


def copy_with_foreign_state(source: Built, directory: Path) -> Built:
    """Copy a checkpoint and write a state file with absolute paths from another machine."""
    directory.mkdir(parents=True, exist_ok=True)
    prefixes = []
    for prefix in source.prefixes:
        for file in prefix.parent.glob(prefix.name + ".*"):
            shutil.copy2(file, directory / file.name)
        prefixes.append(directory / prefix.name)
    foreign = "/home/someone/runs/skip_thoughts"
    lines = [f'model_checkpoint_path: "{foreign}/{prefixes[-1].name}"']
    lines += [f'all_model_checkpoint_paths: "{foreign}/{p.name}"' for p in prefixes]
    (directory / "checkpoint").write_text("\n".join(lines) + "\n")
    return Built(directory, prefixes, source.inputs, source.outputs)


def skip_thoughts(directory: Path) -> Built:
    from app.demo import DEMO_INPUTS, DEMO_OUTPUTS

    return Built.of(build_skip_thoughts(directory), DEMO_INPUTS, DEMO_OUTPUTS)


def checkpoint_outputs(prefix: Path, feeds: dict, fetches: list[str] | str) -> list[np.ndarray]:
    """What the checkpoint itself computes: import the meta graph, restore, run (the plain
    TensorFlow recipe the exports are compared with)."""
    tf, tf1 = _v1()
    graph = tf.Graph()
    with graph.as_default():
        saver = tf1.train.import_meta_graph(str(prefix) + ".meta", clear_devices=True)
        with tf1.Session(graph=graph) as sess:
            saver.restore(sess, str(prefix))
            sess.run(tf1.tables_initializer())
            return sess.run(fetches, feeds)
