"""Shared pieces of the benchmark scripts: timing, alternating runs, the printed table."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    goal: str = ""
    baseline: float | None = None  # the plain TensorFlow / library recipe, same run
    baseline_name: str = ""
    met: bool | None = None

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.value / self.baseline


def median_time(fn: Callable[[], object], repeat: int = 5) -> float:
    """Median wall time of ``fn`` in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def alternating(ours: Callable[[], object], theirs: Callable[[], object],
                repeat: int = 5) -> tuple[float, float]:
    """Median times of two functions run alternately, so drift hits both alike."""
    a: list[float] = []
    b: list[float] = []
    for _ in range(repeat):
        for fn, out in ((ours, a), (theirs, b)):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return statistics.median(a), statistics.median(b)


def print_table(title: str, figures: list[Figure]) -> None:
    print(f"\n{title}")
    header = f"{'figure':<46} {'value':>12} {'goal':>12} {'baseline':>12} {'ratio':>7}  met"
    print(header)
    print("-" * len(header))
    for f in figures:
        value = f"{f.value:.4g} {f.unit}"
        base = f"{f.baseline:.4g} {f.unit}" if f.baseline is not None else ""
        ratio = f"{f.ratio:.2f}x" if f.ratio is not None else ""
        met = "" if f.met is None else ("yes" if f.met else "NO")
        print(f"{f.name:<46} {value:>12} {f.goal:>12} {base:>12} {ratio:>7}  {met}")
    baselines = sorted({f.baseline_name for f in figures if f.baseline_name})
    for name in baselines:
        print(f"  baseline: {name}")


def to_json(figures: list[Figure]) -> str:
    return json.dumps({f.name: {**asdict(f), "ratio": f.ratio} for f in figures}, indent=2)
