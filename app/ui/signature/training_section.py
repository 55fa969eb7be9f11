"""The Signature dock's "Training → serving" section: the inference rewrites, switchable.

One row per rewrite (its switch), under it one row per site the rewrite found (the
site's own switch; a blocked site shows why and a "Keep as is" box), under each site
its ops: activating one selects it in the tree and the graph through the window's
``select_op``. Every switch is an undoable `SetRewriteSwitches` on the document's
stack, so it lands in the draft, the autosave and presets. Findings come from the
rewrites' finders (plain Python over the `OpGraph`, no TensorFlow), recomputed after
each edit; ``marksChanged`` hands the graph the ops the export will rewrite.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QHeaderView,
    QLabel,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
)

from app.core import rewrite
from app.core.rewrite import Finding
from app.ui.signature.commands import Swap

OPS_SHOWN = 40  # ops listed under one site; the rest are summarised in one row
_KIND = Qt.ItemDataRole.UserRole  # "rewrite" | "site" | "op"
_NAME = Qt.ItemDataRole.UserRole + 1  # rewrite id, site id or op name
_CHECK = {True: Qt.CheckState.Checked, False: Qt.CheckState.Unchecked}


class SetRewriteSwitches(Swap):
    """Swap the draft's rewrite switches and kept sites for new ones."""

    def __init__(self, doc, rewrites: dict[str, bool], kept: list[str], text: str) -> None:
        super().__init__(text, lambda switches: doc.set_rewrite_switches(*switches),
                         (dict(doc.draft.rewrites), list(doc.draft.kept)),
                         (dict(rewrites), list(kept)))


