"""The window shows the serving checks as slot problems and keeps Export disabled."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.ui.signature_editor import install_signature_editor
from app.ui.signature_model import KEY, LEVEL_ROLE
from tests.isolated_build import build


def test_constant_rate_dropout_marks_the_output_slot(window, open_and_wait, tmp_path):
    prefix = build("tests.graphs_tf1:dropout", tmp_path / "dropout")["train"]
    editor = install_signature_editor(window)
    open_and_wait(window, prefix)
    doc = editor.doc
    doc.add_tensors(["x:0"], "inputs")
    doc.add_tensors(["logits:0"], "outputs")
    outputs = doc.models["outputs"]
    assert outputs.index(0, KEY).data(LEVEL_ROLE) == "error"
    tip = outputs.index(0, KEY).data(Qt.ItemDataRole.ToolTipRole)
    assert "dropout in 'hidden/dropout' draws a new random mask" in tip
    assert "rebuild the model in inference mode" in tip
    assert doc.models["inputs"].index(0, KEY).data(LEVEL_ROLE) == "ok"
    assert "dropout" in (doc.export_blocker() or "")
