"""Tests' hook: an export stops itself (SIGSTOP) as it enters a stage, to be killed there.

Signet never reads it: the tests inject it. `stop_at` wraps the engine's `export_model`
in the calling process so that the report of ``stage`` first stops the process (after
the engine's cancel check, before the report, as a real stall would); the command line
gets it through ``python -m tests.export_stop STAGE signet-arguments…`` (`cli_argv`),
the window's export process through `stop_window_export_at`.
"""

from __future__ import annotations

import os
import signal
import sys
from functools import partial
from typing import Any

from app.core.export import engine, publish

PUBLISHED = "published"  # past the last stage: the version is in place, the result not sent
# Inside publishing: the version an overwrite replaces is moved aside, the new one not yet in.
SET_ASIDE = "set aside"


def stop_at(stage: str) -> None:
    """From now on, exports in this process stop themselves once, as they enter ``stage``
    (a name in the engine's STAGES, `PUBLISHED` or `SET_ASIDE`)."""
    import app.core.export as export

    if stage == SET_ASIDE:
        real_set_aside = publish.set_aside

        def set_aside(target, aside):
            real_set_aside(target, aside)
            os.kill(os.getpid(), signal.SIGSTOP)

        publish.set_aside = set_aside
        return

    real = engine.export_model
    # Each stage reports its own fraction once; publishing done reports 1.0.
    reached = 1.0 if stage == PUBLISHED else dict(engine.STAGES)[stage]
    stopped = []

    def export_model(draft, checkpoint, progress=None, cancelled=None):
        def report(fraction: float, message: str) -> None:
            if fraction == reached and not stopped:
                stopped.append(True)
                os.kill(os.getpid(), signal.SIGSTOP)
            if progress is not None:
                progress(fraction, message)

        return real(draft, checkpoint, progress=report, cancelled=cancelled)

    export.export_model = export_model  # where the CLI and the export process look it up


def cli_argv(stage: str, *args: str) -> list[str]:
    """``signet ARGS…`` as a process whose export stops as it enters ``stage``."""
    return [sys.executable, "-m", "tests.export_stop", stage, *args]


def _stopping_child(stage: str, *args: Any) -> None:
    from app.ui.export import process

    stop_at(stage)
    process._child(*args)


def stop_window_export_at(monkeypatch, stage: str) -> None:
    """The window's next export process (a new one, not a kept-warm one) stops as it
    enters ``stage``; ``monkeypatch`` undoes it after the test."""
    from app.ui.export import process

    monkeypatch.setattr(process, "_child", partial(_stopping_child, stage))


if __name__ == "__main__":
    from app.cli import main

    stop_at(sys.argv[1])
    sys.exit(main(sys.argv[2:]))
