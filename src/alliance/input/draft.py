"""A first mapping for a file alliance has not seen: ``alliance mapping draft``.

Trial exports name their columns in a handful of ways (``wai_12``, ``WAI_S4_12``,
``caps5_bl_3``, ``iesr_post_22`` beside a REDCap ``redcap_event_name``), so most of a mapping
can be read off the column names and a few distinct values:

- the participant ID column (``record_id``, ``subject``, ``USUBJID`` ...);
- item columns: a known instrument prefix, an item code of its definition, and between them
  an optional timepoint token; the instrument is told apart by the item codes present (36 WAI
  items, 12 of a short form, 20 CAPS-5 items, CAPS-IV's ``1f``/``1i`` ...);
- an event column (``redcap_event_name``, ``visit`` ..., or a column whose few values repeat
  across each participant's rows) and a guessed timepoint name for each event;
- an arm column and which of its values is MDMA and which placebo, when the labels say so.

What the draft cannot decide (an arm coded 1/2 without labels, an event it does not recognise,
a 12-item WAI that may be WAI-S or WAI-SR) is written as a ``"TODO: ..."`` value, which
:func:`todo_problems` makes every mapping load refuse, naming the line, until the user decides.
Everything here is pure: the table in, the TOML text and the list of decisions out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from alliance.input.cells import cell_text
from alliance.input.readers import SOURCE_ROW, RawTable

# Instrument code -> column-name prefixes it is exported under. A prefix shared by several
# instruments ("wai", "caps") is settled by the item codes present.
PREFIXES: dict[str, tuple[str, ...]] = {
    "WAI": ("wai", "wai36", "waic", "wai_c", "wai_client"),
    "WAI_S": ("wai", "wai_s", "wais", "wai_short", "wai12"),
    "WAI_SR": ("wai", "wai_sr", "waisr"),
    "CAPS5": ("caps", "caps5", "caps_5"),
    "CAPS4": ("caps", "caps4", "caps_4", "capsiv", "caps_iv"),
    "IESR": ("iesr", "ies_r", "ies"),
    "PCL5": ("pcl", "pcl5", "pcl_5"),
}
# Item codes of instruments the draft recognises by prefix, used when the registry it is given
# lacks them (e.g. an older registry): such an instrument is reported, never guessed.
_UNSUPPORTED_ITEMS: dict[str, tuple[str, ...]] = {"PCL5": tuple(str(i) for i in range(1, 21))}

ID_NAMES = (
    "participant_id",
    "record_id",
    "usubjid",
    "subject_id",
    "subjid",
    "subject",
    "participant",
    "patient_id",
    "study_id",
    "pid",
    "id",
)
EVENT_NAMES = (
    "redcap_event_name",
    "event_name",
    "event",
    "visit",
    "visit_name",
    "visitname",
    "avisit",
    "timepoint",
    "time_point",
    "wave",
    "session",
)
ARM_NAMES = (
    "arm",
    "rand_group",
    "randgroup",
    "rand_arm",
    "randomization",
    "randomisation",
    "allocation",
    "treatment",
    "treatment_group",
    "trt",
    "trt01p",
    "armcd",
    "group",
    "condition",
)
PHASE_NAMES = ("phase", "study_phase", "stage", "period")
OTHER_COLUMNS = {
    "therapist_id": ("therapist_id", "therapist", "therapistid", "rater"),
    "site": ("site", "site_id", "siteid", "center", "centre"),
}
TODO = "TODO"
_MAX_EVENTS = 30
_SEP = "_."
# A column ending in an item code: "wai_s4_12" -> stem "wai_s4", separator "_", code "12".
_ITEM_COLUMN = re.compile(r"^(?P<stem>[a-z][a-z0-9_.]*?)(?P<sep>[_.]?)(?P<code>[0-9]+[fi]?)$")


@dataclass(frozen=True)
class ItemGroup:
    """Columns of one instrument under one pattern, e.g. ``caps5_{timepoint}_{item}``."""

    instrument: str
    pattern: str
    columns: tuple[str, ...]
    tokens: tuple[str, ...] = ()  # timepoint tokens found, in file order
    alternatives: tuple[str, ...] = ()  # other instruments the columns fit as well
    missing_items: tuple[str, ...] = ()  # items of the definition without a column


@dataclass
class Draft:
    """The drafted mapping: its TOML text and what the user must decide or check."""

    text: str
    todos: list[str] = field(default_factory=list)  # decisions left to the user
    notes: list[str] = field(default_factory=list)  # guesses to check and columns left out


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a TOML basic string


def _distinct(series: pd.Series) -> list[str]:
    texts = [cell_text(v) for v in pd.unique(series.to_numpy(dtype=object))]
    return [t for t in dict.fromkeys(texts) if t]


def _filled(frame: pd.DataFrame) -> pd.DataFrame:
    """Cells holding something: not missing and, for text, not blank."""
    filled = frame.notna()
    for column in frame.columns:
        if frame[column].dtype == object or isinstance(frame[column].dtype, pd.StringDtype):
            text = frame[column].astype("string").str.strip()
            filled[column] &= (text != "").fillna(False).astype(bool)
    return filled


# --- Item columns -------------------------------------------------------------------------------


def _splits(stem: str) -> Iterable[tuple[str, str, str, str]]:
    """Ways to read a stem as (prefix, token, separator, order): ``prefix`` alone, ``prefix`` +
    separator + token, prefix + token (``wai_s4`` = ``wai_s`` + ``4``), token + separator +
    prefix (``bl_caps5``)."""
    yield stem, "", "", "prefix"
    for cut in range(1, len(stem)):
        head, tail = stem[:cut], stem[cut:]
        if tail[0] in _SEP and len(tail) > 1:
            yield head, tail[1:], tail[0], "prefix"
            yield tail[1:], head, tail[0], "token"
        elif head[-1] not in _SEP and tail[0].isdigit():
            yield head, tail, "", "prefix"


def _instrument_items(instruments: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    items = {code: tuple(inst.item_codes) for code, inst in instruments.items()}
    return {**_UNSUPPORTED_ITEMS, **items}


def find_item_groups(
    columns: Iterable[str], instruments: Mapping[str, Any]
) -> tuple[list[ItemGroup], list[str]]:
    """Item columns grouped by instrument and pattern, and the columns no instrument claims."""
    items_of = _instrument_items(instruments)
    columns = list(columns)
    by_stem: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for column in columns:
        match = _ITEM_COLUMN.match(column)
        if match is None:
            continue
        by_stem.setdefault((match["stem"], match["sep"]), []).append((match["code"], column))
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for (stem, sep), entries in by_stem.items():
        codes = {code for code, _ in entries}
        best: list[tuple[float, int, str, tuple[str, str, str, str]]] = []
        for split in _splits(stem):
            prefix = split[0]
            for code, aliases in PREFIXES.items():
                if prefix not in aliases or code not in items_of:
                    continue
                if not codes <= set(items_of[code]):
                    continue
                coverage = len(codes) / len(items_of[code])
                best.append((coverage, len(prefix), code, split))
        if not best:
            continue
        top = max((c, n) for c, n, _, _ in best)
        winners = [b for b in best if (b[0], b[1]) == top]
        coverage, _, code, (prefix, token, token_sep, order) = winners[0]
        alternatives = tuple(dict.fromkeys(w[2] for w in winners[1:] if w[2] != code))
        if token and order == "prefix":
            pattern = f"{prefix}{token_sep}{{timepoint}}{sep}{{item}}"
        elif token:
            pattern = f"{{timepoint}}{token_sep}{prefix}{sep}{{item}}"
        else:
            pattern = f"{prefix}{sep}{{item}}"
        group = groups.setdefault(
            (code, pattern), {"columns": [], "tokens": [], "alt": alternatives, "codes": set()}
        )
        group["columns"].extend(column for _, column in entries)
        group["codes"] |= codes
        if token:
            group["tokens"].append(token)
    claimed = {c for group in groups.values() for c in group["columns"]}
    unclaimed = [c for c in columns if c not in claimed]
    found = []
    for (code, pattern), group in groups.items():
        missing = tuple(i for i in items_of[code] if i not in group["codes"])
        found.append(
            ItemGroup(
                instrument=code,
                pattern=pattern,
                columns=tuple(group["columns"]),
                tokens=tuple(dict.fromkeys(group["tokens"])),
                alternatives=group["alt"],
                missing_items=missing if not group["tokens"] else (),
            )
        )
    return found, unclaimed


# --- Timepoints ---------------------------------------------------------------------------------

_OPEN_LABEL = re.compile(r"(^|_)(ol|open_?label|open|crossover|cross_over|stage_?2)(_|$)")
_BASELINE = {"bl", "base", "baseline", "pre", "pretreatment", "pre_treatment", "t0", "week_0"}
_POST = {
    "post",
    "pt",
    "posttreatment",
    "post_treatment",
    "end",
    "eot",
    "end_of_treatment",
    "outcome",
}
_SESSION = re.compile(r"^(?:s|sess|session|exp_session|v_?s)_?0*([0-9]+)$")
_PRE_SESSION = re.compile(
    r"^(?:pre_?(?:s|sess|session)_?0*([0-9]+)|(?:s|sess|session)_?0*([0-9]+)_?pre)$"
)


def _clean(text: str) -> str:
    name = re.sub(r"[^a-z0-9]+", "_", text.strip().lower()).strip("_")
    return re.sub(r"_arm_[0-9]+$", "", name)  # REDCap appends the arm to every event


# Words that name a timepoint inside a longer event name ("enrollment_baseline", "ol_start",
# "primary_endpoint", "integration_4"): guesses, each written with "guessed: check it".
_BASELINE_WORDS = _BASELINE | {"start", "enrollment", "enrolment", "entry", "randomization"}
_POST_WORDS = _POST | {"endpoint", "primary_endpoint", "exit", "final", "termination", "close"}
_SESSION_WORDS = {"s", "sess", "session", "exp", "experimental", "integration", "dosing", "drug"}
_PRE_WORDS = {"pre", "prep", "preparation", "preparatory"}


def _by_words(name: str) -> str | None:
    """A timepoint read from the words of a longer name, when they point one way only."""
    words = [w for w in name.split("_") if w]
    numbers = [w for w in words if w.isdigit()]
    letters = set(words) - set(numbers)
    if len(numbers) == 1:
        if letters & _PRE_WORDS:
            return f"pre_s{int(numbers[0])}"
        if letters & _SESSION_WORDS:
            return f"s{int(numbers[0])}"
        return None
    if numbers:
        return None
    baseline, post = bool(letters & _BASELINE_WORDS), bool(letters & _POST_WORDS)
    if "_".join(words) in _POST_WORDS or (post and not baseline):
        return "post"
    if baseline and not post:
        return "baseline"
    return None


def guess_timepoint(text: str) -> tuple[str | None, bool]:
    """(timepoint name, open-label?) for an event or token; None when it is not recognised.

    ``baseline``, ``post``, ``s<N>`` and ``pre_s<N>`` are the names the article's plan uses.
    A whole name is matched first (``bl``, ``session_4``, ``pre_s3``); then its words, so that
    ``enrollment_baseline`` reads as baseline and ``integration_4`` as session 4.
    """
    name = _clean(text)
    open_label = bool(_OPEN_LABEL.search(name))
    if open_label:
        name = _OPEN_LABEL.sub("_", name).strip("_")
    name = name.replace("_visit", "").replace("visit_", "") if "visit" in name else name
    if name in _BASELINE:
        return "baseline", open_label
    if name in _POST:
        return "post", open_label
    if match := _SESSION.match(name):
        return f"s{int(match[1])}", open_label
    if match := _PRE_SESSION.match(name):
        return f"pre_s{int(match[1] or match[2])}", open_label
    # Digits glued to a word ("session4", "visit3") count as a word of their own.
    return _by_words(re.sub(r"(?<=[a-z])(?=[0-9])", "_", name)), open_label


# --- Arm, phase and other columns ---------------------------------------------------------------

_MDMA = re.compile(r"mdma|active|experimental|verum|drug|intervention|treatment|125")
_PLACEBO = re.compile(r"placebo|control|inactive|sham|pbo|dummy")


def guess_arm(label: str) -> str | None:
    text = label.strip().lower()
    placebo, mdma = bool(_PLACEBO.search(text)), bool(_MDMA.search(text))
    if placebo and not (mdma and "placebo" not in text):
        return "placebo"
    if mdma:
        return "mdma"
    return None


def _first(columns: Iterable[str], names: Iterable[str]) -> str | None:
    present = set(columns)
    return next((n for n in names if n in present), None)


def _arm_column(frame: pd.DataFrame, columns: list[str]) -> str | None:
    """A column named as an arm (``arm``, ``rand_group`` ...), else one whose name holds such a
    word (``randomization_group``, ``treatment_arm``) and that holds two or three values."""
    named = _first(columns, ARM_NAMES)
    if named is not None:
        return named
    words = {w for name in ARM_NAMES for w in name.split("_")} - {"rand"}
    for column in columns:
        named_as_arm = bool(set(re.split(r"[^a-z0-9]+", column.lower())) & words)
        if named_as_arm and 2 <= len(_distinct(frame[column])) <= 3:
            return column
    return None


def _id_column(frame: pd.DataFrame, columns: list[str]) -> str | None:
    named = _first(columns, ID_NAMES)
    if named is not None:
        return named
    return next((c for c in columns if c.endswith("_id") or c.startswith("id_")), None)


def _event_column(frame: pd.DataFrame, candidates: list[str], id_column: str | None) -> str | None:
    """A named event column, else one whose few values repeat across participants' rows."""
    named = _first(candidates, EVENT_NAMES)
    if named is not None:
        return named
    if id_column is None or frame[id_column].duplicated().sum() == 0:
        return None
    for column in candidates:
        values = frame[column].map(cell_text)
        filled = values != ""
        n_values = values[filled].nunique()
        if not 2 <= n_values <= _MAX_EVENTS:
            continue
        pairs = pd.DataFrame({"id": frame[id_column].map(cell_text), "v": values})[filled]
        if not pairs.duplicated().any() and filled.mean() > 0.9:
            return column
    return None


