"""Problems found in user input, collected rather than raised one at a time.

Every message a user sees about bad input is a :class:`Problem`: where (file, row, column),
what was found (value), what is wrong and how to fix it. Validation gathers all of them in one
pass and raises a single :class:`DataError`, which the command line prints, one line per problem,
before exiting with status 1.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, located as precisely as the input allows."""

    file: str
    what: str
    fix: str
    row: int | None = None  # row as a spreadsheet shows it: the header is row 1
    column: str | None = None
    value: object = None

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        text = ", ".join(where) + f": {self.what}"
        if self.value is not None:
            text += f" (found {self.value!r})"
        return f"{text}. Fix: {self.fix}"


class AllianceError(Exception):
    """Base class for errors the command line reports without a traceback (exit status 1)."""

    def lines(self) -> list[str]:
        return [str(self)]


class DataError(AllianceError):
    """The input data have one or more problems; all of them are listed."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]


class PlanError(AllianceError):
    """The analysis plan (or a mapping/configuration file) is invalid; all problems are listed."""

    def __init__(self, file: str, messages: Iterable[str]):
        self.file = file
        self.messages = list(messages)
        super().__init__("\n".join(f"{file}: {m}" for m in self.messages))

    def lines(self) -> list[str]:
        return [f"{self.file}: {m}" for m in self.messages]


class AnalysisError(AllianceError):
    """A declared model cannot be estimated from the data it was given."""

    def __init__(self, model: str, message: str):
        self.model = model
        super().__init__(f"model {model}: {message}")
