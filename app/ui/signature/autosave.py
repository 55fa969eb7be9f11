"""Per-checkpoint draft autosave: every edit is on disk at once, so a crash loses nothing.

Drafts are preset JSON files (app.core.signature.preset, written atomically) in a
``drafts`` folder next to Signet's settings file, so tests that redirect
`QSettings` redirect the drafts too. The file is keyed by the checkpoint's folder
and prefix name without the step (``…/skip_thoughts`` + ``model.ckpt``), so a
newer step of the same model restores the same draft.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from app.core.errors import PresetError
from app.core.signature.draft import Draft
from app.core.signature.preset import load_preset, save_preset
from app.ui.common.settings import AppSettings

_STEP = re.compile(r"-\d+$")


def data_dir(settings: AppSettings) -> Path:
    """Signet's per-user data folder: beside the settings file."""
    return Path(settings.preferences.fileName()).parent


def model_key(checkpoint) -> str:
    """``<folder>/<prefix without -step>`` of a `Checkpoint`, absolute."""
    base = _STEP.sub("", checkpoint.name)
    return str(Path(checkpoint.directory).resolve() / base)


def draft_path(settings: AppSettings, checkpoint) -> Path:
    key = model_key(checkpoint)
    digest = hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]
    readable = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(key).parent.name + "-" + Path(key).name)
    return data_dir(settings) / "drafts" / f"{readable[:60]}-{digest}.json"


class Autosave:
    """Saves and restores the draft of one checkpoint at a time."""

    def __init__(self, settings: AppSettings) -> None:
        self.settings = settings
        self.path: Path | None = None
        self.last_error: str | None = None

    def attach(self, checkpoint) -> Draft | None:
        """Start saving for ``checkpoint``; the draft saved for it before, if any."""
        self.path = draft_path(self.settings, checkpoint)
        return self.restore()

    def detach(self) -> None:
        self.path = None

    def restore(self) -> Draft | None:
        if self.path is None or not self.path.is_file():
            return None
        try:
            return load_preset(self.path)
        except PresetError as exc:  # a damaged draft is reported, never fatal
            self.last_error = str(exc)
            return None

    def save(self, draft: Draft) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            save_preset(draft, self.path)
            self.last_error = None
        except PresetError as exc:
            self.last_error = str(exc)
