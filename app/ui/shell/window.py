"""The main window: docks around the graph view, the File menu, and loading in a thread.

Surface for the other panels (graph view, signature editor):

- signal ``checkpointLoaded(LoadedCheckpoint)`` after a checkpoint opened;
  ``checkpointClosed()`` when it is closed;
- signal ``opSelected(str)`` with an op name when the tree selection changes;
- slot `MainWindow.select_op` (name of an op or ``op:N`` tensor) selects it in
  the tree, expanding scopes and scrolling;
- signal ``addTensorRequested(tensor_name, side)`` from the tree's context menu,
  side ``"input"`` or ``"output"``;
- signals the signature editor emits for the others: ``draftChanged(Draft)``
  after every edit (the Try-it panel follows it), ``rewrittenOpsChanged(set)``
  (the graph marks the ops the export rewrites), ``exportDialogOpened(dialog)``
  and ``presetSaved(path)`` (the export log writes them down);
- signal ``shuttingDown()``: panels stop and join their threads (none may
  outlive the window);
- `MainWindow.set_graph_panel` and `MainWindow.set_signature_panel` put the
  panels in the centre and in the right dock.
- `MainWindow.new_export_dialog` and `MainWindow.ask_cancel_export` let the
  signature editor export without importing the export room.

Nothing imported here imports TensorFlow: the window is on screen first, and
TensorFlow is warmed up in a background thread afterwards.
"""

from __future__ import annotations

import gc
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core import tf_runtime
from app.core.errors import SignetError
from app.ui.browse.details import DetailsPanel
from app.ui.browse.op_tree import OpTreePanel
from app.ui.browse.summary import SummaryPanel
from app.ui.browse.tree_model import TreeOrder
from app.ui.common.paths import abbreviate_home
from app.ui.common.settings import WINDOW_STATE_VERSION, AppSettings
from app.ui.common.workers import Task, TaskRunner, TaskState
from app.ui.shell.about import AboutDialog
from app.ui.shell.empty_state import EmptyState

APP_NAME = "Signet"


def window_title(checkpoint) -> str:
    """``model.ckpt-200 (step 200) — skip_thoughts — Signet``."""
    if checkpoint is None:
        return APP_NAME
    if checkpoint.directory.name == checkpoint.name == "variables":  # a SavedModel
        version = checkpoint.directory.parent
        return f"{version.name} (SavedModel) — {version.parent.name} — {APP_NAME}"
    step = f" (step {checkpoint.step})" if checkpoint.step is not None else ""
    return f"{checkpoint.name}{step} — {checkpoint.directory.name} — {APP_NAME}"


_gc_frozen = threading.Lock()


def _import_tensorflow() -> str:
    """Import TensorFlow, then move everything alive into the GC's permanent generation.

    TensorFlow's modules make about a million tracked objects that live forever;
    left in the collector's view, every full collection walks them and freezes
    both threads for about a second, often in the middle of opening a checkpoint.
    Opening never waits for it (a graph is read without TensorFlow); a model
    frozen with them is still freed by reference counting (see `_collector_paused`).
    """
    from app.core.tf_runtime import tensorflow

    version = tensorflow().__version__
    if _gc_frozen.acquire(blocking=False):
        gc.freeze()
    return version


