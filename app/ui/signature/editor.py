"""The signature editor dock: drag tensors into named input and output slots, then export.

`SignatureEditor` shows the draft's signatures (add, rename in place, remove,
method), the Inputs and Outputs of the selected one as `SlotView` tables that
accept tensor drops from the op tree and graph view, the placeholders still
unfed (one click to add as input or bind to a constant), and live validation.
All edits go through the document's `QUndoStack` (app.ui.signature.model); the
draft is autosaved per checkpoint (app.ui.signature.autosave). A checkpoint with no
saved draft starts with Signet's proposal (app.core.proposal) as one undoable step.

`install_signature_editor(window)` puts it into the main window with the Edit
menu (undo, redo, history), the preset actions, the Presets menu and Export….
The Export dialog belongs to the export room: the editor asks its `ExportHost`
(the window) for one, so it never imports the export room's internals.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from PySide6.QtCore import QEvent, QModelIndex, QObject, QPoint, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QDrag,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeyEvent,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDockWidget,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QListView,
    QMenu,
    QSplitter,
    QToolButton,
    QTreeView,
    QUndoView,
    QVBoxLayout,
    QWidget,
)

from app.core.disk.saved_model_source import draft_from_signatures
from app.core.errors import PresetError
from app.core.proposal import Proposal
from app.core.signature.draft import METHODS, Draft, Level, Signature, record_facts, tensor_name
from app.core.validation.draft import bound_value_problem, unfed_placeholders
from app.ui.common.mime import TENSOR_MIME
from app.ui.common.settings import AppSettings
from app.ui.signature import commands as cmd
from app.ui.signature.autosave import Autosave
from app.ui.signature.model import (
    KEY,
    SIDES,
    SLOT_MIME,
    DraftDocument,
    SlotModel,
    normalize_side,
    unique_signature_key,
)
from app.ui.signature.presets_menu import PresetsMenu
from app.ui.signature.training_section import TrainingSection

EXPORT_SHORTCUT = "Ctrl+E"
USE_SUGGESTIONS_TIP = ("Fill this empty signature with Signet's proposal: the inputs "
                       "(input-pipeline tensors included) and outputs to serve, named as "
                       "the proposal names them; one undoable step")
_EDGE = 0.25  # the top/bottom quarter of a row inserts before/after it; the middle replaces


class SlotView(QTreeView):
    """The Inputs or Outputs table: accepts tensor drops (add or replace) and slot moves.

    Drops are checked with the core while dragging; a refused drop emits
    ``refused(reason)`` (the editor shows it in the status bar).
    """

    refused = Signal(str)

    def __init__(self, model: SlotModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(f"{model.side}View")
        self.setModel(model)
        self.setRootIsDecorated(False)
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                             | QAbstractItemView.EditTrigger.EditKeyPressed
                             | QAbstractItemView.EditTrigger.SelectedClicked)
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.setDropIndicatorShown(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.header().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for changed in (model.rowsInserted, model.modelReset, model.dataChanged):
            changed.connect(self._fit_keys)
        self.setStyleSheet('SlotView[dropTarget="true"] { border: 2px solid palette(highlight);'
                           ' background: palette(alternate-base); }')
        self._refusal: str | None = None

    def slot_model(self) -> SlotModel:
        return self.model()  # type: ignore[return-value]

    def _fit_keys(self, *_args: object) -> None:
        """Slot keys are never cut off (the dock is narrow)."""
        self.resizeColumnToContents(KEY)

    # Drop target ------------------------------------------------------------------------

    def drop_target(self, pos: QPoint, data) -> tuple[int, QModelIndex]:
        """(row, parent) for a drop at ``pos``: the middle of a row means onto it."""
        index = self.indexAt(pos)
        if not index.isValid():
            return -1, QModelIndex()
        rect = self.visualRect(index)
        edge = rect.height() * _EDGE
        if pos.y() < rect.top() + edge:
            return index.row(), QModelIndex()
        if pos.y() > rect.bottom() - edge:
            return index.row() + 1, QModelIndex()
        if data.hasFormat(SLOT_MIME):
            return index.row(), QModelIndex()
        return -1, index.siblingAtColumn(KEY)

    def _set_highlight(self, on: bool) -> None:
        if bool(self.property("dropTarget")) != on:
            self.setProperty("dropTarget", on)
            self.style().unpolish(self)
            self.style().polish(self)
            self.viewport().update()

    def _check(self, event: QDragEnterEvent | QDragMoveEvent | QDropEvent) -> bool:
        data = event.mimeData()
        if not (data.hasFormat(TENSOR_MIME) or data.hasFormat(SLOT_MIME)):
            event.ignore()
            return False
        reason = self.slot_model().drop_refusal(data)
        if reason is not None:
            event.ignore()
            self._set_highlight(False)
            if reason != self._refusal:
                self._refusal = reason
                self.refused.emit(reason)
            return False
        self._refusal = None
        self._set_highlight(True)
        return True

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        self._refusal = None
        if self._check(event):
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if self._check(event):
            super().dragMoveEvent(event)  # the drop indicator under the cursor
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self._set_highlight(False)
        super().dragLeaveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        accepted = self._check(event)
        self._set_highlight(False)
        if not accepted:
            return
        data = event.mimeData()
        row, parent = self.drop_target(event.position().toPoint(), data)
        model = self.slot_model()
        if model.dropMimeData(data, Qt.DropAction.CopyAction, row, 0, parent):
            # Copy, never Move: the source view must not remove anything; a slot move
            # is one undoable command done here.
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
        else:
            event.ignore()
            if model.last_refusal:
                self.refused.emit(model.last_refusal)
        self.stopAutoScroll()
        self.setState(QAbstractItemView.State.NoState)
        self.viewport().update()

    def startDrag(self, supported: Qt.DropAction) -> None:
        indexes = [i for i in self.selectedIndexes() if i.column() == KEY]
        if not indexes:
            return
        drag = QDrag(self)
        drag.setMimeData(self.slot_model().mimeData(indexes))
        drag.exec(Qt.DropAction.MoveAction | Qt.DropAction.CopyAction, Qt.DropAction.MoveAction)

    # Keyboard ---------------------------------------------------------------------------

    def selected_rows(self) -> list[int]:
        return sorted({i.row() for i in self.selectionModel().selectedRows()})

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if (event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace)
                and self.state() != QAbstractItemView.State.EditingState):
            model = self.slot_model()
            model.doc.remove_rows(model.side, self.selected_rows())
            event.accept()
            return
        super().keyPressEvent(event)


def ask_constant(parent: QWidget, tensor: str, proposed: str) -> str | None:
    """Ask for a constant (JSON) to bind ``tensor`` to; None when cancelled."""
    text, ok = QInputDialog.getText(parent, "Bind to a constant",
                                    f"Value for {tensor} (JSON, e.g. 1.0, [0, 1], \"text\"):",
                                    text=proposed)
    return text if ok else None


def proposed_constant(tensor) -> object:
    """A value that fits ``tensor`` (zeros of its shape; unknown dimensions as 1)."""
    fill: object = "" if tensor.dtype == "string" else False if tensor.dtype == "bool" else \
        0.0 if "float" in tensor.dtype else 0
    for dim in reversed(tensor.shape or []):
        fill = [fill] * (dim if dim is not None else 1)
    return fill


def _is_empty(draft: Draft | None) -> bool:
    return draft is None or not any(s.inputs or s.outputs for s in draft.signatures)


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _no_proposal(proposal: Proposal) -> str:
    """Why the signature starts empty, in one line."""
    if proposal.notes:
        return "Signet proposes no signature: " + "; ".join(n.text for n in proposal.notes)
    return "Signet found no prediction to serve: drag tensors into Outputs"


class ExportHost(Protocol):
    """What the editor needs of the window to export: the shell makes the Export dialog
    (app.ui.export.dialog) and asks the user, so the signature room never imports it."""

    def new_export_dialog(self, loaded: Any, draft: Draft) -> Any:
        """A new Export dialog for ``draft`` of ``loaded`` (not yet shown)."""
        ...

    def ask_cancel_export(self) -> bool:
        """Whether to cancel the running export and close the window."""
        ...


class SignatureEditor(QWidget):
    """The dock's contents; see the module docstring."""

    statusMessage = Signal(str)  # a refusal or result for the status bar
    exportDialogOpened = Signal(object)  # a new Export dialog (the window forwards it)
    presetSaved = Signal(str)  # the path written

    def __init__(self, host: ExportHost, settings: AppSettings | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("signatureEditor")
        self.host = host
        self.settings = settings or AppSettings()
        self.doc = DraftDocument(self)
        self.autosave = Autosave(self.settings)
        self.presets = PresetsMenu(self.settings, self)
        self.presets.saveRequested.connect(self.save_preset)
        self.presets.loadRequested.connect(self.load_preset)
        self.export_dialog: Any = None  # the last Export dialog (app.ui.export.dialog)
        self.history_view: QUndoView | None = None  # set by install_signature_editor
        self.last_status = ""
        self._slot_warnings: tuple[Any, set[str]] = (None, set())  # (model, warnings)
        self.export_action = QAction("&Export…", self, shortcut=QKeySequence(EXPORT_SHORTCUT),
                                     triggered=self.open_export_dialog)
        self.export_action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        self._build()
        self.doc.changed.connect(self._refresh)
        self.doc.currentChanged.connect(self._show_current)
        self._refresh()

    # Construction -------------------------------------------------------------------------

    def _build(self) -> None:
        self.signature_view = QListView()
        self.signature_view.setObjectName("signatureList")
        self.signature_view.setModel(self.doc.signatures)
        self.signature_view.setMaximumHeight(72)
        self.signature_view.setToolTip("Signatures: double-click to rename")
        self.signature_view.selectionModel().currentChanged.connect(
            lambda current, _: current.isValid() and self.doc.show_signature(current.row()))
        add = QToolButton(text="+", toolTip="Add a signature", clicked=self.add_signature)
        remove = QToolButton(text="−", toolTip="Remove this signature",
                             clicked=self.remove_signature)
        self.method = QComboBox()
        self.method.setObjectName("methodCombo")
        self.method.addItems(list(METHODS))
        self.method.setToolTip("The signature's method (TensorFlow Serving API)")
        self.method.activated.connect(lambda i: self.set_method(METHODS[i]))
        self.suggest_button = QToolButton(text="Use suggestions",
                                          clicked=self.use_suggestions)
        sig_buttons = QVBoxLayout()
        for w in (add, remove):
            sig_buttons.addWidget(w)
        sig_buttons.addStretch()
        sig_row = QHBoxLayout()
        sig_row.addWidget(self.signature_view, 1)
        sig_row.addLayout(sig_buttons)
        method_row = QHBoxLayout()
        method_row.addWidget(QLabel("Method:"))
        method_row.addWidget(self.method, 1)
        method_row.addWidget(self.suggest_button)

        self.views = {side: SlotView(self.doc.models[side]) for side in SIDES}
        lists = QSplitter(Qt.Orientation.Vertical)
        for side, view in self.views.items():
            view.refused.connect(self.show_status)
            view.customContextMenuRequested.connect(
                lambda pos, s=side: self._slot_menu(s, pos))
            box = QGroupBox("Inputs" if side == "inputs" else "Outputs")
            box.setToolTip("Drag tensors or ops here from the op tree or the graph view")
            layout = QVBoxLayout(box)
            layout.setContentsMargins(2, 2, 2, 2)
            layout.addWidget(view)
            lists.addWidget(box)

        self.problems = QLabel(wordWrap=True)
        self.problems.setObjectName("signatureProblems")
        self.problems.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.unfed_box = QGroupBox("Placeholders no input feeds")
        self.unfed_box.setObjectName("unfedPlaceholders")
        self.unfed_layout = QVBoxLayout(self.unfed_box)
        self.unfed_layout.setContentsMargins(4, 4, 4, 4)
        self.unfed_rows: dict[str, QWidget] = {}

        self.export_button = QToolButton()
        self.export_button.setDefaultAction(self.export_action)
        self.export_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        bottom = QHBoxLayout()
        bottom.addStretch()
        bottom.addWidget(self.export_button)

        layout = QVBoxLayout(self)
        layout.addLayout(sig_row)
        layout.addLayout(method_row)
        layout.addWidget(lists, 1)
        layout.addWidget(self.problems)
        layout.addWidget(self.unfed_box)
        self.training = TrainingSection(self.doc)
        layout.addWidget(self.training)
        layout.addLayout(bottom)

    def _slot_menu(self, side: str, pos: QPoint) -> None:
        view = self.views[side]
        index = view.indexAt(pos)
        if not index.isValid():
            return
        other = "outputs" if side == "inputs" else "inputs"
        menu = QMenu(self)
        menu.addAction("Rename", lambda: view.edit(index.siblingAtColumn(KEY)))
        menu.addAction(f"Move to {other.capitalize()}",
                       lambda: self.doc.move(side, index.row(), other, -1))
        menu.addAction("Remove", lambda: self.doc.remove_rows(side, view.selected_rows()
                                                              or [index.row()]))
        menu.popup(view.viewport().mapToGlobal(pos))

    # Checkpoint ---------------------------------------------------------------------------

    def set_checkpoint(self, loaded) -> None:
        """Edit the draft of ``loaded``: the autosaved one; for a SavedModel its own
        signatures; else Signet's proposal, as one undoable step (Ctrl+Z starts empty)."""
        restored = self.autosave.attach(loaded.checkpoint)
        draft = restored
        if _is_empty(draft):  # a SavedModel: edit its own signatures
            draft = draft_from_signatures(loaded) or draft
        self.doc.open(loaded, draft)
        self.setEnabled(True)
        name = loaded.checkpoint.name
        if not _is_empty(restored):  # only what was saved before, never the proposal
            self.show_status(f"Restored the signature draft of {name}")
        elif not _is_empty(draft):
            keys = ", ".join(s.key for s in draft.signatures)
            self.show_status("The signature starts with the SavedModel's own signatures: its "
                             f"saved {keys} became the draft")
        elif loaded.proposal.empty:
            self.show_status(_no_proposal(loaded.proposal))
        else:
            self._start_with_proposal(loaded.proposal, name)

    def _start_with_proposal(self, proposal: Proposal, name: str) -> None:
        filled = self.doc.draft.copy()  # the options of an emptied draft kept
        filled.signatures = proposal.draft().signatures
        self.doc.push(cmd.ReplaceDraft(self.doc, filled, "Use Signet's proposal"))
        self.show_status(f"The signature starts with Signet's proposal for {name}: "
                         f"{_count(len(proposal.inputs), 'input')}, "
                         f"{_count(len(proposal.outputs), 'output')} (Ctrl+Z to start empty)")

    def clear(self) -> None:
        self.autosave.detach()
        self.doc.close()

    # Edits --------------------------------------------------------------------------------

    def show_status(self, text: str) -> None:
        self.last_status = text
        self.statusMessage.emit(text)

    def add_tensor(self, tensor: str, side: str) -> bool:
        """Add ``tensor`` (or an op's first output) to ``side`` ("input(s)"/"output(s)")."""
        side = normalize_side(side)
        reason = self.doc.drop_refusal([tensor], side)
        if reason is not None:
            self.show_status(reason)
            return False
        return self.doc.add_tensors([tensor], side)

    def add_signature(self) -> None:
        index = len(self.doc.draft.signatures)
        self.doc.push(cmd.AddSignature(self.doc, index,
                                       Signature(key=unique_signature_key(self.doc.draft))))

    def remove_signature(self) -> None:
        if self.doc.current_signature() is not None:
            self.doc.push(cmd.RemoveSignature(self.doc, self.doc.current))

    def set_method(self, method: str) -> None:
        sig = self.doc.current_signature()
        if sig is not None and sig.method != method:
            self.doc.push(cmd.SetMethod(self.doc, self.doc.current, method))

    def use_suggestions(self) -> None:
        """Fill the current (empty) signature with Signet's whole proposal, inputs
        included, keyed as the proposal keys them: one undoable step."""
        sig = self.doc.current_signature()
        if self.doc.loaded is None or sig is None:
            return
        if sig.inputs or sig.outputs:
            self.show_status("Use suggestions fills an empty signature; add a new one first")
            return
        proposal = self.doc.loaded.proposal
        if proposal.empty:
            self.show_status(_no_proposal(proposal))
            return
        self.doc.push(cmd.UseProposal(self.doc, self.doc.current,
                                      proposal.draft().signatures[0]))

    def add_placeholder_as_input(self, tensor: str) -> bool:
        return self.add_tensor(tensor, "inputs")

    def bind_placeholder(self, tensor: str, value: object) -> bool:
        """Bind a placeholder to a constant (refused with a reason when it does not fit)."""
        found = self.doc.graph.tensor(tensor_name(tensor)) if self.doc.graph else None
        if found is None:
            self.show_status(f"No tensor {tensor} in this graph")
            return False
        reason = bound_value_problem(value, found.dtype, found.shape)
        if reason:
            self.show_status(f"Cannot bind {found.name}: {reason}")
            return False
        self.doc.push(cmd.SetBinding(self.doc, found.name, value))
        return True

    def _ask_bind(self, tensor: str) -> None:
        found = self.doc.graph.tensor(tensor) if self.doc.graph else None
        if found is None:
            return
        text = ask_constant(self, tensor, json.dumps(proposed_constant(found)))
        if text is None:
            return
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            self.show_status(f"Cannot bind {tensor}: {text!r} is not a JSON value")
            return
        self.bind_placeholder(tensor, value)

    # Presets ------------------------------------------------------------------------------

    def save_preset(self, path) -> bool:
        draft = self.doc.draft.copy()
        if self.doc.graph is not None:
            record_facts(draft, self.doc.graph)
        from app.core.signature.preset import save_preset

        try:
            written = save_preset(draft, path)
        except PresetError as exc:
            self.show_status(str(exc))
            return False
        self.presets.recent.add(written)
        self.presets.refresh()
        self.show_status(f"Saved the signature preset {written}")
        self.presetSaved.emit(str(written))
        return True

    def load_preset(self, path) -> bool:
        """Load a preset as one undoable edit; slots whose tensors are gone stay, as errors."""
        from app.core.signature.preset import load_preset

        try:
            draft = load_preset(path)
        except PresetError as exc:
            self.show_status(str(exc))
            return False
        self.doc.push(cmd.ReplaceDraft(self.doc, draft, f"Load preset {path}"))
        self.presets.recent.add(path)
        self.presets.refresh()
        errors = [p for p in self.doc.problems if p.level is Level.ERROR]
        self.show_status(f"Loaded {path}" + (f"; {len(errors)} problem(s) to fix: {errors[0]}"
                                             if errors else ""))
        return True

    # Export -------------------------------------------------------------------------------

    def open_export_dialog(self) -> Any:
        """The Export dialog (the running one if an export is under way)."""
        if self.export_dialog is not None and self.export_dialog.running():
            self.export_dialog.raise_()
            return self.export_dialog
        reason = self.doc.export_blocker()
        if reason is not None:
            self.show_status(reason)
            return None
        if self.export_dialog is not None:
            self.export_dialog.deleteLater()
        dialog = self.host.new_export_dialog(self.doc.loaded, self.doc.draft)
        dialog.exportSucceeded.connect(lambda result: self._exported(dialog))
        self.export_dialog = dialog
        self.exportDialogOpened.emit(dialog)
        dialog.show()
        return dialog

    def _exported(self, dialog: Any) -> None:
        """Remember where the user exports (stored with the draft, not an undo step)."""
        chosen = dialog.draft.options
        opts = self.doc.draft.options
        opts.base, opts.name = chosen.base, chosen.name
        opts.strip_training, opts.verify = chosen.strip_training, chosen.verify
        self.autosave.save(self.doc.draft)
        self.show_status(f"Published {dialog.result.path}")

    def export_running(self) -> bool:
        return self.export_dialog is not None and self.export_dialog.running()

    def shutdown(self) -> None:
        """Cancel a running export and wait for its thread."""
        if self.export_dialog is not None:
            self.export_dialog.shutdown()

    # Refresh after every change -----------------------------------------------------------

    def _show_current(self, index: int) -> None:
        row = self.doc.signatures.index(index, 0)
        if row.isValid() and self.signature_view.currentIndex() != row:
            self.signature_view.setCurrentIndex(row)

    def _say_new_slot_warnings(self) -> None:
        """A warning a slot got by the last edit (a label dropped into Inputs: the
        proposal's label check) is said in the status bar too, not only on its row's icon
        and tooltip; those of a checkpoint just opened are not news."""
        warned = {str(p) for p in self.doc.problems
                  if p.level is Level.WARNING and p.slot is not None}
        loaded, before = self._slot_warnings
        self._slot_warnings = (self.doc.loaded, warned)
        new = sorted(warned - before)
        if new and loaded is self.doc.loaded:
            self.show_status(f"warning: {new[0]}")

    def _refresh(self) -> None:
        doc = self.doc
        has_graph = doc.loaded is not None
        sig = doc.current_signature()
        self.setEnabled(has_graph)
        if sig is not None:
            self.method.setCurrentIndex(METHODS.index(sig.method) if sig.method in METHODS
                                        else -1)
        proposal = doc.loaded.proposal if has_graph else None
        self.suggest_button.setEnabled(sig is not None and not sig.inputs and not sig.outputs
                                       and proposal is not None and not proposal.empty)
        self.suggest_button.setToolTip(_no_proposal(proposal) if proposal is not None
                                       and proposal.empty else USE_SUGGESTIONS_TIP)
        self._show_current(doc.current)
        lines = [f"{p.level.value}: {p.message}" for p in doc.signature_problems(doc.current)]
        self.problems.setText("\n".join(lines))
        self.problems.setVisible(bool(lines))
        self._say_new_slot_warnings()
        self._refresh_unfed()
        reason = doc.export_blocker()
        self.export_action.setEnabled(reason is None)
        self.export_action.setToolTip(reason or "Export a SavedModel (Ctrl+E)")
        if has_graph:
            self.autosave.save(doc.draft)

    def unfed(self) -> list[str]:
        sig = self.doc.current_signature()
        if sig is None or self.doc.graph is None:
            return []
        return unfed_placeholders(self.doc.draft, sig, self.doc.graph)

    def _refresh_unfed(self) -> None:
        names = self.unfed()
        if names == list(self.unfed_rows):
            self.unfed_box.setVisible(bool(names))
            return
        for row in self.unfed_rows.values():
            row.deleteLater()
        self.unfed_rows = {}
        for name in names:
            row = QWidget()
            layout = QHBoxLayout(row)
            layout.setContentsMargins(0, 0, 0, 0)
            label = QLabel(name)
            layout.addWidget(label, 1)
            add = QToolButton(text="Add as input", objectName="addAsInput")
            add.clicked.connect(lambda _=False, n=name: self.add_placeholder_as_input(n))
            bind = QToolButton(text="Bind to constant…", objectName="bindToConstant")
            bind.clicked.connect(lambda _=False, n=name: self._ask_bind(n))
            layout.addWidget(add)
            layout.addWidget(bind)
            self.unfed_layout.addWidget(row)
            self.unfed_rows[name] = row
        self.unfed_box.setVisible(bool(names))


class _CloseGuard(QObject):
    """Asks before the window closes during an export, then cancels it and waits."""

    def __init__(self, editor: SignatureEditor, window: QWidget) -> None:
        super().__init__(window)
        self.editor = editor

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        dialog = self.editor.export_dialog
        if event.type() == QEvent.Type.Close and self.editor.export_running():
            with dialog.held():  # the export waits at its next stage meanwhile
                cancel = self.editor.host.ask_cancel_export()
            if not cancel:
                event.ignore()
                return True
            self.editor.shutdown()
        return False


def _menu(window, title: str):
    for action in window.menuBar().actions():
        if action.menu() is not None and action.text().replace("&", "") == title:
            return action.menu()
    return None


def install_signature_editor(window) -> SignatureEditor:
    """Put the editor into ``window`` (a `MainWindow`) with its menus, actions and hooks."""
    editor = SignatureEditor(window, window.settings, window)
    window.set_signature_panel(editor)
    window.signature_editor = editor
    doc = editor.doc

    undo = doc.undo_stack.createUndoAction(window, "&Undo")
    undo.setShortcut(QKeySequence("Ctrl+Z"))
    redo = doc.undo_stack.createRedoAction(window, "&Redo")
    redo.setShortcut(QKeySequence("Ctrl+Shift+Z"))
    for action, name in ((undo, "Undo"), (redo, "Redo")):
        action.setIconText(name)  # the text follows the stack ("Undo Use Signet's proposal")
    history = QUndoView(doc.undo_stack)
    history.setObjectName("undoHistory")
    history.setEmptyLabel("<original>")
    history_dock = QDockWidget("Edit History", window)
    history_dock.setObjectName("historyDock")
    history_dock.setWidget(history)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, history_dock)
    window.tabifyDockWidget(window.signature_dock, history_dock)
    window.signature_dock.raise_()
    edit_menu = QMenu("&Edit", window)
    edit_menu.addAction(undo)
    edit_menu.addAction(redo)
    edit_menu.addSeparator()
    history_action = history_dock.toggleViewAction()
    history_action.setText("Undo &History")
    edit_menu.addAction(history_action)
    menus = window.menuBar().actions()
    window.menuBar().insertMenu(menus[1] if len(menus) > 1 else None, edit_menu)

    file_menu = _menu(window, "File")
    before = getattr(window, "quit_action", None)
    if file_menu is not None:
        # Before Quit when there is one: File's last group is Quit.
        separator = file_menu.insertSeparator(before) if before is not None else None
        file_menu.insertActions(separator, [editor.presets.save_action,
                                            editor.presets.load_action, editor.export_action])
        file_menu.setToolTipsVisible(True)
    help_menu = _menu(window, "Help")
    window.menuBar().insertMenu(help_menu.menuAction() if help_menu else None,
                                editor.presets.menu)
    editor.presets.menu.setToolTipsVisible(True)

    window.checkpointLoaded.connect(editor.set_checkpoint)
    window.checkpointClosed.connect(editor.clear)
    window.addTensorRequested.connect(editor.add_tensor)
    editor.statusMessage.connect(lambda text: window.statusBar().showMessage(text, 8000))
    editor.training.opActivated.connect(window.select_op)
    # What the other rooms follow, through the window (none of them reads the editor).
    editor.training.marksChanged.connect(window.rewrittenOpsChanged)
    doc.changed.connect(lambda: window.draftChanged.emit(doc.draft))
    editor.exportDialogOpened.connect(window.exportDialogOpened)
    editor.presetSaved.connect(window.presetSaved)
    window.installEventFilter(_CloseGuard(editor, window))
    editor.history_view = history
    if getattr(window, "loaded", None) is not None:
        editor.set_checkpoint(window.loaded)
    return editor
