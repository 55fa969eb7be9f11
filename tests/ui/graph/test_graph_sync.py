"""The graph panel inside the main window: selection synced both ways with the op tree."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.ui.graph.panel import GraphPanel, install_graph_panel


@pytest.fixture
def synced(window, qtbot, skip_thoughts, open_and_wait):
    panel = install_graph_panel(window)
    open_and_wait(window, skip_thoughts.latest)
    qtbot.waitUntil(lambda: panel.layout_data is not None, timeout=30_000)
    yield window, panel
    panel.shutdown()


def _tree_current(window) -> str | None:
    current = window.tree.view.currentIndex()
    target = window.tree.model.index_of_name
    for name in ("encode_ids", "encoder/thought_vectors"):
        if target(name) == current:
            return name
    return None


def test_panel_sits_in_the_centre_and_follows_the_checkpoint(synced, qtbot):
    window, panel = synced
    assert isinstance(window.centre.currentWidget(), GraphPanel)
    assert "encoder/" in panel.layout_data.nodes
    assert panel.file_export_action.isEnabled()
    assert panel.file_export_action in window.menuBar().actions()[0].menu().actions()
    window.close_checkpoint()
    assert panel.loaded is None and panel.scene.items() == []
    assert not panel.file_export_action.isEnabled()


def test_selecting_in_the_tree_reveals_and_selects_in_the_view(synced, qtbot):
    window, panel = synced
    assert window.tree.select_op("encoder/thought_vectors")
    qtbot.waitUntil(lambda: panel.selected_op() == "encoder/thought_vectors", timeout=30_000)
    assert panel.layout_data.nodes["encoder/"].expanded
    assert "encoder/thought_vectors" in window.details.toPlainText()


def test_selecting_in_the_view_selects_the_tree_row_and_shows_details(synced, qtbot):
    window, panel = synced
    item = panel.scene.item_for("encode_ids")
    panel.view.centerOn(item)
    with qtbot.waitSignal(window.opSelected, timeout=5_000) as blocker:
        QTest.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton,
                         pos=panel.view.mapFromScene(item.sceneBoundingRect().center()))
    assert blocker.args == ["encode_ids"]
    assert _tree_current(window) == "encode_ids"
    assert "encode_ids" in window.details.toPlainText()
    assert panel.selected_op() == "encode_ids"  # the echo from the tree keeps it selected


def test_add_from_the_view_reaches_the_window(synced, qtbot):
    window, panel = synced
    item = panel.scene.item_for("encode_ids")
    menu = panel.context_menu(item.sceneBoundingRect().center())
    [add] = [a for a in menu.actions() if a.text() == "Add as input"]
    with qtbot.waitSignal(window.addTensorRequested) as blocker:
        add.trigger()
    assert blocker.args == ["encode_ids:0", "input"]


def test_closing_the_window_waits_for_the_layout_thread(synced):
    from app.ui.common.workers import running_tasks

    window, panel = synced
    panel.set_show_training(True)  # a layout starts in a worker
    window.close()
    assert running_tasks() == []