def _layout_already(columns: list[str]) -> str | None:
    """The alliance layout the columns already form, if any."""
    if {"participant_id", "instrument", "item", "value"} <= set(columns):
        return "item layout"
    if "participant_id" in columns and any("__" in c for c in columns):
        return "scored layout"
    return None


# --- Writing the TOML ---------------------------------------------------------------------------


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.todos: list[str] = []
        self.notes: list[str] = []

    def comment(self, text: str) -> None:
        self.lines.extend(f"# {line}".rstrip() for line in text.splitlines())

    def blank(self) -> None:
        self.lines.append("")

    def raw(self, line: str) -> None:
        self.lines.append(line)

    def entry(self, key: str, value: str, comment: str = "") -> None:
        line = f"{_quote(key)} = {value}"
        self.lines.append(f"{line}  # {comment}" if comment else line)

    def todo(self, key: str, question: str, why: str) -> None:
        """A value the user must decide; ``why`` goes into the list the command prints."""
        self.entry(key, _quote(f"{TODO}: {question}"))
        self.todos.append(f"line {len(self.lines)}: {why}")


def _examples(columns: tuple[str, ...]) -> str:
    if len(columns) <= 3:
        return ", ".join(columns)
    return f"{columns[0]}, {columns[1]} ... {columns[-1]}"


