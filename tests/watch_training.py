"""A TF1 training job for the `signet watch` tests, run as its own process.

It trains a small linear model in TF1 style (ref variables, a Saver, a global
step), saves a checkpoint every ``--every`` steps and then writes that step's eval
``loss`` into ``MODEL_DIR/eval`` with a ``tf.compat.v1.summary.FileWriter``, as
Estimator's evaluator did. The eval values are given on the command line
(``--losses``) so a test knows exactly which steps beat which. ``--gate FILE`` makes
the job stop after ``--gate-after`` checkpoints until FILE exists, so a test can act
(kill a watch) at a known point of the run. ``--wide`` adds an input, which
breaks the signature of a model exported without it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def train(model_dir: Path, losses: list[float], every: int, pause: float,
          gate: Path | None, gate_after: int, wide: bool) -> None:
    import numpy as np
    import tensorflow as tf

    tf1 = tf.compat.v1
    tf1.disable_v2_behavior()
    graph = tf1.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [None, 3], name="x")
        target = tf1.placeholder(tf.float32, [None, 1], name="target")
        w = tf1.get_variable("w", [3, 1], initializer=tf1.zeros_initializer())
        b = tf1.get_variable("b", [1], initializer=tf1.zeros_initializer())
        pred = tf1.add(tf1.matmul(x, w), b, name="pred")
        if wide:
            extra = tf1.placeholder(tf.float32, [None, 1], name="extra")
            pred = tf1.add(pred, extra, name="pred_wide")
        step = tf1.train.get_or_create_global_step()
        loss = tf1.reduce_mean(tf1.square(pred - target))
        train_op = tf1.train.GradientDescentOptimizer(0.1).minimize(loss, global_step=step)
        saver = tf1.train.Saver(max_to_keep=None)
        feed = {x: np.ones((4, 3), np.float32), target: np.ones((4, 1), np.float32)}
        if wide:
            feed[extra] = np.zeros((4, 1), np.float32)
    writer = tf1.summary.FileWriter(str(model_dir / "eval"))
    with tf1.Session(graph=graph) as sess:
        sess.run(tf1.global_variables_initializer())
        for index, value in enumerate(losses):
            for _ in range(every):
                sess.run(train_op, feed)
            saver.save(sess, str(model_dir / "model.ckpt"), global_step=step)
            done = int(sess.run(step))
            summary = tf1.Summary(value=[tf1.Summary.Value(tag="loss", simple_value=value)])
            writer.add_summary(summary, done)
            writer.flush()
            print(f"step {done} loss {value}", flush=True)
            if gate is not None and index + 1 == gate_after:
                while not gate.exists():
                    time.sleep(0.05)
            time.sleep(pause)
    writer.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--losses", type=float, nargs="+", required=True)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--pause", type=float, default=0.0)
    parser.add_argument("--gate", type=Path)
    parser.add_argument("--gate-after", type=int, default=0)
    parser.add_argument("--wide", action="store_true")
    args = parser.parse_args()
    args.model_dir.mkdir(parents=True, exist_ok=True)
    train(args.model_dir, args.losses, args.every, args.pause, args.gate, args.gate_after,
          args.wide)


if __name__ == "__main__":
    main()
