"""What the HTML report says about `criteria outcomes`, gathered patient by patient.

Input: one dict per patient in the shape of `OutcomeReport.to_dict()` (jsonl_input.py regroups a
saved JSON Lines file, one row per patient x outcome x visit, into it). Kept: counts per outcome
and visit, when each outcome was first met, the patient table, and each patient's drill-down
(packed as it arrives) with a chart of their outcomes across visits.

Charts are drawn by vl-convert at about 30 ms each. A patient's chart depends only on the visit
names, the outcomes and the results, so equal charts are drawn once; past CHART_LIMIT different
charts a drill-down shows the table alone (and says so).
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from collections.abc import Mapping
from typing import Any

from criteria_lang.records.timeline import visit_key
from criteria_lang.report import charts
from criteria_lang.report.packing import Chunks, pack
from criteria_lang.report.run import Item, RunInfo
from criteria_lang.report.screen_summary import EVIDENCE_LIMIT, decisive_first

RESULT_CODE = {"met": "m", "not_met": "n", "unknown": "u", "needs_review": "r", "not_judged": "j"}
RESULT_WORDS = {
    "met": "met",
    "not_met": "not met",
    "unknown": "unknown",
    "needs_review": "needs review",
    "not_judged": "not judged",
}
CHART_LIMIT = 2000
CHARTS_PER_CHUNK = 50


def first_met_words(outcome: Mapping[str, Any]) -> str:
    """As the terminal table says it (tables.first_met_text)."""
    from criteria_lang.report.tables import first_met_words as words

    judged = any(v.get("result") != "not_judged" for v in outcome.get("visits") or [])
    return words(
        outcome.get("first_met"),
        outcome.get("days_to_first_met"),
        str(outcome.get("baseline") or "baseline"),
        bool(outcome.get("open_before")),
        judged,
    )


class OutcomeSummary:
    def __init__(self, info: RunInfo | None, evidence: int = EVIDENCE_LIMIT) -> None:
        self.info = info
        self.evidence = evidence  # pieces of evidence kept per result for the drill-down
        self.outcomes: list[Item] = list(info.items) if info else []
        self.position = {o.id: i for i, o in enumerate(self.outcomes)}
        self.patients = 0
        self.errors = 0
        self.trial_seen: str | None = None
        # visit key -> its first spelling, and the days from each patient's first visit
        self.visit_names: dict[str, str] = {}
        self.visit_days: dict[str, list[int]] = {}
        # (outcome, visit key) -> Counter of results
        self.cells: dict[tuple[str, str], Counter[str]] = {}
        self.days_to_met: dict[str, list[int]] = {}
        self.ever_met: Counter[str] = Counter()
        self.table: dict[str, list[Any]] = {"id": [], "met": [], "summary": [], "blocks": []}
        self.details = Chunks()
        self.chart_numbers: dict[tuple[Any, ...], int] = {}
        self.charts: list[str] = []

    def add_error(self, row: Mapping[str, Any]) -> None:
        self.errors += 1
        problems = [
            [str(p.get("path", "")), str(p.get("message", ""))]
            for p in row.get("problems") or []
            if isinstance(p, Mapping)
        ]
        source = str(row.get("source", ""))
        self.append_row(source, -1, "cannot read the record")
        self.details.add({"source": source, "problems": problems})

    def append_row(self, ident: str, met: int, summary: str) -> None:
        self.table["id"].append(ident)
        self.table["met"].append(met)
        self.table["summary"].append(summary)
        self.table["blocks"].append([])

    def add(self, report: Mapping[str, Any]) -> None:
        if report.get("result") == "error" or report.get("verdict") == "error":
            self.add_error(report)
            return
        self.patients += 1
        if self.trial_seen is None:
            self.trial_seen = str(report.get("trial", ""))
        visits = [(str(v.get("name", "")), str(v.get("date", ""))) for v in report["visits"]]
        self.count_visits(visits)
        outcomes = [o for o in report.get("outcomes") or [] if isinstance(o, Mapping)]
        drilled, grid, met = [], [], []
        for outcome in outcomes:
            ident = str(outcome.get("id", ""))
            if ident not in self.position:
                self.position[ident] = len(self.outcomes)
                self.outcomes.append(Item(ident, str(outcome.get("text", "")), "outcome"))
            cells = []
            for result in outcome.get("visits") or []:
                word = str(result.get("result", "not_judged"))
                key = (ident, visit_key(str(result.get("visit", ""))))
                self.cells.setdefault(key, Counter())[word] += 1
                grid.append((ident, str(result.get("visit", "")), RESULT_WORDS.get(word, word)))
                cells.append(self.cell(word, result, self.evidence))
            first = first_met_words(outcome)
            if outcome.get("first_met") is not None:
                self.ever_met[ident] += 1
                met.append(f"{ident}: {first}")
                days = outcome.get("days_to_first_met")
                if isinstance(days, int):
                    self.days_to_met.setdefault(ident, []).append(days)
            drilled.append([self.position[ident], first, cells])
        self.append_row(str(report.get("patient", "")), len(met), "; ".join(met) or "none met")
        chart = self.chart_for([v for v, _ in visits], [o[0] for o in grid], grid)
        self.details.add(
            {
                "source": report.get("source"),
                "visits": [[name, day] for name, day in visits],
                "outcomes": drilled,
                "chart": chart,
            }
        )

    @staticmethod
    def cell(word: str, result: Mapping[str, Any], limit: int) -> list[Any]:
        evidence = result.get("evidence") or []
        shown = decisive_first(evidence, word, limit)
        return [
            RESULT_CODE.get(word, "u"),
            shown,
            [str(m) for m in result.get("missing") or []],
            [str(q) for q in result.get("questions") or []],
            len(evidence) - len(shown),
        ]

    def count_visits(self, visits: list[tuple[str, str]]) -> None:
        first: dt.date | None = None
        for name, day in visits:
            key = visit_key(name)
            self.visit_names.setdefault(key, name)
            try:
                date = dt.date.fromisoformat(day)
            except ValueError:
                continue
            first = first or date
            self.visit_days.setdefault(key, []).append((date - first).days)

    def chart_for(
        self, visits: list[str], outcome_ids: list[str], grid: list[tuple[str, str, str]]
    ) -> int:
        """The number of this patient's chart; -1 without visits, -2 past CHART_LIMIT."""
        if not visits or not grid:
            return -1
        outcomes = list(dict.fromkeys(outcome_ids))
        key = (tuple(visits), tuple(grid))
        number = self.chart_numbers.get(key)
        if number is not None:
            return number
        if len(self.charts) >= CHART_LIMIT:
            return -2
        svg = charts.patient_outcomes_chart(visits, outcomes, grid)
        self.charts.append(charts.svg_base64(svg))
        self.chart_numbers[key] = len(self.charts) - 1
        return len(self.charts) - 1

    # ---------------------------------------------------------------- the figures
    @property
    def trial(self) -> str:
        if self.info is not None:
            return self.info.trial
        return self.trial_seen or "(unknown trial)"

    def visit_order(self) -> list[str]:
        """Visit keys in the order they come, on average, after each patient's first visit."""

        def place(key: str) -> tuple[float, str]:
            days = self.visit_days.get(key)
            return (statistics.fmean(days) if days else float("inf"), key)

        return sorted(self.visit_names, key=place)

    def visit_table(self) -> list[dict[str, Any]]:
        """Per outcome: at each visit, how many met it, of how many judged, how many open."""
        order = self.visit_order()
        rows = []
        for outcome in self.outcomes:
            cells = []
            for key in order:
                counts = self.cells.get((outcome.id, key), Counter())
                judged = sum(n for word, n in counts.items() if word != "not_judged")
                cells.append(
                    {
                        "met": counts["met"],
                        "judged": judged,
                        "open": counts["unknown"] + counts["needs_review"],
                    }
                )
            days = self.days_to_met.get(outcome.id)
            rows.append(
                {
                    "item": outcome,
                    "cells": cells,
                    "ever": self.ever_met[outcome.id],
                    "median_days": round(statistics.median(days)) if days else None,
                }
            )
        return rows

    def table_data(self) -> dict[str, Any]:
        return {
            "kind": "outcomes",
            "outcomes": [o.to_dict() for o in self.outcomes],
            "chunk": self.details.size,
            "charts_chunk": CHARTS_PER_CHUNK,
            "charts_limit": CHART_LIMIT,
            **self.table,
        }


def outcome_view(summary: OutcomeSummary, number: int) -> dict[str, Any]:
    order = summary.visit_order()
    visits = [summary.visit_names[k] for k in order]
    rows = summary.visit_table()
    points = [
        (row["item"].id, visits[i], cell["met"])
        for row in rows
        for i, cell in enumerate(row["cells"])
    ]
    chart_chunks = [
        pack(summary.charts[i : i + CHARTS_PER_CHUNK])
        for i in range(0, len(summary.charts), CHARTS_PER_CHUNK)
    ]
    return {
        "anchor": f"trial-{number}",
        "blob": f"d{number}",
        "trial": summary.trial,
        "info": summary.info,
        "counts": [
            ("records", summary.patients + summary.errors),
            ("patients", summary.patients),
            ("error", summary.errors),
        ],
        "visits": visits,
        "rows": rows,
        "visits_svg": charts.data_url(charts.visit_counts_chart(visits, points))
        if points
        else None,
        "charts_drawn": len(summary.charts),
        "table_blob": pack(summary.table_data()),
        "chunks": summary.details.finish(),
        "chart_chunks": chart_chunks,
    }
