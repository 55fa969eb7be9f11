"""Window speed: time to screen, UI-thread stalls while opening, search per keystroke.

Side by side in one run:

- the window appearing (``python -m app`` offscreen, ``SIGNET_EXIT_WHEN_SHOWN=1``), the
  op tree of the demo and of the ResNet-50-sized checkpoint shown after launch
  (``SIGNET_EXIT_WHEN_SHOWN=loaded``) and ``signet inspect --json`` on it, against a bare
  ``python -c "import tensorflow"``, alternating, medians;
- the worst gap of a 10 ms ``QTimer`` heartbeat while the window opens the
  ResNet-50-sized checkpoint in its worker thread, against calling
  ``load_checkpoint`` on the UI thread (what a naive window would do);
- the UI-thread time per keystroke for the search box at 100k ops (core search,
  filtering the tree, expansion, relayout and the repaint), against the core
  search alone and against Qt's own recipe, a ``QSortFilterProxyModel`` with
  ``setRecursiveFilteringEnabled(True)`` over the unfiltered model.

    .venv/bin/python -m bench.bench_ui [--json] [--quick]
"""

from __future__ import annotations

import argparse
import gc
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bench.common import Figure, print_table, to_json
from bench.graphs import resnet50_checkpoint, synthetic_checkpoint

ROOT = Path(__file__).resolve().parents[1]
HEARTBEAT_MS = 10
TYPED = ["layer1", "tower3/block7", "type:MatMul", "relu"]
PASSES = 3
FRAME_WAIT_S = 0.05  # Qt repaints at its next frame, after the keystroke's own events


def _env(config: str, exit_when: str = "1") -> dict[str, str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=config)
    env["SIGNET_EXIT_WHEN_SHOWN"] = exit_when
    return env


def _launched(argv: list[str], env: dict[str, str], mark: str) -> float:
    """Seconds from process start to the epoch time the app printed on its ``mark`` line."""
    start = time.time()
    out = subprocess.run([sys.executable, "-m", "app", *argv], env=env, cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith(mark))
    if not line.endswith("tensorflow=False"):
        raise SystemExit(f"TensorFlow was imported before the window showed: {line}")
    stamp = line.split()[1] if mark == "shown " else line.split(" at=")[1].split()[0]
    return float(stamp) - start


def _wall(argv: list[str], env: dict[str, str]) -> float:
    start = time.time()
    subprocess.run([sys.executable, *argv], env=env, cwd=ROOT, check=True, capture_output=True)
    return time.time() - start


def window_to_screen(repeat: int, prefix: Path) -> list[Figure]:
    """From process start to the window shown, to the demo's and the 10k-op checkpoint's op
    tree shown, and ``signet inspect --json`` on the 10k-op checkpoint, each against a bare
    ``import tensorflow`` run alternately with them (medians)."""
    from app.demo import demo_checkpoint

    runs: dict[str, list[float]] = {k: [] for k in ("shown", "demo", "10k", "inspect", "tf")}
    with tempfile.TemporaryDirectory() as config:
        env, loaded = _env(config), _env(config, "loaded")
        for _ in range(repeat):
            runs["shown"].append(_launched([], env, "shown "))
            runs["tf"].append(_wall(["-c", "import tensorflow"], env))
            runs["demo"].append(_launched([str(demo_checkpoint())], loaded, "loaded "))
            runs["10k"].append(_launched([str(prefix)], loaded, "loaded "))
            runs["tf"].append(_wall(["-c", "import tensorflow"], env))
            runs["inspect"].append(_wall(["-m", "app", "inspect", "--json", str(prefix)], env))
    median = {k: statistics.median(v) for k, v in runs.items()}
    base, name = median["tf"], "python -c 'import tensorflow'"
    return [
        Figure("window on screen (process start to shown)", median["shown"], "s", "<= 0.5x TF",
               base, name, met=median["shown"] <= 0.5 * base),
        Figure("demo's op tree shown after launch", median["demo"], "s", "<= 1 s", base, name,
               met=median["demo"] <= 1.0),
        Figure("10k-op tree shown after launch (ResNet-50)", median["10k"], "s", "<= 0.5x TF",
               base, name, met=median["10k"] <= 0.5 * base),
        Figure("signet inspect --json, 10k ops", median["inspect"], "s", "<= 0.5x TF", base,
               name, met=median["inspect"] <= 0.5 * base),
    ]


def _heartbeat_max_gap(app, run_until_done) -> float:
    """Worst gap between 10 ms timer ticks while ``run_until_done(stop)`` works."""
    from PySide6.QtCore import QTimer

    ticks: list[float] = []
    timer = QTimer(interval=HEARTBEAT_MS)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    run_until_done(app)
    ticks.append(time.perf_counter())  # a stall at the very end counts too
    timer.stop()
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    return max(gaps) if gaps else float("inf")


