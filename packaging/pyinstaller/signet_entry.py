"""The bundle's one executable: the window for a double-click, the command line otherwise.

A desktop launch runs ``signet`` with no arguments or with checkpoint paths (``%F``); those and
``--demo`` open the window (`app.ui.shell.launch`). Anything else (``inspect``, ``export``,
``--version`` …) goes to the `signet` command line.
"""

from __future__ import annotations

import os
import sys


def wants_window(args: list[str]) -> bool:
    return not args or args[0] == "--demo" or os.path.exists(args[0])


def main() -> int:
    args = sys.argv[1:]
    if wants_window(args):
        from app.ui.shell.launch import main as gui_main

        return gui_main(args)
    from app.cli import main as cli_main

    return cli_main(args)


if __name__ == "__main__":
    import multiprocessing

    multiprocessing.freeze_support()  # the GUI exports in a spawned process (app.ui.export.process)
    raise SystemExit(main())
