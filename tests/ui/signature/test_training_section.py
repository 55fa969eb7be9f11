"""The Signature dock's "Training → serving" section: switches, undo, op links, presets."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from app.core.signature.draft import Level, Signature, Slot
from app.core.signature.preset import load_preset
from app.ui.graph.items import NodeItem
from app.ui.graph.panel import install_graph_panel
from app.ui.signature.editor import install_signature_editor
from tests import rewrite_builders

SITE = "learning_phase:keras_learning_phase"


@pytest.fixture(scope="module")
def phase_checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("phase") / "lp"
    rewrite_builders.build_learning_phase(folder, with_default=True)
    return folder


@pytest.fixture
def editor(window, open_and_wait, phase_checkpoint):
    install_graph_panel(window)
    editor = install_signature_editor(window)
    open_and_wait(window, phase_checkpoint)
    doc = editor.doc
    doc.set_signature(0, Signature(inputs=[Slot("x", "features:0")],
                                   outputs=[Slot("probs", "probabilities:0")]))
    doc.undo_stack.clear()
    return editor


def _rows(section):
    tree = section.tree
    top = tree.topLevelItem(0)
    return top, top.child(0)


def test_section_lists_the_site_and_toggles_with_undo(editor, window):
    section, doc = editor.training, editor.doc
    assert section.isVisibleTo(window) and section.title() == "Training → serving"
    top, site = _rows(section)
    assert top.text(0) == "Keras learning phase set to inference"
    assert site.data(0, Qt.ItemDataRole.UserRole + 1) == SITE
    assert site.checkState(0) == Qt.CheckState.Checked
    assert window.graph_panel.scene.rewritten == {"keras_learning_phase"}
    section.tree.setCurrentItem(site.child(0))  # an op row shows its site's summary
    assert "bound to False" in section.summary.text()

    site.setCheckState(0, Qt.CheckState.Unchecked)  # as a click does
    assert doc.draft.rewrites == {SITE: False}
    assert doc.undo_stack.undoText() == f"Leave {SITE}"
    assert window.graph_panel.scene.rewritten == set()
    assert any("keras_learning_phase:0" in p.message for p in doc.problems
               if p.level is Level.INFO)  # now served at its default again
    doc.undo_stack.undo()
    assert doc.draft.rewrites == {}
    assert _rows(section)[1].checkState(0) == Qt.CheckState.Checked
    assert window.graph_panel.scene.rewritten == {"keras_learning_phase"}

    _rows(section)[0].setCheckState(0, Qt.CheckState.Unchecked)  # the whole rewrite
    assert doc.draft.rewrites == {"learning_phase": False}
    assert _rows(section)[1].checkState(0) == Qt.CheckState.Unchecked
    doc.undo_stack.undo()
    doc.undo_stack.redo()
    assert doc.draft.rewrites == {"learning_phase": False}


def _marked(scene) -> list[str]:
    return [i.node.id for i in scene.items()
            if isinstance(i, NodeItem) and i.highlight == "rewritten"]


def test_the_graph_marks_rewritten_ops(editor, window, qtbot):
    scene = window.graph_panel.scene
    qtbot.waitUntil(lambda: bool(_marked(scene)), timeout=30_000)
    assert all(m.rstrip("/").startswith("keras_learning_phase") for m in _marked(scene))
    _rows(editor.training)[1].setCheckState(0, Qt.CheckState.Unchecked)
    assert _marked(scene) == []
    editor.doc.undo_stack.undo()
    assert _marked(scene)


def test_op_rows_select_the_op_in_the_tree(editor, window):
    _, site = _rows(editor.training)
    op_row = site.child(0)
    assert op_row.text(0) == "keras_learning_phase"
    selected = []
    window.opSelected.connect(selected.append)
    editor.training.tree.itemDoubleClicked.emit(op_row, 0)
    assert selected and selected[-1] == "keras_learning_phase"


def test_switches_round_trip_through_a_preset(editor, tmp_path):
    doc = editor.doc
    _rows(editor.training)[1].setCheckState(0, Qt.CheckState.Unchecked)
    editor.training.keep_site(SITE, True)
    path = tmp_path / "p.json"
    assert editor.save_preset(path)
    saved = load_preset(path)
    assert saved.rewrites == {SITE: False} and saved.kept == [SITE]
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert doc.draft.rewrites == {} and doc.draft.kept == []
    assert editor.load_preset(path)
    assert doc.draft.rewrites == {SITE: False} and doc.draft.kept == [SITE]
    assert _rows(editor.training)[1].checkState(0) == Qt.CheckState.Unchecked
