"""Start the desktop app: ``signet [PATH] [--demo]`` and the ``signet-gui`` entry point.

Only Qt and the window module are imported before the window is shown;
TensorFlow follows in a background thread. With ``SIGNET_EXIT_WHEN_SHOWN=1`` the
app prints ``shown <epoch seconds> tensorflow=<imported?>`` as soon as the window
is on screen and quits (bench/bench_ui.py, the start-up test); with
``SIGNET_EXIT_WHEN_SHOWN=loaded`` it quits once the checkpoint has opened,
printing ``loaded <prefix> ops=N at=<epoch seconds> tensorflow=<imported?>`` once
the op tree is shown (status 1 and ``failed <message>`` if it could not), which
smoke-tests an installed or bundled app and times opening (bench/bench_ui.py).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence

EXIT_WHEN_SHOWN = "SIGNET_EXIT_WHEN_SHOWN"


def gui_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="signet",
        description="Open the Signet window (subcommands: signet inspect|export|render …; "
        "see `signet COMMAND --help`).",
    )
    # The desktop entry passes every selected file (Exec=… %F); the first is opened.
    parser.add_argument("path", nargs="*", help="checkpoint folder, prefix or file to open")
    parser.add_argument("--demo", action="store_true", help="open the bundled demo checkpoint")
    parser.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    return parser


def build_window(path: str | None = None, demo: bool = False, warm_up: bool = True):
    """The main window with the graph view and signature editor, shown, opening ``path`` or
    the demo (needs a QApplication)."""
    from app.ui.export.log import install_export_log
    from app.ui.graph.panel import install_graph_panel
    from app.ui.run.try_panel import install_try_panel
    from app.ui.shell.help import install_help
    from app.ui.shell.window import MainWindow
    from app.ui.signature.editor import install_signature_editor

    window = MainWindow(warm_up=warm_up)
    install_graph_panel(window)
    install_signature_editor(window)
    install_export_log(window)
    install_try_panel(window)
    install_help(window)
    window.restore_layout()  # again, now that the panels' docks exist
    window.show()
    if demo:
        window.open_demo()
    elif path:
        window.open_path(path)
    return window


def _application():
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Signet")
    app.setOrganizationName("Signet")
    app.setApplicationDisplayName("Signet")
    # Ties the window to app/data/desktop/io.github.signet.Signet.desktop (Wayland).
    app.setDesktopFileName("io.github.signet.Signet")
    _set_icon(app)
    return app


def _set_icon(app) -> None:
    """Use the bundled application icon (PNG sizes; SVG needs Qt's SVG plugin)."""
    from PySide6.QtGui import QIcon

    from app.resources import resource_path

    icon = QIcon()
    for path in sorted(resource_path("icons").glob("signet-*.png")):
        icon.addFile(str(path))
    if not icon.isNull():
        app.setWindowIcon(icon)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the window until it is closed; returns the exit status."""
    args = gui_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    from app.core.tf_runtime import quiet_tensorflow
    quiet_tensorflow(args.debug)  # TensorFlow's lines go to the Log dock instead
    from app.ui.shell import platform_check
    problem = platform_check.xcb_problem()
    if problem is not None:  # else Qt aborts with a message that names no package
        print(problem, file=sys.stderr)
        return 1
    app = _application()
    exit_when = os.environ.get(EXIT_WHEN_SHOWN, "")
    window = build_window(args.path[0] if args.path else None, args.demo,
                          warm_up=not exit_when)
    if exit_when == "loaded":
        _exit_when_loaded(window)
    elif exit_when:
        _exit_when_shown(window)
    app.aboutToQuit.connect(window.shutdown)
    return app.exec()


def _exit_when_shown(window) -> None:
    from PySide6.QtCore import QTimer

    def report() -> None:
        print(f"shown {time.time():.6f} tensorflow={'tensorflow' in sys.modules}", flush=True)
        window.close()

    QTimer.singleShot(0, report)


def _exit_when_loaded(window) -> None:
    """Quit once the checkpoint opened (status 0) or failed (status 1): a smoke test."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    def loaded(checkpoint) -> None:
        def report() -> None:  # after the op tree's first paint, which is queued before it
            print(f"loaded {checkpoint.checkpoint.prefix} ops={len(checkpoint.graph)} "
                  f"at={time.time():.6f} tensorflow={'tensorflow' in sys.modules}", flush=True)
            window.close()

        QTimer.singleShot(0, report)

    def failed(message: str) -> None:
        print(f"failed {message}", flush=True)
        window.close()
        QApplication.exit(1)

    window.checkpointLoaded.connect(loaded)
    window.loadFailed.connect(failed)
