"""The Try-it panel: send a REST predict body to the draft (or the opened SavedModel).

A request editor filled with a sample body for the draft's first signature, which
follows the signature and the checkpoint until the user edits it (then **Reset to
the signature** brings the sample back), inputs from files (``.npy``/``.npz``,
an image resized to an ``[N,H,W,C]`` input with the chosen scaling, a text file for
strings), and the answer as the server's JSON, a table of outputs, and the top-k of a
probability vector (with labels from a labels file). Every run, and every file that
needs TensorFlow, goes through a worker thread (`app.core.export.tryit` does the work).
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
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.core.export.tryit import (
    SCALINGS,
    TryRunner,
    body_from_arrays,
    read_labels,
    top_k,
    why_no_top_k,
)
from app.core.signature.draft import tensor_name
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
        self._filled = ""  # the body last filled from the signature; other text is an edit
        self.sample_button = QPushButton("Reset to the signature")
        self.sample_button.setToolTip("Replace the edited body with a sample for the draft's "
                                      "signature")
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
        self.top_k_note = QLabel("After Run: the highest scores of a probability output",
                                 wordWrap=True)
        self.top_k_note.setObjectName("topKNote")
        ranking = QWidget()
        ranked_layout = QVBoxLayout(ranking)
        ranked_layout.setContentsMargins(0, 0, 0, 0)
        ranked_layout.addWidget(self.top_k_note)
        ranked_layout.addWidget(self.ranked, 1)
        # The answer's three views share one place, so each has the room of all three.
        self.results = QTabWidget()
        self.results.addTab(self.answer, "Answer")
        self.results.addTab(self.outputs, "Outputs")
        self.results.addTab(ranking, "Top-k")

        title = QHBoxLayout()
        title.addWidget(QLabel("Request (TF Serving REST :predict body)", wordWrap=True), 1)
        title.addWidget(self.sample_button)
        files = QHBoxLayout()
        files.addWidget(self.input_key, 1)  # an input's key takes the room left
        for widget in (self.scaling, self.file_button, self.labels_button):
            files.addWidget(widget)
        # Beside Run, not in the row above: that row sets the dock's narrowest width.
        running = QHBoxLayout()
        running.addWidget(self.run_button, 1)
        running.addWidget(self.save_samples_button)
        layout = QVBoxLayout(self)
        layout.addLayout(title)
        layout.addLayout(files)
        layout.addWidget(self.request, 1)
        layout.addLayout(running)
        layout.addWidget(self.status)
        layout.addWidget(self.results, 1)

        self.sample_button.clicked.connect(self.fill_sample)
        self.request.textChanged.connect(self._show_reset)
        self._show_reset()
        self.run_button.clicked.connect(self.run)
        self.file_button.clicked.connect(self.ask_input_file)
        self.labels_button.clicked.connect(self.ask_labels)
        self.save_samples_button.clicked.connect(self.ask_save_samples)
        self._set_enabled()

    # State --------------------------------------------------------------------------------

    def set_checkpoint(self, loaded: Any) -> None:
        self.loaded = loaded
        self._follow()
        self._set_enabled()

    def set_draft(self, draft: Any) -> None:
        """The draft to try; the body follows it unless the user edited the body."""
        self.draft = draft
        self.input_key.clear()
        if draft is not None and draft.signatures:
            self.input_key.addItems([s.key for s in draft.signatures[0].inputs])
        self._follow()
        self._set_enabled()

    def edited(self) -> bool:
        """Whether the body is the user's (typed, or read from a file), not the sample."""
        text = self.request.toPlainText()
        return bool(text.strip()) and text != self._filled

    def _follow(self) -> None:
        if not self.edited():
            self.fill_sample()

    def _show_reset(self) -> None:
        self.sample_button.setVisible(self.edited())

    def _ready(self) -> bool:
        return self.loaded is not None and self.draft is not None and any(
            s.outputs for s in self.draft.signatures)

    def _set_enabled(self) -> None:
        ready = self._ready()
        for widget in (self.file_button, self.run_button):
            widget.setEnabled(ready)
        if self.status.text() in (_NOT_READY, _READY):  # a hint, not a run's outcome
            self.status.setText(_READY if ready else _NOT_READY)

    def running(self) -> bool:
        return self.runner.busy()

    # Actions ------------------------------------------------------------------------------

    def fill_sample(self) -> None:
        """The sample body of the draft's first signature (empty with nothing to try)."""
        from app.core.export.tryit import sample_request

        body = ""
        if self.loaded is not None and self.draft is not None and self.draft.signatures:
            body = sample_request(self.draft, self.loaded.graph)
        self._filled = body
        if self.request.toPlainText() != body:
            self.request.setPlainText(body)
        self._show_reset()

    def ask_input_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Input from File", "", "Arrays, images, text (*.npy *.npz *.png *.jpg "
            "*.jpeg *.bmp *.gif *.txt);;All files (*)")
        if path:
            self.load_input_file(path)

    def load_input_file(self, path: str) -> Any:
        """Read ``path`` for the chosen input in a worker; the body is replaced with it."""
        from app.core.export.tryit import draft_shapes, load_input
        from app.core.validation.serving_checks import row_format_offenders

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
        unranked = []
        for name, array in sorted(answer.outputs.items()):
            row = self.outputs.rowCount()
            self.outputs.insertRow(row)
            shape = "[" + ", ".join(str(d) for d in getattr(array, "shape", ())) + "]"
            for column, text in enumerate((name, shape, _preview(array))):
                self.outputs.setItem(row, column, QTableWidgetItem(text))
            why = why_no_top_k(array)
            if why is not None:
                unranked.append(f"{name}: {why}")
            for index, score, label in top_k(array, 5, self.labels):
                r = self.ranked.rowCount()
                self.ranked.insertRow(r)
                for column, text in enumerate((str(index), label, f"{score:.4f}")):
                    self.ranked.setItem(r, column, QTableWidgetItem(text))
        if self.ranked.rowCount():
            self.top_k_note.setText("The highest scores of a probability output (top 5)")
        else:  # say why it is empty: a batch, logits, integers
            self.top_k_note.setText("No top-k. " + "; ".join(unranked) if unranked
                                    else "No top-k: the answer has no outputs")
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
