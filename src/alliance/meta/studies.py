"""The studies to pool: read from a study table or from ``results.json`` files, checked once.

A **study table** (.csv, .tsv, .xlsx, .sav, .dta, .parquet) has one row per study with columns
``study`` (a unique name), ``r`` (the correlation of alliance with outcome, strictly between
−1 and 1), ``n`` (participants it rests on) and optionally ``covariates`` (how many covariates
the model that gave a partial r adjusted for; default 0) and ``direction`` (``higher_is_worse``
when r is with a symptom score as published, so that its sign is flipped; ``higher_is_better``
or blank when r is already oriented so that positive means higher alliance with better outcome).

A **results.json** written by ``alliance analyze`` is one study: the partial r of the alliance
term of the model ``--model`` names, its n and the number of its covariates (every term but
the intercept and the alliance term, so the baseline counts). Its sign is oriented from the
instrument definitions (:file:`directions.toml`): CAPS and IES-R are severities, so a partial
r of alliance with post-treatment severity is shown with its sign flipped.

Every problem in every input is collected and raised at once as a :class:`DataError` whose
lines name the file, row and column.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from alliance.errors import DataError, Problem
from alliance.input.cells import cell_text
from alliance.input.opening import InputFileError, data_limit, read_input_bytes
from alliance.input.readers import read_table
from alliance.validation.cells import plain_number

REQUIRED = ("study", "r", "n")
OPTIONAL = ("covariates", "direction")
WORSE, BETTER = "higher_is_worse", "higher_is_better"
DIRECTION_WORDS = {
    "higher_is_worse": WORSE,
    "worse": WORSE,
    "higher_is_better": BETTER,
    "better": BETTER,
    "": BETTER,
}
# Plan entries that change which model a partial r comes from; the rest (name, alpha,
# multiplicity, resampling counts) leave the partial r as it is, so sites may differ there.
MODEL_PLAN_KEYS = ("outcomes", "predictors", "covariates", "episode_rule", "missing_data")


@dataclass(frozen=True)
class Study:
    """One study's effect, oriented so that positive r means higher alliance, better outcome."""

    name: str
    r: float
    n: int
    covariates: int
    r_as_given: float
    flipped: bool
    source: str  # where it came from: "sites.csv row 3" or "site_a/results.json"
    model: str | None = None  # the results.json model key, e.g. "caps~wai@s4"
    synthetic: bool = False

    @property
    def z(self) -> float:
        return math.atanh(self.r)

    @property
    def variance(self) -> float:
        return 1.0 / (self.n - 3 - self.covariates)


def score_directions() -> dict[str, str]:
    """Score name → ``higher_is_worse`` or ``higher_is_better``, from the bundled data."""
    from alliance.instruments.registry import load_instruments

    text = resources.files("alliance.meta").joinpath("directions.toml").read_text("utf-8")
    by_instrument = tomllib.loads(text)["instruments"]
    directions: dict[str, str] = {}
    for code, instrument in load_instruments().items():
        if code in by_instrument:
            for name in instrument.score_names:
                directions[name] = by_instrument[code]
    return directions


# --------------------------------------------------------------------------- study tables


def _number(cell: Any) -> float | None:
    if cell is None or isinstance(cell, bool):
        return None
    if isinstance(cell, (int, float, np.integer, np.floating)):
        value = float(cell)
        return value if math.isfinite(value) else None
    text = str(cell).strip()
    return plain_number(text) if text else None


def _blank(cell: Any) -> bool:
    if cell is None:
        return True
    if isinstance(cell, float) and math.isnan(cell):
        return True
    return str(cell).strip() == "" or str(cell) in ("nan", "<NA>")


