"""Small icons drawn with QPainter, one per kind of tree row (no image assets needed)."""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap, QPolygonF

SCOPE, FUNCTIONS, OP, PLACEHOLDER, VARIABLE, TENSOR = (
    "scope", "functions", "op", "placeholder", "variable", "tensor"
)
_SIZE = 32  # drawn large, scaled down smoothly by Qt
_SMALL = 16  # the style's small-icon size, which item views use


def _draw(kind: str, painter: QPainter) -> None:
    s = float(_SIZE)
    painter.setPen(QPen(QColor("#444"), 2))
    if kind == SCOPE:
        path = QPainterPath()
        path.moveTo(3, 9)
        path.lineTo(12, 9)
        path.lineTo(15, 12)
        path.lineTo(s - 3, 12)
        path.lineTo(s - 3, s - 6)
        path.lineTo(3, s - 6)
        path.closeSubpath()
        painter.setBrush(QColor("#e8c55a"))
        painter.drawPath(path)
    elif kind == FUNCTIONS:
        painter.setBrush(QColor("#c7b3e5"))
        painter.drawRoundedRect(QRectF(3, 5, s - 6, s - 10), 5, 5)
        painter.drawText(QRectF(0, 0, s, s), Qt.AlignmentFlag.AlignCenter, "f")
    elif kind == OP:
        painter.setBrush(QColor("#7fa7d9"))
        painter.drawEllipse(QRectF(5, 5, s - 10, s - 10))
    elif kind == PLACEHOLDER:
        painter.setBrush(QColor("#6cc070"))
        painter.drawPolygon(QPolygonF([QPointF(s / 2, 3), QPointF(s - 3, s / 2),
                                       QPointF(s / 2, s - 3), QPointF(3, s / 2)]))
    elif kind == VARIABLE:
        painter.setBrush(QColor("#e08a5a"))
        painter.drawRect(QRectF(6, 6, s - 12, s - 12))
    else:  # TENSOR: an arrow leaving the op
        painter.setBrush(QColor("#999"))
        painter.drawPolygon(QPolygonF([QPointF(6, 9), QPointF(s - 6, s / 2), QPointF(6, s - 9)]))


@cache
def icon(kind: str) -> QIcon:
    """The icon for a row kind (needs a running QGuiApplication)."""
    pixmap = QPixmap(_SIZE, _SIZE)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    _draw(kind, painter)
    painter.end()
    result = QIcon(pixmap)
    # The tree draws icons at the small-icon size (16 px) on every repaint: a pixmap of
    # that size, scaled once here, spares Qt a smooth rescale per painted row.
    result.addPixmap(pixmap.scaled(_SMALL, _SMALL, Qt.AspectRatioMode.IgnoreAspectRatio,
                                   Qt.TransformationMode.SmoothTransformation))
    return result