def _arm_section(
    w: _Writer, frame: pd.DataFrame, column: str, labels: Mapping[Any, str], target: str
) -> None:
    values = _distinct(frame[column])
    if values and all(v in ("mdma", "placebo") for v in values):
        return  # already alliance's labels
    counts = frame[column].map(cell_text).value_counts()
    w.blank()
    w.raw(f"[values.{target}]")
    w.comment(
        f"{column} holds: " + ", ".join(f"{v} ({counts.get(v, 0)} rows)" for v in values[:12])
    )
    if len(values) > 12:
        w.comment(f"... and {len(values) - 12} more values")
    guesses: dict[str, str | None] = {}
    for value in values:
        label = next((str(lab) for code, lab in labels.items() if cell_text(code) == value), None)
        guesses[value] = guess_arm(value) or (guess_arm(label) if label else None)
    decided = [g for g in guesses.values() if g]
    clear = len(set(decided)) == len(decided) == len(values) or (
        len(values) > 2 and len(set(decided)) == 2 and len(decided) == len(values)
    )
    for value, guess in guesses.items():
        label = next((str(lab) for code, lab in labels.items() if cell_text(code) == value), "")
        shown = f"{value} ({label})" if label and label != value else value
        if guess and clear:
            w.entry(value, _quote(guess), f"guessed from the label '{shown}': check it")
        else:
            w.todo(
                value,
                f"mdma or placebo? (value {shown} of column {column})",
                f'which arm is value {shown} of column {column}: write "mdma" or "placebo"',
            )


