"""Collect problems by kind, and print them without drowning the user.

A file with one systematic mistake (a wrong code in a whole column) can hold thousands of
identical problems. Every one of them is kept in :attr:`DataError.problems`, so callers and tests
can inspect them all; :meth:`GroupedDataError.lines` shows the first ``per_kind`` of each kind and
one summary line for the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from alliance.errors import DataError, Problem

PER_KIND = 50


class GroupedDataError(DataError):
    """A :class:`DataError` whose problems come in kinds (one check, one column each).

    ``problems`` holds every problem; ``lines()`` is capped at ``per_kind`` lines per kind.
    """

    def __init__(self, groups: Iterable[Sequence[Problem]], per_kind: int = PER_KIND):
        self.groups = [list(g) for g in groups if g]
        self.per_kind = per_kind
        self.problems = [p for g in self.groups for p in g]
        # The message is the summarised lines: formatting millions of problems would take
        # longer than finding them.
        Exception.__init__(self, "\n".join(self.lines()))

    def lines(self) -> list[str]:
        out: list[str] = []
        for group in self.groups:
            out.extend(str(p) for p in group[: self.per_kind])
            rest = len(group) - self.per_kind
            if rest > 0:
                first = group[0]
                where = f" in column '{first.column}'" if first.column is not None else ""
                out.append(
                    f"{first.file}: … and {rest:,} more rows with the same problem{where} "
                    f"({first.what})"
                )
        return out


class ProblemCollector:
    """Problems gathered in one pass, grouped by kind in the order the checks ran."""

    def __init__(self, file: str):
        self.file = file
        self._groups: dict[str, list[Problem]] = {}

    def add(self, kind: str, problem: Problem) -> None:
        self._groups.setdefault(kind, []).append(problem)

    def extend(self, kind: str, problems: Iterable[Problem]) -> None:
        self._groups.setdefault(kind, []).extend(problems)

    def require_columns(
        self, columns: Iterable[str], required: Sequence[str], layout_needs: str
    ) -> None:
        """One problem per required column absent from the header (row 1)."""
        present = set(columns)
        for column in required:
            if column not in present:
                self.add(
                    "missing column",
                    Problem(
                        file=self.file,
                        row=1,
                        column=column,
                        what=f"required column '{column}' is missing ({layout_needs})",
                        fix=f"add the column, or name your column for it in a mapping file "
                        f'([columns] "Your name" = "{column}")',
                    ),
                )

    def __bool__(self) -> bool:
        return any(self._groups.values())

    def error(self) -> GroupedDataError:
        return GroupedDataError(self._groups.values())

    def raise_if_any(self) -> None:
        if self:
            raise self.error()
