"""Numbers, labels and tables in APA style (American Psychological Association, 2020).

Rules applied (APA *Publication Manual*, 7th ed., §6.36 and Table 6.5):

- statistics are given to two decimals (b, SE, t, f², BF), p-values to three;
- no leading zero for values that cannot exceed 1 in absolute value (p, β, r, R², ΔR², α, ω);
- exact p-values down to .001, below that "p < .001";
- statistical symbols in italics, confidence intervals in square brackets;
- negative numbers with a true minus sign (U+2212), and no "−0.00".

Text that carries italics is a sequence of :class:`Run` objects, so the same sentence or table
header can be rendered as HTML (``<i>``), as a Word run, or as plain text. The methods and
results paragraphs built from these pieces are in :mod:`apa_text`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from alliance.instruments import labels
from alliance.models.plan import AnalysisPlan, ModelSpec

MINUS = "\u2212"
EN_DASH = "\u2013"
MISSING = "\u2014"  # em dash: a number that could not be computed


@dataclass(frozen=True)
class Run:
    """A piece of text with one style."""

    text: str
    italic: bool = False
    sub: bool = False


Runs = tuple[Run, ...]


def plain(text: str) -> Runs:
    return (Run(text),)


def italic(text: str) -> Runs:
    return (Run(text, italic=True),)


def join(*parts: Runs | str) -> Runs:
    """Concatenate runs; a bare string is a plain run."""
    out: list[Run] = []
    for part in parts:
        out.extend(plain(part) if isinstance(part, str) else part)
    return tuple(r for r in out if r.text)


def to_text(runs: Iterable[Run]) -> str:
    """Plain text, for alt text, search and tests."""
    return "".join(r.text for r in runs)


# --------------------------------------------------------------------------- numbers


def _finite(x: Any) -> bool:
    return x is not None and math.isfinite(float(x))


def _signed(text: str) -> str:
    return MINUS + text[1:] if text.startswith("-") else text


def fmt_num(x: Any, decimals: int = 2) -> str:
    """A number with a fixed number of decimals, e.g. ``-0.4567`` → ``"−0.46"``."""
    if not _finite(x):
        return MISSING
    text = f"{float(x):.{decimals}f}"
    if float(text) == 0.0:
        text = text.lstrip("-")  # "−0.00" says nothing a reader needs
    return _signed(text)


def fmt_unit(x: Any, decimals: int = 2) -> str:
    """A value bounded by ±1 without its leading zero: ``0.412`` → ``".41"``, ``-0.4`` → ``"−.40"``."""
    text = fmt_num(x, decimals)
    return re.sub(r"^(\u2212?)0\.", r"\1.", text)


def fmt_p(p: Any) -> str:
    """A p-value as APA writes it after "p": ``".032"``, ``"< .001"``, ``"> .999"``."""
    if not _finite(p):
        return MISSING
    value = float(p)
    if value < 0.001:
        return "< .001"
    if round(value, 3) >= 1.0:
        # Three decimals would print "1.000": not a p-value anyone should read as certainty.
        return "> .999"
    return fmt_unit(value, 3)


def p_equals(p: Any) -> str:
    """The relation and value after the symbol: ``"= .032"`` or ``"< .001"``."""
    text = fmt_p(p)
    return text if text[0] in "<>" else f"= {text}"


def fmt_ci(low: Any, high: Any, decimals: int = 2, unit: bool = False) -> str:
    """A confidence interval: ``"[−0.80, −0.10]"``."""
    fmt = fmt_unit if unit else fmt_num
    return f"[{fmt(low, decimals)}, {fmt(high, decimals)}]"


def fmt_bf(bf: Any) -> str:
    """A Bayes factor: two decimals, or powers of ten when it is very large or very small."""
    if not _finite(bf):
        return MISSING
    value = float(bf)
    if value <= 0:
        return fmt_num(value)
    if value >= 1000 or value < 0.01:
        exponent = math.floor(math.log10(value))
        mantissa = value / 10**exponent
        return f"{mantissa:.2f} \u00d7 10^{_signed(str(exponent))}"
    return fmt_num(value)


def fmt_int(x: Any) -> str:
    return MISSING if not _finite(x) else str(round(float(x)))


# --------------------------------------------------------------------------- labels


def timepoint_label(timepoint: str) -> str:
    """A readable name for a timepoint code (``s4`` → ``"session 4"``), from ``labels.toml``."""
    return labels.timepoint_label(timepoint)


def timepoint_phrase(timepoint: str) -> str:
    """The timepoint as a sentence places it: ``"at session 4"``, ``"before session 3 (…)"``."""
    return labels.timepoint_phrase(timepoint)


def timepoint_short(timepoint: str) -> str:
    """The timepoint where space is tight (axis ticks, figure labels)."""
    return labels.timepoint_short(timepoint)


def parenthetical(text: str) -> str:
    """Text to be set inside parentheses: its own parentheses become brackets (APA §6.10)."""
    return text.replace("(", "[").replace(")", "]")


def capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def series(items: Sequence[str], conjunction: str = "and") -> str:
    """``a``, ``a and b``, ``a, b, and c`` (APA uses the serial comma)."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    if len(items) == 2:
        return f"{items[0]} {conjunction} {items[1]}"
    return ", ".join(items[:-1]) + f", {conjunction} {items[-1]}"


NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def count_word(n: int) -> str:
    """APA spells out numbers below ten in running text."""
    return NUMBER_WORDS[n] if 0 <= n < 10 else str(n)


# --------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class Section:
    """Rows under an optional spanning label (e.g. one outcome)."""

    label: Runs
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class ApaTable:
    """A table as APA sets it: number, italic title, column heads, body, note.

    The same object is rendered to HTML and to Word, so both always say the same thing.
    """

    key: str  # file-name-safe identifier
    title: str
    columns: tuple[Runs, ...]
    sections: tuple[Section, ...]
    note: Runs = ()

    @property
    def n_rows(self) -> int:
        return sum(len(s.rows) for s in self.sections)


def stat_head(symbol: str, sub: str = "") -> Runs:
    """An italic statistic symbol with an optional plain subscript, e.g. p with "adj"."""
    runs = [Run(symbol, italic=True)]
    if sub:
        runs.append(Run(sub, sub=True))
    return tuple(runs)


def ci_head(level: float) -> Runs:
    return plain(f"{fmt_level(level)} CI")


def fmt_level(level: float) -> str:
    """``0.95`` → ``"95%"``."""
    percent = 100.0 * level
    return f"{percent:.0f}%" if abs(percent - round(percent)) < 1e-9 else f"{percent:g}%"


B = stat_head("b")
SE = stat_head("SE")
BETA = stat_head("β")
T = stat_head("t")
P = stat_head("p")
P_ADJ = stat_head("p", "adj")
N = stat_head("n")
DELTA_R2 = join("Δ", italic("R"), "²")
F2 = join(italic("f"), "²")


# --------------------------------------------------------------------------- model labels


def outcome_label(spec: ModelSpec) -> str:
    """The plan's label of the outcome, else its instrument definition's."""
    return spec.outcome.label or labels.score_label(spec.outcome.score)


def predictor_label(spec: ModelSpec) -> str:
    return spec.predictor.label or labels.score_label(spec.predictor.score)


def term_label(spec: ModelSpec, name: str) -> str:
    """A coefficient's name as a reader knows it."""
    if name == "intercept":
        return "Intercept"
    if name == "baseline":
        return f"{outcome_label(spec)} at baseline"
    if name == spec.predictor.score:
        return f"{predictor_label(spec)} {timepoint_phrase(spec.timepoint)}"
    return labels.score_label(name)


def model_label(spec: ModelSpec) -> str:
    """``"CAPS total ~ WAI total at session 4"``: the model as a reader names it."""
    return f"{outcome_label(spec)} ~ {predictor_label(spec)} {timepoint_phrase(spec.timepoint)}"


METHOD_NAMES = {
    "holm": ("Holm", "Holm, 1979"),
    "bonferroni": ("Bonferroni", "Dunn, 1961"),
    "hochberg": ("Hochberg", "Hochberg, 1988"),
    "bh": ("Benjamini–Hochberg false discovery rate", "Benjamini & Hochberg, 1995"),
    "by": ("Benjamini–Yekutieli false discovery rate", "Benjamini & Yekutieli, 2001"),
}


def multiplicity_text(plan: AnalysisPlan, n_tests: int) -> str:
    """How p-values were adjusted, for a table note or the methods."""
    method = plan.multiplicity.method
    if method == "none":
        return "not adjusted for multiple comparisons"
    name, citation = METHOD_NAMES[method]
    scope = (
        f"across all {count_word(n_tests)} alliance tests"
        if plan.multiplicity.family == "all"
        else "within each outcome's alliance tests"
    )
    return f"adjusted with the {name} procedure ({citation}) {scope}"
