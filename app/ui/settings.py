"""Where the window keeps what it remembers: recent checkpoints, and dock/geometry state.

Preferences (``signet.ini``) and window geometry (``window.ini``) live in two
files, so resetting the layout never loses the recent list. Both go through
`QSettings` in INI format under the user config folder, which tests redirect with
``QSettings.setPath``.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

ORGANIZATION = "Signet"
RECENT_LIMIT = 10
# Bump when docks are added or renamed, so an old layout is not restored onto a new window.
WINDOW_STATE_VERSION = 2


def _settings(name: str) -> QSettings:
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, name)


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
        text = str(Path(path).resolve())
        entries = [text] + [p for p in self._recent_raw() if p != text]
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
