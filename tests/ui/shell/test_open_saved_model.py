"""A SavedModel folder opens in the window: op tree, title, and its signatures as the draft."""

from __future__ import annotations

from app.core.export import export_model
from app.core.signature import Draft, Signature, Slot
from app.ui.graph.panel import served_tensors
from app.ui.signature.editor import install_signature_editor


def test_window_opens_a_model_folder_with_its_signatures_as_the_draft(window, qtbot,
                                                                      open_and_wait, cnn,
                                                                      tmp_path):
    draft = Draft([Signature(inputs=[Slot("images", "images:0")],
                             outputs=[Slot("probabilities", "probabilities:0")])])
    draft.options.base, draft.options.name = str(tmp_path), "cnn"
    export_model(draft, cnn.latest)
    editor = install_signature_editor(window)
    loaded = open_and_wait(window, tmp_path / "cnn")
    assert loaded.files.prefix == tmp_path / "cnn" / "1" / "variables" / "variables"
    assert window.windowTitle() == "1 (SavedModel) — cnn — Signet"
    assert window.tree.model.rowCount() >= len(loaded.graph.root.children) > 0
    opened = editor.doc.draft
    assert [(s.key, s.method) for s in opened.signatures] == [("serving_default", "predict")]
    sig = opened.signatures[0]
    assert [(s.key, s.tensor) for s in sig.inputs] == [("images", "images:0")]
    assert [(s.key, s.tensor) for s in sig.outputs] == [("probabilities", "probabilities:0")]
    assert (opened.options.base, opened.options.name) == (str(tmp_path), "cnn")
    assert "starts with the SavedModel's own signatures" in editor.last_status
    # The Checkpoint summary and the graph show what it serves, not a proposal.
    assert window.summary.targets() == ["images:0", "probabilities:0"]
    assert "serving_default (predict)" in window.summary.toPlainText()
    assert served_tensors(loaded) == {"input": ["images:0"], "output": ["probabilities:0"]}
    editor.shutdown()
