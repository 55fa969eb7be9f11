"""Qt test isolation: settings in a temporary folder, and no worker thread left running."""

from __future__ import annotations

import contextlib
import os
import signal

import pytest
from PySide6.QtCore import QSettings

from app.ui.common.workers import running_tasks
from app.ui.export import dialog as export_dialog
from app.ui.signature.editor import install_signature_editor


@pytest.fixture(autouse=True)
def temporary_settings(tmp_path, monkeypatch):
    """Every QSettings (and subprocesses' XDG config) goes under tmp_path, never the user's."""
    config = tmp_path / "config"
    config.mkdir()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(config))
    return config


@pytest.fixture(autouse=True)
def no_thread_left(qapp):
    yield
    left = running_tasks()
    for task in left:  # stop them so one failure does not crash the rest of the run
        task.state.cancel()
        task.wait()
    assert not left, f"test left worker threads running: {[t.objectName() for t in left]}"


@pytest.fixture(scope="session")
def pipeline_classifier(tmp_path_factory):
    """A TF1 training checkpoint fed by a tf.data iterator, with a label and Keras's
    learning phase (tests.ui.pipeline_graph): built once, in a child process."""
    from tests.isolated_build import build

    return build("tests.ui.pipeline_graph:classifier",
                 tmp_path_factory.mktemp("ckpt") / "pipeline")


@pytest.fixture
def window(qtbot):
    from app.ui.shell.window import MainWindow

    win = MainWindow(warm_up=False)
    qtbot.addWidget(win)
    win.show()
    return win


@pytest.fixture
def open_and_wait(qtbot):
    """``open_and_wait(window, path)`` opens a checkpoint and returns the LoadedCheckpoint."""

    def open_it(window, path, timeout: int = 60_000):
        with qtbot.waitSignal(window.checkpointLoaded, timeout=timeout) as blocker:
            window.open_path(path)
        return blocker.args[0]

    return open_it


@pytest.fixture
def editor(window, open_and_wait, skip_thoughts, monkeypatch):
    """The window with the signature editor and the skip-thoughts checkpoint open with the
    signature it starts with (Signet's proposal): what an export test starts from."""
    # A test that fails mid-export must not leave a modal question open when the window
    # closes: answer "cancel the export" unless a test says otherwise.
    monkeypatch.setattr(export_dialog, "ask_cancel_export", lambda parent: True)
    editor = install_signature_editor(window)
    open_and_wait(window, skip_thoughts.directory)
    assert editor.doc.draft.signatures[0].outputs, editor.last_status
    yield editor
    dialog = editor.export_dialog
    if dialog is not None and dialog.running():  # resume a stopped process, then cancel
        with contextlib.suppress(ProcessLookupError, TypeError):
            os.kill(dialog.child_pid, signal.SIGCONT)
        editor.shutdown()
