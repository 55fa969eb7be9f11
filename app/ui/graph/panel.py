"""The graph panel: the op graph in a zoomable view with collapsible name scopes.

`GraphPanel` is self-contained: give it a checkpoint with `set_checkpoint`, call
`select_op` to reveal and centre an op, listen to ``opSelected(str)`` and
``addTensorRequested(tensor_name, side)`` (side ``"inputs"`` or ``"outputs"``).
Layouts come from `app.core.graph.layout.GraphLayouter` in a worker thread (one at a
time, a newer request cancels the older); items are then built in one batch.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QPoint, QPointF, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence, QPainter
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QMenu,
    QSpinBox,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from app.core.disk.saved_model_source import is_saved_model, signatures_json
from app.core.errors import SignetError
from app.core.graph.graph_view_model import ViewState, is_training_op
from app.core.graph.layout import GraphLayout, GraphLayouter
from app.core.loader import LoadedCheckpoint
from app.ui.common.workers import TaskRunner, TaskState
from app.ui.graph.items import LABEL_PIXELS, NodeItem
from app.ui.graph.overview_map import OverviewMap
from app.ui.graph.scene import GraphScene, write_image

READABLE_PIXELS = 9.0  # a label is never drawn smaller than this
READABLE_ZOOM = READABLE_PIXELS / LABEL_PIXELS
# Zooming out no further than labels stay readable: a fitted 500-op graph was a field of
# blank 5-pixel boxes. The overview map shows the whole; collapsed scopes keep it small.
MIN_ZOOM = READABLE_ZOOM
MAX_ZOOM = 4.0
ZOOM_STEP = 1.25
TOP_MARGIN = 24.0  # pixels above the inputs' end when a graph opens


def served_tensors(loaded: LoadedCheckpoint) -> dict[str, list[str]]:
    """``"input"``/``"output"`` -> the tensors Signet proposes to serve (the proposal the
    Signature dock starts with), or a SavedModel's own signature tensors."""
    if is_saved_model(loaded):
        served: dict[str, list[str]] = {"input": [], "output": []}
        for sig in signatures_json(loaded.graph.meta_graph).values():
            for side in served:
                served[side] += [info["tensor"] for info in sig[f"{side}s"].values()]
        return served
    proposal = loaded.proposal
    return {"input": [s.tensor for s in proposal.inputs],
            "output": [s.tensor for s in proposal.outputs]}


def highlights_of(loaded: LoadedCheckpoint) -> dict[str, str]:
    """Op name -> ``"input"``/``"output"`` for the proposed signature tensors."""
    marks: dict[str, str] = {}
    served = served_tensors(loaded)
    for side in ("output", "input"):
        for tensor in served[side]:
            marks[tensor.rsplit(":", 1)[0]] = side
    return marks