class TrainingSection(QGroupBox):
    opActivated = Signal(str)  # an op row was activated: select it in the tree and graph
    marksChanged = Signal(object)  # set[str]: ops the export rewrites (for the graph)

    def __init__(self, doc, parent=None) -> None:
        super().__init__("Training → serving", parent)
        self.setObjectName("trainingSection")
        self.doc = doc
        self.findings: list[Finding] = []
        self.tree = QTreeWidget()
        self.tree.setObjectName("trainingRewrites")
        self.tree.setColumnCount(2)
        self.tree.setHeaderLabels(["Rewrite", "State"])
        self.tree.setUniformRowHeights(True)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.itemChanged.connect(self._item_changed)
        self.tree.currentItemChanged.connect(self._show_summary)
        self.summary = QLabel(wordWrap=True)
        self.summary.setObjectName("trainingSummary")
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.tree.itemActivated.connect(self._activated)
        self.tree.itemDoubleClicked.connect(self._activated)
        self.empty = QLabel("Nothing to rewrite: the graph serves as it is.")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.tree)
        layout.addWidget(self.summary)
        layout.addWidget(self.empty)
        self._ids: list[str] = []
        self._marks: set[str] = set()
        doc.changed.connect(self.refresh)
        self.refresh()

    # Reading the document -------------------------------------------------------------

    def refresh(self) -> None:
        graph = self.doc.graph
        self.findings = rewrite.find_all(graph, self.doc.draft) if graph is not None else []
        ids = [f.id for f in self.findings]
        blocked = self.tree.blockSignals(True)
        try:
            if ids != self._ids:
                self._rebuild()
                self._ids = ids
            self._update_states()
        finally:
            self.tree.blockSignals(blocked)
        self.tree.setVisible(bool(self.findings))
        self._show_summary(self.tree.currentItem())
        self.empty.setVisible(graph is not None and not self.findings)
        self.setVisible(graph is not None)
        marks = rewrite.bypassed_ops(rewrite.active(self.findings, self.doc.draft))
        if marks != self._marks:
            self._marks = marks
            self.marksChanged.emit(set(marks))

    def _rebuild(self) -> None:
        self.tree.clear()
        for rw in rewrite.registry():
            mine = [f for f in self.findings if f.rewrite == rw.id]
            if not mine:
                continue
            top = QTreeWidgetItem([rw.title, ""])
            top.setData(0, _KIND, "rewrite")
            top.setData(0, _NAME, rw.id)
            top.setFlags(top.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            self.tree.addTopLevelItem(top)
            for f in mine:
                site = QTreeWidgetItem([f.key, ""])
                site.setData(0, _KIND, "site")
                site.setData(0, _NAME, f.id)
                site.setToolTip(0, f"{f.id}\n{f.summary}")
                site.setFlags(site.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                top.addChild(site)
                for op in f.ops[:OPS_SHOWN]:
                    row = QTreeWidgetItem([op, ""])
                    row.setData(0, _KIND, "op")
                    row.setData(0, _NAME, op)
                    row.setToolTip(0, f"{op}: double-click to select it in the tree and graph")
                    site.addChild(row)
                if len(f.ops) > OPS_SHOWN:
                    site.addChild(QTreeWidgetItem([f"… {len(f.ops) - OPS_SHOWN} more ops", ""]))
            top.setExpanded(True)
        self.tree.resizeColumnToContents(1)

    def _update_states(self) -> None:
        draft = self.doc.draft
        by_id = {f.id: f for f in self.findings}
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            rw = rewrite.by_id(top.data(0, _NAME))
            default = rw.default_on if rw is not None else True
            top.setCheckState(0, _CHECK[bool(draft.rewrites.get(top.data(0, _NAME), default))])
            for j in range(top.childCount()):
                site = top.child(j)
                f = by_id[site.data(0, _NAME)]
                site.setCheckState(0, _CHECK[rewrite.is_on(f, draft)])
                if f.blocked is not None:
                    site.setText(1, "Keep as is")
                    site.setCheckState(1, _CHECK[rewrite.is_kept(f, draft)])
                    site.setToolTip(1, f"Cannot be rewritten: {f.blocked}. Check to export "
                                       "this site as it is, on purpose.")
                    site.setForeground(0, Qt.GlobalColor.darkRed)
                elif f.warning:
                    site.setText(1, "warning")
                    site.setToolTip(1, f.warning)

    def _show_summary(self, item: QTreeWidgetItem | None, _previous=None) -> None:
        """The current site's summary (and why it is blocked) under the list."""
        while item is not None and item.data(0, _KIND) == "op":
            item = item.parent()
        site_id = item.data(0, _NAME) if item is not None else None
        f = next((f for f in self.findings if f.id == site_id), None)
        text = ""
        if f is not None:
            text = f.summary
            if f.blocked:
                text += f"\nCannot be rewritten: {f.blocked}"
            elif f.warning:
                text += f"\nWarning: {f.warning}"
        elif self.findings:
            text = "Select a site to see what serving does instead; uncheck to leave it as " \
                   "trained."
        self.summary.setText(text)
        self.summary.setVisible(bool(text))

    # Edits ------------------------------------------------------------------------------

    def _item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        kind, name = item.data(0, _KIND), item.data(0, _NAME)
        checked = item.checkState(column) == Qt.CheckState.Checked
        if kind == "rewrite" and column == 0:
            self.switch_rewrite(name, checked)
        elif kind == "site" and column == 0:
            self.switch_site(name, checked)
        elif kind == "site" and column == 1:
            self.keep_site(name, checked)

    def _activated(self, item: QTreeWidgetItem, column: int = 0) -> None:
        if item.data(0, _KIND) == "op":
            self.opActivated.emit(item.data(0, _NAME))

    def switch_rewrite(self, rewrite_id: str, on: bool) -> None:
        """One undoable edit: the rewrite on or off (its sites' own switches cleared)."""
        rewrites = {k: v for k, v in self.doc.draft.rewrites.items()
                    if k.partition(":")[0] != rewrite_id}
        rw = rewrite.by_id(rewrite_id)
        if rw is None or on != rw.default_on:
            rewrites[rewrite_id] = on
        title = rw.title if rw is not None else rewrite_id
        self.doc.push(SetRewriteSwitches(self.doc, rewrites, self.doc.draft.kept,
                                         f"{'Switch on' if on else 'Switch off'} {title}"))

    def switch_site(self, site_id: str, on: bool) -> None:
        """One undoable edit: one site on or off."""
        rewrites = dict(self.doc.draft.rewrites)
        rewrites.pop(site_id, None)
        f = next(f for f in self.findings if f.id == site_id)
        probe = self.doc.draft.copy()
        probe.rewrites = rewrites
        if rewrite.is_on(f, probe) != on:
            rewrites[site_id] = on
        self.doc.push(SetRewriteSwitches(self.doc, rewrites, self.doc.draft.kept,
                                         f"{'Rewrite' if on else 'Leave'} {site_id}"))

    def keep_site(self, site_id: str, keep: bool) -> None:
        """One undoable edit: a blocked site kept as it is (or not any more)."""
        kept = [k for k in self.doc.draft.kept if k != site_id] + ([site_id] if keep else [])
        self.doc.push(SetRewriteSwitches(self.doc, self.doc.draft.rewrites, kept,
                                         f"{'Keep' if keep else 'Stop keeping'} {site_id}"))
