"""The worker `Task` says what its job did: returned, stopped on a cancel, or raised."""

from __future__ import annotations

import threading

from app.core.errors import Cancelled
from app.ui.common.workers import Task, TaskState


def _task(job) -> Task:
    return Task(job, "test-task")


def test_a_job_that_returns_after_a_late_cancel_succeeded(qtbot):
    """The cancel comes while the job finishes its work: it did, and says so."""
    cancelled_meanwhile = threading.Event()

    def job(state: TaskState) -> str:
        assert cancelled_meanwhile.wait(10)
        return "published"

    task = _task(job)
    results: list[object] = []
    task.succeeded.connect(results.append)
    with qtbot.assertNotEmitted(task.cancelled), \
            qtbot.waitSignals([task.succeeded, task.finished], order="strict"):
        task.start()
        task.state.cancel()
        cancelled_meanwhile.set()
    assert results == ["published"]
    task.wait()


def test_a_job_that_stops_on_the_cancel_is_cancelled(qtbot):
    def job(state: TaskState) -> None:
        while not state.is_cancelled():
            threading.Event().wait(0.01)
        raise Cancelled("stopped")

    task = _task(job)
    with qtbot.assertNotEmitted(task.succeeded), qtbot.assertNotEmitted(task.failed), \
            qtbot.waitSignals([task.cancelled, task.finished], order="strict"):
        task.start()
        task.state.cancel()
    task.wait()


def test_a_job_that_raises_failed_with_its_exception(qtbot):
    error = ValueError("bad input")

    def job(state: TaskState) -> None:
        raise error

    task = _task(job)
    errors: list[object] = []
    task.failed.connect(errors.append)
    with qtbot.waitSignals([task.failed, task.finished], order="strict"):
        task.start()
    assert errors == [error]
    task.wait()


def test_a_cancel_is_passed_on_at_once_and_once():
    """What a job hands to `when_cancelled` (an export process's flag) hears the cancel
    from the cancelling thread, not at the job's next poll."""
    state = TaskState(lambda fraction, message: None)
    heard: list[str] = []
    state.when_cancelled(lambda: heard.append("before"))
    assert heard == []
    state.cancel()
    assert heard == ["before"] and state.is_cancelled()
    state.when_cancelled(lambda: heard.append("after"))  # already cancelled: at once
    state.cancel()
    assert heard == ["before", "after"]
