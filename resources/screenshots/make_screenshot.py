"""Regenerate README's screenshot: the real app on the demo checkpoint, rendered offscreen.

Run from the repository root:  .venv/bin/python resources/screenshots/make_screenshot.py
(uses Qt's offscreen platform unless QT_QPA_PLATFORM says otherwise; for pixel-exact
window decorations run it under Xvfb with QT_QPA_PLATFORM=xcb).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

OUT = Path(__file__).resolve().parent / "main-window.png"


def main() -> None:
    from PySide6.QtCore import QEventLoop, QSettings, QTimer

    # A clean settings folder: the screenshot never shows someone's recent files.
    settings_dir = tempfile.mkdtemp(prefix="signet-shot-")
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, settings_dir)
    from app.ui.launch import _application, build_window

    app = _application()
    window = build_window(demo=True, warm_up=False)
    window.resize(1440, 900)
    loop = QEventLoop()
    window.checkpointLoaded.connect(lambda _loaded: QTimer.singleShot(2500, loop.quit))
    QTimer.singleShot(120_000, loop.quit)
    loop.exec()
    window.select_op("encoder/thought_vectors")
    window.tree.search.setText("thought")
    QTimer.singleShot(2500, loop.quit)
    loop.exec()
    window.grab().save(str(OUT))
    print(f"wrote {OUT}")
    window.close()
    window.shutdown()
    app.quit()


if __name__ == "__main__":
    main()
