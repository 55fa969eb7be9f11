"""Graphics items of the graph view: ops, scope boxes and aggregated edges.

Items paint from the plain layout data (`app.core.graph.layout`). Node items use
``DeviceCoordinateCache``; every item drops its text when the view is zoomed far
out (level of detail), as in Qt's chip example. Labels are drawn with
``drawText`` so an SVG export keeps them as real text.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPainterPathStroker,
    QPen,
)
from PySide6.QtWidgets import QGraphicsItem, QStyle, QStyleOptionGraphicsItem, QWidget

from app.core.graph.graph_view_model import Edge, Node
from app.core.graph.layout import HEADER, Box, count_text
from app.core.graph.opgraph import Op

LABEL_PIXELS = 11  # label font size in scene units (pixels at zoom 1)
LABEL_LOD = 0.45  # below this zoom (device pixels per scene unit) no text is drawn
NODE_ROLE = 0  # QGraphicsItem.data key holding the node id

_FILL = {
    "placeholder": QColor("#d9f0d3"),
    "variable": QColor("#fde7c8"),
    "constant": QColor("#eeeeee"),
    "op": QColor("#ffffff"),
    "scope": QColor("#dde8f6"),
    "series": QColor("#e4ddf4"),
}
_BORDER = {
    "placeholder": QColor("#3c8d2f"),
    "variable": QColor("#b7791f"),
    "constant": QColor("#9a9a9a"),
    "op": QColor("#5f6b7a"),
    "scope": QColor("#4a6fa5"),
    "series": QColor("#6a53a8"),
}
HIGHLIGHT = {"input": QColor("#1b9e3e"), "output": QColor("#d9480f"),
             "rewritten": QColor("#7048e8")}
SELECTED = QColor("#1c7ed6")
TEXT = QColor("#1f2933")


def label_font() -> QFont:
    font = QFont()
    font.setPixelSize(LABEL_PIXELS)  # matches app.core.graph.layout.CHAR_WIDTH on common UI fonts
    return font


def _lod(option: QStyleOptionGraphicsItem, painter: QPainter) -> float:
    return option.levelOfDetailFromTransform(painter.worldTransform())


def _labels_shown(option: QStyleOptionGraphicsItem, painter: QPainter,
                  colour: QColor = TEXT) -> bool:
    """Set the label font and ``colour`` unless zoomed too far out for text (False then:
    the item draws no text)."""
    if _lod(option, painter) < LABEL_LOD:
        return False
    painter.setFont(label_font())
    painter.setPen(colour)
    return True


def _draw_elided(painter: QPainter, rect: QRectF, text: str,
                 elide: Qt.TextElideMode = Qt.TextElideMode.ElideMiddle,
                 align: Qt.AlignmentFlag = Qt.AlignmentFlag.AlignCenter) -> None:
    """``text`` in ``rect``, shortened with an ellipsis to fit its width."""
    painter.drawText(rect, align,
                     QFontMetricsF(painter.font()).elidedText(text, elide, rect.width()))


class _BoxItem(QGraphicsItem):
    """What an op box and a scope frame share: placed at the node's layout box, keyed by
    its id (`NODE_ROLE`), cached as device pixels."""

    def __init__(self, node: Node, box: Box, z: float) -> None:
        super().__init__()
        self.node = node
        x, y, w, h = box
        self.setPos(x, y)
        self._rect = QRectF(0, 0, w, h)
        self.setData(NODE_ROLE, node.id)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setZValue(z)


class NodeItem(_BoxItem):
    """An op, or a collapsed scope with its op count; selectable, with a tooltip."""

    def __init__(self, node: Node, box: Box, op: Op | None = None,
                 highlight: str | None = None, fanout: int = 0,
                 fanout_colour: QColor | None = None) -> None:
        super().__init__(node, box, 10)
        self.op = op
        self.highlight = highlight
        self.fanout = fanout  # nodes this source feeds, drawn as markers instead of lines
        self.fanout_colour = fanout_colour or FANOUT_COLOURS[0]
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setToolTip(self._tooltip())

    def set_highlight(self, highlight: str | None) -> None:
        self.highlight = highlight
        self.setToolTip(self._tooltip())
        self.update()

    def _tooltip(self) -> str:
        feeds = (f"\nFeeds {self.fanout} nodes (each has a marker of this colour)"
                 if self.fanout else "")
        if self.node.is_series:
            return (f"{self.node.label}: a series of alike scopes — "
                    f"{count_text(self.node.op_count)}\nDouble-click to expand{feeds}")
        if self.node.is_scope:
            return (f"{self.node.id} — {count_text(self.node.op_count)}\n"
                    f"Double-click to expand{feeds}")
        op = self.op
        if op is None:
            return self.node.id
        lines = [op.name, f"type {op.type}" + (f"  on {op.device}" if op.device else "")]
        lines += [f"{t.name}  {t.dtype} {t.shape_text}" for t in op.outputs[:8]]
        if len(op.outputs) > 8:
            lines.append(f"… {len(op.outputs) - 8} more outputs")
        if self.highlight == "rewritten":
            lines.append("rewritten for serving (Training → serving)")
        elif self.highlight:
            lines.append(f"proposed serving {self.highlight}")
        return "\n".join(lines) + feeds

    def boundingRect(self) -> QRectF:
        bounds = self._rect.adjusted(-2, -2, 2, 2 + (FANOUT_STUB if self.fanout else 0))
        if self.fanout:  # the "feeds N" text beside the marker (the cache clips to this)
            right = self._rect.center().x() + FANOUT_TEXT_LEFT + FANOUT_TEXT_WIDTH
            bounds.setRight(max(bounds.right(), right))
        return bounds

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRect(self._rect)
        return path

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        kind = self.node.kind
        rect = self._rect.adjusted(1, 1, -1, -1)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        border = SELECTED if selected else HIGHLIGHT.get(self.highlight or "", _BORDER[kind])
        width = 2.5 if selected or self.highlight else 1.2
        painter.setPen(QPen(border, width))
        painter.setBrush(QBrush(_FILL[kind]))
        radius = rect.height() / 2 if kind == "placeholder" else 5.0
        if self.node.is_series:  # a stack of boxes: several alike scopes behind one
            painter.drawRoundedRect(rect.adjusted(5, 0, 0, -5), radius, radius)
            rect = rect.adjusted(0, 5, -5, 0)
        painter.drawRoundedRect(rect, radius, radius)
        if self.fanout:
            self._paint_fanout(painter, option)
        if kind == "variable":  # a double border, like a stored value
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(rect.adjusted(3, 3, -3, -3), 3, 3)
        if not _labels_shown(option, painter):
            return
        text_rect = rect.adjusted(8, 2, -8, -2)
        if self.node.is_scope:
            top = QRectF(text_rect.x(), text_rect.y() + 2, text_rect.width(),
                         text_rect.height() / 2)
            bottom = top.translated(0, text_rect.height() / 2 - 2)
            _draw_elided(painter, top, self.node.label)
            painter.setPen(_BORDER[kind])
            painter.drawText(bottom, Qt.AlignmentFlag.AlignCenter,
                             count_text(self.node.op_count))
        else:
            _draw_elided(painter, text_rect, self.node.label)

    def _paint_fanout(self, painter: QPainter, option: QStyleOptionGraphicsItem) -> None:
        """A short stub under the source ending in its marker, with the count."""
        centre = QPointF(self._rect.center().x(), self._rect.bottom() + FANOUT_STUB - 6)
        painter.save()
        painter.setPen(QPen(self.fanout_colour, 1.6))
        painter.drawLine(QPointF(centre.x(), self._rect.bottom()), centre)
        painter.setBrush(self.fanout_colour)
        painter.drawEllipse(centre, MARKER_RADIUS, MARKER_RADIUS)
        if _labels_shown(option, painter, self.fanout_colour):
            painter.drawText(QRectF(centre.x() + FANOUT_TEXT_LEFT, centre.y() - 8,
                                    FANOUT_TEXT_WIDTH, 16),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             f"feeds {self.fanout}")
        painter.restore()


FANOUT_STUB = 22.0  # length of a fan-out source's stub below its box
FANOUT_TEXT_LEFT = 9.0  # the "feeds N" text, right of the stub's marker
FANOUT_TEXT_WIDTH = 120.0
MARKER_RADIUS = 5.0
FANOUT_COLOURS = [QColor("#c2255c"), QColor("#2b8a3e"), QColor("#e67700"), QColor("#1864ab"),
                  QColor("#5f3dc4")]


class FanoutMarkerItem(QGraphicsItem):
    """On a node fed by fan-out sources: one dot per source, in the source's colour."""

    def __init__(self, box: Box, sources: list[tuple[str, QColor]]) -> None:
        super().__init__()
        self.sources = sources
        x, y, _w, _h = box
        self.setPos(x + 10, y)
        self._rect = QRectF(-MARKER_RADIUS - 1, -MARKER_RADIUS - 1,
                            len(sources) * 2 * (MARKER_RADIUS + 2) + 2, 2 * MARKER_RADIUS + 2)
        self.setZValue(12)
        self.setToolTip("Fed by " + ", ".join(name for name, _ in sources)
                        + " (drawn once, not as a line to every node)")

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        for i, (_name, colour) in enumerate(self.sources):
            painter.setPen(QPen(QColor("#ffffff"), 1.2))
            painter.setBrush(colour)
            painter.drawEllipse(QPointF(i * 2 * (MARKER_RADIUS + 2), 0), MARKER_RADIUS,
                                MARKER_RADIUS)


