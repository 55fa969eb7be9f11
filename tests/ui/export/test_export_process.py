"""The kept-warm export process: TensorFlow imported before the export is asked for."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.errors import Cancelled
from app.core.validation.draft import draft_from_suggestions
from app.ui.common.workers import TaskState
from app.ui.export import process as export_process

WARM_TIMEOUT_S = 300


@pytest.fixture
def warm():
    export_process.prewarm()
    assert export_process.wait_warm(WARM_TIMEOUT_S), "the warm process never got TensorFlow"
    yield
    export_process.stop_warm()


def _draft(loaded, base, name):
    draft = draft_from_suggestions(loaded)
    draft.options.base, draft.options.name = str(base), name
    return draft


def test_an_export_runs_in_the_warm_process_and_the_next_one_is_warmed(warm, loaded, tmp_path):
    import tensorflow as tf

    waiting = export_process._warm
    pids: list[int] = []
    stages: list[str] = []
    result = export_process.run_export(_draft(loaded, tmp_path, "encoder"),
                                       loaded.checkpoint.prefix,
                                       TaskState(lambda f, m: stages.append(m)),
                                       export_process.cancel_flag(), pids.append)
    assert pids == [waiting.process.pid]  # the process that had TensorFlow already
    assert "Reading the graph" in stages and result.verification.checks
    model = tf.saved_model.load(str(result.path))
    signature = model.signatures["serving_default"]
    feeds = {key: tf.ones([1, 3], spec.dtype)
             for key, spec in signature.structured_input_signature[1].items()}
    assert all(np.all(np.isfinite(v.numpy())) for v in signature(**feeds).values())
    after = export_process._warm
    assert after is not None and after is not waiting and after.process.is_alive()


def test_cancel_reaches_the_warm_process(warm, loaded, tmp_path):
    stop = export_process.cancel_flag()
    state = TaskState(lambda f, m: stop.set())  # cancel at the first progress report
    with pytest.raises(Cancelled):
        export_process.run_export(_draft(loaded, tmp_path, "cancelled"),
                                  loaded.checkpoint.prefix, state, stop)
    assert not (tmp_path / "cancelled").exists() or \
        not any(p.name.isdigit() for p in (tmp_path / "cancelled").iterdir())


def test_stop_warm_ends_the_waiting_process():
    export_process.prewarm()
    process = export_process._warm.process
    export_process.stop_warm()
    assert not process.is_alive() and export_process._warm is None
    export_process._rewarm()  # no longer wanted: nothing starts
    assert export_process._warm is None
