"""The op tree: a Qt item model over the core's name-scope tree, and its search filter.

`OpTreeModel` is an adapter, not a copy: each index points at the core's own
`ScopeNode` (scopes and ops) or `Tensor` (an op's outputs, shown as its
children), and parents come from ``node.parent`` and ``node.row``. Ops inside
function bodies sit under one top-level "Functions" row.

The model never runs a query itself: the core's `SearchIndex` finds the
matching ops and the model is handed their positions; with the tree's pre-order
positions (`TreeOrder`), which children of a node stay shown is one numpy
expression (`Matches`).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable

import numpy as np
from PySide6.QtCore import (
    QAbstractItemModel,
    QMimeData,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QColor, QFont, QIcon

from app.core.graph.opgraph import Op, OpGraph, ScopeNode, Tensor
from app.ui.browse import icons
from app.ui.common.mime import TENSOR_MIME, TensorDrag, tensor_mime

NAME, TYPE, DTYPE, SHAPE, DEVICE = range(5)
HEADERS = ("Name", "Op type", "Dtype", "Shape", "Device")
NameRole = Qt.ItemDataRole.UserRole + 1  # full op/tensor name, or a scope's path
NodeRole = Qt.ItemDataRole.UserRole + 2  # the core object: ScopeNode or Tensor
FUNCTIONS_LABEL = "Functions"

PLACEHOLDER_TYPES = frozenset({"Placeholder", "PlaceholderWithDefault"})
VARIABLE_TYPES = frozenset({"Variable", "VariableV2", "VarHandleOp", "TemporaryVariable"})

_Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()  # the invisible root, as a default argument
# Roles and flags as plain ints and ready-made values: the view asks for them per
# painted cell, and comparing or or-ing Qt's enums in Python costs ~1 µs each.
_DISPLAY = Qt.ItemDataRole.DisplayRole.value
_DECORATION = Qt.ItemDataRole.DecorationRole.value
_TOOLTIP = Qt.ItemDataRole.ToolTipRole.value
_FONT = Qt.ItemDataRole.FontRole.value
HIGHLIGHT_BACKGROUND = QColor("#fff1a8")  # behind a search match, drawn in bold black
HIGHLIGHT_TEXT = QColor("#000000")
_HIGHLIGHT_COLOURS = {
    Qt.ItemDataRole.BackgroundRole.value: HIGHLIGHT_BACKGROUND,
    Qt.ItemDataRole.ForegroundRole.value: HIGHLIGHT_TEXT,
}
# Comparing a new search's rows with every node asked about under the last one costs
# ~10 µs a node; past this many (a long scroll), a layout change is cheaper and resets.
_QUIET_CHECK_LIMIT = 2000
_PARENTS_KEPT = 20000  # parent indexes remembered (a screenful needs a few hundred)
_ROWS_ONLY = QAbstractItemModel.LayoutChangeHint.VerticalSortHint
_HINTED = ("QList<QPersistentModelIndex>", "QAbstractItemModel::LayoutChangeHint")  # overload
_ROW_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
_LEAF_FLAGS = _ROW_FLAGS | Qt.ItemFlag.ItemNeverHasChildren
_TENSOR_FLAGS = _LEAF_FLAGS | Qt.ItemFlag.ItemIsDragEnabled
_OP_FLAGS = _ROW_FLAGS | Qt.ItemFlag.ItemIsDragEnabled


def kind_of(obj: ScopeNode | Tensor) -> str:
    if isinstance(obj, Tensor):
        return icons.TENSOR
    if obj.op is None:
        return icons.FUNCTIONS if obj.parent is None else icons.SCOPE
    if obj.op.type in PLACEHOLDER_TYPES:
        return icons.PLACEHOLDER
    if obj.op.type in VARIABLE_TYPES:
        return icons.VARIABLE
    return icons.OP


def op_node(graph: OpGraph, op: Op) -> ScopeNode | None:
    """The tree node holding ``op`` (main graph or a function body)."""
    node: ScopeNode | None = graph.root
    if op.function is not None:
        node = graph.function_root.by_name.get(op.function)
    for part in op.name.split("/"):
        if node is None:
            return None
        node = node.by_name.get(part)
    return node


class OpTreeModel(QAbstractItemModel):
    """Scopes, ops and output tensors of one `OpGraph`, optionally filtered to a search's
    matches and their scopes; empty when no graph is set.

    The filter lives here, not in a `QSortFilterProxyModel`: a proxy maps every cell,
    flag and parent it is asked for through a second call into Python, and on each
    keystroke asks again for every row of every parent it has seen. At 100k ops that
    alone took the keystroke past its 50 ms budget (bench/bench_ui.py measures Qt's
    proxy recipe beside this model). Here a search is one numpy pass (`Matches`), and
    a row's position among the shown rows is a bisection in the parent's shown rows.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.graph: OpGraph | None = None
        self.order: TreeOrder | None = None
        self.matches: Matches | None = None  # None: no search, every row shown
        # Each asked-about row's parent index, by id of the row's object, until the rows
        # change: the view asks for the parents of every painted row several times.
        self._parents: dict[int, QModelIndex] = {}
        self._bold = QFont()
        self._bold.setBold(True)

    def set_graph(self, graph: OpGraph | None, order: TreeOrder | None = None) -> None:
        """Show ``graph``, unfiltered; ``order`` is its `TreeOrder` if already computed
        off the UI thread (otherwise it is made at the first search)."""
        self.beginResetModel()
        self.graph = graph
        self.order = order
        self.matches = None
        self._parents.clear()
        self.endResetModel()

    def set_matches(self, indices: np.ndarray | None) -> None:
        """Show only these main-graph ops (positions in graph.ops, as `SearchResult.indices`
        gives them) and their scopes, highlighting the ops; None shows everything.

        When every row anyone has asked about stays as it was (typing on often only
        drops ops in collapsed scopes), only the changed highlights are reported.
        Otherwise it is a layout change, which keeps the expanded scopes and the
        selection that stay shown."""
        if self.graph is None:
            return
        if indices is not None and self.order is None:
            self.order = TreeOrder(self.graph)
        matches = self.order.matches(indices) if indices is not None and self.order else None
        before = self.matches
        if before is not None and matches is not None \
                and before.asked_count() <= _QUIET_CHECK_LIMIT and before.same_rows(matches):
            self.matches = matches
            self._highlights_changed(before, matches)
            return
        # Rows only: the hint spares the horizontal header its column bookkeeping.
        self.layoutAboutToBeChanged[_HINTED].emit([], _ROWS_ONLY)
        old = self.persistentIndexList()
        held = [(index.internalPointer(), index.column()) for index in old]
        self.matches = matches
        self._parents.clear()
        self.changePersistentIndexList(old, [self.index_of(obj, col) for obj, col in held])
        self.layoutChanged[_HINTED].emit([], _ROWS_ONLY)

    def _highlights_changed(self, before: Matches, after: Matches) -> None:
        """One dataChanged per asked-about node, over its rows whose highlight flipped."""
        roles = [Qt.ItemDataRole.FontRole, Qt.ItemDataRole.BackgroundRole,
                 Qt.ItemDataRole.ForegroundRole]
        for node in before.asked():
            flipped = before.flipped_rows(after, node)
            if len(flipped):
                parent = QModelIndex() if node is self.graph.root else self.index_of(node)
                self.dataChanged.emit(self.index(int(flipped[0]), 0, parent),
                                      self.index(int(flipped[-1]), len(HEADERS) - 1, parent),
                                      roles)

    # Tree navigation ----------------------------------------------------------------------
    # A node's "full rows" are its children, then its op's output tensors (and, under the
    # root, the Functions branch); the model's rows are the shown subset of those.

    def object_at(self, index: _Index) -> ScopeNode | Tensor | None:
        return index.internalPointer() if index.isValid() else None

    def _full_child(self, node: ScopeNode, row: int) -> ScopeNode | Tensor | None:
        children = node.children
        if row < len(children):
            return children[row]
        graph = self.graph
        assert graph is not None
        if node is graph.root:
            return graph.function_root if row == len(children) and self._has_functions() \
                else None
        if node.op is not None and row - len(children) < len(node.op.outputs):
            return node.op.outputs[row - len(children)]
        return None

    def _has_functions(self) -> bool:
        return self.graph is not None and bool(self.graph.function_root.children)

    def _shown_row(self, node: ScopeNode, full_row: int) -> int | None:
        """The model row of ``node``'s child at ``full_row``; None when filtered out."""
        if self.matches is None:
            return full_row
        shown = self.matches.shown_rows(node)
        row = bisect_left(shown, full_row)
        return row if row < len(shown) and shown[row] == full_row else None

    def index_of(self, obj: ScopeNode | Tensor, column: int = 0) -> QModelIndex:
        """The index of a node or tensor; invalid when it is not shown."""
        graph = self.graph
        if graph is None or obj is graph.root:
            return QModelIndex()
        if isinstance(obj, Tensor):
            holder = op_node(graph, obj.op)
            if holder is None:
                return QModelIndex()
            parent, full_row = holder, len(holder.children) + obj.index
        elif obj is graph.function_root:
            parent, full_row = graph.root, len(graph.root.children)
        else:
            parent, full_row = obj.parent or graph.root, obj.row
        row = self._shown_row(parent, full_row)
        return QModelIndex() if row is None else self.createIndex(row, column, obj)

    def object_named(self, name: str) -> ScopeNode | Tensor | None:
        """The tree node of a main-graph op (``name``) or its tensor (``name:N``)."""
        if self.graph is None:
            return None
        op = self.graph.ops.get(name)
        if op is not None:
            return op_node(self.graph, op)
        return self.graph.tensor(name) if ":" in name else None

    def index_of_name(self, name: str) -> QModelIndex:
        """The row of a main-graph op or tensor; invalid if unknown or not shown."""
        obj = self.object_named(name)
        return self.index_of(obj) if obj is not None else QModelIndex()

    # QAbstractItemModel -------------------------------------------------------------------
    # Lean on purpose: the view calls these for every row it lays out and paints.

    def index(self, row: int, column: int, parent: _Index = _ROOT) -> QModelIndex:
        graph = self.graph
        if graph is None or row < 0 or not 0 <= column < len(HEADERS):
            return QModelIndex()
        if parent.isValid():
            node = parent.internalPointer()
            if parent.column() > 0 or isinstance(node, Tensor):
                return QModelIndex()
        else:
            node = graph.root
        full_row = row
        if self.matches is not None:
            shown = self.matches.shown_rows(node)
            if row >= len(shown):
                return QModelIndex()
            full_row = shown[row]
        obj = self._full_child(node, full_row)
        return QModelIndex() if obj is None else self.createIndex(row, column, obj)

    def parent(self, index: _Index | None = None) -> QModelIndex | QObject:  # type: ignore[override]
        if index is None:  # QObject.parent()
            return super().parent()
        obj = index.internalPointer() if index.isValid() else None
        if obj is None or self.graph is None:
            return QModelIndex()
        parent = self._parents.get(id(obj))
        if parent is None:
            if len(self._parents) >= _PARENTS_KEPT:  # a long scroll: start over
                self._parents.clear()
            parent = self._parents[id(obj)] = self._parent_of(obj)
        return parent

    def _parent_of(self, obj: ScopeNode | Tensor) -> QModelIndex:
        graph = self.graph
        assert graph is not None
        if isinstance(obj, Tensor):
            holder = op_node(graph, obj.op)
            return self.index_of(holder) if holder is not None else QModelIndex()
        up = obj.parent
        if up is None or up is graph.root:
            return QModelIndex()
        grand = up.parent
        if grand is None:  # the Functions branch
            return self.index_of(up)
        row = self._shown_row(grand, up.row)
        return QModelIndex() if row is None else self.createIndex(row, 0, up)

    def rowCount(self, parent: _Index = _ROOT) -> int:
        graph = self.graph
        if graph is None or parent.column() > 0:
            return 0
        node = parent.internalPointer() if parent.isValid() else graph.root
        if isinstance(node, Tensor):
            return 0
        if self.matches is not None:
            return len(self.matches.shown_rows(node))
        if node is graph.root:
            return len(node.children) + (1 if self._has_functions() else 0)
        return len(node.children) + (len(node.op.outputs) if node.op is not None else 0)

    def hasChildren(self, parent: _Index = _ROOT) -> bool:
        """Asked for every row the view lays out (for its expand arrow): under a search,
        two lookups in the match counts instead of listing the shown children."""
        graph = self.graph
        matches = self.matches
        if matches is None or graph is None or parent.column() > 0:
            return self.rowCount(parent) > 0
        node = parent.internalPointer() if parent.isValid() else graph.root
        if isinstance(node, Tensor):
            return False
        return matches.has_shown_children(node)

    def columnCount(self, parent: _Index = _ROOT) -> int:
        return len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        obj = index.internalPointer()
        if isinstance(obj, Tensor):
            return _TENSOR_FLAGS
        if not obj.children and (obj.op is None or not obj.op.outputs):
            return _LEAF_FLAGS
        if obj.op is not None and obj.op.outputs:
            return _OP_FLAGS  # an op drags its first output, as in the graph view
        return _ROW_FLAGS

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        obj = self.object_at(index)
        return None if obj is None else self._value(obj, index.column(), role)

    def is_highlighted(self, obj: ScopeNode | Tensor) -> bool:
        """A search match (drawn bold on a light background)."""
        return self.matches is not None and isinstance(obj, ScopeNode) \
            and self.matches.is_match(obj)

    def _value(self, obj: ScopeNode | Tensor, column: int, role: int):
        if role == _DISPLAY:
            return self.text(obj, column)
        if role == _DECORATION:
            return self.decoration(obj, column)
        if role in (NameRole, _TOOLTIP):
            return self.name_of(obj)
        if role == NodeRole:
            return obj
        if (role == _FONT or role in _HIGHLIGHT_COLOURS) and self.is_highlighted(obj):
            return self._bold if role == _FONT else _HIGHLIGHT_COLOURS[role]
        return None

    def name_of(self, obj: ScopeNode | Tensor) -> str:
        if isinstance(obj, Tensor):
            return obj.name
        if obj.parent is None:
            return FUNCTIONS_LABEL
        return obj.op.name if obj.op is not None else obj.path

    def decoration(self, obj: ScopeNode | Tensor, column: int) -> QIcon | None:
        """A cell's icon (its DecorationRole): the row's kind, in the name column."""
        return icons.icon(kind_of(obj)) if column == NAME else None

    def text(self, obj: ScopeNode | Tensor, column: int) -> str:
        """A cell's text (its DisplayRole)."""
        if isinstance(obj, Tensor):
            if column == NAME:
                return f"{obj.op.name.rsplit('/', 1)[-1]}:{obj.index}"
            if column == DTYPE:
                return obj.dtype
            if column == SHAPE:
                return obj.shape_text
            return ""
        if column == NAME:
            return obj.name if obj.parent is not None else FUNCTIONS_LABEL
        op = obj.op
        if op is None:
            return f"{obj.op_count} ops" if column == TYPE else ""
        if column == TYPE:
            return op.type
        if column == DEVICE:
            return op.device
        if len(op.outputs) == 1 and column in (DTYPE, SHAPE):
            return op.outputs[0].dtype if column == DTYPE else op.outputs[0].shape_text
        return ""

    # Drag and drop ------------------------------------------------------------------------

    def mimeTypes(self) -> list[str]:
        return [TENSOR_MIME, "text/plain"]

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction

    def mimeData(self, indexes: Iterable[QModelIndex]) -> QMimeData:
        tensors: list[TensorDrag] = []
        seen: set[str] = set()
        for index in indexes:
            obj = self.object_at(index)
            if isinstance(obj, ScopeNode) and obj.op is not None and obj.op.outputs:
                obj = obj.op.outputs[0]
            if isinstance(obj, Tensor) and obj.name not in seen:
                seen.add(obj.name)
                tensors.append(TensorDrag(obj.name, obj.dtype, obj.shape_text))
        return tensor_mime(tensors)


