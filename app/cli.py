"""The `signet` command: the GUI with no subcommand, and `inspect`/`export`/`watch`/`run`/
`render`.

Every subcommand drives `app.core`; errors the user can fix print one line on
stderr and exit with status 2 (``--debug`` shows the traceback instead, and TensorFlow's
own log lines, which `quiet_tensorflow` keeps off the console otherwise).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from app import __version__
from app.core.errors import SignetError, one_line
from app.core.tf_runtime import quiet_tensorflow

EXIT_USAGE = 2


def _inspect(args: argparse.Namespace) -> int:
    from app.commands.inspect import run_inspect

    return run_inspect(args)


def _install_desktop(args: argparse.Namespace) -> int:
    from app.commands.desktop import run_install_desktop

    return run_install_desktop(args)


def _export(args: argparse.Namespace) -> int:
    from app.commands.export import run_export

    return run_export(args)


def _watch(args: argparse.Namespace) -> int:
    from app.commands.watch import run_watch

    return run_watch(args)


def _run(args: argparse.Namespace) -> int:
    from app.commands.run import run_run

    return run_run(args)


def _render(args: argparse.Namespace) -> int:
    from app.commands.render import run_render

    return run_render(args)


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line (like every other error), pointing at --help."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} — see `{self.prog} --help`\n")


def _add_debug(sub: argparse.ArgumentParser) -> None:
    """``--debug`` after the subcommand too. Its default is no default (SUPPRESS): a
    False here would overwrite the global ``signet --debug`` given before it."""
    sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                     help=argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="signet",
        description="Turn a TensorFlow 1.x checkpoint into a servable, verified SavedModel. "
        "Without a command, `signet [PATH] [--demo]` opens the window.",
    )
    parser.add_argument("--version", action="version", version=f"signet {__version__}")
    # A subcommand's own --debug (hidden) leaves this one alone when absent: `signet --debug
    # export …` and `signet export --debug …` mean the same.
    parser.add_argument("--debug", action="store_true",
                        help="show tracebacks on errors, and TensorFlow's own log lines")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    inspect = sub.add_parser("inspect", help="summarise a checkpoint and suggest a signature")
    inspect.add_argument("path", help="checkpoint folder, prefix, or .meta/.index/.data file")
    inspect.add_argument("--json", action="store_true", help="print one JSON object")
    inspect.add_argument("--search", metavar="QUERY", help="list ops matching QUERY")
    inspect.add_argument("--regex", action="store_true", help="treat --search as a regex")
    inspect.add_argument("--ops", action="store_true", help="list every op with its tensors")
    _add_debug(inspect)
    from app.commands.export import add_rewrite_arguments

    add_rewrite_arguments(inspect)
    inspect.set_defaults(func=_inspect)

    export = sub.add_parser("export", help="export a verified SavedModel for TensorFlow Serving")
    from app.commands.export import add_arguments as add_export_arguments

    add_export_arguments(export)
    _add_debug(export)
    export.set_defaults(func=_export)

    watch = sub.add_parser("watch", help="publish a running job's best or latest checkpoints "
                           "for TensorFlow Serving, keep N")
    from app.commands.watch import add_arguments as add_watch_arguments

    add_watch_arguments(watch)
    _add_debug(watch)
    watch.set_defaults(func=_watch)

    run = sub.add_parser("run", help="answer a TF Serving REST predict body, no server needed")
    from app.commands.run import add_arguments as add_run_arguments

    add_run_arguments(run)
    _add_debug(run)
    run.set_defaults(func=_run)

    render = sub.add_parser("render", help="draw the op graph as SVG or PNG, no window needed")
    from app.commands.render import add_arguments as add_render_arguments

    add_render_arguments(render)
    _add_debug(render)
    render.set_defaults(func=_render)

    desktop = sub.add_parser("install-desktop",
                             help="add Signet to this user's application menu (Linux)")
    desktop.add_argument("--uninstall", action="store_true",
                         help="remove the files install-desktop added")
    _add_debug(desktop)
    desktop.set_defaults(func=_install_desktop)
    return parser


def _subcommand_names(parser: argparse.ArgumentParser) -> set[str]:
    return {name for action in parser._actions
            if isinstance(action, argparse._SubParsersAction) for name in action.choices}


def _wants_gui(parser: argparse.ArgumentParser, argv: list[str]) -> bool:
    """True unless a subcommand (or --help/--version) comes first: `signet [PATH] [--demo]`."""
    words = [a for a in argv if a != "--debug"]
    if not words:
        return True
    return words[0] not in {"-h", "--help", "--version"} | _subcommand_names(parser)


def _print_names_as_bytes() -> None:
    """A file name that is not UTF-8 reaches Python with surrogate escapes; printed, it is
    its own bytes again (as ``ls`` prints it), never a UnicodeEncodeError on a strict
    stdout (a UTF-8 locale other than C.UTF-8, or PYTHONIOENCODING)."""
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(errors="surrogateescape")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if _wants_gui(parser, argv):
        from app.ui.shell.launch import main as gui_main

        return gui_main(argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # usage error, --help or --version: already printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 0
    quiet_tensorflow(args.debug)
    _print_names_as_bytes()
    try:
        return func(args)
    except SignetError as exc:
        if args.debug:
            raise
        print(f"signet: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("signet: interrupted", file=sys.stderr)
        return 130
