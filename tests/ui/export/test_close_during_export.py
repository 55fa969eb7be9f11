"""Closing or quitting while an export runs: asked first, cancelled, waited for, nothing published.

The user's report (issue 12): the export went on while the "Cancel it and close?" question
was open, published, and the answer then crashed in ``self.task.wait()`` on a deleted Task.
These tests hold the export process on the tests' stop hook (tests.export_stop), close the
window, resume the process while the real question is on screen, and answer it.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox

from app.ui.common.workers import running_tasks
from app.ui.signature.editor import install_signature_editor
from tests.export_stop import stop_window_export_at

TIMEOUT = 180_000
pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


def _process_state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


@pytest.fixture
def exporting(window, open_and_wait, skip_thoughts, qtbot, tmp_path, monkeypatch):
    """The window with an export stopped by the hook as it enters "verify"."""
    stop_window_export_at(monkeypatch, "verify")
    editor = install_signature_editor(window)
    open_and_wait(window, skip_thoughts.directory)  # starts with Signet's proposal
    editor.export_action.trigger()
    dialog = editor.export_dialog
    dialog.base.setText(str(tmp_path))
    dialog.name.setText("encoder")
    dialog.start()
    qtbot.waitUntil(lambda: dialog.child_pid is not None
                    and _process_state(dialog.child_pid) == "T", timeout=TIMEOUT)
    yield window, dialog, tmp_path / "encoder"
    if dialog.running():
        with contextlib.suppress(ProcessLookupError, TypeError):
            os.kill(dialog.child_pid, signal.SIGCONT)
        editor.shutdown()


def answer_when_asked(qtbot, dialog, target: Path, answer: QMessageBox.StandardButton,
                      asked: list[str], resume: bool = True) -> None:
    """When the question shows: resume the export, let it run as far as it may while the
    question is open (it must wait at its next stage), then press ``answer``."""

    def respond() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(50, respond)
            return
        asked.append(box.text())
        if resume:
            os.kill(dialog.child_pid, signal.SIGCONT)
            qtbot.waitUntil(lambda: target.exists() or "waiting for your answer"
                            in dialog.stage.text(), timeout=TIMEOUT)
        box.button(answer).click()

    QTimer.singleShot(0, respond)


def _clean_exit(capfd, model_folder: Path) -> None:
    assert not running_tasks()
    assert not model_folder.exists() or list(model_folder.iterdir()) == []
    err = capfd.readouterr().err
    assert "Traceback" not in err and "already deleted" not in err, err


def test_close_during_export_publishes_nothing(exporting, qtbot, capfd):
    window, dialog, model_folder = exporting
    asked: list[str] = []
    answer_when_asked(qtbot, dialog, model_folder / "1", QMessageBox.StandardButton.Yes, asked)
    assert window.close()
    assert asked and "nothing will be published" in asked[0]
    assert not dialog.running() and not Path(f"/proc/{dialog.child_pid}").exists()
    _clean_exit(capfd, model_folder)


def test_ctrl_q_during_export_publishes_nothing(exporting, qtbot, capfd):
    window, dialog, model_folder = exporting
    asked: list[str] = []
    answer_when_asked(qtbot, dialog, model_folder / "1", QMessageBox.StandardButton.Yes, asked)
    dialog.activateWindow()  # Ctrl+Q works from the export dialog too
    QTest.keyClick(dialog, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=TIMEOUT)
    assert asked and not dialog.running()
    _clean_exit(capfd, model_folder)


def test_saying_no_keeps_the_export_going_and_it_publishes(exporting, qtbot):
    window, dialog, model_folder = exporting
    asked: list[str] = []
    answer_when_asked(qtbot, dialog, model_folder / "1", QMessageBox.StandardButton.No, asked)
    with qtbot.waitSignal(dialog.exportSucceeded, timeout=TIMEOUT):
        assert not window.close()
    assert window.isVisible() and (model_folder / "1" / "saved_model.pb").is_file()


def test_escape_in_the_running_export_dialog_asks_first(exporting, qtbot):
    _window, dialog, model_folder = exporting
    asked: list[str] = []
    answer_when_asked(qtbot, dialog, model_folder / "1", QMessageBox.StandardButton.No, asked,
                      resume=False)
    QTest.keyClick(dialog, Qt.Key.Key_Escape)
    assert asked and dialog.running() and dialog.isVisible()
    answer_when_asked(qtbot, dialog, model_folder / "1", QMessageBox.StandardButton.Yes, asked)
    with qtbot.waitSignal(dialog.exportCancelled, timeout=TIMEOUT):
        QTest.keyClick(dialog, Qt.Key.Key_Escape)
    assert len(asked) == 2 and "nothing was published" in dialog.stage.text()
    assert not model_folder.exists() or list(model_folder.iterdir()) == []
