"""How the report's figures stay readable and small for large trials.

Up to a documented number of participants every participant is drawn. Above it, a figure
shows a summary instead, and says so in its caption, its description and the report:

- a trajectory figure (above :data:`MAX_TRAJECTORY_LINES` participants) draws the median and
  the 25–75 % and 10–90 % bands of the participants at each assessment, with the mean and its
  confidence interval, instead of one line per participant;
- a point cloud (above :data:`MAX_POINTS` participants: added-variable plots, residuals against
  fitted values) becomes a hexagonal-bin density; a normal Q–Q plot draws the order statistics
  at :data:`QQ_POINTS` evenly spaced probabilities and the :data:`TAIL_POINTS` most extreme on
  each side; an influence index plot draws, for bins of consecutive participants, the range of
  their values, and individually the participants that matter (largest Cook's distances and
  any whose removal changes a conclusion).

Every statistic in the figures' descriptions and in the tables still uses every participant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes

MAX_TRAJECTORY_LINES = 200
MAX_POINTS = 500
QQ_POINTS = 400
TAIL_POINTS = 50
INDEX_BINS = 200
HEX_GRID = 30
TOP_INFLUENCE = 20  # participants drawn individually in a binned influence plot


def summarised(count: int, limit: int = MAX_POINTS) -> bool:
    """Whether a figure of ``count`` participants shows a summary instead of each one."""
    return count > limit


def quantile_bands(values: np.ndarray) -> dict[float, np.ndarray]:
    """Per column (assessment), the 10, 25, 50, 75 and 90 % quantiles of the observed values."""
    out = {}
    for q in (0.10, 0.25, 0.50, 0.75, 0.90):
        column = []
        for k in range(values.shape[1]):
            observed = values[:, k][np.isfinite(values[:, k])]
            column.append(float(np.quantile(observed, q)) if len(observed) else np.nan)
        out[q] = np.array(column)
    return out


def qq_rows(count: int) -> np.ndarray:
    """Positions (in sorted order) of the Q–Q points drawn for ``count`` participants."""
    if not summarised(count):
        return np.arange(count)
    spread = np.round(np.linspace(0, count - 1, QQ_POINTS)).astype(np.int64)
    tails = np.r_[np.arange(TAIL_POINTS), np.arange(count - TAIL_POINTS, count)]
    return np.unique(np.r_[spread, tails])


def density(ax: Axes, x: np.ndarray, y: np.ndarray, colour: str) -> None:
    """A hexagonal-bin density of the points (shade: participants per hexagon)."""
    from matplotlib.colors import LinearSegmentedColormap

    shades = LinearSegmentedColormap.from_list("alliance-density", ["#DCEBF5", colour])
    finite = np.isfinite(x) & np.isfinite(y)
    cells = ax.hexbin(x[finite], y[finite], gridsize=HEX_GRID, mincnt=1, cmap=shades,
                      linewidths=0.2, edgecolors="white", zorder=2)  # fmt: skip
    colourbar = ax.figure.colorbar(cells, ax=ax, pad=0.02, fraction=0.05)
    colourbar.set_label("Participants per hexagon", fontsize=7)
    colourbar.ax.tick_params(labelsize=7)


def bin_ranges(
    values: np.ndarray, bins: int = INDEX_BINS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre (1-based case number), lowest and highest value of bins of consecutive cases
    (missing values ignored)."""
    edges = np.linspace(0, len(values), min(bins, len(values)) + 1).astype(np.int64)
    starts, stops = edges[:-1], edges[1:]
    keep = stops > starts
    starts, stops = starts[keep], stops[keep]
    low = np.fmin.reduceat(values, starts)
    high = np.fmax.reduceat(values, starts)
    return (starts + stops + 1) / 2.0, low, high


def standout(cooks: np.ndarray, flips: np.ndarray, top: int = TOP_INFLUENCE) -> np.ndarray:
    """The cases a binned influence plot draws one by one: the ``top`` largest Cook's distances
    and every case whose removal changes a conclusion, in case order."""
    largest = np.argsort(-np.nan_to_num(cooks, nan=-np.inf), kind="stable")[:top]
    return np.union1d(largest, np.flatnonzero(flips))


def summary_note(summaries: list[str]) -> str:
    """The report's paragraph saying which figures summarise a large trial (HTML, or "")."""
    if not summaries:
        return ""
    from html import escape

    items = "".join(f"<li>{escape(text)}</li>" for text in summaries)
    return (
        '<div class="summarised"><p>This trial is large, so some figures summarise the '
        f"participants instead of drawing each one (above {MAX_TRAJECTORY_LINES} participants "
        f"for trajectories, above {MAX_POINTS} for point clouds). Every statistic, table and "
        f"figure description still uses every participant.</p><ul>{items}</ul></div>"
    )
