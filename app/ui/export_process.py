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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.core.errors import Cancelled, ExportError, SignetError
from app.core.signature import Draft
from app.ui.workers import TaskState

POLL_SECONDS = 0.05
_CONTEXT = multiprocessing.get_context("spawn")  # never fork a process running TensorFlow


def _child(draft: Draft, prefix: str, conn: Any, stop: Any) -> None:
    """The child process: export and send progress, then the result or the error."""
    try:
        from app.core.export import export_model

        result = export_model(draft, prefix, progress=lambda f, m: conn.send(("progress", f, m)),
                              cancelled=stop.is_set)
        conn.send(("result", result))
    except Cancelled:
        conn.send(("cancelled",))
    except SignetError as exc:
        conn.send(("error", type(exc)(str(exc))))
    except BaseException as exc:  # sent as words: any exception may not pickle
        conn.send(("error", ExportError(f"the export failed unexpectedly "
                                        f"({type(exc).__name__}: {exc}); nothing was published")))
    finally:
        conn.close()


def cancel_flag() -> Any:
    """A flag the UI sets and the export process reads (a `multiprocessing.Event`)."""
    return _CONTEXT.Event()


def run_export(draft: Draft, prefix: str | Path, state: TaskState, stop: Any,
               started: Callable[[int], None] | None = None) -> Any:
    """Export in a child process; returns its `ExportResult` (call from a worker thread).

    ``stop`` is a `cancel_flag`: setting it reaches the process at once. Raises
    `Cancelled` when it (or the task state) was set before the engine published,
    the engine's `SignetError`, or `ExportError` if the process died.
    """
    context = _CONTEXT
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(draft, str(prefix), send, stop),
                              name="signet-export", daemon=True)
    process.start()
    send.close()
    if started is not None:
        started(process.pid)
    try:
        while True:
            if state.is_cancelled():
                stop.set()
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
        from app.core.export.publish import clean_leftovers

        clean_leftovers(Path(draft.options.base).absolute() / draft.options.name)
        raise ExportError(f"the export process stopped unexpectedly (exit code "
                          f"{process.exitcode}); nothing was published")
    finally:
        receive.close()
        process.join()
