"""Presets from the GUI: save/load round trip (the CLI's JSON), missing tensors, Presets menu."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt

from app.core.signature.preset import load_preset
from app.ui.signature import presets_menu
from app.ui.signature.editor import install_signature_editor
from app.ui.signature.model import KEY, LEVEL_ROLE
from tests.ui.helpers_signature import slots

OUT = "encoder_out/thought_vectors:0"


@pytest.fixture
def editor(window, open_and_wait, skip_thoughts):
    editor = install_signature_editor(window)
    open_and_wait(window, skip_thoughts.directory)  # starts with Signet's proposal
    return editor


def _file_action(window, text: str):
    file_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&File")
    return next(a for a in file_menu.actions() if a.text() == text)


def test_save_and_load_round_trip_keeps_a_missing_tensor_as_an_error(editor, window, tmp_path,
                                                                      monkeypatch):
    path = tmp_path / "encoder.json"
    monkeypatch.setattr(presets_menu, "ask_save_path", lambda parent, start: path)
    _file_action(window, "&Save Signature Preset…").trigger()
    saved = load_preset(path)  # the command line's reader
    assert saved.signatures == editor.doc.draft.signatures
    assert all(s.dtype and s.shape for s in saved.signatures[0].inputs)

    # The preset now names a tensor this checkpoint lacks and a dtype it does not have.
    data = json.loads(path.read_text())
    data["signatures"][0]["outputs"][0]["tensor"] = "encoder_out/gone:0"
    data["signatures"][0]["inputs"][0]["dtype"] = "float64"
    path.write_text(json.dumps(data))
    editor.doc.undo_stack.undo()  # back to an empty signature
    assert slots(editor, "outputs") == []
    monkeypatch.setattr(presets_menu, "ask_load_path", lambda parent, start: path)
    _file_action(window, "&Load Signature Preset…").trigger()

    outputs, inputs = editor.doc.models["outputs"], editor.doc.models["inputs"]
    assert slots(editor, "outputs")[0] == ("thought_vectors", "encoder_out/gone:0")
    assert outputs.index(0, KEY).data(LEVEL_ROLE) == "error"
    assert "no tensor encoder_out/gone:0" in outputs.index(0, KEY).data(
        Qt.ItemDataRole.ToolTipRole)
    assert inputs.index(0, KEY).data(LEVEL_ROLE) == "error"
    assert "changed dtype" in editor.doc.slot_problems(0, "inputs", 0)[0].message
    assert not editor.export_action.isEnabled()
    assert "problem(s) to fix" in window.statusBar().currentMessage()
    # Loading is one undoable edit.
    editor.doc.undo_stack.undo()
    assert slots(editor, "outputs") == []


def test_presets_menu_lists_recent_and_saved_presets(editor, window, tmp_path):
    menu = editor.presets
    saved_dir = presets_menu.presets_dir(window.settings)
    saved_dir.mkdir(parents=True)
    in_folder = saved_dir / "house.json"
    elsewhere = tmp_path / "elsewhere.json"
    assert editor.save_preset(in_folder) and editor.save_preset(elsewhere)
    menu.refresh()
    listed = [a.data() for a in menu.path_actions()]
    assert listed == [str(elsewhere.resolve()), str(in_folder.resolve())]
    texts = [a.text() for a in menu.menu.actions()]
    assert texts.index("Recent") < texts.index("elsewhere")
    # Recent presets live in the (temporary) preferences and survive a new menu.
    again = presets_menu.PresetsMenu(window.settings, window)
    assert [p.name for p in again.recent.paths()] == ["elsewhere.json", "house.json"]
    # Picking one from the menu loads it.
    editor.doc.undo_stack.undo()
    assert slots(editor, "outputs") == []
    next(a for a in menu.path_actions() if a.text() == "elsewhere").trigger()
    assert slots(editor, "outputs") == [("thought_vectors", OUT)]
    # A preset that is gone leaves the recent list.
    elsewhere.unlink()
    menu.refresh()
    assert [a.text() for a in menu.path_actions()] == ["house"]


def test_a_broken_preset_is_reported_in_one_line(editor, window, tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    before = editor.doc.draft.copy()
    assert not editor.load_preset(path)
    message = window.statusBar().currentMessage()
    assert message.startswith(str(path)) and "not valid JSON" in message
    assert editor.doc.draft == before
