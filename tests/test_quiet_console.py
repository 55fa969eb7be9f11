"""A quiet console: `signet export` writes Signet's own lines only; `--debug` lets
TensorFlow speak (its C++ log lines, its Python deprecation warnings)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from app.demo import demo_checkpoint

ROOT = Path(__file__).resolve().parents[1]
# Every line `signet export` itself writes on stderr: progress, rewrites, a one-line error.
SIGNET_LINE = re.compile(r"\[ *\d+%\] |Training → serving: |signet: ")
TENSORFLOW_LINE = re.compile(r"^([IWEF]\d{4} |WARNING: All log messages|WARNING:tensorflow)", re.M)


def _export(tmp_path: Path, *flags: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}  # no TF_CPP_MIN_LOG_LEVEL here
    return subprocess.run([sys.executable, "-m", "app", "export", str(demo_checkpoint()),
                           "--out", str(tmp_path / "models"), "--name", "demo", *flags],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)


def test_export_writes_only_signets_lines(tmp_path):
    done = _export(tmp_path)
    assert done.returncode == 0, done.stderr
    foreign = [line for line in done.stderr.splitlines() if not SIGNET_LINE.match(line)]
    assert foreign == [], done.stderr
    assert "[100%] Published" in done.stderr
    assert not TENSORFLOW_LINE.search(done.stdout), done.stdout


def test_debug_shows_tensorflows_own_lines(tmp_path):
    done = _export(tmp_path, "--debug")
    assert done.returncode == 0, done.stderr
    # The export calls TF1 APIs TensorFlow warns about on every machine (extract_sub_graph…).
    assert re.search(r"WARNING:tensorflow:.* is deprecated", done.stderr), done.stderr
    assert "[100%] Published" in done.stderr