def read_study_table(path: Path) -> tuple[list[Study], list[str]]:
    """The studies of one table and any warnings (columns it does not use)."""
    raw = read_table(path)
    file = path.name
    frame = raw.frame
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise DataError(
            [
                Problem(
                    file=file,
                    column=column,
                    what="required column is missing",
                    fix="a study table has the columns study, r and n (and optionally "
                    "covariates and direction)",
                )
                for column in missing
            ]
        )
    unused = [c for c in frame.columns if c not in (*REQUIRED, *OPTIONAL, "source_row")]
    warnings = [f"{file}: columns not used by alliance meta: {', '.join(unused)}"] if unused else []
    problems: list[Problem] = []
    studies: list[Study] = []
    for record in frame.to_dict(orient="records"):
        row = int(record["source_row"])
        before = len(problems)

        def problem(column: str, what: str, fix: str, value: Any = None, row: int = row) -> None:
            problems.append(Problem(file, what, fix, row=row, column=column, value=value))

        name = cell_text(record["study"])  # a numeric name from Excel reads "1", not "1.0"
        if not name:
            problem("study", "study name is blank", "give every study a name")
        r = _number(record["r"])
        if r is None:
            problem(
                "r",
                "not a number",
                "give the correlation as a decimal such as 0.35",
                None if _blank(record["r"]) else record["r"],
            )
        elif not -1 < r < 1:
            problem(
                "r",
                "a correlation must lie strictly between -1 and 1 (Fisher's z of ±1 is infinite)",
                "check the value; a correlation of exactly ±1 cannot be pooled",
                record["r"],
            )
        covariates = 0
        if "covariates" in frame.columns and not _blank(record["covariates"]):
            count = _number(record["covariates"])
            if count is None or count < 0 or count != int(count):
                problem(
                    "covariates",
                    "not a whole number of covariates (0 or more)",
                    "give how many covariates the model adjusted for (0 for a plain r)",
                    record["covariates"],
                )
            else:
                covariates = int(count)
        n = _number(record["n"])
        if n is None or n != int(n):
            problem(
                "n",
                "not a whole number of participants",
                "give the sample size, e.g. 22",
                None if _blank(record["n"]) else record["n"],
            )
        elif n <= 3 + covariates:
            problem(
                "n",
                f"n must exceed 3 + covariates = {3 + covariates}: Fisher's z of a correlation "
                f"from {n:g} participants and {covariates} covariate(s) has no finite variance "
                "1/(n - 3 - covariates)",
                "check n and covariates, or leave this study out",
                record["n"],
            )
        direction = BETTER
        if "direction" in frame.columns and not _blank(record["direction"]):
            word = str(record["direction"]).strip().lower()
            if word not in DIRECTION_WORDS:
                problem(
                    "direction",
                    "unknown direction",
                    "write higher_is_worse (r is with a symptom score, as published) or "
                    "higher_is_better (r already positive for a better outcome)",
                    record["direction"],
                )
            else:
                direction = DIRECTION_WORDS[word]
        if len(problems) == before and r is not None and n is not None:
            sign = -1.0 if direction == WORSE else 1.0
            studies.append(
                Study(
                    name=name,
                    r=sign * r,
                    n=int(n),
                    covariates=covariates,
                    r_as_given=r,
                    flipped=sign < 0,
                    source=f"{file} row {row}",
                    synthetic=raw.synthetic,
                )
            )
    if problems:
        raise DataError(problems)
    return studies, warnings


# --------------------------------------------------------------------------- results.json


def _load_json(path: Path, shown: str) -> dict[str, Any]:
    def fail(what: str, fix: str) -> DataError:
        return DataError([Problem(file=shown, what=what, fix=fix)])

    try:
        data = read_input_bytes(path, data_limit())
    except FileNotFoundError:
        raise fail("file does not exist", "check the file name and the folder") from None
    except InputFileError as exc:
        raise fail(exc.what, exc.fix) from None
    except OSError as exc:
        raise fail(f"file cannot be opened ({exc.strerror})", "check its permissions") from None
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise fail(
            "not a JSON file",
            "give the results.json that alliance analyze wrote, or a study table (.csv, .xlsx)",
        ) from None
    if not isinstance(document, dict) or not isinstance(document.get("models"), list):
        raise fail(
            "not a results.json of alliance analyze (no list of models)",
            "give the results.json that alliance analyze wrote",
        )
    return document


