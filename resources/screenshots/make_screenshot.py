"""Regenerate README's screenshot: the real app on the demo checkpoint, rendered offscreen.

Run from the repository root:  .venv/bin/python resources/screenshots/make_screenshot.py
(uses Qt's offscreen platform unless QT_QPA_PLATFORM says otherwise; for pixel-exact
window decorations run it under Xvfb with QT_QPA_PLATFORM=xcb).

The demo is copied to ``~/models/skip_thoughts`` under a temporary HOME, so the picture
shows a neutral path (the window writes the home folder as ``~``), never the folder of
the machine it was taken on.
"""

from __future__ import annotations

import os
import shutil
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

    # A clean HOME and settings folder: the screenshot never shows someone's recent files
    # or folders; the demo is opened from ~/models/skip_thoughts.
    home = Path(tempfile.mkdtemp(prefix="signet-shot-"))
    os.environ["HOME"] = str(home)
    settings_dir = home / ".config"
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(settings_dir))
    from app.demo import demo_checkpoint
    from app.ui.shell.launch import _application, build_window

    model = home / "models" / "skip_thoughts"
    shutil.copytree(demo_checkpoint(), model)
    app = _application()
    window = build_window(str(model), warm_up=False)  # opens with Signet's proposal
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
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
