"""The op tree panel: a search box over a filtered `QTreeView` of the checkpoint's ops.

Typing runs the core's `SearchIndex` after a short pause (debounced) and hands
the matches to the `OpTreeModel`, which filters itself. Enter jumps to the next
match, Esc clears the search (the window's Find action, Ctrl+F, focuses it).
Tensor rows drag out as `app.ui.common.mime` payloads.
"""

from __future__ import annotations

import os

import numpy as np
from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from app.core.graph.opgraph import ScopeNode, Tensor
from app.core.graph.search import SearchIndex, SearchResult
from app.ui.browse.column_widths import ColumnWidths
from app.ui.browse.tree_delegate import OpTreeDelegate
from app.ui.browse.tree_model import NAME, OpTreeModel, TreeOrder
from app.ui.common.settings import AppSettings

# Qt's raster engine hands every fill of 96 or more scan lines to its GUI thread pool and
# waits for it: the Fusion scroll bar beside a tall tree is such fills (its gradients), and
# the hand-off made its repaint on every search ~1 ms, five times the fills done in place
# (more on a busy machine). Qt reads this once, at its first such fill, so it is set on
# import, before any window paints (what a user set wins).
os.environ.setdefault("QT_NO_GUI_THREADPOOL", "1")

SEARCH_DELAY_MS = 150
EXPAND_LIMIT = 20  # the scopes of the first matches open; Enter walks to the rest


