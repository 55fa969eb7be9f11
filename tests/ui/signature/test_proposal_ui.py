"""The window starts a training checkpoint with Signet's proposal: the draft on first open
(undoable), Use suggestions, and the label warning on a slot."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.core.export.engine import export_model
from app.core.signature.draft import Level
from app.demo import demo_checkpoint
from app.ui.signature.editor import install_signature_editor
from app.ui.signature.model import KEY, LEVEL_ROLE
from tests.ui.helpers_signature import drag_and_drop, slots, tensor_data

LABEL_WARNING = "is the label the loss compares with; serving clients don't have it"


def _open(window, open_and_wait, path):
    editor = install_signature_editor(window)
    loaded = open_and_wait(window, path)
    return editor, loaded


def _errors(editor) -> list[str]:
    return [p.message for p in editor.doc.problems if p.level is Level.ERROR]


def _press(window, qtbot, key: Qt.Key, modifiers: Qt.KeyboardModifier) -> None:
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    QTest.keyClick(window, key, modifiers)


def test_first_open_starts_with_the_proposal_as_one_undo_step(window, qtbot, open_and_wait,
                                                              pipeline_classifier, tmp_path):
    editor, loaded = _open(window, open_and_wait, pipeline_classifier["prefix"])
    built = pipeline_classifier
    # The pipeline's images are an input keyed as the proposal keys them; the label and
    # the learning phase (bound for serving) are not inputs.
    assert slots(editor, "inputs") == [("features", built["images"])]
    assert slots(editor, "outputs") == [("logits", built["logits"]),
                                        ("probabilities", built["probabilities"])]
    assert slots(editor, "inputs") == [(s.key, s.tensor) for s in loaded.proposal.inputs]
    assert window.statusBar().currentMessage() == (
        f"The signature starts with Signet's proposal for {loaded.checkpoint.name}: "
        "1 input, 2 outputs (Ctrl+Z to start empty)")
    assert _errors(editor) == []
    assert editor.export_action.isEnabled(), editor.export_action.toolTip()
    assert not editor.suggest_button.isEnabled()  # the signature is not empty
    tip = editor.doc.models["inputs"].index(0, KEY).data(Qt.ItemDataRole.ToolTipRole)
    assert tip == (f"{built['images']}: ok\nSignet proposes it: "
                   f"{loaded.proposal.inputs[0].why}")
    stack = editor.doc.undo_stack
    assert (stack.count(), stack.undoText()) == (1, "Use Signet's proposal")

    _press(window, qtbot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert slots(editor, "inputs") == [] and slots(editor, "outputs") == []
    assert "has no outputs" in editor.export_action.toolTip()
    assert editor.suggest_button.isEnabled()
    _press(window, qtbot, Qt.Key.Key_Z,
           Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert slots(editor, "inputs") == [("features", built["images"])]
    assert editor.export_action.isEnabled()

    # Exportable as it stands: the export (verified against the checkpoint) succeeds.
    draft = editor.doc.draft.copy()
    draft.options.base, draft.options.name = str(tmp_path), "classifier"
    result = export_model(draft, loaded)
    assert result.path == tmp_path / "classifier" / "1"


def test_a_restored_draft_is_not_replaced(window, qtbot, open_and_wait, pipeline_classifier):
    editor, _ = _open(window, open_and_wait, pipeline_classifier["prefix"])
    editor.doc.remove_rows("outputs", [0])  # keep only the probabilities
    window.close_checkpoint()
    open_and_wait(window, pipeline_classifier["prefix"])
    assert slots(editor, "outputs") == [("probabilities", pipeline_classifier["probabilities"])]
    assert editor.last_status.startswith("Restored the signature draft")
    assert editor.doc.undo_stack.count() == 0


def test_use_suggestions_applies_the_whole_proposal_with_inputs(window, open_and_wait,
                                                                pipeline_classifier):
    editor, _ = _open(window, open_and_wait, pipeline_classifier["prefix"])
    editor.doc.undo_stack.undo()  # start empty
    assert "proposal" in editor.suggest_button.toolTip()
    assert "input-pipeline tensors included" in editor.suggest_button.toolTip()
    editor.suggest_button.click()
    inputs = slots(editor, "inputs")
    assert inputs == [("features", "IteratorGetNext:0")]
    assert not any(key.startswith("IteratorGetNext") for key, _ in inputs)
    assert [k for k, _ in slots(editor, "outputs")] == ["logits", "probabilities"]
    assert _errors(editor) == [] and editor.export_action.isEnabled()
    stack = editor.doc.undo_stack
    assert stack.undoText() == "Use Signet's proposal for 'serving_default'"
    stack.undo()  # one step
    assert slots(editor, "inputs") == [] and slots(editor, "outputs") == []
    assert stack.index() == 0
    # Dropped by hand, a proposed tensor gets the proposal's key too.
    drag_and_drop(editor.views["inputs"], tensor_data(editor.doc.graph, "IteratorGetNext:0"))
    assert slots(editor, "inputs") == [("features", "IteratorGetNext:0")]


def test_an_empty_proposal_leaves_the_signature_empty_and_says_why(window, open_and_wait,
                                                                   tmp_path):
    import tensorflow as tf

    from tests.checkpoints import save_initialized

    tf1 = tf.compat.v1
    bare, trained = tf.Graph(), tf.Graph()
    with bare.as_default():  # a variable and nothing computed from it
        tf1.get_variable("w", [2, 2])
    with trained.as_default():  # a loss of the weights alone: no prediction to tell apart
        loss = tf.reduce_sum(tf.square(tf1.get_variable("w", [2, 2])))
        train = tf1.train.GradientDescentOptimizer(0.1).minimize(loss)
    editor = install_signature_editor(window)
    for graph, name, runs, why in (
            (bare, "bare", (), "Signet found no prediction to serve: drag tensors into Outputs"),
            (trained, "trained", ((train, {}),),
             "Signet proposes no signature: the loss reads no prediction of the model that "
             "Signet can tell apart; choose the outputs by hand")):
        loaded = open_and_wait(window, save_initialized(graph, tmp_path / name / "model.ckpt",
                                                        *runs))
        assert loaded.proposal.empty
        assert slots(editor, "outputs") == [] and editor.doc.undo_stack.count() == 0
        assert window.statusBar().currentMessage() == why
        assert not editor.suggest_button.isEnabled()
        assert editor.suggest_button.toolTip() == why


def test_the_demo_opens_with_its_proposal(window, open_and_wait):
    editor, _ = _open(window, open_and_wait, demo_checkpoint())
    assert slots(editor, "inputs") == [("encode_ids", "encode_ids:0"),
                                       ("encode_mask", "encode_mask:0")]
    assert slots(editor, "outputs") == [("thought_vectors", "encoder_out/thought_vectors:0")]
    assert "Signet's proposal" in editor.last_status
    assert editor.export_action.isEnabled()


def test_a_label_dropped_on_inputs_is_a_warning_on_its_slot(window, open_and_wait,
                                                            pipeline_classifier):
    editor, _ = _open(window, open_and_wait, pipeline_classifier["prefix"])
    label = pipeline_classifier["labels"]
    seen = drag_and_drop(editor.views["inputs"], tensor_data(editor.doc.graph, label))
    assert seen["drop"]  # a warning, not a refusal
    assert slots(editor, "inputs")[-1][1] == label
    inputs = editor.doc.models["inputs"]
    row = inputs.rowCount() - 1
    assert inputs.index(row, KEY).data(LEVEL_ROLE) == "warning"
    assert inputs.index(0, KEY).data(LEVEL_ROLE) == "ok"
    tip = inputs.index(row, KEY).data(Qt.ItemDataRole.ToolTipRole)
    assert f"warning: {label} {LABEL_WARNING}" in tip
    assert editor.export_action.isEnabled(), editor.export_action.toolTip()


def test_label_as_input_warns(qtbot, pipeline_classifier):
    """In the whole window as launched (every dock): a label dragged into Inputs, or added
    from the Ops tree's menu, is taken with the proposal's warning said in the status bar
    and on its row (its icon and tooltip)."""
    from app.ui.shell.launch import build_window

    window = build_window(pipeline_classifier["prefix"], warm_up=False)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.loaded is not None, timeout=60_000)
    editor = window.signature_editor
    window.signature_dock.raise_()
    label = pipeline_classifier["labels"]
    assert label not in [t for _, t in slots(editor, "inputs")]
    status = window.statusBar()
    assert LABEL_WARNING not in status.currentMessage()  # opening warns of nothing
    assert drag_and_drop(editor.views["inputs"], tensor_data(editor.doc.graph, label))["drop"]
    assert LABEL_WARNING in status.currentMessage() and label in status.currentMessage()
    assert status.isVisible()
    inputs = editor.doc.models["inputs"]
    row = inputs.rowCount() - 1
    assert inputs.index(row, KEY).data(LEVEL_ROLE) == "warning"
    assert f"warning: {label} {LABEL_WARNING}" in inputs.index(
        row, KEY).data(Qt.ItemDataRole.ToolTipRole)
    # The same from the Ops tree's "Add as input", after undoing the drop.
    editor.doc.undo_stack.undo()
    status.clearMessage()
    window.addTensorRequested.emit(label, "input")
    assert LABEL_WARNING in status.currentMessage()
    window.close()
