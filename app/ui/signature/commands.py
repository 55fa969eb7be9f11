"""One `QUndoCommand` per signature edit; each calls the `DraftDocument`'s primitives.

The document (app.ui.signature.model) owns the `Draft` and tells the Qt models
about every change; commands only remember what to put back. A command on a
signature other than the one shown switches the editor to it, so undo always
shows what it undid.
"""

from __future__ import annotations

import copy
from typing import Any

from PySide6.QtGui import QUndoCommand

from app.core.signature import Draft, Signature, Slot, slot_key_for

SIDE_WORD = {"inputs": "input", "outputs": "output"}


class AddSlot(QUndoCommand):
    def __init__(self, doc, sig: int, side: str, row: int, slot: Slot) -> None:
        super().__init__(f"Add {SIDE_WORD[side]} '{slot.key}'")
        self.doc, self.sig, self.side, self.row, self.slot = doc, sig, side, row, slot

    def redo(self) -> None:
        self.doc.insert_slot(self.sig, self.side, self.row, copy.copy(self.slot))

    def undo(self) -> None:
        self.doc.remove_slot(self.sig, self.side, self.row)


class RemoveSlot(QUndoCommand):
    def __init__(self, doc, sig: int, side: str, row: int) -> None:
        self.slot = copy.copy(doc.draft.signatures[sig].slots(side)[row])
        super().__init__(f"Remove {SIDE_WORD[side]} '{self.slot.key}'")
        self.doc, self.sig, self.side, self.row = doc, sig, side, row

    def redo(self) -> None:
        self.doc.remove_slot(self.sig, self.side, self.row)

    def undo(self) -> None:
        self.doc.insert_slot(self.sig, self.side, self.row, copy.copy(self.slot))


class _SetSlot(QUndoCommand):
    """Swap one slot for an edited copy (the base of rename and replace)."""

    def __init__(self, doc, sig: int, side: str, row: int, new: Slot, text: str) -> None:
        super().__init__(text)
        self.doc, self.sig, self.side, self.row = doc, sig, side, row
        self.old = copy.copy(doc.draft.signatures[sig].slots(side)[row])
        self.new = new

    def redo(self) -> None:
        self.doc.set_slot(self.sig, self.side, self.row, copy.copy(self.new))

    def undo(self) -> None:
        self.doc.set_slot(self.sig, self.side, self.row, copy.copy(self.old))


class RenameSlot(_SetSlot):
    def __init__(self, doc, sig: int, side: str, row: int, key: str) -> None:
        old = doc.draft.signatures[sig].slots(side)[row]
        super().__init__(doc, sig, side, row, Slot(key, old.tensor, old.dtype, old.shape),
                         f"Rename {SIDE_WORD[side]} '{old.key}' to '{key}'")


class ReplaceTensor(_SetSlot):
    """A tensor dropped onto a slot: the key stays, tensor, dtype and shape change."""

    def __init__(self, doc, sig: int, side: str, row: int, slot: Slot) -> None:
        old = doc.draft.signatures[sig].slots(side)[row]
        super().__init__(doc, sig, side, row, Slot(old.key, slot.tensor, slot.dtype, slot.shape),
                         f"Set {SIDE_WORD[side]} '{old.key}' to {slot.tensor}")


class MoveSlot(QUndoCommand):
    """Reorder within a side or move to the other side; ``to_row`` is the final position.

    A slot moved to the other side whose key is taken there gets a fresh unique key.
    """

    def __init__(self, doc, sig: int, side: str, row: int, to_side: str, to_row: int) -> None:
        signature = doc.draft.signatures[sig]
        self.slot = copy.copy(signature.slots(side)[row])
        self.moved = copy.copy(self.slot)
        if to_side != side:
            taken = [s.key for s in signature.slots(to_side)]
            if self.slot.key in taken:
                self.moved.key = slot_key_for(self.slot.tensor, taken)
        where = f"to {to_side}" if to_side != side else f"to position {to_row + 1}"
        super().__init__(f"Move {SIDE_WORD[side]} '{self.slot.key}' {where}")
        self.doc, self.sig, self.side, self.row = doc, sig, side, row
        self.to_side, self.to_row = to_side, to_row

    def redo(self) -> None:
        self.doc.remove_slot(self.sig, self.side, self.row)
        self.doc.insert_slot(self.sig, self.to_side, self.to_row, copy.copy(self.moved))

    def undo(self) -> None:
        self.doc.remove_slot(self.sig, self.to_side, self.to_row)
        self.doc.insert_slot(self.sig, self.side, self.row, copy.copy(self.slot))


