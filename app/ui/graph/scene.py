"""The graph view's scene: items built in one batch from a `GraphLayout`, and image export.

`GraphScene.show_layout` replaces every item at once (the layout was computed in
a worker thread), keeps the BSP index for the now static scene and sets the
scene rect. `write_image` renders a scene to SVG (labels stay text) or PNG; the
panel's Export actions and ``signet render`` share it.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene

from app.core.errors import SignetError
from app.core.graph.graph_view_model import ROOT
from app.core.graph.layout import GraphLayout
from app.core.graph.opgraph import OpGraph
from app.ui.common.mime import TensorDrag, tensor_mime
from app.ui.graph.items import (
    FANOUT_COLOURS,
    NODE_ROLE,
    EdgeItem,
    FanoutMarkerItem,
    NodeItem,
    ScopeBoxItem,
)

MARGIN = 24.0
MAX_PNG_SIDE = 12_000  # pixels; larger pictures are scaled down to fit


class GraphScene(QGraphicsScene):
    """Items for one layout at a time; double-clicking a scope asks to toggle it."""

    scopeToggled = Signal(str)  # scope path (no trailing slash)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.graph: OpGraph | None = None
        self.highlights: dict[str, str] = {}  # op name -> "input" | "output"
        self.rewritten: set[str] = set()  # ops the export's inference rewrites change
        self._rewritten_scopes: set[str] = set()  # the scopes holding them
        self.layout: GraphLayout | None = None
        self._items: dict[str, QGraphicsItem] = {}
        self.setBackgroundBrush(QColor("#fbfbfc"))

    def set_graph(self, graph: OpGraph | None, highlights: dict[str, str] | None = None) -> None:
        self.graph = graph
        self.highlights = highlights or {}
        self.layout = None
        self._items = {}
        self.clear()

    def show_layout(self, layout: GraphLayout) -> None:
        """Replace every item with ones for ``layout``."""
        self.clear()
        self.layout = layout
        self._items = {}
        ops = self.graph.ops if self.graph is not None else {}
        depth: dict[str, int] = {ROOT: 0}
        colours = {source: FANOUT_COLOURS[i % len(FANOUT_COLOURS)]
                   for i, source in enumerate(sorted(layout.fanout))}
        for node in layout.nodes.values():  # containers come before their children
            box = layout.boxes[node.id]
            if node.expanded:
                depth[node.id] = depth.get(node.parent, 0) + 1
                item: QGraphicsItem = ScopeBoxItem(node, box, depth[node.id])
            else:
                item = NodeItem(node, box, ops.get(node.op) if node.op else None,
                                self._mark(node),
                                layout.fanout.get(node.id, 0), colours.get(node.id))
            self.addItem(item)
            self._items[node.id] = item
        fed: dict[str, list[str]] = {}
        for edge in layout.edges:
            if edge.fanout:  # a marker on the target instead of one more long line
                fed.setdefault(edge.dst, [])
                if edge.src not in fed[edge.dst]:
                    fed[edge.dst].append(edge.src)
                continue
            offset = 5.0 if edge.control else 0.0
            self.addItem(EdgeItem(edge, layout.boxes[edge.src], layout.boxes[edge.dst], offset))
        for target, sources in fed.items():
            named = [(layout.nodes[s].label, colours[s]) for s in sorted(sources)]
            self.addItem(FanoutMarkerItem(layout.boxes[target], named))
        self.setSceneRect(QRectF(-MARGIN, -MARGIN, layout.width + 2 * MARGIN,
                                 layout.height + 2 * MARGIN))

    def _mark(self, node) -> str | None:
        """A signature mark, else "rewritten" for a rewritten op or a scope holding one."""
        if node.op and node.op in self.highlights:
            return self.highlights[node.op]
        if node.is_scope:
            path = node.id.rstrip("/")  # a scope may be an op's own name (op/inner ops)
            held = path in self._rewritten_scopes or path in self.rewritten
            return "rewritten" if held else None
        return "rewritten" if node.op in self.rewritten else None

    def set_rewritten(self, ops: set[str]) -> None:
        """Mark ``ops`` (and collapsed scopes holding them) as rewritten for serving."""
        self.rewritten = set(ops)
        self._rewritten_scopes = {op[:i] for op in ops for i, c in enumerate(op) if c == "/"}
        for item in self._items.values():
            if isinstance(item, NodeItem):
                mark = self._mark(item.node)
                if mark != item.highlight:
                    item.set_highlight(mark)

    def item_for(self, node_id: str) -> QGraphicsItem | None:
        return self._items.get(node_id)

    def node_at(self, item: QGraphicsItem | None) -> str | None:
        return item.data(NODE_ROLE) if item is not None else None

    def selected_op(self) -> str | None:
        for item in self.selectedItems():
            if isinstance(item, NodeItem) and item.node.op:
                return item.node.op
        return None

    def mime_for(self, node_id: str) -> QMimeData | None:
        """The drag payload of an op node: its first output, as the op tree drags an op row."""
        item = self._items.get(node_id)
        if not isinstance(item, NodeItem) or item.op is None or not item.op.outputs:
            return None
        first = item.op.outputs[0]
        return tensor_mime([TensorDrag(first.name, first.dtype, first.shape_text)])

    def mouseDoubleClickEvent(self, event) -> None:
        for item in self.items(event.scenePos()):
            node = getattr(item, "node", None)
            if node is not None:
                if node.is_scope:
                    self.scopeToggled.emit(node.id[:-1])
                    event.accept()
                    return
                break
        super().mouseDoubleClickEvent(event)


def write_image(scene: QGraphicsScene, path: Path, title: str = "", scale: float = 1.0) -> None:
    """Render the whole scene to ``path``: ``.svg`` (text stays text) or ``.png``.

    ``scale`` is output units per scene unit; the items' level of detail follows
    it, so a far-out picture has no labels, as on screen.
    """
    suffix = path.suffix.lower()
    if suffix not in (".svg", ".png"):
        raise SignetError(f"{path}: unknown picture type — use a .svg or .png file name")
    source = scene.sceneRect()
    cached = [(item, item.cacheMode()) for item in scene.items()]
    for item, _mode in cached:  # paint vectors, not cached pixmaps
        item.setCacheMode(QGraphicsItem.CacheMode.NoCache)
    try:
        if suffix == ".svg":
            _write_svg(scene, path, source, title, scale)
        else:
            _write_png(scene, path, source, scale)
    finally:
        for item, mode in cached:
            item.setCacheMode(mode)


def _write_svg(scene: QGraphicsScene, path: Path, source: QRectF, title: str,
               scale: float) -> None:
    from PySide6.QtSvg import QSvgGenerator

    generator = QSvgGenerator()
    generator.setFileName(str(path))
    size = QSize(max(1, round(source.width() * scale)), max(1, round(source.height() * scale)))
    generator.setSize(size)
    generator.setViewBox(QRectF(0, 0, size.width(), size.height()))
    generator.setTitle(title or "Signet graph")
    generator.setDescription("Op graph drawn by Signet")
    painter = QPainter()
    if not painter.begin(generator):
        raise SignetError(f"{path}: cannot write here — choose a writable folder")
    try:
        painter.fillRect(QRectF(0, 0, size.width(), size.height()), Qt.GlobalColor.white)
        scene.render(painter, QRectF(0, 0, size.width(), size.height()), source)
    finally:
        painter.end()
    if not path.exists():
        raise SignetError(f"{path}: cannot write here — choose a writable folder")


def _write_png(scene: QGraphicsScene, path: Path, source: QRectF, scale: float) -> None:
    scale = min(scale, MAX_PNG_SIDE / max(source.width(), source.height(), 1.0))
    image = QImage(max(1, round(source.width() * scale)), max(1, round(source.height() * scale)),
                   QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.white)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
    scene.render(painter, QRectF(image.rect()), source)
    painter.end()
    if not image.save(str(path), "PNG"):
        raise SignetError(f"{path}: cannot write here — choose a writable folder")
