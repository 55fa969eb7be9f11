"""Everyday use (issue 14): dragging op rows, the Training ops toggle, slot keys, shortcuts,
texts that are true, the Log dock after an export, Help."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.core.signature.draft import Level
from app.ui.browse.tree_model import NAME
from app.ui.graph.panel import install_graph_panel
from app.ui.signature.editor import install_signature_editor
from tests.ui.helpers_signature import drag_and_drop, slots, tensor_data


@pytest.fixture
def editor(window, open_and_wait, skip_thoughts):
    editor = install_signature_editor(window)
    open_and_wait(window, skip_thoughts.directory)
    return editor


def test_drag_op_row_adds_first_output(editor, window):
    graph = editor.doc.graph
    op = next(o for o in graph.ops.values() if len(o.outputs) > 1)
    model = window.tree.model
    index = model.index_of_name(op.name)
    assert model.flags(index) & Qt.ItemFlag.ItemIsDragEnabled  # a press + move drags it
    data = model.mimeData([index, index.siblingAtColumn(NAME + 1)])
    assert data.text() == op.outputs[0].name
    outputs = editor.views["outputs"]
    before = len(slots(editor, "outputs"))
    assert drag_and_drop(outputs, data)["drop"]
    assert [t for _, t in slots(editor, "outputs")][before:] == [op.outputs[0].name]


def test_an_op_with_a_default_name_is_keyed_by_its_scope(editor):
    drag_and_drop(editor.views["outputs"],
                  tensor_data(editor.doc.graph, "embedding_lookup/Identity"))
    assert slots(editor, "outputs")[-1] == ("embedding_lookup", "embedding_lookup/Identity:0")


def test_the_same_tensor_twice_as_output_warns(editor):
    out = "encoder_out/thought_vectors:0"
    assert slots(editor, "outputs") == [("thought_vectors", out)]  # Signet's proposal
    drag_and_drop(editor.views["outputs"], tensor_data(editor.doc.graph, out))
    warnings = [p.message for p in editor.doc.problems if p.level is Level.WARNING]
    assert any(f"{out} is already output 'thought_vectors'" in w for w in warnings)


def test_selecting_a_training_op_never_flips_the_toggle(window, qtbot, open_and_wait,
                                                       skip_thoughts):
    panel = install_graph_panel(window)
    loaded = open_and_wait(window, skip_thoughts.latest)
    qtbot.waitUntil(lambda: panel.layout_data is not None, timeout=30_000)
    adam = next(n for n in loaded.graph.ops if n.startswith("Adam/"))
    assert window.select_op(adam)  # the tree shows it
    assert not panel.training_action.isChecked()
    assert "training op" in panel.status.text() and "Training ops" in panel.status.text()
    panel.shutdown()


def test_export_shortcut_from_search_box(editor, window, qtbot):
    from PySide6.QtGui import QAction, QKeySequence
    from PySide6.QtTest import QTest

    from app.ui.shell.help import install_help

    install_help(window)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    window.tree.focus_search()
    window.tree.search.setText("encoder")
    qtbot.waitUntil(lambda: window.tree.search.hasFocus())
    assert editor.export_action.isEnabled()
    QTest.keyClick(window.tree.search, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    dialog = editor.export_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.close()
    # On X11 the line edit claims Ctrl+E (end of line); offscreen it does not, so check the
    # same trap with a key every platform's line edit claims (Ctrl+Left: previous word).
    fired = []
    probe = QAction("Probe", window, shortcut=QKeySequence("Ctrl+Left"))
    probe.triggered.connect(lambda: fired.append(True))
    window.addAction(probe)
    window.activateWindow()
    window.tree.search.setFocus()
    qtbot.waitUntil(lambda: window.tree.search.hasFocus())
    QTest.keyClick(window.tree.search, Qt.Key.Key_Left, Qt.KeyboardModifier.ControlModifier)
    assert fired == [True]
    # Undo stays the text's own.
    window.tree.search.setText("encoder")
    window.tree.search.insert("x")
    QTest.keyClick(window.tree.search, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.tree.search.text() == "encoder"
    # The search box keeps its own editing keys where no window shortcut uses them.
    window.tree.search.setFocus()
    window.tree.search.setCursorPosition(0)
    QTest.keyClick(window.tree.search, Qt.Key.Key_End)
    assert window.tree.search.cursorPosition() == len("encoder")


def test_help_lists_the_shortcuts_and_the_user_guide(editor, window):
    from app.ui.shell.help import GuideDialog, ShortcutsDialog, install_help

    install_help(window)
    help_menu = window.menuBar().actions()[-1].menu()
    texts = [a.text().replace("&", "") for a in help_menu.actions()]
    assert texts[:2] == ["User Guide", "Keyboard Shortcuts"] and "About Signet" in texts
    table = ShortcutsDialog(window).table
    rows = {table.item(r, 0).text(): table.item(r, 1).text() for r in range(table.rowCount())}
    assert rows["Export"] == "Ctrl+E" and rows["Find Op"] == "Ctrl+F"
    assert rows["Quit"] == "Ctrl+Q" and rows["Undo"] == "Ctrl+Z"
    guide = GuideDialog(window).browser.toPlainText()
    assert "Building the signature: drag into slots" in guide and "Troubleshooting" in guide
    assert "Benchmarks" not in guide.splitlines()


def test_missing_qt_libraries_message(monkeypatch, capsys):
    """Qt would abort naming no package; Signet prints one line with packages and command."""
    from app.ui.shell import launch, platform_check
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.setattr(platform_check, "missing_xcb_libraries", lambda: [
        "libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1"])
    assert launch.main(["--demo"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1" in err
    assert "sudo dnf install xcb-util-cursor xcb-util-wm xcb-util-keysyms" in err
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")  # another platform: no check
    assert platform_check.xcb_problem() is None


def test_the_library_check_agrees_with_ldd_on_the_xcb_plugin():
    """Every library the dynamic linker cannot find for Qt's xcb plugin is reported."""
    import shutil
    import subprocess
    from pathlib import Path

    import PySide6

    from app.ui.shell import platform_check
    plugin = Path(PySide6.__file__).parent / "Qt" / "lib" / "libQt6XcbQpa.so.6"
    if shutil.which("ldd") is None or not plugin.is_file():
        pytest.skip("needs ldd and PySide6's xcb library")
    out = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True).stdout
    not_found = {line.split()[0] for line in out.splitlines() if "not found" in line}
    assert not_found <= set(platform_check.XCB_LIBRARIES)
    assert not_found <= set(platform_check.missing_xcb_libraries())


