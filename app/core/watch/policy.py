"""What a watch publishes and keeps: the Estimator exporters' choices, as data.

``latest`` publishes every evaluated checkpoint (`LatestExporter`); ``best``
publishes a checkpoint only when its metric beats the best published so far
(`BestExporter`). Both keep the ``keep`` best (``best``) or newest (``latest``) of
the versions the watch published.
"""

from __future__ import annotations

from dataclasses import dataclass

POLICIES = ("latest", "best")
MODES = ("min", "max")


@dataclass(frozen=True)
class Policy:
    kind: str = "latest"
    metric: str = "loss"
    mode: str = "min"
    keep: int = 5

    def __post_init__(self) -> None:
        if self.kind not in POLICIES:
            raise ValueError(f"policy {self.kind!r}: expected one of {', '.join(POLICIES)}")
        if self.mode not in MODES:
            raise ValueError(f"mode {self.mode!r}: expected min or max")
        if self.keep < 1:
            raise ValueError(f"keep {self.keep}: keep at least one version")

    def better(self, value: float, than: float | None) -> bool:
        """True when ``value`` strictly beats ``than`` (anything beats None)."""
        if than is None:
            return True
        return value < than if self.mode == "min" else value > than

    def rank_key(self, metric: float | None, version: int) -> tuple[float, int]:
        """Sort key, best first: by metric under ``best``, by version under ``latest``."""
        if self.kind == "latest" or metric is None:
            return (0.0 if self.kind == "latest" else float("inf"), -version)
        return (metric if self.mode == "min" else -metric, -version)

    def describe(self) -> str:
        return (f"{self.kind}, {self.metric} ({self.mode}), keep {self.keep}"
                if self.kind == "best" else f"latest, keep {self.keep}")
