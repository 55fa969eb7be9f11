"""Lazy access to TensorFlow.

``import tensorflow`` costs seconds, so nothing imports it at module level;
callers ask for it when they need it, usually from a worker thread.
"""

from __future__ import annotations

import os
import threading
from types import ModuleType

from app.core.errors import SignetError

_lock = threading.Lock()


def tensorflow() -> ModuleType:
    """Import TensorFlow once (thread-safe) with its C++ logging quietened."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _lock:
        try:
            import tensorflow as tf
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise SignetError(
                "TensorFlow is not installed: run `pip install 'signet[cpu]'` "
                "(or keep your own tensorflow 2.21)"
            ) from exc
    return tf


def is_loaded() -> bool:
    """True once TensorFlow has been imported in this process."""
    import sys

    return "tensorflow" in sys.modules and hasattr(sys.modules["tensorflow"], "compat")