def test_first_open_says_nothing_restored(window, qtbot, open_and_wait):
    from app.demo import demo_checkpoint

    editor = install_signature_editor(window)
    messages: list[str] = []
    editor.statusMessage.connect(messages.append)
    open_and_wait(window, demo_checkpoint())  # a first-ever open: nothing saved before
    assert not any("Restored" in m for m in messages)
    assert "starts with Signet's proposal" in window.statusBar().currentMessage()
    window.close_checkpoint()
    messages.clear()
    open_and_wait(window, demo_checkpoint())  # now there is a saved draft, and it says so
    assert any(m.startswith("Restored the signature draft") for m in messages)


def test_export_result_in_log(editor, window, qtbot, tmp_path):
    from app.ui.export.log import install_export_log, recent_exports

    log = install_export_log(window)
    assert editor.save_preset(tmp_path / "encoder.json")
    assert f"Saved the preset {tmp_path / 'encoder.json'}" in window.log.toPlainText()
    editor.export_action.trigger()
    dialog = editor.export_dialog
    # No large empty area under the form before the export.
    assert dialog.height() <= dialog.sizeHint().height() + 8
    dialog.base.setText(str(tmp_path / "models"))
    dialog.name.setText("encoder")
    with qtbot.waitSignal(dialog.exportSucceeded, timeout=180_000) as blocker:
        dialog.start()
    result = blocker.args[0]
    assert dialog.result_view.height() > dialog.height() / 2  # a roomy result page
    assert dialog.result_view.summary.height() >= 100
    dialog.close()
    text = window.log.toPlainText()
    assert f"Published version 1: {result.path}" in text
    assert "verified 1 signature(s) against the checkpoint" in text
    assert "tensorflow_model_server" in text and "model_config_list" in text
    assert "curl -X POST" in text
    # File › Recent Exports reopens the result page, also from a new window's settings.
    [record] = recent_exports(window.settings)
    assert record.path == str(result.path) and record.version == 1
    [action] = log.menu.actions()
    assert str(result.path) in action.text()
    assert log.menu.menuAction() in window.menuBar().actions()[0].menu().actions()
    shown = log.reopen(record)
    assert str(result.path) in shown.view.path_label.text()
    assert "verified 1 signature" in shown.view.verification.text()
    assert set(shown.view.snippets) == set(dialog.result_view.snippets)
    shown.close()