class TreeOrder:
    """Pre-order positions of the main graph's tree nodes, computed once per checkpoint.

    A scope's subtree is the position range ``[start, end)``, so "does this scope
    hold a match" becomes two array lookups instead of a walk over its ops, and
    the same question for all children of a node is one numpy expression.
    Built in the loading thread (about 0.2 s at 100k ops).
    """

    def __init__(self, graph: OpGraph) -> None:
        order = list(graph.root.walk())
        self.start: dict[ScopeNode, int] = {node: i for i, node in enumerate(order)}
        size: dict[ScopeNode, int] = {}
        for node in reversed(order):
            size[node] = 1 + sum(size[c] for c in node.children)
        self.end = {node: self.start[node] + size[node] for node in order}
        # Each op's position, by its position in graph.ops (as search results give them).
        position = {node.op.name: i for i, node in enumerate(order) if node.op is not None}
        self.op_position = np.fromiter(map(position.__getitem__, graph.ops),
                                       dtype=np.int64, count=len(graph.ops))
        self.size = len(order)
        self._bounds: dict[ScopeNode, tuple[np.ndarray, np.ndarray]] = {}

    def child_bounds(self, node: ScopeNode) -> tuple[np.ndarray, np.ndarray]:
        """The ``[start, end)`` ranges of ``node``'s children (cached: the view asks
        for the same expanded scopes on every keystroke)."""
        bounds = self._bounds.get(node)
        if bounds is None:
            starts = np.fromiter(map(self.start.__getitem__, node.children), dtype=np.int64,
                                 count=len(node.children))
            # Children's subtrees are contiguous: each ends where the next one starts.
            ends = np.append(starts[1:], self.end[node])
            bounds = self._bounds[node] = (starts, ends)
        return bounds

    def matches(self, indices: np.ndarray) -> Matches:
        """The matches of a search, given as positions in graph.ops (`SearchResult.indices`)."""
        # One byte per mark, summed into int32: 0.3 ms at 100k ops, where int32 marks
        # summed into numpy's default int64 took 1.7 ms of every keystroke.
        marks = np.zeros(self.size + 1, dtype=np.int8)
        marks[self.op_position[indices] + 1] = 1
        return Matches(self, np.cumsum(marks, dtype=np.int32))


