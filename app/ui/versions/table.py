"""The published versions as a Qt table model: an adapter over the core's `VersionRow` list."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from app.core.watch.compat import describe
from app.core.watch.versions import VersionRow

ROW_ROLE = Qt.ItemDataRole.UserRole + 1
COLUMNS = ("Version", "Step", "Metric", "Published", "Labels", "Signature")
Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()


class VersionsModel(QAbstractTableModel):
    """One row a version folder, newest first; the `VersionRow` under `ROW_ROLE`."""

    def __init__(self, metric: str = "loss", parent=None) -> None:
        super().__init__(parent)
        self.rows: list[VersionRow] = []
        self.metric = metric

    def set_rows(self, rows: list[VersionRow], metric: str) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.metric = metric
        self.endResetModel()

    def rowCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.metric if COLUMNS[section] == "Metric" else COLUMNS[section]
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                | Qt.ItemFlag.ItemNeverHasChildren)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        row = self.rows[index.row()]
        if role == ROW_ROLE:
            return row
        if role == Qt.ItemDataRole.ToolTipRole:
            return None if row.ours else "Not published by a watch: listed, never collected"
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        column = COLUMNS[index.column()]
        if column == "Version":
            return str(row.version)
        if column == "Step":
            return "" if row.step is None else str(row.step)
        if column == "Metric":
            return "" if row.metric is None else f"{row.metric:.6g}"
        if column == "Published":
            return datetime.fromtimestamp(row.published_at).strftime("%Y-%m-%d %H:%M:%S")
        if column == "Labels":
            return ", ".join(row.labels)
        return describe(row.signature)

    def row_of(self, version: int) -> int:
        return next((i for i, r in enumerate(self.rows) if r.version == version), -1)