class GraphView(QGraphicsView):
    """Pan by dragging the background, zoom with the wheel under the mouse (clamped);
    dragging an op carries its output tensors."""

    def __init__(self, scene: GraphScene, parent: QWidget | None = None) -> None:
        super().__init__(scene, parent)
        self.setRenderHints(QPainter.RenderHint.Antialiasing
                            | QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self._press: tuple[QPoint, str] | None = None
        self.overview_map = OverviewMap(self)

    def zoom(self) -> float:
        return self.transform().m11()

    def zoom_by(self, factor: float) -> None:
        target = min(max(self.zoom() * factor, MIN_ZOOM), MAX_ZOOM)
        factor = target / self.zoom()
        if abs(factor - 1.0) > 1e-9:
            self.scale(factor, factor)
            self.overview_map.place()

    def fit(self) -> None:
        """The whole scene in view, or as much as the readable zoom (`MIN_ZOOM`) frames."""
        rect = self.scene().sceneRect()
        if rect.isEmpty():
            return
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        self.zoom_by(1.0)  # clamp
        if self.zoom() > 1.0:  # small graphs: natural size, centred
            self.zoom_by(1.0 / self.zoom())
            self.centerOn(rect.center())
        self.overview_map.place()

    def open_readable(self, anchor: QPointF | None) -> None:
        """The first picture of a graph, and Fit: fitted if labels stay readable there,
        else at the readable zoom with ``anchor`` (the inputs' end) near the top of the
        view (scroll, or click the overview map, for the rest).

        Fitting a long chain (a Keras ResNet-50 is ~170 scopes deep) gives a one-pixel
        line; the overview map shows the rest.
        """
        self.fit()
        rect = self.scene().sceneRect()
        shown = self.mapToScene(self.viewport().rect()).boundingRect()
        if rect.isEmpty() or shown.adjusted(-1, -1, 1, 1).contains(rect):
            return
        point = anchor if anchor is not None else QPointF(rect.center().x(), rect.top())
        half = self.viewport().height() / 2 / self.zoom()
        self.centerOn(point.x(), point.y() - TOP_MARGIN / self.zoom() + half)
        self.overview_map.place()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.overview_map.place()

    def wheelEvent(self, event) -> None:
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(ZOOM_STEP ** steps)
        event.accept()

    def mousePressEvent(self, event) -> None:
        super().mousePressEvent(event)
        item = self.itemAt(event.position().toPoint())
        self._press = None
        if event.button() == Qt.MouseButton.LeftButton and isinstance(item, NodeItem) \
                and item.op is not None:
            self._press = (event.position().toPoint(), item.node.id)

    def mouseMoveEvent(self, event) -> None:
        if self._press is not None and event.buttons() & Qt.MouseButton.LeftButton:
            start, node_id = self._press
            moved = (event.position().toPoint() - start).manhattanLength()
            if moved >= QApplication.startDragDistance():
                self._press = None
                self.start_drag(node_id)
                return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        self._press = None
        super().mouseReleaseEvent(event)

    def start_drag(self, node_id: str) -> None:
        from PySide6.QtGui import QDrag

        data = self.scene().mime_for(node_id)
        if data is None:
            return
        drag = QDrag(self)
        drag.setMimeData(data)
        drag.exec(Qt.DropAction.CopyAction)


class GraphPanel(QWidget):
    opSelected = Signal(str)  # op name, when the user selects an op in the view
    addTensorRequested = Signal(str, str)  # tensor name, "inputs" | "outputs"
    layoutShown = Signal()  # items for a new layout are on screen
    layoutFailed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loaded: LoadedCheckpoint | None = None
        self.state = ViewState()
        self.layout_data: GraphLayout | None = None
        app = QApplication.instance()
        if app is not None:  # no layout thread may outlive the application
            app.aboutToQuit.connect(self.shutdown)
        self._layouter: GraphLayouter | None = None
        self._lock = threading.Lock()  # one layout at a time touches the layouter's caches
        self._runner = TaskRunner(self)
        self._pending_select: str | None = None
        self._syncing = False
        self._fit_next = True
        self._centre_on: str | None = None

        self.scene = GraphScene(self)
        self.view = GraphView(self.scene, self)
        self.scene.selectionChanged.connect(self._selection_changed)
        self.scene.scopeToggled.connect(self.toggle_scope)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self._build_toolbar()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.view, 1)
        self._update_enabled()

    def _build_toolbar(self) -> None:
        bar = self.toolbar = QToolBar("Graph", self)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)

        def action(text: str, keys, slot, tip: str) -> QAction:
            act = QAction(text, self)
            act.setShortcuts(keys if isinstance(keys, list) else [keys])
            act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            act.setToolTip(f"{tip} ({act.shortcut().toString(QKeySequence.NativeText)})")
            act.triggered.connect(slot)
            self.addAction(act)
            bar.addAction(act)
            return act

        self.zoom_in_action = action(
            "Zoom in", [QKeySequence.StandardKey.ZoomIn, QKeySequence("Ctrl+=")],
            lambda: self.view.zoom_by(ZOOM_STEP), "Zoom in")
        self.zoom_out_action = action("Zoom out", QKeySequence.StandardKey.ZoomOut,
                                      lambda: self.view.zoom_by(1 / ZOOM_STEP), "Zoom out")
        self.fit_action = action("Fit", QKeySequence("Ctrl+0"), self.fit,
                                 "Fit the graph at a zoom where labels stay readable")
        bar.addSeparator()
        self.training_action = QAction("Training ops", self)
        self.training_action.setCheckable(True)
        self.training_action.setToolTip("Show gradients, optimizer, saver, init and summaries")
        self.training_action.toggled.connect(self.set_show_training)
        bar.addAction(self.training_action)
        self.neighbourhood_action = QAction("Neighbourhood", self)
        self.neighbourhood_action.setCheckable(True)
        self.neighbourhood_action.setToolTip(
            "Show only the ops within k edges of the selected op (for very large graphs)")
        self.neighbourhood_action.toggled.connect(self._neighbourhood_toggled)
        bar.addAction(self.neighbourhood_action)
        hops = QWidget(bar)
        row = QHBoxLayout(hops)
        row.setContentsMargins(4, 0, 4, 0)
        row.addWidget(QLabel("k", hops))
        self.hops_spin = QSpinBox(hops)
        self.hops_spin.setRange(1, 20)
        self.hops_spin.setValue(self.state.hops)
        self.hops_spin.setToolTip("Neighbourhood radius in edges")
        self.hops_spin.valueChanged.connect(self.set_hops)
        row.addWidget(self.hops_spin)
        bar.addWidget(hops)
        bar.addSeparator()
        export = QAction("Export…", self)
        export.setToolTip("Save the graph as it is shown (PNG or SVG)")
        export.triggered.connect(self.export_dialog)
        bar.addAction(export)
        self.export_action = export
        self.status = QLabel("", bar)
        self.status.setContentsMargins(8, 0, 8, 0)
        bar.addWidget(self.status)

    def _update_enabled(self) -> None:
        on = self.loaded is not None
        for act in (self.zoom_in_action, self.zoom_out_action, self.fit_action,
                    self.training_action, self.neighbourhood_action, self.export_action):
            act.setEnabled(on)
        self.hops_spin.setEnabled(on)

    # Public API ---------------------------------------------------------------------------

    def set_checkpoint(self, loaded: LoadedCheckpoint | None) -> None:
        """Show ``loaded`` collapsed to its top-level scopes (or nothing for None)."""
        self._runner.cancel()
        self.loaded = loaded
        self._layouter = GraphLayouter(loaded.graph) if loaded is not None else None
        self.layout_data = None
        self._pending_select = None
        self.scene.set_graph(loaded.graph if loaded is not None else None)
        self._set_checked(self.neighbourhood_action, False)
        self.state = ViewState(show_training=self.training_action.isChecked(),
                               hops=self.hops_spin.value())
        self._update_enabled()
        self.status.setText("")
        if loaded is not None:
            self._fit_next = True
            self._request()

    def fit(self) -> None:
        """The whole graph, or as much of it as readable labels allow, from the inputs'
        end."""
        if self.layout_data is not None:
            self.view.open_readable(self._inputs_end(self.layout_data))

    def select_op(self, name: str) -> bool:
        """Expand the scopes holding ``name`` (op or ``op:N``), select and centre it."""
        if self.loaded is None:
            return False
        op_name = name.rsplit(":", 1)[0] if ":" in name else name
        if op_name not in self.loaded.graph.ops:
            return False
        state = self.state
        if not state.show_training and self._is_machinery(op_name):
            # A selection never flips the toggle (a range over hidden ops made a hairball).
            self.status.setText(f"{op_name} is a training op, hidden; the Training ops "
                                "button shows it")
            return False
        if state.focus is not None:
            state = ViewState(state.expanded, state.show_training, op_name, state.hops)
        else:
            needed = self._layouter.scoped.scopes_to_reveal(op_name, state.show_training)
            state = ViewState(state.expanded | needed, state.show_training, None, state.hops)
        if self.layout_data is not None \
                and self.layout_data.state == self._layouter.scoped.normalize(state) \
                and op_name in self.layout_data.nodes:
            if self.scene.selected_op() != op_name:  # a click in the view coming back: stay
                self._show_selected(op_name)
        else:
            self._pending_select = op_name
            self.state = state
            self._request()
        return True

    def set_show_training(self, show: bool) -> None:
        self._set_checked(self.training_action, show)
        if self.state.show_training != show:
            self.state = ViewState(self.state.expanded, show, self.state.focus, self.state.hops)
            self._request()

    def set_hops(self, hops: int) -> None:
        if self.hops_spin.value() != hops:
            self.hops_spin.setValue(hops)  # comes back here through valueChanged
            return
        if self.state.hops != hops:
            self.state = ViewState(self.state.expanded, self.state.show_training,
                                   self.state.focus, hops)
            if self.state.focus is not None:
                self._request()

    def show_neighbourhood(self, op_name: str | None) -> None:
        """Neighbourhood mode around ``op_name``; None goes back to the scoped graph."""
        self._set_checked(self.neighbourhood_action, op_name is not None)
        self.state = ViewState(self.state.expanded, self.state.show_training, op_name,
                               self.hops_spin.value())
        self._fit_next = True
        self._pending_select = op_name
        if self.loaded is not None:
            self._request()

    def toggle_scope(self, path: str) -> None:
        """Expand a collapsed scope or collapse an expanded one (inner expansions kept)."""
        expanded = self.state.expanded
        expanded = expanded - {path} if path in self._shown_expanded() else expanded | {path}
        self.state = ViewState(expanded, self.state.show_training, None, self.state.hops)
        self._centre_on = path + "/"
        self._request()

    def export_image(self, path: Path) -> None:
        """Write the current picture as SVG or PNG (by suffix); raises SignetError."""
        title = self.loaded.checkpoint.name if self.loaded is not None else ""
        write_image(self.scene, Path(path), title=f"{title} graph")

    def export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export graph", "graph.svg",
                                              "SVG picture (*.svg);;PNG image (*.png)")
        if not path:
            return
        try:
            self.export_image(Path(path))
        except SignetError as exc:
            self.status.setText(str(exc))
        else:
            self.status.setText(f"Saved {Path(path).name}")

    def shutdown(self) -> None:
        self._runner.shutdown()

    # Layout in a worker -------------------------------------------------------------------

    def _request(self) -> None:
        if self.loaded is None:
            return
        state, loaded, layouter = self.state, self.loaded, self._layouter

        def job(task: TaskState):
            with self._lock:
                marks = highlights_of(loaded)
                return marks, layouter.layout(state, cancelled=task.is_cancelled)

        self.status.setText("Laying out…")
        task = self._runner.start(job, "graph-layout")
        task.succeeded.connect(lambda result, t=task: self._laid_out(t, loaded, result))
        task.failed.connect(lambda exc, t=task: self._failed(t, exc))
        task.start()

    def _laid_out(self, task, loaded: LoadedCheckpoint, result) -> None:
        if not self._runner.is_current(task) or loaded is not self.loaded:
            return
        marks, layout = result
        self.scene.highlights = marks
        self.layout_data = layout
        self._syncing = True
        try:
            self.scene.show_layout(layout)
        finally:
            self._syncing = False
        ops = sum(n.op_count for n in layout.nodes.values() if not n.expanded)
        self.status.setText(f"{len(layout.nodes):,} nodes · {ops:,} ops · "
                            f"{len(layout.edges):,} edges")
        self.view.overview_map.refresh()
        if self._fit_next:
            self._fit_next = False
            self.view.open_readable(self._inputs_end(layout))
        if self._centre_on is not None:
            item = self.scene.item_for(self._centre_on)
            if item is not None:
                self.view.centerOn(item)
            self._centre_on = None
        if self._pending_select is not None:
            name, self._pending_select = self._pending_select, None
            self._show_selected(name)
        self.layoutShown.emit()

    def _failed(self, task, exc: BaseException) -> None:
        if self._runner.is_current(task):
            message = str(exc) or type(exc).__name__
            self.status.setText(f"Layout failed: {message}")
            self.layoutFailed.emit(message)

    # Selection ----------------------------------------------------------------------------

    def _show_selected(self, op_name: str) -> None:
        item = self.scene.item_for(op_name)
        if item is None:
            return
        self._syncing = True
        try:
            self.scene.clearSelection()
            item.setSelected(True)
        finally:
            self._syncing = False
        if self.view.zoom() < 0.6:
            self.view.zoom_by(0.8 / self.view.zoom())
        self.view.centerOn(item)

    def selected_op(self) -> str | None:
        return self.scene.selected_op()

    def _selection_changed(self) -> None:
        if self._syncing:
            return
        name = self.scene.selected_op()
        if name is not None:
            self.opSelected.emit(name)

    # Context menu -------------------------------------------------------------------------

    def _context_menu(self, pos: QPoint) -> None:
        menu = self.context_menu(self.view.mapToScene(pos))
        menu.exec(self.view.viewport().mapToGlobal(pos))

    def context_menu(self, scene_pos: QPointF) -> QMenu:
        """The menu for whatever is under ``scene_pos`` (built, not shown: tests use it)."""
        menu = QMenu(self)
        node = None
        for item in self.scene.items(scene_pos):
            node = getattr(item, "node", None)
            if node is not None:
                break
        if node is not None and node.op is not None and self.loaded is not None:
            op = self.loaded.graph.ops[node.op]
            for side, text in (("inputs", "Add as input"), ("outputs", "Add as output")):
                if len(op.outputs) == 1:
                    act = menu.addAction(text)
                    act.triggered.connect(
                        lambda _=False, t=op.outputs[0].name, s=side:
                        self.addTensorRequested.emit(t, s))
                elif op.outputs:
                    sub = menu.addMenu(text)
                    for tensor in op.outputs[:16]:
                        act = sub.addAction(f"{tensor.name}  {tensor.dtype} {tensor.shape_text}")
                        act.triggered.connect(
                            lambda _=False, t=tensor.name, s=side:
                            self.addTensorRequested.emit(t, s))
            menu.addSeparator()
            near = menu.addAction("Show neighbourhood")
            near.triggered.connect(lambda _=False, n=op.name: self.show_neighbourhood(n))
        elif node is not None and node.is_scope:
            text = "Collapse" if node.expanded else "Expand"
            act = menu.addAction(f"{text} {node.id[:-1]}" + (" series" if node.is_series else "/"))
            act.triggered.connect(lambda _=False, p=node.id[:-1]: self.toggle_scope(p))
        if self.state.focus is not None:
            back = menu.addAction("Back to the whole graph")
            back.triggered.connect(lambda: self.show_neighbourhood(None))
        menu.addSeparator()
        menu.addAction(self.fit_action)
        png = menu.addAction("Export view as PNG…")
        png.triggered.connect(lambda: self._export_as(".png"))
        svg = menu.addAction("Export view as SVG…")
        svg.triggered.connect(lambda: self._export_as(".svg"))
        for act in (png, svg):
            act.setEnabled(self.layout_data is not None)
        return menu

    def _export_as(self, suffix: str) -> None:
        kind = "SVG picture (*.svg)" if suffix == ".svg" else "PNG image (*.png)"
        path, _ = QFileDialog.getSaveFileName(self, "Export graph", "graph" + suffix, kind)
        if path:
            try:
                self.export_image(Path(path).with_suffix(suffix))
            except SignetError as exc:
                self.status.setText(str(exc))

    # Helpers ------------------------------------------------------------------------------

    def _neighbourhood_toggled(self, on: bool) -> None:
        if on == (self.state.focus is not None):
            return
        if not on:
            self.show_neighbourhood(None)
            return
        focus = self.scene.selected_op() or self._default_focus()
        self.show_neighbourhood(focus)

    def _default_focus(self) -> str | None:
        if self.loaded is None:
            return None
        served = served_tensors(self.loaded)
        for tensor in served["output"] + served["input"]:
            return tensor.rsplit(":", 1)[0]
        return next(iter(self.loaded.graph.ops), None)

    def _inputs_end(self, layout: GraphLayout) -> QPointF | None:
        """Top centre of the node standing for the first proposed input, if shown."""
        if self.loaded is None or self._layouter is None:
            return None
        for tensor in served_tensors(self.loaded)["input"]:
            node = self._layouter.node_for_op(layout, tensor.rsplit(":", 1)[0])
            if node is not None:
                x, y, w, _h = layout.boxes[node]
                return QPointF(x + w / 2, y)
        return None

    def _shown_expanded(self) -> frozenset[str]:
        shown = self.layout_data.state.expanded if self.layout_data is not None else frozenset()
        return shown & self.state.expanded

    def _is_machinery(self, op_name: str) -> bool:
        return is_training_op(self.loaded.graph.ops[op_name])

    @staticmethod
    def _set_checked(action: QAction, on: bool) -> None:
        blocked = action.blockSignals(True)
        action.setChecked(on)
        action.blockSignals(blocked)