class ScopeBoxItem(_BoxItem):
    """An expanded scope: a frame with a title strip around its laid-out contents."""

    def __init__(self, node: Node, box: Box, depth: int) -> None:
        super().__init__(node, box, depth)
        name = f"{node.id[:-1]} series" if node.is_series else node.id
        self.setToolTip(f"{name} — {count_text(node.op_count)}\nDouble-click to collapse")

    def boundingRect(self) -> QRectF:
        return self._rect.adjusted(-1, -1, 1, 1)

    def shape(self) -> QPainterPath:
        """Only the title strip takes clicks, so items inside stay reachable."""
        path = QPainterPath()
        path.addRect(QRectF(0, 0, self._rect.width(), HEADER))
        return path

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        shade = QColor(_FILL[self.node.kind])
        shade.setAlpha(90)
        painter.setPen(QPen(_BORDER[self.node.kind], 1.2))
        painter.setBrush(shade)
        painter.drawRoundedRect(self._rect.adjusted(0.5, 0.5, -0.5, -0.5), 8, 8)
        if not _labels_shown(option, painter):
            return
        header = QRectF(10, 0, self._rect.width() - 20, HEADER)
        _draw_elided(painter, header, f"▾ {self.node.label}  ·  "
                     f"{count_text(self.node.op_count)}", Qt.TextElideMode.ElideRight,
                     Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft)


