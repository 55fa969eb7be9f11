"""Drag-and-drop payload for tensors, shared by the op tree, graph view and signature editor.

A custom MIME type carries name, dtype and shape as JSON; ``text/plain`` carries
the tensor name so a drop into a text editor pastes ``encode_ids:0``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from PySide6.QtCore import QMimeData

TENSOR_MIME = "application/x-signet-tensor"


@dataclass(frozen=True)
class TensorDrag:
    name: str  # "op:N"
    dtype: str
    shape: str  # as shown, e.g. "[?, 128]"


def tensor_mime(tensors: list[TensorDrag]) -> QMimeData:
    """MIME data for one or more tensors."""
    data = QMimeData()
    payload = [{"name": t.name, "dtype": t.dtype, "shape": t.shape} for t in tensors]
    data.setData(TENSOR_MIME, json.dumps(payload).encode("utf-8"))
    data.setText("\n".join(t.name for t in tensors))
    return data


def tensors_from_mime(data: QMimeData) -> list[TensorDrag]:
    """The tensors a drop carries; empty when it carries none (or garbage)."""
    if not data.hasFormat(TENSOR_MIME):
        return []
    try:
        payload = json.loads(bytes(data.data(TENSOR_MIME)).decode("utf-8"))
        return [TensorDrag(str(p["name"]), str(p["dtype"]), str(p["shape"])) for p in payload]
    except (ValueError, KeyError, TypeError):
        return []
