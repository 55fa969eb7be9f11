"""What the centre shows when no checkpoint is open: Open…, the recent list, the demo."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
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
        self.recent.itemActivated.connect(lambda item: self.recentRequested.emit(
            item.data(Qt.ItemDataRole.UserRole)))

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

    def set_recent(self, paths: list[Path]) -> None:
        self.recent.clear()
        for path in paths:
            item = QListWidgetItem(f"{path.name} — {path.parent}")
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            item.setToolTip(str(path))
            self.recent.addItem(item)
        self.recent_label.setVisible(bool(paths))
        self.recent.setVisible(bool(paths))
