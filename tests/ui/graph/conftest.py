"""The graph rooms' shared fixture: a shown GraphPanel with a checkpoint laid out."""

from __future__ import annotations

import pytest

from app.ui.graph.panel import GraphPanel


@pytest.fixture
def show_panel(qtbot):
    """``show_panel(loaded, width, height)``: a panel on screen once its first layout is
    shown; its worker is shut down after the test."""
    shown = []

    def show(loaded, width: int = 900, height: int = 700) -> GraphPanel:
        widget = GraphPanel()
        qtbot.addWidget(widget)
        widget.resize(width, height)
        widget.show()
        with qtbot.waitSignal(widget.layoutShown, timeout=30_000):
            widget.set_checkpoint(loaded)
        shown.append(widget)
        return widget

    yield show
    for widget in shown:
        widget.shutdown()
