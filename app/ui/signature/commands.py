"""One `QUndoCommand` per signature edit; each calls the `DraftDocument`'s primitives.

The document (app.ui.signature.model) owns the `Draft` and tells the Qt models
about every change; commands only remember what to put back. A command on a
signature other than the one shown switches the editor to it, so undo always
shows what it undid.

Two shapes make every command but a move: `Swap` (one setter, the old value back on
undo) and `_Place` (insert on redo and remove on undo, or the reverse for a removal).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

from PySide6.QtGui import QUndoCommand

from app.core.signature.draft import Draft, Signature, Slot, slot_key_for

SIDE_WORD = {"inputs": "input", "outputs": "output"}


def _same(value: Any) -> Any:
    return value


class Swap(QUndoCommand):
    """Put ``new`` through the document setter ``put`` (redo) and ``old`` back (undo).

    Each time as a fresh ``clone``, so the values kept on the undo stack never share
    objects with the draft that later edits change.
    """

    def __init__(self, text: str, put: Callable[[Any], object], old: Any, new: Any,
                 clone: Callable[[Any], Any] = copy.deepcopy) -> None:
        super().__init__(text)
        self._put, self._clone = put, clone
        self.old, self.new = old, new

    def redo(self) -> None:
        self._put(self._clone(self.new))

    def undo(self) -> None:
        self._put(self._clone(self.old))


class _Place(QUndoCommand):
    """Insert ``item`` (redo) and remove it again (undo); a ``removal`` the other way round.

    The add and remove commands of slots and signatures differ only in what they place
    and where, which ``insert`` and ``remove`` (bound to the position) say.
    """

    def __init__(self, text: str, insert: Callable[[Any], object],
                 remove: Callable[[], object], item: Any, clone: Callable[[Any], Any],
                 removal: bool = False) -> None:
        super().__init__(text)
        self._insert, self._remove, self._clone = insert, remove, clone
        self.item, self._removal = item, removal

    def _place(self, present: bool) -> None:
        if present:
            self._insert(self._clone(self.item))
        else:
            self._remove()

    def redo(self) -> None:
        self._place(not self._removal)

    def undo(self) -> None:
        self._place(self._removal)


def _at_slot(doc, sig: int, side: str, row: int) -> tuple[Callable, Callable]:
    return partial(doc.insert_slot, sig, side, row), partial(doc.remove_slot, sig, side, row)


def _at_signature(doc, index: int) -> tuple[Callable, Callable]:
    return partial(doc.insert_signature, index), partial(doc.remove_signature, index)


class AddSlot(_Place):
    def __init__(self, doc, sig: int, side: str, row: int, slot: Slot) -> None:
        super().__init__(f"Add {SIDE_WORD[side]} '{slot.key}'", *_at_slot(doc, sig, side, row),
                         slot, copy.copy)


class RemoveSlot(_Place):
    def __init__(self, doc, sig: int, side: str, row: int) -> None:
        slot = copy.copy(doc.draft.signatures[sig].slots(side)[row])
        super().__init__(f"Remove {SIDE_WORD[side]} '{slot.key}'",
                         *_at_slot(doc, sig, side, row), slot, copy.copy, removal=True)


class _SetSlot(Swap):
    """Swap one slot for an edited copy (the base of rename and replace)."""

    def __init__(self, doc, sig: int, side: str, row: int, new: Slot, text: str) -> None:
        super().__init__(text, partial(doc.set_slot, sig, side, row),
                         copy.copy(doc.draft.signatures[sig].slots(side)[row]), new, copy.copy)


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


class AddSignature(_Place):
    def __init__(self, doc, index: int, signature: Signature) -> None:
        super().__init__(f"Add signature '{signature.key}'", *_at_signature(doc, index),
                         signature, copy.deepcopy)


class RemoveSignature(_Place):
    def __init__(self, doc, index: int) -> None:
        signature = copy.deepcopy(doc.draft.signatures[index])
        super().__init__(f"Remove signature '{signature.key}'", *_at_signature(doc, index),
                         signature, copy.deepcopy, removal=True)


class _SetSignature(Swap):
    """Swap one whole signature (rename, method, filled from the proposal)."""

    def __init__(self, doc, index: int, new: Signature, text: str) -> None:
        super().__init__(text, partial(doc.set_signature, index),
                         copy.deepcopy(doc.draft.signatures[index]), copy.deepcopy(new))


class RenameSignature(_SetSignature):
    def __init__(self, doc, index: int, key: str) -> None:
        old = doc.draft.signatures[index]
        super().__init__(doc, index, replace(old, key=key),
                         f"Rename signature '{old.key}' to '{key}'")


class SetMethod(_SetSignature):
    def __init__(self, doc, index: int, method: str) -> None:
        old = doc.draft.signatures[index]
        super().__init__(doc, index, replace(old, method=method),
                         f"Set '{old.key}' method to {method}")


class UseProposal(_SetSignature):
    """Fill a signature's inputs and outputs with Signet's proposal (key, method kept)."""

    def __init__(self, doc, index: int, proposed: Signature) -> None:
        old = doc.draft.signatures[index]
        super().__init__(doc, index, replace(old, inputs=proposed.inputs,
                                             outputs=proposed.outputs),
                         f"Use Signet's proposal for '{old.key}'")


class SetBinding(Swap):
    """Bind a placeholder to a constant (``value``), or unbind it (``value`` is UNBOUND)."""

    UNBOUND = object()

    def __init__(self, doc, tensor: str, value: Any) -> None:
        verb = "Unbind" if value is self.UNBOUND else "Bind"
        super().__init__(f"{verb} {tensor}",
                         lambda bound: doc.set_bound(tensor, bound, self.UNBOUND),
                         doc.draft.bound.get(tensor, self.UNBOUND), value, _same)


class ReplaceDraft(Swap):
    """The whole draft at once (a loaded preset, the proposal a first open starts with)."""

    def __init__(self, doc, draft: Draft, text: str) -> None:
        super().__init__(text, doc.set_draft, doc.draft.copy(), draft.copy(), Draft.copy)
