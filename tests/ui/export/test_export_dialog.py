"""The Export dialog: the engine in a worker thread, publish, cancel, failure, window close."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest

from app.core.export.engine import STAGES
from app.core.tf_runtime import tensorflow
from app.ui.common.workers import running_tasks
from app.ui.export import dialog as export_dialog
from app.ui.export import process as export_process
from tests.export_stop import PUBLISHED, stop_window_export_at

TIMEOUT = 180_000


def open_dialog(editor, base, name="encoder"):
    editor.export_action.trigger()
    dialog = editor.export_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.base.setText(str(base))
    dialog.name.setText(name)
    return dialog


def cancel_at(dialog, words: str) -> list[str]:
    """Cancel as soon as the stage label shows ``words``; returns the stages seen."""
    seen: list[str] = []

    def check(_value: int) -> None:
        seen.append(dialog.stage.text())
        if words in dialog.stage.text():
            dialog.cancel()

    dialog.progress.valueChanged.connect(check)
    return seen


def test_export_publishes_a_savedmodel_tensorflow_loads_and_runs(editor, qtbot, tmp_path):
    (tmp_path / "encoder" / "1").mkdir(parents=True)  # an existing version
    dialog = open_dialog(editor, tmp_path)
    assert dialog.version.value() == 2  # the next free one
    values = []
    dialog.progress.valueChanged.connect(values.append)
    with qtbot.waitSignal(dialog.exportSucceeded, timeout=TIMEOUT) as blocker:
        task = dialog.start()
        assert task.isRunning() or dialog.running()
    result = blocker.args[0]
    assert result.path == tmp_path / "encoder" / "2"
    assert values == sorted(values) and values[-1] == 100 and len(set(values)) >= 5
    log = dialog.log.toPlainText()
    for stage in ("Restoring", "Writing variables", "Verifying", "Publishing"):
        assert stage in log
    # What the dialog shows: path, verification, the saved_model_cli summary, snippets.
    view = dialog.result_view
    assert view.isVisible() and str(result.path) in view.path_label.text()
    assert "verified 1 signature" in view.verification.text()
    assert "signature_def['serving_default']" in view.summary.toPlainText()
    assert set(view.snippets) == {"models.config entry", "Start TensorFlow Serving",
                                  "REST predict request (serving_default)"}
    assert "base_path" in view.snippets["models.config entry"].text.toPlainText()
    assert "tensorflow_model_server" in view.snippets["Start TensorFlow Serving"].text \
        .toPlainText()
    curl = view.snippets["REST predict request (serving_default)"].text.toPlainText()
    assert curl.startswith("curl -X POST") and "/v1/models/encoder:predict" in curl
    view.snippets["models.config entry"].copy()
    from PySide6.QtGui import QGuiApplication

    assert "model_config_list" in QGuiApplication.clipboard().text()
    # The editor remembers where it exported.
    assert editor.doc.draft.options.name == "encoder"
    assert editor.doc.draft.options.base == str(tmp_path)

    # TensorFlow loads and runs it.
    tf = tensorflow()
    loaded = tf.saved_model.load(str(result.path))
    fn = loaded.signatures["serving_default"]
    ids = np.array([[3, 5, 7, 0]], dtype=np.int64)
    mask = np.array([[1, 1, 1, 0]], dtype=np.int8)
    out = fn(encode_ids=tf.constant(ids), encode_mask=tf.constant(mask))
    assert set(out) == {"thought_vectors"}
    assert out["thought_vectors"].shape == (1, 16)
    assert np.all(np.isfinite(out["thought_vectors"].numpy()))


def test_the_cancel_button_stops_the_export_and_leaves_nothing(editor, qtbot, tmp_path):
    dialog = open_dialog(editor, tmp_path)
    seen = cancel_at(dialog, "Reading the graph")
    with qtbot.waitSignal(dialog.exportCancelled, timeout=TIMEOUT):
        dialog.start()
        assert dialog.cancel_button.text() == "Cancel"
    assert seen[0] == "Reading the graph"
    assert not (tmp_path / "encoder").exists() or list((tmp_path / "encoder").iterdir()) == []
    assert "Cancel requested" in dialog.log.toPlainText()


def _process_state(pid: int) -> str:
    """The one-letter state of a process ("T" when stopped)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
@pytest.mark.parametrize("stage", ["read graph", "restore", "build signatures",
                                   "write variables", "copy assets", "verify"])
