"""What the HTML report says about a screen, gathered row by row.

Rows are the JSON form of results (`PatientResult.to_dict()` or a saved JSON Lines line), fed
one at a time so that a screen of any size is read once and never held whole: counts, the
attrition funnel, per-criterion counts and the items that block undetermined patients are
running totals; the patient table is kept column by column, and each patient's drill-down is
packed into compressed chunks as it arrives (packing.py).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from criteria_lang.report.packing import Chunks
from criteria_lang.report.run import Item, RunInfo

VERDICTS = ("eligible", "ineligible", "undetermined", "error")
TRUTHS = ("met", "not_met", "unknown", "needs_review")
TRUTH_CODE = {"met": "m", "not_met": "n", "unknown": "u", "needs_review": "r"}
VERDICT_CODE = {"eligible": "e", "ineligible": "i", "undetermined": "u", "error": "x"}
# A drill-down shows at most this many pieces of evidence per criterion, the decisive ones
# first; the JSON Lines output keeps them all.
EVIDENCE_LIMIT = 12
DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


def item_key(text: str) -> str:
    """Missing items and questions grouped across patients: a date in the text is the
    patient's own (`no creatinine within 14 days of 2024-02-05`), so it is left out."""
    return DATE.sub("[date]", text)


def passes(section: str, result: str) -> bool:
    return result == ("met" if section == "inclusion" else "not_met")


def fails(section: str, result: str) -> bool:
    return result == ("not_met" if section == "inclusion" else "met")


def truth_label(section: str, result: str) -> str:
    """As the terminal table says it (tables.truth_label): a criterion that excludes says so."""
    if fails(section, result):
        return f"{result.replace('_', ' ')} (excludes)"
    return result.replace("_", " ")


def decisive_first(evidence: Sequence[Mapping[str, Any]], result: str, limit: int) -> list[Any]:
    """At most `limit` pieces of evidence, in their order, keeping the comparisons whose answer
    is the result (`...: yes` for met) before the events they were made from."""
    if len(evidence) <= limit:
        chosen = list(range(len(evidence)))
    else:
        wanted = ": yes" if result == "met" else ": no"
        decisive = [i for i, e in enumerate(evidence) if str(e.get("detail", "")).endswith(wanted)]
        taken = set(decisive)
        others = [i for i in range(len(evidence)) if i not in taken]
        chosen = sorted((decisive + others)[:limit])
    return [compact(evidence[i]) for i in chosen]


def compact(evidence: Mapping[str, Any]) -> list[str]:
    """[what, detail] and the date when the detail does not say it. The event's id is left
    to the JSON Lines: a third of the drill-down's size for little a reader can use."""
    what, detail = str(evidence.get("what", "")), str(evidence.get("detail", ""))
    date = evidence.get("date")
    return [what, detail, str(date)] if date and str(date) not in detail else [what, detail]


def one_reason(criterion: Mapping[str, Any]) -> str:
    """The first reason a criterion gives (the table's `why` column)."""
    missing, questions = criterion.get("missing") or [], criterion.get("questions") or []
    result = str(criterion.get("result", ""))
    if result == "unknown" and missing:
        return f"missing: {missing[0]}"
    if result == "needs_review" and questions:
        return f"review: {questions[0]}"
    picked = decisive_first(criterion.get("evidence") or [], result, 1)
    return f"{picked[0][0]}: {picked[0][1]}" if picked else ""


def by_column(records: list[dict[str, Any]]) -> dict[str, Any]:
    """A chunk of drill-downs criterion by criterion: {"source": [...], "problems": [...],
    "criteria": [[cell of each patient] for each criterion]} (cells None for unreadable
    records). A criterion's cells look alike from patient to patient, and gzip finds more to
    share when they sit together: about a quarter smaller than patient by patient."""
    width = max((len(r.get("criteria", ())) for r in records), default=0)
    return {
        "source": [r.get("source") for r in records],
        "problems": [r.get("problems") for r in records],
        "criteria": [
            [r["criteria"][k] if "criteria" in r else None for r in records] for k in range(width)
        ],
    }


