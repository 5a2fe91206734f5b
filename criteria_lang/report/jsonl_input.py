"""Saved results read back for `criteria report`: the JSON Lines of `criteria screen --format
jsonl` or `criteria outcomes --format jsonl`, streamed line by line (a 100,000-patient screen is
over a gigabyte of JSON Lines; only the summaries are kept).

Each rule file's block starts with a header line (run.py). A file written before there was one
still gives a report: blocks then follow the `trial` of the rows, and the report says that the
rule file's version and the data source were not recorded. Lines that are not JSON objects are
listed as problems and skipped; every other line counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import orjson

from criteria_lang.report.outcome_summary import OutcomeSummary
from criteria_lang.report.run import RunInfo, is_header
from criteria_lang.report.screen_summary import EVIDENCE_LIMIT, ScreenSummary

Kind = Literal["screen", "outcomes"]
MAX_PROBLEMS = 20


class ResultsError(Exception):
    """The file cannot be made into one report (e.g. it mixes screen and outcome results)."""


def row_kind(row: dict[str, Any]) -> Kind | None:
    if "verdict" in row:
        return "screen"
    if "outcome" in row or row.get("result") == "error":
        return "outcomes"
    return None


class ResultsReader:
    def __init__(self, name: str, evidence: int = EVIDENCE_LIMIT) -> None:
        self.name = name
        self.evidence = evidence
        self.kind: Kind | None = None
        self.screens: list[ScreenSummary] = []
        self.outcomes: list[OutcomeSummary] = []
        self.headed = False  # the current block began with a header line
        self.pending: dict[str, Any] | None = None  # the outcome patient being regrouped
        self.problems: list[str] = []
        self.skipped = 0
        self.lines = 0

    # ---------------------------------------------------------------- lines
    def feed(self, lines: Iterable[bytes]) -> None:
        for number, line in enumerate(lines, start=1):
            self.lines = number
            if not line.strip():
                continue
            try:
                row = orjson.loads(line)
            except orjson.JSONDecodeError as error:
                self.problem(number, f"not JSON ({error})")
                continue
            if not isinstance(row, dict):
                self.problem(number, "not a JSON object")
                continue
            self.take(number, row)
        self.flush()

    def problem(self, number: int, message: str) -> None:
        self.skipped += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(f"{self.name}:{number}: {message}: skipped")

    def take(self, number: int, row: dict[str, Any]) -> None:
        if is_header(row):
            info = RunInfo.from_dict(row)
            self.set_kind(info.kind)
            self.flush()
            self.start(info)
            return
        kind = row_kind(row)
        if kind is None:
            self.problem(number, "neither a screen result nor an outcome result")
            return
        self.set_kind(kind)
        if kind == "screen":
            self.take_screen(row)
        else:
            self.take_outcome(row)

    def set_kind(self, kind: Kind) -> None:
        if self.kind is None:
            self.kind = kind
        elif self.kind != kind:
            raise ResultsError(
                f"{self.name}: mixes screen results and outcome results; "
                "make one report of each (`criteria report` on each file)"
            )

    def start(self, info: RunInfo | None) -> None:
        self.headed = info is not None
        if self.kind == "outcomes":
            self.outcomes.append(OutcomeSummary(info, self.evidence))
        else:
            self.screens.append(ScreenSummary(info, self.evidence))

    def new_trial(self, current: str | None, row: dict[str, Any]) -> bool:
        """Without header lines, a row of another trial starts the next block."""
        trial = row.get("trial")
        return not self.headed and trial is not None and current not in (None, trial)

    # ---------------------------------------------------------------- screen rows
    def take_screen(self, row: dict[str, Any]) -> None:
        if not self.screens or self.new_trial(self.screens[-1].trial_seen, row):
            self.start(None)
        self.screens[-1].add(row)

    # ---------------------------------------------------------------- outcome rows
    def take_outcome(self, row: dict[str, Any]) -> None:
        """Rows come a patient at a time (patient x outcome x visit); regroup each patient into
        the shape of `OutcomeReport.to_dict()`."""
        if not self.outcomes or self.new_trial(self.outcomes[-1].trial_seen, row):
            self.flush()
            self.start(None)
        if row.get("result") == "error":
            self.flush()
            self.outcomes[-1].add(row)
            return
        key = [row.get("patient"), row.get("source")]
        if self.pending is None or self.pending["key"] != key:
            self.flush()
            self.pending = {
                "key": key,
                "patient": row.get("patient"),
                "trial": row.get("trial"),
                "source": row.get("source"),
                "visits": [],
                "outcomes": [],
            }
        patient = self.pending
        visit = {"name": str(row.get("visit", "")), "date": str(row.get("visit_date", ""))}
        if visit not in patient["visits"]:
            patient["visits"].append(visit)
        ident = str(row.get("outcome", ""))
        if not patient["outcomes"] or patient["outcomes"][-1]["id"] != ident:
            patient["outcomes"].append(
                {
                    "id": ident,
                    **{
                        k: row.get(k)
                        for k in ("baseline", "first_met", "days_to_first_met", "open_before")
                    },
                    "visits": [],
                }
            )
        patient["outcomes"][-1]["visits"].append(
            {
                "visit": visit["name"],
                "date": visit["date"],
                "result": row.get("result"),
                "evidence": row.get("evidence") or [],
                "missing": row.get("missing") or [],
                "questions": row.get("questions") or [],
            }
        )

    def flush(self) -> None:
        if self.pending is not None:
            self.outcomes[-1].add(self.pending)
            self.pending = None
