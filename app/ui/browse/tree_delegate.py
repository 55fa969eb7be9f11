"""Paints the op tree's cells straight from the core objects behind them.

Qt's `QStyledItemDelegate` asks the model for seven roles per painted cell, each
a call from C++ into Python, and its style lays each cell's text out twice (once
to place it, once to draw it). At ~40 rows by 5 columns that was most of every
repaint after a keystroke (bench/bench_ui.py, search per keystroke). This
delegate fills the style option from the `OpTreeModel`'s own helpers in one call
per cell, and so shows exactly what the model's ``data()`` reports
(tests/ui/browse/test_tree.py compares the two). A plain or search-highlighted cell is
drawn here: its background, its icon, and its text as a `QStaticText` kept from
the last paints (names repeat as the user types), at the positions the style
itself gives; what the style animates or frames (selection, focus, hover) is
left to Qt's own painting, and tests/ui/browse/test_tree.py compares the pixels of both.
"""

from __future__ import annotations

from typing import NamedTuple

from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPointF,
    QRect,
    QSize,
    Qt,
)
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetrics,
    QPainter,
    QPalette,
    QStaticText,
    QTransform,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from app.ui.browse.tree_model import HIGHLIGHT_BACKGROUND, HIGHLIGHT_TEXT, OpTreeModel

_HAS_DISPLAY = QStyleOptionViewItem.ViewItemFeature.HasDisplay
_HAS_DECORATION = QStyleOptionViewItem.ViewItemFeature.HasDecoration
_HIGHLIGHT_BRUSH = QBrush(HIGHLIGHT_BACKGROUND)
_HIGHLIGHT_TEXT_BRUSH = QBrush(HIGHLIGHT_TEXT)
# States whose look the style owns (selection, focus frame, hover): Qt paints those cells.
_STYLED = (QStyle.StateFlag.State_Selected | QStyle.StateFlag.State_HasFocus
           | QStyle.StateFlag.State_MouseOver).value
_ENABLED = QStyle.StateFlag.State_Enabled.value
_ACTIVE = QStyle.StateFlag.State_Active.value
_GROUP = _ENABLED | _ACTIVE  # the state bits that pick the text colour
_CACHE_LIMIT = 4096  # kept texts; past this the cache starts over
_LOOK_CHANGES = frozenset({QEvent.Type.FontChange, QEvent.Type.PaletteChange,
                           QEvent.Type.StyleChange, QEvent.Type.LayoutDirectionChange})


class _Place(NamedTuple):
    """Where a cell's icon (x, y, width, height) and text go, relative to the cell."""

    icon: tuple[int, int, int, int]
    text_left: int
    text_top: float
    text_width: int