def parse_model_name(text: str) -> tuple[str, str | None, str]:
    """``caps@s4`` → ("caps", None, "s4"); ``caps~wai@s4`` → ("caps", "wai", "s4")."""
    target, at, timepoint = text.strip().lower().partition("@")
    outcome, tilde, predictor = target.partition("~")
    if not at or not outcome or not timepoint or (tilde and not predictor):
        raise ValueError(f"{text!r} is not OUTCOME@TIMEPOINT such as caps@s4")
    return outcome.strip(), predictor.strip() or None, timepoint.strip()


def _model_keys(models: Sequence[Any]) -> list[str]:
    return [str(m.get("key")) for m in models if isinstance(m, dict)]


def _select_model(document: dict[str, Any], model: str | None, shown: str) -> dict[str, Any]:
    models = [m for m in document["models"] if isinstance(m, dict)]
    keys = ", ".join(_model_keys(models)) or "none"
    if model is None:
        if len(models) == 1:
            return models[0]
        raise DataError(
            [
                Problem(
                    file=shown,
                    what=f"holds {len(models)} models ({keys}) and one study is one effect",
                    fix="choose the model with --model OUTCOME@TIMEPOINT, e.g. --model caps@s4",
                )
            ]
        )
    outcome, predictor, timepoint = parse_model_name(model)
    matches = [
        m
        for m in models
        if m.get("outcome") == outcome
        and m.get("timepoint") == timepoint
        and (predictor is None or m.get("predictor") == predictor)
    ]
    if len(matches) == 1:
        return matches[0]
    what = (
        f"has no model {model!r}"
        if not matches
        else f"has {len(matches)} models matching {model!r}"
    )
    _raise(
        shown,
        f"{what}; its models are {keys}",
        "name one of them with --model, as OUTCOME@TIMEPOINT or OUTCOME~PREDICTOR@TIMEPOINT",
    )


def _raise(file: str, what: str, fix: str) -> NoReturn:
    raise DataError([Problem(file=file, what=what, fix=fix)])


def _covariate_count(record: dict[str, Any]) -> int:
    """Every model term but the intercept and the alliance term (a categorical covariate
    counts once per dummy column); the covariate list when the terms are not there."""
    terms = record.get("terms")
    if isinstance(terms, list) and terms:
        names = [t.get("name") for t in terms if isinstance(t, dict)]
        return sum(1 for name in names if name not in ("intercept", record.get("predictor")))
    return 1 + len(record.get("covariates") or [])


def read_results_json(
    path: Path, shown: str, model: str | None, directions: dict[str, str]
) -> tuple[Study, dict[str, Any]]:
    """One study from one results.json, and the document (for the cross-file checks)."""
    document = _load_json(path, shown)
    record = _select_model(document, model, shown)
    key = str(record.get("key"))
    partial_r = record.get("partial_r")
    n = record.get("n")
    if not isinstance(partial_r, (int, float)) or isinstance(partial_r, bool):
        _raise(
            shown,
            f"model {key} has no partial r (found {partial_r!r})",
            "re-run alliance analyze; a model whose alliance term could not be estimated "
            "cannot be pooled",
        )
    if not isinstance(n, int) or isinstance(n, bool):
        _raise(
            shown,
            f"model {key} has no whole-number n (found {n!r})",
            "re-run alliance analyze to write a complete results.json",
        )
    covariates = _covariate_count(record)
    r_given = float(partial_r)
    if not -1 < r_given < 1:
        _raise(
            shown,
            f"model {key}: partial r = {r_given!r} is not strictly between -1 and 1",
            "a perfect fit cannot be pooled; check the data of this site",
        )
    if n <= 3 + covariates:
        _raise(
            shown,
            f"model {key}: n = {n} with {covariates} covariate(s) leaves Fisher's z no "
            f"finite variance (n must exceed {3 + covariates})",
            "this site is too small to pool; leave it out",
        )
    outcome, predictor = str(record.get("outcome")), str(record.get("predictor"))
    unknown = [s for s in (outcome, predictor) if s not in directions]
    if unknown:
        _raise(
            shown,
            f"model {key}: alliance meta does not know whether a higher "
            f"{' or '.join(unknown)} is better or worse, so cannot orient the sign",
            "give the effect in a study table, with direction higher_is_worse or higher_is_better",
        )
    flip = (directions[outcome] == WORSE) != (directions[predictor] == WORSE)
    study = Study(
        name=shown,
        r=-r_given if flip else r_given,
        n=n,
        covariates=covariates,
        r_as_given=r_given,
        flipped=flip,
        source=shown,
        model=key,
        synthetic=bool(document.get("synthetic")),
    )
    return study, document


