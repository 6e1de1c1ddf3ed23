"""What every figure of the report shares: palette, style, rendering and labels.

Figures are drawn with matplotlib's object-oriented API on the Agg canvas (no pyplot, no
global state, no display). Text is stored as glyph paths (``svg.fonttype = "path"``) with the
DejaVu Sans font shipped inside matplotlib, so an SVG looks the same on every machine, offline
and without the font installed; the hash salt is fixed and the date left out, so the same input
gives byte-identical SVG. Colours are the Okabe–Ito palette, distinguishable with the common
colour-vision deficiencies (Okabe & Ito, 2008).
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any

import numpy as np

from alliance.models.fit import ModelResult
from alliance.report import apa

if TYPE_CHECKING:  # matplotlib loads only when a figure is drawn (not with --no-figures)
    from matplotlib.figure import Figure

# Okabe & Ito (2008), "Color Universal Design": black, orange, sky blue, bluish green,
# yellow, blue, vermillion, reddish purple.
OKABE_ITO = ("#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7")
BLUE, VERMILLION, ORANGE, GREEN, PURPLE, SKY = (
    "#0072B2",
    "#D55E00",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
)
GREY = "#9A9A9A"

RC: dict[Any, Any] = {
    "svg.fonttype": "path",
    "svg.hashsalt": "alliance-report",
    "font.family": "DejaVu Sans",
    "font.size": 9.0,
    "axes.titlesize": 10.0,
    "axes.labelsize": 9.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "legend.fontsize": 8.0,
    "figure.dpi": 100.0,
    "savefig.bbox": "standard",
    "path.simplify": False,
}
PNG_DPI = 300


@dataclass(frozen=True, eq=False)
class ReportFigure:
    """One figure: the drawing and the words that go with it."""

    name: str  # file stem under figures/
    title: str
    description: str  # alt text: what the figure shows, with its numbers
    caption: str  # visible caption
    figure: Figure
    summary: str = ""  # what a large trial's figure summarises instead of drawing (or "")


# Margins in inches around the axes of every report figure, sized for the report's fonts: y tick
# labels of up to seven characters and a y label (left), x tick labels and an x label (bottom),
# a title (top; two-panel figures add a suptitle above the panels' titles). Fixed margins
# instead of matplotlib's constrained layout, which draws every figure once more only to
# measure it: a third of the report's drawing time.
LEFT, RIGHT, BOTTOM, TOP = 0.85, 0.2, 0.6, 0.4
SUPTITLE = 0.2  # extra top margin of a figure with a suptitle over titled panels
GAP = 0.95  # between two panels side by side: the right panel's tick labels and y label


def new_figure(
    width: float,
    height: float,
    columns: int = 1,
    left: float = LEFT,
    top: float = TOP,
) -> Figure:
    """A figure on its own Agg canvas with ``columns`` axes' room laid out by fixed margins.

    ``left`` and ``top`` (inches) can be widened for long tick labels or a legend above the
    axes; axes made by ``add_subplot`` or ``subplots`` take the space between the margins.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    panel = (width - left - RIGHT - (columns - 1) * GAP) / columns
    fig.subplots_adjust(
        left=left / width,
        right=1 - RIGHT / width,
        bottom=BOTTOM / height,
        top=1 - top / height,
        wspace=GAP / panel if columns > 1 else 0.2,
    )
    return fig


def text_width(text: str, size: float) -> float:
    """Width in inches of ``text`` in the report's font at ``size`` points (no drawing)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    width, _, _ = TextToPath().get_text_width_height_descent(
        text, FontProperties(family=RC["font.family"], size=size), ismath=False
    )
    return float(width) / 72.0


def report_style() -> AbstractContextManager[None]:
    """The report's matplotlib settings (:data:`RC`), for drawing and saving."""
    import matplotlib as mpl

    return mpl.rc_context(RC)


# Beyond this magnitude a data limit is no measurement, and matplotlib's tick arithmetic
# (limits plus margins, spans) overflows to a ValueError near 1.8e308.
PLOT_LIMIT = 1e300


def _drop_undrawable(figure: Figure) -> None:
    """Replace a figure whose data run beyond :data:`PLOT_LIMIT` with a note saying so.

    Validation refuses such values in the data; this keeps a statistic derived from extreme
    but finite values (a DFBETA, a residual) from crashing the whole report.
    """
    for ax in list(figure.axes):
        points = ax.dataLim.get_points()
        if ax.dataLim.x0 == np.inf and ax.dataLim.x1 == -np.inf:
            continue  # no data on these axes
        if np.isfinite(points).all() and np.abs(points).max() < PLOT_LIMIT:
            continue
        for other in list(figure.axes):
            other.remove()
        figure.text(
            0.5,
            0.5,
            f"Not drawn: the values lie beyond \u00b1{PLOT_LIMIT:g}, which no plot can show.",
            ha="center",
            va="center",
        )
        return


def render_svg(figure: ReportFigure) -> str:
    """The figure as a standalone SVG document with ``<title>`` and ``<desc>``."""
    _drop_undrawable(figure.figure)
    buffer = io.StringIO()
    with report_style():
        figure.figure.savefig(buffer, format="svg", metadata={"Date": None})
    return _accessible(buffer.getvalue(), figure.title, figure.description)


def render_png(figure: ReportFigure, dpi: int = PNG_DPI) -> bytes:
    """The figure as PNG at ``dpi`` (300 for print)."""
    _drop_undrawable(figure.figure)
    buffer = io.BytesIO()
    with report_style():
        figure.figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


_SVG_OPEN = re.compile(r"<svg\b[^>]*>")


def _accessible(svg: str, title: str, description: str) -> str:
    """Add role, title and description right after the opening ``<svg>`` tag."""
    match = _SVG_OPEN.search(svg)
    if match is None:
        raise ValueError("not an SVG document")
    open_tag = match.group(0)[:-1] + f' role="img" aria-label="{escape(title)}">'
    inserted = f"\n <title>{escape(title)}</title>\n <desc>{escape(description)}</desc>"
    return svg[: match.start()] + open_tag + inserted + svg[match.end() :]


_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)
_ID = re.compile(r'\bid="([^"]+)"')
_HREF = re.compile(r'((?:xlink:)?href)="#([^"]+)"')
_URL = re.compile(r"url\(#([^)]+)\)")


def inline_svg(svg: str, prefix: str) -> str:
    """An SVG document made fit for embedding in HTML.

    The XML prolog goes, and every ``id`` (with the references to it) gets ``prefix`` so
    several figures in one page never share an identifier.
    """
    start = svg.index("<svg")
    # matplotlib's RDF metadata (creator, format) is for files, not for a page.
    body = _METADATA.sub("", svg[start:])
    body = _ID.sub(lambda m: f'id="{prefix}-{m.group(1)}"', body)
    body = _HREF.sub(lambda m: f'{m.group(1)}="#{prefix}-{m.group(2)}"', body)
    body = _URL.sub(lambda m: f"url(#{prefix}-{m.group(1)})", body)
    return body


def axis_label(label: str, score: str, ranges: Mapping[str, tuple[float, float]]) -> str:
    """``"CAPS total (0–136)"`` when the score's range is known, else ``"… (points)"``."""
    if score in ranges:
        low, high = ranges[score]
        return f"{label} ({low:g}{apa.EN_DASH}{high:g})"
    return f"{label} (points)"


def model_title(model: ModelResult) -> str:
    """The model in words (outcome ~ predictor at timepoint, with the plan's labels)."""
    return apa.model_label(model.spec)


def file_stem(text: str) -> str:
    """A file name stem from free text: lower case, runs of other characters as ``_``."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