@attrs.define
class Blocker:
    """Something to collect (a missing item) or to ask (a review question) that keeps
    undetermined patients open."""

    kind: str  # missing | question
    text: str
    criteria: list[str] = attrs.field(factory=list)
    patients: int = 0
    only: int = 0  # patients for whom it is the only open item: collecting it decides them


@attrs.define
class FunnelStep:
    id: str
    section: str
    text: str
    meet_all: int  # patients meeting every criterion up to and including this one
    not_ruled_out: int  # patients that no criterion up to this one excludes


class ScreenSummary:
    """One rule file's block of a screen."""

    def __init__(self, info: RunInfo | None, evidence: int = EVIDENCE_LIMIT) -> None:
        self.info = info
        self.evidence = evidence  # pieces of evidence kept per criterion for the drill-down
        self.criteria: list[Item] = list(info.items) if info else []
        self.position = {c.id: i for i, c in enumerate(self.criteria)}
        self.verdicts: Counter[str] = Counter()
        self.truths: list[Counter[str]] = [Counter() for _ in self.criteria]
        # How many patients first stop passing (first_open) / first fail (first_fail) at each
        # criterion; len(criteria) means never. The funnel is their running total.
        self.first_open: Counter[int] = Counter()
        self.first_fail: Counter[int] = Counter()
        self.blockers: dict[tuple[str, str], Blocker] = {}
        self.blocker_ids: dict[tuple[str, str], int] = {}
        self.table: dict[str, list[Any]] = {
            "id": [],
            "verdict": [],
            "results": [],
            "deciding": [],
            "why": [],
            "blocks": [],
        }
        self.details = Chunks(layout=by_column)
        self.trial_seen: str | None = None

    # ---------------------------------------------------------------- reading rows
    def add(self, row: Mapping[str, Any]) -> None:
        verdict = str(row.get("verdict", "error"))
        if verdict not in VERDICT_CODE:
            verdict = "error"
        self.verdicts[verdict] += 1
        if verdict == "error":
            self.add_error(row)
            return
        if self.trial_seen is None:
            self.trial_seen = str(row.get("trial", ""))
        by_id = {str(c.get("id")): c for c in row.get("criteria") or [] if isinstance(c, Mapping)}
        for ident, criterion in by_id.items():
            if ident not in self.position:  # a file without a header: learn from the rows
                self.position[ident] = len(self.criteria)
                self.criteria.append(
                    Item(ident, str(criterion.get("text", "")), str(criterion.get("section", "")))
                )
                self.truths.append(Counter())
        results = [str(by_id.get(c.id, {}).get("result", "unknown")) for c in self.criteria]
        self.count_criteria(results)
        deciding = [str(d) for d in row.get("deciding") or []]
        blocks = self.count_blockers(deciding, by_id) if verdict == "undetermined" else []
        first = by_id.get(deciding[0]) if deciding else None
        why = (
            f"{deciding[0]} {self.label(deciding[0], first)}: {one_reason(first)}" if first else ""
        )
        self.append_row(
            str(row.get("patient", "")),
            verdict,
            "".join(TRUTH_CODE.get(r, "u") for r in results),
            [self.position[d] for d in deciding if d in self.position],
            why,
            blocks,
        )
        self.details.add(
            {
                "source": row.get("source"),
                "criteria": [
                    self.drill_down(by_id.get(c.id), self.evidence) for c in self.criteria
                ],
            }
        )

    def label(self, ident: str, criterion: Mapping[str, Any]) -> str:
        section = self.criteria[self.position[ident]].section if ident in self.position else ""
        return truth_label(section, str(criterion.get("result", "")))

    def add_error(self, row: Mapping[str, Any]) -> None:
        problems = [
            [str(p.get("path", "")), str(p.get("message", ""))]
            for p in row.get("problems") or []
            if isinstance(p, Mapping)
        ]
        source = str(row.get("source", ""))
        why = f"cannot read the record: {problems[0][0]}: {problems[0][1]}" if problems else ""
        self.append_row(source, "error", "", [], why, [])
        self.details.add({"source": source, "problems": problems})

    def append_row(
        self,
        ident: str,
        verdict: str,
        results: str,
        deciding: list[int],
        why: str,
        blocks: list[int],
    ) -> None:
        table = self.table
        table["id"].append(ident)
        table["verdict"].append(VERDICT_CODE[verdict])
        table["results"].append(results)
        table["deciding"].append(deciding)
        table["why"].append(why)
        table["blocks"].append(blocks)

    def count_criteria(self, results: list[str]) -> None:
        first_open = first_fail = len(results)
        for index, (criterion, result) in enumerate(zip(self.criteria, results, strict=True)):
            self.truths[index][result] += 1
            if first_open == len(results) and not passes(criterion.section, result):
                first_open = index
            if first_fail == len(results) and fails(criterion.section, result):
                first_fail = index
        self.first_open[first_open] += 1
        self.first_fail[first_fail] += 1

    def count_blockers(self, deciding: list[str], by_id: Mapping[str, Any]) -> list[int]:
        """The open items of an undetermined patient, each counted once for the patient."""
        keys: dict[tuple[str, str], str] = {}
        for ident in deciding:
            criterion = by_id.get(ident) or {}
            missing = [str(m) for m in criterion.get("missing") or []]
            questions = [str(q) for q in criterion.get("questions") or []]
            for text in missing:
                keys.setdefault(("missing", item_key(text)), ident)
            for text in questions:
                keys.setdefault(("question", item_key(text)), ident)
            if not missing and not questions:
                keys.setdefault(("missing", f"{ident}: undecided, nothing named"), ident)
        numbers = []
        for key, ident in keys.items():
            blocker = self.blockers.get(key)
            if blocker is None:
                blocker = self.blockers[key] = Blocker(key[0], key[1])
                self.blocker_ids[key] = len(self.blocker_ids)
            if ident not in blocker.criteria:
                blocker.criteria.append(ident)
            blocker.patients += 1
            blocker.only += len(keys) == 1
            numbers.append(self.blocker_ids[key])
        return numbers

    @staticmethod
    def drill_down(criterion: Mapping[str, Any] | None, limit: int) -> list[Any]:
        """[evidence, missing, questions, evidence left out] of one criterion."""
        if criterion is None:
            return [[], ["not in this patient's results"], [], 0]
        evidence = criterion.get("evidence") or []
        shown = decisive_first(evidence, str(criterion.get("result", "")), limit)
        return [
            shown,
            [str(m) for m in criterion.get("missing") or []],
            [str(q) for q in criterion.get("questions") or []],
            len(evidence) - len(shown),
        ]

    # ---------------------------------------------------------------- the figures
    @property
    def trial(self) -> str:
        if self.info is not None:
            return self.info.trial
        return self.trial_seen or "(unknown trial)"

    @property
    def records(self) -> int:
        return sum(self.verdicts.values())

    @property
    def screened(self) -> int:
        return self.records - self.verdicts["error"]

    def funnel(self) -> list[FunnelStep]:
        steps = []
        meet_all = not_ruled_out = self.screened
        for index, criterion in enumerate(self.criteria):
            meet_all -= self.first_open[index]
            not_ruled_out -= self.first_fail[index]
            steps.append(
                FunnelStep(criterion.id, criterion.section, criterion.text, meet_all, not_ruled_out)
            )
        return steps

    def criterion_counts(self) -> list[tuple[Item, dict[str, int]]]:
        return [
            (criterion, {truth: counts[truth] for truth in TRUTHS})
            for criterion, counts in zip(self.criteria, self.truths, strict=True)
        ]

    def ranked_blockers(self, kind: str) -> list[tuple[int, Blocker]]:
        """Blockers of one kind, most patients first, with their numbers in the table data."""
        chosen = [(self.blocker_ids[k], b) for k, b in self.blockers.items() if b.kind == kind]
        return sorted(chosen, key=lambda pair: (-pair[1].patients, -pair[1].only, pair[1].text))

    def table_data(self) -> dict[str, Any]:
        """The patient table and what the page needs to draw drill-downs (packed as one blob)."""
        blockers = sorted(self.blocker_ids.items(), key=lambda pair: pair[1])
        return {
            "kind": "screen",
            "criteria": [c.to_dict() for c in self.criteria],
            "blockers": [[key[0], key[1]] for key, _ in blockers],
            "chunk": self.details.size,
            **self.table,
        }
