"""The Export dialog's warmup checkbox reaches the export: on by default, off writes no file."""

from __future__ import annotations

from app.core.export.warmup import warmup_path

TIMEOUT = 180_000


def test_warmup_checkbox_is_on_by_default_and_off_exports_without_the_file(editor, qtbot,
                                                                           tmp_path):
    editor.export_action.trigger()
    dialog = editor.export_dialog
    dialog.base.setText(str(tmp_path))
    dialog.name.setText("encoder")
    assert dialog.warmup.isChecked() and dialog.options_draft().options.warmup
    dialog.warmup.setChecked(False)
    assert dialog.options_draft().options.warmup is False
    with qtbot.waitSignal(dialog.exportSucceeded, timeout=TIMEOUT) as blocker:
        dialog.start()
    result = blocker.args[0]
    assert (result.path / "saved_model.pb").exists()
    assert not warmup_path(result.path).exists()