class OpTreeDelegate(QStyledItemDelegate):
    """`QStyledItemDelegate`, for an `OpTreeModel`, without per-role calls or per-cell
    text layout."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        # Kept per view font, palette and style (a change starts them over, see
        # eventFilter): where the style puts a cell's icon and text, per cell size,
        # each text laid out, per cell width, and the text colour per state.
        self._view: QWidget | None = None
        self._plain_look = False  # left to right, eliding on the right: what paint draws
        self._font = QFont()
        self._bold = QFont()
        self._colours: dict[int, QColor] = {}
        self._places: dict[tuple[int, int, bool], _Place] = {}
        self._texts: dict[tuple[str, bool, int], QStaticText] = {}
        self._sizes: dict[tuple[str, bool, bool, int, int], QSize] = {}

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
        # microsecond or more, so it makes as few as it can (no painter save/restore:
        # every cell sets the pen and font it draws with).
        model = index.model()
        obj = index.internalPointer()
        state = option.state.value
        if state & _STYLED or obj is None or not isinstance(model, OpTreeModel) \
                or (option.widget is not self._view and not self._attach(option.widget)) \
                or not self._plain_look:
            super().paint(painter, option, index)
            return
        column = index.column()
        icon = model.decoration(obj, column)
        highlighted = model.is_highlighted(obj)
        text = model.text(obj, column)
        if not text and icon is None and not highlighted:
            return  # most of a scope row's cells: the view has drawn their background
        x, y, width, height = option.rect.getRect()
        place = self._places.get((width, height, icon is not None))
        if place is None:
            place = self._place(option, icon is not None)
        if icon is not None and place.icon[0] + option.decorationSize.width() > width:
            # A cell narrower than its icon (a tensor deep in a narrowed Name column):
            # the style clips the icon to the cell, this painter would not.
            super().paint(painter, option, index)
            return
        if highlighted:
            painter.fillRect(x, y, width, height, _HIGHLIGHT_BRUSH)
            painter.setPen(HIGHLIGHT_TEXT)
            painter.setFont(self._bold)
        else:
            painter.setPen(self._colours[state & _GROUP])
            painter.setFont(self._font)
        if icon is not None:
            ix, iy, iw, ih = place.icon
            icon.paint(painter, x + ix, y + iy, iw, ih)
        if text:
            static = self._texts.get((text, highlighted, width))
            if static is None:
                static = self._static_text(text, highlighted, width, place.text_width)
            painter.drawStaticText(QPointF(x + place.text_left, y + place.text_top), static)

    def sizeHint(self, option: QStyleOptionViewItem,
                 index: QModelIndex | QPersistentModelIndex) -> QSize:
        """The style's size for the cell, kept per text, icon, highlight and icon size:
        every relayout after a keystroke asks again for a row's (the view's uniform row
        height), and the style lays the text out to answer."""
        model = index.model()
        obj = index.internalPointer()
        if obj is None or not isinstance(model, OpTreeModel) \
                or (option.widget is not self._view and not self._attach(option.widget)):
            return super().sizeHint(option, index)
        column = index.column()
        icon = option.decorationSize
        key = (model.text(obj, column), model.decoration(obj, column) is not None,
               model.is_highlighted(obj), icon.width(), icon.height())
        size = self._sizes.get(key)
        if size is None:
            if len(self._sizes) >= _CACHE_LIMIT:
                self._sizes.clear()
            size = self._sizes[key] = super().sizeHint(option, index)
        return QSize(size)

    def _attach(self, view: QWidget | None) -> bool:
        """Take the font, palette and style of the view painting (watching it for
        changes); False without one."""
        if view is None:
            return False
        if self._view is not None:
            self._view.removeEventFilter(self)
        self._view = view
        view.installEventFilter(self)
        self._reset()
        return True

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._view and event.type() in _LOOK_CHANGES:
            self._reset()
        return False

    def _reset(self) -> None:
        view = self._view
        assert view is not None
        self._plain_look = isinstance(view, QAbstractItemView) \
            and view.layoutDirection() == Qt.LayoutDirection.LeftToRight \
            and view.textElideMode() == Qt.TextElideMode.ElideRight
        self._font = QFont(view.font())
        self._bold = QFont(self._font)
        self._bold.setBold(True)
        palette = view.palette()
        # As QCommonStyle picks the text colour of an item view cell from its state.
        self._colours = {
            state: palette.color(
                QPalette.ColorGroup.Disabled if not state & _ENABLED else
                QPalette.ColorGroup.Normal if state & _ACTIVE else QPalette.ColorGroup.Inactive,
                QPalette.ColorRole.Text)
            for state in (0, _ENABLED, _ACTIVE, _ENABLED | _ACTIVE)}
        self._places.clear()
        self._texts.clear()
        self._sizes.clear()

    def _place(self, option: QStyleOptionViewItem, has_icon: bool) -> _Place:
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
        icon = style.subElementRect(QStyle.SubElement.SE_ItemViewItemDecoration, probe,
                                    widget).getRect() if has_icon else (0, 0, 0, 0)
        text = style.subElementRect(QStyle.SubElement.SE_ItemViewItemText, probe, widget)
        margin = style.pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, widget) + 1
        text = text.adjusted(margin, 0, -margin, 0)
        top = text.y() + (text.height() - QFontMetrics(self._font).height()) / 2
        place = self._places[(rect.width(), rect.height(), has_icon)] = \
            _Place(icon, text.x(), top, text.width())
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
