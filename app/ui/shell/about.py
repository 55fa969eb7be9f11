"""Help › About: Signet's version and the versions of what it runs on."""

from __future__ import annotations

import platform
import sys

import PySide6
from PySide6.QtCore import qVersion
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from app import __version__


def versions() -> dict[str, str]:
    """Versions shown in About; TensorFlow's only once it has been imported (it is slow)."""
    tf = sys.modules.get("tensorflow")
    tf_version = getattr(tf, "__version__", None) if tf is not None else None
    return {
        "Signet": __version__,
        "TensorFlow": tf_version or "not loaded yet",
        "Qt": qVersion(),
        "PySide6": PySide6.__version__,
        "Python": platform.python_version(),
    }


class AboutDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About Signet")
        rows = "".join(f"<tr><td><b>{k}</b></td><td>{v}</td></tr>" for k, v in versions().items())
        self.text = QLabel(
            "<h3>Signet</h3><p>Turns TensorFlow 1.x checkpoints into servable, verified "
            f"SavedModels.</p><table cellspacing='4'>{rows}</table>"
        )
        self.text.setObjectName("aboutText")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
