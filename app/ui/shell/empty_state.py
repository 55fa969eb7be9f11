"""What the centre shows when no checkpoint is open: Open…, the recent list, the demo."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)


class EmptyState(QWidget):
    openRequested = Signal()
    demoRequested = Signal()
    recentRequested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("emptyState")
        title = QLabel("<h2>Open a TensorFlow 1.x checkpoint</h2>")
        hint = QLabel("Pick a checkpoint folder or its .meta, .index or .data file — "
                      "or drop one onto this window.")
        hint.setWordWrap(True)
        self.open_button = QPushButton("Open Checkpoint…")
        self.open_button.clicked.connect(self.openRequested)
        self.demo_button = QPushButton("Open the demo (skip-thoughts encoder)")
        self.demo_button.clicked.connect(self.demoRequested)
        self.recent_label = QLabel("<b>Recent checkpoints</b>")
        self.recent = QListWidget()
        self.recent.setObjectName("recentList")
        # One click opens, as on a start page; Enter (activation) too. A double-click
        # (a click, then an activation) opens once.
        self._double_clicked = False
        self._clicked_at = -1.0
        self.recent.itemDoubleClicked.connect(self._note_double_click)
        self.recent.itemActivated.connect(self._activated)
        if not self.recent.style().styleHint(
                QStyle.StyleHint.SH_ItemView_ActivateItemOnSingleClick, None, self.recent):
            self.recent.itemClicked.connect(self._clicked)

        column = QVBoxLayout()
        for widget in (title, hint, self.open_button, self.demo_button, self.recent_label,
                       self.recent):
            column.addWidget(widget)
        column.addStretch(1)
        box = QWidget()
        box.setLayout(column)
        box.setMaximumWidth(560)
        outer = QVBoxLayout(self)
        outer.addSpacing(40)
        outer.addWidget(box, 0, Qt.AlignmentFlag.AlignHCenter)
        self.set_recent([])

    def _note_double_click(self, _item: QListWidgetItem) -> None:
        self._double_clicked = True  # Qt emits the activation right after this

    def _clicked(self, item: QListWidgetItem) -> None:
        self._clicked_at = time.monotonic()
        self._chosen(item)

    def _activated(self, item: QListWidgetItem) -> None:
        """Enter, or the second click of a double-click (whose first click opened it)."""
        after_click = time.monotonic() - self._clicked_at < \
            QApplication.doubleClickInterval() / 1000
        double, self._double_clicked = self._double_clicked, False
        if not (double and after_click):
            self._chosen(item)

    def _chosen(self, item: QListWidgetItem) -> None:
        self.recentRequested.emit(item.data(Qt.ItemDataRole.UserRole))

    def set_recent(self, paths: list[Path]) -> None:
        self.recent.clear()
        for path in paths:
            item = QListWidgetItem(f"{path.name} — {path.parent}")
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            item.setToolTip(str(path))
            self.recent.addItem(item)
        self.recent_label.setVisible(bool(paths))
        self.recent.setVisible(bool(paths))
