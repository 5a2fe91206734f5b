"""Screening rows as plain text, without rich: the summary line, a criterion's reason and the
CSV row. `screen --format jsonl|csv` needs only these, and importing the table renderer
(report/tables.py, rich) would cost every such command about 20 ms of CPU."""

from __future__ import annotations

from collections.abc import Mapping

from criteria_lang.core.results import CriterionResult, PatientResult, Truth
from criteria_lang.records.patient_json import RecordError

VERDICT_ORDER = ("eligible", "ineligible", "undetermined", "error")


def counts_line(counts: Mapping[str, int]) -> str:
    """`N records: a eligible, b ineligible, c undetermined, d error` from the count of each
    verdict (and of "error")."""
    total = sum(counts.values())
    return f"{total} records: " + ", ".join(f"{counts.get(k, 0)} {k}" for k in VERDICT_ORDER)


def reason(result: CriterionResult, limit: int = 3) -> str:
    """Why a criterion came out as it did: missing data, questions, or evidence, the decisive
    comparisons first (those whose answer matches the result)."""
    if result.truth is Truth.UNKNOWN and result.missing:
        return "missing: " + "; ".join(result.missing[:limit])
    if result.truth is Truth.REVIEW and result.questions:
        return "review: " + "; ".join(result.questions[:limit])
    wanted = ": yes" if result.truth is Truth.MET else ": no"
    decisive = [e for e in result.evidence if e.detail.endswith(wanted)]
    others = [e for e in result.evidence if not e.detail.endswith(wanted)]
    ordered = decisive + others
    details = [f"{e.what}: {e.detail}" if e in decisive else e.detail for e in ordered[:limit]]
    more = len(ordered) - limit
    if more > 0 and limit > 1:
        details.append(f"(+{more} more)")
    return "; ".join(details)


CSV_FIELDS = ["patient", "trial", "verdict", "deciding", "reasons", "source"]


def csv_row(row: PatientResult | RecordError) -> dict[str, str]:
    if isinstance(row, RecordError):
        return {
            "patient": "",
            "trial": "",
            "verdict": "error",
            "deciding": "",
            "reasons": " | ".join(str(p) for p in row.problems),
            "source": row.source,
        }
    reasons = " | ".join(f"{i}: {reason(row.criterion(i))}" for i in row.deciding)
    return {
        "patient": row.patient_id,
        "trial": row.trial,
        "verdict": row.verdict.value,
        "deciding": " ".join(row.deciding),
        "reasons": reasons,
        "source": row.source or "",
    }