class Matches:
    """A search's matching ops, answering per tree node in constant time (and for all
    children of a node in one numpy expression)."""

    def __init__(self, order: TreeOrder, counts: np.ndarray) -> None:
        self.order = order
        self.counts = counts  # counts[k]: matches at positions before k
        self._shown: dict[ScopeNode, list[int]] = {}
        self._has: dict[ScopeNode, bool] = {}  # has_shown_children answers given

    def is_match(self, node: ScopeNode) -> bool:
        start = self.order.start.get(node)
        return start is not None and bool(self.counts[start + 1] > self.counts[start])

    def has_shown_children(self, node: ScopeNode) -> bool:
        """``shown_rows(node)`` is not empty: a match below the node, or the node is a
        matching op with output tensors (remembered, as the view remembers the answer)."""
        shown = self._shown.get(node)
        if shown is not None:
            return bool(shown)
        has = self._has.get(node)
        if has is None:
            start = self.order.start.get(node)
            counts = self.counts
            has = self._has[node] = start is not None and (  # function bodies: not searched
                bool(counts[self.order.end[node]] > counts[start + 1])
                or (node.op is not None and bool(node.op.outputs)
                    and bool(counts[start + 1] > counts[start])))
        return has

    def asked_count(self) -> int:
        return len(self._shown) + len(self._has)

    def asked(self) -> list[ScopeNode]:
        """The nodes whose shown rows have been asked for."""
        return list(self._shown)

    def same_rows(self, other: Matches) -> bool:
        """``other`` shows the same rows under every node this one has been asked about
        (the only rows a view or a persistent index can know of), and has children
        where this one was asked whether it has."""
        return all(other.shown_rows(node) == rows for node, rows in self._shown.items()) \
            and all(other.has_shown_children(node) == has for node, has in self._has.items())

    def flipped_rows(self, other: Matches, node: ScopeNode) -> np.ndarray:
        """The rows under ``node``, as shown here, of child nodes that are a match here
        and not in ``other`` or the other way round."""
        rows = self._shown.get(node, [])
        nodes = bisect_left(rows, len(node.children))  # rows of child nodes come first
        if not nodes or node not in self.order.start:
            return np.empty(0, dtype=np.intp)
        starts = self.order.child_bounds(node)[0][rows[:nodes]]
        mine = self.counts[starts + 1] > self.counts[starts]
        theirs = other.counts[starts + 1] > other.counts[starts]
        return np.flatnonzero(mine != theirs)

    def shown_rows(self, node: ScopeNode) -> list[int]:
        """The full rows of ``node``'s children (child nodes, then its op's output tensors)
        that stay shown, ascending; computed once per node for all its children."""
        shown = self._shown.get(node)
        if shown is None:
            shown = []
            if node in self.order.start:  # function bodies are not searched
                starts, ends = self.order.child_bounds(node)
                shown = np.flatnonzero(self.counts[ends] > self.counts[starts]).tolist()
            if node.op is not None and self.is_match(node):  # a match shows its tensors
                first = len(node.children)
                shown.extend(range(first, first + len(node.op.outputs)))
            self._shown[node] = shown
        return shown
