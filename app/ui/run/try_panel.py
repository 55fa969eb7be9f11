"""The Try-it panel: send a REST predict body to the draft (or the opened SavedModel).

A request editor pre-filled with a sample body, inputs from files (``.npy``/``.npz``,
an image resized to an ``[N,H,W,C]`` input with the chosen scaling, a text file for
strings), and the answer as the server's JSON, a table of outputs, and the top-k of a
probability vector (with labels from a labels file). Every run, and every file that
needs TensorFlow, goes through a worker thread (`app.core.tryit` does the work).
"Save as samples…" writes the body to a file the export verifies on and replays as
warmup (`app.core.samples.files` reads it).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.signature import tensor_name
from app.core.tryit import SCALINGS, TryRunner, body_from_arrays, read_labels, top_k
from app.ui.common.workers import TaskRunner

PREVIEW = 8  # values shown per output in the table


# The status line's hints until a run or a file read says something of its own.
_NOT_READY = "Open a checkpoint or SavedModel and build a signature with an output."
_READY = "Run answers the body above as TensorFlow Serving would answer the draft."


def _preview(array: Any) -> str:
    import numpy as np

    flat = np.asarray(array).ravel()
    items = [x.decode("utf-8", "replace") if isinstance(x, bytes) else
             (f"{x:.4g}" if isinstance(x, float | np.floating) else str(x))
             for x in flat[:PREVIEW].tolist()]
    return ", ".join(items) + (" …" if flat.size > PREVIEW else "")


class TryPanel(QWidget):
    """See module doc. ``answered(Answer)`` after each run."""

    answered = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loaded: Any = None
        self.draft: Any = None
        self.labels: list[str] = []
        self.core = TryRunner()
        self.runner = TaskRunner(self)

        self.request = QPlainTextEdit()
        self.request.setObjectName("tryRequest")
        self.request.setPlaceholderText('{"instances": [...]}')
        self.sample_button = QPushButton("Sample Body")
        self.input_key = QComboBox()
        self.scaling = QComboBox()
        self.scaling.addItems(list(SCALINGS))
        self.scaling.setToolTip("How image pixels (0..255) become input values")
        self.file_button = QPushButton("Input from File…")
        self.labels_button = QPushButton("Labels…")
        self.save_samples_button = QPushButton("Save as samples…")
        self.save_samples_button.setToolTip("Write this request body to a file: the export "
                                            "verifies on it and replays it as warmup "
                                            "(--samples FILE, the Export dialog's Samples…)")
        self.run_button = QPushButton("Run")
        self.status = QLabel(_NOT_READY)
        self.status.setWordWrap(True)
        self.answer = QPlainTextEdit(readOnly=True)
        self.answer.setObjectName("tryAnswer")
        self.outputs = QTableWidget(0, 3)
        self.outputs.setHorizontalHeaderLabels(["Output", "Shape", "Values"])
        self.outputs.horizontalHeader().setStretchLastSection(True)
        self.ranked = QTableWidget(0, 3)
        self.ranked.setHorizontalHeaderLabels(["Index", "Label", "Score"])
        self.ranked.horizontalHeader().setStretchLastSection(True)

        files = QHBoxLayout()
        for widget in (self.sample_button, self.input_key, self.scaling, self.file_button,
                       self.labels_button, self.save_samples_button):
            files.addWidget(widget)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Request (TF Serving REST :predict body)"))
        layout.addLayout(files)
        layout.addWidget(self.request, 2)
        layout.addWidget(self.run_button)
        layout.addWidget(self.status)
        layout.addWidget(self.answer, 1)
        layout.addWidget(self.outputs, 1)
        layout.addWidget(QLabel("Top-k of a probability output"))
        layout.addWidget(self.ranked, 1)

        self.sample_button.clicked.connect(self.fill_sample)
        self.run_button.clicked.connect(self.run)
        self.file_button.clicked.connect(self.ask_input_file)
        self.labels_button.clicked.connect(self.ask_labels)
        self.save_samples_button.clicked.connect(self.ask_save_samples)
        self._set_enabled()

    # State --------------------------------------------------------------------------------

    def set_checkpoint(self, loaded: Any) -> None:
        self.loaded = loaded
        self._set_enabled()

    def set_draft(self, draft: Any) -> None:
        """The draft to try; the body is pre-filled while the editor is still empty."""
        self.draft = draft
        self.input_key.clear()
        if draft is not None and draft.signatures:
            self.input_key.addItems([s.key for s in draft.signatures[0].inputs])
        if not self.request.toPlainText().strip():
            self.fill_sample()
        self._set_enabled()

    def _ready(self) -> bool:
        return self.loaded is not None and self.draft is not None and any(
            s.outputs for s in self.draft.signatures)

    def _set_enabled(self) -> None:
        ready = self._ready()
        for widget in (self.sample_button, self.file_button, self.run_button):
            widget.setEnabled(ready)
        if self.status.text() in (_NOT_READY, _READY):  # a hint, not a run's outcome
            self.status.setText(_READY if ready else _NOT_READY)

    def running(self) -> bool:
        return self.runner.busy()

    # Actions ------------------------------------------------------------------------------

    def fill_sample(self) -> None:
        if not self._ready():
            return
        from app.core.tryit import sample_request

        self.request.setPlainText(sample_request(self.draft, self.loaded.graph))

    def ask_input_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Input from File", "", "Arrays, images, text (*.npy *.npz *.png *.jpg "
            "*.jpeg *.bmp *.gif *.txt);;All files (*)")
        if path:
            self.load_input_file(path)

    def load_input_file(self, path: str) -> Any:
        """Read ``path`` for the chosen input in a worker; the body is replaced with it."""
        from app.core.serving_checks import row_format_offenders
        from app.core.tryit import draft_shapes, load_input

        if not self._ready() or not self.input_key.currentText():
            return None
        sig = self.draft.signatures[0]
        slot = next(s for s in sig.inputs if s.key == self.input_key.currentText())
        t = self.loaded.graph.tensor(tensor_name(slot.tensor))
        dtype, shape, scaling = t.dtype, t.shape, self.scaling.currentText()
        row_ok = not row_format_offenders(draft_shapes(self.draft, self.loaded.graph, sig.key))
        others = {s.key for s in sig.inputs} - {slot.key}

        def job(state):
            array = load_input(path, dtype, shape, scaling)
            return body_from_arrays(sig.key, {slot.key: array}, row_ok and not others)

        task = self.runner.start(job, "signet-try-input")
        task.succeeded.connect(lambda body: self.runner.is_current(task)
                               and self.request.setPlainText(body))
        task.failed.connect(lambda exc: self.status.setText(str(exc)))
        self.status.setText(f"Reading {path}…")
        task.start()
        return task

    def ask_save_samples(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the request as samples",
                                              "samples.json", "REST predict body (*.json)")
        if path:
            self.save_samples(path)

    def save_samples(self, path: str) -> None:
        """Write the editor's REST body to ``path``, the samples file an export reads."""
        from pathlib import Path

        try:
            Path(path).write_text(self.request.toPlainText(), encoding="utf-8")
        except OSError as exc:
            self.status.setText(f"Cannot save the samples: {exc.strerror} ({path})")
            return
        self.status.setText(f"Saved the request as samples: {path} (give it to the export "
                            "as --samples or in the Export dialog's Samples…)")

    def ask_labels(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Labels (one per line)", "",
                                              "Text (*.txt);;All files (*)")
        if path:
            self.set_labels(path)

    def set_labels(self, path: str) -> None:
        try:
            self.labels = read_labels(path)
        except OSError as exc:
            self.status.setText(f"{path}: cannot read the labels ({exc.strerror})")

    def run(self) -> Any:
        """Answer the editor's body in a worker thread (never on the UI thread)."""
        if not self._ready():
            return None
        loaded, draft, body = self.loaded, self.draft.copy(), self.request.toPlainText()
        core = self.core

        def job(state):
            return core.respond(loaded, draft, body, state.progress, state.is_cancelled)

        task = self.runner.start(job, "signet-try")
        task.progressed.connect(lambda _f, message: self.status.setText(message))
        task.succeeded.connect(lambda result: self.runner.is_current(task)
                               and self._show(result))
        task.failed.connect(lambda exc: self.status.setText(f"Cannot run the draft: {exc}"))
        self.run_button.setEnabled(False)
        task.finished.connect(self._set_enabled)
        self.status.setText("Running…")
        task.start()
        return task

    def _show(self, answer: Any) -> None:
        self.answer.setPlainText(answer.text)
        self.status.setText("Answered" if answer.ok else "TensorFlow Serving would refuse "
                            "this request (see the error)")
        self.outputs.setRowCount(0)
        self.ranked.setRowCount(0)
        for name, array in sorted(answer.outputs.items()):
            row = self.outputs.rowCount()
            self.outputs.insertRow(row)
            shape = "[" + ", ".join(str(d) for d in getattr(array, "shape", ())) + "]"
            for column, text in enumerate((name, shape, _preview(array))):
                self.outputs.setItem(row, column, QTableWidgetItem(text))
            for index, score, label in top_k(array, 5, self.labels):
                r = self.ranked.rowCount()
                self.ranked.insertRow(r)
                for column, text in enumerate((str(index), label, f"{score:.4f}")):
                    self.ranked.setItem(r, column, QTableWidgetItem(text))
        self.answered.emit(answer)

    def shutdown(self) -> None:
        self.runner.shutdown()
        self.core.close()


def install_try_panel(window: Any) -> TryPanel:
    """A "Try It" dock next to the signature editor, following the open model and draft."""
    from PySide6.QtCore import Qt

    panel = TryPanel(window)
    dock = window._dock("Try It", "tryDock", panel, Qt.DockWidgetArea.RightDockWidgetArea)
    window.tabifyDockWidget(window.signature_dock, dock)
    window.signature_dock.raise_()
    window.try_panel = panel
    window.checkpointLoaded.connect(panel.set_checkpoint)
    window.draftChanged.connect(panel.set_draft)
    # The editor's new draft for this checkpoint came before the panel had the checkpoint:
    # set again, the empty body is now filled for it.
    window.checkpointLoaded.connect(lambda _loaded: panel.set_draft(panel.draft))
    window.shuttingDown.connect(panel.shutdown)  # cancel a try, close the loaded model
    return panel
