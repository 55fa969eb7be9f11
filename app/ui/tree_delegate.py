"""Paints the op tree's cells straight from the core objects behind them.

Qt's `QStyledItemDelegate` asks the model for seven roles per painted cell, each
a call from C++ into Python, and its style lays each cell's text out twice (once
to place it, once to draw it). At ~40 rows by 5 columns that was most of every
repaint after a keystroke (bench/bench_ui.py, search per keystroke). This
delegate fills the style option from the `OpTreeModel`'s own helpers in one call
per cell, and so shows exactly what the model's ``data()`` reports
(tests/ui/test_tree.py compares the two). A plain or search-highlighted cell is
drawn here: its background, its icon, and its text as a `QStaticText` kept from
the last paints (names repeat as the user types), at the positions the style
itself gives; what the style animates or frames (selection, focus, hover) is
left to Qt's own painting, and tests/ui/test_tree.py compares the pixels of both.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPointF, QRect, Qt
from PySide6.QtGui import (
    QBrush,
    QFont,
    QFontMetrics,
    QPainter,
    QPalette,
    QStaticText,
    QTransform,
)
from PySide6.QtWidgets import (
    QApplication,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
)

from app.ui.tree_model import HIGHLIGHT_BACKGROUND, HIGHLIGHT_TEXT, OpTreeModel

_HAS_DISPLAY = QStyleOptionViewItem.ViewItemFeature.HasDisplay
_HAS_DECORATION = QStyleOptionViewItem.ViewItemFeature.HasDecoration
_HIGHLIGHT_BRUSH = QBrush(HIGHLIGHT_BACKGROUND)
_HIGHLIGHT_TEXT_BRUSH = QBrush(HIGHLIGHT_TEXT)
# States whose look the style owns (selection, focus frame, hover): Qt paints those cells.
_STYLED = (QStyle.StateFlag.State_Selected | QStyle.StateFlag.State_HasFocus
           | QStyle.StateFlag.State_MouseOver).value
_ENABLED = QStyle.StateFlag.State_Enabled.value
_ACTIVE = QStyle.StateFlag.State_Active.value
_CACHE_LIMIT = 4096  # kept texts; past this the cache starts over


class OpTreeDelegate(QStyledItemDelegate):
    """`QStyledItemDelegate`, for an `OpTreeModel`, without per-role calls or per-cell
    text layout."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        # Kept per font (the view's; a new one starts them over): where the style puts
        # a cell's icon and text, per cell size, and each text laid out, per width.
        self._font = QFont()
        self._bold = QFont()
        self._bold.setBold(True)
        self._places: dict[tuple[int, int, bool], tuple[QRect | None, QRect, float]] = {}
        self._texts: dict[tuple[str, bool, int], QStaticText] = {}

    def initStyleOption(self, option: QStyleOptionViewItem,
                        index: QModelIndex | QPersistentModelIndex) -> None:
        model = index.model()
        obj = index.internalPointer() if index.isValid() else None
        if not isinstance(model, OpTreeModel) or obj is None:
            super().initStyleOption(option, index)
            return
        column = index.column()
        option.index = index
        option.features |= _HAS_DISPLAY
        option.text = model.text(obj, column)
        icon = model.decoration(obj, column)
        if icon is not None:  # drawn at the view's icon size (the pixmaps are larger)
            option.features |= _HAS_DECORATION
            option.icon = icon
        if model.is_highlighted(obj):
            font = QFont(option.font)
            font.setBold(True)
            option.font = font
            option.fontMetrics = QFontMetrics(font)
            palette = QPalette(option.palette)
            palette.setBrush(QPalette.ColorRole.Text, _HIGHLIGHT_TEXT_BRUSH)
            option.palette = palette
            option.backgroundBrush = _HIGHLIGHT_BRUSH
        option.styleObject = None  # no style animations inside item views (as Qt's own)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        # Called per visible cell on every repaint: each Qt call here costs a
        # microsecond or more, so it makes as few as it can.
        model = index.model()
        obj = index.internalPointer()
        state = option.state.value
        if state & _STYLED or obj is None or not isinstance(model, OpTreeModel):
            super().paint(painter, option, index)
            return
        font = option.font
        if font != self._font:
            self._set_font(font)
        column = index.column()
        rect = option.rect
        icon = model.decoration(obj, column)
        width = rect.width()
        place = self._places.get((width, rect.height(), icon is not None))
        if place is None:
            place = self._place(option, icon is not None)
        icon_rect, text_rect, top = place
        highlighted = model.is_highlighted(obj)
        painter.save()
        if highlighted:
            painter.fillRect(rect, _HIGHLIGHT_BRUSH)
            painter.setPen(HIGHLIGHT_TEXT)
            painter.setFont(self._bold)
        else:
            group = QPalette.ColorGroup.Disabled if not state & _ENABLED else \
                QPalette.ColorGroup.Normal if state & _ACTIVE else QPalette.ColorGroup.Inactive
            painter.setPen(option.palette.color(group, QPalette.ColorRole.Text))
            painter.setFont(font)
        x, y = rect.x(), rect.y()
        if icon_rect is not None:
            icon.paint(painter, icon_rect.translated(x, y))
        text = model.text(obj, column)
        if text:
            static = self._texts.get((text, highlighted, width))
            if static is None:
                static = self._static_text(text, highlighted, width, text_rect.width())
            painter.drawStaticText(QPointF(x + text_rect.x(), y + top), static)
        painter.restore()

    def _set_font(self, font: QFont) -> None:
        self._font = QFont(font)
        self._bold = QFont(font)
        self._bold.setBold(True)
        self._places.clear()
        self._texts.clear()

    def _place(self, option: QStyleOptionViewItem,
               has_icon: bool) -> tuple[QRect | None, QRect, float]:
        """Where the style puts a cell's icon and text (relative to the cell), and the
        text's top, as `QCommonStyle` draws an item view's text."""
        rect = option.rect
        probe = QStyleOptionViewItem(option)
        probe.rect = QRect(0, 0, rect.width(), rect.height())
        probe.features |= _HAS_DISPLAY
        if has_icon:
            probe.features |= _HAS_DECORATION
        widget = option.widget
        style = widget.style() if widget is not None else QApplication.style()
        icon_rect = style.subElementRect(QStyle.SubElement.SE_ItemViewItemDecoration,
                                         probe, widget) if has_icon else None
        text_rect = style.subElementRect(QStyle.SubElement.SE_ItemViewItemText, probe, widget)
        margin = style.pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, widget) + 1
        text_rect = text_rect.adjusted(margin, 0, -margin, 0)
        top = text_rect.y() + (text_rect.height() - QFontMetrics(option.font).height()) / 2
        place = self._places[(rect.width(), rect.height(), has_icon)] = \
            (icon_rect, text_rect, top)
        return place

    def _static_text(self, text: str, bold: bool, cell_width: int,
                     width: int) -> QStaticText:
        """The text, elided to ``width`` as the style elides it, laid out once."""
        if len(self._texts) >= _CACHE_LIMIT:
            self._texts.clear()
        font = self._bold if bold else self._font
        metrics = QFontMetrics(font)
        shown = text
        if metrics.horizontalAdvance(text) > width:
            shown = metrics.elidedText(text, Qt.TextElideMode.ElideRight, width)
        static = self._texts[(text, bold, cell_width)] = QStaticText(shown)
        static.setTextFormat(Qt.TextFormat.PlainText)
        static.prepare(QTransform(), font)
        return static
