"""Shared pieces of the signature editor and export dialog tests."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from app.ui.common.mime import TensorDrag, tensor_mime

ACTIONS = Qt.DropAction.CopyAction | Qt.DropAction.MoveAction
LEFT, NONE = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier


def tensor_data(graph, *names: str):
    """Tensor MIME data as the op tree makes it (an op name alone is kept as given)."""
    drags = []
    for name in names:
        t = graph.tensor(name if ":" in name else f"{name}:0")
        drags.append(TensorDrag(name, t.dtype if t else "?", t.shape_text if t else "?"))
    return tensor_mime(drags)


def drag_and_drop(view, data, pos: QPoint | None = None) -> dict[str, bool]:
    """Synthesized enter, move and drop on ``view``'s viewport (a real QDrag.exec would block).

    Returns whether each event was accepted and whether the view was highlighted
    while the drag hovered it.
    """
    viewport = view.viewport()
    if pos is None:  # below the last row: append
        pos = QPoint(10, viewport.height() - 4)
    enter = QDragEnterEvent(pos, ACTIONS, data, LEFT, NONE)
    QApplication.sendEvent(viewport, enter)
    move = QDragMoveEvent(pos, ACTIONS, data, LEFT, NONE)
    QApplication.sendEvent(viewport, move)
    highlighted = bool(view.property("dropTarget"))
    drop = QDropEvent(QPointF(pos), ACTIONS, data, LEFT, NONE)
    QApplication.sendEvent(viewport, drop)
    return {"enter": enter.isAccepted(), "move": move.isAccepted(), "drop": drop.isAccepted(),
            "highlighted": highlighted, "still_highlighted": bool(view.property("dropTarget"))}


def slots(editor, side: str) -> list[tuple[str, str]]:
    sig = editor.doc.current_signature()
    return [(s.key, s.tensor) for s in sig.slots(side)]
