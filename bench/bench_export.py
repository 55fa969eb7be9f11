"""Export speed and memory against the plain TensorFlow recipe without verification.

On the ResNet-50-sized Adam checkpoint (bench/graphs.py). Every run is its own
subprocess, so peak memory is that process's max RSS (``resource.getrusage``)
and no run inherits another's caches; `signet export --no-verify --no-warmup`,
the plain recipe (import meta graph, restore, SavedModelBuilder) and the verified
export (verification, and the warmup file written and replayed) alternate and
the medians are compared. Those keep the training state (``--keep-training-state``),
as the plain recipe does; the serving-only export (the default) is measured once in
the same run, with its variables' size. Ours includes what the plain recipe skips:
parsing and validating the graph first, and fsync before the atomic rename.

    .venv/bin/python -m bench.bench_export [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import Figure, print_table, to_json

ROOT = Path(__file__).resolve().parents[1]
KEEP = "export --keep-training-state"  # the rows the plain recipe, which keeps all, compares
INPUTS = {"images": "images:0"}
OUTPUTS = {"probabilities": "probabilities:0"}


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _ours(prefix: Path, out: Path, verify: bool, strip: bool) -> dict:
    """``verify``: verified, warmup written and replayed (else neither); ``strip``:
    serving-only (the default), else ``--keep-training-state``."""
    from app.core.export import export_model
    from app.core.signature.draft import Draft, Signature, Slot

    draft = Draft([Signature(inputs=[Slot(k, t) for k, t in INPUTS.items()],
                             outputs=[Slot(k, t) for k, t in OUTPUTS.items()])])
    draft.options.base, draft.options.name = str(out), "resnet"
    draft.options.verify, draft.options.strip_training = verify, strip
    draft.options.warmup = verify
    marks: dict[str, float] = {}
    start = time.perf_counter()
    result = export_model(draft, prefix, progress=lambda f, m: marks.setdefault(m.split()[0],
                                                                               time.perf_counter()))
    wall = time.perf_counter() - start
    verify_s = marks["Publishing"] - marks["Verifying"] if verify else 0.0
    return {"wall": wall, "verify": verify_s, "variables": _size(result.path / "variables")}


def _plain(prefix: Path, out: Path) -> dict:
    """The recipe a hand-written export script uses."""
    from app.core.tf_runtime import tensorflow

    tf = tensorflow()
    tf1 = tf.compat.v1
    start = time.perf_counter()
    graph = tf.Graph()
    with graph.as_default():
        saver = tf1.train.import_meta_graph(str(prefix) + ".meta", clear_devices=True)
        with tf1.Session(graph=graph) as sess:
            saver.restore(sess, str(prefix))

            def info(names):
                return {k: tf1.saved_model.build_tensor_info(graph.get_tensor_by_name(t))
                        for k, t in names.items()}

            sig = tf1.saved_model.signature_def_utils.build_signature_def(
                info(INPUTS), info(OUTPUTS), "tensorflow/serving/predict")
            path = out / "resnet" / "1"
            builder = tf1.saved_model.Builder(str(path))
            builder.add_meta_graph_and_variables(
                sess, ["serve"], signature_def_map={"serving_default": sig},
                main_op=tf1.tables_initializer(), strip_default_attrs=True)
            builder.save()
    return {"wall": time.perf_counter() - start, "verify": 0.0,
            "variables": _size(path / "variables")}


def child(kind: str, prefix: Path) -> None:
    from app.core.tf_runtime import tensorflow

    tensorflow().get_logger().setLevel("ERROR")
    with tempfile.TemporaryDirectory() as out:
        if kind == "plain":
            result = _plain(prefix, Path(out))
        else:
            result = _ours(prefix, Path(out), verify=kind == "verify", strip=kind == "strip")
    result["rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps(result))


def _spawn(kind: str, prefix: Path) -> dict:
    # Start every run with no dirty pages left by the previous one: the plain recipe does
    # not fsync, so its writes would otherwise be flushed during (and billed to) our run.
    os.sync()
    out = subprocess.run([sys.executable, "-m", "bench.bench_export", "--child", kind,
                          str(prefix)], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{kind} run failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(prefix: Path, repeat: int) -> list[Figure]:
    runs: dict[str, list[dict]] = {"ours": [], "plain": [], "verify": []}
    for _ in range(repeat):
        for kind, done in runs.items():
            done.append(_spawn(kind, prefix))
    print("wall per run (s), " + "; ".join(
        f"{kind}: " + ", ".join(f"{r['wall']:.2f}" for r in done)
        for kind, done in runs.items()), file=sys.stderr)
    ours, plain, verify = runs["ours"], runs["plain"], runs["verify"]
    strip = _spawn("strip", prefix)

    def med(runs: list[dict], key: str) -> float:
        return statistics.median(r[key] for r in runs)

    baseline = "plain TF recipe: import_meta_graph + restore + SavedModelBuilder"
    wall, wall_plain = med(ours, "wall"), med(plain, "wall")
    rss, rss_plain = med(ours, "rss") / 2**20, med(plain, "rss") / 2**20
    full_vars = med(ours, "variables") / 2**20
    checked, checked_rss = med(verify, "wall"), med(verify, "rss") / 2**20
    return [
        Figure(f"{KEEP} --no-verify --no-warmup wall time", wall, "s", "<=1.15x",
               wall_plain, baseline, wall <= 1.15 * wall_plain),
        Figure(f"{KEEP} --no-verify --no-warmup peak RSS", rss, "MiB", "<=1.3x", rss_plain,
               baseline, rss <= 1.3 * rss_plain),
        Figure(f"{KEEP}: verification + warmup (own stages)", med(verify, "verify"), "s",
               "reported", wall_plain, baseline),
        Figure(f"{KEEP} with verification wall time", checked, "s", "<=1.3x", wall_plain,
               baseline, checked <= 1.3 * wall_plain),
        Figure(f"{KEEP} with verification peak RSS", checked_rss, "MiB", "<=1.3x",
               rss_plain, baseline, checked_rss <= 1.3 * rss_plain),
        Figure("serving-only export (default) variables size", strip["variables"] / 2**20,
               "MiB", "<=0.4x full", full_vars, "--keep-training-state export's variables",
               strip["variables"] <= 0.4 * full_vars * 2**20),
        Figure("serving-only export --no-verify --no-warmup wall time", strip["wall"], "s",
               "reported", wall_plain, baseline),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="alternating runs of each")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("prefix", nargs="?", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, Path(args.prefix))
        return
    from bench.graphs import resnet50_checkpoint

    prefix = resnet50_checkpoint()
    figures = measure(prefix, args.repeat)
    if args.json:
        print(to_json(figures))
    else:
        print_table(f"signet export on {prefix.parent.name} ({args.repeat} alternating runs, "
                    "medians, one subprocess per run)", figures)


if __name__ == "__main__":
    main()
