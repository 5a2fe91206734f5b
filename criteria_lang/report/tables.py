"""Human and machine output of results and diagnostics: tables (rich), CSV, JSON Lines.

rich renders the tables: it handles terminal width, wrapping and colour, and prints plain text
when the output is not a terminal (CI logs, files), so nothing here deals with escape codes.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import IO, Any

import orjson
from rich.console import Console
from rich.table import Table
from rich.text import Text

from criteria_lang.batch.wire import json_record as json_record  # re-exported: eval --json uses it
from criteria_lang.core.results import (
    CriterionResult,
    OutcomeReport,
    OutcomeSeries,
    PatientResult,
    Truth,
    Verdict,
    VisitOutcome,
)
from criteria_lang.records.patient_json import RecordError
from criteria_lang.report.coverage import coverage_line as coverage_line  # re-exported
from criteria_lang.report.plain import CSV_FIELDS as CSV_FIELDS  # re-exported
from criteria_lang.report.plain import counts_line as counts_line  # re-exported
from criteria_lang.report.plain import csv_row as csv_row  # re-exported
from criteria_lang.report.plain import reason as reason  # re-exported

TRUTH_STYLE = {
    Truth.MET: "green",
    Truth.NOT_MET: "red",
    Truth.UNKNOWN: "yellow",
    Truth.REVIEW: "magenta",
}
VERDICT_STYLE = {
    Verdict.ELIGIBLE: "bold green",
    Verdict.INELIGIBLE: "bold red",
    Verdict.UNDETERMINED: "bold yellow",
}


def console(file: IO[str] | None = None, width: int | None = None) -> Console:
    out = Console(file=file, width=width, highlight=False, soft_wrap=False)
    if width is None and not out.is_terminal:
        # Logs and files are read in editors, not 80-column terminals.
        out = Console(file=file, width=160, highlight=False, soft_wrap=False)
    return out


def truth_label(result: CriterionResult) -> str:
    """Words for a criterion's result; an exclusion that is met 'excludes'."""
    if result.section == "exclusion" and result.truth is Truth.MET:
        return "met (excludes)"
    if result.section == "inclusion" and result.truth is Truth.NOT_MET:
        return "not met (excludes)"
    return result.truth.value.replace("_", " ")