def _phase_values(w: _Writer, frame: pd.DataFrame, column: str) -> None:
    w.blank()
    w.raw("[values.phase]")
    for value in _distinct(frame[column])[:_MAX_EVENTS]:
        name = _clean(value)
        if _OPEN_LABEL.search(name) or name in {"2", "ol"}:
            w.entry(value, _quote("open_label"), "guessed: check it")
        elif re.search(r"rand|blind|double|stage_?1|^1$|^dbl", name):
            w.entry(value, _quote("randomized"), "guessed: check it")
        else:
            w.todo(
                value,
                f"randomized or open_label? (value {value} of column {column})",
                f'which phase value {value} of column {column} is: "randomized" or "open_label"',
            )


@dataclass(frozen=True)
class _Roles:
    """What each column of the file was taken to be."""

    id: str | None
    arm: str | None
    phase: str | None
    event: str | None
    others: dict[str, str | None]  # therapist_id, site -> the file's column
    supported: list[ItemGroup]  # item groups of instruments alliance scores
    unclaimed: list[str]  # columns that are no instrument's items

    def used(self) -> set[str | None]:
        return {self.id, self.arm, self.phase, self.event, *self.others.values()}


def _roles(frame: pd.DataFrame, instruments: Mapping[str, Any], w: _Writer) -> _Roles:
    groups, unclaimed = find_item_groups([str(c) for c in frame.columns], instruments)
    for group in groups:
        if group.instrument not in instruments:
            w.notes.append(
                f"{group.instrument} recognised ({len(group.columns)} columns such as "
                f"{_examples(group.columns)}), but alliance has no {group.instrument} "
                "definition yet: left out of the mapping"
            )
    id_column = _id_column(frame, unclaimed)
    arm, phase = _arm_column(frame, unclaimed), _first(unclaimed, PHASE_NAMES)
    others = {t: _first(unclaimed, names) for t, names in OTHER_COLUMNS.items()}
    taken = {id_column, arm, phase, *others.values()}
    event = _event_column(frame, [c for c in unclaimed if c not in taken], id_column)
    supported = [g for g in groups if g.instrument in instruments]
    return _Roles(id_column, arm, phase, event, others, supported, unclaimed)