def test_cancel_during_any_stage_leaves_nothing(editor, qtbot, tmp_path, stage, monkeypatch):
    """The tests' stop hook (tests.export_stop) stops the export process as it enters
    ``stage``; Cancel is pressed then, the process resumed, and it must stop at the next
    check."""
    stop_window_export_at(monkeypatch, stage)
    dialog = open_dialog(editor, tmp_path)
    with qtbot.waitSignal(dialog.exportCancelled, timeout=TIMEOUT):
        dialog.start()
        qtbot.waitUntil(lambda: dialog.child_pid is not None
                        and _process_state(dialog.child_pid) == "T", timeout=TIMEOUT)
        dialog.cancel_button.click()
        os.kill(dialog.child_pid, signal.SIGCONT)
    reached = dict(STAGES)[stage]
    assert dialog.progress.value() <= round(reached * 100)  # no later stage reported
    model_folder = tmp_path / "encoder"
    assert not model_folder.exists() or list(model_folder.iterdir()) == []
    assert "nothing was published" in dialog.stage.text()
    assert dialog.result is None and not dialog.result_view.isVisible()
    assert dialog.export_button.isEnabled()  # can try again


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_a_cancel_after_publishing_reports_the_published_export(editor, qtbot, tmp_path,
                                                                monkeypatch):
    """Cancel comes once the engine has published: the worker says what happened (the
    export succeeded), not what was asked."""
    stop_window_export_at(monkeypatch, PUBLISHED)
    dialog = open_dialog(editor, tmp_path)
    with qtbot.assertNotEmitted(dialog.exportCancelled), \
            qtbot.waitSignal(dialog.exportSucceeded, timeout=TIMEOUT) as blocker:
        dialog.start()
        qtbot.waitUntil(lambda: dialog.child_pid is not None
                        and _process_state(dialog.child_pid) == "T", timeout=TIMEOUT)
        published = tmp_path / "encoder" / "1"
        assert (published / "saved_model.pb").is_file()
        dialog.cancel_button.click()
        assert dialog.task.state.is_cancelled()
        os.kill(dialog.child_pid, signal.SIGCONT)
    assert blocker.args[0].path.resolve() == published.resolve()
    assert dialog.result is blocker.args[0] and dialog.result_view.isVisible()
    assert "Cancelled" not in dialog.stage.text()


def test_a_failure_is_shown_in_plain_words_and_publishes_nothing(editor, qtbot, tmp_path):
    base = tmp_path / "a_file"
    base.write_text("not a folder")
    dialog = open_dialog(editor, base)
    with qtbot.waitSignal(dialog.exportFailed, timeout=TIMEOUT) as blocker:
        dialog.start()
    message = blocker.args[0]
    assert "is a file, not a folder" in message and "Traceback" not in message
    assert dialog.error.isVisible() and dialog.error.text() == message
    assert base.read_text() == "not a folder"


def test_export_is_refused_with_the_reason_while_the_draft_has_errors(editor, window):
    editor.doc.undo_stack.undo()  # empty signature: no outputs
    assert not editor.export_action.isEnabled()
    assert "has no outputs" in editor.export_action.toolTip()
    assert editor.open_export_dialog() is None
    assert "has no outputs" in window.statusBar().currentMessage()
    assert editor.export_action.shortcut().toString() == "Ctrl+E"


def test_closing_the_window_during_an_export_asks_then_cancels(editor, window, qtbot, tmp_path,
                                                               monkeypatch):
    answers = [False, True]
    asked = []

    def ask(parent):
        asked.append(parent)
        return answers.pop(0)

    monkeypatch.setattr(export_dialog, "ask_cancel_export", ask)
    dialog = open_dialog(editor, tmp_path)
    with qtbot.waitSignal(dialog.progress.valueChanged, timeout=TIMEOUT):
        dialog.start()
    assert dialog.running()
    assert not window.close()  # the user said no: still exporting, still open
    assert window.isVisible() and asked == [window]
    assert window.close()  # yes: cancelled and waited for
    assert len(asked) == 2 and not running_tasks()
    model_folder = tmp_path / "encoder"
    assert not model_folder.exists() or list(model_folder.iterdir()) == []


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_an_export_process_that_dies_is_reported_and_leaves_nothing(editor, qtbot, tmp_path,
                                                                    monkeypatch):
    stop_window_export_at(monkeypatch, "copy assets")  # variables written into staging by now
    dialog = open_dialog(editor, tmp_path)
    with qtbot.waitSignal(dialog.exportFailed, timeout=TIMEOUT) as blocker:
        dialog.start()
        qtbot.waitUntil(lambda: dialog.child_pid is not None
                        and _process_state(dialog.child_pid) == "T", timeout=TIMEOUT)
        assert any((tmp_path / "encoder").iterdir())  # the staging folder
        os.kill(dialog.child_pid, signal.SIGKILL)
    assert "stopped unexpectedly" in blocker.args[0] and "nothing was published" in blocker.args[0]
    assert list((tmp_path / "encoder").iterdir()) == []


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_a_stage_that_ignores_cancel_is_cut_short(editor, qtbot, tmp_path, monkeypatch):
    """The process stays stopped as it enters "copy assets" (variables written): after the
    grace period the cancel kills it, cleans the staging folder and reports a cancel."""
    monkeypatch.setattr(export_process, "CANCEL_GRACE_SECONDS", 1.0)
    stop_window_export_at(monkeypatch, "copy assets")
    dialog = open_dialog(editor, tmp_path)
    with qtbot.waitSignal(dialog.exportCancelled, timeout=TIMEOUT):
        dialog.start()
        qtbot.waitUntil(lambda: dialog.child_pid is not None
                        and _process_state(dialog.child_pid) == "T", timeout=TIMEOUT)
        assert any((tmp_path / "encoder").iterdir())  # the staging folder
        dialog.cancel()
    assert not Path(f"/proc/{dialog.child_pid}").exists()
    model_folder = tmp_path / "encoder"
    assert not model_folder.exists() or list(model_folder.iterdir()) == []
