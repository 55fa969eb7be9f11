"""The child-process builder really gives TF1-behaviour graphs."""

from __future__ import annotations

from pathlib import Path

from app.core.loader import load_checkpoint
from tests.checkpoints import save_initialized
from tests.isolated_build import build


def tf1_loop(directory: Path) -> dict:
    """A ref variable read inside a v1 while loop, saved with a Saver."""
    import tensorflow as tf

    tf1 = tf.compat.v1
    x = tf1.placeholder(tf.float32, [None, 2], name="x")
    w = tf1.get_variable("w", [2, 2])
    _, y = tf.while_loop(lambda i, _: i < 3, lambda i, h: (i + 1, tf.matmul(h, w)),
                         [tf.constant(0), x])
    tf.identity(y, name="y")
    prefix = save_initialized(tf1.get_default_graph(), directory / "loop.ckpt")
    return {"prefix": prefix, "executing_eagerly": tf.executing_eagerly()}


def test_v1_builder_writes_ref_variables_and_v1_loops(tmp_path):
    result = build("tests.test_isolated_build:tf1_loop", tmp_path / "loop")
    assert result["executing_eagerly"] is False
    graph = load_checkpoint(result["prefix"]).graph
    types = {op.type for op in graph.ops.values()}
    assert {"VariableV2", "Enter", "Exit", "Merge", "Switch", "NextIteration"} <= types
    assert "While" not in types and "VarHandleOp" not in types
