"""Paints the op tree's cells straight from the core objects behind them.

Qt's `QStyledItemDelegate` asks the model for seven roles per painted cell, each
a call from C++ into Python; at ~40 rows by 5 columns that was a quarter of
every repaint (bench/bench_ui.py, search per keystroke). This delegate fills the
style option from the `OpTreeModel`'s own helpers in one call per cell, and so
shows exactly what the model's ``data()`` reports (tests/ui/test_tree.py
compares the two).
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex
from PySide6.QtGui import QBrush, QFont, QFontMetrics, QPalette
from PySide6.QtWidgets import QStyledItemDelegate, QStyleOptionViewItem

from app.ui.browse.tree_model import HIGHLIGHT_BACKGROUND, HIGHLIGHT_TEXT, OpTreeModel

_HAS_DISPLAY = QStyleOptionViewItem.ViewItemFeature.HasDisplay
_HAS_DECORATION = QStyleOptionViewItem.ViewItemFeature.HasDecoration
_HIGHLIGHT_BRUSH = QBrush(HIGHLIGHT_BACKGROUND)
_HIGHLIGHT_TEXT_BRUSH = QBrush(HIGHLIGHT_TEXT)


class OpTreeDelegate(QStyledItemDelegate):
    """`QStyledItemDelegate.initStyleOption`, for an `OpTreeModel`, without per-role calls."""

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
