"""Presets: JSON round trip, atomic save, clear errors, applying to other checkpoints."""

from __future__ import annotations

import json

import pytest

from app.core.errors import PresetError
from app.core.loader import load_checkpoint
from app.core.signature.draft import Draft, ExportOptions, Level, Signature, Slot, record_facts
from app.core.signature.preset import (
    MAX_PRESET_BYTES,
    PRESET_VERSION,
    from_json,
    load_preset,
    save_preset,
    to_json,
)
from app.core.validation.draft import draft_from_suggestions, validate


def _sample() -> Draft:
    return Draft(
        [Signature("serving_default", "predict",
                   [Slot("ids", "encode_ids:0", "int64", "[?, ?]"), Slot("mask", "encode_mask")],
                   [Slot("vec", "encoder_out/thought_vectors:0", "float32", "[?, 16]")]),
         Signature("raw", "predict", [Slot("ids", "encode_ids:0")],
                   [Slot("h", "encoder/thought_vectors:0")])],
        {"keep_prob:0": 1.0, "mode": "serve"},
        ExportOptions(name="encoder", base="/srv/models", version=4, overwrite=True,
                      strip_training=True, verify=False),
    )


def test_round_trip_through_a_file(tmp_path):
    draft = _sample()
    path = save_preset(draft, tmp_path / "enc.json")
    loaded = load_preset(path)
    expected = draft.copy()
    expected.options.version, expected.options.overwrite = None, False  # per run, not saved
    assert loaded == expected
    data = json.loads(path.read_text())
    assert data["format"] == "signet-preset" and data["version"] == PRESET_VERSION
    assert "dtype" not in data["signatures"][0]["inputs"][1]
    assert [p.name for p in tmp_path.iterdir()] == ["enc.json"]  # no temp file left


def test_keeping_the_training_state_is_saved_and_a_preset_silent_on_it_serves_only():
    draft = _sample()
    draft.options.strip_training = False
    data = to_json(draft)
    assert data["export"]["strip_training"] is False
    assert from_json(data).options.strip_training is False  # it keeps the training state
    del data["export"]["strip_training"]
    assert from_json(data).options.strip_training is True  # never said: serving-only
    assert to_json(Draft())["export"]["strip_training"] is True


def test_a_version_1_preset_serves_only_whatever_it_says():
    """Version 1 wrote "strip_training": false whenever the box was left at its then
    default; it never meant "keep the training state" on purpose."""
    draft = _sample()
    draft.options.strip_training = False
    data = to_json(draft)
    data["version"] = 1
    assert from_json(data).options.strip_training is True
    data["version"] = PRESET_VERSION
    assert PRESET_VERSION == 2 and from_json(data).options.strip_training is False


def test_save_replaces_atomically_and_keeps_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "p.json"
    save_preset(_sample(), path)
    before = path.read_text()
    import os

    def full(*_args, **_kw):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(PresetError, match="No space left on device"):
        save_preset(Draft(), path)
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["p.json"]


@pytest.mark.parametrize(("content", "expected"), [
    (b"", "the preset file is empty"),
    (b"   \n", "the preset file is empty"),
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe", "not valid JSON"),
    (b"[1, 2]", "not a Signet preset"),
    (b'{"format": "other", "version": 1}', "not a Signet preset"),
    (b'{"format": "signet-preset"}', "no valid \"version\""),
    (b'{"format": "signet-preset", "version": 99, "signatures": []}',
     "preset version 99 is newer than this Signet understands (2)"),
    (b'{"format": "signet-preset", "version": 1, "signatures": {}}',
     "\"signatures\" must be a list"),
    (b'{"format": "signet-preset", "version": 1, "signatures": [{"inputs": [{"key": 1}]}]}',
     "signature 'serving_default' inputs #1 key must be text"),
    (b'{"format": "signet-preset", "version": 1, "signatures": [], "bind": []}',
     "\"bind\" must map"),
    (b'{"format": "signet-preset", "version": 1, "signatures": [],'
     b' "export": {"strip_training": "yes"}}', "strip_training must be true or false"),
])
def test_malformed_presets_get_one_clear_line(tmp_path, content, expected):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(PresetError) as info:
        load_preset(path)
    message = str(info.value)
    assert message.startswith(str(path) + ": ") and expected in message
    assert "\n" not in message


def test_missing_folder_and_huge_files(tmp_path):
    with pytest.raises(PresetError, match="no such preset file"):
        load_preset(tmp_path / "none.json")
    with pytest.raises(PresetError, match="is a folder"):
        load_preset(tmp_path)
    huge = tmp_path / "huge.json"
    huge.write_bytes(b" " * (MAX_PRESET_BYTES + 1))
    with pytest.raises(PresetError, match="far too big"):
        load_preset(huge)


def test_minimal_document_gets_defaults():
    draft = from_json({"format": "signet-preset", "version": 1,
                       "signatures": [{"outputs": [{"key": "y", "tensor": "y:0"}]}]})
    assert draft.signatures[0].key == "serving_default"
    assert draft.signatures[0].method == "predict"
    assert draft.options.verify is True and draft.bound == {}
    assert to_json(from_json(to_json(draft))) == to_json(draft)


def test_preset_applies_to_another_step_and_reports_missing_tensors(skip_thoughts, cnn,
                                                                    tmp_path):
    newest = load_checkpoint(skip_thoughts.latest)
    draft = draft_from_suggestions(newest)
    record_facts(draft, newest.graph)
    path = save_preset(draft, tmp_path / "skip.json")

    older = load_checkpoint(skip_thoughts.prefixes[0])
    assert [p for p in validate(load_preset(path), older.graph) if p.level is Level.ERROR] == []

    other = load_checkpoint(cnn.latest)
    problems = validate(load_preset(path), other.graph)
    missing = {(p.side, p.slot) for p in problems
               if p.level is Level.ERROR and "no tensor" in p.message}
    assert missing == {("inputs", "encode_ids"), ("inputs", "encode_mask"),
                       ("outputs", "thought_vectors")}
    assert len(load_preset(path).signatures[0].inputs) == 2  # kept, not dropped
