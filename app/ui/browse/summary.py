"""The checkpoint summary: steps, size, training-only share and what to serve.

What to serve is Signet's proposal (app.core.proposal), the same one the Signature
dock starts with: each slot by key with its tensor as a link and its why, the
training switches the export binds, the labels and the notes; a SavedModel shows its
own signatures instead.
"""

from __future__ import annotations

import json
from html import escape

from PySide6.QtWidgets import QWidget

from app.core.disk.saved_model_source import is_saved_model, signatures_json, version_folder
from app.core.loader import LoadedCheckpoint
from app.core.proposal import Proposal
from app.ui.browse.details import human_bytes
from app.ui.browse.link_browser import LinkBrowser
from app.ui.common.paths import abbreviate_home


class SummaryPanel(LinkBrowser):
    """Facts about the open checkpoint; each proposed tensor is a link into the tree."""

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
        version = version_folder(ckpt)
        if version is not None:  # a SavedModel: its model and version, no steps
            html = [
                f"<h3>{escape(version.parent.name)}, version {escape(version.name)} "
                "(SavedModel)</h3><table cellspacing='4'>",
                f"<tr><td><b>Folder</b></td><td>{escape(abbreviate_home(str(version)))}"
                "</td></tr>",
            ]
        else:
            html = [
                f"<h3>{escape(ckpt.name)}</h3><table cellspacing='4'>",
                f"<tr><td><b>Folder</b></td><td>{escape(abbreviate_home(str(ckpt.directory)))}"
                "</td></tr>",
                f"<tr><td><b>Step</b></td><td>{ckpt.step if ckpt.step is not None else '—'}"
                "</td></tr>",
                f"<tr><td><b>Steps here</b></td><td>{escape(steps)}</td></tr>",
            ]
        html.append(f"<tr><td><b>Ops</b></td><td>{len(loaded.graph):,}</td></tr>")
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
        if is_saved_model(loaded):
            html += self._own_signatures(loaded)
        else:
            html += self._proposal(loaded.proposal)
        self.setHtml("".join(html))

    def _proposal(self, proposal: Proposal) -> list[str]:
        html = ["<h4>Proposed signature</h4>"]
        if proposal.empty:
            html.append("<p><i>Signet found no prediction to serve: drag tensors into "
                        "Outputs.</i></p>")
        for title, slots in (("Inputs", proposal.inputs), ("Outputs", proposal.outputs)):
            if slots:
                html.append(f"<b>{title}</b><ul>")
                html += [f"<li><b>{escape(s.key)}</b> = {self.link(s.tensor)} — "
                         f"{escape(s.dtype)} {escape(s.shape)}<br/><small>{escape(s.why)}"
                         "</small></li>" for s in slots]
                html.append("</ul>")
        if proposal.bind:
            html.append("<b>Bound for serving</b> (training switches, never inputs)<ul>")
            html += [f"<li>{self.link(tensor)} = {escape(json.dumps(value))}<br/><small>"
                     f"{escape(proposal.bind_why.get(tensor, ''))}</small></li>"
                     for tensor, value in proposal.bind.items()]
            html.append("</ul>")
        if proposal.labels:
            links = ", ".join(self.link(t) for t in proposal.labels)
            html.append(f"<p><b>Labels</b> (what the loss compares with; serving clients "
                        f"don't have them): {links}</p>")
        html += [f"<p><b>Note:</b> {escape(n.text)}</p>" for n in proposal.notes]
        return html

    def _own_signatures(self, loaded: LoadedCheckpoint) -> list[str]:
        html = ["<h4>Signatures</h4>"]
        signatures = signatures_json(loaded.graph.meta_graph)
        for key, sig in signatures.items():
            html.append(f"<b>{escape(key)}</b> ({escape(sig['method'].rsplit('/', 1)[-1])})<ul>")
            for side in ("inputs", "outputs"):
                html += [f"<li>{side[:-1]} <b>{escape(name)}</b> = {self.link(info['tensor'])}"
                         f" — {escape(info['dtype'])} {escape(info['shape'])}</li>"
                         for name, info in sig[side].items()]
            html.append("</ul>")
        if not signatures:
            html.append("<p><i>none</i></p>")
        return html
