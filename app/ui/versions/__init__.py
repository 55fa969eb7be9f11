"""The Versions window: a model folder's published versions, its eval chart, the actions
(publish a step, move the stable label, delete) and a background `signet watch`.

``open_versions(model_folder, parent)`` shows the folder's window, raising the one
already open. Modules: `table` (the Qt model over the core's rows), `chart`
(pyqtgraph), `runner` (`signet watch` as a child process), `view` (the window).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QWidget

from app.ui.versions.view import VersionsWindow

_open: dict[Path, VersionsWindow] = {}


def open_versions(model_folder: str | Path, parent: QWidget | None = None) -> VersionsWindow:
    folder = Path(model_folder).absolute()
    window = _open.get(folder)
    if window is None or not window.isVisible():
        window = VersionsWindow(folder, parent)
        _open[folder] = window
        stopping = getattr(parent, "shuttingDown", None)  # the main window's
        if stopping is not None:
            stopping.connect(window.shutdown)
        window.destroyed.connect(lambda *_: _open.pop(folder, None))
    window.show()
    window.raise_()
    window.activateWindow()
    return window


__all__ = ["VersionsWindow", "open_versions"]
