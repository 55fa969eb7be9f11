"""Render `signet.svg` to the PNG sizes desktops ask for (`signet-<N>.png`, N x N pixels).

Run after editing the SVG: ``python resources/icons/render_icons.py``. The SVG and the PNGs
live in ``app/data/icons`` (package data: the window, a wheel and `signet install-desktop`
use them); the PNGs are committed so neither the desktop entry nor a PyInstaller bundle needs
an SVG renderer.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

ROOT = Path(__file__).resolve().parents[2]
ICONS = ROOT / "app" / "data" / "icons"
SVG = ICONS / "signet.svg"
# Every fixed size in the freedesktop hicolor theme's index, up to 512.
SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)


def png_path(size: int, directory: Path = ICONS) -> Path:
    return directory / f"signet-{size}.png"


def render(size: int, svg: Path = SVG) -> QImage:
    """The SVG drawn into a transparent `size` x `size` image."""
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg}: not a valid SVG icon")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    return image


def render_all(directory: Path = ICONS, svg: Path = SVG) -> list[Path]:
    written = []
    for size in SIZES:
        path = png_path(size, directory)
        if not render(size, svg).save(str(path), "PNG"):
            raise OSError(f"{path}: could not write the PNG")
        written.append(path)
    return written


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    for path in render_all():
        print(path.relative_to(ROOT))
    del app
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
