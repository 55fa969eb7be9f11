"""What every held-out builder does after training: restore the inference twin from the
checkpoint and write the facts, the sample batch and the twin's answers on it.

Imports TensorFlow only when called (the builders run in a TF1-behaviour child process).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def answer(graph: Any, prefix: str, fetches: dict[str, Any],
           feeds: dict[Any, np.ndarray]) -> dict[str, np.ndarray]:
    """Restore ``graph``'s global variables from ``prefix`` with a Saver over exactly
    those variables (no initializer runs, so a variable the checkpoint lacks fails
    here instead of answering with its initial value) and run ``fetches``."""
    import tensorflow as tf

    tf1 = tf.compat.v1
    with graph.as_default(), tf1.Session(graph=graph) as sess:
        tf1.train.Saver(tf1.global_variables()).restore(sess, prefix)
        return sess.run(fetches, feeds)


def facts(directory: Path, prefix: str, *, inputs: dict[str, str], outputs: dict[str, str],
          labels: list[str], samples: dict[str, np.ndarray],
          expected: dict[str, np.ndarray], switches: dict[str, Any] | None = None,
          notes: tuple[str, ...] = ()) -> dict[str, Any]:
    """Write ``samples.npz`` and ``expected.npz`` into ``directory`` and return the
    JSON-able facts `tests.program_checks` documents."""
    assert set(samples) == set(inputs) and set(expected) == set(outputs)
    np.savez(directory / "samples.npz", **samples)
    np.savez(directory / "expected.npz", **expected)
    return {"prefix": prefix, "inputs": inputs, "outputs": outputs, "labels": labels,
            "switches": switches or {}, "notes": list(notes),
            "samples": str(directory / "samples.npz"),
            "expected": str(directory / "expected.npz")}


def int_feature(values: Any) -> Any:
    import tensorflow as tf

    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))


def bytes_feature(value: bytes) -> Any:
    import tensorflow as tf

    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def write_records(path: Path, examples: list[dict[str, Any]]) -> Path:
    """A TFRecord file of ``tf.train.Example``s, one per ``{key: Feature}`` dict."""
    import tensorflow as tf

    with tf.io.TFRecordWriter(str(path)) as writer:
        for feature in examples:
            example = tf.train.Example(features=tf.train.Features(feature=feature))
            writer.write(example.SerializeToString())
    return path
