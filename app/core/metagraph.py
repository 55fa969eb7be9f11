"""Read a ``.meta`` file into TensorFlow's ``MetaGraphDef`` protobuf, without a session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.core.errors import CheckpointError, read_checkpoint_file


def read_meta_graph(path: Path) -> Any:
    """Parse ``path`` as a ``MetaGraphDef``; raise `CheckpointError` if it is not one.

    Parsing the protobuf is fast and safe: nothing is imported into a graph and
    no op kernels are needed, so graphs with custom ops can still be shown.
    """
    from app.core.tf_runtime import tensorflow

    tensorflow()
    from google.protobuf.message import DecodeError
    from tensorflow.core.protobuf import meta_graph_pb2

    data = read_checkpoint_file(path)
    fix = "copy the .meta file again, or re-save it with saver.export_meta_graph"
    if not data:
        raise CheckpointError(f"{path}: empty meta graph file — {fix}")
    meta = meta_graph_pb2.MetaGraphDef()
    try:
        meta.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise CheckpointError(f"{path}: corrupt or truncated meta graph — {fix}") from exc
    if not meta.graph_def.node:
        raise CheckpointError(f"{path}: not a meta graph (it holds no graph ops) — {fix}")
    return meta
