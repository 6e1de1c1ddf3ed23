"""Participant flow, CONSORT-style, counted from the ledger and drawn as an inline SVG.

The diagram follows the CONSORT 2010 flow for a randomised trial with a crossover extension
(Schulz, Altman & Moher, 2010; Dwan et al., 2019): participants in the data → randomised by
arm → placebo participants crossing over to open-label MDMA → MDMA treatment episodes →
analysed in each model, with every exclusion counted by reason. Only counts and reasons are
shown, never participant identifiers.
"""

from __future__ import annotations

import re
import textwrap
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING

from alliance.episodes.ledger import Ledger
from alliance.safe_text import plot_text

if TYPE_CHECKING:  # matplotlib loads only for the PNG (flow_figure)
    from matplotlib.figure import Figure

ARM_LABELS = {"mdma": "MDMA", "placebo": "placebo"}
SOURCE_LABELS = {
    ("mdma", "randomized"): "randomised MDMA phase",
    ("placebo", "open_label"): "open-label crossover after placebo",
    ("mdma", "open_label"): "open-label phase of the MDMA arm",
}


@dataclass(frozen=True)
class ModelFlow:
    label: str
    analysed: int
    excluded: dict[str, int]  # reason -> participants


@dataclass(frozen=True)
class FlowCounts:
    """The numbers in the diagram; each level adds up to the one above it."""

    enrolled: int
    arms: dict[str, int]
    crossed_over: int
    not_crossed_over: int
    episodes: int
    episode_sources: dict[str, int]
    no_episode: dict[str, int]  # reason -> participants
    models: tuple[ModelFlow, ...]


def _sorted_counts(counter: Counter[str]) -> dict[str, int]:
    """Largest count first, then alphabetical, so the diagram does not depend on row order."""
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def flow_counts(ledger: Ledger, labels: Mapping[str, str] | None = None) -> FlowCounts:
    """Count the participant flow from the ledger.

    Parameters
    ----------
    ledger
        The analysis ledger (participants with their episode or exclusion reason, and the
        participants included in and excluded from each model).
    labels
        Readable names of the models by ledger key; the key is used when a name is missing.
    """
    people = ledger.participants
    arms = Counter(str(a) for a in people["arm"])
    phases = people["phases"].astype(str).str.split(",")
    placebo = people["arm"] == "placebo"
    crossed = placebo & phases.map(lambda p: "open_label" in p)
    has_episode = people["episode_phase"].notna()
    sources = Counter(
        SOURCE_LABELS.get((str(a), str(p)), f"{p} phase of the {a} arm")
        for a, p in zip(
            people.loc[has_episode, "arm"], people.loc[has_episode, "episode_phase"], strict=True
        )
    )
    no_episode = Counter(str(r) for r in people.loc[~has_episode, "reason"])
    names = labels or {}
    models = tuple(
        ModelFlow(
            label=names.get(m.key, m.key),
            analysed=len(m.included),
            excluded=_sorted_counts(Counter(m.excluded.values())),
        )
        for m in ledger.models
    )
    order = sorted(arms, key=lambda a: (a != "mdma", a))
    return FlowCounts(
        enrolled=len(people),
        arms={a: arms[a] for a in order},
        crossed_over=int(crossed.sum()),
        not_crossed_over=int((placebo & ~crossed).sum()),
        episodes=int(has_episode.sum()),
        episode_sources=_sorted_counts(sources),
        no_episode=_sorted_counts(no_episode),
        models=models,
    )


# --------------------------------------------------------------------------- layout

COLUMN = 280.0
GAP = 30.0
WIDTH = 20.0 + 3 * COLUMN + 2 * GAP  # three columns and margins
FONT = 12.0  # px
LINE = 16.0
PAD = 8.0
# Characters per line: a conservative average glyph width of 0.62 em for DejaVu Sans, Verdana
# and Arial, so wrapped lines fit their box whichever of these the reader's system has.
EM_PER_CHAR = 0.62


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    lines: tuple[tuple[str, bool], ...]  # (text, bold)

    @property
    def h(self) -> float:
        return 2 * PAD + LINE * len(self.lines)

    @property
    def top(self) -> tuple[float, float]:
        return (self.x + self.w / 2, self.y)

    @property
    def bottom(self) -> tuple[float, float]:
        return (self.x + self.w / 2, self.y + self.h)


@dataclass(frozen=True)
class Layout:
    """Boxes, arrows and free labels in pixel coordinates (y downwards), ready to draw."""

    width: float
    height: float
    boxes: tuple[Box, ...]
    arrows: tuple[tuple[tuple[float, float], ...], ...]
    labels: tuple[tuple[float, float, str], ...]  # centred, bold


NBSP = "\u00a0"
NUMBER_AFTER_SPACE = re.compile(r" (?=\d)")


