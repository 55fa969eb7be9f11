"""The Export dialog's Samples… field and Try It's "Save as samples…" (issue 24)."""

from __future__ import annotations

import json

from app.core.samples import signature_inputs
from app.core.samples.files import read_samples
from app.ui.export.dialog import ExportDialog
from app.ui.run.try_panel import install_try_panel


def test_the_samples_field_is_empty_by_default_and_reaches_the_options(editor, qtbot,
                                                                      tmp_path):
    editor.export_action.trigger()
    dialog = editor.export_dialog
    assert dialog.samples.isVisible() and dialog.samples.text() == ""
    assert dialog.options_draft().options.samples == ""
    dialog.samples.setText(f"  {tmp_path / 'request.json'} ")
    assert dialog.options_draft().options.samples == str(tmp_path / "request.json")
    draft = editor.doc.draft.copy()
    draft.options.samples = "from/a/preset.npz"
    again = ExportDialog(editor.doc.loaded, draft)
    qtbot.addWidget(again)
    assert again.samples.text() == "from/a/preset.npz"


def test_try_it_saves_its_request_as_a_samples_file_the_export_reads(editor, window,
                                                                   tmp_path):
    panel = install_try_panel(window)  # after the open: given the model and draft here
    panel.set_checkpoint(editor.doc.loaded)
    panel.set_draft(editor.doc.draft)
    body = panel.request.toPlainText()
    assert json.loads(body)  # pre-filled for the draft
    path = tmp_path / "samples.json"
    panel.save_samples(str(path))
    assert path.read_text(encoding="utf-8") == body
    assert str(path) in panel.status.text()
    doc = editor.doc
    samples = read_samples(path, signature_inputs(doc.draft, doc.loaded.graph))
    assert set(samples.batches[0]) == {s.key for s in doc.draft.signatures[0].inputs}
    assert samples.origin == "samples.json (REST predict body, 1 example(s))"
    panel.save_samples(str(tmp_path / "missing" / "samples.json"))
    assert panel.status.text().startswith("Cannot save the samples")
