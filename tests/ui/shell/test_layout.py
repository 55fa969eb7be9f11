"""The default dock layout at 1280×800, and a layout saved on a bigger screen restored on a
smaller one (pytest-qt, offscreen: real widget geometry, measured)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDockWidget

from app.ui.browse.tree_model import HEADERS, SHAPE
from app.ui.shell.launch import build_window

TIMEOUT = 60_000


def _full_window(qtbot, path=None):
    window = build_window(str(path) if path else None, warm_up=False)
    qtbot.addWidget(window)
    qtbot.waitExposed(window)
    if path is not None:
        qtbot.waitUntil(lambda: window.loaded is not None, timeout=TIMEOUT)
        qtbot.waitUntil(lambda: window.graph_panel.layout_data is not None, timeout=TIMEOUT)
    QApplication.processEvents()
    return window


def _raise(qtbot, dock: QDockWidget) -> None:
    dock.raise_()
    qtbot.waitUntil(dock.widget().isVisible)
    QApplication.processEvents()


def _lines(edit) -> float:
    return edit.viewport().height() / edit.fontMetrics().lineSpacing()


def test_default_layout_fits_1280x800(qtbot, skip_thoughts):
    window = _full_window(qtbot, skip_thoughts.directory)
    assert (window.width(), window.height()) == (1280, 800)
    assert window.centralWidget().width() >= 360  # the graph keeps room

    # The Checkpoint dock shows all it says, the proposal's why-lines and notes included.
    _raise(qtbot, window.summary_dock)
    summary = window.summary
    assert "Proposed signature" in summary.toPlainText()
    assert summary.document().size().height() <= summary.viewport().height()
    assert summary.verticalScrollBar().maximum() == 0

    # Try It's request and answer have room for a body and an answer.
    _raise(qtbot, window.findChild(QDockWidget, "tryDock"))
    panel = window.try_panel
    assert _lines(panel.request) >= 15, _lines(panel.request)
    assert _lines(panel.answer) >= 10, _lines(panel.answer)
    assert panel.request.width() >= 380

    # The signature editor's tables show a few rows each.
    _raise(qtbot, window.signature_dock)
    editor = window.signature_editor
    for side in ("inputs", "outputs"):
        view = editor.views[side]
        assert view.viewport().height() >= 4 * view.sizeHintForRow(0), side

    # The Ops tree shows Name, Op type, Dtype and Shape uncut, inside its view.
    tree = window.tree.view
    header = tree.header()
    for column in range(SHAPE + 1):
        assert header.sectionSize(column) >= header.sectionSizeHint(column), HEADERS[column]
        if column:  # the values too (the name column elides long scope paths)
            assert header.sectionSize(column) >= tree.sizeHintForColumn(column), \
                HEADERS[column]
    right = header.sectionPosition(SHAPE) + header.sectionSize(SHAPE)
    assert right <= tree.viewport().width(), (right, tree.viewport().width())
    window.close()


def test_layout_saved_on_a_bigger_screen_restores_uncrushed(qtbot):
    big = _full_window(qtbot)
    big.resize(2400, 1400)
    QApplication.processEvents()
    big.resizeDocks([big.tree_dock, big.summary_dock], [1000, 1000], Qt.Orientation.Horizontal)
    QApplication.processEvents()
    big.close()  # saves geometry and dock state

    window = _full_window(qtbot)
    screen = window.screen().availableGeometry()
    # On screen, and no taller than it (the offscreen screen is 800 px wide, narrower
    # than the docks' minimum widths together: the width is as small as they allow).
    frame = window.frameGeometry()
    assert screen.contains(frame.topLeft()) and frame.height() <= screen.height(), frame
    assert frame.width() < 1280, frame
    assert window.centralWidget().width() >= window.width() // 5
    for dock in window.findChildren(QDockWidget):
        if dock.isVisible():
            wanted = dock.minimumSizeHint()
            assert dock.width() >= wanted.width() and dock.height() >= wanted.height(), \
                dock.objectName()
    window.close()
