"""The tail every test checkpoint builder shares: initialize, train a little, save.

Imports TensorFlow only when called, so builders that run in a child process with
TF1 behaviour (`tests.isolated_build`) use it as well as those in the test process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def save_initialized(graph: Any, prefix: Path, *runs: tuple[Any, dict[Any, Any]],
                     global_step: int | None = 1) -> str:
    """Initialize ``graph``'s global variables in a new session, run each
    ``(fetches, feeds)`` in order (training steps), save a Saver checkpoint of every
    variable at ``prefix`` and return its path (``prefix-<global_step>``)."""
    import tensorflow as tf

    tf1 = tf.compat.v1
    with graph.as_default(), tf1.Session(graph=graph) as sess:
        sess.run(tf1.global_variables_initializer())
        for fetches, feeds in runs:
            sess.run(fetches, feeds)
        return tf1.train.Saver().save(sess, str(prefix), global_step=global_step)
