"""The Try-it panel: pre-filled body, runs in a worker, outputs and top-k with labels."""

from __future__ import annotations

import json

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor

from app.core.tf_runtime import tensorflow
from app.ui.run.try_panel import install_try_panel
from app.ui.signature.editor import install_signature_editor

TIMEOUT = 180_000


def test_try_panel_answers_the_draft_in_a_worker(window, qtbot, open_and_wait, cnn,
                                                 tmp_path):
    editor = install_signature_editor(window)
    panel = install_try_panel(window)
    loaded = open_and_wait(window, cnn.directory)
    editor.doc.undo_stack.undo()  # from an empty signature: Ctrl+Z on the proposal
    assert loaded.graph.tensor("images:0") is not None
    assert not panel.run_button.isEnabled()  # nothing to run yet
    assert "build a signature" in panel.status.text()
    editor.doc.add_tensors(["images:0"], "inputs")
    editor.doc.add_tensors(["probabilities:0"], "outputs")
    assert panel.run_button.isEnabled()
    assert panel.status.text().startswith("Run answers")  # the hint follows the draft
    body = json.loads(panel.request.toPlainText())
    assert np.array(body["instances"]).shape == (1, 8, 8, 1)
    (tmp_path / "labels.txt").write_text("cat\ndog\nfish\n")
    panel.set_labels(str(tmp_path / "labels.txt"))
    with qtbot.waitSignal(panel.answered, timeout=TIMEOUT) as blocker:
        task = panel.run()
        assert task is not None and not panel.run_button.isEnabled()  # off the UI thread
    answer = blocker.args[0]
    assert answer.ok, answer.text
    assert json.loads(panel.answer.toPlainText()) == json.loads(answer.text)
    assert panel.outputs.item(0, 0).text() == "probabilities"
    assert panel.outputs.item(0, 1).text() == "[1, 3]"
    probs = answer.outputs["probabilities"][0]
    best = int(probs.argmax())
    assert panel.ranked.item(0, 0).text() == str(best)
    assert panel.ranked.item(0, 1).text() == ["cat", "dog", "fish"][best]
    # An image file for the [N,8,8,1] input replaces the body.
    png = tmp_path / "in.png"
    png.write_bytes(tensorflow().io.encode_png(np.full((4, 4, 1), 255, np.uint8)).numpy())
    with qtbot.waitSignal(panel.request.textChanged, timeout=TIMEOUT):
        panel.load_input_file(str(png))
    images = np.array(json.loads(panel.request.toPlainText())["instances"])
    assert images.shape == (1, 8, 8, 1) and np.allclose(images, 1.0)
    qtbot.waitUntil(lambda: not panel.running(), timeout=TIMEOUT)
    panel.shutdown()


def test_the_panel_follows_the_draft_through_the_window_in_either_install_order(
        window, open_and_wait, cnn):
    """The panel reads no editor: the window's draftChanged carries the draft, so a panel
    installed before the editor follows it too."""
    panel = install_try_panel(window)
    editor = install_signature_editor(window)
    open_and_wait(window, cnn.directory)
    editor.doc.undo_stack.undo()  # from an empty signature: Ctrl+Z on the proposal
    editor.doc.add_tensors(["images:0"], "inputs")
    editor.doc.add_tensors(["probabilities:0"], "outputs")
    assert panel.draft is editor.doc.draft
    assert [panel.input_key.itemText(i) for i in range(panel.input_key.count())] == ["images"]
    assert panel.run_button.isEnabled()
    assert np.array(json.loads(panel.request.toPlainText())["instances"]).shape == (1, 8, 8, 1)


def _body(panel) -> dict:
    return json.loads(panel.request.toPlainText())


def test_try_it_follows_signature_and_checkpoint(window, qtbot, open_and_wait, cnn,
                                                 skip_thoughts):
    editor = install_signature_editor(window)
    panel = install_try_panel(window)
    open_and_wait(window, cnn.directory)
    editor.doc.undo_stack.undo()  # from an empty signature: Ctrl+Z on the proposal
    assert "images" not in panel.request.toPlainText()
    editor.doc.add_tensors(["images:0"], "inputs")  # the body follows the signature built
    assert np.array(_body(panel)["instances"]).shape == (1, 8, 8, 1)
    assert not panel.sample_button.isVisibleTo(panel)  # nothing edited: nothing to reset
    editor.doc.add_tensors(["probabilities:0"], "outputs")

    # Top-k says why it is empty when the body sends a batch.
    body = _body(panel)
    body["instances"] *= 2
    panel.request.setPlainText(json.dumps(body))
    with qtbot.waitSignal(panel.answered, timeout=TIMEOUT) as blocker:
        panel.run()
    assert blocker.args[0].ok, blocker.args[0].text
    assert panel.ranked.rowCount() == 0
    note = panel.top_k_note.text()
    assert "probabilities: a batch of 2 examples ([2, 3])" in note, note
    assert "send one instance" in note
    qtbot.waitUntil(lambda: not panel.running(), timeout=TIMEOUT)

    # Another checkpoint: the body is its proposal's, not the previous model's images
    # (the batch above was an edit, which would stay: reset it first).
    panel.fill_sample()
    open_and_wait(window, skip_thoughts.directory)
    text = panel.request.toPlainText()
    assert "encode_ids" in text and "encode_mask" in text and "images" not in text

    # An edited body stays through draft changes, and one click resets it.
    panel.request.moveCursor(QTextCursor.MoveOperation.End)
    qtbot.keyClicks(panel.request, " ")
    edited = panel.request.toPlainText()
    assert panel.edited() and panel.sample_button.isVisibleTo(panel)
    assert panel.sample_button.text() == "Reset to the signature"
    editor.doc.remove_rows("inputs", [1])
    assert panel.request.toPlainText() == edited
    qtbot.mouseClick(panel.sample_button, Qt.MouseButton.LeftButton)
    # One input left (encode_ids): its rows are sent bare, no key.
    assert _body(panel)["instances"] == [[0, 1, 1]]
    assert not panel.edited() and not panel.sample_button.isVisibleTo(panel)
    panel.shutdown()
    editor.shutdown()
