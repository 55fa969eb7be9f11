"""Build a test checkpoint in a fresh Python process, the way TF 1.x wrote it.

`tf.compat.v1.disable_v2_behavior()` (ref variables, v1 while/cond with
Enter/Exit/Merge/Switch, queues) and `TF_USE_LEGACY_KERAS=1` (which
`tf.compat.v1.layers` needs) are process-wide switches that must be set before
the first graph is built, so the test process itself, which builds TF2-behaviour
graphs, cannot flip them. `build` runs a builder function in a child process
with the switches set and returns the JSON-able dict the builder returned.

A builder is any importable ``module:function`` taking ``(directory: Path, **kwargs)``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
_MARK = "SIGNET-BUILD-RESULT "


def build(target: str, directory: Path, *, v1: bool = True, legacy_keras: bool = False,
          **kwargs: Any) -> dict[str, Any]:
    """Run ``target`` (``"tests.module:function"``) in a child process; return its dict."""
    directory.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    if legacy_keras:
        env["TF_USE_LEGACY_KERAS"] = "1"
    argv = [sys.executable, "-m", "tests.isolated_build", target, str(directory),
            json.dumps(kwargs), "v1" if v1 else "v2"]
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"building {target} failed:\n{proc.stderr[-4000:]}")
    line = next((x for x in reversed(proc.stdout.splitlines()) if x.startswith(_MARK)), None)
    if line is None:
        raise RuntimeError(f"{target} printed no result:\n{proc.stdout[-2000:]}")
    return json.loads(line[len(_MARK):])


def _main(target: str, directory: str, kwargs: str, behaviour: str) -> None:
    import importlib

    import tensorflow as tf

    if behaviour == "v1":
        tf.compat.v1.disable_v2_behavior()
    module, _, function = target.partition(":")
    result = getattr(importlib.import_module(module), function)(Path(directory),
                                                                **json.loads(kwargs))
    print(_MARK + json.dumps(result or {}, default=str), flush=True)


if __name__ == "__main__":
    _main(*sys.argv[1:5])