def patient_table(result: PatientResult) -> Table:
    title = Text.assemble(
        f"{result.trial} | patient {result.patient_id}: ",
        (result.verdict.value.upper(), VERDICT_STYLE[result.verdict]),
    )
    table = Table(title=title, show_lines=False, expand=False)
    table.add_column("id", no_wrap=True)
    table.add_column("criterion", max_width=48, overflow="ellipsis", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("evidence / missing / question")
    for c in result.criteria:
        marker = " *" if c.id in result.deciding else ""
        table.add_row(
            c.id + marker,
            c.text,
            Text(truth_label(c), style=TRUTH_STYLE[c.truth]),
            reason(c, limit=6),
        )
    return table


def print_patient(result: PatientResult, out: Console) -> None:
    out.print(patient_table(result))
    if result.deciding:
        out.print(f"* decided by: {', '.join(result.deciding)}")


def deciding_summary(result: PatientResult, limit: int = 3) -> str:
    """The deciding criteria, each with the first reason, one per line."""
    lines = []
    for ident in result.deciding[:limit]:
        c = result.criterion(ident)
        lines.append(f"{ident} {truth_label(c)}: {reason(c, limit=1)}")
    if len(result.deciding) > limit:
        lines.append(f"+{len(result.deciding) - limit} more: {', '.join(result.deciding[limit:])}")
    return "\n".join(lines)


def screen_table(rows: Sequence[PatientResult | RecordError], title: str) -> Table:
    table = Table(title=title, show_lines=True)
    table.add_column("patient", no_wrap=True)
    table.add_column("trial", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    table.add_column("decided by", overflow="fold")
    for row in rows:
        if isinstance(row, RecordError):
            problems = "\n".join(str(p) for p in row.problems[:3])
            table.add_row(row.source, "", Text("error", style="bold red"), problems)
            continue
        table.add_row(
            row.patient_id,
            row.trial,
            Text(row.verdict.value, style=VERDICT_STYLE[row.verdict]),
            deciding_summary(row),
        )
    return table


def summary_line(rows: Iterable[PatientResult | RecordError]) -> str:
    counts: Counter[str] = Counter()
    for row in rows:
        counts["error" if isinstance(row, RecordError) else row.verdict.value] += 1
    return counts_line(counts)


def write_csv(rows: Iterable[PatientResult | RecordError], out: IO[str]) -> None:
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(csv_row(row))


def dumps(data: Any) -> str:
    return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode()


def jsonl(row: PatientResult | RecordError) -> str:
    return orjson.dumps(json_record(row)).decode()


def render_to_text(renderable: Any, width: int = 160) -> str:
    buffer = io.StringIO()
    console(buffer, width=width).print(renderable)
    return buffer.getvalue()


# ---------------------------------------------------------------------- outcomes
# `criteria outcomes`: a table a patient (rows outcomes, columns visits); CSV and JSON Lines with
# one row per patient x outcome x visit.

OUTCOME_MARK = {
    Truth.MET: ("met", "green"),
    Truth.NOT_MET: ("not met", "red"),
    Truth.UNKNOWN: ("unknown", "yellow"),
    Truth.REVIEW: ("review", "magenta"),
}


def outcome_cell(result: VisitOutcome) -> Text:
    if result.truth is None:
        # Evidence on a visit not judged: done outside its scheduled window (docs/language.md,
        # "The visit schedule"); the reason is printed under the table.
        return Text("outside window" if result.evidence else "·", style="dim")
    word, style = OUTCOME_MARK[result.truth]
    return Text(word, style=style)


def first_met_text(series: OutcomeSeries) -> str:
    """When the outcome was first met: `week 24 (+168 d)`; `<=` when earlier visits are open."""
    return first_met_words(
        series.first_met,
        series.days_to_first_met,
        series.baseline,
        bool(series.open_before),
        any(v.judged for v in series.visits),
    )


def first_met_words(
    first_met: str | None, days: int | None, baseline: str, open_before: bool, judged: bool
) -> str:
    """`first_met_text` from its parts (also for outcome rows read back from JSON Lines)."""
    if first_met is None:
        if not judged:
            return "not judged"
        return "open" if open_before else "never"
    if days is None:
        return f"{first_met} ({baseline} date unknown)"
    bound = "<= " if open_before else ""
    return f"{first_met} ({bound}{days} d)"


def outcome_table(report: OutcomeReport) -> Table:
    table = Table(title=f"{report.trial} | patient {report.patient_id}: outcomes")
    table.add_column("outcome", no_wrap=True)
    table.add_column("words", max_width=36, overflow="ellipsis", no_wrap=True)
    for name, day in report.visits:
        table.add_column(f"{name}\n{day.isoformat()}", no_wrap=True, justify="center")
    table.add_column("first met (from baseline)", no_wrap=True)
    for series in report.outcomes:
        cells = [outcome_cell(v) for v in series.visits]
        table.add_row(series.id, series.text, *cells, first_met_text(series))
    return table


def outcome_reason(result: VisitOutcome, limit: int = 4) -> str:
    if result.truth is None:
        if result.evidence:  # done outside its scheduled window: say so
            return "; ".join(e.detail for e in result.evidence[:limit])
        return "not one of the outcome's timepoints"
    if result.truth is Truth.UNKNOWN and result.missing:
        return "missing: " + "; ".join(result.missing[:limit])
    if result.truth is Truth.REVIEW and result.questions:
        return "review: " + "; ".join(result.questions[:limit])
    details = [f"{e.what}: {e.detail}" for e in result.evidence[:limit]]
    if len(result.evidence) > limit:
        details.append(f"(+{len(result.evidence) - limit} more)")
    return "; ".join(details)


def print_outcomes(report: OutcomeReport, out: Console, details: bool = False) -> None:
    """The table, then why each open cell is open (every judged cell with `details`)."""
    out.print(outcome_table(report))
    if not report.visits:
        out.print("the patient record has no visits")
    for series in report.outcomes:
        for result in series.visits:
            if result.truth is None:
                if result.evidence:  # a visit done outside its scheduled window
                    out.print(f"  {series.id} at {result.visit}: {outcome_reason(result)}")
                continue
            if details or not result.truth.decided:
                out.print(f"  {series.id} at {result.visit}: {outcome_reason(result, limit=8)}")


OUTCOME_CSV_FIELDS = [
    "patient",
    "trial",
    "outcome",
    "visit",
    "visit_date",
    "result",
    "baseline",
    "baseline_date",
    "first_met",
    "days_to_first_met",
    "reasons",
    "source",
]


def outcome_row(
    report: OutcomeReport, series: OutcomeSeries, result: VisitOutcome
) -> dict[str, Any]:
    """One patient x outcome x visit, judged or not (`result` is then `not_judged`)."""
    return {
        "patient": report.patient_id,
        "trial": report.trial,
        "outcome": series.id,
        "visit": result.visit,
        "visit_date": result.date.isoformat(),
        "result": result.result,
        "baseline": series.baseline,
        "baseline_date": series.baseline_date.isoformat() if series.baseline_date else None,
        "first_met": series.first_met,
        "days_to_first_met": series.days_to_first_met,
        "open_before": list(series.open_before),
        "evidence": [e.to_dict() for e in result.evidence],
        "missing": list(result.missing),
        "questions": list(result.questions),
        "source": report.source,
    }


def write_outcomes_csv(rows: Iterable[OutcomeReport | RecordError], out: IO[str]) -> None:
    writer = csv.DictWriter(
        out, fieldnames=OUTCOME_CSV_FIELDS, lineterminator="\n", extrasaction="ignore"
    )
    writer.writeheader()
    for row in rows:
        if isinstance(row, RecordError):
            problems = " | ".join(str(p) for p in row.problems)
            writer.writerow({"result": "error", "reasons": problems, "source": row.source})
            continue
        for series in row.outcomes:
            for result in series.visits:
                record = outcome_row(row, series, result)
                record["reasons"] = outcome_reason(result, limit=8)
                writer.writerow({k: ("" if v is None else v) for k, v in record.items()})


def outcomes_jsonl(row: OutcomeReport | RecordError) -> list[str]:
    if isinstance(row, RecordError):
        error = {
            "result": "error",
            "source": row.source,
            "problems": [{"path": p.path, "message": p.message} for p in row.problems],
        }
        return [orjson.dumps(error).decode()]
    return [
        orjson.dumps(outcome_row(row, series, result)).decode()
        for series in row.outcomes
        for result in series.visits
    ]


def outcomes_summary(rows: Iterable[OutcomeReport | RecordError]) -> str:
    counts: Counter[str] = Counter()
    patients = errors = 0
    for row in rows:
        if isinstance(row, RecordError):
            errors += 1
            continue
        patients += 1
        for series in row.outcomes:
            for result in series.visits:
                counts[result.result] += 1
    order = ["met", "not_met", "unknown", "needs_review", "not_judged"]
    cells = ", ".join(f"{counts[k]} {k.replace('_', ' ')}" for k in order)
    return f"{patients} patients, {errors} unreadable records; outcome x visit: {cells}"