def _event_guesses(frame: pd.DataFrame, event: str | None) -> dict[str, tuple[str | None, bool]]:
    if event is None:
        return {}
    # A column named for sessions whose values are numbers ("session" = 4) names sessions.
    numbered = "sess" in event
    return {
        e: (f"s{int(e)}", False) if numbered and e.isdigit() else guess_timepoint(e)
        for e in _distinct(frame[event])
    }


def _write_columns(w: _Writer, roles: _Roles) -> None:
    w.blank()
    w.raw("[columns]")
    w.comment('"column in your file" = "alliance column"')
    if roles.id is None:
        w.raw(f'{_quote(f"{TODO}: your participant ID column")} = "participant_id"')
        w.todos.append(
            f"line {len(w.lines)}: no participant ID column was recognised: put its name in "
            "place of the TODO key"
        )
    elif roles.id != "participant_id":
        w.entry(roles.id, _quote("participant_id"), "guessed participant ID column")
    renames = {"arm": roles.arm, "phase": roles.phase, **roles.others}
    for target, source in renames.items():
        if source is not None and source != target:
            w.entry(source, _quote(target), f"guessed {target.replace('_id', '')} column")


def _write_constants(w: _Writer, roles: _Roles, event_phases: bool) -> None:
    lines: list[Any] = []
    if roles.phase is None and not event_phases:
        lines.append(
            lambda: w.entry(
                "phase",
                _quote("randomized"),
                "no phase column: every row is taken as the randomised phase",
            )
        )
    if roles.arm is None:
        lines.append(
            lambda: w.todo(
                "arm",
                "mdma or placebo for every row, or map your arm column under [columns]",
                "no arm column was recognised: name it under [columns] or give one arm for "
                "every row",
            )
        )
    if roles.event is None and any(not g.tokens for g in roles.supported):
        lines.append(
            lambda: w.todo(
                "timepoint",
                "the timepoint of the items whose column names hold none (baseline, s4 ...)",
                "some item columns name no timepoint and the file has no event column: give "
                "their timepoint",
            )
        )
    if lines:
        w.blank()
        w.raw("[constants]")
        w.comment("layout columns the file lacks: one value for every row")
        for write in lines:
            write()


