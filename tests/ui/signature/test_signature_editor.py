"""The signature editor: drops, slot edits with undo/redo, validation, suggestions, autosave.

These tests edit from an empty signature: the fixture undoes the proposal the
checkpoint opens with (as Ctrl+Z does; tests.ui.signature.test_proposal_ui tests
the proposal itself) and starts the undo history there."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QModelIndex, Qt

from app.core.signature.draft import drop_problem, slot_key_for
from app.ui.shell.window import MainWindow
from app.ui.signature import editor as signature_editor
from app.ui.signature.editor import install_signature_editor
from app.ui.signature.model import KEY, LEVEL_ROLE, SLOT_MIME
from tests.ui.helpers_signature import drag_and_drop, slots, tensor_data

OUT = "encoder_out/thought_vectors:0"


@pytest.fixture
def editor(window, open_and_wait, skip_thoughts):
    editor = install_signature_editor(window)
    open_and_wait(window, skip_thoughts.directory)
    editor.doc.undo_stack.undo()
    editor.doc.undo_stack.clear()
    assert slots(editor, "inputs") == [] and slots(editor, "outputs") == []
    return editor


def graph_of(editor):
    return editor.doc.graph


def test_tensor_drags_onto_inputs_and_outputs_add_slots(editor, qtbot):
    graph = graph_of(editor)
    inputs, outputs = editor.views["inputs"], editor.views["outputs"]
    seen = drag_and_drop(inputs, tensor_data(graph, "encode_ids:0"))
    assert seen == {"enter": True, "move": True, "drop": True, "highlighted": True,
                    "still_highlighted": False}
    seen = drag_and_drop(outputs, tensor_data(graph, OUT))
    assert seen["drop"] and seen["highlighted"]
    ids, out = graph.tensor("encode_ids:0"), graph.tensor(OUT)
    assert slots(editor, "inputs") == [(slot_key_for(ids.name, []), "encode_ids:0")]
    assert slots(editor, "outputs") == [("thought_vectors", OUT)]
    model = editor.doc.models["inputs"]
    row = [model.index(0, c).data() for c in range(model.columnCount())]
    assert row == ["encode_ids", "encode_ids:0", ids.dtype, ids.shape_text]
    assert editor.doc.models["outputs"].index(0, 3).data() == out.shape_text
    editor.doc.undo_stack.undo()
    assert slots(editor, "outputs") == []
    editor.doc.undo_stack.redo()
    assert slots(editor, "outputs") == [("thought_vectors", OUT)]


def test_dropping_an_op_uses_its_first_output_and_keys_stay_unique(editor):
    graph = graph_of(editor)
    drag_and_drop(editor.views["outputs"], tensor_data(graph, "encoder_out/thought_vectors"))
    drag_and_drop(editor.views["outputs"], tensor_data(graph, "encoder/thought_vectors:0"))
    assert slots(editor, "outputs") == [("thought_vectors", OUT),
                                        ("encoder_thought_vectors", "encoder/thought_vectors:0")]


def test_drop_onto_a_slot_replaces_its_tensor(editor):
    graph = graph_of(editor)
    view = editor.views["outputs"]
    drag_and_drop(view, tensor_data(graph, OUT))
    centre = view.visualRect(view.model().index(0, KEY)).center()
    seen = drag_and_drop(view, tensor_data(graph, "encoder/thought_vectors:0"), centre)
    assert seen["drop"]
    assert slots(editor, "outputs") == [("thought_vectors", "encoder/thought_vectors:0")]
    editor.doc.undo_stack.undo()
    assert slots(editor, "outputs") == [("thought_vectors", OUT)]


def test_invalid_drops_are_refused_with_the_reason_in_the_status_bar(editor, window):
    graph = graph_of(editor)
    seen = drag_and_drop(editor.views["outputs"], tensor_data(graph, "init"))
    reason = drop_problem(graph, "init", "outputs")
    assert "no outputs" in reason
    assert not seen["move"] and not seen["drop"] and not seen["highlighted"]
    assert reason in window.statusBar().currentMessage()
    seen = drag_and_drop(editor.views["inputs"], tensor_data(graph, "word_embedding:0"))
    assert not seen["drop"]
    assert drop_problem(graph, "word_embedding:0", "inputs") in window.statusBar().currentMessage()
    assert slots(editor, "inputs") == [] and slots(editor, "outputs") == []
    assert editor.doc.undo_stack.count() == 0


def test_drop_mime_data_on_the_model(editor):
    graph = graph_of(editor)
    model = editor.doc.models["inputs"]
    data = tensor_data(graph, "encode_ids:0", "encode_mask:0")
    assert model.canDropMimeData(data, Qt.DropAction.CopyAction, -1, -1, QModelIndex())
    assert model.dropMimeData(data, Qt.DropAction.CopyAction, -1, -1, QModelIndex())
    assert slots(editor, "inputs") == [("encode_ids", "encode_ids:0"),
                                       ("encode_mask", "encode_mask:0")]
    bad = tensor_data(graph, "init")
    assert not model.canDropMimeData(bad, Qt.DropAction.CopyAction, -1, -1, QModelIndex())
    assert not model.dropMimeData(bad, Qt.DropAction.CopyAction, -1, -1, QModelIndex())
    assert "no outputs" in model.last_refusal
    # Onto a row (parent = the slot): replace its tensor, key kept.
    assert model.dropMimeData(tensor_data(graph, "decode_post_ids:0"),
                              Qt.DropAction.CopyAction, -1, -1, model.index(1, 0))
    assert slots(editor, "inputs") == [("encode_ids", "encode_ids:0"),
                                       ("encode_mask", "decode_post_ids:0")]
    editor.doc.undo_stack.undo()
    editor.doc.undo_stack.undo()
    assert slots(editor, "inputs") == []  # the two-tensor drop was one undo step


def test_rename_reorder_remove_and_move_each_undo_and_redo(editor, qtbot):
    graph = graph_of(editor)
    doc = editor.doc
    inputs, outputs = doc.models["inputs"], doc.models["outputs"]
    inputs.dropMimeData(tensor_data(graph, "encode_ids:0", "encode_mask:0"),
                        Qt.DropAction.CopyAction, -1, -1, QModelIndex())
    outputs.dropMimeData(tensor_data(graph, OUT), Qt.DropAction.CopyAction, -1, -1,
                         QModelIndex())
    start = (slots(editor, "inputs"), slots(editor, "outputs"))
    states = [start]

    def check_undo_redo() -> None:
        after = (slots(editor, "inputs"), slots(editor, "outputs"))
        doc.undo_stack.undo()
        assert (slots(editor, "inputs"), slots(editor, "outputs")) == states[-1]
        doc.undo_stack.redo()
        assert (slots(editor, "inputs"), slots(editor, "outputs")) == after
        states.append(after)

    # Rename in place (what the item delegate calls).
    assert inputs.setData(inputs.index(0, KEY), "ids")
    assert slots(editor, "inputs")[0] == ("ids", "encode_ids:0")
    check_undo_redo()
    # Reorder by drag: the second input dropped above the first.
    data = inputs.mimeData([inputs.index(1, KEY)])
    assert data.hasFormat(SLOT_MIME)
    assert inputs.dropMimeData(data, Qt.DropAction.MoveAction, 0, 0, QModelIndex())
    assert [k for k, _ in slots(editor, "inputs")] == ["encode_mask", "ids"]
    check_undo_redo()
    # Reorder with synthesized drag events: the first dropped below the last.
    view = editor.views["inputs"]
    below = view.visualRect(inputs.index(1, KEY)).bottomLeft()
    below.setY(below.y() - 1)
    assert drag_and_drop(view, inputs.mimeData([inputs.index(0, KEY)]), below)["drop"]
    assert [k for k, _ in slots(editor, "inputs")] == ["ids", "encode_mask"]
    check_undo_redo()
    # Move an input to the outputs (drop the slot on the Outputs view).
    assert drag_and_drop(editor.views["outputs"], inputs.mimeData([inputs.index(1, KEY)]))["drop"]
    assert slots(editor, "inputs") == [("ids", "encode_ids:0")]
    assert slots(editor, "outputs") == [("thought_vectors", OUT),
                                        ("encode_mask", "encode_mask:0")]
    check_undo_redo()
    # Remove with Delete.
    view = editor.views["outputs"]
    view.setFocus()
    view.selectionModel().select(outputs.index(1, KEY),
                                 view.selectionModel().SelectionFlag.ClearAndSelect
                                 | view.selectionModel().SelectionFlag.Rows)
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert slots(editor, "outputs") == [("thought_vectors", OUT)]
    check_undo_redo()
    # Everything undone gets back to the start; the history view lists each edit.
    while doc.undo_stack.canUndo():
        doc.undo_stack.undo()
    assert slots(editor, "inputs") == [] and slots(editor, "outputs") == []
    texts = [doc.undo_stack.text(i) for i in range(doc.undo_stack.count())]
    assert [t.split()[0] for t in texts] == ["Drop", "Drop", "Rename", "Move", "Move", "Move",
                                             "Remove"]
    assert editor.history_view.stack() is doc.undo_stack


def test_undo_and_redo_shortcuts_are_in_the_edit_menu(editor, window):
    edit = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Edit")
    by_shortcut = {a.shortcut().toString(): a.text().replace("&", "")
                   for a in edit.actions() if a.text()}
    assert by_shortcut["Ctrl+Z"].startswith("Undo")
    assert by_shortcut["Ctrl+Shift+Z"].startswith("Redo")
    assert "Undo History" in by_shortcut.values()
    editor.add_tensor(OUT, "output")
    undo = next(a for a in edit.actions() if a.shortcut().toString() == "Ctrl+Z")
    undo.trigger()
    assert slots(editor, "outputs") == []


def test_add_tensor_requested_from_tree_and_graph_does_a_drop(editor, window):
    window.addTensorRequested.emit("encode_ids:0", "input")
    window.addTensorRequested.emit(OUT, "outputs")
    assert slots(editor, "inputs") == [("encode_ids", "encode_ids:0")]
    assert slots(editor, "outputs") == [("thought_vectors", OUT)]
    window.addTensorRequested.emit("init", "output")
    assert "no outputs" in window.statusBar().currentMessage()
    assert len(slots(editor, "outputs")) == 1


def test_validation_per_slot_and_export_action_state(editor):
    doc = editor.doc
    assert not editor.export_action.isEnabled()
    assert "has no outputs" in editor.export_action.toolTip()
    editor.add_tensor(OUT, "output")
    # The outputs need the two encoder placeholders: listed with one-click fixes.
    assert editor.unfed() == ["encode_ids:0", "encode_mask:0"]
    assert list(editor.unfed_rows) == editor.unfed()
    assert "placeholder" in editor.export_action.toolTip()
    assert not editor.export_action.isEnabled()
    outputs = doc.models["outputs"]
    assert outputs.index(0, KEY).data(LEVEL_ROLE) == "ok"
    outputs.setData(outputs.index(0, KEY), "9bad")
    assert outputs.index(0, KEY).data(LEVEL_ROLE) == "error"
    assert "invalid key" in outputs.index(0, KEY).data(Qt.ItemDataRole.ToolTipRole)
    doc.undo_stack.undo()
    assert outputs.index(0, KEY).data(LEVEL_ROLE) == "ok"


def test_unfed_placeholders_add_as_input_and_bind_to_constant(editor, monkeypatch):
    doc = editor.doc
    editor.add_tensor(OUT, "output")
    add = editor.unfed_rows["encode_ids:0"].findChild(type(editor.suggest_button), "addAsInput")
    add.click()
    assert slots(editor, "inputs") == [("encode_ids", "encode_ids:0")]
    asked = []
    monkeypatch.setattr(signature_editor, "ask_constant",
                        lambda parent, tensor, proposed: asked.append(proposed) or "[[1, 1]]")
    bind = editor.unfed_rows["encode_mask:0"].findChild(type(editor.suggest_button),
                                                        "bindToConstant")
    bind.click()
    assert asked and doc.draft.bound == {"encode_mask:0": [[1, 1]]}
    assert editor.unfed() == []
    assert editor.export_action.isEnabled(), editor.export_action.toolTip()
    assert not editor.bind_placeholder("encode_ids:0", "text")
    assert "Cannot bind encode_ids:0" in editor.last_status
    doc.undo_stack.undo()
    assert doc.draft.bound == {} and editor.unfed() == ["encode_mask:0"]


def test_use_suggestions_fills_an_empty_signature_with_the_proposal(editor):
    proposal = editor.doc.loaded.proposal
    assert editor.suggest_button.isEnabled()
    editor.suggest_button.click()
    sig = editor.doc.current_signature()
    assert [(s.key, s.tensor) for s in sig.outputs] == [("thought_vectors", OUT)]
    assert [(s.key, s.tensor) for s in sig.inputs] == [(s.key, s.tensor)
                                                       for s in proposal.inputs]
    assert {s.tensor for s in sig.inputs} == {"encode_ids:0", "encode_mask:0"}
    assert editor.export_action.isEnabled(), editor.export_action.toolTip()
    assert not editor.suggest_button.isEnabled()
    editor.doc.undo_stack.undo()
    assert slots(editor, "outputs") == [] and editor.suggest_button.isEnabled()


def test_signatures_add_rename_method_and_remove_with_undo(editor):
    doc = editor.doc
    editor.add_signature()
    assert [s.key for s in doc.draft.signatures] == ["serving_default", "signature"]
    assert doc.current == 1 and editor.signature_view.currentIndex().row() == 1
    editor.add_tensor(OUT, "output")
    assert doc.draft.signatures[1].outputs[0].tensor == OUT
    assert doc.draft.signatures[0].outputs == []
    assert doc.signatures.setData(doc.signatures.index(1, 0), "encode")
    editor.set_method("regress")
    assert (doc.draft.signatures[1].key, doc.draft.signatures[1].method) == ("encode", "regress")
    assert editor.method.currentText() == "regress"
    assert doc.signatures.index(1, 0).data(LEVEL_ROLE) == "error"  # regress needs 'inputs'
    editor.remove_signature()
    assert [s.key for s in doc.draft.signatures] == ["serving_default"]
    for _ in range(3):
        doc.undo_stack.undo()
    assert [s.key for s in doc.draft.signatures] == ["serving_default", "signature"]
    doc.show_signature(0)
    doc.undo_stack.undo()  # the output added to the second signature: it is shown again
    assert doc.current == 1 and doc.draft.signatures[1].outputs == []


def test_models_pass_qt_model_tester(editor, qtmodeltester):
    editor.suggest_button.click()
    editor.add_signature()
    editor.doc.show_signature(0)
    for model in (*editor.doc.models.values(), editor.doc.signatures):
        qtmodeltester.check(model)


def test_autosave_restores_the_draft_in_a_new_window(editor, window, qtbot, open_and_wait,
                                                     skip_thoughts):
    editor.suggest_button.click()
    editor.doc.models["outputs"].setData(editor.doc.models["outputs"].index(0, KEY), "vectors")
    expected = editor.doc.draft.copy()
    assert editor.autosave.path.is_file()  # on disk already: a crash now loses nothing
    # A second window on the same model (the first never closed, as after a crash).
    second = MainWindow(warm_up=False)
    qtbot.addWidget(second)
    restored = install_signature_editor(second)
    second.show()
    open_and_wait(second, skip_thoughts.latest)
    assert restored.doc.draft.signatures == expected.signatures
    assert "Restored" in restored.last_status
    assert restored.doc.undo_stack.count() == 0
    # Another model does not get this draft.
    second.close_checkpoint()
    assert restored.doc.draft.signatures[0].outputs == []


def test_signet_demo_window_has_the_editor_with_the_proposed_signature(qtbot):
    from app.ui.shell import launch
    win = launch.build_window(demo=True, warm_up=False)
    qtbot.addWidget(win)
    qtbot.waitUntil(lambda: win.loaded is not None, timeout=60_000)
    editor = win.signature_dock.widget()
    assert editor is win.signature_editor
    sig = editor.doc.current_signature()
    assert sig.outputs and {s.tensor for s in sig.inputs} == {"encode_ids:0", "encode_mask:0"}
    assert editor.export_action.isEnabled()
    menus = [a.text().replace("&", "") for a in win.menuBar().actions()]
    assert {"Edit", "Presets"} <= set(menus)
