"""Export from the GUI: the worst UI-thread stall while the export worker runs.

The ResNet-50-sized checkpoint (bench/graphs.py) is exported with the draft its
suggestions give, through the Export dialog's worker (a thread supervising the
export process, app/ui/export/process.py), while a 10 ms
``QTimer`` heartbeat runs on the UI thread; the worst gap between ticks is the
longest the window could not respond (goal: at most 100 ms). Beside it, in the
same run, the plain engine (`export_model`) called in-process with no Qt: its
time is also the stall a window running the export on its UI thread would have.
The dialog's wall time is measured as the window runs it: the window keeps one
export process warm (TensorFlow imported) from the moment its own TensorFlow is
ready, so the export starts in that process (re-reading the checkpoint there is
the price of keeping TensorFlow's GIL-holding graph imports out of the window).

    .venv/bin/python -m bench.bench_export_ui [--json] [--repeat N] [--keep-training-state]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bench.common import Figure, print_table, to_json
from bench.graphs import resnet50_checkpoint

HEARTBEAT_MS = 10
STALL_GOAL_MS = 100.0


def _draft(loaded, base: Path, name: str, strip: bool):
    from app.core.signature.draft import has_errors
    from app.core.validation.draft import draft_from_suggestions, validate

    draft = draft_from_suggestions(loaded)
    problems = validate(draft, loaded.graph)
    if has_errors(problems):
        raise SystemExit("the suggested draft does not validate: "
                         + "; ".join(str(p) for p in problems))
    draft.options.base, draft.options.name = str(base), name
    draft.options.strip_training = strip
    return draft


def export_through_dialog(app, loaded, draft, base: Path, name: str) -> tuple[float, float, list]:
    """(worst heartbeat gap in s, wall time in s, gaps) exporting with the dialog's worker."""
    from PySide6.QtCore import QEventLoop, QTimer
    from shiboken6 import isValid

    from app.ui.export.dialog import ExportDialog

    dialog = ExportDialog(loaded, draft)
    dialog.base.setText(str(base))
    dialog.name.setText(name)
    dialog.keep_training.setChecked(not draft.options.strip_training)
    dialog.show()
    ticks: list[float] = []
    timer = QTimer(interval=HEARTBEAT_MS)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    loop = QEventLoop()
    outcome: list[str] = []
    dialog.exportSucceeded.connect(lambda result: (outcome.append("ok"), loop.quit()))
    dialog.exportFailed.connect(lambda message: (outcome.append(message), loop.quit()))
    dialog.exportCancelled.connect(lambda: (outcome.append("cancelled"), loop.quit()))
    timer.start()
    start = time.perf_counter()
    QTimer.singleShot(0, dialog.start)
    loop.exec()
    wall = time.perf_counter() - start
    if isValid(dialog.task):  # a finished task may already be deleted (deleteLater)
        dialog.task.wait()
    timer.stop()
    dialog.close()
    if outcome != ["ok"]:
        raise SystemExit(f"the export through the dialog did not finish: {outcome}")
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    return max(gaps, default=wall), wall, gaps


def plain_engine(loaded, draft) -> float:
    """Seconds for `export_model` called directly (no Qt, no thread)."""
    from app.core.export import export_model

    start = time.perf_counter()
    export_model(draft, loaded)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--repeat", type=int, default=1, help="exports of each kind")
    parser.add_argument("--keep-training-state", action="store_true",
                        help="export the Adam state too (serving-only is the default)")
    args = parser.parse_args(argv)

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from app.core.loader import load_checkpoint
    from app.core.tf_runtime import tensorflow
    from app.ui.export import process as export_process
    with tempfile.TemporaryDirectory() as scratch:
        config = Path(scratch) / "config"
        QSettings.setDefaultFormat(QSettings.Format.IniFormat)
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(config))
        app = QApplication.instance() or QApplication(sys.argv[:1])
        tensorflow()  # both sides start with TensorFlow imported
        loaded = load_checkpoint(resnet50_checkpoint())
        strip = not args.keep_training_state
        stalls, walls, plains, all_gaps = [], [], [], []
        for n in range(args.repeat):  # alternate, so machine drift hits both alike
            base = Path(scratch) / f"models{n}"
            draft = _draft(loaded, base, "resnet50", strip)
            export_process.prewarm()  # as the window does once TensorFlow is ready
            if not export_process.wait_warm(600):
                raise SystemExit("the kept-warm export process never imported TensorFlow")
            stall, wall, gaps = export_through_dialog(app, loaded, draft, base, "resnet50")
            stalls.append(stall)
            walls.append(wall)
            all_gaps += gaps
            export_process.stop_warm()  # the plain engine runs without a TF import beside it
            plains.append(plain_engine(loaded, _draft(loaded, base, "plain", strip)))

    worst_ms = max(stalls) * 1000
    plain = statistics.median(plains)
    gaps_ms = sorted(g * 1000 for g in all_gaps)
    p99 = gaps_ms[int(0.99 * (len(gaps_ms) - 1))] if gaps_ms else 0.0
    figures = [
        Figure(f"worst UI stall, export worker ({len(loaded.graph):,} ops)", worst_ms, "ms",
               f"<= {STALL_GOAL_MS:.0f} ms", plain * 1000,
               "engine on the UI thread: the stall a naive window would have",
               worst_ms <= STALL_GOAL_MS),
        Figure("99th percentile heartbeat gap (10 ms timer)", p99, "ms", "", None, "", None),
        Figure("export wall time through the dialog worker", statistics.median(walls), "s",
               "<= 1.1x", plain, "plain in-process export_model (no Qt)",
               statistics.median(walls) <= 1.1 * plain),
    ]
    if args.json:
        print(to_json(figures))
    else:
        print_table(f"Export from the GUI (strip training: {strip}, verify: on, "
                    f"{args.repeat} run(s) each)", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