def _write_participant(w: _Writer, frame: pd.DataFrame, roles: _Roles) -> None:
    if roles.id is None or not frame[roles.id].duplicated().any():
        return  # one row per participant: nothing to copy
    once = [t for t, c in {"arm": roles.arm, **roles.others}.items() if c is not None]
    if once:
        w.blank()
        w.raw("[participant]")
        w.comment("given once per participant (often on the first event only), copied to all")
        w.comment("their rows")
        w.raw(f"columns = [{', '.join(_quote(c) for c in once)}]")


def _write_timepoints(
    w: _Writer,
    frame: pd.DataFrame,
    roles: _Roles,
    guesses: dict[str, tuple[str | None, bool]],
) -> None:
    if roles.event is None:
        return
    event_phases = any(open_label for _, open_label in guesses.values())
    item_columns = [c for g in roles.supported for c in g.columns]
    answered = _filled(frame[item_columns]).any(axis=1) if item_columns else frame.index < 0
    with_answers = set(frame[roles.event].map(cell_text)[answered])
    w.blank()
    w.raw("[timepoints]")
    w.raw(f"column = {_quote(roles.event)}")
    w.blank()
    w.raw("[timepoints.values]")
    w.comment('"event" = "timepoint", or { timepoint = "...", phase = "open_label" }')
    left_out = []
    for event, (timepoint, open_label) in guesses.items():
        if event not in with_answers:
            left_out.append(event)
        elif timepoint is None:
            w.todo(
                event,
                f"timepoint name for event {event} (baseline, post, s4 ...)",
                f"event {event} of column {roles.event} holds item answers but its timepoint "
                "was not recognised: name it (baseline, post, s4 ...)",
            )
        elif event_phases:
            phase = "open_label" if open_label else "randomized"
            value = f"{{ timepoint = {_quote(timepoint)}, phase = {_quote(phase)} }}"
            w.entry(event, value, "guessed: check it")
        else:
            w.entry(event, _quote(timepoint), "guessed: check it")
    if left_out:
        more = " ..." if len(left_out) > 10 else ""
        w.comment(
            f"events without item answers, left out (no rows come from them): "
            f"{', '.join(left_out[:10])}{more}"
        )


def _write_items(w: _Writer, group: ItemGroup) -> None:
    w.blank()
    w.raw("[[items]]")
    if group.alternatives:
        options = ", ".join((group.instrument, *group.alternatives))
        w.raw(f"instrument = {_quote(f'{TODO}: one of {options} (the item count fits each)')}")
        w.todos.append(
            f"line {len(w.lines)}: the columns {_examples(group.columns)} fit {options} alike: "
            "write the instrument code"
        )
    else:
        w.raw(f"instrument = {_quote(group.instrument)}")
    w.raw(
        f"pattern = {_quote(group.pattern)}  # {len(group.columns)} columns: "
        f"{_examples(group.columns)}"
    )
    if group.missing_items:
        w.notes.append(
            f"{group.instrument} ({group.pattern}): no column for item(s) "
            f"{', '.join(group.missing_items[:10])}; those answers count as missing"
        )
    if not group.tokens:
        return
    w.blank()
    w.raw("[items.timepoints]")
    w.comment('"token in the column names" = "timepoint"')
    for token in group.tokens:
        timepoint, open_label = guess_timepoint(token)
        if timepoint is None or open_label:
            what = "an open-label timepoint: see docs/mapping.md for phases" if open_label else ""
            w.todo(
                token,
                f"timepoint name for token {token} (baseline, post, s4 ...) {what}".rstrip(),
                f"token {token} of {group.pattern} was not recognised: name its timepoint "
                "(baseline, post, s4 ...)",
            )
        else:
            w.entry(token, _quote(timepoint), "guessed: check it")


