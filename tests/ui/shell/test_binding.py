"""The Qt binding itself: PySide6 6.12.0 dropped a reference to ``None`` on every call
of a method returning nothing, which on Python 3.11 (where ``None`` is reference
counted) aborts a long session with "deallocating None". pyproject.toml keeps that
release out; this catches a binding with the same fault."""

from __future__ import annotations

import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel

CALLS = 2000


def test_void_calls_keep_none_alive(qapp):
    label, timer = QLabel(), QTimer()
    before = sys.getrefcount(None)
    for _ in range(CALLS):
        label.setText("x")
        timer.stop()
    assert sys.getrefcount(None) > before - CALLS // 10
