"""Core speed: checkpoint to full op-graph model, the proposal, and search latency, at 10k
and 100k ops.

Side by side in one run: Signet's model build against the bare protobuf parse of
the same ``.meta`` and against what a hand-written script does to list tensor
names (``import_meta_graph`` + ``get_operations``).

    .venv/bin/python -m bench.bench_core [--json] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from bench.common import Figure, alternating, print_table, to_json
from bench.graphs import resnet50_checkpoint, synthetic_checkpoint

QUERIES = ["conv", "type:MatMul", "block3/conv2", "Adam", "layer4", "bias", "zzz-nothing"]


def _parse_bare(meta: Path):
    from tensorflow.core.protobuf import meta_graph_pb2

    proto = meta_graph_pb2.MetaGraphDef()
    proto.ParseFromString(meta.read_bytes())
    return proto


def _import_meta_graph(meta: Path):
    from app.core.tf_runtime import tensorflow

    tf = tensorflow()
    with tf.Graph().as_default() as graph:
        tf.compat.v1.train.import_meta_graph(str(meta), clear_devices=True)
        return [t.name for op in graph.get_operations() for t in op.outputs]


def measure(label: str, prefix: Path, goal_s: float, repeat: int,
            proposal_goal_s: float) -> list[Figure]:
    from app.core.loader import load_checkpoint

    meta = prefix.with_name(prefix.name + ".meta")
    load_checkpoint(prefix)  # warm caches
    ours, bare = alternating(lambda: load_checkpoint(prefix), lambda: _parse_bare(meta),
                             repeat)
    loaded = load_checkpoint(prefix)
    n_ops = len(loaded.graph.ops)
    figures = [
        Figure(f"{label}: checkpoint to full model ({n_ops} ops)", ours, "s", f"<= {goal_s} s",
               bare, "bare MetaGraphDef.ParseFromString", met=ours <= goal_s),
    ]
    if repeat > 1:
        imp = statistics.median(_timed(lambda: _import_meta_graph(meta)) for _ in range(2))
        figures.append(Figure(f"{label}: vs import_meta_graph + get_operations", ours, "s",
                              "", imp, "import_meta_graph + get_operations"))
    proposal = _proposal_time(prefix, max(3, repeat // 2))
    figures.append(Figure(f"{label}: proposal (signature to serve + candidates)", proposal,
                          "s", f"<= {proposal_goal_s} s", met=proposal <= proposal_goal_s))
    latencies = []
    for query in QUERIES:
        for regex in (False, True):
            start = time.perf_counter()
            loaded.search_index.search(query, regex=regex)
            latencies.append(time.perf_counter() - start)
    worst = max(latencies) * 1000
    figures.append(Figure(f"{label}: search latency, worst of {len(latencies)}", worst, "ms",
                          "<= 50 ms", met=worst <= 50))
    return figures


def _proposal_time(prefix: Path, repeat: int) -> float:
    """Median time of the proposal on freshly opened graphs (it is kept per graph)."""
    from app.core.loader import load_checkpoint
    from app.core.proposal.suggest import suggest

    times = []
    for _ in range(repeat):
        graph = load_checkpoint(prefix, index_names=False).graph
        times.append(_timed(lambda graph=graph: suggest(graph)))
    return statistics.median(times)


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    import gc

    from app.core.tf_runtime import tensorflow

    tensorflow()
    # As the app does after importing TensorFlow (app/ui/shell/window.py): its ~1M
    # long-lived objects leave the cyclic collector's sight.
    gc.freeze()
    repeat = 3 if args.quick else 7
    figures = measure("10k (ResNet-50 + Adam)", resnet50_checkpoint(), 0.15, repeat, 0.1)
    figures += measure("100k (synthetic)", synthetic_checkpoint(), 1.0, max(3, repeat // 2),
                       0.5)
    if args.json:
        print(to_json(figures))
    else:
        print_table("Core: parse to model and search", figures)


if __name__ == "__main__":
    main()
