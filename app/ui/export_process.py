"""Run the export engine in a child process, supervised from a worker thread.

Why a process and not just a thread: TensorFlow's graph import
(``import_meta_graph``, which the engine runs two or three times) holds the GIL
for most of a second in one C++ call on a ResNet-50-sized graph, and that
freezes the UI thread whichever thread makes the call (bench/bench_export_ui.py
measured 0.8 s stalls). A spawned child has its own GIL. The worker `Task`
relays the child's progress, turns the user's cancel into the child's
cooperative cancel flag (the engine checks it at every stage and publishes
nothing when cancelled), and returns the child's `ExportResult` or raises its
error. A bundled app needs ``multiprocessing.freeze_support()`` in its entry point.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.core.errors import Cancelled, ExportError, SignetError
from app.core.signature import Draft
from app.ui.workers import TaskState

POLL_SECONDS = 0.05
CANCEL_GRACE_SECONDS = 10.0  # then a cancelled export process is killed
_CONTEXT = multiprocessing.get_context("spawn")  # never fork a process running TensorFlow


HELD_MESSAGE = "Paused: waiting for your answer"


def _child(draft: Draft, prefix: str, conn: Any, stop: Any, hold: Any) -> None:
    """The child process: export and send progress, then the result or the error.

    While ``hold`` is set (the user is being asked whether to cancel) the engine waits
    at its next stage check instead of going on, so an export cannot publish behind an
    open "Cancel it (nothing will be published)?" question.

    It ends with ``os._exit`` once the outcome is sent: everything it wrote is
    already flushed (the engine fsyncs before publishing), and TensorFlow's
    interpreter teardown would keep the supervising thread waiting for seconds.
    """
    try:
        from app.core.export import export_model

        reached = [0.0]

        def progress(fraction: float, message: str) -> None:
            reached[0] = fraction
            conn.send(("progress", fraction, message))

        def cancelled() -> bool:
            if hold.is_set() and not stop.is_set():
                conn.send(("progress", reached[0], HELD_MESSAGE))
                while hold.is_set() and not stop.is_set():
                    time.sleep(POLL_SECONDS)
            return stop.is_set()

        result = export_model(draft, prefix, progress=progress, cancelled=cancelled)
        conn.send(("result", result))
    except Cancelled:
        conn.send(("cancelled",))
    except SignetError as exc:
        conn.send(("error", type(exc)(str(exc))))
    except BaseException as exc:  # sent as words: any exception may not pickle
        conn.send(("error", ExportError(f"the export failed unexpectedly "
                                        f"({type(exc).__name__}: {exc}); nothing was published")))
    conn.close()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def cancel_flag() -> Any:
    """A flag the UI sets and the export process reads (a `multiprocessing.Event`)."""
    return _CONTEXT.Event()


def run_export(draft: Draft, prefix: str | Path, state: TaskState, stop: Any,
               started: Callable[[int], None] | None = None, hold: Any = None) -> Any:
    """Export in a child process; returns its `ExportResult` (call from a worker thread).

    ``stop`` is a `cancel_flag`: setting it reaches the process at once, and the
    engine stops at its next stage. A stage that runs on for `CANCEL_GRACE_SECONDS`
    after that is cut short by killing the process (publishing is atomic, and the
    staging folder is cleaned). ``hold`` (another `cancel_flag`) pauses the engine at
    its next stage while set. Raises `Cancelled`, the engine's `SignetError`, or
    `ExportError` when the process died or was killed after it had published.
    """
    receive, send = _CONTEXT.Pipe(duplex=False)
    hold = hold if hold is not None else cancel_flag()
    process = _CONTEXT.Process(target=_child, args=(draft, str(prefix), send, stop, hold),
                               name="signet-export", daemon=True)
    process.start()
    send.close()
    if started is not None:
        started(process.pid)
    stop_asked: float | None = None
    try:
        while True:
            if state.is_cancelled():
                stop.set()
            if stop_asked is None and stop.is_set():
                stop_asked = time.monotonic()
            if stop_asked is not None and time.monotonic() - stop_asked > CANCEL_GRACE_SECONDS:
                process.kill()
                process.join()
                _clean(draft)
                target = _target(draft)
                if target is not None and target.exists():
                    raise ExportError(f"the cancel came too late: {target} was published")
                raise Cancelled("export cancelled; nothing was published")
            if not receive.poll(POLL_SECONDS):
                if process.is_alive():
                    continue
                if not receive.poll():
                    break
            try:
                message = receive.recv()
            except EOFError:
                break
            kind = message[0]
            if kind == "progress":
                state.progress(message[1], message[2])
            elif kind == "result":
                return message[1]
            elif kind == "cancelled":
                raise Cancelled("export cancelled; nothing was published")
            else:
                raise message[1]
        process.join()
        _clean(draft)
        raise ExportError(f"the export process stopped unexpectedly (exit code "
                          f"{process.exitcode}); nothing was published")
    finally:
        receive.close()
        process.join()


def _target(draft: Draft) -> Path | None:
    opts = draft.options
    return None if opts.version is None else _model_folder(draft) / str(opts.version)


def _model_folder(draft: Draft) -> Path:
    return Path(draft.options.base).absolute() / draft.options.name


def _clean(draft: Draft) -> None:
    """Remove what a killed export process left in its staging folder."""
    from app.core.export.publish import clean_leftovers

    clean_leftovers(_model_folder(draft))
