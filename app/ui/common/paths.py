"""Paths as the window shows them: the home folder as ``~``.

Shorter lines in the Log dock and the Checkpoint panel, still pasteable into a
shell, and a screenshot or a shared log does not show whose machine it came from.
"""

from __future__ import annotations

import os
import re
from pathlib import Path


def abbreviate_home(text: str, home: str | os.PathLike[str] | None = None) -> str:
    """``text`` with each path under the home folder written ``~/…``."""
    root = str(home if home is not None else Path.home()).rstrip("/")
    if not root:
        return text
    return re.sub(rf"(?<![\w./-]){re.escape(root)}(?=/|$|\s)", "~", text)
