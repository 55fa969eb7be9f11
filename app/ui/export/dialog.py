"""The Export dialog: where to publish, then the core engine in a worker thread.

The engine (`app.core.export.export_model`) runs with the dialog's copy of the
draft in a child process supervised by a worker `Task` (app.ui.export.process),
reporting each stage to the progress bar and the log; Cancel cancels the task, and
the engine checks that at every stage (it publishes nothing when cancelled or failing).
The window stays usable meanwhile: the dialog is modeless and nothing heavy runs
on the UI thread or holds its GIL.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import SignetError, error_line
from app.core.signature.draft import Draft
from app.ui.common.workers import Task, TaskRunner, TaskState
from app.ui.export.process import cancel_flag
from app.ui.export.result import ExportResultView


def export_job(draft: Draft, loaded, started: Callable[[int], None] | None = None,
               hold=None):
    """The worker-thread job: the engine in a child process (app.ui.export.process),
    stopped by cancelling the task's state (`run_export` relays it to the process)."""

    def job(state: TaskState):
        from app.ui.export.process import run_export

        return run_export(draft, loaded.checkpoint.prefix, state, cancel_flag(), started,
                          hold)

    return job


def ask_cancel_export(parent: QWidget) -> bool:
    """Whether to cancel the running export and close the window."""
    return _ask(parent, "An export is still running. Cancel it (nothing will be published) "
                        "and close?")


def ask_stop_export(parent: QWidget) -> bool:
    """Whether to cancel the running export (Escape or the dialog's close button)."""
    return _ask(parent, "Cancel the running export? Nothing will be published.")