def test_recent_list_shows_the_chosen_file_once_and_opens_on_one_click(window, qtbot,
                                                                       open_and_wait, cnn):
    from PySide6.QtTest import QTest

    from app.core.disk.checkpoint import Checkpoint

    meta = Path(f"{cnn.latest}.meta")
    open_and_wait(window, cnn.directory)
    open_and_wait(window, meta)  # the same model again, through its .meta file
    assert window.settings.recent() == [meta.resolve()]  # once, as the path chosen
    window.close_checkpoint()
    recent = window.empty_state.recent
    assert recent.count() == 1 and recent.item(0).text().startswith(meta.name)
    rect = recent.visualItemRect(recent.item(0))
    opened: list[object] = []
    window.checkpointLoaded.connect(opened.append)
    with qtbot.waitSignal(window.checkpointLoaded, timeout=60_000) as blocker:
        QTest.mouseClick(recent.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args[0].checkpoint.prefix == Checkpoint(cnn.latest).prefix
    window.close_checkpoint()
    recent.setCurrentRow(0)
    recent.setFocus()
    with qtbot.waitSignal(window.checkpointLoaded, timeout=60_000):
        QTest.keyClick(recent, Qt.Key.Key_Return)
    window.close_checkpoint()
    # A double-click as a mouse makes it: a click, then a double-click event.
    QTest.mouseClick(recent.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    QTest.mouseDClick(recent.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: len(opened) == 3, timeout=60_000)
    qtbot.wait(300)
    assert len(opened) == 3 and window.log.toPlainText().count(f"Opening {meta}") == 1 + 3


def test_op_columns_fit_the_names_and_are_remembered(qtbot, open_and_wait, skip_thoughts):
    from app.ui.shell.window import MainWindow

    window = MainWindow(warm_up=False)
    qtbot.addWidget(window)
    window.resize(1500, 900)
    window.show()
    open_and_wait(window, skip_thoughts.directory)
    view, model = window.tree.view, window.tree.model
    for row in range(model.rowCount()):
        view.expand(model.index(row, 0))
    window.tree.widths.user_set = False
    window.tree.widths.fit()
    fm = view.fontMetrics()
    longest = max(fm.horizontalAdvance(model.index(r, 0).data())
                  for r in range(model.rowCount()))
    assert view.header().sectionSize(NAME) > longest  # no top-level name is cut off
    view.header().resizeSection(NAME, 333)  # the user drags the column edge
    window.close()
    again = MainWindow(warm_up=False)
    qtbot.addWidget(again)
    again.show()
    open_and_wait(again, skip_thoughts.directory)
    assert again.tree.view.header().sectionSize(NAME) == 333


def test_slot_keys_are_never_cut_off(editor):
    from app.ui.signature.model import KEY

    view = editor.views["outputs"]
    drag_and_drop(view, tensor_data(editor.doc.graph, "encoder_out/thought_vectors:0"))
    drag_and_drop(view, tensor_data(editor.doc.graph, "encoder/thought_vectors:0"))
    key = slots(editor, "outputs")[-1][0]
    assert key == "encoder_thought_vectors"
    assert view.columnWidth(KEY) >= view.fontMetrics().horizontalAdvance(key)


def test_the_home_folder_shows_as_a_tilde(window, open_and_wait, skip_thoughts, tmp_path,
                                          monkeypatch):
    import shutil

    home = tmp_path / "home"
    model = home / "models" / "skip_thoughts"
    shutil.copytree(skip_thoughts.directory, model)
    monkeypatch.setenv("HOME", str(home))
    open_and_wait(window, model)
    assert "Opening ~/models/skip_thoughts" in window.log.toPlainText()
    assert "~/models/skip_thoughts" in window.summary.toPlainText()
    window.log_message(f"--model_base_path={model}")  # a command to paste stays exact
    assert f"--model_base_path={model}" in window.log.toPlainText()


def test_a_huge_sample_body_is_previewed_but_copied_whole(qtbot):
    """An image model's sample body is megabytes of JSON: Qt would lay it out for seconds
    on the UI thread, and the settings would keep ten of them."""
    from PySide6.QtGui import QGuiApplication

    from app.ui.export.log import log_lines
    from app.ui.export.result import KEPT_CHARS, PREVIEW_CHARS, ExportRecord, Snippet

    body = "curl -d '" + "[0.123456789, " * 200_000 + "]'"
    snippet = Snippet("REST predict request", body)
    qtbot.addWidget(snippet)
    assert len(snippet.text.toPlainText()) < PREVIEW_CHARS + 100
    assert "MB in all" in snippet.text.toPlainText()
    snippet.copy()
    assert QGuiApplication.clipboard().text() == body
    record = ExportRecord("/m/1", 1, "verified", "summary", {"REST": body, "short": "ok"})
    stored = record.to_dict()["snippets"]
    assert len(stored["REST"]) < KEPT_CHARS and stored["short"] == "ok"
    assert max(len(line) for line in log_lines(record)) < 500
