"""The Export dialog offers keeping the training state, unticked: serving-only by default."""

from __future__ import annotations

from app.ui.export.dialog import ExportDialog


def test_keep_training_state_is_unticked_by_default_and_reaches_the_options(editor):
    editor.export_action.trigger()
    dialog = editor.export_dialog
    box = dialog.keep_training
    assert box.isVisible() and not box.isChecked()
    assert box.text() == "Keep training state (optimizer slots, gradients, summaries)"
    assert dialog.options_draft().options.strip_training is True
    box.setChecked(True)
    assert dialog.options_draft().options.strip_training is False


def test_a_draft_that_keeps_the_training_state_opens_with_the_box_ticked(editor, qtbot):
    draft = editor.doc.draft.copy()
    draft.options.strip_training = False  # e.g. from a preset saying so
    dialog = ExportDialog(editor.doc.loaded, draft)
    qtbot.addWidget(dialog)
    assert dialog.keep_training.isChecked()
    assert dialog.options_draft().options.strip_training is False