def _ask(parent: QWidget, question: str) -> bool:
    """Yes or No (the default) about the running export."""
    answer = QMessageBox.question(
        parent, "Export running", question,
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


def plain_error(exc: BaseException) -> str:
    """The user-facing words for an export failure."""
    if isinstance(exc, SignetError):
        return str(exc)
    return (f"the export failed unexpectedly ({type(exc).__name__}: {error_line(exc)}); "
            "nothing was published")


class ExportDialog(QDialog):
    """Options form, progress, log, and the result or the error."""

    exportSucceeded = Signal(object)  # ExportResult
    exportFailed = Signal(str)  # the message shown
    exportCancelled = Signal()

    def __init__(self, loaded, draft: Draft, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export SavedModel")
        self.setObjectName("exportDialog")
        self.loaded = loaded
        self.draft = draft.copy()
        self.runner = TaskRunner(self)
        self.task: Task | None = None
        self._hold = cancel_flag()  # set while the user is asked whether to cancel
        self.child_pid: int | None = None  # the export process, while one runs
        self._outcome: tuple | None = None  # (signal, args) to emit when the thread ends
        self.result = None
        self._started = 0.0
        self._last_message = ""
        opts = self.draft.options

        self.base = QLineEdit(opts.base or str(Path.home() / "models"))
        browse = QPushButton("Browse…", clicked=self._browse)
        base_row = QHBoxLayout()
        base_row.addWidget(self.base, 1)
        base_row.addWidget(browse)
        self.name = QLineEdit(opts.name or loaded.checkpoint.directory.name)
        self.version = QSpinBox(minimum=1, maximum=2_000_000_000)
        self.version.setToolTip("The next free version is proposed; an existing one is refused")
        # Serving-only is the default: the box keeps what only training uses.
        self.keep_training = QCheckBox(
            "Keep training state (optimizer slots, gradients, summaries)",
            checked=not opts.strip_training)
        self.keep_training.setToolTip("Off: the SavedModel holds only what the signatures "
                                      "need. On: everything the checkpoint's graph holds, "
                                      "which the checkpoint must then have values for")
        self.verify = QCheckBox("Verify the SavedModel against the checkpoint",
                                checked=opts.verify)
        self.warmup = QCheckBox("Write warmup requests for TensorFlow Serving (replayed first)",
                                checked=opts.warmup)
        self.samples = QLineEdit(opts.samples)
        self.samples.setObjectName("exportSamples")
        self.samples.setPlaceholderText("none: drawn from the training pipeline, or synthetic")
        self.samples.setToolTip("Real examples to verify on and replay as warmup: a REST "
                                "predict body (Try It's \"Save as samples…\"), an .npz "
                                "keyed by input, or a TFRecord of tf.Example")
        samples_row = QHBoxLayout()
        samples_row.addWidget(self.samples, 1)
        samples_row.addWidget(QPushButton("Browse…", clicked=self._browse_samples))
        form = QFormLayout()
        form.addRow("Base folder:", base_row)
        form.addRow("Model name:", self.name)
        form.addRow("Version:", self.version)
        form.addRow("", self.keep_training)
        form.addRow("", self.verify)
        form.addRow("", self.warmup)
        form.addRow("Samples…:", samples_row)
        self.form = QWidget()
        self.form.setLayout(form)
        self.base.textChanged.connect(self.propose_version)
        self.name.textChanged.connect(self.propose_version)
        self.propose_version()

        self.stage = QLabel("Ready.")
        self.stage.setObjectName("exportStage")
        self.progress = QProgressBar(minimum=0, maximum=100, value=0)
        self.log = QPlainTextEdit(readOnly=True)
        self.log.setObjectName("exportLog")
        self.log.setMaximumHeight(140)
        self.log.hide()  # until an export starts: no empty box under the form
        self.error = QLabel(wordWrap=True)
        self.error.setObjectName("exportError")
        self.error.setStyleSheet("color: #a01010;")
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.hide()
        self.result_view = ExportResultView()
        self.result_view.hide()

        self.buttons = QDialogButtonBox()
        self.export_button = self.buttons.addButton("Export",
                                                    QDialogButtonBox.ButtonRole.AcceptRole)
        self.export_button.setDefault(True)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.export_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self._cancel_clicked)

        layout = QVBoxLayout(self)
        layout.addWidget(self.form)
        layout.addWidget(self.stage)
        layout.addWidget(self.progress)
        layout.addWidget(self.log)
        layout.addWidget(self.error)
        layout.addWidget(self.result_view, 1)
        layout.addWidget(self.buttons)
        self.resize(720, self.sizeHint().height())  # the form, no empty area under it

    # Form ---------------------------------------------------------------------------------

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Base folder for models", self.base.text())
        if folder:
            self.base.setText(folder)

    def _browse_samples(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Samples to verify on", self.samples.text(),
            "Samples (*.json *.npz *.tfrecord *.tfrecords *.rec);;All files (*)")
        if path:
            self.samples.setText(path)

    def propose_version(self) -> None:
        """Propose the next free version of BASE/NAME."""
        from app.core.export import next_version

        base, name = self.base.text().strip(), self.name.text().strip()
        try:
            self.version.setValue(next_version(base, name) if base and name else 1)
        except OSError:
            self.version.setValue(1)

    def options_draft(self) -> Draft:
        """The draft with this form's export options."""
        draft = self.draft.copy()
        opts = draft.options
        opts.base, opts.name = self.base.text().strip(), self.name.text().strip()
        opts.version, opts.overwrite = self.version.value(), False
        opts.strip_training = not self.keep_training.isChecked()
        opts.verify = self.verify.isChecked()
        opts.warmup = self.warmup.isChecked()
        opts.samples = self.samples.text().strip()
        return draft

    # Running ------------------------------------------------------------------------------

    def running(self) -> bool:
        return self.runner.busy()

    def start(self) -> Task:
        """Start the export in a worker thread (signals: exportSucceeded/Failed/Cancelled)."""
        draft = self.options_draft()
        self.draft = draft
        self.result = None
        self.error.hide()
        self.result_view.hide()
        self.log.clear()
        self.log.show()
        self.progress.setValue(0)
        self._last_message = ""
        self._log(f"Exporting {self.loaded.checkpoint.prefix} to "
                  f"{Path(draft.options.base) / draft.options.name / str(draft.options.version)}")
        self._hold = cancel_flag()
        self.child_pid = None
        task = self.runner.start(export_job(draft, self.loaded, self._child, self._hold),
                                 name="signet-export")
        task.progressed.connect(self._progressed)
        task.succeeded.connect(self._succeeded)
        task.failed.connect(self._failed)
        task.cancelled.connect(self._cancelled)
        task.finished.connect(self._finished)
        self.task = task
        self._set_running(True)
        self._started = time.perf_counter()
        task.start()
        return task

    def cancel(self) -> None:
        """Ask the running export to stop at its next check (it publishes nothing)."""
        if self.task is not None and self.task.isRunning():
            self.task.state.cancel()
            self.stage.setText("Cancelling…")
            self._log("Cancel requested")
            self.cancel_button.setEnabled(False)

    def _child(self, pid: int) -> None:
        self.child_pid = pid  # from the worker thread; read by tests and the bench

    @contextmanager
    def held(self) -> Iterator[None]:
        """Keep the export from going past its next stage while the user is asked."""
        self._hold.set()
        try:
            yield
        finally:
            self._hold.clear()

    def shutdown(self) -> None:
        """Cancel and wait for the worker (the window is closing).

        Waits through the runner, which holds each task until its thread ended: the
        dialog's last `Task` may already be finished and deleted by now.
        """
        self._hold.clear()
        self.runner.shutdown()  # cancels the task's state, which stops the export

    def _set_running(self, running: bool) -> None:
        self.form.setEnabled(not running)
        self.export_button.setEnabled(not running)
        self.cancel_button.setEnabled(True)
        self.cancel_button.setText("Cancel" if running else "Close")

    def _log(self, text: str) -> None:
        self.log.appendPlainText(text)

    def _announce(self, signal, *args) -> None:
        """Emit the outcome once the worker thread has ended, so listeners see it idle."""
        self._outcome = (signal, args)

    def _progressed(self, fraction: float, message: str) -> None:
        self.progress.setValue(round(fraction * 100))
        if self.task is not None and self.task.state.is_cancelled():
            return
        self.stage.setText(message)
        if message != self._last_message:
            self._last_message = message
            self._log(f"{time.perf_counter() - self._started:6.1f} s  {message}")

    def _succeeded(self, result) -> None:
        self._set_running(False)
        self.result = result
        self.progress.setValue(100)
        self.stage.setText(f"Published {result.path}")
        for note in result.notes:
            self._log(f"{note.level.value}: {note}")
        self._log(f"Done in {time.perf_counter() - self._started:.1f} s")
        self.form.hide()
        self.export_button.hide()
        self.result_view.show_result(result)
        self.result_view.show()
        self._make_room()
        self._announce(self.exportSucceeded, result)

    def _make_room(self) -> None:
        """Give the result page room: a short log, and a taller dialog (within the screen)."""
        self.log.setMaximumHeight(80)
        screen = self.screen().availableGeometry()
        self.resize(max(self.width(), min(880, screen.width() - 40)),
                    max(self.height(), min(780, screen.height() - 60)))
        frame = self.frameGeometry()  # grown downwards: keep it on the screen
        self.move(min(frame.left(), max(screen.left(), screen.right() - frame.width())),
                  min(frame.top(), max(screen.top(), screen.bottom() - frame.height())))

    def _failed(self, exc: BaseException) -> None:
        self._set_running(False)
        message = plain_error(exc)
        self.stage.setText("The export failed; nothing was published.")
        self.error.setText(message)
        self.error.show()
        self._log(f"Error: {message}")
        self._announce(self.exportFailed, message)

    def _cancelled(self) -> None:
        self._set_running(False)
        self.stage.setText("Cancelled; nothing was published.")
        self._log("Cancelled; nothing was published")
        self._announce(self.exportCancelled)

    def _finished(self) -> None:
        self.propose_version()
        if self._outcome is not None:
            signal, args = self._outcome
            self._outcome = None
            signal.emit(*args)

    # Closing ------------------------------------------------------------------------------

    def _cancel_clicked(self) -> None:
        """The Cancel button cancels at once while running (the dialog stays to show the
        outcome); as Close it closes."""
        if self.running():
            self.cancel()
        else:
            super().reject()

    def ask_and_cancel(self) -> None:
        """Escape or the title bar's close while running: ask first, the export held."""
        with self.held():
            stop = ask_stop_export(self)
        if stop and self.running():
            self.cancel()

    def reject(self) -> None:
        if self.running():
            self.ask_and_cancel()
            return
        super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.running():
            event.ignore()
            self.ask_and_cancel()
            return
        super().closeEvent(event)
