"""What a finished export shows: where it went, how it verified, and what to paste next.

The snippets (models.config entry, TensorFlow Serving start commands, a ``curl``
REST predict request with a sample body) come from the core's
`app.core.export.serving`; this widget only lays them out with Copy buttons.
"""

from __future__ import annotations

import shlex
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QDesktopServices, QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.core.export import serving


def model_server_command(name: str, model_folder: Path) -> str:
    """The ``tensorflow_model_server`` line serving ``model_folder`` over REST and gRPC."""
    return (f"tensorflow_model_server --port=8500 --rest_api_port={serving.REST_PORT} "
            f"--model_name={shlex.quote(name)} "
            f"--model_base_path={shlex.quote(str(model_folder.absolute()))}")


def snippets(result) -> dict[str, str]:
    """Title -> text of every copyable snippet for an `ExportResult`."""
    name = result.model_folder.name
    keys = sorted(result.signature_defs)
    key = "serving_default" if "serving_default" in keys else keys[0]
    return {
        "models.config entry": result.models_config,
        "Start TensorFlow Serving": model_server_command(name, result.model_folder)
        + "\n# or with Docker:\n" + serving.serving_command(name, result.model_folder),
        f"REST predict request ({key})": result.rest_refusal(key) or serving.curl_command(
            name, result.rest_texts.get(key) or result.rest_body(key)),
    }


PREVIEW_CHARS = 4000  # a sample body for an image batch is megabytes of JSON
KEPT_CHARS = 64 * 1024  # what Recent Exports keeps of a snippet in the settings


def preview(text: str, limit: int = PREVIEW_CHARS, rest: str = "Copy copies all of it") -> str:
    """``text``, or its start and a note of its size when it is longer than ``limit``:
    Qt lays a multi-megabyte line out for seconds, on the UI thread."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) / 1e6:.1f} MB in all; {rest})"


@dataclass
class ExportRecord:
    """What the result page shows, as plain text: kept after the dialog closes (the Log
    dock, File › Recent Exports) and stored in the settings as a dict."""

    path: str
    version: int
    verification: str
    summary: str
    snippets: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, result) -> ExportRecord:
        """The record of an `ExportResult`."""
        report = result.verification
        said = f"✔ {report.summary()}" if report is not None \
            else "Not verified (verification was turned off)."
        if result.samples_origin:
            said += f"\nSamples: {result.samples_origin}"
        # The fixed training batch size among them: a client must not meet it as a surprise.
        said += "".join(f"\nwarning: {note}" for note in result.notes
                        if note.level == "warning")
        return cls(str(result.path), int(result.version), said, result.summary,
                   snippets(result))

    def to_dict(self) -> dict[str, Any]:
        """For the settings: very long snippets are kept as their preview."""
        data = asdict(self)
        data["snippets"] = {k: v if len(v) <= KEPT_CHARS else
                            preview(v, rest="too long to keep after the export")
                            for k, v in self.snippets.items()}
        return data

    @classmethod
    def from_dict(cls, data: Any) -> ExportRecord | None:
        """A stored record, or None when it is not one (an older or damaged entry)."""
        try:
            return cls(str(data["path"]), int(data["version"]), str(data["verification"]),
                       str(data["summary"]), {str(k): str(v)
                                              for k, v in dict(data["snippets"]).items()})
        except (KeyError, TypeError, ValueError):
            return None


class Snippet(QWidget):
    """A read-only text with a Copy button (a tab of the result page, titled ``title``)."""

    def __init__(self, title: str, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.full_text = text
        self.text = QPlainTextEdit(preview(text), readOnly=True)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setMaximumHeight(110)
        self.copy_button = QPushButton("Copy", clicked=self.copy)
        layout = QHBoxLayout(self)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.copy_button)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.full_text)


class ExportResultView(QWidget):
    """The success page of the export dialog. ``versionsRequested(model_folder)``: the
    user asked for the model's Versions window."""

    versionsRequested = Signal(Path)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path: Path | None = None
        self.path_label = QLabel(wordWrap=True)
        self.path_label.setObjectName("publishedPath")
        self.open_button = QPushButton("Open Folder", clicked=self.open_folder)
        self.versions_button = QPushButton("Versions…", clicked=self.open_versions)
        self.versions_button.setToolTip("The model's published versions, its eval chart, "
                                        "and a watch of its training run")
        self.verification = QLabel(wordWrap=True)
        self.verification.setObjectName("verification")
        self.summary = QPlainTextEdit(readOnly=True)
        self.summary.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.summary.setObjectName("signatureSummary")
        top = QHBoxLayout()
        top.addWidget(self.path_label, 1)
        top.addWidget(self.open_button)
        top.addWidget(self.versions_button)
        self.snippet_tabs = QTabWidget()  # one tab a snippet: the summary keeps the room
        self.snippet_tabs.setObjectName("snippetTabs")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.verification)
        layout.addWidget(QLabel("Signatures (as saved_model_cli show --all prints them):"))
        layout.addWidget(self.summary, 1)
        layout.addWidget(self.snippet_tabs)
        self.snippets: dict[str, Snippet] = {}

    def show_result(self, result) -> None:
        self.show_record(ExportRecord.of(result))

    def show_record(self, record: ExportRecord) -> None:
        self.path = Path(record.path)
        self.path_label.setText(f"Published version {record.version}: <b>{self.path}</b>")
        self.verification.setText(record.verification)
        self.summary.setPlainText(record.summary)
        self.snippet_tabs.clear()
        for box in self.snippets.values():
            box.deleteLater()
        self.snippets = {title: Snippet(title, text) for title, text in record.snippets.items()}
        for title, box in self.snippets.items():
            self.snippet_tabs.addTab(box, title)

    def open_folder(self) -> None:
        if self.path is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.path)))

    def open_versions(self) -> None:
        """Ask for the Versions window of the model folder this export published into
        (the window opens it: the export room imports no other room)."""
        if self.path is not None:
            self.versionsRequested.emit(self.path.parent)
