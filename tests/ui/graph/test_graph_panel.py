"""The graph panel on its own: layout in a worker, selection, scopes, drag, menu, export."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest

from app.core.graph.graph_view_model import ScopedGraph
from app.ui.common.mime import TENSOR_MIME, tensors_from_mime
from app.ui.graph.items import NodeItem, ScopeBoxItem
from app.ui.graph.panel import MAX_ZOOM, MIN_ZOOM
from app.ui.graph.scene import write_image

SVG = "{http://www.w3.org/2000/svg}"



@pytest.fixture
def panel(show_panel, loaded):
    return show_panel(loaded)


def _viewport_point(panel, item):
    return panel.view.mapFromScene(item.sceneBoundingRect().center())


def _node_items(panel):
    return {i.node.id: i for i in panel.scene.items() if isinstance(i, NodeItem | ScopeBoxItem)}


def test_overview_shows_top_level_scopes_and_highlights_the_proposal(panel, loaded):
    items = _node_items(panel)
    assert panel.scene.highlights == {"encode_ids": "input", "encode_mask": "input",
                                      "encoder_out/thought_vectors": "output"}
    assert items["decode_post_ids"].highlight is None  # a label, never a served input
    assert {"encoder/", "decoder/", "encoder_out/", "encode_ids"} <= set(items)
    assert "gradients/" not in items and "Adam/" not in items  # machinery hidden by default
    assert items["encoder/"].node.op_count == panel.layout_data.nodes["encoder/"].op_count
    assert items["encode_ids"].highlight == "input"
    assert items["encode_ids"].cacheMode() == NodeItem.CacheMode.DeviceCoordinateCache
    assert "int64 [?, ?]" in items["encode_ids"].toolTip()
    assert "proposed serving input" in items["encode_ids"].toolTip()
    assert panel.status.text().startswith(f"{len(items)} nodes")


def test_select_op_expands_scopes_and_centres_without_echo(qtbot, panel):
    panel.view.zoom_by(3.0 / panel.view.zoom())  # larger than the viewport: it can scroll
    with qtbot.assertNotEmitted(panel.opSelected), \
            qtbot.waitSignal(panel.layoutShown, timeout=30_000):
        assert panel.select_op("encoder/thought_vectors:0")
    item = panel.scene.item_for("encoder/thought_vectors")
    assert item is not None and item.isSelected()
    assert panel.layout_data.nodes["encoder/"].expanded
    centre = panel.view.mapToScene(panel.view.viewport().rect().center())
    assert (centre - item.sceneBoundingRect().center()).manhattanLength() < 2
    assert not panel.select_op("no/such/op")


def test_clicking_an_op_emits_op_selected(qtbot, panel):
    item = panel.scene.item_for("encode_ids")
    panel.view.centerOn(item)
    with qtbot.waitSignal(panel.opSelected, timeout=5_000) as blocker:
        QTest.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton,
                         pos=_viewport_point(panel, item))
    assert blocker.args == ["encode_ids"]
    assert panel.selected_op() == "encode_ids"


def test_double_click_expands_and_collapses_a_scope(qtbot, panel):
    item = panel.scene.item_for("encoder/")
    panel.view.centerOn(item)
    with qtbot.waitSignal(panel.layoutShown, timeout=30_000):
        QTest.mouseDClick(panel.view.viewport(), Qt.MouseButton.LeftButton,
                          pos=_viewport_point(panel, item))
    box = panel.scene.item_for("encoder/")
    assert isinstance(box, ScopeBoxItem)
    inside = [n for n in panel.layout_data.nodes.values() if n.parent == "encoder/"]
    assert inside and all(panel.scene.item_for(n.id) is not None for n in inside)
    header = panel.view.mapFromScene(box.scenePos() + QPointF(40, 10))
    with qtbot.waitSignal(panel.layoutShown, timeout=30_000):
        QTest.mouseDClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=header)
    assert isinstance(panel.scene.item_for("encoder/"), NodeItem)
    assert not any(n.parent == "encoder/" for n in panel.layout_data.nodes.values())


def test_op_drag_carries_the_tree_rows_mime(panel, loaded):
    from app.ui.browse.tree_model import OpTreeModel

    mime = panel.scene.mime_for("encode_ids")
    assert mime.hasFormat(TENSOR_MIME) and mime.text() == "encode_ids:0"
    model = OpTreeModel()
    model.set_graph(loaded.graph)
    tree_mime = model.mimeData([model.index_of_name("encode_ids:0")])
    assert tensors_from_mime(mime) == tensors_from_mime(tree_mime)
    assert bytes(mime.data(TENSOR_MIME)) == bytes(tree_mime.data(TENSOR_MIME))
    assert panel.scene.mime_for("encoder/") is None  # a scope is not a tensor


def test_context_menu_adds_tensors_as_inputs_or_outputs(qtbot, panel):
    item = panel.scene.item_for("encode_ids")
    menu = panel.context_menu(item.sceneBoundingRect().center())
    actions = {a.text(): a for a in menu.actions()}
    assert {"Add as input", "Add as output", "Show neighbourhood",
            "Export view as PNG…", "Export view as SVG…"} <= set(actions)
    with qtbot.waitSignal(panel.addTensorRequested) as blocker:
        actions["Add as input"].trigger()
    assert blocker.args == ["encode_ids:0", "inputs"]
    with qtbot.waitSignal(panel.addTensorRequested) as blocker:
        actions["Add as output"].trigger()
    assert blocker.args == ["encode_ids:0", "outputs"]
    scope_menu = panel.context_menu(panel.scene.item_for("encoder/").sceneBoundingRect().center())
    assert "Expand encoder/" in [a.text() for a in scope_menu.actions()]


def test_training_toggle_and_neighbourhood_mode(qtbot, panel, loaded):
    with qtbot.waitSignal(panel.layoutShown, timeout=30_000):
        panel.training_action.trigger()
    assert {"gradients/", "Adam/", "save/"} <= set(panel.layout_data.nodes)
    with qtbot.waitSignal(panel.layoutShown, timeout=30_000):
        panel.training_action.trigger()
    assert "gradients/" not in panel.layout_data.nodes

    panel.hops_spin.setValue(1)
    focus = "encoder/thought_vectors"
    with qtbot.waitSignal(panel.layoutShown, timeout=30_000):
        panel.show_neighbourhood(focus)
    expected = ScopedGraph(loaded.graph).neighbourhood(focus, 1, show_training=False)
    assert set(panel.layout_data.nodes) == expected
    assert panel.neighbourhood_action.isChecked() and panel.selected_op() == focus
    with qtbot.waitSignal(panel.layoutShown, timeout=30_000):
        panel.hops_spin.setValue(2)
    assert set(panel.layout_data.nodes) == ScopedGraph(loaded.graph).neighbourhood(
        focus, 2, show_training=False)
    with qtbot.waitSignal(panel.layoutShown, timeout=30_000):
        panel.neighbourhood_action.trigger()
    assert "encoder/" in panel.layout_data.nodes


def test_zoom_is_clamped_and_actions_work(panel):
    panel.view.fit()
    before = panel.view.zoom()
    panel.zoom_in_action.trigger()
    assert panel.view.zoom() == pytest.approx(min(before * 1.25, MAX_ZOOM))
    panel.zoom_out_action.trigger()
    assert panel.view.zoom() == pytest.approx(before)
    panel.view.zoom_by(1e6)
    assert panel.view.zoom() == pytest.approx(MAX_ZOOM)
    panel.view.zoom_by(1e-9)
    assert panel.view.zoom() == pytest.approx(MIN_ZOOM)
    for action in (panel.zoom_in_action, panel.zoom_out_action, panel.fit_action):
        assert not action.shortcut().isEmpty()


def _svg_texts(path):
    return [el.text or "" for el in ET.parse(path).getroot().iter(f"{SVG}text")]


def test_labels_are_dropped_when_zoomed_far_out(panel, tmp_path):
    texts = {}
    for scale in (1.0, 0.1):
        path = tmp_path / f"lod{scale}.svg"
        write_image(panel.scene, path, scale=scale)
        texts[scale] = _svg_texts(path)
    assert any("encoder" in t for t in texts[1.0])
    assert texts[0.1] == []


def test_export_svg_and_png(panel, tmp_path):
    svg = tmp_path / "graph.svg"
    panel.export_image(svg)
    texts = _svg_texts(svg)
    assert {"encoder", "decoder", "encode_ids"} <= {t.strip() for t in texts}
    png = tmp_path / "graph.png"
    panel.export_image(png)
    image = QImage(str(png))
    assert not image.isNull() and image.width() > 100
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7)
               for y in range(0, image.height(), 7)}
    assert len(colours) > 5
    assert all(i.cacheMode() == NodeItem.CacheMode.DeviceCoordinateCache
               for i in panel.scene.items() if isinstance(i, NodeItem))