class EdgeItem(QGraphicsItem):
    """An aggregated edge: thicker with more op edges, dashed for control, count on it."""

    def __init__(self, edge: Edge, src: Box, dst: Box, offset: float = 0.0) -> None:
        super().__init__()
        self.edge = edge
        sx, sy, sw, sh = src
        dx, dy, dw, _dh = dst
        start = QPointF(sx + sw / 2 + offset, sy + sh)
        end = QPointF(dx + dw / 2 + offset, dy)
        path = QPainterPath(start)
        if edge.back:  # loop back up along the right side
            side = max(sx + sw, dx + dw) + 30 + offset
            path.cubicTo(QPointF(side, sy + sh + 40), QPointF(side, dy - 40), end)
        else:
            bend = max((end.y() - start.y()) / 2, 20)
            path.cubicTo(QPointF(start.x(), start.y() + bend),
                         QPointF(end.x(), end.y() - bend), end)
        self._path = path
        self._end = end
        self._tip = path.pointAtPercent(0.97)
        self._middle = path.pointAtPercent(0.5)
        self._width = 1.0 + 0.8 * math.log2(edge.count) if edge.count > 1 else 1.0
        self._bounds = path.boundingRect().adjusted(-12, -12, 30, 12)
        self.setZValue(5)
        kind = "control" if edge.control else "data"
        self.setToolTip(f"{edge.src} → {edge.dst}\n{edge.count} {kind} edge"
                        + ("s" if edge.count != 1 else ""))

    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        stroker = QPainterPathStroker()
        stroker.setWidth(6.0)
        return stroker.createStroke(self._path)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        colour = QColor("#8a94a6") if self.edge.control else QColor("#4b5563")
        pen = QPen(colour, self._width)
        if self.edge.control:
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._path)
        line = QLineF(self._end, self._tip)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        size = 5.0 + self._width
        angle = math.atan2(line.dy(), line.dx())
        left = self._end + QPointF(math.cos(angle + 0.45) * size, math.sin(angle + 0.45) * size)
        right = self._end + QPointF(math.cos(angle - 0.45) * size,
                                    math.sin(angle - 0.45) * size)
        painter.drawPolygon([self._end, left, right])
        if self.edge.count > 1 and _labels_shown(option, painter, colour):
            painter.drawText(QRectF(self._middle.x() + 4, self._middle.y() - 8, 60, 16),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             str(self.edge.count))
