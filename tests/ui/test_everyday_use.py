"""Everyday use (issue 14): dragging op rows, the Training ops toggle, slot keys, shortcuts,
texts that are true, the Log dock after an export, Help."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from app.core.signature import Level
from app.ui.graph_panel import install_graph_panel
from app.ui.signature_editor import install_signature_editor
from app.ui.tree_model import NAME
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
    view = editor.views["outputs"]
    drag_and_drop(view, tensor_data(editor.doc.graph, "encoder/thought_vectors:0"))
    drag_and_drop(view, tensor_data(editor.doc.graph, "encoder/thought_vectors:0"))
    warnings = [p.message for p in editor.doc.problems if p.level is Level.WARNING]
    assert any("encoder/thought_vectors:0 is already output 'thought_vectors'" in w
               for w in warnings)


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
