"""Where the window keeps what it remembers: recent checkpoints, and dock/geometry state.

Preferences (``signet.ini``) and window geometry (``window.ini``) live in two
files, so resetting the layout never loses the recent list. Both go through
`QSettings` in INI format under the user config folder, which tests redirect with
``QSettings.setPath``.
"""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

ORGANIZATION = "Signet"
RECENT_LIMIT = 10
# Bump when docks are added or renamed, so an old layout is not restored onto a new window.
WINDOW_STATE_VERSION = 3  # 3: the 1280×800 layout (issue 26)


def _settings(name: str) -> QSettings:
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, name)


def _model_of(path: str | Path) -> tuple[Path, str | None]:
    """(folder, prefix without step and extension) of a recent entry; a folder has no
    prefix (it stands for whatever it holds)."""
    p = Path(path)
    if p.is_dir() or not p.suffix:
        return (p, None) if p.is_dir() else (p.parent, re.sub(r"-\d+$", "", p.name))
    stem = p.name.split(".data-")[0] if ".data-" in p.name else p.name.rsplit(".", 1)[0]
    return p.parent, re.sub(r"-\d+$", "", stem)


def same_model(a: str | Path, b: str | Path) -> bool:
    """Whether two recent entries open the same model (a folder and a file in it, or two
    files or steps of one prefix)."""
    (folder_a, prefix_a), (folder_b, prefix_b) = _model_of(a), _model_of(b)
    return folder_a == folder_b and (prefix_a is None or prefix_b is None
                                     or prefix_a == prefix_b)


class AppSettings:
    """Typed access to Signet's two settings files."""

    def __init__(self) -> None:
        self.preferences = _settings("signet")
        self.window = _settings("window")

    # Recent checkpoints -------------------------------------------------------------------

    def recent(self) -> list[Path]:
        """Recent checkpoint paths, newest first; paths gone from disk are dropped for good."""
        stored = self._recent_raw()
        existing = [p for p in stored if Path(p).exists()]
        if existing != stored:
            self.preferences.setValue("recent", existing)
        return [Path(p) for p in existing]

    def add_recent(self, path: str | Path) -> None:
        """Put ``path`` first, as the user chose it; an older entry of the same model
        (its folder, or another of its files) goes."""
        text = str(Path(path).resolve())
        entries = [text] + [p for p in self._recent_raw() if not same_model(p, text)]
        self.preferences.setValue("recent", entries[:RECENT_LIMIT])
        self.preferences.sync()

    def clear_recent(self) -> None:
        self.preferences.setValue("recent", [])

    def _recent_raw(self) -> list[str]:
        value = self.preferences.value("recent", [])
        if isinstance(value, str):  # QSettings returns a lone entry as a plain string
            value = [value]
        return [str(v) for v in value or []]

    # Window geometry and dock layout ------------------------------------------------------

    def save_window(self, geometry: QByteArray, state: QByteArray) -> None:
        self.window.setValue("geometry", geometry)
        self.window.setValue("state", state)
        self.window.setValue("state_version", WINDOW_STATE_VERSION)
        self.window.sync()

    def window_geometry(self) -> QByteArray | None:
        value = self.window.value("geometry")
        return value if isinstance(value, QByteArray) else None

    def window_state(self) -> QByteArray | None:
        """The saved dock layout, or None when absent or saved by another layout version."""
        if int(self.window.value("state_version", 0) or 0) != WINDOW_STATE_VERSION:
            return None
        value = self.window.value("state")
        return value if isinstance(value, QByteArray) else None