def ui_stall(app, prefix: Path, repeat: int) -> list[Figure]:
    from PySide6.QtCore import QEventLoop, QTimer

    from app.core.loader import load_checkpoint
    from app.core.tf_runtime import tensorflow
    from app.ui.shell.window import MainWindow

    tensorflow()  # the window warms TensorFlow up at start; measure the open itself
    window = MainWindow(warm_up=False)
    window.show()

    def open_in_window(app) -> None:
        loop = QEventLoop()
        window.checkpointLoaded.connect(loop.quit)
        window.loadFailed.connect(loop.quit)
        QTimer.singleShot(20, lambda: window.open_path(prefix, remember=False))
        loop.exec()
        window.checkpointLoaded.disconnect(loop.quit)
        window.loadFailed.disconnect(loop.quit)
        QTimer.singleShot(200, loop.quit)  # keep ticking while the panels repaint
        loop.exec()

    def open_on_ui_thread(app) -> None:
        loop = QEventLoop()
        QTimer.singleShot(20, lambda: (load_checkpoint(prefix).suggestions, loop.quit()))
        loop.exec()

    ours, naive = [], []
    for _ in range(repeat):
        ours.append(_heartbeat_max_gap(app, open_in_window))
        naive.append(_heartbeat_max_gap(app, open_on_ui_thread))
    n_ops = len(window.loaded.graph) if window.loaded is not None else 0
    window.close()
    worst = max(ours)
    return [Figure(f"worst UI-thread stall opening ResNet-50 ({n_ops} ops)", worst * 1000, "ms",
                   "<= 100 ms", max(naive) * 1000, "load_checkpoint on the UI thread",
                   met=worst <= 0.1)]


def _keystrokes(queries: list[str]) -> list[str]:
    return [q[:i] for q in queries for i in range(1, len(q) + 1)]


def _busy(app, action, *args) -> float:
    """UI-thread seconds spent on ``action(*args)`` and the events it leaves, including
    the repaint Qt makes at its next frame (waited for; the waiting is not counted)."""
    start = time.perf_counter()
    action(*args)
    app.processEvents()
    busy = time.perf_counter() - start
    settle = time.perf_counter() + FRAME_WAIT_S
    while time.perf_counter() < settle:
        time.sleep(0.005)  # polling, not work: only the processEvents calls count
        start = time.perf_counter()
        app.processEvents()
        busy += time.perf_counter() - start
    return busy


def search_latency(app, prefix: Path, quick: bool) -> list[Figure]:
    from PySide6.QtCore import QSortFilterProxyModel

    from app.core.loader import load_checkpoint
    from app.ui.browse.op_tree import OpTreePanel
    from app.ui.browse.tree_model import OpTreeModel, TreeOrder

    loaded = load_checkpoint(prefix)
    order = TreeOrder(loaded.graph)  # the window makes these while loading
    loaded.search_index.index_pieces()
    # The window's loading job freezes each model and its tree order out of the cyclic
    # GC's sight (app/ui/shell/window.py); without that, a full collection pass over a
    # 100k-op model would land in some keystroke.
    gc.freeze()
    panel = OpTreePanel()
    panel.resize(600, 800)
    panel.show()
    panel.set_checkpoint(loaded, order)
    app.processEvents()
    strokes = _keystrokes(TYPED[:2] if quick else TYPED)

    def keystroke(text: str) -> None:
        panel.search.setText(text)
        panel.apply_search()

    # The typed sequence PASSES times; each keystroke's figure is its median over the
    # passes, so one scheduling hiccup of a shared machine does not stand for a keystroke.
    passes = [[_busy(app, keystroke, t) for t in strokes] for _ in range(1 if quick else PASSES)]
    ours = [statistics.median(times) for times in zip(*passes, strict=True)]
    core = []
    for text in strokes:
        start = time.perf_counter()
        loaded.search_index.search(text)
        core.append(time.perf_counter() - start)

    class RecursiveProxy(QSortFilterProxyModel):
        """Qt's recipe: a proxy accepting the matching ops, Qt keeping their ancestors
        (the same precomputed matches, so only the filtering differs)."""

        def __init__(self) -> None:
            super().__init__()
            self.setRecursiveFilteringEnabled(True)
            self.matches = None

        def filterAcceptsRow(self, source_row, source_parent) -> bool:
            if self.matches is None:
                return True
            obj = self.sourceModel().index(source_row, 0, source_parent).internalPointer()
            return getattr(obj, "op", None) is not None and self.matches.is_match(obj)

    unfiltered = OpTreeModel()
    unfiltered.set_graph(loaded.graph, panel.model.order)
    recursive = RecursiveProxy()
    recursive.setSourceModel(unfiltered)
    panel.view.setModel(recursive)

    def qt_keystroke(text: str) -> None:
        recursive.beginFilterChange()
        recursive.matches = unfiltered.order.matches(loaded.search_index.search(text).indices)
        recursive.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    qt_times = [_busy(app, qt_keystroke, t) for t in ("tower3/block7", "type:MatMul", "layer1")]
    panel.close()
    n_ops = len(loaded.graph)
    median, worst = statistics.median(ours), max(ours)
    return [
        Figure(f"search per keystroke, median ({n_ops} ops)", median * 1000, "ms", "<= 5 ms",
               statistics.median(core) * 1000, "core SearchIndex.search alone",
               met=median <= 0.005),
        Figure(f"search per keystroke, worst of {len(strokes)} (median of {len(passes)} passes)",
               worst * 1000, "ms", "<= 16 ms", max(qt_times) * 1000,
               "worst of 3 queries, Qt's QSortFilterProxyModel recursive filtering",
               met=worst <= 0.016),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args(argv)
    repeat = 2 if args.quick else 5

    figures = window_to_screen(repeat, resnet50_checkpoint())
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    figures += ui_stall(app, resnet50_checkpoint(), 2 if args.quick else 3)
    figures += search_latency(app, synthetic_checkpoint(), args.quick)
    if args.json:
        print(to_json(figures))
    else:
        print_table("Signet window", figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
