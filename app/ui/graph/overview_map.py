"""A small navigator over the graph view: the whole picture and the visible rectangle.

The graph opens at a readable zoom, so most of a large model is off screen; the map
in a corner of the view shows where the view is. Click or drag on it to move there.
It sits in a corner where it covers no node (bottom right first), moving as the view
scrolls, and hides when every corner has one, or when the whole graph is in view.
The picture is rendered once per layout into a pixmap (far out, without labels),
so scrolling only repaints the rectangle.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsView, QWidget

MAP_SIDE = 180  # longest side of the map, pixels, in a roomy view
MAP_SHARE = 0.25  # and at most this share of the viewport's shorter side, so it never hides much
MIN_SIDE = 36  # a long thin chain still gets a usable strip
MARGIN = 10  # from the view's corner


class OverviewMap(QWidget):
    """Sits in a free corner of ``view``; hidden while the whole scene fits (module doc)."""

    def __init__(self, view: QGraphicsView) -> None:
        super().__init__(view)
        self.view = view
        self._pixmap = QPixmap()
        self._scale = 1.0  # map pixels per scene unit
        self._offset = QPointF()  # where the scene rect starts inside the map
        self._side = 0  # the longest side the pixmap was rendered for
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Overview: click or drag to move the view")
        view.horizontalScrollBar().valueChanged.connect(self.place)
        view.verticalScrollBar().valueChanged.connect(self.place)
        self.hide()

    def refresh(self) -> None:
        """Render the scene again (after a new layout) and place the map."""
        scene = self.view.scene()
        rect = scene.sceneRect() if scene is not None else QRectF()
        if rect.isEmpty():
            self._pixmap = QPixmap()
            self.hide()
            return
        self._side = self._wanted_side()
        scale = self._side / max(rect.width(), rect.height())
        size = QSize(max(MIN_SIDE, round(rect.width() * scale)),
                     max(MIN_SIDE, round(rect.height() * scale)))
        self._scale = scale
        self._offset = QPointF((size.width() - rect.width() * scale) / 2,
                               (size.height() - rect.height() * scale) / 2)
        pixmap = QPixmap(size)
        pixmap.fill(QColor("#ffffff"))
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        target = QRectF(self._offset, rect.size() * scale)
        scene.render(painter, target, rect, Qt.AspectRatioMode.KeepAspectRatio)
        painter.end()
        self._pixmap = pixmap
        self.resize(size)
        self.place()

    def _wanted_side(self) -> int:
        viewport = self.view.viewport().size()
        return max(MIN_SIDE, min(MAP_SIDE, round(MAP_SHARE * min(viewport.width(),
                                                                   viewport.height()))))

    def place(self) -> None:
        """In the first corner of the viewport where it covers no node; shown only when
        part of the scene is off screen and such a corner exists."""
        if not self._pixmap.isNull() and abs(self._wanted_side() - self._side) > 8:
            self.refresh()  # the view was resized: render the map for its new size
            return
        corner = None
        if not self._pixmap.isNull() and self.view.scene() is not None and not self._fits():
            corner = next((c for c in self._corners() if not self._covers_a_node(c)), None)
        if corner is not None:
            self.move(corner)
        self.setVisible(corner is not None)
        self.update()

    def _corners(self) -> list[QPoint]:
        """Top left positions in the view: bottom right, bottom left, top right, top left."""
        viewport = self.view.viewport().geometry()
        right = viewport.right() - self.width() - MARGIN
        bottom = viewport.bottom() - self.height() - MARGIN
        left, top = viewport.left() + MARGIN, viewport.top() + MARGIN
        return [QPoint(right, bottom), QPoint(left, bottom), QPoint(right, top),
                QPoint(left, top)]

    def _covers_a_node(self, corner: QPoint) -> bool:
        """Whether the map at ``corner`` would hide an op, a collapsed scope or a scope's
        title strip (edges may pass under it)."""
        viewport = self.view.viewport()
        area = QRect(viewport.mapFrom(self.view, corner), self.size()).adjusted(-4, -4, 4, 4)
        found = self.view.items(area, Qt.ItemSelectionMode.IntersectsItemShape)
        return any(getattr(item, "node", None) is not None for item in found)

    def _fits(self) -> bool:
        scene = self.view.scene()
        shown = self.view.mapToScene(self.view.viewport().rect()).boundingRect()
        return shown.adjusted(-1, -1, 1, 1).contains(scene.sceneRect())

    def visible_rect(self) -> QRectF:
        """The part of the scene on screen, in map pixels."""
        shown = self.view.mapToScene(self.view.viewport().rect()).boundingRect()
        origin = self.view.scene().sceneRect().topLeft()
        return QRectF(self._offset + (shown.topLeft() - origin) * self._scale,
                      shown.size() * self._scale)

    def scene_point(self, pos: QPointF) -> QPointF:
        """The scene point under map position ``pos``."""
        origin = self.view.scene().sceneRect().topLeft()
        return origin + (pos - self._offset) / self._scale

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.drawPixmap(0, 0, self._pixmap)
        painter.setPen(QPen(QColor("#9aa5b1"), 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5))
        if not self._pixmap.isNull():
            shade = QColor("#1c7ed6")
            shade.setAlpha(40)
            painter.setBrush(shade)
            painter.setPen(QPen(QColor("#1c7ed6"), 1.5))
            painter.drawRect(self.visible_rect().intersected(QRectF(self.rect())))
        painter.end()

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.view.centerOn(self.scene_point(event.position()))
            event.accept()

    def mouseMoveEvent(self, event) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self.view.centerOn(self.scene_point(event.position()))
            event.accept()
