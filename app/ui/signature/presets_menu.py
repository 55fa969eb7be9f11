"""Signature presets in the GUI: Save/Load actions and a Presets menu (recent + saved).

Presets are the command line's JSON (app.core.signature.preset). Recent presets are kept in
Signet's preferences (`QSettings`); "saved" presets are the ``.json`` files in the
``presets`` folder of Signet's data folder, where Save proposes to write.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from app.ui.common.settings import RECENT_LIMIT, AppSettings
from app.ui.signature.autosave import data_dir

RECENT_KEY = "recent_presets"
FILTER = "Signet presets (*.json);;All files (*)"


def presets_dir(settings: AppSettings) -> Path:
    return data_dir(settings) / "presets"


class RecentPresets:
    """Recent preset paths in the preferences, newest first; gone files are dropped."""

    def __init__(self, settings: AppSettings) -> None:
        self.settings = settings

    def _raw(self) -> list[str]:
        value = self.settings.preferences.value(RECENT_KEY, [])
        if isinstance(value, str):  # QSettings returns a lone entry as a plain string
            value = [value]
        return [str(v) for v in value or []]

    def paths(self) -> list[Path]:
        stored = self._raw()
        existing = [p for p in stored if Path(p).is_file()]
        if existing != stored:
            self.settings.preferences.setValue(RECENT_KEY, existing)
        return [Path(p) for p in existing]

    def add(self, path: str | Path) -> None:
        text = str(Path(path).resolve())
        entries = [text] + [p for p in self._raw() if p != text]
        self.settings.preferences.setValue(RECENT_KEY, entries[:RECENT_LIMIT])
        self.settings.preferences.sync()


def ask_save_path(parent: QWidget, start: str) -> Path | None:
    path, _ = QFileDialog.getSaveFileName(parent, "Save Signature Preset", start, FILTER)
    if not path:
        return None
    return Path(path if path.endswith(".json") else path + ".json")


def ask_load_path(parent: QWidget, start: str) -> Path | None:
    path, _ = QFileDialog.getOpenFileName(parent, "Load Signature Preset", start, FILTER)
    return Path(path) if path else None


class PresetsMenu(QObject):
    """The Save/Load actions and the Presets menu; emits paths, the editor does the work."""

    saveRequested = Signal(object)  # Path
    loadRequested = Signal(object)  # Path

    def __init__(self, settings: AppSettings, parent: QWidget) -> None:
        super().__init__(parent)
        self.settings = settings
        self.recent = RecentPresets(settings)
        self.save_action = QAction("&Save Signature Preset…", parent, triggered=self.ask_save)
        self.load_action = QAction("&Load Signature Preset…", parent, triggered=self.ask_load)
        self.menu = QMenu("&Presets", parent)
        self.menu.aboutToShow.connect(self.refresh)
        self.refresh()

    def _parent(self) -> QWidget:
        return self.parent()  # type: ignore[return-value]

    def ask_save(self) -> None:
        folder = presets_dir(self.settings)
        folder.mkdir(parents=True, exist_ok=True)
        path = ask_save_path(self._parent(), str(folder / "signature.json"))
        if path is not None:
            self.saveRequested.emit(path)

    def ask_load(self) -> None:
        folder = presets_dir(self.settings)
        recent = self.recent.paths()
        start = recent[0].parent if recent else folder if folder.is_dir() else Path.home()
        path = ask_load_path(self._parent(), str(start))
        if path is not None:
            self.loadRequested.emit(path)

    def saved(self) -> list[Path]:
        folder = presets_dir(self.settings)
        return sorted(folder.glob("*.json")) if folder.is_dir() else []

    def refresh(self) -> None:
        """Rebuild: Save/Load, then recent presets, then the saved ones not already listed."""
        menu = self.menu
        menu.clear()
        menu.addAction(self.save_action)
        menu.addAction(self.load_action)
        recent = self.recent.paths()
        if recent:
            menu.addSection("Recent")
            for path in recent:
                self._add_path(path)
        saved = [p for p in self.saved() if p.resolve() not in {r.resolve() for r in recent}]
        if saved:
            menu.addSection("Saved")
            for path in saved:
                self._add_path(path)

    def _add_path(self, path: Path) -> None:
        action = self.menu.addAction(path.stem)
        action.setToolTip(str(path))
        action.setData(str(path))
        action.triggered.connect(lambda: self.loadRequested.emit(path))

    def path_actions(self) -> list[QAction]:
        return [a for a in self.menu.actions() if a.data()]
