"""Fit keeps the graph readable: on a flat 500-op model and on a ResNet-50-named chain,
every box on screen shows its name at 9 px or more at every zoom the view allows, and the
overview map never covers a node (pytest-qt, offscreen)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QLineF, QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QStyleOptionGraphicsItem

from app.core.loader import load_checkpoint
from app.ui.graph.items import LABEL_LOD, NodeItem, ScopeBoxItem, label_font
from app.ui.graph.panel import READABLE_PIXELS
from tests.checkpoints import save_initialized
from tests.long_chain import build_long_chain

LAYERS = 45


def build_flat_model(directory: Path) -> Path:
    """A dense stack with no name scopes: every MatMul, BiasAdd and Relu at the top level,
    as a hand-written TF1 model often is (500 ops and more)."""
    from app.core.tf_runtime import tensorflow

    tf = tensorflow()
    tf1 = tf.compat.v1
    directory.mkdir(parents=True, exist_ok=True)
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [None, 8], name="features")
        for i in range(LAYERS):
            w = tf1.get_variable(f"w{i}", [8, 8])
            b = tf1.get_variable(f"b{i}", [8])
            x = tf.nn.relu(tf.nn.bias_add(tf.matmul(x, w), b))
        tf.nn.softmax(x, name="probabilities")
        return Path(save_initialized(graph, directory / "flat.ckpt"))


@pytest.fixture(scope="module")
def flat(tmp_path_factory):
    return load_checkpoint(build_flat_model(tmp_path_factory.mktemp("flat")))


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    return load_checkpoint(build_long_chain(tmp_path_factory.mktemp("chain")))


def _label_pixels(view, item) -> float:
    """How tall the item's label is drawn on screen: its font through the item's
    transform to the viewport (the view's zoom, whatever set it)."""
    transform = item.deviceTransform(view.viewportTransform())
    if QStyleOptionGraphicsItem.levelOfDetailFromTransform(transform) < LABEL_LOD:
        return 0.0  # the item draws no text at this zoom
    return transform.map(QLineF(0, 0, 0, label_font().pixelSize())).length()


def _boxes_on_screen(view) -> list:
    return [i for i in view.items(view.viewport().rect())
            if isinstance(i, NodeItem | ScopeBoxItem)]


def _check_readable(view) -> None:
    boxes = _boxes_on_screen(view)
    assert boxes  # the view frames part of the graph, not empty space
    small = {i.node.id: round(_label_pixels(view, i), 1) for i in boxes
             if _label_pixels(view, i) < READABLE_PIXELS - 1e-6}
    assert not small, small


def _check_map(view) -> None:
    """The overview map is hidden, or covers no node box on screen."""
    nav = view.overview_map
    if not nav.isVisible():
        return
    area = QRectF(view.viewport().mapFrom(view, nav.geometry().topLeft()),
                  nav.size().toSizeF())
    for item in _boxes_on_screen(view):
        box = item.shape().boundingRect() if isinstance(item, ScopeBoxItem) \
            else item.boundingRect()
        shown = view.mapFromScene(item.mapToScene(box)).boundingRect()
        assert not area.intersects(QRectF(shown)), item.node.id


def _wheel_out(view, steps: int) -> None:
    centre = QPointF(view.viewport().rect().center())
    for _ in range(steps):
        event = QWheelEvent(centre, view.viewport().mapToGlobal(centre), QPoint(),
                            QPoint(0, -120), Qt.MouseButton.NoButton,
                            Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
                            False)
        QApplication.sendEvent(view.viewport(), event)


@pytest.mark.parametrize("model", ["flat", "chain"])
def test_fit_keeps_labels_readable(model, request, show_panel, qtbot):
    loaded = request.getfixturevalue(model)
    if model == "flat":
        assert len(loaded.graph) >= 500
    panel = show_panel(loaded, 900, 600)
    view = panel.view
    view.zoom_by(4.0)  # anywhere, then Fit
    panel.fit_action.trigger()
    _check_readable(view)
    _check_map(view)
    scene = view.scene().sceneRect()
    shown = view.mapToScene(view.viewport().rect()).boundingRect()
    assert not shown.contains(scene)  # too big for readable labels: part is off screen
    _wheel_out(view, 12)  # as far out as the wheel goes
    _check_readable(view)
    _check_map(view)
    bar = view.verticalScrollBar()
    for value in (bar.minimum(), (bar.minimum() + bar.maximum()) // 2, bar.maximum()):
        bar.setValue(value)  # the map moves to a free corner as the view scrolls
        _check_readable(view)
        _check_map(view)
    # Expanded scopes draw their boxes at the same readable size.
    scope = next((n for n in panel.layout_data.nodes.values() if n.is_scope), None)
    if scope is not None:
        with qtbot.waitSignal(panel.layoutShown, timeout=30_000):
            panel.toggle_scope(scope.id.rstrip("/*").rstrip("/"))
        panel.fit_action.trigger()
        _check_readable(view)
        _check_map(view)
