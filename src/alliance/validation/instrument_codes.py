"""How users spell instruments and item codes, read back to the definitions' codes.

Nothing here is specific to one instrument: names are matched through the definitions' own codes
(and any ``aliases`` a definition lists), compared without case, spaces, dashes or underscores,
with a trailing Roman numeral read as a number (``CAPS-IV`` is ``CAPS4``). Instruments belong to
the same *family* when they produce a score of the same name (WAI, WAI-S and WAI-SR all give
``wai``), which is how "two forms of one instrument at one timepoint" is recognised.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

_ROMAN = {"I": "1", "II": "2", "III": "3", "IV": "4", "V": "5"}
# ASCII digits only: \d would also match Arabic-Indic or full-width digits.
_ITEM = re.compile(r"0*([0-9]+)(?:\.0*)?([a-z]*)")


class InstrumentLike(Protocol):
    """What validation needs from an instrument definition."""

    @property
    def code(self) -> str: ...
    @property
    def item_codes(self) -> Sequence[str]: ...
    @property
    def response_min(self) -> float: ...
    @property
    def response_max(self) -> float: ...
    @property
    def score_names(self) -> Iterable[str]: ...


def _squash(text: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", text.upper())


def _arabic(squashed: str) -> str:
    """``CAPSIV`` -> ``CAPS4``: a trailing Roman numeral after a letter, as a number."""
    match = re.match(r"^(.*?[A-Z])(IV|V|III|II|I)$", squashed)
    if match is None:
        return squashed
    return match.group(1) + _ROMAN[match.group(2)]


def instrument_lookup(instruments: Mapping[str, InstrumentLike]) -> dict[str, str]:
    """Squashed spelling -> instrument code, for every code and alias of the definitions."""
    lookup: dict[str, str] = {}
    for inst in instruments.values():
        for name in (inst.code, *getattr(inst, "aliases", ())):
            lookup[_squash(name)] = inst.code
    return lookup


def instrument_label(text: str, lookup: Mapping[str, str]) -> str | None:
    """The instrument code ``text`` means, or None."""
    squashed = _squash(text)
    return lookup.get(squashed) or lookup.get(_arabic(squashed))


def item_label(text: str) -> str:
    """An item code as the definitions write it: ``' 01 '`` -> ``'1'``, ``'1.0'`` -> ``'1'``,
    ``'01F'`` -> ``'1f'``; anything else lower-cased and stripped."""
    lowered = text.strip().lower()
    match = _ITEM.fullmatch(lowered)
    if match is None:
        return lowered
    return str(int(match.group(1))) + match.group(2)


def families(instruments: Mapping[str, InstrumentLike]) -> dict[str, str]:
    """Instrument code -> family name: instruments sharing any score name share a family."""
    parent = {inst.code: inst.code for inst in instruments.values()}

    def root(code: str) -> str:
        while parent[code] != code:
            code = parent[code]
        return code

    owner: dict[str, str] = {}
    for inst in instruments.values():
        for score in inst.score_names:
            if score in owner:
                a, b = root(owner[score]), root(inst.code)
                if a != b:
                    parent[max(a, b)] = min(a, b)
            else:
                owner[score] = inst.code
    return {code: root(code) for code in parent}


def items_summary(item_codes: Sequence[str], limit: int = 6) -> str:
    """'1, 2, 3, …, 36' for messages."""
    codes = list(item_codes)
    if len(codes) <= limit:
        return ", ".join(codes)
    return ", ".join(codes[: limit - 2]) + ", …, " + codes[-1]
