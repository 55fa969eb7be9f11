"""The main window: opening (menu, command line, drop, recent), errors, cancel, About."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import PySide6
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl, qVersion
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from app import __version__
from app.core.disk.checkpoint import step_of
from app.demo import demo_checkpoint
from app.ui.common.settings import AppSettings
from app.ui.shell import launch, open_dialog
from app.ui.shell.window import MainWindow

ROOT = Path(__file__).resolve().parents[3]


def test_open_through_file_menu_sets_title_tree_and_steps(window, qtbot, skip_thoughts,
                                                          monkeypatch):
    asked = []

    def ask(parent, directory=""):
        asked.append(parent)
        return skip_thoughts.directory

    monkeypatch.setattr(open_dialog, "ask_checkpoint", ask)
    with qtbot.waitSignal(window.checkpointLoaded, timeout=60_000) as blocker:
        window.open_action.trigger()
    loaded = blocker.args[0]
    assert asked == [window]
    latest = skip_thoughts.latest
    assert loaded.checkpoint.prefix == latest
    assert window.windowTitle() == (
        f"{latest.name} (step {step_of(latest)}) — {skip_thoughts.directory.name} — Signet"
    )
    top = [window.tree.model.index(r, 0).data() for r in range(window.tree.model.rowCount())]
    assert top[:-1] == [node.name for node in loaded.graph.root.children]
    assert window.centre.currentWidget() is window.graph_placeholder
    steps = [window.step_combo.itemData(i) for i in range(window.step_combo.count())]
    assert steps == [step_of(p) for p in reversed(skip_thoughts.prefixes)]
    assert window._step_action.isVisible()


def test_demo_title_matches_the_brief(window, open_and_wait):
    open_and_wait(window, demo_checkpoint())
    assert window.windowTitle() == "model.ckpt-200 (step 200) — skip_thoughts — Signet"


def test_step_selector_opens_the_other_step(window, qtbot, skip_thoughts, open_and_wait):
    open_and_wait(window, skip_thoughts.directory)
    older = step_of(skip_thoughts.prefixes[0])
    row = window.step_combo.findData(older)
    with qtbot.waitSignal(window.checkpointLoaded, timeout=60_000) as blocker:
        window.step_combo.setCurrentIndex(row)
        window.step_combo.activated.emit(row)
    assert blocker.args[0].checkpoint.prefix == skip_thoughts.prefixes[0]
    assert f"(step {older})" in window.windowTitle()


def test_command_line_opens_a_meta_file(qtbot, cnn):
    meta = cnn.latest.with_name(cnn.latest.name + ".meta")
    win = launch.build_window(str(meta), warm_up=False)
    qtbot.addWidget(win)
    qtbot.waitUntil(lambda: win.loaded is not None, timeout=60_000)
    assert win.loaded.checkpoint.prefix == cnn.latest
    assert win.isVisible()


def test_signet_demo_opens_the_demo(qapp, monkeypatch, capsys):
    from app.cli import main

    monkeypatch.setenv(launch.EXIT_WHEN_SHOWN, "loaded")
    assert main(["--demo"]) == 0
    out = capsys.readouterr().out
    assert f"loaded {demo_checkpoint() / 'model.ckpt-200'} ops=" in out


def test_cli_sends_subcommands_to_argparse_and_the_rest_to_the_window():
    from app.cli import _wants_gui, build_parser

    parser = build_parser()
    assert _wants_gui(parser, [])
    assert _wants_gui(parser, ["some/folder"])
    assert _wants_gui(parser, ["--demo"])
    assert _wants_gui(parser, ["--debug", "model.ckpt-3.meta"])
    assert not _wants_gui(parser, ["inspect", "x"])
    assert not _wants_gui(parser, ["--debug", "inspect", "x"])
    assert not _wants_gui(parser, ["--help"])


def test_window_is_shown_before_tensorflow_is_imported(tmp_path):
    env = {"QT_QPA_PLATFORM": "offscreen", "SIGNET_EXIT_WHEN_SHOWN": "1",
           "XDG_CONFIG_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "app"], capture_output=True, text=True,
                         cwd=ROOT, env=env, timeout=120, check=True).stdout
    assert out.startswith("shown ") and out.strip().endswith("tensorflow=False"), out


def test_window_shows_the_demo_before_tensorflow_is_imported(tmp_path):
    """The op tree of a checkpoint opened at launch is on screen with TensorFlow never imported."""
    env = {"QT_QPA_PLATFORM": "offscreen", "SIGNET_EXIT_WHEN_SHOWN": "loaded",
           "XDG_CONFIG_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "app", "--demo"], capture_output=True, text=True,
                         cwd=ROOT, env=env, timeout=120, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("loaded "))
    assert f"{demo_checkpoint() / 'model.ckpt-200'} ops=" in line
    assert line.endswith("tensorflow=False"), out


def _drop(window, path: Path) -> bool:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    enter = QDragEnterEvent(QPoint(50, 50), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    if not enter.isAccepted():
        return False
    drop = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime,
                      Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, drop)
    return drop.isAccepted()


def test_dropping_a_folder_opens_it(window, qtbot, cnn):
    with qtbot.waitSignal(window.checkpointLoaded, timeout=60_000) as blocker:
        assert _drop(window, cnn.directory)
    assert blocker.args[0].checkpoint.prefix == cnn.latest


def test_dropping_text_is_refused(window):
    mime = QMimeData()
    mime.setText("not a file")
    enter = QDragEnterEvent(QPoint(5, 5), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    enter.setAccepted(False)
    QApplication.sendEvent(window, enter)
    assert not enter.isAccepted()


def test_recent_checkpoints_persist_and_drop_missing_ones(window, qtbot, skip_thoughts, cnn,
                                                          tmp_path, open_and_wait):
    copy = tmp_path / "copy"
    shutil.copytree(cnn.directory, copy)
    open_and_wait(window, skip_thoughts.directory)
    open_and_wait(window, copy)
    assert AppSettings().recent() == [copy.resolve(), skip_thoughts.directory.resolve()]

    shutil.rmtree(copy)
    again = MainWindow(warm_up=False)
    qtbot.addWidget(again)
    labels = [a.text() for a in again.recent_menu.actions() if a.text()]
    assert labels[0] == str(skip_thoughts.directory.resolve())
    assert str(copy.resolve()) not in labels
    assert again.empty_state.recent.count() == 1
    assert AppSettings().recent() == [skip_thoughts.directory.resolve()]


def test_recent_list_is_capped(tmp_path):
    settings = AppSettings()
    for i in range(15):
        (tmp_path / f"c{i}").mkdir()
        settings.add_recent(tmp_path / f"c{i}")
    recent = settings.recent()
    assert len(recent) == 10 and recent[0] == (tmp_path / "c14").resolve()


def test_dock_layout_is_restored_next_time(qtbot):
    first = MainWindow(warm_up=False)
    qtbot.addWidget(first)
    first.show()
    first.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, first.summary_dock)
    assert first.dockWidgetArea(first.summary_dock) == Qt.DockWidgetArea.LeftDockWidgetArea
    first.close()
    second = MainWindow(warm_up=False)
    qtbot.addWidget(second)
    second.show()
    assert second.dockWidgetArea(second.summary_dock) == Qt.DockWidgetArea.LeftDockWidgetArea


def test_corrupt_checkpoint_shows_an_error_and_keeps_the_previous(window, qtbot, skip_thoughts,
                                                                  tmp_path, open_and_wait):
    bad = tmp_path / "bad"
    shutil.copytree(skip_thoughts.directory, bad)
    meta = bad / (skip_thoughts.latest.name + ".meta")
    meta.write_bytes(meta.read_bytes()[:200])
    good = open_and_wait(window, skip_thoughts.directory)
    title = window.windowTitle()
    with qtbot.waitSignal(window.loadFailed, timeout=60_000) as blocker:
        window.open_path(bad)
    assert str(meta) in blocker.args[0]
    assert window.banner.isVisible()
    assert str(meta) in window.banner.message.text()
    assert "Traceback" in window.banner.details.toPlainText()
    assert not window.banner.details.isVisible()
    window.banner.details_button.click()
    assert window.banner.details.isVisible()
    assert window.loaded is good and window.windowTitle() == title


def test_opening_another_cancels_the_first(window, qtbot, skip_thoughts, cnn):
    emitted = []
    window.checkpointLoaded.connect(emitted.append)
    first = window.open_path(skip_thoughts.directory)
    second = window.open_path(cnn.directory)
    assert first.state.is_cancelled() and not second.state.is_cancelled()
    qtbot.waitUntil(lambda: not window.runner.busy() and bool(emitted), timeout=60_000)
    assert [e.checkpoint.prefix for e in emitted] == [cnn.latest]
    assert window.loaded.checkpoint.prefix == cnn.latest


def test_closing_while_loading_leaves_no_thread(qtbot, skip_thoughts):
    win = MainWindow(warm_up=False)
    qtbot.addWidget(win)
    win.show()
    task = win.open_path(skip_thoughts.directory)
    win.close()
    assert task.isFinished()


def test_close_returns_to_the_empty_state(window, qtbot, cnn):
    with qtbot.waitSignal(window.checkpointLoaded, timeout=60_000):
        window.empty_state.demo_button.click()
    assert window.centre.currentWidget() is window.graph_placeholder
    with qtbot.waitSignal(window.checkpointClosed):
        window.close_action.trigger()
    assert window.loaded is None and window.windowTitle() == "Signet"
    assert window.centre.currentWidget() is window.empty_state
    assert window.tree.model.rowCount() == 0


def test_empty_state_offers_open_recent_and_demo(window, qtbot, cnn, monkeypatch):
    assert window.centre.currentWidget() is window.empty_state
    assert window.empty_state.isVisible()
    assert window.empty_state.open_button.isVisible() and window.empty_state.demo_button.isVisible()
    assert not window.empty_state.recent.isVisible()  # nothing opened yet
    monkeypatch.setattr(open_dialog, "ask_checkpoint", lambda parent, directory="": cnn.directory)
    with qtbot.waitSignal(window.checkpointLoaded, timeout=60_000):
        window.empty_state.open_button.click()
    window.close_checkpoint()
    assert window.empty_state.recent.isVisible()
    item = window.empty_state.recent.item(0)
    with qtbot.waitSignal(window.checkpointLoaded, timeout=60_000) as blocker:
        window.empty_state.recent.itemActivated.emit(item)
    assert blocker.args[0].checkpoint.prefix == cnn.latest


def test_about_shows_versions(window, skip_thoughts):
    import tensorflow as tf  # already imported by the session's checkpoint builders

    dialog = window.show_about()
    text = dialog.text.text()
    for version in (__version__, tf.__version__, qVersion(), PySide6.__version__,
                    ".".join(map(str, sys.version_info[:3]))):
        assert version in text
    dialog.close()


def test_tensorflow_warms_up_in_the_background(qtbot, skip_thoughts):
    import tensorflow as tf

    win = MainWindow(warm_up=True)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.tensorflow_version is not None, timeout=60_000)
    assert win.tensorflow_version == tf.__version__


def test_tensorflow_warms_up_after_the_first_open_and_says_so_meanwhile(qtbot, skip_thoughts):
    """Opening needs no TensorFlow, so its import waits for the open (they would share the
    GIL); the status bar says TensorFlow is loading until it is ready."""
    win = MainWindow(warm_up=True)
    qtbot.addWidget(win)
    task = win.open_path(skip_thoughts.directory, remember=False)
    win.show()
    assert win.tensorflow_label.isVisible() and "TensorFlow" in win.tensorflow_label.text()
    assert win.tensorflow_version is None
    warm_started = []
    win._warm_runner.start = _recording(win._warm_runner.start, warm_started,
                                        lambda: task.isRunning())
    qtbot.waitUntil(lambda: win.loaded is not None, timeout=60_000)
    qtbot.waitUntil(lambda: win.tensorflow_version is not None, timeout=60_000)
    assert warm_started == [False]  # started once, when the open had finished
    assert not win.tensorflow_label.isVisible()


def _recording(start, calls: list, probe):
    def wrapped(*args, **kwargs):
        calls.append(probe())
        return start(*args, **kwargs)
    return wrapped


def test_checkpoint_dialog_accepts_a_checkpoint_folder(qtbot, cnn):
    dialog = open_dialog.CheckpointDialog(None, str(cnn.directory.parent))
    qtbot.addWidget(dialog)
    dialog.selectFile(str(cnn.directory))
    dialog.accept()
    assert dialog.result() == open_dialog.CheckpointDialog.DialogCode.Accepted
    assert dialog.chosen() == cnn.directory


def test_ctrl_f_focuses_the_search_box(window, qtbot):
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    window.log.setFocus()
    qtbot.waitUntil(window.log.hasFocus)
    qtbot.keyClick(window.log, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(window.tree.search.hasFocus)


def test_progress_shows_while_opening_and_hides_after(window, qtbot, cnn):
    with qtbot.waitSignal(window.checkpointLoaded, timeout=60_000):
        window.open_path(cnn.directory)
        assert window.progress.isVisible() and window.cancel_button.isVisible()
    qtbot.waitUntil(lambda: not window.progress.isVisible())
    assert "Opened" in window.log.toPlainText()


def test_opening_indexes_the_names_pieces_for_the_search_box(window, qtbot, cnn):
    """The open job (a worker thread) builds the index a keystroke searches, so the first
    keystroke does not; the box then finds what the plain scan of every name finds."""
    from app.core.graph.search import SearchIndex

    with qtbot.waitSignal(window.checkpointLoaded, timeout=60_000):
        window.open_path(cnn.directory)
    index = window.loaded.search_index
    assert index._pieces is not None
    window.tree.search.setText("dense")
    window.tree.apply_search()
    assert window.tree.result.ops == SearchIndex(window.loaded.graph).search("dense").ops
    assert window.tree.result.ops and window.tree.count.text().endswith("matches")


def test_opening_works_out_the_proposal_in_the_open_job(window, qtbot, cnn, monkeypatch):
    """The signature editor starts with the proposal: it is worked out in the worker
    thread that opens the checkpoint (about half a second at 100k ops), never on the UI
    thread."""
    import threading

    from app.core.proposal.proposer import Proposer

    threads = []
    real = Proposer.proposal

    def observed(self):
        threads.append(threading.current_thread())
        return real(self)

    monkeypatch.setattr(Proposer, "proposal", observed)
    with qtbot.waitSignal(window.checkpointLoaded, timeout=60_000):
        window.open_path(cnn.directory)
    assert threads and threading.main_thread() not in threads
    assert window.loaded.proposal.outputs  # kept with the graph: asking again is free
    assert len(threads) == 1


def test_opening_another_checkpoint_frees_the_previous_model(qtbot, skip_thoughts, cnn):
    """Loaded models are frozen out of the cyclic GC's sight (no stalls while opening),
    so the whole window must let go of the old one for reference counting to free it."""
    import gc
    import weakref

    from app.ui.shell.launch import build_window

    window = build_window(warm_up=False)
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.checkpointLoaded, timeout=60_000) as first:
        window.open_path(skip_thoughts.latest)
    old = weakref.ref(first.args[0].graph)
    window.select_op("encoder/thought_vectors")
    del first
    with qtbot.waitSignal(window.checkpointLoaded, timeout=60_000):
        window.open_path(cnn.latest)
    qtbot.waitUntil(lambda: not window.runner.busy(), timeout=30_000)
    gc.collect()  # only what is not frozen; a frozen model is freed by refcounts alone
    qtbot.waitUntil(lambda: old() is None, timeout=10_000)
