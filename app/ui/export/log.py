"""Export outcomes in the Log dock, and File › Recent Exports to see a result again.

The export dialog's result page (path, version, verification, serving snippets)
used to vanish when the dialog closed. Every outcome now goes to the Log dock,
and each published result is kept as an `ExportRecord` in the settings (the last
`RECENT_EXPORTS`), so File › Recent Exports reopens its result page later, also
in the next session. Saved presets are logged too.
"""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QMenu, QVBoxLayout, QWidget

from app.ui.common.settings import AppSettings
from app.ui.export.result import ExportRecord, ExportResultView, preview

RECENT_EXPORTS = 10
_KEY = "recent_exports"


def recent_exports(settings: AppSettings) -> list[ExportRecord]:
    """Stored results, newest first; those whose version folder is gone are dropped."""
    try:
        stored = json.loads(str(settings.preferences.value(_KEY, "[]") or "[]"))
    except ValueError:
        stored = []
    records = [r for r in map(ExportRecord.from_dict, stored if isinstance(stored, list)
                              else []) if r is not None]
    kept = [r for r in records if Path(r.path).is_dir()]
    if len(kept) != len(stored if isinstance(stored, list) else []):
        _store(settings, kept)
    return kept


def add_recent_export(settings: AppSettings, record: ExportRecord) -> None:
    others = [r for r in recent_exports(settings) if r.path != record.path]
    _store(settings, [record, *others][:RECENT_EXPORTS])


def _store(settings: AppSettings, records: list[ExportRecord]) -> None:
    settings.preferences.setValue(_KEY, json.dumps([r.to_dict() for r in records]))
    settings.preferences.sync()


def log_lines(record: ExportRecord) -> list[str]:
    """The Log dock's lines for a published export, snippets indented under titles."""
    lines = [f"Published version {record.version}: {record.path}", record.verification]
    for title, text in record.snippets.items():
        lines.append(f"{title}:")
        shown = preview(text, 400, "the result page has all of it")
        lines.extend(f"    {line}" for line in shown.splitlines())
    return lines


class ExportResultDialog(QDialog):
    """A past export's result page (File › Recent Exports)."""

    def __init__(self, record: ExportRecord, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Export result — {Path(record.path).parent.name} "
                            f"version {record.version}")
        self.setObjectName("exportResultDialog")
        self.view = ExportResultView()
        self.view.show_record(record)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.view, 1)
        layout.addWidget(buttons)
        self.resize(760, 620)


class ExportLog:
    """Writes the window's exports and saved presets in its Log dock; the Recent Exports
    menu."""

    def __init__(self, window) -> None:
        self.window = window
        self.settings: AppSettings = window.settings
        self.menu = QMenu("Recent E&xports", window)
        self.menu.setObjectName("recentExportsMenu")
        file_menu = window.menuBar().actions()[0].menu()  # File
        actions = file_menu.actions()
        recent = window.recent_menu.menuAction()
        after = actions.index(recent) + 1 if recent in actions else len(actions)
        file_menu.insertMenu(actions[after] if after < len(actions) else None, self.menu)
        window.exportDialogOpened.connect(self._watch)
        window.presetSaved.connect(lambda path: window.log_message(f"Saved the preset {path}"))
        self.refresh()

    def _watch(self, dialog) -> None:
        dialog.exportSucceeded.connect(self.published)
        dialog.exportFailed.connect(
            lambda message: self.window.log_message(f"Export failed: {message}"))
        dialog.exportCancelled.connect(
            lambda: self.window.log_message("Export cancelled; nothing was published"))

    def published(self, result) -> None:
        record = ExportRecord.of(result)
        for line in log_lines(record):
            self.window.log_message(line)
        add_recent_export(self.settings, record)
        self.refresh()

    def refresh(self) -> None:
        self.menu.clear()
        records = recent_exports(self.settings)
        for record in records:
            action = self.menu.addAction(f"{record.path} (version {record.version})")
            action.triggered.connect(lambda _=False, r=record: self.reopen(r))
        self.menu.setEnabled(bool(records))

    def reopen(self, record: ExportRecord) -> ExportResultDialog:
        dialog = ExportResultDialog(record, self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog


def install_export_log(window) -> ExportLog:
    """Log export outcomes and saved presets in ``window``'s Log dock; add Recent Exports."""
    log = ExportLog(window)
    window.export_log = log
    return log
