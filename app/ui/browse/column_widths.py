"""Op tree column widths: fitted to the names on first use, then the user's own, kept.

The Name column started at a fixed 220 px and cut names off even in a maximised
window, and a width the user dragged was lost at the next start. Until the user
resizes a column, each opened checkpoint fits the columns to what the view shows
(the Name column takes at most `NAME_SHARE` of the view, and leaves room for the op
type, dtype and shape columns, which were cut to ``Dty`` in a 1280-pixel window);
once they have, their widths are stored in the window settings and restored.
"""

from __future__ import annotations

from PySide6.QtWidgets import QTreeView

from app.ui.common.settings import AppSettings

KEY = "opsHeader"
NAME_SHARE = 0.6
MIN_NAME = 140  # the Name column never gets narrower than this to make room
SHOWN_BESIDE_NAME = 3  # op type, dtype, shape: kept in view (the device may scroll)


class ColumnWidths:
    """Fits, remembers and restores a tree view's column widths."""

    def __init__(self, view: QTreeView, settings: AppSettings | None) -> None:
        self.view = view
        self.settings = settings
        self._fitting = False
        header = view.header()
        state = settings.window.value(KEY) if settings is not None else None
        self.user_set = state is not None and header.restoreState(state)
        header.sectionResized.connect(self._resized)

    def fit(self) -> None:
        """Fit every column to the rows shown (unless the user set the widths)."""
        if self.user_set:
            return
        self._fitting = True
        try:
            for column in range(self.view.model().columnCount()):
                self.view.resizeColumnToContents(column)
            header = self.view.header()
            width = self.view.viewport().width()
            beside = sum(header.sectionSize(c) for c in range(1, 1 + SHOWN_BESIDE_NAME))
            name = header.sectionSize(0)
            header.resizeSection(0, max(min(name, int(width * NAME_SHARE), width - beside),
                                        MIN_NAME))
        finally:
            self._fitting = False

    def _resized(self, column: int, _old: int, _new: int) -> None:
        header = self.view.header()
        last = header.logicalIndex(header.count() - 1)
        if self._fitting or self.settings is None or \
                (column == last and header.stretchLastSection()):
            return  # fitted here, or the stretched last column following the view's width
        self.user_set = True
        self.settings.window.setValue(KEY, header.saveState())  # in memory; synced on exit
