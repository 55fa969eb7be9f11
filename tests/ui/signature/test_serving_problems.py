"""The window shows the serving checks as slot problems and keeps Export disabled."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.ui.signature.editor import install_signature_editor
from app.ui.signature.model import KEY, LEVEL_ROLE
from tests.isolated_build import build


def test_constant_rate_dropout_marks_the_output_slot_only_with_its_rewrite_off(
        window, open_and_wait, tmp_path):
    prefix = build("tests.graphs_tf1:dropout", tmp_path / "dropout")["train"]
    editor = install_signature_editor(window)
    open_and_wait(window, prefix)
    doc = editor.doc
    doc.undo_stack.undo()  # from an empty signature: Ctrl+Z on the proposal
    doc.add_tensors(["x:0"], "inputs")
    doc.add_tensors(["logits:0"], "outputs")
    outputs = doc.models["outputs"]
    # The dropout rewrite (on by default) bypasses the mask: nothing to refuse.
    assert outputs.index(0, KEY).data(LEVEL_ROLE) == "ok"
    assert doc.export_blocker() is None

    editor.training.switch_rewrite("dropout", False)  # an undoable edit
    assert outputs.index(0, KEY).data(LEVEL_ROLE) == "error"
    tip = outputs.index(0, KEY).data(Qt.ItemDataRole.ToolTipRole)
    assert "dropout in 'hidden/dropout' draws a new random mask" in tip
    # The fix is the switch in this window, not rebuilding the model.
    assert "switch dropout on" in tip and '"Training → serving"' in tip, tip
    assert "training=False" not in tip and "--bind" not in tip
    assert doc.models["inputs"].index(0, KEY).data(LEVEL_ROLE) == "ok"
    assert "dropout" in (doc.export_blocker() or "")

    doc.undo_stack.undo()
    assert outputs.index(0, KEY).data(LEVEL_ROLE) == "ok"
