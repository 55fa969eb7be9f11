"""Help › User Guide and Keyboard Shortcuts, and window shortcuts that beat text fields.

The user guide is the README's user-facing sections, shown as Markdown, so the
window and the project page never say different things. The shortcut list is
read from the window's actions at the moment it is opened, so it lists exactly
the shortcuts that work.

`ShortcutsWin` fixes a trap: a `QLineEdit` claims Ctrl+E, Ctrl+K and friends as
editing keys (end of line, delete to end…), so Export did nothing while the
search box had focus, and focus lands there after banners and dialogs close.
"""

from __future__ import annotations

import re

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QMainWindow,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.resources import readme_text

GUIDE_SECTIONS = ("User guide", "Presets", "Serving the export with TensorFlow Serving",
                  "Troubleshooting")


def guide_markdown(readme: str) -> str:
    """The README's `GUIDE_SECTIONS` (each a ``## `` section with its subsections)."""
    parts = re.split(r"(?m)^(?=## )", readme)
    kept = [p for p in parts if p.startswith("## ") and
            p[3:].splitlines()[0].strip() in GUIDE_SECTIONS]
    return "\n".join(kept)


def shortcut_rows(window: QWidget) -> list[tuple[str, str]]:
    """(what, keys) for every action of ``window`` with a shortcut, sorted by what."""
    rows: dict[str, str] = {}
    for action in window.findChildren(QAction):
        keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        # The icon text: an undo action's text names the edit it undoes, its icon text
        # stays "Undo" (install_signature_editor).
        what = action.iconText().replace("&", "").rstrip("…").strip()
        if keys and what:
            rows.setdefault(what, keys)
    return sorted(rows.items(), key=lambda row: row[0].lower())


# What a text field keeps even when the window has an action on the same keys.
_TEXT_KEYS = (QKeySequence.StandardKey.Undo, QKeySequence.StandardKey.Redo,
              QKeySequence.StandardKey.Cut, QKeySequence.StandardKey.Copy,
              QKeySequence.StandardKey.Paste, QKeySequence.StandardKey.SelectAll)


class ShortcutsWin(QObject):
    """An event filter for text fields: a Ctrl key that is one of the window's enabled
    action shortcuts goes to that action, not to the field's editing keys (except undo,
    redo, cut, copy, paste and select all, which act on the text)."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.window = window

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent) \
                and event.modifiers() & Qt.KeyboardModifier.ControlModifier \
                and not any(event.matches(key) for key in _TEXT_KEYS):
            pressed = QKeySequence(event.keyCombination())
            for action in self.window.findChildren(QAction):
                if action.isEnabled() and action.shortcut() == pressed:
                    event.ignore()  # not overridden: the shortcut map triggers the action
                    return True
        return False


class GuideDialog(QDialog):
    """The user guide (README sections) in a browser window."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Signet User Guide")
        self.resize(760, 680)
        self.browser = QTextBrowser()
        self.browser.setObjectName("userGuide")
        self.browser.setOpenExternalLinks(True)
        readme = readme_text()
        if readme is not None:
            self.browser.setMarkdown(guide_markdown(readme))
        else:
            self.browser.setPlainText("The README is not part of this installation; the user "
                                      "guide is the README on the project page.")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)


class ShortcutsDialog(QDialog):
    """Every keyboard shortcut of the window, as its actions have them now."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.setWindowTitle("Keyboard Shortcuts")
        rows = [*shortcut_rows(window), ("Search: next match", "Enter"),
                ("Search: clear", "Esc")]
        self.table = QTableWidget(len(rows), 2)
        self.table.setObjectName("shortcutTable")
        self.table.setHorizontalHeaderLabels(["Action", "Keys"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for r, (what, keys) in enumerate(rows):
            self.table.setItem(r, 0, QTableWidgetItem(what))
            self.table.setItem(r, 1, QTableWidgetItem(keys))
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setStretchLastSection(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(420, 480)


def _open(dialog: QDialog) -> QDialog:
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog


def install_help(window: QMainWindow) -> None:
    """Help › User Guide (F1) and Keyboard Shortcuts before About; window shortcuts win
    in the op search box."""
    help_menu = next((a.menu() for a in window.menuBar().actions()
                      if a.menu() is not None and a.text().replace("&", "") == "Help"), None)
    guide = QAction("User &Guide", window, shortcut=QKeySequence.StandardKey.HelpContents)
    guide.triggered.connect(lambda: _open(GuideDialog(window)))
    keys = QAction("&Keyboard Shortcuts", window)
    keys.triggered.connect(lambda: _open(ShortcutsDialog(window)))
    window.guide_action, window.shortcuts_action = guide, keys
    if help_menu is not None:
        first = help_menu.actions()[0] if help_menu.actions() else None
        help_menu.insertActions(first, [guide, keys])
        if first is not None:
            help_menu.insertSeparator(first)
    else:
        window.addActions([guide, keys])
    window.tree.search.installEventFilter(ShortcutsWin(window))