_paused = 0
_paused_lock = threading.Lock()


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Keep the cyclic GC off while a model is built, then freeze what was built.

    A model of a 10k-op graph is ~130k objects; collections triggered by building
    it would walk them with the GIL held (~100 ms each, a visible stall of the UI
    thread). The model has no reference cycles (see `OpGraph`), so once frozen it
    is still freed by reference counting when the window lets go of it.
    """
    global _paused
    with _paused_lock:
        _paused += 1
        gc.disable()
    try:
        yield
    finally:
        with _paused_lock:
            _paused -= 1
            if _paused == 0:
                gc.freeze()
                gc.enable()


def _load_job(target):
    """The worker-thread job: open ``target`` (a path or a `Checkpoint`) with everything the
    panels need computed off the UI thread."""

    def job(state: TaskState):
        from app.core.loader import load_checkpoint
        from app.core.proposal import propose

        with _collector_paused():
            loaded = load_checkpoint(target, progress=state.progress,
                                     cancelled=state.is_cancelled)
            loaded.search_index.index_pieces()  # the search box searches every keystroke
            # The signature editor starts with the proposal, and validation reads its
            # labels after every edit (a SavedModel's graph too).
            propose(loaded.graph)
            order = TreeOrder(loaded.graph)
        return loaded, order

    return job


def _warm_up(state: TaskState) -> str:
    return _import_tensorflow()


class ErrorBanner(QFrame):
    """A dismissible message across the top of the centre, with details on demand."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("errorBanner")
        self.setStyleSheet("#errorBanner { background: #fde2e1; border: 1px solid #e0a3a0; }"
                           "#errorBanner QLabel { color: #5a1210; }")
        self.message = QLabel(wordWrap=True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details = QPlainTextEdit(readOnly=True)
        self.details.setMaximumHeight(160)
        self.details.hide()
        self.details_button = QPushButton("Details", checkable=True)
        self.details_button.toggled.connect(self.details.setVisible)
        close = QToolButton(text="✕", toolTip="Dismiss")
        close.clicked.connect(self.hide)
        top = QHBoxLayout()
        top.addWidget(self.message, 1)
        top.addWidget(self.details_button)
        top.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.details)
        self.hide()

    def show_error(self, message: str, details: str) -> None:
        self.message.setText(message)
        self.details.setPlainText(details)
        self.details_button.setChecked(False)
        self.details_button.setVisible(bool(details))
        self.show()


