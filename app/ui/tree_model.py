"""The op tree: a Qt item model over the core's name-scope tree, and its search filter.

`OpTreeModel` is an adapter, not a copy: each index points at the core's own
`ScopeNode` (scopes and ops) or `Tensor` (an op's outputs, shown as its
children), and parents come from ``node.parent`` and ``node.row``. Ops inside
function bodies sit under one top-level "Functions" row.

`OpFilterProxy` never runs a query itself: the core's `SearchIndex` finds the
matching ops, and the proxy is handed that set; with the tree's pre-order
positions (`TreeOrder`) each shown row costs two array lookups per keystroke.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from PySide6.QtCore import (
    QAbstractItemModel,
    QMimeData,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QColor, QFont

from app.core.opgraph import Op, OpGraph, ScopeNode, Tensor
from app.ui import icons
from app.ui.mime import TENSOR_MIME, TensorDrag, tensor_mime

NAME, TYPE, DTYPE, SHAPE, DEVICE = range(5)
HEADERS = ("Name", "Op type", "Dtype", "Shape", "Device")
NameRole = Qt.ItemDataRole.UserRole + 1  # full op/tensor name, or a scope's path
NodeRole = Qt.ItemDataRole.UserRole + 2  # the core object: ScopeNode or Tensor
FUNCTIONS_LABEL = "Functions"

PLACEHOLDER_TYPES = frozenset({"Placeholder", "PlaceholderWithDefault"})
VARIABLE_TYPES = frozenset({"Variable", "VariableV2", "VarHandleOp", "TemporaryVariable"})

_Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()  # the invisible root, as a default argument
_HIGHLIGHT_ROLES = {
    Qt.ItemDataRole.FontRole: None,  # bold, set per model
    Qt.ItemDataRole.BackgroundRole: QColor("#fff1a8"),
    Qt.ItemDataRole.ForegroundRole: QColor("#000000"),
}


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
    """Scopes, ops and output tensors of one `OpGraph`; empty when no graph is set."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.graph: OpGraph | None = None
        self.highlight: Matches | None = None  # ops shown bold on a light background
        self._bold = QFont()
        self._bold.setBold(True)

    def set_graph(self, graph: OpGraph | None) -> None:
        self.beginResetModel()
        self.graph = graph
        self.endResetModel()

    # Tree navigation ----------------------------------------------------------------------

    def _has_functions(self) -> bool:
        return self.graph is not None and bool(self.graph.function_root.children)

    def object_at(self, index: _Index) -> ScopeNode | Tensor | None:
        return index.internalPointer() if index.isValid() else None

    def _row_of(self, node: ScopeNode) -> int:
        assert self.graph is not None
        if node is self.graph.function_root:
            return len(self.graph.root.children)
        return node.row

    def index_of(self, obj: ScopeNode | Tensor, column: int = 0) -> QModelIndex:
        if isinstance(obj, Tensor):
            holder = op_node(self.graph, obj.op) if self.graph is not None else None
            if holder is None:
                return QModelIndex()
            return self.createIndex(len(holder.children) + obj.index, column, obj)
        if self.graph is None or obj is self.graph.root:
            return QModelIndex()
        return self.createIndex(self._row_of(obj), column, obj)

    def index_of_name(self, name: str) -> QModelIndex:
        """The row of a main-graph op (``name``) or tensor (``name:N``); invalid if unknown."""
        if self.graph is None:
            return QModelIndex()
        op = self.graph.ops.get(name)
        if op is not None:
            node = op_node(self.graph, op)
            return self.index_of(node) if node is not None else QModelIndex()
        tensor = self.graph.tensor(name) if ":" in name else None
        return self.index_of(tensor) if tensor is not None else QModelIndex()

    # QAbstractItemModel -------------------------------------------------------------------

    def index(self, row: int, column: int, parent: _Index = _ROOT) -> QModelIndex:
        # Lean on purpose: the filter proxy maps every cell it paints through here.
        graph = self.graph
        if graph is None or row < 0 or not 0 <= column < len(HEADERS):
            return QModelIndex()
        if not parent.isValid():
            top = graph.root.children
            if row < len(top):
                return self.createIndex(row, column, top[row])
            if row == len(top) and graph.function_root.children:
                return self.createIndex(row, column, graph.function_root)
            return QModelIndex()
        obj = parent.internalPointer()
        if parent.column() > 0 or isinstance(obj, Tensor):
            return QModelIndex()
        children = obj.children
        if row < len(children):
            return self.createIndex(row, column, children[row])
        if obj.op is not None and row - len(children) < len(obj.op.outputs):
            return self.createIndex(row, column, obj.op.outputs[row - len(children)])
        return QModelIndex()

    def parent(self, index: _Index | None = None) -> QModelIndex | QObject:  # type: ignore[override]
        if index is None:  # QObject.parent()
            return super().parent()
        obj = self.object_at(index)
        if obj is None or self.graph is None:
            return QModelIndex()
        if isinstance(obj, Tensor):
            holder = op_node(self.graph, obj.op)
            return self.index_of(holder) if holder is not None else QModelIndex()
        up = obj.parent
        if up is None or up is self.graph.root:
            return QModelIndex()
        return self.createIndex(self._row_of(up), 0, up)

    def rowCount(self, parent: _Index = _ROOT) -> int:
        if self.graph is None or parent.column() > 0:
            return 0
        obj = self.object_at(parent)
        if obj is None:
            return len(self.graph.root.children) + (1 if self._has_functions() else 0)
        if isinstance(obj, Tensor):
            return 0
        return len(obj.children) + (len(obj.op.outputs) if obj.op is not None else 0)

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
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        obj = self.object_at(index)
        if isinstance(obj, Tensor):
            return flags | Qt.ItemFlag.ItemIsDragEnabled | Qt.ItemFlag.ItemNeverHasChildren
        if obj is not None and not obj.children and (obj.op is None or not obj.op.outputs):
            flags |= Qt.ItemFlag.ItemNeverHasChildren
        return flags

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        obj = self.object_at(index)
        return None if obj is None else self._value(obj, index.column(), role)

    def multiData(self, index: _Index, roleDataSpan) -> None:
        """All the roles a delegate paints a cell with, in one call from C++ instead of one
        call per role (Qt's default)."""
        obj = self.object_at(index)
        column = index.column()
        for item in roleDataSpan:
            value = None if obj is None else self._value(obj, column, item.role())
            if value is None:
                item.clearData()
            else:
                item.setData(value)

    def _value(self, obj: ScopeNode | Tensor, column: int, role: int):
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(obj, column)
        if role == Qt.ItemDataRole.DecorationRole and column == NAME:
            return icons.icon(kind_of(obj))
        if role in (NameRole, Qt.ItemDataRole.ToolTipRole):
            return self.name_of(obj)
        if role == NodeRole:
            return obj
        if role in _HIGHLIGHT_ROLES and self.highlight is not None \
                and isinstance(obj, ScopeNode) and self.highlight.is_match(obj):
            if role == Qt.ItemDataRole.FontRole:
                return self._bold
            return _HIGHLIGHT_ROLES[role]
        return None

    def name_of(self, obj: ScopeNode | Tensor) -> str:
        if isinstance(obj, Tensor):
            return obj.name
        if obj.parent is None:
            return FUNCTIONS_LABEL
        return obj.op.name if obj.op is not None else obj.path

    def _text(self, obj: ScopeNode | Tensor, column: int) -> str:
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
        self.root = graph.root
        order = list(graph.root.walk())
        self.start: dict[ScopeNode, int] = {node: i for i, node in enumerate(order)}
        size: dict[ScopeNode, int] = {}
        for node in reversed(order):
            size[node] = 1 + sum(size[c] for c in node.children)
        self.end = {node: self.start[node] + size[node] for node in order}
        # Shifted by one for `match_counts`.
        self.op_mark = {node.op.name: i + 1 for i, node in enumerate(order) if node.op is not None}
        # The same marks by position in graph.ops, to map search indices in one step.
        self.op_mark_by_index = np.fromiter(map(self.op_mark.__getitem__, graph.ops),
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
        marks = np.zeros(self.size + 1, dtype=np.int32)
        marks[self.op_mark_by_index[indices]] = 1
        return Matches(self, np.cumsum(marks))


class Matches:
    """A search's matching ops, answering per tree node in constant time."""

    def __init__(self, order: TreeOrder, counts: np.ndarray) -> None:
        self.order = order
        self.counts = counts  # counts[k]: matches at positions before k
        self._shown: dict[ScopeNode, list[bool]] = {}

    def holds(self, node: ScopeNode) -> bool:
        """The node is a match or has one below it."""
        start = self.order.start.get(node)
        if start is None:  # function bodies are not searched
            return False
        return bool(self.counts[self.order.end[node]] > self.counts[start])

    def is_match(self, node: ScopeNode) -> bool:
        start = self.order.start.get(node)
        return start is not None and bool(self.counts[start + 1] > self.counts[start])

    def shown_rows(self, node: ScopeNode) -> list[bool]:
        """For each child row of ``node`` in the model (child nodes, then the op's output
        tensors): whether it stays shown. Computed once per node for the whole row set,
        since Qt's proxy asks row by row."""
        shown = self._shown.get(node)
        if shown is None:
            if node in self.order.start:
                starts, ends = self.order.child_bounds(node)
                shown = (self.counts[ends] > self.counts[starts]).tolist()
            else:  # function bodies are not searched
                shown = [False] * len(node.children)
            if node.op is not None:  # tensors show under a matching op
                shown += [self.is_match(node)] * len(node.op.outputs)
            self._shown[node] = shown
        return shown


class OpFilterProxy(QSortFilterProxyModel):
    """Keeps the rows of the current search's matches and their scopes (and has the model
    highlight the matches).

    A row is kept when its subtree (a `TreeOrder` range) holds a match, which
    also keeps every ancestor of a match. So Qt's own recursive filtering, which
    calls back into Python for every row of every rejected subtree (~1 s per
    keystroke at 100k ops, see bench/bench_ui.py), is not needed and left off.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setRecursiveFilteringEnabled(False)
        self.order: TreeOrder | None = None
        self.matches: Matches | None = None  # None: no search, every row shown

    def tree(self) -> OpTreeModel:
        model = self.sourceModel()
        assert isinstance(model, OpTreeModel)
        return model

    def set_order(self, order: TreeOrder | None) -> None:
        """The positions for the source model's current graph (computed here when None)."""
        graph = self.tree().graph
        self.order = order if order is not None or graph is None else TreeOrder(graph)

    def set_matches(self, indices: np.ndarray | None) -> None:
        """Show only these main-graph ops (positions in graph.ops, as `SearchResult.indices`
        gives them) and their scopes; None shows everything."""
        graph = self.tree().graph
        if graph is not None and self.order is None:
            self.set_order(None)
        matches = None
        if indices is not None and self.order is not None:
            matches = self.order.matches(indices)
        self.beginFilterChange()
        self.matches = matches
        self.tree().highlight = matches
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def multiData(self, index: _Index, roleDataSpan) -> None:
        """Map the cell once for all its roles (Qt's proxy maps it again for each role)."""
        self.tree().multiData(self.mapToSource(index), roleDataSpan)

    def filterAcceptsRow(self, source_row: int, source_parent: _Index) -> bool:
        matches = self.matches
        if matches is None:
            return True
        node = source_parent.internalPointer() if source_parent.isValid() else matches.order.root
        shown = matches.shown_rows(node)
        # Rows past the main graph's top level: the Functions branch, which is not searched.
        return source_row < len(shown) and shown[source_row]
