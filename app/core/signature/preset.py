"""Signature presets: a `Draft` as a small, versioned JSON document.

- ``to_json(draft) -> dict`` / ``from_json(data, source="preset") -> Draft``
- ``save_preset(draft, path)``: atomic (temporary file in the same folder, then ``os.replace``).
- ``load_preset(path) -> Draft``: raises `PresetError` (one line naming the file and
  the fix) for a missing, empty, huge, non-JSON, wrong-format or future-version file, and
  for one no Signet wrote: a NUL or a lone surrogate in a text, a number of thousands of
  digits, nesting deeper than `MAX_DEPTH`.

Format (version 2)::

    {"format": "signet-preset", "version": 2,
     "signatures": [{"key": "serving_default", "method": "predict",
                     "inputs":  [{"key": "encode_ids", "tensor": "encode_ids:0",
                                  "dtype": "int64", "shape": "[?, ?]"}],
                     "outputs": [...]}],
     "bind": {"keep_prob:0": 1.0},
     "rewrites": {"dropout": false, "batch_norm:bn1/FusedBatchNormV3": false},
     "keep": ["dropout:rnn/dropout"],
     "export": {"name": "encoder", "base": "/srv/models", "strip_training": true,
                "verify": true, "warmup": true, "samples": "requests.json"}}

``dtype`` and ``shape`` are optional; when present, applying the preset to a
checkpoint where they differ is an error for that slot (see `app.core.validation.draft.validate`).
Version and overwrite are per run and never stored. ``strip_training`` is always
written: ``false`` keeps the training state, and a preset without it exports serving-only,
the default. Version 1 presets (and window drafts) were written when keeping the training
state was the default and wrote ``false`` for it unasked, so their ``false`` is read as the
new default; version 2 means what it says. ``rewrites`` (rewrite or site id ->
on/off) and ``keep`` (blocked sites exported as they are) came later and are optional, so
older presets load with every rewrite at its default. ``samples`` (the samples file
verification and the warmup replay, `app.core.samples.files`) is optional as well and
written only when set; a relative path is read from where Signet runs.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from app.core.errors import PresetError
from app.core.signature.draft import Draft, ExportOptions, Signature, Slot

PRESET_FORMAT = "signet-preset"
PRESET_VERSION = 2
MAX_PRESET_BYTES = 1 << 20  # a preset is a few KiB; anything this big is not one
MAX_NUMBER_DIGITS = 4300  # Python's own limit for reading an integer
MAX_DEPTH = 256  # a bound tensor's 254 dimensions, in the "bind" object of the document


def to_json(draft: Draft) -> dict[str, Any]:
    def slot(s: Slot) -> dict[str, Any]:
        out: dict[str, Any] = {"key": s.key, "tensor": s.tensor}
        if s.dtype is not None:
            out["dtype"] = s.dtype
        if s.shape is not None:
            out["shape"] = s.shape
        return out

    opts = draft.options
    export: dict[str, Any] = {"name": opts.name, "base": opts.base,
                              "strip_training": opts.strip_training, "verify": opts.verify,
                              "warmup": opts.warmup}
    if opts.samples:
        export["samples"] = opts.samples
    return {
        "format": PRESET_FORMAT,
        "version": PRESET_VERSION,
        "signatures": [
            {"key": sig.key, "method": sig.method,
             "inputs": [slot(s) for s in sig.inputs],
             "outputs": [slot(s) for s in sig.outputs]}
            for sig in draft.signatures
        ],
        "bind": dict(draft.bound),
        "rewrites": dict(draft.rewrites),
        "keep": list(draft.kept),
        "export": export,
    }


def from_json(data: Any, source: str = "preset") -> Draft:
    """Parse a preset document; ``source`` (the file name) starts every error message."""

    def fail(why: str) -> PresetError:
        return PresetError(f"{source}: {why}")

    _check_text(data, fail)
    if not isinstance(data, dict) or data.get("format") != PRESET_FORMAT:
        raise fail(f"not a Signet preset (expected \"format\": \"{PRESET_FORMAT}\")")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise fail("the preset has no valid \"version\"")
    if version > PRESET_VERSION:
        raise fail(f"preset version {version} is newer than this Signet understands "
                   f"({PRESET_VERSION}); update Signet or save the preset again")
    sigs = data.get("signatures")
    if not isinstance(sigs, list):
        raise fail("\"signatures\" must be a list")
    signatures = []
    for i, raw in enumerate(sigs):
        if not isinstance(raw, dict):
            raise fail(f"signature #{i + 1} must be an object")
        key = _text(raw.get("key", "serving_default"), fail, f"signature #{i + 1} key")
        method = _text(raw.get("method", "predict"), fail, f"signature {key!r} method")
        sides = []
        for side in ("inputs", "outputs"):
            items = raw.get(side, [])
            if not isinstance(items, list):
                raise fail(f"signature {key!r} {side} must be a list")
            sides.append([_slot(item, fail, f"signature {key!r} {side} #{j + 1}")
                          for j, item in enumerate(items)])
        signatures.append(Signature(key, method, sides[0], sides[1]))
    bound = data.get("bind", {})
    if not isinstance(bound, dict):
        raise fail("\"bind\" must map placeholder names to values")
    export = data.get("export", {})
    if not isinstance(export, dict):
        raise fail("\"export\" must be an object")
    options = ExportOptions(
        name=_text(export.get("name", ""), fail, "export name"),
        base=_text(export.get("base", ""), fail, "export base"),
        strip_training=_flag(export.get("strip_training", True), fail, "strip_training")
        or version == 1,
        verify=_flag(export.get("verify", True), fail, "verify"),
        warmup=_flag(export.get("warmup", True), fail, "warmup"),
        samples=_text(export.get("samples", ""), fail, "export samples"),
    )
    rewrites = data.get("rewrites", {})
    if not isinstance(rewrites, dict) or not all(
            isinstance(k, str) and isinstance(v, bool) for k, v in rewrites.items()):
        raise fail("\"rewrites\" must map rewrite or site ids to true or false")
    kept = data.get("keep", [])
    if not isinstance(kept, list) or not all(isinstance(k, str) for k in kept):
        raise fail("\"keep\" must be a list of site ids")
    return Draft(signatures, dict(bound), options, dict(rewrites), list(kept))


def _check_text(data: Any, fail) -> None:
    """Refuse a NUL or a lone UTF-16 surrogate in any key or text of the document (no
    tensor, key, folder or file name holds one, and a message quoting it would be cut
    short, or could not be printed at all), and nesting deeper than `MAX_DEPTH` (a bound
    value is a tensor: TensorFlow's shapes stop at 254 dimensions; the rest is shallow)."""
    stack = [(data, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise fail(f"lists or objects nested more than {MAX_DEPTH} deep, which no preset "
                       "is; fix or save the preset again")
        if isinstance(item, dict):
            stack.extend((x, depth + 1) for x in [*item.keys(), *item.values()])
        elif isinstance(item, list):
            stack.extend((x, depth + 1) for x in item)
        elif isinstance(item, str):
            if "\0" in item:
                raise fail(f"the text {item[:60]!r} holds a NUL character; no name holds one")
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise fail("the preset holds a lone UTF-16 surrogate (an escape such as "
                           "\\ud800 without its pair); save the preset again") from exc


def _number(literal: str) -> int:
    """An integer of the preset (a version, a bound value), refused when absurdly long."""
    if len(literal.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise _LongNumber(len(literal.lstrip("-")))
    return int(literal)


class _LongNumber(Exception):
    def __init__(self, digits: int) -> None:
        super().__init__(digits)
        self.digits = digits


def _text(value: Any, fail, what: str) -> str:
    if not isinstance(value, str):
        raise fail(f"{what} must be text")
    return value


def _flag(value: Any, fail, what: str) -> bool:
    if not isinstance(value, bool):
        raise fail(f"export {what} must be true or false")
    return value


def _slot(item: Any, fail, where: str) -> Slot:
    if not isinstance(item, dict):
        raise fail(f"{where} must be an object with \"key\" and \"tensor\"")
    key = _text(item.get("key"), fail, f"{where} key")
    tensor = _text(item.get("tensor"), fail, f"{where} tensor")
    dtype = item.get("dtype")
    shape = item.get("shape")
    if dtype is not None:
        _text(dtype, fail, f"{where} dtype")
    if shape is not None:
        _text(shape, fail, f"{where} shape")
    return Slot(key, tensor, dtype, shape)


def save_preset(draft: Draft, path: str | os.PathLike[str]) -> Path:
    """Write ``draft`` as a preset atomically; return the path written."""
    target = Path(path)
    text = json.dumps(to_json(draft), indent=2) + "\n"
    folder = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise PresetError(f"{target}: cannot write the preset here ({exc.strerror})") from exc
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a preset is a normal shared file
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise PresetError(f"{target}: cannot write the preset ({exc.strerror})") from exc
    return target


def load_preset(path: str | os.PathLike[str]) -> Draft:
    source = Path(path)
    try:
        size = source.stat().st_size
        if size > MAX_PRESET_BYTES:
            raise PresetError(f"{source}: {size} bytes is far too big for a preset; "
                              "pick the .json file Signet saved")
        raw = source.read_bytes()
    except FileNotFoundError as exc:
        raise PresetError(f"{source}: no such preset file") from exc
    except IsADirectoryError as exc:
        raise PresetError(f"{source}: is a folder; give the preset's .json file") from exc
    except OSError as exc:
        raise PresetError(f"{source}: cannot read the preset ({exc.strerror})") from exc
    if not raw.strip():
        raise PresetError(f"{source}: the preset file is empty; save it again")
    try:
        data = json.loads(raw.decode("utf-8"), parse_int=_number)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PresetError(f"{source}: not valid JSON ({exc}); fix or save the preset again") \
            from exc
    except _LongNumber as exc:
        raise PresetError(f"{source}: holds a number of {exc.digits} digits, which no preset "
                          "does; fix or save the preset again") from exc
    except RecursionError as exc:
        raise PresetError(f"{source}: lists or objects nested thousands deep, which no preset "
                          "is; fix or save the preset again") from exc
    return from_json(data, str(source))