class _ColumnsHeader(QHeaderView):
    """The tree view's own header (same settings), not relaid out and repainted with
    the rows: each search relays out the rows, and the columns stay the same."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setSectionsMovable(True)
        self.setStretchLastSection(True)
        self.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)

    def doItemsLayout(self) -> None:
        model = self.model()
        if model is None or self.count() != model.columnCount():
            super().doItemsLayout()


class OpTreePanel(QWidget):
    """Search + tree. Signals carry full op or tensor names."""

    opSelected = Signal(str)  # op name of the selected op or tensor row
    addTensorRequested = Signal(str, str)  # tensor name, "input" or "output"

    def __init__(self, settings: AppSettings | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.model = OpTreeModel(self)
        self.index: SearchIndex | None = None
        self.result = SearchResult()
        self._filtered: np.ndarray | None = None  # the matches the tree shows (None: all)
        self._next_match = 0

        self.search = QLineEdit(placeholderText="Search ops: name, type:MatMul …")
        self.search.setClearButtonEnabled(True)
        self.search.setObjectName("opSearch")
        self.regex = QToolButton(text=".*", checkable=True, toolTip="Regular expression")
        self.count = QLabel()
        self.count.setObjectName("matchCount")
        # Wide enough for most counts from the start: a count that changes the label's
        # minimum width relays out the whole window on every keystroke.
        self.count.setMinimumWidth(self.count.fontMetrics().horizontalAdvance("888888 matches"))
        self._timer = QTimer(self, singleShot=True, interval=SEARCH_DELAY_MS)
        self._timer.timeout.connect(self.apply_search)
        self.search.textChanged.connect(self._timer.start)
        self.regex.toggled.connect(self.apply_search)
        self.search.returnPressed.connect(self.next_match)

        self.view = QTreeView()
        self.view.setObjectName("opTreeView")
        self.view.setHeader(_ColumnsHeader(self.view))
        self.view.setModel(self.model)
        self.view.setItemDelegate(OpTreeDelegate(self.view))
        self.view.setUniformRowHeights(True)
        self.view.setAlternatingRowColors(True)
        self.view.setDragEnabled(True)
        self.view.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.view.selectionModel().currentChanged.connect(self._current_changed)
        self.view.header().resizeSection(NAME, 220)
        self.widths = ColumnWidths(self.view, settings)

        copy = QAction("Copy name", self.view, shortcut=QKeySequence.StandardKey.Copy)
        copy.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        copy.triggered.connect(self.copy_name)
        self.view.addAction(copy)
        self.copy_action = copy
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self.search, self.clear_search,
                  context=Qt.ShortcutContext.WidgetShortcut)

        bar = QHBoxLayout()
        bar.addWidget(self.search, 1)
        bar.addWidget(self.regex)
        bar.addWidget(self.count)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.view)

    # Content ------------------------------------------------------------------------------

    def set_checkpoint(self, loaded, order: TreeOrder | None = None) -> None:
        """Show a `LoadedCheckpoint` (None: empty), keeping the search text.

        ``order`` is the graph's `TreeOrder` if already computed off the UI thread.
        """
        self.model.set_graph(loaded.graph if loaded is not None else None, order)
        self.widths.fit()
        self._filtered = None
        self.index = loaded.search_index if loaded is not None else None
        self.apply_search()

    # Search -------------------------------------------------------------------------------

    def focus_search(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def clear_search(self) -> None:
        self.search.clear()
        self.apply_search()

    def apply_search(self) -> None:
        """Run the search now (the debounce timer calls this after typing stops)."""
        self._timer.stop()
        query = self.search.text().strip()
        if not query or self.index is None:
            self.result = SearchResult()
            self._show(None)
            self.count.setText("")
            return
        self.result = self.index.search(query, regex=self.regex.isChecked())
        self._next_match = 0
        self._show(self.result.indices)
        if self.result.error:
            self.count.setText("invalid")
            self.count.setToolTip(self.result.error)
            return
        self.count.setToolTip("")
        n = len(self.result)
        self.count.setText(f"{n} match" if n == 1 else f"{n} matches")
        # Open the scopes of a few matches (of the first one only when there are many:
        # every row the view lays out and paints costs calls into the model).
        for name in self.result.head(EXPAND_LIMIT if n <= EXPAND_LIMIT else 1):
            parent = self.model.index_of_name(name).parent()
            while parent.isValid() and not self.view.isExpanded(parent):
                self.view.expand(parent)
                parent = parent.parent()

    def _show(self, indices: np.ndarray | None) -> None:
        """Filter the tree to these matches, unless it already shows exactly them (typing
        on often keeps the same set, and a filter pass costs a relayout and repaint)."""
        if indices is None and self.model.matches is None:
            return
        shown = self._filtered
        if indices is not None and shown is not None and np.array_equal(indices, shown):
            return
        self._filtered = indices
        self.model.set_matches(indices)

    def next_match(self) -> None:
        """Select the next match (Enter in the search box), wrapping around."""
        if self._timer.isActive():
            self.apply_search()
        if not len(self.result):
            return
        name = self.result.ops[self._next_match % len(self.result)]
        self._next_match += 1
        self.select_op(name)

    # Selection ----------------------------------------------------------------------------

    def select_op(self, name: str) -> bool:
        """Select an op or tensor by name, expanding its scopes and scrolling to it.

        A row hidden by the current search clears the search first.
        """
        obj = self.model.object_named(name)
        if obj is None:
            return False
        index = self.model.index_of(obj)
        if not index.isValid():
            self.search.blockSignals(True)
            self.search.clear()
            self.search.blockSignals(False)
            self.apply_search()
            index = self.model.index_of(obj)
        parent = index.parent()
        while parent.isValid():
            self.view.expand(parent)
            parent = parent.parent()
        self.view.selectionModel().setCurrentIndex(
            index,
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        self.view.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
        return True

    def current_object(self) -> ScopeNode | Tensor | None:
        return self.model.object_at(self.view.currentIndex())

    def selected_names(self) -> list[str]:
        rows = self.view.selectionModel().selectedRows(NAME)
        objs = [self.model.object_at(i) for i in rows]
        return [self.model.name_of(o) for o in objs if o is not None]

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        obj = self.model.object_at(current)
        op = obj.op if isinstance(obj, (Tensor, ScopeNode)) else None
        if op is not None:
            self.opSelected.emit(op.name)

    def copy_name(self) -> None:
        names = self.selected_names()
        if names:
            QGuiApplication.clipboard().setText("\n".join(names))

    def _context_menu(self, pos: QPoint) -> None:
        index = self.view.indexAt(pos)
        obj = self.model.object_at(index)
        if obj is None:
            return
        menu = self.context_menu(obj)
        menu.exec(self.view.viewport().mapToGlobal(pos))

    def context_menu(self, obj: ScopeNode | Tensor) -> QMenu:
        """The row's menu: Copy name, and for tensors (or single-output ops) Add as input/output."""
        menu = QMenu(self)
        name = self.model.name_of(obj)
        menu.addAction("Copy name", lambda: QGuiApplication.clipboard().setText(name))
        tensor = obj if isinstance(obj, Tensor) else None
        if isinstance(obj, ScopeNode) and obj.op is not None and len(obj.op.outputs) == 1:
            tensor = obj.op.outputs[0]
        if tensor is not None:
            menu.addSeparator()
            tname = tensor.name
            menu.addAction("Add as input", lambda: self.addTensorRequested.emit(tname, "input"))
            menu.addAction("Add as output", lambda: self.addTensorRequested.emit(tname, "output"))
        return menu
