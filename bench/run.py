"""Run every benchmark and print one table (``python -m bench [--json] [--quick]``).

Each bench module runs in its own process (a fresh interpreter, so import
costs and peak memory are not shared between them) with ``--json``; the
figures are merged into one table: figure, value, goal, and the ratio against
the plain TensorFlow recipe measured side by side in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from bench.common import Figure, print_table

ROOT = Path(__file__).resolve().parents[1]
# Module, extra arguments for --quick.
BENCHES = [
    ("bench.bench_core", ["--quick"]),
    ("bench.bench_layout", []),
    ("bench.bench_ui", ["--quick"]),
    ("bench.bench_export", ["--repeat", "2"]),
    ("bench.bench_export_ui", []),
    ("bench.bench_serving", ["--repeat", "1"]),
    ("bench.bench_rewrite", ["--quick"]),
    ("bench.bench_watch", ["--repeat", "1"]),
]


def run_one(module: str, extra: list[str]) -> tuple[list[Figure], str | None]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-m", module, "--json", *extra], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return [], f"{module} failed: {tail[0]}"
    text = proc.stdout
    start = text.find("{")
    try:
        data = json.loads(text[start:])
    except ValueError:
        return [], f"{module} printed no JSON"
    figures = []
    try:
        for item in data.values():
            item.pop("ratio", None)
            figures.append(Figure(**item))
    except (AttributeError, TypeError) as exc:
        return [], f"{module} printed JSON of another shape ({exc})"
    return figures, None


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--only", nargs="*", help="module names to run (e.g. bench_core)")
    args = parser.parse_args(argv)
    figures: list[Figure] = []
    failures: list[str] = []
    started = time.time()
    for module, quick_args in BENCHES:
        if args.only and module.split(".")[-1] not in args.only:
            continue
        print(f"running {module} ...", file=sys.stderr, flush=True)
        got, error = run_one(module, quick_args if args.quick else [])
        figures += got
        if error:
            failures.append(error)
    if args.json:
        print(json.dumps({
            "machine": machine(),
            "seconds": round(time.time() - started, 1),
            "failures": failures,
            "figures": {f.name: {"value": f.value, "unit": f.unit, "goal": f.goal,
                                 "baseline": f.baseline, "baseline_name": f.baseline_name,
                                 "ratio": f.ratio, "met": f.met} for f in figures},
        }, indent=2))
    else:
        print_table(f"Signet benchmarks — {machine()}", figures)
        for failure in failures:
            print(f"  FAILED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
