"""The graph view on a long Keras-named chain: readable first zoom, series boxes,
fan-out markers and the overview map (pytest-qt, offscreen)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

from app.core.graph.graph_view_model import is_training_op
from app.core.loader import load_checkpoint
from app.ui.graph.items import (
    LABEL_PIXELS,
    EdgeItem,
    FanoutMarkerItem,
    NodeItem,
    ScopeBoxItem,
)
from app.ui.graph.panel import READABLE_PIXELS
from tests.long_chain import build_long_chain


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    return load_checkpoint(build_long_chain(tmp_path_factory.mktemp("chain")))


@pytest.fixture
def panel(show_panel, chain):
    return show_panel(chain, 900, 600)


def _items(panel, kind):
    return [i for i in panel.scene.items() if isinstance(i, kind)]


def _on_screen(panel, item) -> bool:
    rect = panel.view.mapFromScene(item.sceneBoundingRect()).boundingRect()
    return panel.view.viewport().rect().intersects(rect)


def test_overview_readable_on_long_chain(panel, chain):
    assert panel.view.zoom() * LABEL_PIXELS >= READABLE_PIXELS - 1e-6
    nodes = {i.node.id: i for i in _items(panel, NodeItem)}
    series = {i.node.label for i in nodes.values() if i.node.is_series}
    assert series == {"conv2_block[1-3]", "conv3_block[1-4]", "conv4_block[1-6]",
                      "conv5_block[1-3]"}
    assert len(nodes) < 20  # ~180 scopes in the checkpoint
    assert _on_screen(panel, nodes["images"])  # opened at the inputs' end
    assert panel.view.overview_map.isVisible()  # the rest is off screen: the map shows it


def test_series_expands_and_collapses(qtbot, panel):
    item = next(i for i in _items(panel, NodeItem) if i.node.label == "conv2_block[1-3]")
    panel.view.centerOn(item)
    point = panel.view.mapFromScene(item.sceneBoundingRect().center())
    with qtbot.waitSignal(panel.layoutShown, timeout=30_000):
        QTest.mouseDClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=point)
    boxes = {i.node.id: i for i in _items(panel, ScopeBoxItem)}
    assert "conv2_block[1-3]*" in boxes and boxes["conv2_block[1-3]*"].node.is_series
    inside = [i for i in _items(panel, NodeItem) if i.node.parent == "conv2_block[1-3]*"]
    assert len(inside) == 3 * 10
    frame = boxes["conv2_block[1-3]*"].sceneBoundingRect()
    assert all(frame.contains(i.sceneBoundingRect().center()) for i in inside)
    with qtbot.waitSignal(panel.layoutShown, timeout=30_000):
        panel.toggle_scope("conv2_block[1-3]")
    assert not _items(panel, ScopeBoxItem)
    assert any(i.node.id == "conv2_block[1-3]*" for i in _items(panel, NodeItem))


def test_fanout_source_drawn_once_with_markers(panel):
    source = next(i for i in _items(panel, NodeItem) if i.node.id == "keras_learning_phase/")
    assert source.fanout == 5 and "Feeds 5 nodes" in source.toolTip()
    assert not [e for e in _items(panel, EdgeItem) if e.edge.src == "keras_learning_phase/"]
    markers = _items(panel, FanoutMarkerItem)
    assert len(markers) == 5
    assert all("keras_learning_phase" in m.toolTip() for m in markers)
    fed = {e.dst for e in panel.layout_data.edges if e.fanout}
    boxes = panel.layout_data.boxes
    assert {(boxes[d][0] + 10, boxes[d][1]) for d in fed} == {(m.x(), m.y()) for m in markers}


def test_overview_map_shows_and_moves_the_view(qtbot, panel):
    view = panel.view
    nav = view.overview_map
    assert nav.isVisible() and nav.width() <= 200 and nav.height() <= 200
    assert view.viewport().geometry().contains(nav.geometry())
    before = nav.visible_rect()
    assert before.top() < nav.height() / 3  # the view is at the inputs' end (top)
    target = QPoint(nav.width() // 2, nav.height() - 4)  # the outputs' end
    QTest.mouseClick(nav, Qt.MouseButton.LeftButton, pos=target)
    after = nav.visible_rect()
    assert after.center().y() > before.center().y() + 20
    centre = view.mapToScene(view.viewport().rect().center())
    wanted = nav.scene_point(QPointF(target))
    bottom = view.scene().sceneRect().bottom()
    # centred on the clicked point, as far as the scroll range lets it go
    assert abs(centre.y() - wanted.y()) < 2 or \
        view.mapToScene(view.viewport().rect().bottomLeft()).y() >= bottom - 2
    QTest.mousePress(nav, Qt.MouseButton.LeftButton, pos=target)
    QTest.mouseMove(nav, QPoint(nav.width() // 2, nav.height() // 2))
    QTest.mouseRelease(nav, Qt.MouseButton.LeftButton, pos=QPoint(nav.width() // 2,
                                                                  nav.height() // 2))
    assert nav.visible_rect().center().y() < after.center().y()


def test_selecting_an_op_inside_a_series_opens_the_series(qtbot, panel, chain):
    op = next(n for n, o in chain.graph.ops.items()
              if n.startswith("conv3_block2_1_bn/") and not is_training_op(o))
    with qtbot.assertNotEmitted(panel.opSelected), \
            qtbot.waitSignal(panel.layoutShown, timeout=30_000):
        assert panel.select_op(op)
    item = panel.scene.item_for(op)
    assert item is not None and item.isSelected() and _on_screen(panel, item)
    assert panel.layout_data.nodes["conv3_block[1-4]*"].expanded
    series = panel.scene.item_for("conv3_block[1-4]*")
    assert isinstance(series, ScopeBoxItem) and "conv3_block[1-4] series" in series.toolTip()
    menu = panel.context_menu(series.sceneBoundingRect().topLeft() + QPointF(20, 10))
    assert "Collapse conv3_block[1-4] series" in [a.text() for a in menu.actions()]
