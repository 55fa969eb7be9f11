"""One Open dialog for a checkpoint folder or any of its files.

Qt's file dialog picks either files or folders. This one shows files, and its
Open button also accepts a folder that holds a checkpoint (instead of stepping
into it), so a user can choose whichever they have in hand.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

NAME_FILTERS = ["Checkpoint files (*.meta *.index *.data-* checkpoint)", "All files (*)"]


def holds_checkpoint(folder: Path) -> bool:
    try:
        return any(p.suffix in (".meta", ".index") or p.name == "checkpoint"
                   for p in folder.iterdir())
    except OSError:
        return False


class CheckpointDialog(QFileDialog):
    def __init__(self, parent: QWidget | None = None, directory: str = "") -> None:
        super().__init__(parent, "Open Checkpoint", directory)
        self.setOption(QFileDialog.Option.DontUseNativeDialog, True)
        self.setFileMode(QFileDialog.FileMode.ExistingFile)
        self.setNameFilters(NAME_FILTERS)
        self.setLabelText(QFileDialog.DialogLabel.Accept, "Open")

    def chosen(self) -> Path | None:
        files = self.selectedFiles()
        return Path(files[0]) if files else None

    def accept(self) -> None:
        chosen = self.chosen()
        if chosen is not None and chosen.is_dir() and holds_checkpoint(chosen):
            self.done(QFileDialog.DialogCode.Accepted)  # keep the folder, do not step into it
            return
        super().accept()


def ask_checkpoint(parent: QWidget | None, directory: str = "") -> Path | None:
    """Ask for a checkpoint folder or file; None when the user cancels."""
    dialog = CheckpointDialog(parent, directory)
    if dialog.exec() != QFileDialog.DialogCode.Accepted:
        return None
    return dialog.chosen()
