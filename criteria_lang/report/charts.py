"""The report's charts: Vega-Lite specifications built with altair, rendered to SVG by
vl-convert (which runs Vega in-process: no browser, no network).

The page shows each SVG as an <img> from a data: URL, so whatever text a chart carries (protocol
words, outcome names) is drawn as text by the image and can never run as script in the page.
altair and vl_convert are imported when a chart is made: `criteria --help` does not pay for them.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from criteria_lang.report.run import Item
from criteria_lang.report.screen_summary import FunnelStep

# One colour per result, the same in every chart and in the page's CSS (report.css). Neutral
# blues for met / not met: a met exclusion criterion or a met "treatment failure" outcome is bad
# news, so green and red would mislead. Where a colour means good or bad (a screen's drill-down),
# the page colours by what the result does to the verdict instead.
RESULT_COLOURS = {
    "met": "#1f5f99",
    "not met": "#9ecae1",
    "unknown": "#f2a900",
    "needs review": "#7b1fa2",
    "not judged": "#e0e0e0",
}
LABEL_CHARS = 46


def short(text: str, limit: int = LABEL_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def step_label(ident: str, text: str) -> str:
    return short(f"{ident} {text}")


def render_svg(chart: Any) -> str:
    import vl_convert

    svg: str = vl_convert.vegalite_to_svg(chart.to_dict())
    return svg


def svg_base64(svg: str) -> str:
    return base64.b64encode(svg.encode("utf-8")).decode("ascii")


def data_url(svg: str) -> str:
    return "data:image/svg+xml;base64," + svg_base64(svg)


def result_scale(judged_only: bool = False) -> Any:
    """Results to colours; `judged_only` leaves out "not judged" (criteria always are)."""
    import altair as alt

    chosen = {k: v for k, v in RESULT_COLOURS.items() if not (judged_only and k == "not judged")}
    return alt.Scale(domain=list(chosen), range=list(chosen.values()))


def funnel_chart(screened: int, steps: Sequence[FunnelStep]) -> str:
    """Patients remaining after each criterion in the file's order: those meeting every
    criterion so far (dark) within those that no criterion so far excludes (light)."""
    import altair as alt

    labels = ["screened"] + [step_label(s.id, s.text) for s in steps]
    meet = [screened] + [s.meet_all for s in steps]
    open_ = [screened] + [s.not_ruled_out for s in steps]
    values = []
    for label, m, o in zip(labels, meet, open_, strict=True):
        values.append({"step": label, "count": o, "series": "not ruled out so far"})
        values.append({"step": label, "count": m, "series": "meet every criterion so far"})
    order = alt.Y("step:N", sort=labels, title=None, axis=alt.Axis(labelLimit=260))
    colour = alt.Color(
        "series:N",
        scale=alt.Scale(
            domain=["not ruled out so far", "meet every criterion so far"],
            range=["#b3cde3", "#1f5f99"],
        ),
        legend=alt.Legend(orient="top", title=None),
    )
    base = alt.Chart(alt.InlineData(values=values)).encode(y=order)
    bars = base.mark_bar(height={"band": 0.8}).encode(
        x=alt.X("count:Q", stack=None, title="patients"), color=colour
    )
    text = (
        base.transform_filter(alt.datum.series == "meet every criterion so far")
        .mark_text(align="left", dx=4, fontSize=11)
        .encode(x="count:Q", text="count:Q")
    )
    chart = alt.layer(bars, text).properties(width=360, height=alt.Step(18))
    return render_svg(chart)


def criteria_chart(counts: Sequence[tuple[Item, dict[str, int]]]) -> str:
    """Each criterion on its own (ATLAS's second view): met / not met / unknown / needs review."""
    import altair as alt

    labels = [f"{item.id} ({item.section[:4]}.)" if item.section else item.id for item, _ in counts]
    values = [
        {"criterion": label, "result": truth.replace("_", " "), "patients": n, "order": k}
        for label, (_, by_truth) in zip(labels, counts, strict=True)
        for k, (truth, n) in enumerate(by_truth.items())
        if n
    ]
    chart = (
        alt.Chart(alt.InlineData(values=values))
        .mark_bar()
        .encode(
            y=alt.Y("criterion:N", sort=labels, title=None),
            x=alt.X("patients:Q", stack="zero", title="patients"),
            color=alt.Color(
                "result:N", scale=result_scale(judged_only=True), legend=alt.Legend(orient="top")
            ),
            order=alt.Order("order:Q"),
        )
        .properties(width=260, height=alt.Step(18))
    )
    return render_svg(chart)


def visit_counts_chart(visits: Sequence[str], rows: Sequence[tuple[str, str, int]]) -> str:
    """Patients meeting each outcome at each visit: (outcome, visit, count) rows."""
    import altair as alt

    values = [{"outcome": o, "visit": v, "patients": n} for o, v, n in rows]
    chart = (
        alt.Chart(alt.InlineData(values=values))
        .mark_line(point=True)
        .encode(
            x=alt.X("visit:N", sort=list(visits), title=None, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("patients:Q", title="patients meeting the outcome"),
            color=alt.Color("outcome:N", legend=alt.Legend(orient="right")),
        )
        .properties(width=max(240, 90 * len(visits)), height=220)
    )
    return render_svg(chart)


def patient_outcomes_chart(
    visits: Sequence[str], outcomes: Sequence[str], cells: Sequence[tuple[str, str, str]]
) -> str:
    """One patient: each outcome (rows) at each visit (columns), coloured by its result."""
    import altair as alt

    values = [{"outcome": o, "visit": v, "result": r} for o, v, r in cells]
    base = alt.Chart(alt.InlineData(values=values)).encode(
        x=alt.X(
            "visit:N", sort=list(visits), title=None, axis=alt.Axis(labelAngle=0, orient="top")
        ),
        y=alt.Y("outcome:N", sort=list(outcomes), title=None),
    )
    rects = base.mark_rect(stroke="white", strokeWidth=2).encode(
        color=alt.Color("result:N", scale=result_scale(), legend=alt.Legend(orient="bottom"))
    )
    dark = alt.FieldOneOfPredicate(field="result", oneOf=["not met", "unknown", "not judged"])
    words = base.mark_text(fontSize=10).encode(
        text="result:N", color=alt.condition(dark, alt.value("#222222"), alt.value("white"))
    )
    chart = alt.layer(rects, words).properties(width=alt.Step(84), height=alt.Step(22))
    return render_svg(chart)