class MainWindow(QMainWindow):
    checkpointLoaded = Signal(object)  # LoadedCheckpoint
    checkpointClosed = Signal()
    loadFailed = Signal(str)  # the one-line message shown to the user
    opSelected = Signal(str)
    addTensorRequested = Signal(str, str)  # tensor name, "input" | "output"
    draftChanged = Signal(object)  # the signature editor's Draft, after each change
    rewrittenOpsChanged = Signal(object)  # set[str]: the ops the export rewrites
    exportDialogOpened = Signal(object)  # a new Export dialog
    presetSaved = Signal(str)  # the preset file written
    shuttingDown = Signal()  # panels stop their threads now
    tensorflowSaid = Signal(str)  # a line TensorFlow wrote, kept off the console (any thread)

    def __init__(self, settings: AppSettings | None = None, warm_up: bool = True) -> None:
        super().__init__()
        self.settings = settings or AppSettings()
        self.loaded = None  # the open LoadedCheckpoint
        self.loading_path: str | None = None
        self.tensorflow_version: str | None = None
        self.runner = TaskRunner(self)
        self._warm_runner = TaskRunner(self)
        self._warm_up_wanted = warm_up
        self._warm_up_pending = False
        self._load_started = 0.0
        self.setWindowTitle(APP_NAME)
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        self.resize(1280, 800)

        self._build_centre()
        self._build_docks()
        self._build_actions()
        self._build_status()
        self.restore_layout()
        self._refresh_recent()
        self._show_loaded(None)
        self.tensorflowSaid.connect(lambda line: self.log_message(f"TensorFlow: {line}"))
        tf_runtime.on_tensorflow_line(self.tensorflowSaid.emit)

    # Construction -------------------------------------------------------------------------

    def _build_centre(self) -> None:
        self.banner = ErrorBanner()
        self.empty_state = EmptyState()
        self.empty_state.openRequested.connect(self.open_dialog)
        self.empty_state.demoRequested.connect(self.open_demo)
        self.empty_state.recentRequested.connect(self.open_path)
        self.graph_placeholder = QLabel("The graph view appears here.",
                                        alignment=Qt.AlignmentFlag.AlignCenter)
        self.graph_placeholder.setObjectName("graphPlaceholder")
        self.centre = QStackedWidget()
        self.centre.addWidget(self.empty_state)
        self.centre.addWidget(self.graph_placeholder)
        holder = QWidget()
        layout = QVBoxLayout(holder)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.banner)
        layout.addWidget(self.centre, 1)
        self.setCentralWidget(holder)

    def _dock(self, title: str, name: str, widget: QWidget,
              area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)  # saveState/restoreState key
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_docks(self) -> None:
        left, right = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
        self.tree = OpTreePanel(self.settings)
        self.tree.opSelected.connect(self._op_selected)
        self.tree.addTensorRequested.connect(self.addTensorRequested)
        self.tree_dock = self._dock("Ops", "opsDock", self.tree, left)
        self.details = DetailsPanel()
        self.details.navigate.connect(self.select_op)
        self.details_dock = self._dock("Details", "detailsDock", self.details, left)
        self.summary = SummaryPanel()
        self.summary.navigate.connect(self.select_op)
        self.summary_dock = self._dock("Checkpoint", "summaryDock", self.summary, right)
        self.signature_placeholder = QLabel("The signature editor appears here.",
                                            alignment=Qt.AlignmentFlag.AlignCenter)
        self.signature_dock = self._dock("Signature", "signatureDock",
                                         self.signature_placeholder, right)
        self.log = QPlainTextEdit(readOnly=True)
        self.log.setObjectName("log")
        self.log.setMaximumBlockCount(2000)
        self.log_dock = self._dock("Log", "logDock", self.log,
                                   Qt.DockWidgetArea.BottomDockWidgetArea)
        self.splitDockWidget(self.tree_dock, self.details_dock, Qt.Orientation.Vertical)
        # At 1280×800 a Checkpoint dock above the Signature dock showed four lines of each:
        # the side columns run the window's full height, the Log sits under the graph
        # only, and Checkpoint is a tab beside Signature (Try It and History join them).
        self.setCorner(Qt.Corner.BottomLeftCorner, left)
        self.setCorner(Qt.Corner.BottomRightCorner, right)
        self.tabifyDockWidget(self.summary_dock, self.signature_dock)
        self._default_dock_sizes()

    def _default_dock_sizes(self) -> None:
        """The docks' default share of the window: a third on each side (the Ops tree's
        columns and the signature tables fit at 1280 px), the Ops tree above its Details,
        a short Log."""
        width, height = self.width(), self.height()
        side = max(260, min(440, width // 3))
        self.resizeDocks([self.tree_dock, self.summary_dock], [side, side],
                         Qt.Orientation.Horizontal)
        self.resizeDocks([self.tree_dock, self.details_dock],
                         [height * 11 // 20, height * 9 // 20], Qt.Orientation.Vertical)
        self.resizeDocks([self.log_dock], [max(80, height // 7)], Qt.Orientation.Vertical)

    def _build_actions(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_action = QAction("&Open Checkpoint…", self,
                                   shortcut=QKeySequence.StandardKey.Open)
        self.open_action.triggered.connect(self.open_dialog)
        file_menu.addAction(self.open_action)
        self.recent_menu = QMenu("Open &Recent", self)
        file_menu.addMenu(self.recent_menu)
        self.demo_action = QAction("Open the &Demo", self, triggered=self.open_demo)
        file_menu.addAction(self.demo_action)
        self.versions_action = QAction("Open Model &Versions…", self,
                                       triggered=self.open_versions_dialog)
        file_menu.addAction(self.versions_action)
        self.close_action = QAction("&Close", self, shortcut=QKeySequence.StandardKey.Close,
                                    triggered=self.close_checkpoint)
        file_menu.addAction(self.close_action)
        file_menu.addSeparator()
        self.quit_action = QAction("&Quit", self, shortcut=QKeySequence("Ctrl+Q"),
                                   triggered=self.close)
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        # Ctrl+Q also from the Export dialog (its own window), where a user waits on an export.
        self.quit_action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        file_menu.addAction(self.quit_action)

        view_menu = self.menuBar().addMenu("&View")
        for dock in (self.tree_dock, self.details_dock, self.summary_dock,
                     self.signature_dock, self.log_dock):
            view_menu.addAction(dock.toggleViewAction())
        find = QAction("&Find Op", self, shortcut=QKeySequence.StandardKey.Find,
                       triggered=self._find)
        view_menu.addAction(find)

        help_menu = self.menuBar().addMenu("&Help")
        self.about_action = QAction("&About Signet", self, triggered=self.show_about)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        help_menu.addAction(self.about_action)

        toolbar = QToolBar("Checkpoint")
        toolbar.setObjectName("checkpointToolbar")
        toolbar.addAction(self.open_action)
        self.step_label = QLabel(" Step: ")
        self.step_combo = QComboBox()
        self.step_combo.setObjectName("stepCombo")
        self.step_combo.setToolTip("Other steps saved in this folder")
        self.step_combo.activated.connect(self._step_chosen)
        self._step_label_action = toolbar.addWidget(self.step_label)
        self._step_action = toolbar.addWidget(self.step_combo)
        self.addToolBar(toolbar)

    def _build_status(self) -> None:
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setMaximumWidth(220)
        self.progress_label = QLabel()
        self.cancel_button = QToolButton(text="Cancel")
        self.cancel_button.clicked.connect(self.cancel_loading)
        self.tensorflow_label = QLabel("Loading TensorFlow…")
        self.tensorflow_label.setToolTip("TensorFlow loads in the background for exports; the "
                                         "graph, search and signatures do not need it")
        self.tensorflow_label.hide()
        for widget in (self.progress_label, self.progress, self.cancel_button,
                       self.tensorflow_label):
            self.statusBar().addPermanentWidget(widget)
        self._set_busy(False)

    def _find(self) -> None:
        self.tree_dock.show()
        self.tree.focus_search()

    # Panels from other issues -------------------------------------------------------------

    def set_graph_panel(self, widget: QWidget) -> None:
        """Put the graph view in the centre (shown whenever a checkpoint is open)."""
        self.centre.removeWidget(self.graph_placeholder)
        self.graph_placeholder.deleteLater()
        self.graph_placeholder = widget
        self.centre.addWidget(widget)
        self.centre.setCurrentWidget(widget if self.loaded is not None else self.empty_state)

    def set_signature_panel(self, widget: QWidget) -> None:
        """Put the signature editor in the right dock."""
        old = self.signature_dock.widget()
        self.signature_dock.setWidget(widget)
        if old is not None:
            old.deleteLater()

    # Exports for the signature editor (its `ExportHost`: it imports no export internals) --

    def new_export_dialog(self, loaded, draft):
        """A new Export dialog over this window (imported on first use: it is not needed
        to show the window)."""
        from app.ui.export.dialog import ExportDialog

        dialog = ExportDialog(loaded, draft, self)
        dialog.result_view.versionsRequested.connect(self.open_versions)
        return dialog

    def ask_cancel_export(self) -> bool:
        """Whether to cancel the running export and close the window."""
        from app.ui.export import dialog

        return dialog.ask_cancel_export(self)

    # Opening ------------------------------------------------------------------------------

    def open_dialog(self) -> None:
        from app.ui.shell import open_dialog
        recent = self.settings.recent()
        start = str(recent[0].parent) if recent else str(Path.home())
        path = open_dialog.ask_checkpoint(self, start)
        if path is not None:
            self.open_path(path)

    def open_versions_dialog(self) -> None:
        """File › Open Model Versions…: a model folder (``BASE/NAME``) in its own window."""
        from PySide6.QtWidgets import QFileDialog

        folder = QFileDialog.getExistingDirectory(self, "Model folder (BASE/NAME)")
        if folder:
            self.open_versions(folder)

    def open_versions(self, model_folder) -> None:
        """The Versions window of ``model_folder`` (from File, or an export's result)."""
        from app.ui.versions import open_versions

        open_versions(model_folder, self)

    def open_demo(self) -> None:
        from app.demo import demo_checkpoint

        self.open_path(demo_checkpoint())

    def open_path(self, path, remember: bool = True) -> Task:
        """Open a checkpoint (folder, prefix, file or `Checkpoint`) in a worker thread.

        A load already running is cancelled; its result, if any, is ignored.
        """
        label = str(getattr(path, "prefix", path))
        self.loading_path = label
        self._log(f"Opening {label}")
        task = self.runner.start(_load_job(path), name="signet-open")
        task.progressed.connect(lambda f, m: self._progress(task, f, m))
        task.succeeded.connect(lambda result: self._loaded(task, *result, remember))
        task.failed.connect(lambda exc: self._failed(task, label, exc))
        task.cancelled.connect(lambda: self._log(f"Cancelled opening {label}"))
        task.finished.connect(lambda: self._set_busy(self.runner.busy()))
        task.finished.connect(self._start_warm_up_when_idle)
        self._load_started = time.perf_counter()
        self._set_busy(True, "Opening…")
        task.start()
        return task

    def cancel_loading(self) -> None:
        self.runner.cancel()
        self._set_busy(False)

    def close_checkpoint(self) -> None:
        self.runner.cancel()
        if self.loaded is not None:
            self._log(f"Closed {self.loaded.checkpoint.prefix}")
        self._show_loaded(None)
        self.checkpointClosed.emit()

    def _progress(self, task: Task, fraction: float, message: str) -> None:
        if self.runner.is_current(task):
            self.progress.setValue(int(fraction * 100))
            self.progress_label.setText(message)

    def _loaded(self, task: Task, loaded, order: TreeOrder, remember: bool) -> None:
        if not self.runner.is_current(task):
            return
        self.runner.current = None
        seconds = time.perf_counter() - self._load_started
        self._log(f"Opened {loaded.checkpoint.prefix} ({len(loaded.graph):,} ops) "
                  f"in {seconds:.2f} s")
        self.banner.hide()
        if remember:
            # Remembered as the user chose it (folder or file); a bare prefix by its .index.
            chosen = self.loading_path is not None and Path(self.loading_path).exists()
            self.settings.add_recent(self.loading_path if chosen else loaded.files.index)
            self._refresh_recent()
        self._show_loaded(loaded, order)
        self.checkpointLoaded.emit(loaded)

    def _failed(self, task: Task, label: str, exc: BaseException) -> None:
        if not self.runner.is_current(task):
            return
        self.runner.current = None
        if isinstance(exc, SignetError):
            message = str(exc)
        else:
            message = f"{label}: could not open ({type(exc).__name__}: {exc})"
        details = "".join(traceback.format_exception(exc))
        self._log(f"Error: {message}")
        kept = (f" — still showing {self.loaded.checkpoint.name}"
                if self.loaded is not None else "")
        self.banner.show_error(message + kept, details)
        self.loadFailed.emit(message)

    def _show_loaded(self, loaded, order: TreeOrder | None = None) -> None:
        self.loaded = loaded
        self.setWindowTitle(window_title(loaded.checkpoint if loaded is not None else None))
        self.tree.set_checkpoint(loaded, order)
        self.details.set_checkpoint(loaded)
        self.summary.set_checkpoint(loaded)
        self.centre.setCurrentWidget(self.graph_placeholder if loaded is not None
                                     else self.empty_state)
        self.close_action.setEnabled(loaded is not None)
        self.step_combo.clear()
        steps = loaded.checkpoint.steps if loaded is not None else []
        for step in steps:
            self.step_combo.addItem(f"{step}", step)
        if loaded is not None and loaded.checkpoint.step in steps:
            self.step_combo.setCurrentIndex(steps.index(loaded.checkpoint.step))
        several = len(steps) > 1
        self._step_action.setVisible(several)
        self._step_label_action.setVisible(several)

    def _step_chosen(self, row: int) -> None:
        if self.loaded is None:
            return
        step = self.step_combo.itemData(row)
        if step is not None and step != self.loaded.checkpoint.step:
            self.open_path(self.loaded.checkpoint.at_step(step), remember=False)

    def _set_busy(self, busy: bool, message: str = "") -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.progress_label.setText(message if busy else "")
        if busy:
            self.progress.setValue(0)

    def _log(self, line: str) -> None:
        self.log_message(abbreviate_home(line))

    def log_message(self, line: str) -> None:
        """Add a time-stamped line to the Log dock as given (for the other panels; paths in
        commands to paste stay absolute)."""
        self.log.appendPlainText(f"{time.strftime('%H:%M:%S')}  {line}")

    # Selection ----------------------------------------------------------------------------

    def select_op(self, name: str) -> bool:
        """Select an op (or ``op:N`` tensor) in the tree, expanding scopes and scrolling."""
        found = self.tree.select_op(name)
        if not found:
            self.statusBar().showMessage(f"{name}: not in the main graph", 4000)
        return found

    def _op_selected(self, name: str) -> None:
        self.details.show_op(name)
        self.opSelected.emit(name)

    # Recent files and layout --------------------------------------------------------------

    def _refresh_recent(self) -> None:
        recent = self.settings.recent()
        self.recent_menu.clear()
        for path in recent:
            self.recent_menu.addAction(str(path), lambda p=path: self.open_path(p))
        if recent:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear Recent", self._clear_recent)
        self.recent_menu.setEnabled(bool(recent))
        self.empty_state.set_recent(recent)

    def _clear_recent(self) -> None:
        self.settings.clear_recent()
        self._refresh_recent()

    def restore_layout(self) -> None:
        """Restore the saved geometry and dock layout (again after adding docks).

        Saved on a bigger screen, Qt moves and sizes the window onto this one and shares
        the width out between the docks and the graph (tests/ui/shell/test_layout.py).
        """
        geometry = self.settings.window_geometry()
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = self.settings.window_state()
        if state is not None:
            self.restoreState(state, WINDOW_STATE_VERSION)

    # About --------------------------------------------------------------------------------

    def show_about(self) -> AboutDialog:
        dialog = AboutDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    # Start-up and shutdown ----------------------------------------------------------------

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._warm_up_wanted:
            self._warm_up_wanted = False
            self._warm_up_pending = True
            self.tensorflow_label.show()
            QTimer.singleShot(0, self._start_warm_up_when_idle)

    def _start_warm_up_when_idle(self) -> None:
        """Import TensorFlow in the background once no checkpoint is opening.

        Opening needs no TensorFlow, and its import would share the GIL with the
        opening thread; started after it, the first graph is on screen sooner.
        """
        if not self._warm_up_pending or self.runner.busy():
            return
        self._warm_up_pending = False
        task = self._warm_runner.start(_warm_up, name="signet-tf-warm-up")
        task.succeeded.connect(lambda version: self._warmed_up(task, version))
        task.failed.connect(self._warm_up_failed)
        task.start()

    def _warmed_up(self, task: Task, version: str) -> None:
        if not self._warm_runner.is_current(task):  # shut down meanwhile: warm nothing
            return
        self.tensorflow_version = version
        self.tensorflow_label.hide()
        self._log(f"TensorFlow {version} ready")
        from app.ui.export import process as export_process
        export_process.prewarm()  # an export then skips the TensorFlow import

    def _warm_up_failed(self, exc: BaseException) -> None:
        self.tensorflow_label.setText("TensorFlow is not available: exports cannot run")
        self._log(f"TensorFlow is not available: {exc}")

    def shutdown(self) -> None:
        """Cancel and wait for every worker thread (none may outlive the window)."""
        self.shuttingDown.emit()
        tf_runtime.on_tensorflow_line(None)
        self.runner.shutdown()
        self._warm_runner.shutdown()
        from app.ui.export import process as export_process
        export_process.stop_warm()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.settings.save_window(self.saveGeometry(), self.saveState(WINDOW_STATE_VERSION))
        self.shutdown()
        super().closeEvent(event)

    # Drag and drop of checkpoint folders and files ----------------------------------------

    @staticmethod
    def _dropped_path(event: QDragEnterEvent | QDropEvent) -> Path | None:
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        local = [Path(u.toLocalFile()) for u in urls if u.isLocalFile()]
        return local[0] if local else None

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._dropped_path(event) is not None:
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        if self._dropped_path(event) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        path = self._dropped_path(event)
        if path is not None:
            event.acceptProposedAction()
            self.open_path(path)

