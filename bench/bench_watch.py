"""`signet watch`: from a checkpoint's eval value being written to its version published.

A run folder gets the ResNet-50-sized Adam checkpoint (bench/graphs.py, hard-linked
under new step numbers) as a training job would save it; a watch polls it in a thread
(``--interval 0.5``), exporting as `signet export` does (serving-only, verified, warmup).
The first step warms the process up (TensorFlow's import, the first session); for each
timed step the clock starts when its eval ``loss`` is written, and stops when the
watch logs the version published. The goal: at most the export's own time (as the
watch measures it) plus 1 s.

    .venv/bin/python -m bench.bench_watch [--repeat 2] [--json]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.common import Figure, print_table, to_json

INTERVAL = 0.5


def _save_step(prefix: Path, run: Path, step: int) -> None:
    """Put ``prefix``'s files in ``run`` as ``model.ckpt-STEP``, then name it in the state
    file, in a Saver's order."""
    for path in prefix.parent.glob(prefix.name + ".*"):
        os.link(path, run / path.name.replace(prefix.name, f"model.ckpt-{step}"))
    (run / "checkpoint").write_text(f'model_checkpoint_path: "model.ckpt-{step}"\n'
                                    f'all_model_checkpoint_paths: "model.ckpt-{step}"\n')


def measure(prefix: Path, repeat: int) -> list[Figure]:
    from app.core.signature.draft import Draft, Signature, Slot
    from app.core.tf_runtime import tensorflow
    from app.core.watch import Policy, Watch

    tf = tensorflow()
    tf.get_logger().setLevel("ERROR")
    with tempfile.TemporaryDirectory() as scratch:
        run, base = Path(scratch) / "run", Path(scratch) / "base"
        run.mkdir()
        published: dict[int, tuple[float, float]] = {}  # version -> (when, export seconds)
        event = threading.Event()

        def log(line: str) -> None:
            print(line, file=sys.stderr, flush=True)
            if "published version" in line:
                version = int(line.split("published version ")[1].split(",")[0])
                export_s = float(line.rsplit("(export ", 1)[1].split(" s)")[0])
                published[version] = (time.perf_counter(), export_s)
                event.set()
            elif ": failed" in line or ": refused" in line:
                print(line, file=sys.stderr)

        draft = Draft([Signature(inputs=[Slot("images", "images:0")],
                                 outputs=[Slot("probabilities", "probabilities:0")])])
        watch = Watch(run, base, "resnet", draft, Policy("latest", keep=2), log=log)
        # TF2's writer: its scalars are tensor summaries, which the watch reads as well.
        writer = tf.summary.create_file_writer(str(run / "eval"))
        stop = threading.Event()
        thread = threading.Thread(target=watch.run, args=(INTERVAL, False, stop.is_set))
        latency, export = [], []
        try:
            thread.start()
            for index in range(repeat + 1):  # the first one warms the process up
                step = 100 * (index + 1)
                _save_step(prefix, run, step)
                time.sleep(1.0)  # the watch sees the checkpoint waiting for its eval value
                event.clear()
                start = time.perf_counter()
                with writer.as_default():
                    tf.summary.scalar("loss", 1.0 / step, step=step)
                writer.flush()
                if not event.wait(600) or step not in published:
                    raise SystemExit(f"step {step} was not published")
                if index:
                    when, export_s = published[step]
                    latency.append(when - start)
                    export.append(export_s)
        finally:
            stop.set()
            if thread.is_alive():
                thread.join()
            writer.close()
    print("eval → published (s): " + ", ".join(f"{x:.2f}" for x in latency) +
          "; export: " + ", ".join(f"{x:.2f}" for x in export), file=sys.stderr)
    value, own = statistics.median(latency), statistics.median(export)
    return [Figure("watch: eval value written → version published", value, "s",
                   "<= export+1s", own, "the export's own time (as the watch measures it)",
                   value <= own + 1.0)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2, help="timed steps")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    from bench.graphs import resnet50_checkpoint

    figures = measure(resnet50_checkpoint(), args.repeat)
    if args.json:
        print(to_json(figures))
    else:
        print_table("signet watch on the ResNet-50-sized checkpoint", figures)


if __name__ == "__main__":
    main()
