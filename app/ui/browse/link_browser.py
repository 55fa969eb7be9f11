"""A read-only rich-text panel whose links name ops or tensors and navigate to them."""

from __future__ import annotations

from html import escape

from PySide6.QtCore import QUrl, Signal
from PySide6.QtWidgets import QTextBrowser, QWidget

_SCHEME = "signet"


class LinkBrowser(QTextBrowser):
    """Renders HTML built with `link()`; clicking one emits `navigate` with the name."""

    navigate = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self._targets: list[str] = []
        self.anchorClicked.connect(self._clicked)

    def begin(self) -> None:
        """Start a new page (forget the previous page's link targets)."""
        self._targets = []

    def link(self, target: str, text: str | None = None) -> str:
        self._targets.append(target)
        return f'<a href="{_SCHEME}:{len(self._targets) - 1}">{escape(text or target)}</a>'

    def targets(self) -> list[str]:
        """Every link target on the page, in order (for tests and keyboard users)."""
        return list(self._targets)

    def _clicked(self, url: QUrl) -> None:
        if url.scheme() != _SCHEME:
            return
        try:
            self.navigate.emit(self._targets[int(url.path())])
        except (ValueError, IndexError):
            return
