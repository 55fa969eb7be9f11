"""`signet render`: the graph view's picture without a window, as SVG or PNG.

The same layout and items as the graph panel, drawn by an offscreen Qt
application, so pictures for documents and CI match what users see.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from app.core.errors import SignetError
from app.core.graph.graph_view_model import ViewState
from app.core.graph.layout import GraphLayouter
from app.core.loader import load_checkpoint

FORMATS = (".svg", ".png")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="checkpoint folder, prefix, or .meta/.index/.data file")
    parser.add_argument("-o", "--output", required=True, metavar="FILE",
                        help="picture to write: FILE.svg (labels stay text) or FILE.png")
    parser.add_argument("--expand", nargs="+", default=[], metavar="SCOPE",
                        help="name scopes or series (conv2_block[1-3]) to draw opened "
                             "(their parents open too)")
    parser.add_argument("--show-training", action="store_true",
                        help="also draw gradients, optimizer, saver, init and summaries")


def run_render(args: argparse.Namespace) -> int:
    output = Path(args.output)
    if output.suffix.lower() not in FORMATS:
        raise SignetError(f"{output}: unknown picture type — name the file .svg or .png")
    if not output.parent.is_dir():
        raise SignetError(f"{output}: folder {output.parent} does not exist — create it first")
    loaded = load_checkpoint(args.path)
    layouter = GraphLayouter(loaded.graph)
    scopes = layouter.scoped.scope_paths
    expanded: set[str] = set()
    scoped = layouter.scoped
    for scope in args.expand:
        path = scope.strip("/")
        if path in scopes:  # its parents open too, and any series holding them
            expanded |= scoped.scopes_to_reveal(path, args.show_training)
        elif scoped.series_at(path, args.show_training) is not None:  # "conv2_block[1-3]"
            container = path.rpartition("/")[0]
            expanded |= {path} | (scoped.scopes_to_reveal(container, args.show_training)
                                  if container else set())
        else:
            top = sorted(p for p in scopes if "/" not in p)
            raise SignetError(
                f"--expand {scope}: no such name scope in {loaded.checkpoint.prefix} — "
                f"top-level scopes: {', '.join(top[:12]) or 'none'}"
                + (", …" if len(top) > 12 else ""))
    layout = layouter.layout(ViewState(frozenset(expanded), show_training=args.show_training))

    app = _application()  # kept alive until the picture is written
    from app.ui.graph.panel import highlights_of
    from app.ui.graph.scene import GraphScene, write_image

    scene = GraphScene()
    scene.set_graph(loaded.graph, highlights_of(loaded))
    scene.show_layout(layout)
    write_image(scene, output, title=f"{loaded.checkpoint.name} graph")
    print(f"Wrote {output} ({len(layout.nodes)} nodes, {len(layout.edges)} edges)")
    del scene, app
    return 0


def _application():
    """The running QApplication, or a new one (offscreen when there is no display)."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    return QApplication.instance() or QApplication(["signet-render"])
