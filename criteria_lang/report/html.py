"""The HTML report of a screen or of outcomes: one self-contained file (issue 16).

Jinja renders the page from templates/ with autoescaping on, so every value from a rule file or
a patient record is escaped; the charts are SVG images (charts.py); the patient table and the
drill-downs travel as packed data (packing.py) that the page's own small script (report.js)
decodes. A Content-Security-Policy in the page allows only that script and style sheet (by their
hashes) and data: images: the file loads nothing from anywhere, and an injected script would not
run.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import jinja2

from criteria_lang.report import charts
from criteria_lang.report.packing import pack
from criteria_lang.report.run import package_version, run_time
from criteria_lang.report.screen_summary import ScreenSummary

if TYPE_CHECKING:
    from criteria_lang.report.outcome_summary import OutcomeSummary

BLOCKERS_SHOWN = 100  # rows of each "what to collect" table; the rest are counted


@cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("criteria_lang.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@cache
def static(name: str) -> str:
    return (resources.files("criteria_lang.report") / "templates" / name).read_text("utf-8")


def csp_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


def render_page(template: str, page_title: str, sections: Sequence[dict[str, Any]]) -> str:
    script, style = static("report.js"), static("report.css")
    return (
        environment()
        .get_template(template)
        .render(
            page_title=page_title,
            sections=sections,
            version=package_version(),
            made_at=run_time(),
            # Our own files, not data: the template inserts them as they are (`|safe`), and
            # the page's policy lets exactly them (their hashes) run.
            script=script,
            style=style,
            script_hash=csp_hash(script),
            style_hash=csp_hash(style),
        )
    )


def page_title(trials: Sequence[str], what: str) -> str:
    shown = ", ".join(trials[:4]) + (f" and {len(trials) - 4} more" if len(trials) > 4 else "")
    return f"{what}: {shown}" if shown else what


# ---------------------------------------------------------------------------- screen


def screen_view(summary: ScreenSummary, number: int) -> dict[str, Any]:
    steps = summary.funnel()
    counts = summary.criterion_counts()
    previous = summary.screened
    funnel = []
    for step, (_, by_truth) in zip(steps, counts, strict=True):
        funnel.append({**attrs.asdict(step), "lost": previous - step.meet_all, "counts": by_truth})
        previous = step.meet_all
    blocker_tables = []
    for kind, title in (
        ("missing", "Missing data to collect"),
        ("question", "Questions to answer"),
    ):
        ranked = summary.ranked_blockers(kind)
        shown = ranked[:BLOCKERS_SHOWN]
        blocker_tables.append((kind, title, shown, len(ranked) - len(shown)))
    verdicts = summary.verdicts
    return {
        "anchor": f"trial-{number}",
        "blob": f"d{number}",
        "trial": summary.trial,
        "info": summary.info,
        "counts": [("records", summary.records)] + [(v, verdicts[v]) for v in verdicts_order()],
        "screened": summary.screened,
        "undetermined": verdicts["undetermined"],
        "funnel": funnel,
        "funnel_svg": charts.data_url(charts.funnel_chart(summary.screened, steps)),
        "criteria_svg": charts.data_url(charts.criteria_chart(counts)),
        "blocker_tables": blocker_tables,
        "table_blob": pack(summary.table_data()),
        "chunks": summary.details.finish(),
        "chart_chunks": [],
    }


def verdicts_order() -> tuple[str, ...]:
    return ("eligible", "ineligible", "undetermined", "error")


def render_screen(summaries: Sequence[ScreenSummary]) -> str:
    views = [screen_view(s, i) for i, s in enumerate(summaries)]
    title = page_title([v["trial"] for v in views], "Screening report")
    return render_page("screen.html.j2", title, views)


def render_outcomes(summaries: Sequence[OutcomeSummary]) -> str:
    from criteria_lang.report.outcome_summary import outcome_view

    views = [outcome_view(s, i) for i, s in enumerate(summaries)]
    title = page_title([v["trial"] for v in views], "Outcomes report")
    return render_page("outcomes.html.j2", title, views)


def write_html(path: Path, html: str) -> None:
    """Write the whole file or nothing: a reader never opens half a report. A target that is
    not a regular file (`/dev/null`, a FIFO) is written directly, never replaced."""
    if path.exists() and not path.is_file():
        path.write_text(html, encoding="utf-8")
        return
    partial = path.with_name(path.name + ".partial")
    partial.write_text(html, encoding="utf-8")
    os.replace(partial, path)