def n_equals(n: int) -> str:
    """``"n = 8"`` held together: a line never breaks inside a count."""
    return f"n{NBSP}={NBSP}{n}"


def _wrap(text: str, width: float, indent: str = "") -> list[str]:
    """Lines on word boundaries only (textwrap splits at ASCII spaces, never at a no-break
    space), so "(n = 8)" is never cut and no word is broken."""
    chars = max(10, int((width - 2 * PAD) / (FONT * EM_PER_CHAR)))
    glued = NUMBER_AFTER_SPACE.sub(NBSP, text)  # "session 4", "12 of 22": a number keeps its word
    return textwrap.wrap(
        glued, chars, subsequent_indent=indent, break_on_hyphens=False, break_long_words=False
    )


def _box(x: float, y: float, w: float, head: str, body: Sequence[str] = ()) -> Box:
    lines = [(line, True) for line in _wrap(head, w)]
    for item in body:
        lines.extend((line, False) for line in _wrap(item, w, indent="  "))
    return Box(x, y, w, tuple(lines))


def _reasons(counts: Mapping[str, int]) -> list[str]:
    return [f"{reason} ({n_equals(n)})" for reason, n in counts.items()]


def flow_layout(counts: FlowCounts) -> Layout:
    """Place the diagram: arms side by side, exclusions to the right, models in a grid."""
    cols = (10.0, 10.0 + COLUMN + GAP, 10.0 + 2 * (COLUMN + GAP))
    boxes: list[Box] = []
    arrows: list[tuple[tuple[float, float], ...]] = []
    labels: list[tuple[float, float, str]] = []
    top = _box(
        (cols[0] + cols[1]) / 2,
        10,
        COLUMN,
        f"Participants in the data ({n_equals(counts.enrolled)})",
    )
    boxes.append(top)
    y = top.y + top.h + GAP
    arm_boxes = {
        arm: _box(x, y, COLUMN, f"Randomised to {ARM_LABELS.get(arm, arm)} ({n_equals(n)})")
        for x, (arm, n) in zip(cols, counts.arms.items(), strict=False)
    }
    for b in arm_boxes.values():
        boxes.append(b)
        bend = y - GAP / 2
        arrows.append((top.bottom, (top.bottom[0], bend), (b.top[0], bend), b.top))
    y = max((b.y + b.h for b in arm_boxes.values()), default=y) + GAP
    feeders = [b for arm, b in arm_boxes.items() if arm != "placebo"]
    below = y
    placebo = arm_boxes.get("placebo")
    if placebo is not None:
        cross = _box(
            placebo.x,
            y,
            COLUMN,
            f"Crossed over to open-label MDMA ({n_equals(counts.crossed_over)})",
            [f"did not cross over: {n_equals(counts.not_crossed_over)}"],
        )
        boxes.append(cross)
        arrows.append((placebo.bottom, cross.top))
        feeders.append(cross)
        below = cross.y + cross.h + GAP
    if counts.no_episode:
        excluded = _box(
            cols[2],
            y,
            COLUMN,
            f"No MDMA episode ({n_equals(sum(counts.no_episode.values()))})",
            _reasons(counts.no_episode),
        )
        boxes.append(excluded)
        # Exclusions branch off to the side of the main flow, as in CONSORT.
        y_mid = y + min(excluded.h, feeders[-1].h if feeders else excluded.h) / 2
        arrows.append(((cols[1] + COLUMN, y_mid), (cols[2], y_mid)))
        below = max(below, excluded.y + excluded.h + GAP)
    episodes = _box(
        cols[0],
        below,
        2 * COLUMN + GAP,
        f"MDMA treatment episodes ({n_equals(counts.episodes)})",
        [f"{source}: {n_equals(n)}" for source, n in counts.episode_sources.items()],
    )
    boxes.append(episodes)
    for b in feeders:
        arrows.append((b.bottom, (b.bottom[0], episodes.y)))
    y = episodes.y + episodes.h + GAP
    arrows.append((episodes.bottom, (episodes.bottom[0], y)))
    labels.append((episodes.bottom[0], y + LINE, "Analysed, per model"))
    y += LINE + PAD
    row_height = 0.0
    for i, m in enumerate(counts.models):
        if i and i % 3 == 0:
            y += row_height + GAP / 2
            row_height = 0.0
        box = _box(
            cols[i % 3],
            y,
            COLUMN,
            m.label,
            [
                f"analysed: {n_equals(m.analysed)}",
                f"excluded: {n_equals(sum(m.excluded.values()))}",
                *_reasons(m.excluded),
            ],
        )
        boxes.append(box)
        row_height = max(row_height, box.h)
    return Layout(WIDTH, y + row_height + 10, tuple(boxes), tuple(arrows), tuple(labels))


