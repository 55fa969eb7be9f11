"""Qt test isolation: settings in a temporary folder, and no worker thread left running."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from app.ui.workers import running_tasks


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


@pytest.fixture
def window(qtbot):
    from app.ui.window import MainWindow

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
