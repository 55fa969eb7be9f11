"""A SavedModel folder opens in the window: op tree, title, and its signatures as the draft;
File › Open takes its version folder, model folder or saved_model.pb."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QFileDialog, QListView

from app.core.export import export_model
from app.core.signature.draft import Draft, Signature, Slot
from app.ui.graph.panel import served_tensors
from app.ui.shell import open_dialog
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


def _accept_in(dialog, qtbot, name: str | None = None) -> Path | None:
    """Click ``name`` in the real Open dialog's list (nothing when None, as a user pressing
    Open with no name), then click Open; what the dialog returns (None: not accepted)."""
    view = dialog.findChild(QListView, "listView")
    model = view.model()
    root = view.rootIndex()

    def rows() -> dict:
        return {model.index(r, 0, root).data(): model.index(r, 0, root)
                for r in range(model.rowCount(root))}

    qtbot.waitUntil(lambda: bool(rows()) if name is None else name in rows(), timeout=10_000)
    if name is not None:  # listed under the dialog's first filter
        index = rows()[name]
        view.scrollTo(index)
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton,
                         pos=view.visualRect(index).center())
    accept = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Open)
    if not accept.isEnabled():
        return None
    qtbot.mouseClick(accept, Qt.MouseButton.LeftButton)
    if dialog.result() != QFileDialog.DialogCode.Accepted:
        return None
    return dialog.chosen()


def test_open_dialog_opens_saved_model(window, qtbot, cnn, tmp_path):
    draft = Draft([Signature(inputs=[Slot("images", "images:0")],
                             outputs=[Slot("probabilities", "probabilities:0")])])
    draft.options.base, draft.options.name = str(tmp_path), "cnn"
    export_model(draft, cnn.latest)
    version = tmp_path / "cnn" / "1"
    editor = install_signature_editor(window)

    def shown(folder: Path) -> open_dialog.CheckpointDialog:
        dialog = open_dialog.CheckpointDialog(window, str(folder))
        qtbot.addWidget(dialog)
        dialog.show()
        return dialog

    # A version folder and a model folder are opened, not stepped into; Open with no name
    # opens the folder on show; saved_model.pb is listed and picked.
    assert _accept_in(shown(tmp_path / "cnn"), qtbot, "1") == version
    assert _accept_in(shown(tmp_path), qtbot, "cnn") == tmp_path / "cnn"
    assert _accept_in(shown(version), qtbot) == version
    assert _accept_in(shown(version), qtbot, "saved_model.pb") == version / "saved_model.pb"
    # A folder with nothing to open is stepped into, as before.
    (tmp_path / "empty").mkdir()
    assert _accept_in(shown(tmp_path), qtbot, "empty") is None

    # File › Open with saved_model.pb picked opens the SavedModel as `signet PATH` does.
    def pick_it() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, open_dialog.CheckpointDialog)
        dialog.setDirectory(str(version))
        _accept_in(dialog, qtbot, "saved_model.pb")

    QTimer.singleShot(0, pick_it)
    with qtbot.waitSignal(window.checkpointLoaded, timeout=60_000) as blocker:
        window.open_action.trigger()
    loaded = blocker.args[0]
    assert loaded.files.prefix == version / "variables" / "variables"
    assert window.windowTitle() == "1 (SavedModel) — cnn — Signet"
    summary = window.summary.toPlainText()
    assert summary.startswith("cnn, version 1 (SavedModel)")
    assert "Step" not in summary and "variables" not in summary.splitlines()[0]
    message = window.statusBar().currentMessage()
    assert "saved serving_default became the draft" in message, message
    assert [s.key for s in editor.doc.draft.signatures] == ["serving_default"]
    editor.shutdown()
