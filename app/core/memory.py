"""Give memory freed by a closed TensorFlow session back to the system.

glibc's malloc keeps freed blocks in the process for reuse, and a session's
tensors are freed into the arenas of the threads that ran it, where the next
session's threads often cannot reuse them. So an export that closes one session
(the restored checkpoint, ~300 MB of weights and Adam slots on a ResNet-50) and
then loads the SavedModel would hold both in its resident memory. ``malloc_trim``
returns the free pages of every arena to the system; elsewhere (no glibc) this does
nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Any


@functools.cache
def _libc() -> Any:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


def give_back() -> None:
    """Return the free pages of every malloc arena to the system (glibc only)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