def draft_mapping(raw: RawTable, instruments: Mapping[str, Any]) -> Draft:
    """Propose a mapping for ``raw``, in the grammar ``load_mapping`` reads.

    ``instruments`` is the registry (code -> definition); an instrument the draft recognises but
    the registry lacks is reported and left out.
    """
    frame = raw.frame.drop(columns=[SOURCE_ROW], errors="ignore")
    columns = [str(c) for c in frame.columns]
    w = _Writer()
    w.comment(f"Mapping drafted by `alliance mapping draft` from {raw.name}")
    w.comment(f"({len(frame)} rows, {len(columns)} columns). Every guess below needs checking;")
    w.comment('each "TODO: ..." value is a decision alliance could not make from the file, and')
    w.comment("`alliance validate` refuses this mapping until none is left.")
    w.comment("The grammar of a mapping file: docs/mapping.md; this workflow: docs/user-guide.md.")

    layout = _layout_already(columns)
    if layout is not None:
        w.blank()
        w.comment(f"{raw.name} is already in the {layout}: alliance reads it without a mapping,")
        w.comment("or with [columns] renames if some of its column names differ.")
        w.notes.append(f"{raw.name} is already in the {layout}; no mapping is needed")
        return Draft(text="\n".join(w.lines) + "\n", todos=w.todos, notes=w.notes)
    if {"qstestcd", "paramcd"} & set(columns):
        w.notes.append(
            "the file looks like CDISC SDTM QS or ADaM ADQS (one row per answer): see the SDTM "
            "example of docs/mapping.md"
        )

    roles = _roles(frame, instruments, w)
    guesses = _event_guesses(frame, roles.event)
    _write_columns(w, roles)
    if roles.arm is not None:
        _arm_section(w, frame, roles.arm, raw.value_labels.get(roles.arm, {}), "arm")
    else:
        w.notes.append(
            "no arm column was recognised: add one under [columns], or give arm under "
            "[constants] if every participant had the same allocation"
        )
    if roles.phase is not None:
        _phase_values(w, frame, roles.phase)
    _write_constants(w, roles, any(open_label for _, open_label in guesses.values()))
    _write_participant(w, frame, roles)
    _write_timepoints(w, frame, roles, guesses)
    for group in roles.supported:
        _write_items(w, group)
    if not roles.supported:
        w.notes.append(
            "no item columns of a known instrument were recognised; see the guide for the "
            "prefixes and item codes alliance knows"
        )
    left = [c for c in roles.unclaimed if c not in roles.used()]
    if left:
        more = f" ... and {len(left) - 20} more" if len(left) > 20 else ""
        w.blank()
        w.comment(
            f"columns not used (not recognised as items, ID, arm, phase or event): "
            f"{', '.join(left[:20])}{more}"
        )
    return Draft(text="\n".join(w.lines) + "\n", todos=w.todos, notes=w.notes)


# --- The placeholder check every mapping load runs ----------------------------------------------

_TODO_TEXT = re.compile(r"\s*todo\b", re.IGNORECASE)
_TODO_LITERAL = re.compile(r"""["']\s*todo\b""", re.IGNORECASE)


def _has_todo(node: Any) -> bool:
    if isinstance(node, str):
        return _TODO_TEXT.match(node) is not None
    if isinstance(node, dict):
        return any(_has_todo(k) or _has_todo(v) for k, v in node.items())
    if isinstance(node, list):
        return any(_has_todo(v) for v in node)
    return False


def _code_part(line: str) -> str:
    """The line without its comment (a # outside quotes)."""
    quote = ""
    for i, char in enumerate(line):
        if quote:
            if char == "\\" and quote == '"':
                continue
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "#":
            return line[:i]
    return line


def todo_problems(document: Mapping[str, Any], text: str) -> list[str]:
    """One message per line that still holds a draft's ``"TODO: ..."`` placeholder."""
    if not _has_todo(dict(document)):
        return []
    messages = []
    for number, line in enumerate(text.splitlines(), start=1):
        code = _code_part(line).strip()
        if _TODO_LITERAL.search(code):
            messages.append(
                f"line {number}: {code} is a decision `alliance mapping draft` left to you. "
                "Fix: replace the TODO with the value it asks for (docs/user-guide.md lists "
                "each kind)"
            )
    return messages or [
        'a value still starts with "TODO", left by `alliance mapping draft`. Fix: replace it '
        "with the value it asks for"
    ]
