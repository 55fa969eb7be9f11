"""`signet watch` in a child process, its log line by line.

The window's "Watch this run…" and "Publish Step…" run the command line itself, so
they export exactly as `signet watch` does and TensorFlow never loads in the
window's process (its imports hold the GIL for seconds, which would freeze the UI).
Stop sends SIGINT: the watch stops after the export under way, never leaving half a
version.
"""

from __future__ import annotations

import os
import re
import signal
import sys

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, Signal


def signet_argv(*args: str) -> list[str]:
    """The command running ``signet ARGS`` with this very installation."""
    if getattr(sys, "frozen", False):  # the PyInstaller bundle is the signet command
        return [sys.executable, *args]
    return [sys.executable, "-m", "app", *args]


class WatchRunner(QObject):
    """Runs one `signet watch` command at a time; ``line`` per log line, ``ended(code)``."""

    line = Signal(str)
    ended = Signal(int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.process: QProcess | None = None
        self._partial = ""

    def running(self) -> bool:
        return self.process is not None and \
            self.process.state() != QProcess.ProcessState.NotRunning

    def start(self, args: list[str]) -> None:
        if self.running():
            raise RuntimeError("a watch is already running")
        process = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()
        env.insert("TF_CPP_MIN_LOG_LEVEL", "2")
        env.insert("PYTHONUNBUFFERED", "1")
        process.setProcessEnvironment(env)
        process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        process.readyReadStandardOutput.connect(self._read)
        process.finished.connect(self._finished)
        argv = signet_argv(*args)
        self.process = process
        self.line.emit("$ signet " + " ".join(args))
        process.start(argv[0], argv[1:])

    def stop(self) -> None:
        """Ask the watch to stop after its current export (SIGINT, as Ctrl+C does)."""
        if self.running():
            pid = self.process.processId()
            if pid and hasattr(signal, "SIGINT") and os.name == "posix":
                os.kill(pid, signal.SIGINT)
            else:  # pragma: no cover - Windows has no SIGINT for another process
                self.process.terminate()

    def wait(self, msecs: int = 30000) -> bool:
        return self.process is None or self.process.waitForFinished(msecs)

    def _read(self) -> None:
        data = bytes(self.process.readAllStandardOutput().data()).decode("utf-8", "replace")
        *lines, self._partial = (self._partial + data).split("\n")
        for text in lines:
            if text.strip() and not _noise(text):
                self.line.emit(text.rstrip())

    def _finished(self, code: int, _status) -> None:
        self._read()
        if self._partial.strip():
            self.line.emit(self._partial.rstrip())
        self._partial = ""
        self.ended.emit(code)


_TF_LOG = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d|^WARNING: All log messages before absl|"
                     r"^To enable the following instructions")


def _noise(text: str) -> bool:
    """TensorFlow's C++ start-up chatter (absl log lines: CUDA probes, CPU features), not
    the watch's log."""
    return bool(_TF_LOG.match(text))
