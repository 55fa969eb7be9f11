"""Read a ``.meta`` file into a ``MetaGraphDef`` without TensorFlow.

The protos come from `app.core.graph.protos`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.core.errors import CheckpointError, read_checkpoint_file


def read_meta_graph(path: Path) -> Any:
    """Parse ``path`` as a ``MetaGraphDef``; raise `CheckpointError` if it is not one.

    Parsing the protobuf is fast and safe: nothing is imported into a graph and
    no op kernels are needed, so graphs with custom ops can still be shown.
    """
    from google.protobuf.message import DecodeError

    from app.core.graph.protos import MetaGraphDef

    data = read_checkpoint_file(path)
    fix = "copy the .meta file again, or re-save it with saver.export_meta_graph"
    if not data:
        raise CheckpointError(f"{path}: empty meta graph file — {fix}")
    meta = MetaGraphDef()
    try:
        meta.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise CheckpointError(f"{path}: corrupt or truncated meta graph — {fix}") from exc
    if not meta.graph_def.node:
        raise CheckpointError(f"{path}: not a meta graph (it holds no graph ops) — {fix}")
    return meta


def read_saved_model_meta_graphs(path: Path) -> list[Any]:
    """The ``MetaGraphDef``s of a SavedModel's ``saved_model.pb``, without TensorFlow.

    Lets a published export be described (its graph, tags and signatures) as
    cheaply as a checkpoint; raise `CheckpointError` if ``path`` is not one.
    """
    from google.protobuf.message import DecodeError

    from app.core.graph.protos import SavedModel

    data = read_checkpoint_file(path)
    fix = "export the model again (the file is written last, so a complete export has it whole)"
    saved = SavedModel()
    try:
        saved.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise CheckpointError(f"{path}: corrupt or truncated SavedModel — {fix}") from exc
    if not saved.meta_graphs:
        raise CheckpointError(f"{path}: not a SavedModel (it holds no meta graph) — {fix}")
    return list(saved.meta_graphs)
