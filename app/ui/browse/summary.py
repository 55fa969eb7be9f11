"""The checkpoint summary: steps, size, training-only share and the suggested signature."""

from __future__ import annotations

from html import escape

from PySide6.QtWidgets import QWidget

from app.core.loader import LoadedCheckpoint
from app.ui.browse.details import human_bytes
from app.ui.browse.link_browser import LinkBrowser
from app.ui.common.paths import abbreviate_home


class SummaryPanel(LinkBrowser):
    """Facts about the open checkpoint; each suggested tensor is a link into the tree."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("summary")
        self.set_checkpoint(None)

    def set_checkpoint(self, loaded: LoadedCheckpoint | None) -> None:
        self.begin()
        if loaded is None:
            self.setHtml("<p><i>No checkpoint open.</i></p>")
            return
        ckpt, variables = loaded.checkpoint, loaded.variables
        share = variables.training_bytes / variables.nbytes if variables.nbytes else 0.0
        steps = ", ".join(map(str, ckpt.steps)) or "—"
        html = [
            f"<h3>{escape(ckpt.name)}</h3><table cellspacing='4'>",
            f"<tr><td><b>Folder</b></td><td>{escape(abbreviate_home(str(ckpt.directory)))}</td></tr>",
            f"<tr><td><b>Step</b></td><td>{ckpt.step if ckpt.step is not None else '—'}</td></tr>",
            f"<tr><td><b>Steps here</b></td><td>{escape(steps)}</td></tr>",
            f"<tr><td><b>Ops</b></td><td>{len(loaded.graph):,}</td></tr>",
        ]
        if loaded.graph.functions:
            n = sum(len(body) for body in loaded.graph.functions.values())
            html.append(f"<tr><td><b>Function ops</b></td><td>{n:,} in "
                        f"{len(loaded.graph.functions)} functions</td></tr>")
        html += [
            f"<tr><td><b>Variables</b></td><td>{variables.count:,}, "
            f"{human_bytes(variables.nbytes)}</td></tr>",
            f"<tr><td><b>Training-only</b></td><td>{share:.0%} "
            f"({human_bytes(variables.training_bytes)})</td></tr>",
            "</table>",
        ]
        for title, items in (("Suggested inputs", loaded.suggestions.inputs),
                             ("Suggested outputs", loaded.suggestions.outputs)):
            html.append(f"<h4>{title}</h4><ul>")
            for s in items:
                optional = " (optional)" if s.optional else ""
                html.append(f"<li>{self.link(s.tensor)} — {escape(s.dtype)} {escape(s.shape)}"
                            f"{optional}<br/><small>{escape(s.reason)}</small></li>")
            html.append("</ul>" if items else "<li><i>none found</i></li></ul>")
        self.setHtml("".join(html))
