"""The Versions window of a model folder (``BASE/NAME``): chart, versions, actions, watch.

Reading the versions (the watch state's JSON, ``models.config``) is small and done on
the UI thread; the eval series goes through TensorBoard's reader, which loads
TensorFlow, so it is read in a worker `Task`. Publishing a step and watching the run
are `signet watch` itself in a child process (`runner`); moving the stable label and
deleting a version are quick file operations of the core (`app.core.watch.versions`).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import SignetError
from app.core.watch.state import read_state
from app.core.watch.versions import VersionRow, delete_version, model_versions, move_stable
from app.ui.common.workers import TaskRunner, TaskState
from app.ui.versions.chart import MetricChart
from app.ui.versions.runner import WatchRunner
from app.ui.versions.table import ROW_ROLE, VersionsModel

WATCH_INTERVAL = 2.0


def _read_series(model_dir: str, metric: str) -> Callable[[TaskState], list]:
    def job(_state: TaskState) -> list[tuple[int, float]]:
        from app.core.watch.metrics import EvalReader

        reader = EvalReader(model_dir, metric)
        reader.poll()
        return reader.series()
    return job


class WatchDialog(QDialog):
    """What "Watch this run…" asks: the run folder and the policy."""

    def __init__(self, model_dir: str, policy: dict, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Watch a Training Run")
        self.model_dir = QLineEdit(model_dir)
        browse = QPushButton("Browse…", clicked=self._browse)
        row = QHBoxLayout()
        row.addWidget(self.model_dir, 1)
        row.addWidget(browse)
        self.policy = QComboBox()
        self.policy.addItems(["latest", "best"])
        self.policy.setCurrentText(policy.get("kind", "latest"))
        self.metric_name = QLineEdit(policy.get("metric", "loss"))
        self.mode = QComboBox()
        self.mode.addItems(["min", "max"])
        self.mode.setCurrentText(policy.get("mode", "min"))
        self.keep = QSpinBox(minimum=1, maximum=1000, value=int(policy.get("keep", 5)))
        self.interval = QDoubleSpinBox(minimum=0.5, maximum=3600, value=WATCH_INTERVAL,
                                       suffix=" s")
        form = QFormLayout(self)
        form.addRow("Run folder (MODEL_DIR):", row)
        form.addRow("Policy:", self.policy)
        form.addRow("Eval metric:", self.metric_name)
        form.addRow("Better when:", self.mode)
        form.addRow("Keep versions:", self.keep)
        form.addRow("Poll every:", self.interval)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Watch")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _browse(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Training run folder",
                                                  self.model_dir.text())
        if chosen:
            self.model_dir.setText(chosen)

    def arguments(self) -> list[str]:
        return ["--policy", self.policy.currentText(),
                "--metric", self.metric_name.text().strip(),
                "--mode", self.mode.currentText(), "--keep", str(self.keep.value()),
                "--interval", f"{self.interval.value():g}"]


class VersionsWindow(QWidget):
    """Published versions of ``model_folder`` with the eval chart and the actions."""

    def __init__(self, model_folder: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.folder = Path(model_folder).absolute()
        self.base, self.name = self.folder.parent, self.folder.name
        self.setWindowTitle(f"Versions — {self.name}")
        self.resize(900, 680)
        self.series: list[tuple[int, float]] = []
        self.model_dir = ""
        self.metric_name = "loss"
        self._scratch = tempfile.mkdtemp(prefix="signet-versions-")
        # Replaced by tests: the questions a user answers.
        self.confirm: Callable[[str], bool] = self._confirm
        self.ask_step: Callable[[list[int]], int | None] = self._ask_step

        self.path_label = QLabel(f"<b>{self.folder}</b>", wordWrap=True)
        self.chart = MetricChart()
        self.model = VersionsModel(parent=self)
        self.table = QTableView()
        self.table.setObjectName("versionsTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().hide()
        self.log = QPlainTextEdit(readOnly=True)
        self.log.setObjectName("watchLog")
        self.log.setPlaceholderText("The watch's log appears here.")

        self.refresh_button = QPushButton("Refresh", clicked=self.refresh)
        self.publish_button = QPushButton("Publish Step…", clicked=self.publish_step)
        self.stable_button = QPushButton("Make Stable", clicked=self.make_stable)
        self.delete_button = QPushButton("Delete…", clicked=self.delete_selected)
        self.watch_button = QPushButton("Watch this Run…", clicked=self.toggle_watch)
        buttons = QHBoxLayout()
        for button in (self.refresh_button, self.publish_button, self.stable_button,
                       self.delete_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.watch_button)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.chart)
        splitter.addWidget(self.table)
        splitter.addWidget(self.log)
        splitter.setSizes([300, 200, 140])
        layout = QVBoxLayout(self)
        layout.addWidget(self.path_label)
        layout.addLayout(buttons)
        layout.addWidget(splitter, 1)

        # Log lines come in bursts (every eval value at a watch's start): one refresh each.
        self._refresh_soon = QTimer(self, singleShot=True, interval=300, timeout=self.refresh)
        self.tasks = TaskRunner(self)
        self.runner = WatchRunner(self)
        self.runner.line.connect(self._log_line)
        self.runner.ended.connect(self._watch_ended)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        self.refresh()

    # Reading --------------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read the versions now, and the eval series in a worker."""
        try:
            state = read_state(self.folder)
            rows = model_versions(self.base, self.name)
        except SignetError as exc:
            self._log_line(f"cannot read {self.folder}: {exc}")
            return
        self.metric_name = state.policy.get("metric", self.metric_name)
        self.model_dir = self.model_dir or state.model_dir
        self.model.set_rows(rows, self.metric_name)
        self.table.resizeColumnsToContents()
        self.chart.show_run(self.metric_name, self.series, rows)
        self._update_buttons()
        if self.model_dir:
            task = self.tasks.start(_read_series(self.model_dir, self.metric_name),
                                    "eval-series")
            task.succeeded.connect(lambda series, t=task: self._series_read(t, series))
            task.failed.connect(lambda exc: self._log_line(f"cannot read the eval: {exc}"))
            task.start()

    def _series_read(self, task, series: list[tuple[int, float]]) -> None:
        if self.tasks.is_current(task):
            self.series = series
            self.chart.show_run(self.metric_name, series, self.model.rows)

    def selected_row(self) -> VersionRow | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].data(ROW_ROLE) if rows else None

    def select_version(self, version: int) -> None:
        row = self.model.row_of(version)
        if row >= 0:
            self.table.selectRow(row)

    def _update_buttons(self) -> None:
        row = self.selected_row()
        idle = not self.runner.running()
        self.stable_button.setEnabled(row is not None and row.ours
                                      and "stable" not in row.labels)
        self.delete_button.setEnabled(row is not None)
        self.publish_button.setEnabled(idle and bool(self.model_dir))
        self.watch_button.setText("Watch this Run…" if idle else "Stop Watching")

    # Actions --------------------------------------------------------------------------

    def make_stable(self) -> None:
        row = self.selected_row()
        if row is None:
            return
        try:
            move_stable(self.base, self.name, row.version)
        except SignetError as exc:
            QMessageBox.warning(self, "Make Stable", str(exc))
            return
        self._log_line(f"stable → version {row.version}")
        self.refresh()
        self.select_version(row.version)

    def delete_selected(self) -> None:
        row = self.selected_row()
        if row is None or not self.confirm(
                f"Delete version {row.version} of {self.name}? TensorFlow Serving stops "
                "serving it; its folder is removed."):
            return
        try:
            delete_version(self.base, self.name, row.version)
        except SignetError as exc:
            QMessageBox.warning(self, "Delete Version", str(exc))
            return
        self._log_line(f"deleted version {row.version}")
        self.refresh()

    def publish_step(self) -> None:
        steps = [s for s, _ in self.series]
        step = self.ask_step(steps)
        if step is not None:
            self._run(["--step", str(step)])

    def toggle_watch(self) -> None:
        if self.runner.running():
            self._log_line("stopping after the current export…")
            self.runner.stop()
            return
        state = read_state(self.folder)
        dialog = WatchDialog(self.model_dir, state.policy, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.start_watch(dialog.model_dir.text().strip(), dialog.arguments())

    def start_watch(self, model_dir: str, arguments: list[str]) -> None:
        """Run `signet watch MODEL_DIR` into this folder with ``arguments`` (policy flags)."""
        self.model_dir = model_dir
        self._run(arguments)

    def _run(self, extra: list[str]) -> None:
        args = ["watch", self.model_dir, "--out", str(self.base), "--name", self.name]
        state = read_state(self.folder)
        if state.draft:  # the signature the watch exported last time
            preset = Path(self._scratch) / "signature.json"
            preset.write_text(json.dumps(state.draft), encoding="utf-8")
            args += ["--preset", str(preset)]
        if "--policy" not in extra and state.policy:
            policy = state.policy
            args += ["--policy", policy["kind"], "--metric", policy["metric"], "--mode",
                     policy["mode"], "--keep", str(policy["keep"])]
        self.runner.start(args + extra)
        self._update_buttons()

    def _log_line(self, line: str) -> None:
        self.log.appendPlainText(line)
        if any(word in line for word in ("published version", "deleted version", "eval:")):
            self._refresh_soon.start()

    def _watch_ended(self, code: int) -> None:
        self._log_line(f"(the watch ended, status {code})")
        self.refresh()

    def _confirm(self, text: str) -> bool:
        answer = QMessageBox.question(self, "Delete Version", text)
        return answer == QMessageBox.StandardButton.Yes

    def _ask_step(self, steps: list[int]) -> int | None:
        if steps:
            chosen, ok = QInputDialog.getItem(self, "Publish Step", "Checkpoint step:",
                                              [str(s) for s in reversed(steps)], 0, False)
            return int(chosen) if ok else None
        value, ok = QInputDialog.getInt(self, "Publish Step", "Checkpoint step:", 1, 0)
        return value if ok else None

    # Closing --------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop the watch (after its export) and every worker; remove the scratch folder."""
        self._refresh_soon.stop()
        if self.runner.running():
            self.runner.stop()
            self.runner.wait(120000)
        self.tasks.shutdown()
        shutil.rmtree(self._scratch, ignore_errors=True)

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)
