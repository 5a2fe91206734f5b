"""What the HTML report tests share: a trial whose words and patient ids are hostile HTML, and
the report's figures computed straight from JSON Lines results (independently of report/)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from semantics_helpers import CONCEPTS, lab, patient

# Closes the script element the data sits in, opens markup, runs script three ways.
HOSTILE = (
    "</script><script>window.pwned = 1</script>"
    '<img src=x onerror="window.pwned = 2"> & "quoted" \'single\' <b>bold</b>'
)
HOSTILE_ID = "<script>window.pwned=3</script>&amp;<i>id</i>"


def hostile_trial(folder: Path) -> tuple[Path, Path]:
    """A rule file whose protocol texts are hostile HTML, and patients (one with a hostile id)
    that come out eligible, ineligible and undetermined."""
    text = HOSTILE.replace('"', '\\"')
    rule_file = folder / "hostile.crit"
    rule_file.write_text(
        f'trial "T-1"\n  dates screening, baseline\n  index screening\n{CONCEPTS}\n'
        f'inclusion\n  I1 "{text}": sex in ("female")\n'
        f'  I2 "eGFR {text}": latest lab egfr within 3 months before screening'
        " >= 30 mL/min/1.73m2\n"
        f'exclusion\n  E1 "{text}": latest lab hbsag within 3 months before screening'
        " is positive\n",
        encoding="utf-8",
    )
    patients = folder / "patients"
    patients.mkdir()
    docs = [
        patient(
            lab("egfr", "2024-03-01", 60, "mL/min/1.73m2"),
            lab("hbsag", "2024-03-02", "negative"),
            id=HOSTILE_ID,
        ),
        patient(lab("egfr", "2024-03-01", 20, "mL/min/1.73m2"), id="low-egfr"),
        patient(id="no-egfr"),
        patient(lab("egfr", "2024-03-01", 60, "mL/min/1.73m2"), id="man", sex="male"),
        patient(
            lab("egfr", "2024-03-01", 60, "mL/min/1.73m2"),
            lab("hbsag", "2024-03-02", "positive"),
            id="hbsag",
        ),
    ]
    for number, doc in enumerate(docs):
        (patients / f"p{number}.json").write_text(json.dumps(doc), encoding="utf-8")
    (patients / "broken.json").write_text("{not json", encoding="utf-8")
    return rule_file, patients


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def expected_figures(lines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per trial, from `screen --format jsonl` output: verdict counts, the funnel (patients
    meeting every criterion up to each one, in file order) and each criterion's result counts."""
    figures: dict[str, dict[str, Any]] = {}
    current: dict[str, Any] = {}
    for row in lines:
        if "header" in row:
            current = figures.setdefault(
                row["trial"],
                {
                    "criteria": [(c["id"], c["section"]) for c in row["criteria"]],
                    "verdicts": Counter(),
                    "rows": [],
                },
            )
            continue
        current["verdicts"][row["verdict"]] += 1
        if row["verdict"] != "error":
            current["rows"].append({c["id"]: c["result"] for c in row["criteria"]})
    for trial in figures.values():
        funnel, counts = [], []
        for k, (ident, _) in enumerate(trial["criteria"]):
            done = trial["criteria"][: k + 1]
            funnel.append(
                sum(
                    all(r[i] == ("met" if s == "inclusion" else "not_met") for i, s in done)
                    for r in trial["rows"]
                )
            )
            counts.append(Counter(r[ident] for r in trial["rows"]))
        trial["funnel"], trial["counts"] = funnel, counts
    return figures
