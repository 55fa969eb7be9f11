"""One Open dialog for a checkpoint or a SavedModel: a folder or any of its files.

Qt's file dialog picks either files or folders. This one shows files, and its
Open button also accepts a folder that opens as it is (instead of stepping into
it): a checkpoint folder, a SavedModel version folder, or a model folder (its
newest version), as ``signet PATH`` takes them. Qt leaves a selected folder out
of the name box and then disables Open, so such a folder is put in the box when
selected, and the folder on show when it is one and nothing is named: Open then
opens it. ``saved_model.pb`` is listed beside the checkpoint files, and opens its
version folder.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QLineEdit, QListView, QTreeView, QWidget

from app.core.serving.serving_model import model_version_folder

NAME_FILTERS = ["Checkpoints and SavedModels (*.meta *.index *.data-* checkpoint "
                "saved_model.pb saved_model.pbtxt)", "All files (*)"]


def holds_checkpoint(folder: Path) -> bool:
    try:
        return any(p.suffix in (".meta", ".index") or p.name == "checkpoint"
                   for p in folder.iterdir())
    except OSError:
        return False


def opens_as_folder(folder: Path) -> bool:
    """Whether Open takes ``folder`` itself: it holds a checkpoint, or is a SavedModel's
    version or model folder."""
    return folder.is_dir() and (holds_checkpoint(folder)
                                or model_version_folder(folder) is not None)


class CheckpointDialog(QFileDialog):
    def __init__(self, parent: QWidget | None = None, directory: str = "") -> None:
        super().__init__(parent, "Open Checkpoint or SavedModel", directory)
        self.setOption(QFileDialog.Option.DontUseNativeDialog, True)
        self.setFileMode(QFileDialog.FileMode.ExistingFile)
        self.setNameFilters(NAME_FILTERS)
        self.setLabelText(QFileDialog.DialogLabel.Accept, "Open")
        self._folder: Path | None = None  # a folder accepted as it is
        self._name_box = self.findChild(QLineEdit, "fileNameEdit")
        for view in (self.findChild(QListView, "listView"),
                     self.findChild(QTreeView, "treeView")):
            if view is not None:  # after Qt's own slot, which empties the box for folders
                view.selectionModel().selectionChanged.connect(
                    lambda *_args, view=view: self._name_selected_folder(view))
        self.directoryEntered.connect(self._name_shown_folder)
        self._name_shown_folder(self.directory().absolutePath())

    def _name_selected_folder(self, view: QListView | QTreeView) -> None:
        rows = view.selectionModel().selectedRows()
        if len(rows) != 1 or self._name_box is None:
            return
        folder = Path(self.directory().absolutePath()) / rows[0].data()
        if opens_as_folder(folder) and self._name_box.text() != folder.name:
            self._name_box.setText(folder.name)

    def _name_shown_folder(self, path: str) -> None:
        if self._name_box is not None and not self._name_box.text() \
                and opens_as_folder(Path(path)):
            self._name_box.setText(path)

    def chosen(self) -> Path | None:
        if self._folder is not None:
            return self._folder
        files = self.selectedFiles()
        return Path(files[0]) if files else None

    def accept(self) -> None:
        files = self.selectedFiles()
        folder = Path(files[0]) if files else None
        if folder is not None and opens_as_folder(folder):
            self._folder = folder
            self.done(QFileDialog.DialogCode.Accepted)  # keep the folder, do not step into it
            return
        super().accept()


def ask_checkpoint(parent: QWidget | None, directory: str = "") -> Path | None:
    """Ask for a checkpoint or SavedModel, folder or file; None when the user cancels."""
    dialog = CheckpointDialog(parent, directory)
    if dialog.exec() != QFileDialog.DialogCode.Accepted:
        return None
    return dialog.chosen()