def describe_flow(counts: FlowCounts) -> str:
    """The diagram in words, for its ``<desc>`` and screen readers."""
    arms = "; ".join(f"randomised to {ARM_LABELS.get(a, a)}: {n}" for a, n in counts.arms.items())
    text = [
        f"{counts.enrolled} participants in the data; {arms}.",
        f"{counts.crossed_over} placebo participants crossed over to open-label MDMA, "
        f"{counts.not_crossed_over} did not.",
        f"{counts.episodes} MDMA treatment episodes ("
        + "; ".join(f"{s}: {n}" for s, n in counts.episode_sources.items())
        + ").",
    ]
    if counts.no_episode:
        text.append("Without an episode: " + "; ".join(_reasons(counts.no_episode)) + ".")
    for m in counts.models:
        excluded = "; ".join(_reasons(m.excluded)) or "none"
        text.append(f"{m.label}: analysed {m.analysed}, excluded {excluded}.")
    return " ".join(text)


# --------------------------------------------------------------------------- drawing


def _svg_box(box: Box) -> str:
    parts = [
        f'<g class="flow-node"><rect x="{box.x:g}" y="{box.y:g}" width="{box.w:g}" '
        f'height="{box.h:g}" rx="3" class="flow-box"/>'
    ]
    for i, (text, bold) in enumerate(box.lines):
        y = box.y + PAD + LINE * (i + 1) - 4
        weight = ' font-weight="bold"' if bold else ""
        parts.append(f'<text x="{box.x + PAD:g}" y="{y:g}"{weight}>{escape(text)}</text>')
    return "".join(parts) + "</g>"


def flow_svg(counts: FlowCounts, title: str = "Participant flow") -> str:
    """The CONSORT-style diagram as a self-contained ``<svg>`` element with title and desc."""
    layout = flow_layout(counts)
    arrows = [
        '<polyline points="'
        + " ".join(f"{x:g},{y:g}" for x, y in points)
        + '" class="flow-line" marker-end="url(#flow-arrow)"/>'
        for points in layout.arrows
    ]
    labels = [
        f'<text x="{x:g}" y="{y:g}" text-anchor="middle" font-weight="bold">{escape(t)}</text>'
        for x, y, t in layout.labels
    ]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="flow" '
        f'viewBox="0 0 {layout.width:g} {layout.height:g}" width="{layout.width:g}" '
        f'height="{layout.height:g}" role="img" aria-labelledby="flow-title flow-desc" '
        f'font-family="DejaVu Sans, Verdana, Arial, sans-serif" font-size="{FONT:g}">\n'
        f'<title id="flow-title">{escape(title)}</title>\n'
        f'<desc id="flow-desc">{escape(describe_flow(counts))}</desc>\n'
        '<defs><marker id="flow-arrow" viewBox="0 0 10 10" refX="10" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" fill="#000"/></marker></defs>\n'
        "<style>.flow-box{fill:#fff;stroke:#000;stroke-width:1}"
        ".flow-line{fill:none;stroke:#000;stroke-width:1}</style>\n"
        + "\n".join([*(_svg_box(b) for b in layout.boxes), *arrows, *labels])
        + "\n</svg>"
    )


def flow_figure(counts: FlowCounts) -> Figure:
    """The same diagram drawn by matplotlib, for the PNG in ``figures/``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    layout = flow_layout(counts)
    # 100 px per inch at 72 pt per inch: FONT px is FONT * 0.72 pt.
    fig = Figure(figsize=(layout.width / 100, layout.height / 100))
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, layout.width)
    ax.set_ylim(layout.height, 0)
    ax.set_axis_off()
    size = FONT * 0.72
    for box in layout.boxes:
        ax.add_patch(
            Rectangle(
                (box.x, box.y), box.w, box.h, facecolor="white", edgecolor="black", linewidth=0.8
            )
        )
        for i, (text, bold) in enumerate(box.lines):
            ax.text(
                box.x + PAD,
                box.y + PAD + LINE * (i + 1) - 4,
                plot_text(text),
                fontsize=size,
                fontweight="bold" if bold else "normal",
                va="baseline",
                family="DejaVu Sans",
            )
    for points in layout.arrows:
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, ys, color="black", linewidth=0.8)
        ax.annotate(
            "",
            xy=points[-1],
            xytext=points[-2],
            arrowprops={
                "arrowstyle": "-|>",
                "color": "black",
                "linewidth": 0.8,
                "shrinkA": 0,
                "shrinkB": 0,
            },
        )
    for x, y, text in layout.labels:
        ax.text(
            x,
            y,
            plot_text(text),
            fontsize=size,
            fontweight="bold",
            ha="center",
            va="baseline",
            family="DejaVu Sans",
        )
    return fig
