"""TensorFlow's lines in the window: an export process keeps them off the console and
sends them to the window's Log dock."""

from __future__ import annotations

import threading

from app.core import tf_runtime
from app.core.validation.draft import draft_from_suggestions
from app.ui.common.workers import TaskState
from app.ui.export import process as export_process


def test_an_export_process_sends_tensorflows_lines_instead_of_printing_them(
        loaded, tmp_path, capfd, monkeypatch):
    from tensorflow.python.util import deprecation

    # As in a new export process: quiet, and TensorFlow's warn-once deprecations not yet said
    # (an export earlier in this test process said them already).
    tf_runtime.quiet_tensorflow()
    monkeypatch.setattr(deprecation, "_PRINTED_WARNING", {})
    kept: list[str] = []
    tf_runtime.on_tensorflow_line(kept.append)
    try:
        draft = draft_from_suggestions(loaded)
        draft.options.base, draft.options.name = str(tmp_path), "encoder"
        export_process.run_export(draft, loaded.checkpoint.prefix,
                                  TaskState(lambda fraction, message: None),
                                  export_process.cancel_flag())
    finally:
        tf_runtime.on_tensorflow_line(None)
    # The engine calls TF1 APIs TensorFlow calls deprecated, on any machine.
    assert any("is deprecated" in line for line in kept), kept
    err = capfd.readouterr().err  # the process's stderr is this one's
    assert "is deprecated" not in err and "absl::InitializeLog" not in err, err


def test_the_window_logs_tensorflows_lines_from_any_thread(window, qtbot):
    line = "W0000 00:00:1796449871.842879  4156 cudart_stub.cc:31] a line TensorFlow wrote"
    worker = threading.Thread(target=tf_runtime.keep_line, args=(line,))
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: f"TensorFlow: {line}" in window.log.toPlainText(), timeout=5000)
    window.shutdown()
    tf_runtime.keep_line("after the window closed")  # held, not sent to a deleted window
    later: list[str] = []
    tf_runtime.on_tensorflow_line(later.append)
    tf_runtime.on_tensorflow_line(None)
    assert later[-1] == "after the window closed"