class AddSignature(QUndoCommand):
    def __init__(self, doc, index: int, signature: Signature) -> None:
        super().__init__(f"Add signature '{signature.key}'")
        self.doc, self.index, self.signature = doc, index, signature

    def redo(self) -> None:
        self.doc.insert_signature(self.index, copy.deepcopy(self.signature))

    def undo(self) -> None:
        self.doc.remove_signature(self.index)


class RemoveSignature(QUndoCommand):
    def __init__(self, doc, index: int) -> None:
        self.signature = copy.deepcopy(doc.draft.signatures[index])
        super().__init__(f"Remove signature '{self.signature.key}'")
        self.doc, self.index = doc, index

    def redo(self) -> None:
        self.doc.remove_signature(self.index)

    def undo(self) -> None:
        self.doc.insert_signature(self.index, copy.deepcopy(self.signature))


class _SetSignature(QUndoCommand):
    """Swap one whole signature (rename, method, filled from suggestions)."""

    def __init__(self, doc, index: int, new: Signature, text: str) -> None:
        super().__init__(text)
        self.doc, self.index = doc, index
        self.old = copy.deepcopy(doc.draft.signatures[index])
        self.new = new

    def redo(self) -> None:
        self.doc.set_signature(self.index, copy.deepcopy(self.new))

    def undo(self) -> None:
        self.doc.set_signature(self.index, copy.deepcopy(self.old))


class RenameSignature(_SetSignature):
    def __init__(self, doc, index: int, key: str) -> None:
        old = doc.draft.signatures[index]
        new = copy.deepcopy(old)
        new.key = key
        super().__init__(doc, index, new, f"Rename signature '{old.key}' to '{key}'")


class SetMethod(_SetSignature):
    def __init__(self, doc, index: int, method: str) -> None:
        old = doc.draft.signatures[index]
        new = copy.deepcopy(old)
        new.method = method
        super().__init__(doc, index, new, f"Set '{old.key}' method to {method}")


class UseSuggestions(_SetSignature):
    """Fill a signature's inputs and outputs from the core's suggestions (key, method kept)."""

    def __init__(self, doc, index: int, suggested: Signature) -> None:
        new = copy.deepcopy(doc.draft.signatures[index])
        new.inputs = copy.deepcopy(suggested.inputs)
        new.outputs = copy.deepcopy(suggested.outputs)
        super().__init__(doc, index, new, f"Use suggestions for '{new.key}'")


class SetBinding(QUndoCommand):
    """Bind a placeholder to a constant (``value``), or unbind it (``value`` is UNBOUND)."""

    UNBOUND = object()

    def __init__(self, doc, tensor: str, value: Any) -> None:
        verb = "Unbind" if value is self.UNBOUND else "Bind"
        super().__init__(f"{verb} {tensor}")
        self.doc, self.tensor, self.value = doc, tensor, value
        self.old = doc.draft.bound.get(tensor, self.UNBOUND)

    def redo(self) -> None:
        self.doc.set_bound(self.tensor, self.value, self.UNBOUND)

    def undo(self) -> None:
        self.doc.set_bound(self.tensor, self.old, self.UNBOUND)


class ReplaceDraft(QUndoCommand):
    """The whole draft at once (a loaded preset)."""

    def __init__(self, doc, draft: Draft, text: str) -> None:
        super().__init__(text)
        self.doc, self.new, self.old = doc, draft.copy(), doc.draft.copy()

    def redo(self) -> None:
        self.doc.set_draft(self.new.copy())

    def undo(self) -> None:
        self.doc.set_draft(self.old.copy())
