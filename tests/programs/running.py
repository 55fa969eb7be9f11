"""What every corpus program does around its own model code.

Each program trains in its own way (feeds, a ``tf.data`` iterator, queue runners) and
saves with its own Saver; what they share is the tail the corpus contract asks for:
restore the inference twin from the checkpoint without initializing anything, run it on
a sample batch, write ``samples.npz`` / ``expected.npz``, and return the facts
(`tests.program_checks`). Like the programs, this runs only in the child process
`tests.isolated_build` starts with TF1 behaviour.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

tf1 = tf.compat.v1


@contextlib.contextmanager
def queue_runners(sess: Any, closing: tuple[Any, ...] = ()) -> Iterator[None]:
    """Start the graph's queue runners for the block, then stop and join them, as
    the TF1 programs did with a ``tf.train.Coordinator``. ``closing``: close ops of
    queues no runner owns (a queue fed by the program itself), which a runner may be
    blocked reading from when the block ends."""
    coord = tf1.train.Coordinator()
    threads = tf1.train.start_queue_runners(sess=sess, coord=coord)
    try:
        yield
    finally:
        # Each runner closes its queue when asked to stop, which wakes a blocked enqueue.
        coord.request_stop()
        sess.run(list(closing))
        coord.join(threads, stop_grace_period_secs=10)


def serve_twin(graph: Any, prefix: str, directory: Path,
               feeds: dict[str, tuple[Any, np.ndarray]],
               fetches: dict[str, Any], bound: dict[Any, Any] | None = None
               ) -> tuple[str, str]:
    """Restore ``graph`` (the inference twin) from ``prefix`` with a Saver over the
    twin's own variables and no initializer, run ``fetches`` on ``feeds``
    (``key -> (placeholder, array)``) plus ``bound`` (where a twin keeps the program's
    switch placeholders, their inference values) and write ``samples.npz`` (input key
    -> array) and ``expected.npz`` (output key -> answer) into ``directory``."""
    with graph.as_default(), tf1.Session(graph=graph) as sess:
        tf1.train.Saver(tf1.global_variables()).restore(sess, prefix)
        missing = sess.run(tf1.report_uninitialized_variables())
        assert not len(missing), f"the twin has variables the checkpoint lacks: {missing}"
        if tf1.get_collection(tf1.GraphKeys.TABLE_INITIALIZERS):
            sess.run(tf1.tables_initializer())
        answers = sess.run(fetches, {**{tensor: value for tensor, value in feeds.values()},
                                     **(bound or {})})
    samples = directory / "samples.npz"
    expected = directory / "expected.npz"
    np.savez(samples, **{key: value for key, (_, value) in feeds.items()})
    np.savez(expected, **answers)
    return str(samples), str(expected)


def facts(prefix: str, twin: tuple[str, str], *, inputs: dict[str, str],
          outputs: dict[str, str], labels: list[str] | tuple[str, ...] = (),
          switches: dict[str, Any] | None = None,
          notes: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """The facts `tests.program_checks` reads, in the training graph's tensor names."""
    samples, expected = twin
    return {"prefix": prefix, "inputs": inputs, "outputs": outputs, "labels": list(labels),
            "switches": dict(switches or {}), "notes": list(notes),
            "samples": samples, "expected": expected}
