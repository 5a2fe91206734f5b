"""The HTML report without a browser (issue 16): what the file holds, that `screen --html` and
`criteria report` on saved JSON Lines agree, that it is self-contained and escapes everything, and
the JSON Lines header it is made from. tests/test_report_browser.py opens it in Chromium."""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections import Counter
from contextlib import redirect_stderr, redirect_stdout
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from report_helpers import HOSTILE, HOSTILE_ID, expected_figures, hostile_trial, read_jsonl

from criteria_lang.cli.main import main
from criteria_lang.report.packing import unpack
from criteria_lang.report.screen_summary import EVIDENCE_LIMIT, ScreenSummary, decisive_first

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules" / "nct03562065.crit"
EXAMPLES = ROOT / "examples" / "nct03562065"


def run(*args: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


class Tags(HTMLParser):
    """The elements of a page as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()
        self.scripts: list[dict[str, str | None]] = []
        self.images: list[str] = []
        self.handlers: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.names.add(tag)
        if tag == "script":
            self.scripts.append({k: v for k, v in attrs if k != "id"})
        if tag == "img":
            self.images.append(dict(attrs).get("src") or "")
        self.handlers += [k for k, _ in attrs if k.startswith("on")]


def blob(page: str, ident: str) -> Any:
    found = re.search(
        rf'<script type="application/gzip\+base64" id="{ident}">([^<]*)</script>', page
    )
    assert found, ident
    return unpack(found.group(1))


def page_figures(page: str, section: int = 0) -> dict[str, Any]:
    """The numbers a reader sees in one trial's section of the page."""
    part = page.split('<section id="trial-')[section + 1].split("</section>")[0]
    counts = {k: int(v) for k, v in re.findall(r'data-count="(\w+)">(\d+)<', part)}
    funnel = [
        int(n)
        for step, n in re.findall(
            r'<tr data-step="([^"]+)">.*?<td class="num meet-all">(\d+)</td>', part, re.S
        )
        if step != "screened"
    ]
    cells = re.findall(r'<td class="num" data-result="(\w+)">(\d+)</td>', part)
    return {"counts": counts, "funnel": funnel, "cells": cells}


@pytest.fixture(scope="module")
def screened(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("report")
    results, direct, later = folder / "r.jsonl", folder / "direct.html", folder / "later.html"
    code, _, err = run(
        "screen", RULES, EXAMPLES, "--format", "jsonl", "-o", results, "--html", direct
    )
    assert code == 0 and f"report: {direct}" in err
    code, _, err = run("report", results, "-o", later)
    assert code == 0, err
    return {
        "lines": read_jsonl(results),
        "direct": direct.read_text(encoding="utf-8"),
        "later": later.read_text(encoding="utf-8"),
    }


def test_jsonl_header_says_what_was_run(screened: dict[str, Any]) -> None:
    header, *rows = screened["lines"]
    assert header["header"] == "screen" and header["format"] == 1
    assert header["trial"] == "NCT03562065" and header["title"]
    assert header["rules"]["sha256"] == hashlib.sha256(RULES.read_bytes()).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", header["rules"]["sources_sha256"])
    assert header["input"] == {"path": str(EXAMPLES), "format": "patient JSON"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", header["run_at"])
    assert [c["id"] for c in header["criteria"]] == [c["id"] for c in rows[0]["criteria"]]
    assert all("header" not in row and "verdict" in row for row in rows)
    assert len(rows) == len(list(EXAMPLES.glob("*.json")))


def test_page_numbers_equal_the_jsonl(screened: dict[str, Any]) -> None:
    expected = expected_figures(screened["lines"])["NCT03562065"]
    for page in (screened["direct"], screened["later"]):
        seen = page_figures(page)
        verdicts = expected["verdicts"]
        assert seen["counts"] == {
            "records": sum(verdicts.values()),
            **{v: verdicts[v] for v in ("eligible", "ineligible", "undetermined", "error")},
        }
        assert seen["funnel"] == expected["funnel"] and seen["funnel"][-1] == verdicts["eligible"]
        flat = [
            (t, str(c[t]))
            for c in expected["counts"]
            for t in ("met", "not_met", "unknown", "needs_review")
        ]
        assert seen["cells"] == flat


def test_report_from_jsonl_is_the_screen_report(screened: dict[str, Any]) -> None:
    """Apart from the time the page was made, `criteria report` writes what `screen --html` did."""

    def strip(page: str) -> str:
        return re.sub(r"Made by criteria-lang [^ ]+ on [^ ]+\.", "", page)

    assert strip(screened["direct"]) == strip(screened["later"])


def test_report_from_worker_processes(screened: dict[str, Any], tmp_path: Path) -> None:
    """`screen --jobs 2` evaluates in worker processes that send their rows back as JSON Lines
    text; the report made from those rows is the same page."""
    page, rows = tmp_path / "jobs.html", tmp_path / "rows.csv"
    code, _, err = run(
        "screen", RULES, EXAMPLES, "--jobs", "2", "--html", page, "--format", "csv", "-o", rows
    )
    assert code == 0, err

    def strip(text: str) -> str:
        return re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "", text)

    assert strip(page.read_text(encoding="utf-8")) == strip(screened["direct"])


def test_patient_table_and_drill_down_data(screened: dict[str, Any]) -> None:
    rows = screened["lines"][1:]
    table = blob(screened["direct"], "d0-table")
    assert table["id"] == [r["patient"] for r in rows]
    codes = {"eligible": "e", "ineligible": "i", "undetermined": "u"}
    assert table["verdict"] == [codes[r["verdict"]] for r in rows]
    ids = [c["id"] for c in table["criteria"]]
    assert [[ids[k] for k in d] for d in table["deciding"]] == [r["deciding"] for r in rows]
    chunk = blob(screened["direct"], "d0-0")  # criterion by criterion
    assert chunk["source"] == [r["source"] for r in rows]
    for k, cells in enumerate(chunk["criteria"]):
        for row, (evidence, missing, questions, more) in zip(rows, cells, strict=True):
            criterion = row["criteria"][k]
            assert missing == criterion["missing"] and questions == criterion["questions"]
            assert len(evidence) + more == len(criterion["evidence"])
            assert len(evidence) == min(EVIDENCE_LIMIT, len(criterion["evidence"]))
            for shown in evidence:
                source = next(
                    e for e in criterion["evidence"] if [e["what"], e["detail"]] == shown[:2]
                )
                date = source["date"]
                assert shown[2:] == ([date] if date and date not in shown[1] else [])


def test_what_to_collect_groups_undetermined_patients(screened: dict[str, Any]) -> None:
    rows = [r for r in screened["lines"][1:] if r["verdict"] == "undetermined"]
    expected: Counter[str] = Counter()
    for row in rows:
        # Grouped across patients without each patient's own dates.
        items = {
            re.sub(r"\d{4}-\d\d-\d\d", "[date]", m)
            for c in row["criteria"]
            if c["id"] in row["deciding"]
            for m in c["missing"]
        }
        expected.update(items)
    part = "".join(
        table.split("</table>")[0]
        for table in screened["direct"].split('<table class="blockers missing">')[1:]
    )
    seen = re.findall(
        r'<td class="blocker-text">([^<]*)</td><td[^>]*>[^<]*</td><td class="num">(\d+)</td>', part
    )
    assert expected and {text: int(n) for text, n in seen} == dict(expected)


def test_self_contained_and_locked_down(screened: dict[str, Any]) -> None:
    page = screened["direct"]
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", page)
    assert "<link" not in page and "@import" not in page and "url(" not in page
    scripts = re.findall(r"<script([^>]*)>", page)
    assert scripts.count("") == 1  # ours; the rest is data
    assert all(s == "" or 'type="application/gzip+base64"' in s for s in scripts)
    images = re.findall(r'<img src="([^"]*)"', page)
    assert len(images) == 2 and all(i.startswith("data:image/svg+xml;base64,") for i in images)


def test_hostile_words_and_ids_are_escaped(tmp_path: Path) -> None:
    rule_file, patients = hostile_trial(tmp_path)
    out = tmp_path / "r.html"
    code, _, err = run("screen", rule_file, patients, "--html", out, "--format", "csv")
    assert code == 1, err  # the broken record is a finding; the report is written all the same
    page = out.read_text(encoding="utf-8")
    tags = Tags()
    tags.feed(page)
    # The words made no element and no handler: the only scripts are ours and the data blocks,
    # the only images the two charts, and no attribute is an event handler.
    assert tags.scripts.count({}) == 1
    assert all(a == {} or a.get("type") == "application/gzip+base64" for a in tags.scripts)
    assert len(tags.images) == 2 and all(i.startswith("data:image/svg") for i in tags.images)
    assert not tags.handlers and "i" not in tags.names
    assert "&lt;/script&gt;&lt;script&gt;window.pwned = 1&lt;/script&gt;&lt;img src=x" in page
    table = blob(page, "d0-table")
    assert HOSTILE_ID in table["id"] and table["criteria"][0]["text"] == HOSTILE


def test_report_without_header_and_with_bad_lines(screened: dict[str, Any], tmp_path: Path) -> None:
    """JSON Lines from before the header line still give a report; a line that is not JSON is
    skipped and said, and the exit code says something was skipped."""
    old = tmp_path / "old.jsonl"
    rows = screened["lines"][1:]
    lines = [json.dumps(r) for r in rows[:5]] + ["{not json"] + [json.dumps(r) for r in rows[5:]]
    old.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, _, err = run("report", old)
    assert code == 1 and f"{old}:6: not JSON" in err
    page = (tmp_path / "old.html").read_text(encoding="utf-8")
    assert "version not recorded" in page
    assert page_figures(page)["counts"]["records"] == len(rows)


def test_report_refuses_mixed_and_empty_input(screened: dict[str, Any], tmp_path: Path) -> None:
    mixed = tmp_path / "mixed.jsonl"
    outcome = {"patient": "a", "outcome": "CR", "visit": "v", "result": "met"}
    mixed.write_text(json.dumps(screened["lines"][1]) + "\n" + json.dumps(outcome) + "\n")
    code, _, err = run("report", mixed, "-o", tmp_path / "m.html")
    assert code == 1 and "mixes screen results and outcome results" in err
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    code, _, err = run("report", empty)
    assert code == 1 and "no results" in err
    code, _, err = run("report", tmp_path / "absent.jsonl")
    assert code == 2 and "cannot read" in err
    code, _, err = run("report", mixed, "-o", mixed)
    assert code == 2 and "overwrite its input" in err


def test_outcomes_report_from_html_option_and_from_jsonl(tmp_path: Path) -> None:
    rules = ROOT / "rules" / "nct03917797.crit"
    patients = ROOT / "examples" / "outcomes" / "nct03917797"
    results, direct, later = tmp_path / "o.jsonl", tmp_path / "o.html", tmp_path / "o2.html"
    code, _, err = run(
        "outcomes", rules, patients, "--format", "jsonl", "-o", results, "--html", direct
    )
    assert code == 0, err
    assert run("report", results, "-o", later)[0] == 0
    lines = read_jsonl(results)
    assert lines[0]["header"] == "outcomes"
    met: Counter[tuple[str, str]] = Counter()
    judged: Counter[tuple[str, str]] = Counter()
    for row in lines[1:]:
        judged[(row["outcome"], row["visit"])] += row["result"] != "not_judged"
        met[(row["outcome"], row["visit"])] += row["result"] == "met"
    for page in (direct.read_text(encoding="utf-8"), later.read_text(encoding="utf-8")):
        cells = re.findall(r'<tr data-outcome="([^"]+)">(.*?)</tr>', page, re.S)
        seen = {
            (outcome, visit): (int(m), int(j))
            for outcome, row in cells
            for visit, m, j in re.findall(
                r'data-visit="([^"]+)" data-met="(\d+)" data-judged="(\d+)"', row
            )
        }
        assert seen == {key: (met[key], judged[key]) for key in judged}
        table = blob(page, "d0-table")
        assert len(table["id"]) == len(list(patients.glob("*.json")))
        details = blob(page, "d0-0")
        assert all(d["chart"] >= 0 for d in details)  # every patient has a chart
        charts = blob(page, "d0-charts-0")
        assert all(c.startswith("PHN2Zy") for c in charts)  # base64 of "<svg"


# ---------------------------------------------------------------------------- properties

RESULTS = st.sampled_from(["met", "not_met", "unknown", "needs_review"])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(["inclusion", "exclusion"]), min_size=1, max_size=6).flatmap(
        lambda sections: st.tuples(
            st.just(sections),
            st.lists(
                st.lists(RESULTS, min_size=len(sections), max_size=len(sections)), max_size=30
            ),
        )
    )
)
def test_funnel_ends_at_the_verdicts(case: tuple[list[str], list[list[str]]]) -> None:
    """For any results: the funnel never grows, ends at the eligible patients, and 'not ruled
    out' ends at eligible + undetermined (the verdict rule of core/results.py)."""
    from criteria_lang.core.results import CriterionResult, Truth, overall

    sections, patients = case
    summary = ScreenSummary(None)
    verdicts: Counter[str] = Counter()
    for number, results in enumerate(patients):
        criteria = tuple(
            CriterionResult(f"C{k}", s, "t", Truth(r))
            for k, (s, r) in enumerate(zip(sections, results, strict=True))
        )
        verdict, deciding = overall(criteria)
        verdicts[verdict.value] += 1
        summary.add(
            {
                "patient": f"p{number}",
                "trial": "T",
                "verdict": verdict.value,
                "deciding": list(deciding),
                "criteria": [c.to_dict() for c in criteria],
            }
        )
    steps = summary.funnel()
    meet = [len(patients)] + [s.meet_all for s in steps]
    open_ = [len(patients)] + [s.not_ruled_out for s in steps]
    assert meet == sorted(meet, reverse=True) and open_ == sorted(open_, reverse=True)
    assert all(m <= o for m, o in zip(meet, open_, strict=True))
    assert meet[-1] == verdicts["eligible"]
    assert open_[-1] == verdicts["eligible"] + verdicts["undetermined"]


def test_decisive_evidence_is_kept_first() -> None:
    events = [{"what": f"event {i}", "detail": f"value {i}"} for i in range(20)]
    comparisons = [{"what": "x", "detail": "5 >= 3: yes"}, {"what": "y", "detail": "1 >= 3: no"}]
    kept = decisive_first(events + comparisons, "met", 5)
    assert [k[1] for k in kept] == ["value 0", "value 1", "value 2", "value 3", "5 >= 3: yes"]
    assert len(decisive_first(events, "met", 50)) == 20
