"""Request checks reach the window: the slot that breaks the REST row format is flagged."""

from __future__ import annotations

from app.core.signature.draft import Level
from app.ui.signature.editor import install_signature_editor
from tests.test_run_cli import build_fixed_weights


def test_row_format_offender_is_a_slot_warning_with_the_columnar_fix(window, open_and_wait,
                                                                    tmp_path):
    prefix = build_fixed_weights(tmp_path / "ckpt")
    editor = install_signature_editor(window)
    open_and_wait(window, prefix.parent)
    doc = editor.doc
    doc.undo_stack.undo()  # from an empty signature: Ctrl+Z on the proposal
    doc.add_tensors(["x:0"], "inputs")
    doc.add_tensors(["y:0", "weights:0"], "outputs")
    keys = [s.key for s in doc.draft.signatures[0].outputs]
    row = keys.index("weights")
    problems = doc.slot_problems(0, "outputs", row)
    assert [p.level for p in problems] == [Level.WARNING]
    assert "fixed first dimension of 3" in problems[0].message
    assert '"inputs"' in problems[0].message and '{"outputs"' in problems[0].message
    assert doc.slot_problems(0, "outputs", keys.index("y")) == []
    assert doc.export_blocker() is None  # a warning, not an error
