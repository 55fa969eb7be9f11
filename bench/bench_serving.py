"""Serving readiness on the ResNet-50-sized checkpoint: the warmup's share of an export, and
`signet run` against `saved_model_cli run` on the same input.

One export (verification and warmup on, as `signet export` runs by default; the training
state kept, the largest export, as the warmup's share was first measured) is timed by
stage in a child process; then `signet run` (a REST body) and `saved_model_cli run`
(the same images as .npy) answer the same request on that export, alternating, each a
fresh process as a user runs them (so both include loading TensorFlow and the model).

    .venv/bin/python -m bench.bench_serving [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import Figure, print_table, to_json

ROOT = Path(__file__).resolve().parents[1]
WARMUP_MESSAGE = "Writing and replaying"


def _export_child(prefix: Path, out: Path) -> None:
    from app.core.export import export_model
    from app.core.signature.draft import Draft, Signature, Slot
    from app.core.tf_runtime import tensorflow

    tensorflow().get_logger().setLevel("ERROR")
    draft = Draft([Signature(inputs=[Slot("images", "images:0")],
                             outputs=[Slot("probabilities", "probabilities:0")])])
    draft.options.base, draft.options.name = str(out), "resnet"
    draft.options.strip_training = False  # --keep-training-state: the whole export
    marks: dict[str, float] = {}
    start = time.perf_counter()
    result = export_model(draft, prefix, progress=lambda f, m: marks.setdefault(
        m, time.perf_counter()))
    wall = time.perf_counter() - start
    began = next(t for m, t in marks.items() if m.startswith(WARMUP_MESSAGE))
    ended = next(t for m, t in marks.items() if m.startswith("Publishing"))
    print(json.dumps({"wall": wall, "warmup": ended - began, "path": str(result.path)}))


def _timed(argv: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{argv[:3]} failed:\n{proc.stderr[-2000:]}")
    return wall, proc.stdout


def measure(prefix: Path, repeat: int, work: Path) -> list[Figure]:
    _, out = _timed([sys.executable, "-m", "bench.bench_serving", "--child", str(prefix),
                        str(work)])
    export = json.loads(out.strip().splitlines()[-1])
    version = Path(export["path"])
    images = np.random.default_rng(0).normal(size=(1, 64, 64, 3)).astype(np.float32)
    npy = work / "images.npy"
    np.save(npy, images)
    body = work / "body.json"
    body.write_text(json.dumps({"instances": images.tolist()}))
    cli = str(Path(sys.executable).with_name("saved_model_cli"))
    ours_argv = [sys.executable, "-m", "app", "run", str(version), "--request", str(body)]
    theirs_argv = [cli, "run", "--dir", str(version), "--tag_set", "serve",
                   "--signature_def", "serving_default", "--inputs", f"images={npy}"]
    ours, theirs = [], []
    answer = ""
    for _ in range(repeat):
        took, answer = _timed(ours_argv)
        ours.append(took)
        theirs.append(_timed(theirs_argv)[0])
    got = np.array(json.loads(answer)["predictions"], np.float32)
    assert got.shape[0] == 1 and abs(float(got.sum()) - 1.0) < 1e-3, "run gave no softmax"
    baseline = "saved_model_cli run (same export, same images as .npy), fresh process each"
    share = export["warmup"] / export["wall"]
    return [
        Figure("signet run (REST body) wall time", statistics.median(ours), "s", "<=1.5x",
               statistics.median(theirs), baseline,
               statistics.median(ours) <= 1.5 * statistics.median(theirs)),
        Figure("warmup (write + replay) time", export["warmup"], "s", "reported",
               export["wall"], "whole export (training state kept, verify + warmup on)"),
        Figure("warmup share of export time", 100 * share, "%", "<=25%", None, "",
               share <= 0.25),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="alternating runs of each")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("out", nargs="?", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _export_child(Path(args.child), Path(args.out))
        return
    from bench.graphs import resnet50_checkpoint

    prefix = resnet50_checkpoint()
    with tempfile.TemporaryDirectory(prefix="signet-bench-serving-") as work:
        figures = measure(prefix, args.repeat, Path(work))
    if args.json:
        print(to_json(figures))
    else:
        print_table(f"serving readiness on {prefix.parent.name} ({args.repeat} alternating "
                    "runs, medians)", figures)


if __name__ == "__main__":
    main()