def _site_names(paths: Sequence[Path]) -> list[str]:
    """Each results.json named by the shortest tail of its folder that tells it apart."""
    parts = [p.resolve().parent.parts for p in paths]
    for depth in range(1, max((len(p) for p in parts), default=1) + 1):
        names = ["/".join(p[-depth:]) or str(path) for p, path in zip(parts, paths, strict=True)]
        if len(set(names)) == len(names):
            return names
    return [str(p) for p in paths]


def _check_same_plan(documents: Sequence[tuple[str, dict[str, Any]]]) -> None:
    first_name, first = documents[0]
    plan = first.get("plan") or {}
    problems = []
    for name, document in documents[1:]:
        other = document.get("plan") or {}
        differing = [k for k in MODEL_PLAN_KEYS if plan.get(k) != other.get(k)]
        if differing:
            problems.append(
                Problem(
                    file=name,
                    what=f"made with another analysis plan than {first_name} (differs in: "
                    f"{', '.join(differing)}), so its effect is from another model",
                    fix="pool results of one plan; re-run alliance analyze with the same --plan",
                )
            )
    if problems:
        raise DataError(problems)


def load_studies(inputs: Sequence[Path], model: str | None = None) -> tuple[list[Study], list[str]]:
    """Every study of every input, oriented, checked; and the warnings to show the user.

    Raises :class:`DataError` listing every problem: bad cells, duplicate study names, the same
    trial's results.json twice, results.json files of different plans.
    """
    problems: list[Problem] = []
    warnings: list[str] = []
    studies: list[Study] = []
    json_paths = [p for p in inputs if p.suffix.lower() == ".json"]
    json_names = dict(zip(json_paths, _site_names(json_paths), strict=True))
    documents: list[tuple[str, dict[str, Any]]] = []
    directions = score_directions() if json_paths else {}
    if model is not None and not json_paths:
        warnings.append(f"--model {model} was ignored: it chooses a model of a results.json")
    for path in inputs:
        try:
            if path in json_names:
                study, document = read_results_json(path, json_names[path], model, directions)
                studies.append(study)
                documents.append((json_names[path], document))
            else:
                table, notes = read_study_table(path)
                studies.extend(table)
                warnings.extend(notes)
        except DataError as exc:
            problems.extend(exc.problems)
    if problems:
        raise DataError(problems)
    if len(documents) > 1:
        _check_same_plan(documents)
        by_data: dict[str, list[str]] = {}
        for name, document in documents:
            if document.get("input_sha256"):
                by_data.setdefault(str(document["input_sha256"]), []).append(name)
        twice = [names for names in by_data.values() if len(names) > 1]
        if twice:
            raise DataError(
                [
                    Problem(
                        file=", ".join(names),
                        what="these results.json files analysed the same data file (same "
                        "input SHA-256): one trial would count twice",
                        fix="give each trial or site once",
                    )
                    for names in twice
                ]
            )
    counts = Counter(s.name for s in studies)
    for name, count in counts.items():
        if count > 1:
            places = "; ".join(s.source for s in studies if s.name == name)
            problems.append(
                Problem(
                    file=places,
                    column="study",
                    what=f"study name {name!r} is used {count} times",
                    fix="give every study a unique name",
                )
            )
    if problems:
        raise DataError(problems)
    return studies, warnings
