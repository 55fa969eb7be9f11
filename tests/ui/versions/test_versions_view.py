"""The Versions window: the eval chart with published versions marked, the table, the
actions (stable label, delete, publish a step) and a background `signet watch`."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.core.loader import load_checkpoint
from app.core.signature.draft import Draft, Signature, Slot
from app.core.watch import Policy, Watch
from app.core.watch.serving_config import labels_of
from app.ui.shell.window import MainWindow
from app.ui.versions import VersionsWindow, open_versions
from tests.test_watch import _finished, _training

TIMEOUT = 180_000


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("versions") / "run"  # losses 0.5 0.3 0.4 0.2 0.35
    _finished(_training(run))
    return run


@pytest.fixture
def model_folder(run_dir, tmp_path) -> Path:
    """BASE/NAME with the best versions of the run (10, 20, 40) published by a watch."""
    draft = Draft([Signature("serving_default", "predict", [Slot("x", "x:0")],
                             [Slot("y", "pred:0")])])
    Watch(run_dir, tmp_path / "base", "lin", draft, Policy("best"), log=lambda _: None).run(
        once=True)
    return tmp_path / "base" / "lin"


def _window(qtbot, folder: Path) -> VersionsWindow:
    window = VersionsWindow(folder)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: len(window.chart.plotted()) == 5, timeout=TIMEOUT)
    return window


def test_chart_and_table_show_the_run_and_its_versions(qtbot, qtmodeltester, model_folder):
    window = _window(qtbot, model_folder)
    qtmodeltester.check(window.model)
    assert [(s, round(v, 3)) for s, v in window.chart.plotted()] == \
        [(10, 0.5), (20, 0.3), (30, 0.4), (40, 0.2), (50, 0.35)]
    assert window.chart.marked_versions() == [40, 20, 10]  # published ones only, not 30/50
    assert [label.toPlainText() for label in window.chart.labels] == \
        ["v40 stable", "v20", "v10"]
    model = window.model
    assert [model.index(r, 0).data() for r in range(model.rowCount())] == ["40", "20", "10"]
    assert model.headerData(2, Qt.Orientation.Horizontal) == "loss"
    assert model.index(0, 4).data() == "canary, stable"
    assert model.index(0, 5).data() == "serving_default: x float32 [?, 3] → y float32 [?, 1]"
    window.close()


def test_move_stable_and_delete_with_confirmation(qtbot, model_folder):
    window = _window(qtbot, model_folder)
    base = model_folder.parent
    window.select_version(20)
    assert window.stable_button.isEnabled()
    window.stable_button.click()
    assert labels_of(base, "lin") == {"stable": 20, "canary": 40}
    assert window.model.index(window.model.row_of(20), 4).data() == "stable"
    assert [t.toPlainText() for t in window.chart.labels] == ["v40", "v20 stable", "v10"]

    asked = []
    window.confirm = lambda text: asked.append(text) or False
    window.select_version(10)
    window.delete_button.click()
    assert (model_folder / "10").is_dir() and "Delete version 10 of lin?" in asked[0]
    window.confirm = lambda text: True
    window.delete_button.click()
    assert not (model_folder / "10").exists()
    assert window.model.row_of(10) == -1 and window.chart.marked_versions() == [40, 20]
    assert labels_of(base, "lin") == {"stable": 20, "canary": 40}
    window.close()


def test_publish_step_and_watch_this_run_run_signet_watch(qtbot, model_folder, run_dir):
    window = _window(qtbot, model_folder)
    window.ask_step = lambda steps: (steps == [10, 20, 30, 40, 50] or None) and 30
    with qtbot.waitSignal(window.runner.ended, timeout=TIMEOUT) as ended:
        window.publish_button.click()
    assert ended.args == [0], window.log.toPlainText()
    assert "step 30: published version 30, loss 0.4" in window.log.toPlainText()
    assert "absl" not in window.log.toPlainText()  # TensorFlow's start-up chatter is left out
    assert (model_folder / "30").is_dir() and window.model.row_of(30) >= 0
    assert 30 in window.chart.marked_versions()

    # Watch this run into another (empty) model folder, in the background, then stop it.
    other = VersionsWindow(model_folder.parent / "other")
    qtbot.addWidget(other)
    other.start_watch(str(run_dir), ["--policy", "best", "--interval", "0.5"])
    assert other.watch_button.text() == "Stop Watching"
    qtbot.waitUntil(lambda: "published version 40" in other.log.toPlainText(),
                    timeout=TIMEOUT)
    with qtbot.waitSignal(other.runner.ended, timeout=TIMEOUT):
        other.watch_button.click()  # SIGINT: stops after the current export
    assert "stopped" in other.log.toPlainText()
    assert [other.model.index(r, 0).data() for r in range(other.model.rowCount())] == \
        ["40", "20", "10"]
    other.close()
    window.close()


def test_opened_from_file_menu_and_from_an_export_result(qtbot, model_folder, run_dir,
                                                         monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    main = MainWindow(warm_up=False)
    qtbot.addWidget(main)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        staticmethod(lambda *a, **k: str(model_folder)))
    main.versions_action.trigger()
    opened = [w for w in main.findChildren(VersionsWindow) if w.isVisible()]
    assert [w.folder for w in opened] == [model_folder]

    dialog = main.new_export_dialog(load_checkpoint(run_dir), Draft())
    result = dialog.result_view
    result.path = model_folder / "40"  # as after an export into it
    with qtbot.waitSignal(result.versionsRequested) as asked:
        result.versions_button.click()  # the same folder: the window already open comes up
    assert asked.args == [model_folder]
    assert [w for w in main.findChildren(VersionsWindow) if w.isVisible()] == opened
    assert open_versions(model_folder, main) is opened[0]
    qtbot.waitUntil(lambda: not opened[0].tasks.busy(), timeout=TIMEOUT)
    dialog.close()
    main.close()
