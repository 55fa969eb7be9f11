"""Lazy access to TensorFlow, and keeping its own lines off Signet's console.

``import tensorflow`` costs seconds, so nothing imports it at module level;
callers ask for it when they need it, usually from a worker thread.

TensorFlow talks on the process's stderr: C++ log lines (the oneDNN notice, cuInit's
error on a machine without a GPU), Python deprecation warnings, and, while its shared
libraries load, ``WARNING: All log messages before absl::InitializeLog() is called are
written to STDERR`` followed by a ``cudart_stub`` line. Those last two are written
before TensorFlow reads ``TF_CPP_MIN_LOG_LEVEL``, so no setting silences them: only the
file descriptor can. `quiet_tensorflow`, called first thing by every process Signet
starts (the command line, the window, the window's export processes), therefore

- sets ``TF_CPP_MIN_LOG_LEVEL=3`` before TensorFlow loads (C++ lines of every level
  below FATAL: the oneDNN notice, the cuInit error);
- runs the import of ``tensorflow`` (whoever triggers it) with file descriptor 2 sent
  to a temporary file, and keeps TensorFlow's lines from it (the others go on to stderr);
- sends TensorFlow's Python logger and Python's warnings to the same place.

What is kept goes to `on_tensorflow_line`'s sink (the window's Log dock) or is held
until one is set. With ``--debug`` (`SIGNET_DEBUG`, inherited by child processes)
nothing is touched and TensorFlow speaks as it always does.
"""

from __future__ import annotations

import collections
import importlib.abc
import importlib.util
import logging
import os
import re
import sys
import tempfile
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any

from app.core.errors import SignetError

DEBUG_ENV = "SIGNET_DEBUG"

_lock = threading.Lock()
_sink_lock = threading.Lock()
_held: collections.deque[str] = collections.deque(maxlen=1000)
_sink: Callable[[str], Any] | None = None

# A line TensorFlow (absl, its C++ logging, its Python logger) writes while it loads.
_TENSORFLOW_LINE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\)"
    r"|[IWEF]\d{4} [\d:.]+ +\d+ \S+:\d+\] "  # absl's prefix: I0000 00:00:1796… 6373 file.cc:31]
    r"|To enable the following instructions: "  # the second line of the CPU-feature notice
    r"|(DEBUG|INFO|WARNING|ERROR|CRITICAL):(tensorflow|absl|h5py|keras)"
)


def tensorflow() -> ModuleType:
    """Import TensorFlow once (thread-safe), its C++ INFO and WARNING lines off unless
    ``--debug``."""
    if os.environ.get(DEBUG_ENV) != "1":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _lock:
        try:
            import tensorflow as tf
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise SignetError(
                "TensorFlow is not installed: run `pip install 'signet[cpu]'` "
                "(or keep your own tensorflow 2.21)"
            ) from exc
    return tf


def is_loaded() -> bool:
    """True once TensorFlow has been imported in this process."""
    return "tensorflow" in sys.modules and hasattr(sys.modules["tensorflow"], "compat")


def quiet_tensorflow(debug: bool = False) -> None:
    """Keep TensorFlow's lines off this process's stderr (see the module doc), unless
    ``debug`` or an inherited `DEBUG_ENV`. Call before anything imports TensorFlow."""
    if debug:
        os.environ[DEBUG_ENV] = "1"  # the processes this one starts speak too
    if os.environ.get(DEBUG_ENV) == "1":
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # inherited by the processes this one starts
    for name in ("tensorflow", "py.warnings"):
        logger = logging.getLogger(name)
        if not any(isinstance(h, _Handler) for h in logger.handlers):
            logger.addHandler(_Handler())
        logger.propagate = False
    logging.captureWarnings(True)
    if "tensorflow" not in sys.modules and not any(
            isinstance(finder, _QuietImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _QuietImport())


def on_tensorflow_line(sink: Callable[[str], Any] | None) -> None:
    """Send every line `quiet_tensorflow` keeps to ``sink`` (any thread may call it), the
    lines held so far (at most the last 1000) first; None holds them again."""
    global _sink
    with _sink_lock:
        _sink = sink
        while sink is not None and _held:
            sink(_held.popleft())


def keep_line(line: str) -> None:
    """Keep ``line`` as `quiet_tensorflow` keeps TensorFlow's (a line an export process
    kept and sent to the window)."""
    with _sink_lock:
        if _sink is not None:
            _sink(line)
        else:
            _held.append(line)


class _Handler(logging.Handler):
    """TensorFlow's Python logger and Python's warnings, as kept lines."""

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage().strip()
        if record.name == "py.warnings":  # "file:line: Category: message\n  source line"
            text = text.splitlines()[0] if text else text
        keep_line(f"{record.levelname}:{record.name}: {text}")


class _QuietImport(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` as Python would, with a loader that runs it `_Captured`."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once: the package is imported only once
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _CapturedLoader(spec.loader)
        return spec


class _CapturedLoader(importlib.abc.Loader):
    """Delegates to the real loader; its ``exec_module`` (the import) runs `_Captured`."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def create_module(self, spec: Any) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        with _Captured():
            self.loader.exec_module(module)
        # TensorFlow gives its logger a stderr handler the first time it is asked for it.
        logger = module.get_logger() if hasattr(module, "get_logger") else \
            logging.getLogger("tensorflow")
        logger.handlers[:] = [h for h in logger.handlers if isinstance(h, _Handler)] or \
            [_Handler()]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loader, name)


class _Captured:
    """File descriptor 2 into a temporary file meanwhile; then TensorFlow's lines from it
    are kept and any other line is written to the real stderr, late but not lost."""

    def __enter__(self) -> None:
        try:
            self.saved: int | None = os.dup(2)
        except OSError:  # no stderr at all (a GUI started without a console): nothing to do
            self.saved = None
            return
        _flush_stderr()
        self.file = tempfile.TemporaryFile()
        os.dup2(self.file.fileno(), 2)

    def __exit__(self, *exc: object) -> None:
        if self.saved is None:
            return
        _flush_stderr()
        os.dup2(self.saved, 2)
        os.close(self.saved)
        self.file.seek(0)
        text = self.file.read().decode("utf-8", "replace")
        self.file.close()
        others = []
        for line in text.splitlines():
            if _TENSORFLOW_LINE.match(line):
                keep_line(line)
            elif line.strip():
                others.append(line)
        if others:
            os.write(2, ("\n".join(others) + "\n").encode("utf-8"))


def _flush_stderr() -> None:
    if sys.stderr is not None:  # None under pythonw
        sys.stderr.flush()