def install_graph_panel(window) -> GraphPanel:
    """Put a `GraphPanel` in the centre of ``window`` (a `MainWindow`) and sync it.

    Selection goes both ways: an op selected in the tree (``window.opSelected``)
    is revealed and centred in the view; an op clicked in the view is selected
    in the tree through ``window.select_op``, which also shows its details.
    """
    panel = GraphPanel(window)
    window.set_graph_panel(panel)
    window.checkpointLoaded.connect(panel.set_checkpoint)
    window.checkpointClosed.connect(lambda: panel.set_checkpoint(None))
    window.opSelected.connect(panel.select_op)
    panel.opSelected.connect(window.select_op)
    panel.addTensorRequested.connect(
        lambda tensor, side: window.addTensorRequested.emit(tensor, side.rstrip("s")))
    window.rewrittenOpsChanged.connect(panel.scene.set_rewritten)
    window.shuttingDown.connect(panel.shutdown)  # joins the layout thread
    if window.loaded is not None:
        panel.set_checkpoint(window.loaded)
    _add_file_menu_export(window, panel)
    window.graph_panel = panel
    return panel


def _add_file_menu_export(window, panel: GraphPanel) -> None:
    """File › Export Graph Picture…, above the menu's last separator (before Quit)."""
    for entry in window.menuBar().actions():
        menu = entry.menu()
        if menu is None or menu.title().replace("&", "") != "File":
            continue
        export = QAction("Export &Graph Picture…", window)
        export.setEnabled(panel.export_action.isEnabled())
        export.triggered.connect(panel.export_dialog)
        panel.export_action.changed.connect(
            lambda export=export: export.setEnabled(panel.export_action.isEnabled()))
        separators = [a for a in menu.actions() if a.isSeparator()]
        menu.insertAction(separators[-1] if separators else None, export)
        panel.file_export_action = export
        return

