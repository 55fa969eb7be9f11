"""Qt item models over the core `Draft`: the signature list and one slot table per side.

`DraftDocument` owns the draft, the graph it is checked against, the live
validation and the `QUndoStack`. Its primitives (``insert_slot``, ``set_slot``,
``set_signature``...) are the only code that mutates the draft; each wraps the
change in the models' begin/end notifications and revalidates. Undo commands
(app.ui.signature.commands) call the primitives; the models' ``setData`` and
``dropMimeData`` push commands, so every edit from a view is undoable.

The models hold no copy: rows are read straight from ``doc.draft``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QAbstractTableModel,
    QMimeData,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QApplication, QStyle

from app.core.proposal import ProposedSlot
from app.core.signature.draft import (
    Draft,
    Level,
    Problem,
    Signature,
    Slot,
    drop_problem,
    new_slot,
    proposed_key,
    slot_key_for,
    tensor_name,
)
from app.core.validation.draft import validate
from app.ui.common.mime import TENSOR_MIME, tensors_from_mime
from app.ui.signature import commands as cmd

SLOT_MIME = "application/x-signet-slot"
SIDES = ("inputs", "outputs")
KEY, TENSOR, DTYPE, SHAPE = range(4)
HEADERS = ("Name", "Tensor", "dtype", "Shape")
SLOT_ROLE = Qt.ItemDataRole.UserRole + 1  # the core Slot
LEVEL_ROLE = Qt.ItemDataRole.UserRole + 2  # "ok" | "warning" | "error"
OK = "ok"
_ROOT = QModelIndex()


def normalize_side(side: str) -> str:
    """``"input"``/``"inputs"`` -> ``"inputs"`` (the window's signal says ``"input"``)."""
    side = side.strip().lower()
    if side in ("input", "inputs"):
        return "inputs"
    if side in ("output", "outputs"):
        return "outputs"
    raise ValueError(f"side must be input(s) or output(s), not {side!r}")


def level_icon(level: str):
    style = QApplication.style()
    pixmap = {
        "error": QStyle.StandardPixmap.SP_MessageBoxCritical,
        "warning": QStyle.StandardPixmap.SP_MessageBoxWarning,
        "info": QStyle.StandardPixmap.SP_MessageBoxInformation,
    }.get(level, QStyle.StandardPixmap.SP_DialogApplyButton)
    return style.standardIcon(pixmap)


def _worst(problems: list[Problem]) -> str:
    levels = {p.level for p in problems}
    for level in (Level.ERROR, Level.WARNING):
        if level in levels:
            return level.value
    return OK


class DraftDocument(QObject):
    """The draft being edited, its validation and its undo stack."""

    changed = Signal()  # after every change, validation already updated
    currentChanged = Signal(int)  # the signature shown in the slot tables

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.draft = Draft()
        self.loaded = None  # LoadedCheckpoint
        self.problems: list[Problem] = []
        self._by_slot: dict[tuple[int, str, int], list[Problem]] = {}
        self.current = 0
        self.undo_stack = QUndoStack(self)
        self.signatures = SignatureListModel(self)
        self.models = {side: SlotModel(self, side) for side in SIDES}

    @property
    def graph(self):
        return self.loaded.graph if self.loaded is not None else None

    # Whole-document changes (not undoable) -------------------------------------------------

    def open(self, loaded, draft: Draft | None) -> None:
        """Start editing ``draft`` (a fresh one when None) for ``loaded``; clears undo."""
        self.loaded = loaded
        self.undo_stack.clear()
        self.set_draft(draft if draft is not None else Draft())

    def close(self) -> None:
        self.loaded = None
        self.undo_stack.clear()
        self.set_draft(Draft())

    def push(self, command) -> None:
        self.undo_stack.push(command)

    # Primitives used by the undo commands ---------------------------------------------------

    def show_signature(self, index: int) -> None:
        index = max(0, min(index, len(self.draft.signatures) - 1))
        if index == self.current:
            return
        for model in self.models.values():
            model.beginResetModel()
        self.current = index
        for model in self.models.values():
            model.endResetModel()
        self.currentChanged.emit(index)

    def insert_slot(self, sig: int, side: str, row: int, slot: Slot) -> None:
        self.show_signature(sig)
        model = self.models[side]
        model.beginInsertRows(QModelIndex(), row, row)
        self.draft.signatures[sig].slots(side).insert(row, slot)
        model.endInsertRows()
        self._edited()

    def remove_slot(self, sig: int, side: str, row: int) -> Slot:
        self.show_signature(sig)
        model = self.models[side]
        model.beginRemoveRows(QModelIndex(), row, row)
        slot = self.draft.signatures[sig].slots(side).pop(row)
        model.endRemoveRows()
        self._edited()
        return slot

    def set_slot(self, sig: int, side: str, row: int, slot: Slot) -> None:
        self.show_signature(sig)
        self.draft.signatures[sig].slots(side)[row] = slot
        model = self.models[side]
        model.dataChanged.emit(model.index(row, 0), model.index(row, len(HEADERS) - 1))
        self._edited()

    def insert_signature(self, index: int, signature: Signature) -> None:
        with self._slots_reset(index):
            self.signatures.beginInsertRows(QModelIndex(), index, index)
            self.draft.signatures.insert(index, signature)
            self.signatures.endInsertRows()

    def remove_signature(self, index: int) -> Signature:
        with self._slots_reset(index):
            self.signatures.beginRemoveRows(QModelIndex(), index, index)
            signature = self.draft.signatures.pop(index)
            self.signatures.endRemoveRows()
        return signature

    def set_signature(self, index: int, signature: Signature) -> None:
        with self._slots_reset(index):
            self.draft.signatures[index] = signature
            row = self.signatures.index(index, 0)
            self.signatures.dataChanged.emit(row, row)

    def set_bound(self, tensor: str, value: Any, unbound: object) -> None:
        if value is unbound:
            self.draft.bound.pop(tensor, None)
        else:
            self.draft.bound[tensor] = value
        self._edited()

    def set_rewrite_switches(self, rewrites: dict[str, bool], kept: list[str]) -> None:
        """The inference rewrites' switches and kept sites (app.ui.signature.training_section)."""
        self.draft.rewrites = rewrites
        self.draft.kept = kept
        self._edited()

    def set_draft(self, draft: Draft) -> None:
        with self._slots_reset(0):
            self.signatures.beginResetModel()
            self.draft = draft
            self.signatures.endResetModel()

    @contextmanager
    def _slots_reset(self, current: int) -> Iterator[None]:
        """Reset the slot tables around a change, then show signature ``current``."""
        for model in self.models.values():
            model.beginResetModel()
        self.current = -1  # the tables show nothing while the signatures change
        yield
        self.current = max(0, min(current, len(self.draft.signatures) - 1))
        for model in self.models.values():
            model.endResetModel()
        self.currentChanged.emit(self.current)
        self._edited()

    # Validation ---------------------------------------------------------------------------

    def _edited(self) -> None:
        self.problems = validate(self.draft, self.graph) if self.graph is not None else []
        self._by_slot = {}
        for p in self.problems:
            if p.slot_index is not None and p.side is not None:
                self._by_slot.setdefault((p.signature_index, p.side, p.slot_index), []).append(p)
        for model in self.models.values():
            if model.rowCount():
                model.dataChanged.emit(model.index(0, KEY),
                                       model.index(model.rowCount() - 1, len(HEADERS) - 1))
        if self.signatures.rowCount():
            self.signatures.dataChanged.emit(self.signatures.index(0, 0),
                                             self.signatures.index(self.signatures.rowCount() - 1))
        self.changed.emit()

    def slot_problems(self, sig: int, side: str, row: int) -> list[Problem]:
        return self._by_slot.get((sig, side, row), [])

    def signature_problems(self, sig: int) -> list[Problem]:
        """Problems of a whole signature (not of one slot), and of the draft as a whole."""
        return [p for p in self.problems
                if (p.signature_index == sig and p.slot_index is None)
                or p.signature_index is None]

    def export_blocker(self) -> str | None:
        """Why the draft cannot be exported now (None when it can)."""
        if self.loaded is None:
            return "Open a checkpoint first"
        errors = [p for p in self.problems if p.level is Level.ERROR]
        if not errors:
            return None
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return f"Fix first: {errors[0]}{more}"

    # Edits as commands (what the views and the window call) -------------------------------

    def current_signature(self) -> Signature | None:
        sigs = self.draft.signatures
        return sigs[self.current] if 0 <= self.current < len(sigs) else None

    def drop_refusal(self, tensors: list[str], side: str) -> str | None:
        """Why these tensors cannot be dropped on ``side`` of the current signature."""
        if self.graph is None:
            return "Open a checkpoint first"
        if self.current_signature() is None:
            return "Add a signature first"
        if not tensors:
            return "Nothing to drop: drag a tensor or an op"
        for name in tensors:
            reason = drop_problem(self.graph, name, side)
            if reason:
                return f"Cannot use as {cmd.SIDE_WORD[side]}: {reason}"
        return None

    def add_tensors(self, tensors: list[str], side: str, row: int = -1,
                    replace: int | None = None) -> bool:
        """Add (or, with ``replace``, set that slot's tensor) as one undoable edit."""
        side = normalize_side(side)
        if self.drop_refusal(tensors, side) is not None:
            return False
        sig = self.current
        slots = self.draft.signatures[sig].slots(side)
        row = len(slots) if row < 0 or row > len(slots) else row
        keys = [s.key for s in slots]
        self.undo_stack.beginMacro(f"Drop {len(tensors)} tensor(s) on {side}")
        for n, name in enumerate(tensors):
            tensor = self.graph.tensor(tensor_name(name))
            if n == 0 and replace is not None:
                self.push(cmd.ReplaceTensor(self, sig, side, replace, new_slot(tensor, keys)))
                row = replace + 1
                continue
            slot = new_slot(tensor, keys, self._proposed_key(tensor.name, side, keys))
            keys.append(slot.key)
            self.push(cmd.AddSlot(self, sig, side, row, slot))
            row += 1
        self.undo_stack.endMacro()
        return True

    def proposed_slot(self, tensor: str, side: str) -> ProposedSlot | None:
        """The slot Signet's proposal has for ``tensor`` on ``side``, if any."""
        if self.loaded is None:
            return None
        proposal = self.loaded.proposal
        for slot in proposal.inputs if side == "inputs" else proposal.outputs:
            if slot.tensor == tensor:
                return slot
        return None

    def _proposed_key(self, tensor: str, side: str, taken: list[str]) -> str | None:
        """The proposal's key for ``tensor`` (made unique), so a dropped pipeline tensor
        is ``features`` as in the proposal, not ``IteratorGetNext``."""
        return None if self.loaded is None else \
            proposed_key(self.loaded.proposal, tensor, side, taken)

    def remove_rows(self, side: str, rows: list[int]) -> None:
        if not rows:
            return
        self.undo_stack.beginMacro(f"Remove {len(rows)} {side}")
        for row in sorted(set(rows), reverse=True):
            self.push(cmd.RemoveSlot(self, self.current, side, row))
        self.undo_stack.endMacro()

    def move(self, side: str, row: int, to_side: str, to_row: int) -> None:
        """Move a slot of the current signature; ``to_row`` is its final position (clamped)."""
        count = len(self.draft.signatures[self.current].slots(to_side))
        limit = count - 1 if to_side == side else count
        to_row = limit if to_row < 0 else min(to_row, limit)
        if (side, row) != (to_side, to_row):
            self.push(cmd.MoveSlot(self, self.current, side, row, to_side, to_row))


class SlotModel(QAbstractTableModel):
    """The Inputs or Outputs of the document's current signature."""

    def __init__(self, doc: DraftDocument, side: str) -> None:
        super().__init__(doc)
        self.doc, self.side = doc, side
        self.last_refusal: str | None = None

    def _slots(self) -> list[Slot]:
        sig = self.doc.current_signature()
        return sig.slots(self.side) if sig is not None else []

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._slots())

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        slot = self._slots()[index.row()]
        column = index.column()
        if role == SLOT_ROLE:
            return slot
        problems = self.doc.slot_problems(self.doc.current, self.side, index.row())
        if role == LEVEL_ROLE:
            return _worst(problems)
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            if column == KEY:
                return slot.key
            if column == TENSOR:
                return slot.tensor
            found = self.doc.graph.tensor(tensor_name(slot.tensor)) if self.doc.graph else None
            if column == DTYPE:
                return found.dtype if found is not None else (slot.dtype or "?")
            return found.shape_text if found is not None else (slot.shape or "?")
        if role == Qt.ItemDataRole.DecorationRole and column == KEY:
            return level_icon(_worst(problems))
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [f"{p.level.value}: {p.message}" for p in problems] or \
                [f"{slot.tensor}: ok"]
            proposed = self.doc.proposed_slot(tensor_name(slot.tensor), self.side)
            if proposed is not None:
                lines.append(f"Signet proposes it: {proposed.why}")
            return "\n".join(lines)
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.ItemIsDropEnabled
        flags = (Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                 | Qt.ItemFlag.ItemIsDragEnabled | Qt.ItemFlag.ItemIsDropEnabled
                 | Qt.ItemFlag.ItemNeverHasChildren)
        if index.column() == KEY:
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def setData(self, index: QModelIndex | QPersistentModelIndex, value: Any,
                role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.EditRole or index.column() != KEY or not index.isValid():
            return False
        key = str(value).strip()
        if not key or key == self._slots()[index.row()].key:
            return False
        self.doc.push(cmd.RenameSlot(self.doc, self.doc.current, self.side, index.row(), key))
        return True

    # Drag and drop ------------------------------------------------------------------------

    def mimeTypes(self) -> list[str]:
        return [TENSOR_MIME, SLOT_MIME]

    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction | Qt.DropAction.MoveAction

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def mimeData(self, indexes) -> QMimeData:
        """A slot drag carries its signature, side and row (the first selected row)."""
        rows = sorted({i.row() for i in indexes if i.isValid()})
        data = QMimeData()
        if rows:
            payload = {"signature": self.doc.current, "side": self.side, "row": rows[0]}
            data.setData(SLOT_MIME, json.dumps(payload).encode("utf-8"))
            data.setText(self._slots()[rows[0]].tensor)
        return data

    def drop_refusal(self, data: QMimeData) -> str | None:
        """Why ``data`` cannot be dropped here (None when it can)."""
        if data.hasFormat(SLOT_MIME):
            return None if self._slot_source(data) is not None else "That slot is gone"
        if data.hasFormat(TENSOR_MIME):
            return self.doc.drop_refusal([t.name for t in tensors_from_mime(data)], self.side)
        return "Only tensors and ops can be dropped here"

    def _slot_source(self, data: QMimeData) -> tuple[str, int] | None:
        try:
            payload = json.loads(bytes(data.data(SLOT_MIME)).decode("utf-8"))
            side, row = payload["side"], int(payload["row"])
        except (ValueError, KeyError, TypeError):
            return None
        if payload.get("signature") != self.doc.current or side not in SIDES:
            return None
        return (side, row) if 0 <= row < len(self.doc.draft.signatures[self.doc.current]
                                             .slots(side)) else None

    def canDropMimeData(self, data: QMimeData, action: Qt.DropAction, row: int, column: int,
                        parent: QModelIndex | QPersistentModelIndex) -> bool:
        return self.drop_refusal(data) is None

    def dropMimeData(self, data: QMimeData, action: Qt.DropAction, row: int, column: int,
                     parent: QModelIndex | QPersistentModelIndex) -> bool:
        """Tensors: onto a slot (``parent``) replace its tensor, else insert at ``row``.
        A slot: move it to ``row`` (reorder, or to the other side)."""
        self.last_refusal = self.drop_refusal(data)
        if self.last_refusal is not None or action == Qt.DropAction.IgnoreAction:
            return False
        count = self.rowCount()
        if data.hasFormat(SLOT_MIME):
            side, source = self._slot_source(data)
            target = parent.row() if parent.isValid() else (row if 0 <= row <= count else count)
            if side == self.side and source < target:
                target -= 1  # Qt's row counts the dragged slot, the final position does not
            self.doc.move(side, source, self.side, target)
            return True
        names = [t.name for t in tensors_from_mime(data)]
        if parent.isValid():
            return self.doc.add_tensors(names, self.side, replace=parent.row())
        return self.doc.add_tensors(names, self.side, row=row)


class SignatureListModel(QAbstractListModel):
    """The draft's signatures by key (editable in place), with their worst problem level."""

    def __init__(self, doc: DraftDocument) -> None:
        super().__init__(doc)
        self.doc = doc

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self.doc.draft.signatures)

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        sig = self.doc.draft.signatures[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return sig.key
        problems = [p for p in self.doc.problems if p.signature_index == index.row()]
        if role == LEVEL_ROLE:
            return _worst(problems)
        if role == Qt.ItemDataRole.DecorationRole:
            return level_icon(_worst(problems))
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{sig.key} ({sig.method}): {len(sig.inputs)} input(s), " \
                   f"{len(sig.outputs)} output(s)"
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                | Qt.ItemFlag.ItemIsEditable | Qt.ItemFlag.ItemNeverHasChildren)

    def setData(self, index: QModelIndex | QPersistentModelIndex, value: Any,
                role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.EditRole or not index.isValid():
            return False
        key = str(value).strip()
        if not key or key == self.doc.draft.signatures[index.row()].key:
            return False
        self.doc.push(cmd.RenameSignature(self.doc, index.row(), key))
        return True


def unique_signature_key(draft: Draft) -> str:
    """``signature``, ``signature_2``... whichever is free."""
    return slot_key_for("signature", [s.key for s in draft.signatures])
