"""Inference-rewrite speed: analysis (every finder, the plan's checks) plus the rewrite.

On the ResNet-50-sized Adam graph (13k ops) with two signatures, one from the image
placeholder and one from the pooled features (a non-placeholder input, so the
input rewiring copies and edits the whole MetaGraphDef). The window runs the
analysis after every edit, and the export runs both.

    .venv/bin/python -m bench.bench_rewrite [--json] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench.common import Figure, print_table, to_json
from bench.graphs import resnet50_checkpoint


def measure(repeat: int) -> list[Figure]:
    from app.core import rewrite
    from app.core.loader import load_checkpoint
    from app.core.signature.draft import Draft, Signature, Slot

    loaded = load_checkpoint(resnet50_checkpoint(), index_names=False)
    graph = loaded.graph
    draft = Draft([
        Signature("serving_default", inputs=[Slot("images", "images:0")],
                  outputs=[Slot("probabilities", "probabilities:0")]),
        Signature("from_features", inputs=[Slot("features", "resnet50/pool:0")],
                  outputs=[Slot("probabilities", "probabilities:0")]),
    ])

    def once() -> int:
        findings = rewrite.find_all(graph, draft)
        rewrite.plan_problems(graph, draft, findings)
        applied = rewrite.apply_all(graph.meta_graph, graph, draft, findings)
        return len(findings) + len(applied.renamed)

    once()  # warm: TensorFlow's op registry, first tensor look-ups
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        once()
        times.append(time.perf_counter() - start)
    value = statistics.median(times)
    found = len(rewrite.find_all(graph, draft))
    return [Figure(f"10k (ResNet-50 + Adam): rewrite analysis + apply ({len(graph.ops)} ops, "
                   f"{found} sites, {len(rewrite.registry())} rewrites)", value, "s",
                   "<= 0.2 s", met=value <= 0.2)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    from app.core.tf_runtime import tensorflow

    tensorflow()
    figures = measure(3 if args.quick else 7)
    if args.json:
        print(to_json(figures))
    else:
        print_table("Inference rewrite", figures)


if __name__ == "__main__":
    main()
