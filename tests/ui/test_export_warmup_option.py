"""The Export dialog's warmup checkbox reaches the export: on by default, off writes no file."""

from __future__ import annotations

import pytest

from app.core.export.warmup import warmup_path
from app.ui import signature_editor
from app.ui.signature_editor import install_signature_editor

TIMEOUT = 180_000


@pytest.fixture
def editor(window, open_and_wait, skip_thoughts, monkeypatch):
    monkeypatch.setattr(signature_editor, "ask_cancel_export", lambda parent: True)
    editor = install_signature_editor(window)
    open_and_wait(window, skip_thoughts.directory)
    editor.suggest_button.click()
    yield editor
    dialog = editor.export_dialog
    if dialog is not None and dialog.running():
        editor.shutdown()


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
