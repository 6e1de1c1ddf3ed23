"""The part of a mapping file that describes a wide export: ``[constants]``, ``[participant]``,
``[timepoints]`` and ``[[items]]`` (see ``docs/mapping.md``).

Parsing only: what each entry means and whether it can mean anything, checked without the data.
Every message names the mapping file's line, found in the text (``tomllib`` keeps no lines).
The reshape itself is :mod:`alliance.input.wide`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from alliance.instruments.registry import load_instruments
from alliance.validation.cells import phase_label, timepoint_label
from alliance.validation.instrument_codes import instrument_label, instrument_lookup

WIDE_SECTIONS = ("constants", "participant", "timepoints", "items")
# Layout columns a constant or a [participant] fill may give (the item-level ones come from
# [[items]]; a constant timepoint suits a file holding one timepoint only).
PARTICIPANT_COLUMNS = ("arm", "phase", "therapist_id", "site", "date")
CONSTANT_COLUMNS = ("phase", "arm", "timepoint", "therapist_id", "site", "date")
PLACEHOLDERS = ("item", "timepoint")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
# Item codes such as 12 or 17f: a column whose {item} part has this shape but is not an item
# of the instrument is an error, not a column quietly left out (``wai_37``); other columns that
# share the prefix (REDCap's ``wai_complete``) do not match at all.
_ITEM_SHAPE = r"[0-9]+[a-z]*"
_TOKEN_SHAPE = r"[a-z0-9]+(?:_[a-z0-9]+)*?"


class MappingLines:
    """Where each section and key of a TOML text is: 1-based line numbers.

    Sections are named as paths: ``columns``, ``values.arm``, ``timepoints.values``,
    ``items[0]``, ``items[0].timepoints``. Keys are matched without case or quotes. A key this
    simple scan cannot place (a dotted key, an inline table) gets its section's line.
    """

    def __init__(self, text: str):
        self._sections: dict[str, int] = {}
        self._keys: dict[tuple[str, str], int] = {}
        arrays: dict[str, int] = {}
        section = ""
        for number, line in enumerate(text.splitlines(), start=1):
            stripped = line.strip()
            if stripped.startswith("[["):
                name = _section_name(stripped[2:].split("]]", 1)[0])
                arrays[name] = arrays.get(name, -1) + 1
                section = f"{name}[{arrays[name]}]"
                self._sections.setdefault(section, number)
            elif stripped.startswith("["):
                name = _section_name(stripped[1:].split("]", 1)[0])
                head, _, rest = name.partition(".")
                if head in arrays and rest:
                    name = f"{head}[{arrays[head]}].{rest}"
                section = name
                self._sections.setdefault(section, number)
            elif "=" in stripped and not stripped.startswith("#"):
                key = _unquote(stripped.split("=", 1)[0])
                self._keys.setdefault((section, key.lower()), number)

    def section(self, path: str) -> int | None:
        return self._sections.get(path)

    def key(self, path: str, key: str) -> int | None:
        line = self._keys.get((path, key.strip().lower()))
        return line if line is not None else self.section(path)


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def _section_name(text: str) -> str:
    return ".".join(_unquote(part) for part in text.split("."))


@dataclass(frozen=True)
class Target:
    """What an event value or a column-name token stands for: a timepoint, maybe a phase."""

    key: str  # as the mapping spells it
    timepoint: str
    phase: str | None
    line: int | None


@dataclass(frozen=True)
class ItemsEntry:
    """One ``[[items]]`` entry: which columns (or, for long files, which codes) hold the items
    of one instrument."""

    index: int
    instrument: str
    pattern: str
    regex: re.Pattern[str]
    tokens: Mapping[str, Target]
    line: int | None  # the entry's pattern line
    code_column: str | None = None  # long files (CDISC): the column holding the item code
    value_column: str | None = None  # ... and the one holding the answer

    @property
    def uses_timepoint(self) -> bool:
        return "timepoint" in self.regex.groupindex

    def where(self, file: str) -> str:
        at = f" line {self.line}" if self.line is not None else ""
        return f'{file}{at} ([[items]] {self.instrument}, pattern "{self.pattern}")'


@dataclass(frozen=True)
class WideMapping:
    constants: Mapping[str, tuple[str, int | None]] = field(default_factory=dict)
    participant: Mapping[str, int | None] = field(default_factory=dict)
    event_column: str | None = None
    event_line: int | None = None
    events: Mapping[str, Target] = field(default_factory=dict)
    events_line: int | None = None
    items: tuple[ItemsEntry, ...] = ()


def _at(line: int | None) -> str:
    return f"line {line}: " if line is not None else ""


def _text(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float):
        return str(int(value)) if float(value).is_integer() else str(value)
    return None


def _constants(table: Any, lines: MappingLines, messages: list[str]) -> dict[str, Any]:
    out: dict[str, tuple[str, int | None]] = {}
    if not isinstance(table, dict):
        messages.append(
            f"{_at(lines.section('constants'))}[constants] must be a table of "
            '"alliance column" = "value" lines. Fix: e.g. phase = "randomized"'
        )
        return out
    for column, value in table.items():
        line = lines.key("constants", column)
        name = column.strip().lower()
        text = _text(value)
        if name not in CONSTANT_COLUMNS:
            messages.append(
                f"{_at(line)}[constants] {column}: not a layout column a constant can give. Fix: "
                f"use one of {', '.join(CONSTANT_COLUMNS)}"
            )
        elif text is None or text == "":
            messages.append(
                f"{_at(line)}[constants] {column}: the value must be text or a number. Fix: "
                f'quote it, e.g. {name} = "randomized"'
            )
        elif name == "phase" and phase_label(text) is None:
            messages.append(
                f"{_at(line)}[constants] phase = {text!r}: unknown phase. Fix: write "
                '"randomized" or "open_label"'
            )
        elif name == "timepoint" and timepoint_label(text) is None:
            messages.append(
                f"{_at(line)}[constants] timepoint = {text!r}: a timepoint is letters, digits "
                'and single underscores. Fix: e.g. "baseline" or "s4"'
            )
        else:
            out[name] = (text, line)
    return out


def _participant(table: Any, lines: MappingLines, messages: list[str]) -> dict[str, int | None]:
    line = lines.key("participant", "columns")
    columns = table.get("columns") if isinstance(table, dict) else None
    extra = [k for k in table if k != "columns"] if isinstance(table, dict) else []
    if not isinstance(columns, list) or extra or not all(isinstance(c, str) for c in columns):
        messages.append(
            f"{_at(line)}[participant] must hold one key, columns, a list of layout columns "
            'filled across each participant\'s rows. Fix: e.g. columns = ["arm"]'
        )
        return {}
    out: dict[str, int | None] = {}
    for column in columns:
        name = column.strip().lower()
        if name not in PARTICIPANT_COLUMNS:
            messages.append(
                f"{_at(line)}[participant] columns: '{column}' cannot be filled per participant. "
                f"Fix: use layout column names from {', '.join(PARTICIPANT_COLUMNS)} (after the "
                "[columns] renames)"
            )
        else:
            out[name] = line
    return out


def _target(
    key: str, value: Any, line: int | None, where: str, messages: list[str]
) -> Target | None:
    phase: str | None = None
    if isinstance(value, dict):
        unknown = set(value) - {"timepoint", "phase"}
        timepoint, phase_text = _text(value.get("timepoint")), _text(value.get("phase"))
        if unknown or timepoint is None:
            messages.append(
                f'{_at(line)}{where} "{key}": a table here holds timepoint and optionally '
                'phase. Fix: e.g. { timepoint = "baseline", phase = "open_label" }'
            )
            return None
        if phase_text is not None:
            phase = phase_label(phase_text)
            if phase is None:
                messages.append(
                    f'{_at(line)}{where} "{key}": unknown phase {phase_text!r}. Fix: write '
                    '"randomized" or "open_label"'
                )
                return None
    else:
        timepoint = _text(value)
    label = timepoint_label(timepoint) if timepoint else None
    if label is None:
        messages.append(
            f'{_at(line)}{where} "{key}" = {value!r}: a timepoint is letters, digits and single '
            'underscores (it names score columns such as wai__s4). Fix: e.g. "baseline", "s4"'
        )
        return None
    return Target(key=key, timepoint=label, phase=phase, line=line)


def _targets(
    table: Any, path: str, where: str, lines: MappingLines, messages: list[str]
) -> dict[str, Target]:
    from alliance.input.mapping import match_key

    out: dict[str, Target] = {}
    if not isinstance(table, dict) or not table:
        parent = path.rsplit(".", 1)[0]
        messages.append(
            f"{_at(lines.section(path) or lines.section(parent))}{where} must be a table of "
            '"value in the file" = "timepoint" lines. Fix: e.g. "baseline_arm_1" = "baseline"'
        )
        return out
    for key, value in table.items():
        target = _target(key, value, lines.key(path, key), where, messages)
        if target is not None:
            out[match_key(key)] = target
    return out


def _timepoints(table: Any, lines: MappingLines, messages: list[str]) -> dict[str, Any]:
    line = lines.section("timepoints")
    if not isinstance(table, dict):
        messages.append(f"{_at(line)}[timepoints] must be a table. Fix: see docs/mapping.md")
        return {}
    column = table.get("column")
    extra = set(table) - {"column", "values"}
    if extra:
        messages.append(
            f"{_at(line)}[timepoints]: unknown key(s) {', '.join(sorted(extra))}. Fix: "
            "[timepoints] holds column and a [timepoints.values] table"
        )
    if not isinstance(column, str) or not column.strip():
        messages.append(
            f"{_at(line)}[timepoints] needs column, the data column naming each row's event or "
            'visit. Fix: e.g. column = "redcap_event_name"'
        )
        return {}
    events = _targets(
        table.get("values"), "timepoints.values", "[timepoints.values]", lines, messages
    )
    return {
        "event_column": column.strip().lower(),
        "event_line": lines.key("timepoints", "column"),
        "events": events,
        "events_line": lines.section("timepoints.values"),
    }


def _item_regex(pattern: str, item_codes: tuple[str, ...], tokens: Mapping[str, Target]) -> str:
    if all(re.fullmatch(_ITEM_SHAPE, code) for code in item_codes):
        item = _ITEM_SHAPE
    else:
        item = "|".join(re.escape(c) for c in sorted(item_codes, key=len, reverse=True))
    listed = "|".join(re.escape(t) for t in sorted(tokens, key=len, reverse=True))
    token = f"{listed}|{_TOKEN_SHAPE}" if listed else _TOKEN_SHAPE
    parts, last = [], 0
    for match in _PLACEHOLDER.finditer(pattern):
        parts.append(re.escape(pattern[last : match.start()]))
        name = match.group(1)
        parts.append(f"(?P<item>{item})" if name == "item" else f"(?P<timepoint>{token})")
        last = match.end()
    parts.append(re.escape(pattern[last:]))
    return "".join(parts)


def _items(table: Any, lines: MappingLines, messages: list[str]) -> tuple[ItemsEntry, ...]:
    if not isinstance(table, list) or not all(isinstance(e, dict) for e in table):
        messages.append(
            f"{_at(lines.section('items'))}items must be written as [[items]] sections (double "
            "brackets), one per instrument. Fix: see docs/mapping.md"
        )
        return ()
    instruments = load_instruments()
    lookup = instrument_lookup(instruments)
    known = ", ".join(sorted(instruments))
    out = []
    for index, entry in enumerate(table):
        path = f"items[{index}]"
        head = lines.section(path)
        extra = set(entry) - {"instrument", "pattern", "timepoints", "code_column", "value_column"}
        if extra:
            messages.append(
                f"{_at(head)}[[items]]: unknown key(s) {', '.join(sorted(extra))}. Fix: an entry "
                "holds instrument, pattern and, for long files, code_column and value_column"
            )
        name, pattern = entry.get("instrument"), entry.get("pattern")
        code = instrument_label(name, lookup) if isinstance(name, str) else None
        if code is None:
            messages.append(
                f"{_at(lines.key(path, 'instrument'))}[[items]] instrument = {name!r}: unknown "
                f"instrument. Fix: use one of {known}"
            )
        if not isinstance(pattern, str) or not pattern.strip():
            messages.append(
                f"{_at(head)}[[items]] needs pattern, the column names holding the items with "
                '{item} where the item code stands. Fix: e.g. pattern = "wai_{item}"'
            )
            continue
        pattern_line = lines.key(path, "pattern")
        pattern = pattern.strip().lower()
        names = _PLACEHOLDER.findall(pattern)
        unknown = [n for n in names if n not in PLACEHOLDERS]
        for n in unknown:
            messages.append(
                f'{_at(pattern_line)}[[items]] pattern "{pattern}": unknown placeholder '
                f"{{{n}}}. Fix: use {{item}} (the item code) and optionally {{timepoint}}"
            )
        if names.count("item") != 1:
            messages.append(
                f'{_at(pattern_line)}[[items]] pattern "{pattern}" must hold {{item}} exactly '
                'once, where the item code stands in the column name. Fix: e.g. "wai_{item}"'
            )
        if names.count("timepoint") > 1:
            messages.append(
                f'{_at(pattern_line)}[[items]] pattern "{pattern}" holds {{timepoint}} more than '
                "once. Fix: keep one"
            )
        if "{" in _PLACEHOLDER.sub("", pattern) or "}" in _PLACEHOLDER.sub("", pattern):
            messages.append(
                f'{_at(pattern_line)}[[items]] pattern "{pattern}": a brace that opens no '
                "placeholder. Fix: write placeholders as {item} and {timepoint}"
            )
        code_column, value_column = entry.get("code_column"), entry.get("value_column")
        if (code_column is None) != (value_column is None) or not all(
            c is None or (isinstance(c, str) and c.strip()) for c in (code_column, value_column)
        ):
            messages.append(
                f"{_at(head)}[[items]]: code_column and value_column go together (a long file: "
                "the column holding the item code and the one holding the answer). Fix: give "
                'both, e.g. code_column = "QSTESTCD" and value_column = "QSSTRESN", or neither'
            )
            code_column = value_column = None
        tokens: dict[str, Target] = {}
        if "timepoints" in entry:
            tokens = _targets(
                entry["timepoints"], f"{path}.timepoints", "[items.timepoints]", lines, messages
            )
            if "timepoint" not in names:
                messages.append(
                    f"{_at(lines.section(f'{path}.timepoints'))}[items.timepoints] is given but "
                    f'pattern "{pattern}" has no {{timepoint}}. Fix: put {{timepoint}} in the '
                    "pattern where the token stands, or remove the table"
                )
        elif "timepoint" in names:
            messages.append(
                f'{_at(pattern_line)}[[items]] pattern "{pattern}" uses {{timepoint}} but the '
                "entry has no [items.timepoints] table saying what each token means. Fix: add "
                '[items.timepoints] after this entry, e.g. "s4" = "s4"'
            )
        if code is None or unknown or names.count("item") != 1:
            continue
        item_codes = tuple(instruments[code].item_codes)
        out.append(
            ItemsEntry(
                index=index,
                instrument=code,
                pattern=pattern,
                regex=re.compile(_item_regex(pattern, item_codes, tokens)),
                tokens={t.key.strip().lower(): t for t in tokens.values()},
                line=pattern_line,
                code_column=code_column.strip().lower() if code_column else None,
                value_column=value_column.strip().lower() if value_column else None,
            )
        )
    return tuple(out)


def parse_wide(document: Mapping[str, Any], text: str, messages: list[str]) -> WideMapping | None:
    """The wide sections of a parsed mapping, or None when it has none; problems appended to
    ``messages`` (each starting with the line it is on)."""
    if not any(section in document for section in WIDE_SECTIONS):
        return None
    lines = MappingLines(text)
    constants = _constants(document.get("constants", {}), lines, messages)
    participant = (
        _participant(document["participant"], lines, messages) if "participant" in document else {}
    )
    timepoints = (
        _timepoints(document["timepoints"], lines, messages) if "timepoints" in document else {}
    )
    items = _items(document["items"], lines, messages) if "items" in document else ()
    if timepoints and "items" not in document:
        messages.append(
            f"{_at(lines.section('timepoints'))}[timepoints] reads the timepoint of item answers "
            "from an event column, so it needs [[items]] entries saying which columns hold the "
            "items. Fix: add [[items]], or translate a timepoint column with [values.timepoint]"
        )
    if "timepoint" in constants and timepoints:
        messages.append(
            f"{_at(constants['timepoint'][1])}[constants] timepoint and [timepoints] both give "
            "the timepoint. Fix: keep one of them"
        )
    return WideMapping(
        constants=constants,
        participant=participant,
        items=items,
        **timepoints,
    )
