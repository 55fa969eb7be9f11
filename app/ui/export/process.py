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

Starting that process costs a TensorFlow import, longer than many exports. So
once the window has TensorFlow, `prewarm` keeps one process ready: TensorFlow
imported, waiting for its one export on a pipe. `run_export` takes it when there
is one (and starts the next), or spawns a process as before.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.core.errors import Cancelled, ExportError, SignetError, error_line
from app.core.signature.draft import Draft
from app.core.tf_runtime import keep_line, on_tensorflow_line, quiet_tensorflow
from app.ui.common.workers import TaskState

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
    quiet_tensorflow()  # a spawned interpreter: --debug reaches it as SIGNET_DEBUG
    try:
        _export(draft, prefix, conn, stop, hold)
    finally:
        conn.close()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _warm_child(jobs: Any, conn: Any, stop: Any, hold: Any, ready: Any) -> None:
    """A kept-warm child: import TensorFlow and the engine, then run the one export sent
    on ``jobs`` as `_child` does; leave quietly if the pipe closes first."""
    quiet_tensorflow()
    try:
        from app.core.export import export_model  # noqa: F401 - imported to be warm
        from app.core.tf_runtime import tensorflow

        tensorflow()
        ready.set()
        draft, prefix = jobs.recv()
    except (EOFError, OSError, KeyboardInterrupt):
        os._exit(0)
    _child(draft, prefix, conn, stop, hold)


def _export(draft: Draft, prefix: str, conn: Any, stop: Any, hold: Any) -> None:
    # TensorFlow's lines for the window's Log dock, sent from this thread only (a pipe
    # is not safe to write from two threads, and a warning can come from any thread).
    lines: list[str] = []
    on_tensorflow_line(lines.append)

    def send(message: tuple[Any, ...]) -> None:
        while lines:
            conn.send(("log", lines.pop(0)))
        conn.send(message)

    try:
        from app.core.export import export_model

        reached = [0.0]

        def progress(fraction: float, message: str) -> None:
            reached[0] = fraction
            send(("progress", fraction, message))

        def cancelled() -> bool:
            if hold.is_set() and not stop.is_set():
                send(("progress", reached[0], HELD_MESSAGE))
                while hold.is_set() and not stop.is_set():
                    time.sleep(POLL_SECONDS)
            return stop.is_set()

        result = export_model(draft, prefix, progress=progress, cancelled=cancelled)
        send(("result", result))
    except Cancelled:
        send(("cancelled",))
    except SignetError as exc:
        send(("error", type(exc)(str(exc))))
    except BaseException as exc:  # sent as words: any exception may not pickle
        send(("error", ExportError(f"the export failed unexpectedly ({type(exc).__name__}"
                                   f": {error_line(exc)}); nothing was published")))


def cancel_flag() -> Any:
    """A flag the UI sets and the export process reads (a `multiprocessing.Event`)."""
    return _CONTEXT.Event()


class _Warm:
    """A started `_warm_child` and the ends of its pipes."""

    def __init__(self) -> None:
        jobs_out, self.jobs = _CONTEXT.Pipe(duplex=False)
        self.results, results_in = _CONTEXT.Pipe(duplex=False)
        # An Event reaches a process only when it starts, so the warm child has its own
        # stop and hold flags, and `run_export` relays the caller's to them.
        self.stop = _CONTEXT.Event()
        self.hold = _CONTEXT.Event()
        self.ready = _CONTEXT.Event()
        self.process = _CONTEXT.Process(target=_warm_child, name="signet-export-warm",
                                        args=(jobs_out, results_in, self.stop, self.hold,
                                              self.ready),
                                        daemon=True)
        self.process.start()
        jobs_out.close()
        results_in.close()

    def close(self) -> None:
        self.jobs.close()  # the child sees the pipe close and leaves
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.results.close()


_warm: _Warm | None = None
_keep_warm = False
_warm_lock = threading.Lock()


def prewarm() -> None:
    """Keep one export process ready from now on (call once TensorFlow is wanted)."""
    global _warm, _keep_warm
    with _warm_lock:
        _keep_warm = True
        if _warm is None or not _warm.process.is_alive():
            _warm = _Warm()


def wait_warm(timeout: float) -> bool:
    """True once the kept-warm process has TensorFlow imported (False: none, or not yet)."""
    with _warm_lock:
        warm = _warm
    return warm is not None and warm.ready.wait(timeout)


def stop_warm() -> None:
    """Stop keeping a process warm and end the one waiting (the window calls it on close)."""
    global _warm, _keep_warm
    with _warm_lock:
        _keep_warm = False
        warm, _warm = _warm, None
    if warm is not None:
        warm.close()


def _take_warm() -> _Warm | None:
    global _warm
    with _warm_lock:
        warm, _warm = _warm, None
    if warm is not None and not warm.process.is_alive():
        warm.close()
        return None
    return warm


def _rewarm() -> None:
    with _warm_lock:
        wanted = _keep_warm and _warm is None
    if wanted:
        prewarm()


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
    hold = hold if hold is not None else cancel_flag()
    process, receive, child_stop, child_hold = _start(draft, str(prefix), stop, hold)
    # A cancel of the task reaches the process at once, not at this thread's next poll.
    state.when_cancelled(stop.set)
    state.when_cancelled(child_stop.set)
    if started is not None:
        started(process.pid)
    stop_asked: float | None = None
    try:
        while True:
            if state.is_cancelled():
                stop.set()
            if child_hold is not hold and hold.is_set() != child_hold.is_set():
                if hold.is_set():
                    child_hold.set()
                else:
                    child_hold.clear()
            if stop_asked is None and stop.is_set():
                child_stop.set()
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
            if kind == "log":
                keep_line(message[1])  # to the window's Log dock
            elif kind == "progress":
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
        _rewarm()  # after, not during: a TensorFlow import would slow this export down


def _start(draft: Draft, prefix: str, stop: Any, hold: Any) -> tuple[Any, Any, Any, Any]:
    """The process running this export, the end its messages arrive on, and its cancel
    and hold flags: the kept-warm process if there is one, else a new one reading
    ``stop`` and ``hold``."""
    warm = _take_warm()
    if warm is not None:
        try:
            warm.jobs.send((draft, prefix))
            warm.jobs.close()
            return warm.process, warm.results, warm.stop, warm.hold
        except OSError:  # it died since: start one as without it
            warm.close()
    receive, send = _CONTEXT.Pipe(duplex=False)
    process = _CONTEXT.Process(target=_child, args=(draft, prefix, send, stop, hold),
                               name="signet-export", daemon=True)
    process.start()
    send.close()
    return process, receive, stop, hold


def _target(draft: Draft) -> Path | None:
    opts = draft.options
    return None if opts.version is None else _model_folder(draft) / str(opts.version)


def _model_folder(draft: Draft) -> Path:
    return Path(draft.options.base).absolute() / draft.options.name


def _clean(draft: Draft) -> None:
    """Remove what a killed export process left in its staging folder."""
    from app.core.export.publish import clean_leftovers

    clean_leftovers(_model_folder(draft))
