"""Long jobs off the UI thread: a `Task` runs a function in a `QThread` with a `TaskState`.

The function reports progress and polls for cancellation through its state
(there is no graceful way to kill a thread), and the outcome comes back on the
UI thread as a signal. `TaskRunner` keeps one current task per purpose: starting
a new one cancels the previous, and `shutdown()` waits for every thread.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QThread, Signal

from app.core.errors import Cancelled

_started: weakref.WeakSet[Task] = weakref.WeakSet()


def running_tasks() -> list[Task]:
    """Every `Task` whose thread is still running (tests fail when one is left)."""
    return [task for task in list(_started) if shiboken6.isValid(task) and task.isRunning()]


class TaskState:
    """What a job sees: progress reporting and the cancellation flag."""

    def __init__(self, report: Callable[[float, str], None]) -> None:
        self._cancel = threading.Event()
        self._report = report
        self._lock = threading.Lock()
        self._on_cancel: list[Callable[[], object]] = []

    def cancel(self) -> None:
        with self._lock:
            self._cancel.set()
            passed_on, self._on_cancel = self._on_cancel, []
        for callback in passed_on:
            callback()

    def when_cancelled(self, callback: Callable[[], object]) -> None:
        """Call ``callback`` the moment the job is cancelled (now if it is already), from
        the cancelling thread: to pass a cancel on where the job's polling would be late,
        such as the flag a child process reads."""
        with self._lock:
            if not self._cancel.is_set():
                self._on_cancel.append(callback)
                return
        callback()

    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    def progress(self, fraction: float, message: str) -> None:
        self._report(fraction, message)


class Task(QThread):
    """Runs ``job(state)`` once in its own thread; exactly one outcome signal follows.

    The signal says what the job did: `succeeded` when it returned, even after a cancel
    that came too late to stop it (its work is done: an export published); `cancelled`
    when it stopped on a cancel; `failed` when it raised. A listener that no longer
    wants a late result checks `TaskRunner.is_current`.
    """

    progressed = Signal(float, str)
    succeeded = Signal(object)  # the job's return value
    failed = Signal(object)  # the exception
    cancelled = Signal()

    def __init__(self, job: Callable[[TaskState], Any], name: str = "",
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name or "signet-task")
        self.job = job
        self.state = TaskState(self.progressed.emit)

    def run(self) -> None:
        try:
            result = self.job(self.state)
        except Cancelled:
            self.cancelled.emit()
        except Exception as exc:  # reported to the user by whoever listens
            if self.state.is_cancelled():  # broke off on the cancel, not on its own
                self.cancelled.emit()
            else:
                self.failed.emit(exc)
        else:
            self.succeeded.emit(result)


class TaskRunner(QObject):
    """Starts tasks, cancels the current one when another starts, and joins them all."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._alive: list[Task] = []  # strong references until each thread has finished
        self.current: Task | None = None

    def start(self, job: Callable[[TaskState], Any], name: str = "") -> Task:
        """A new task, not yet started: connect its signals, then call ``.start()``."""
        if self.current is not None:
            self.current.state.cancel()
        task = Task(job, name)
        self.current = task
        self._alive.append(task)
        task.finished.connect(lambda: self._forget(task))
        _started.add(task)
        return task

    def is_current(self, task: Task) -> bool:
        return task is self.current

    def cancel(self) -> None:
        if self.current is not None:
            self.current.state.cancel()
            self.current = None

    def busy(self) -> bool:
        return any(task.isRunning() for task in self._alive)

    def shutdown(self) -> None:
        """Cancel every task and wait for its thread (called before the app quits)."""
        self.current = None
        for task in list(self._alive):
            task.state.cancel()
        for task in list(self._alive):
            task.wait()
        self._alive.clear()

    def _forget(self, task: Task) -> None:
        if task in self._alive:
            self._alive.remove(task)
        if task is self.current and not task.isRunning():
            self.current = None
        # The task's own connections (this lambda among them) live in C++, out of the
        # garbage collector's sight: without this the task, its job and whatever the
        # job closed over (a whole loaded checkpoint) would live forever.
        task.job = None
        task.deleteLater()
