"""The details panel: everything about the selected op, with its neighbours as links."""

from __future__ import annotations

from html import escape

from PySide6.QtWidgets import QWidget

from app.core.graph.opgraph import Op
from app.core.loader import LoadedCheckpoint
from app.ui.browse.link_browser import LinkBrowser


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


class DetailsPanel(LinkBrowser):
    """Op type, device, attributes, inputs, consumers, outputs and the variable's bytes."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("details")
        self.loaded: LoadedCheckpoint | None = None
        self._variables: dict = {}
        self.show_op(None)

    def set_checkpoint(self, loaded: LoadedCheckpoint | None) -> None:
        self.loaded = loaded
        self._variables = loaded.variables.by_name() if loaded is not None else {}
        self.show_op(None)

    def show_op(self, name: str | None) -> None:
        self.begin()
        op = self.loaded.graph.ops.get(name) if self.loaded is not None and name else None
        if op is None:
            self.setHtml("<p><i>Select an op in the tree to see its details.</i></p>")
            return
        self.setHtml(self._html(op))

    def _html(self, op: Op) -> str:
        rows = [f"<h3>{escape(op.name)}</h3>", "<table cellspacing='4'>",
                f"<tr><td><b>Type</b></td><td>{escape(op.type)}</td></tr>",
                f"<tr><td><b>Device</b></td><td>{escape(op.device) or '<i>any</i>'}</td></tr>"]
        variable = self._variables.get(op.name)
        if variable is not None:
            shape = "[" + ", ".join(map(str, variable.shape)) + "]"
            rows.append(f"<tr><td><b>Variable</b></td><td>{escape(variable.dtype)} {shape}, "
                        f"{human_bytes(variable.nbytes)} ({variable.role})</td></tr>")
        rows.append("</table>")
        rows.append("<h4>Outputs</h4><ul>")
        rows += [f"<li>{escape(t.name)} — {escape(t.dtype)} {escape(t.shape_text)}</li>"
                 for t in op.outputs] or ["<li><i>none</i></li>"]
        rows.append("</ul>")
        rows.append(self._links("Inputs", op.inputs + [f"^{c}" for c in op.control_inputs]))
        rows.append(self._links("Consumers",
                                op.consumers + [f"^{c}" for c in op.control_consumers]))
        attrs = op.attrs()
        if attrs:
            rows.append("<h4>Attributes</h4><table cellspacing='4'>")
            rows += [f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>"
                     for k, v in attrs.items()]
            rows.append("</table>")
        return "".join(rows)

    def _links(self, title: str, names: list[str]) -> str:
        """A list of links; ``^name`` marks a control dependency."""
        items = []
        for name in dict.fromkeys(names):
            control = name.startswith("^")
            target = name[1:] if control else name
            label = f"{target} (control)" if control else target
            items.append(f"<li>{self.link(target, label)}</li>")
        return f"<h4>{title}</h4><ul>{''.join(items) or '<li><i>none</i></li>'}</ul>"
