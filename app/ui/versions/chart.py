"""The eval metric over steps, with the published versions marked (pyqtgraph).

pyqtgraph is pure Python on top of the Qt binding already here (PySide6), so it adds
no binary wheel to match against PySide6-Essentials' pin and keeps the bundle small.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

from app.core.watch.versions import VersionRow

LINE = "#4C78A8"
PUBLISHED = "#F58518"
STABLE = "#54A24B"


class MetricChart(pg.PlotWidget):
    """A line of ``(step, value)`` and one marker per published version (the stable
    one larger and green), each labelled ``vN``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, background="w")
        self.setObjectName("metricChart")
        self.showGrid(x=True, y=True, alpha=0.3)
        self.setLabel("bottom", "step")
        for side in ("left", "bottom"):  # steps and losses as they are, not "x0.001"
            self.getAxis(side).enableAutoSIPrefix(False)
        self.curve = self.plot([], [], pen=pg.mkPen(LINE, width=2), symbol="o", symbolSize=4,
                               symbolBrush=LINE, symbolPen=None, name="eval")
        self.markers = pg.ScatterPlotItem(size=12, pen=pg.mkPen("k"))
        self.addItem(self.markers)
        self.labels: list[pg.TextItem] = []

    def show_run(self, metric: str, series: list[tuple[int, float]],
                 rows: list[VersionRow]) -> None:
        self.setLabel("left", metric)
        self.curve.setData([s for s, _ in series], [v for _, v in series])
        for label in self.labels:
            self.removeItem(label)
        self.labels = []
        spots = []
        for row in rows:
            if row.step is None or row.metric is None:
                continue
            stable = "stable" in row.labels
            spots.append({"pos": (row.step, row.metric), "data": row.version,
                          "size": 16 if stable else 11,
                          "brush": pg.mkBrush(STABLE if stable else PUBLISHED)})
            label = pg.TextItem(f"v{row.version}" + (" stable" if stable else ""),
                                color="k", anchor=(0.5, 1.4))
            label.setPos(row.step, row.metric)
            self.addItem(label)
            self.labels.append(label)
        self.markers.setData(spots)
        self.enableAutoRange()

    def plotted(self) -> list[tuple[float, float]]:
        """The line's ``(step, value)`` points as drawn."""
        steps, values = self.curve.getData()
        return [] if steps is None else [(float(s), float(v)) for s, v in zip(steps, values,
                                                                              strict=True)]

    def marked_versions(self) -> list[int]:
        return [int(p.data()) for p in self.markers.points()]
