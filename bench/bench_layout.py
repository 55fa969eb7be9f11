"""Graph view speed on the ResNet-50-sized training graph, against plain networkx.

Figures (median of --repeat runs, each on a fresh `GraphLayouter`, so every
per-graph index is rebuilt and nothing is cached between runs):

- overview: collapsed top-level layout + items built + painted into a 1280x800
  image at the fitted zoom (what the panel does when a checkpoint opens);
- expand: one scope (the largest in the overview) opened after the overview,
  laid out, items rebuilt and painted;
- overview with training machinery shown (no goal: a toggle, not the first view).

The baseline, measured in the same run, is the plain networkx recipe for a
layered picture: build the op DiGraph, take topological generations as layers
and call ``nx.multipartite_layout`` (positions only, nothing painted). The ratio
is ours / baseline (below 1 is faster). The checkpoint's suggestions are computed
before timing, as the window computes them when a checkpoint opens.

    python bench/bench_layout.py [--checkpoint PATH] [--repeat 5] [--json]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import networkx as nx

from app.core.graph.graph_view_model import ViewState
from app.core.graph.layout import GraphLayouter
from app.core.graph.opgraph import OpGraph
from app.core.loader import LoadedCheckpoint, load_checkpoint
from bench.common import Figure, to_json

GOALS = {"overview": 0.3, "expand": 0.2}


def _paint(scene, loaded: LoadedCheckpoint, layout) -> None:
    from PySide6.QtCore import QRectF, Qt
    from PySide6.QtGui import QImage, QPainter

    from app.ui.graph.panel import highlights_of

    scene.set_graph(loaded.graph, highlights_of(loaded))
    scene.show_layout(layout)
    image = QImage(1280, 800, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.white)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    scene.render(painter, QRectF(image.rect()), scene.sceneRect(),
                 Qt.AspectRatioMode.KeepAspectRatio)
    painter.end()


def _overview(loaded: LoadedCheckpoint, scene, show_training: bool = False) -> float:
    start = time.perf_counter()
    layouter = GraphLayouter(loaded.graph)
    layout = layouter.layout(ViewState(show_training=show_training))
    _paint(scene, loaded, layout)
    return time.perf_counter() - start


def _expand(loaded: LoadedCheckpoint, scene) -> tuple[float, str]:
    layouter = GraphLayouter(loaded.graph)
    overview = layouter.layout(ViewState())
    _paint(scene, loaded, overview)
    biggest = max((n for n in overview.nodes.values() if n.is_scope), key=lambda n: n.op_count)
    start = time.perf_counter()
    layout = layouter.layout(ViewState(frozenset({biggest.id[:-1]})))
    _paint(scene, loaded, layout)
    return time.perf_counter() - start, biggest.id


def _baseline(loaded: LoadedCheckpoint) -> float:
    """Plain networkx: DiGraph of every op and edge, generations as layers, multipartite."""
    start = time.perf_counter()
    graph = OpGraph(loaded.graph.meta_graph).digraph  # a fresh graph: nothing cached
    dag = graph.copy()
    dag.remove_edges_from([(u, v) for u, v in graph.edges
                           if loaded.graph.ops[u].type == "NextIteration"])
    for layer, nodes in enumerate(nx.topological_generations(dag)):
        for node in nodes:
            dag.nodes[node]["layer"] = layer
    nx.multipartite_layout(dag, subset_key="layer", align="horizontal")
    return time.perf_counter() - start


def run(checkpoint: Path, repeat: int) -> dict:
    from PySide6.QtWidgets import QApplication

    from app.ui.graph.scene import GraphScene

    app = QApplication.instance() or QApplication([])
    loaded = load_checkpoint(checkpoint)
    _ = loaded.suggestions
    scene = GraphScene()
    overview = statistics.median(_overview(loaded, scene) for _ in range(repeat))
    runs = [_expand(loaded, scene) for _ in range(repeat)]
    expand = statistics.median(t for t, _ in runs)
    training = statistics.median(_overview(loaded, scene, True) for _ in range(repeat))
    baseline = statistics.median(_baseline(loaded) for _ in range(max(1, repeat // 2)))
    del app
    return {
        "checkpoint": str(loaded.checkpoint.prefix),
        "ops": len(loaded.graph.ops),
        "edges": loaded.graph.digraph.number_of_edges(),
        "expanded_scope": runs[0][1],
        "baseline_s": baseline,
        "figures": {
            "overview": {"seconds": overview, "goal": GOALS["overview"],
                         "ratio": overview / baseline},
            "expand": {"seconds": expand, "goal": GOALS["expand"], "ratio": expand / baseline},
            "overview_training": {"seconds": training, "goal": None,
                                  "ratio": training / baseline},
        },
    }


def print_table(result: dict) -> None:
    print(f"{result['checkpoint']}: {result['ops']:,} ops, {result['edges']:,} edges; "
          f"expanded {result['expanded_scope']}")
    print(f"baseline (networkx DiGraph + generations + multipartite_layout): "
          f"{result['baseline_s']:.3f} s")
    print(f"{'figure':<38}{'value':>10}{'goal':>10}{'vs networkx':>14}")
    names = {"overview": "collapsed overview, laid out+painted",
             "expand": "one scope expanded",
             "overview_training": "overview with training shown"}
    for key, fig in result["figures"].items():
        goal = f"≤{fig['goal']:.2f} s" if fig["goal"] is not None else "-"
        ok = "" if fig["goal"] is None else ("  ok" if fig["seconds"] <= fig["goal"] else "  MISS")
        print(f"{names[key]:<38}{fig['seconds']:>8.3f} s{goal:>10}{fig['ratio']:>13.3f}x{ok}")


def figures(result: dict) -> list[Figure]:
    """The result as the figures every bench prints (for `python -m bench`)."""
    names = {"overview": f"layout: collapsed overview, laid out+painted ({result['ops']} ops)",
             "expand": "layout: one scope expanded",
             "overview_training": "layout: overview with training shown"}
    out = []
    for key, fig in result["figures"].items():
        goal = fig["goal"]
        out.append(Figure(names[key], fig["seconds"], "s",
                          f"<= {goal} s" if goal is not None else "", result["baseline_s"],
                          "networkx DiGraph + generations + multipartite_layout",
                          met=None if goal is None else fig["seconds"] <= goal))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, help="default: bench/graphs.py ResNet-50")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    checkpoint = args.checkpoint
    if checkpoint is None:
        from bench.graphs import resnet50_checkpoint

        checkpoint = resnet50_checkpoint()
    result = run(checkpoint, max(1, args.repeat))
    if args.json:
        print(to_json(figures(result)))
    else:
        print_table(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
