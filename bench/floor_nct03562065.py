"""The floor: NCT03562065's 25 criteria computed in plain Python from the same JSON Lines.

    python bench/floor_nct03562065.py PLAN.json PATIENTS.jsonl [--dump FILE]

What a hand-written program costs that reads the same records and answers the same criteria
with no language, no checker, no exact arithmetic and no evidence: `json` and `datetime` only,
floats, one function a criterion, three-valued answers (met, not_met, unknown, needs_review).
The concept code sets come from the rule file's plan (`criteria plan rules/nct03562065.crit
--json`): which codes a concept holds is configuration, not work. It follows docs/language.md
where the generated data can tell the difference (windows with inclusive ends, calendar
months, coverage for conditions and medications, the latest fact deciding, doses per day,
prednisone equivalents, titers, positive words, ULN from the result's range) and simplifies
elsewhere (floats; no evidence text; no reference-range ULN fallback to the concept). How close
its answers are to ours is printed by bench/bench_screen.py beside the timing, criterion by
criterion, so the floor's honesty can be judged.

Prints one JSON line: patients, errors (lines it could not read), read_parse_s (json.loads and
indexing the events by concept), eval_s (the 25 answers), and patients per second of each and
of both (CPU time, time.process_time).
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import math
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

MET, NOT, UNK, REV = "met", "not_met", "unknown", "needs_review"
Day = dt.date
Ev = dict[str, Any]

# ---------------------------------------------------------------------------- three values


def all_of(*values: str) -> str:
    if NOT in values:
        return NOT
    if UNK in values:
        return UNK
    return REV if REV in values else MET


def any_of(*values: str) -> str:
    if MET in values:
        return MET
    if UNK in values:
        return UNK
    return REV if REV in values else NOT


def negate(value: str) -> str:
    return {MET: NOT, NOT: MET}.get(value, value)


# ---------------------------------------------------------------------------- dates


def day(text: Any) -> Day | None:
    return dt.date.fromisoformat(text[:10]) if isinstance(text, str) else None


def add_months(d: Day, months: int) -> Day:
    month = d.month - 1 + months
    year, month = d.year + month // 12, month % 12 + 1
    return dt.date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def months_before(d: Day, n: int) -> Day:
    return add_months(d, -n)


def age_years(birth: Day, on: Day) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


# ---------------------------------------------------------------------------- concepts


class Concepts:
    """Code -> concept matching from the plan's concept table (codes, prefixes, names,
    exclusions), with the answer cached per code."""

    def __init__(self, table: dict[str, Any]) -> None:
        self.table = table
        self.cache: dict[tuple[str, str, str], bool] = {}
        self.by_code: dict[tuple[str, str], frozenset[str]] = {}
        # Prednisone-equivalent factors of the glucocorticoids ("20/3" -> 6.67).
        self.equivalents: dict[str, float] = {}
        for name in table["drugs.glucocorticoids"]["members"]:
            factor = table[name]["attributes"].get("prednisone_equivalent", {}).get("number")
            if factor is not None:
                top, _, bottom = factor.partition("/")
                self.equivalents[name] = float(top) / float(bottom or 1)

    def leaf(self, name: str, codes: list[tuple[str, str]]) -> str:
        """The most specific member of `name` that the codes match (the drug of a class)."""
        for member in self.table[name]["members"]:
            if self.holds(member, codes):
                return self.leaf(member, codes)
        return name

    def upper_limit(self, name: str) -> float | None:
        limit = self.table[name]["attributes"].get("upper_limit")
        return float(limit["quantity"]) if limit else None

    def _holds(self, name: str, system: str, code: str) -> bool:
        c = self.table[name]
        if system == "concept":
            hit = code in c["names"]
        else:
            hit = code in c["codes"].get(system, ()) or "*" in c["codes"].get(system, ())
            hit = hit or any(code.startswith(p) for p in c["prefixes"].get(system, ()))
        if not hit:
            return False
        if system == "concept":
            return code not in c["excluded_names"]
        if code in c["excluded_codes"].get(system, ()):
            return False
        if any(code.startswith(p) for p in c["excluded_prefixes"].get(system, ())):
            return False
        return not any(self._holds(x, system, code) for x in c["excluded"])

    def concepts_of(self, system: str, code: str) -> frozenset[str]:
        """Every concept of the table that holds this code: worked out once per code."""
        key = (system, code)
        found = self.by_code.get(key)
        if found is None:
            found = frozenset(n for n in self.table if self._holds(n, system, code))
            self.by_code[key] = found
        return found

    def holds(self, name: str, codes: Iterable[tuple[str, str]]) -> bool:
        for system, code in codes:
            key = (name, system, code)
            hit = self.cache.get(key)
            if hit is None:
                hit = self.cache[key] = self._holds(name, system, code)
            if hit:
                return True
        return False


def event_codes(raw: Any) -> list[tuple[str, str]]:
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for item in items:
        if isinstance(item, str):
            out.append(("concept", item))
        elif isinstance(item, dict):
            out.append((item.get("system", ""), str(item.get("code", ""))))
    return out


# ---------------------------------------------------------------------------- values

COUNT = {"10^9/L": 1.0, "10*9/L": 1.0, "10*3/uL": 1.0, "/uL": 1e-3, "cells/uL": 1e-3}
UNITS: dict[str, dict[str, float]] = {
    "count": COUNT,  # in 10^9/L
    "cd4": {**COUNT, "10^6/L": 1e-3},
    "g/dL": {"g/dL": 1.0, "g/L": 0.1},
    "mmHg": {"mmHg": 1.0},
    "%": {"%": 1.0},
    "kg": {"kg": 1.0, "lb": 0.45359237},
    "cm": {"cm": 1.0},
    "mg/dL": {"mg/dL": 1.0, "umol/L": 113.12 / 10000},  # creatinine, 113.12 g/mol
    "U/L": {"U/L": 1.0},
}
POSITIVE = {"positive", "pos", "detected", "reactive", "present", "abnormal", "yes", "true"}
NEGATIVE = {"negative", "neg", "not detected", "non-reactive", "absent", "normal", "no", "false"}


def number(event: Ev, family: str) -> float | None:
    value = event.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    factor = UNITS[family].get(event.get("unit") or "")
    return None if factor is None else value * factor


def positive(event: Ev) -> bool | None:
    value = event.get("value")
    if isinstance(value, str):
        text = value.strip().lower()
        if text.startswith("1:"):
            return None
        return True if text in POSITIVE else False if text in NEGATIVE else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        high = (event.get("reference_range") or {}).get("high")
        return None if high is None else value > high
    return None


def value_query(results: list[bool | None]) -> str:
    """`any lab X value ...`: met when one qualifies, unknown when one cannot be read (or none
    was measured), not met when measurements exist and none qualifies."""
    if any(results):
        return MET
    return UNK if not results or None in results else NOT


def titer(event: Ev) -> int | None:
    value = event.get("value")
    if isinstance(value, str) and value.startswith("1:") and value[2:].isdigit():
        return int(value[2:])
    return None


# ---------------------------------------------------------------------------- one patient


class Patient:
    def __init__(self, doc: dict[str, Any], concepts: Concepts) -> None:
        self.concepts = concepts
        self.birth = day(doc.get("birth_date"))
        self.sex = doc.get("sex")
        self.dates = {k: day(v) for k, v in (doc.get("dates") or {}).items()}
        self.coverage = [
            (day(c["start"]) or dt.date.max, day(c.get("end")) or dt.date.max)
            for c in doc.get("coverage", ())
        ]
        self.reviews = {k: v.get("answer") for k, v in (doc.get("reviews") or {}).items()}
        self.by_kind: dict[str, list[Ev]] = {}
        self.found: dict[tuple[str, str], list[Ev]] = {}
        concepts_of = concepts.concepts_of
        for event in doc.get("events", ()):
            codes = event["_codes"] = event_codes(event.get("code"))
            kind = event["type"]
            self.by_kind.setdefault(kind, []).append(event)
            names: set[str] = set()
            for system, code in codes:
                names |= concepts_of(system, code)
            for name in names:
                self.found.setdefault((kind, name), []).append(event)

    def covered(self, lo: Day, hi: Day) -> bool:
        if lo == dt.date.min:
            lo = hi
        return any(s <= lo and hi <= e for s, e in self.coverage)

    def of(self, kind: str, concept: str) -> list[Ev]:
        """The events of a concept (indexed once per patient, in `__init__`)."""
        return self.found.get((kind, concept), [])

    def points(self, kind: str, concept: str, lo: Day | None, hi: Day) -> list[Ev]:
        out = []
        for e in self.of(kind, concept):
            when = day(e.get("date"))
            if when is not None and (lo is None or lo <= when) and when <= hi:
                out.append(e)
        return out

    def latest(self, kind: str, concept: str, lo: Day, hi: Day) -> Ev | None:
        found = self.points(kind, concept, lo, hi)
        return max(found, key=lambda e: (e["date"], e.get("id") or "")) if found else None

    def absence(self, found: bool, lo: Day, hi: Day) -> str:
        return MET if found else (NOT if self.covered(lo, hi) else UNK)

    def ever_lo(self) -> Day:
        """`ever` windows are judged within the record: covered when it covers their last day
        (docs/language.md, "Unknown and absence")."""
        return dt.date.min

    # ------------------------------------------------------------------ kinds
    def condition(self, concept: str, hi: Day, lo: Day | None = None, active: bool = False) -> str:
        found = False
        for e in self.of("condition", concept):
            onset = day(e.get("onset"))
            if onset is None or onset > hi:
                continue
            if active:
                status = e.get("status")
                ok = status == "active" or (status is None and not e.get("abatement"))
                if not ok:
                    continue
                end = hi
            else:
                end = day(e.get("abatement")) or onset
            if lo is None or end >= lo:
                found = True
                break
        return self.absence(found, lo or self.ever_lo(), hi)

    def fact(self, concept: str, lo: Day, hi: Day) -> str:
        e = self.latest("fact", concept, lo, hi)
        if e is None:
            return UNK
        return MET if e.get("value") is True else NOT

    def review(self, criterion: str) -> str:
        answer = self.reviews.get(criterion)
        return answer if answer in (MET, NOT) else REV


# ---------------------------------------------------------------------------- medications


def exposure_span(e: Ev) -> tuple[Day, Day] | None:
    start = day(e.get("start"))
    if start is None:
        return None
    if e.get("ongoing"):
        return start, dt.date.max
    return start, day(e.get("end")) or start


def per_day(e: Ev) -> float | None:
    daily = e.get("daily_dose")
    if isinstance(daily, dict) and daily.get("unit") == "mg":
        return float(daily["value"])
    dose, freq = e.get("dose"), e.get("frequency")
    if not isinstance(dose, dict) or dose.get("unit") != "mg" or not isinstance(freq, dict):
        return None
    period = freq["period"] * {"d": 1, "wk": 7, "mo": 30.4375}.get(freq["unit"], float("nan"))
    return float(dose["value"] * freq["count"] / period)


def height_near(p: Patient, when: Day) -> float | None:
    return weight_near(p, when, "derived.height", "cm")


def weight_near(
    p: Patient, when: Day, concept: str = "derived.weight", family: str = "kg"
) -> float | None:
    best = None
    for e in p.of("observation", concept):
        d = day(e.get("date"))
        w = number(e, family)
        if d is None or w is None or abs((d - when).days) > 365:
            continue
        key = (abs((d - when).days), d)
        if best is None or key < best[0]:
            best = (key, w)
    return best[1] if best else None


def longest_run(spans: list[tuple[Day, Day]]) -> int:
    best = 0
    for start, end in merge(spans):
        best = max(best, (end - start).days + 1)
    return best


def merge(spans: list[tuple[Day, Day]]) -> list[tuple[Day, Day]]:
    out: list[tuple[Day, Day]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1] + dt.timedelta(days=1):
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def dose_run(
    p: Patient,
    concept: str,
    hi: Day,
    *,
    route: str | None,
    passes: Callable[[Ev], bool | None],
    days: int | None = None,
    months: int | None = None,
) -> str:
    """`medication C route R dose ... for at least D ever before hi`."""
    spans: list[tuple[Day, Day]] = []
    maybe: list[tuple[Day, Day]] = []  # exposures whose dose cannot be decided
    for e in p.of("medication", concept):
        span = exposure_span(e)
        if span is None or span[0] > hi or (route and (e.get("route") or "").lower() != route):
            continue
        ok = passes(e)
        if ok or ok is None:
            (spans if ok else maybe).append((span[0], min(span[1], hi)))

    def reaches(runs: list[tuple[Day, Day]]) -> bool:
        for start, end in merge(runs):
            need = (add_months(start, months) - start).days if months else days or 0
            if (end - start).days + 1 >= need:
                return True
        return False

    if reaches(spans):
        return MET
    # Undecided only when the undecided exposures could still make a run long enough.
    if maybe and reaches(spans + maybe):
        return UNK
    return p.absence(False, p.ever_lo(), hi)


def daily_over(
    limit: float, factor: float = 1.0, strict: bool = True
) -> Callable[[Ev], bool | None]:
    def test(e: Ev) -> bool | None:
        value = per_day(e)
        if value is None:
            return None
        value *= factor
        return value > limit if strict else value >= limit

    return test


# ---------------------------------------------------------------------------- the criteria


def criteria(p: Patient) -> dict[str, str]:  # noqa: C901 - one line a criterion, as the rules
    s, c, b = p.dates.get("screening"), p.dates.get("consent"), p.dates.get("baseline")
    out: dict[str, str] = {}
    out["I1"] = (
        UNK if c is None or p.birth is None else MET if 18 < age_years(p.birth, c) < 70 else NOT
    )
    if s is None:
        for key in ("I2", "I5", "I6", "I7", "I9", "E1", "E2", "E3", "E4", "E5", "E7"):
            out[key] = UNK
        for key in ("E8", "E9", "E11", "E12", "E14", "E16"):
            out[key] = UNK
    else:
        out.update(criteria_at_screening(p, s, b))
    if b is None:
        out["I3"] = out["I4"] = out["E10"] = UNK
    else:
        out.update(criteria_at_baseline(p, b))
    out["I8"] = UNK if c is None else p.fact("facts.consent_signed", c, c)
    out["E6"], out["E13"], out["E15"] = p.review("E6"), p.review("E13"), p.review("E15")
    return out


def criteria_at_baseline(p: Patient, b: Day) -> dict[str, str]:
    out = {}
    found = [
        e
        for e in p.points(
            "score", "scores.selena_sledai", b - dt.timedelta(14), b + dt.timedelta(14)
        )
        if isinstance(e.get("value"), int | float)
    ]
    if not found:
        out["I3"] = UNK
    else:
        near = min(found, key=lambda e: (abs((day(e["date"]) - b).days), e["date"]))  # type: ignore[operator]
        out["I3"] = MET if near["value"] >= 6 else NOT

    def pred_equiv(e: Ev) -> bool | None:
        value = per_day(e)
        if value is None:
            return None
        for name, factor in p.concepts.equivalents.items():
            if p.concepts.holds(name, e["_codes"]):
                return value * factor >= 6
        return None

    steroid = dose_run(p, "drugs.glucocorticoids", b, route="oral", passes=pred_equiv, days=28)
    out["I4"] = all_of(steroid, immunosuppressant_failure(p, b), p.review("I4"))
    out["E10"] = any_of(
        medication_in(p, "drugs.belimumab", months_before(b, 2), b),
        medication_in(p, "drugs.b_cell_depleting", months_before(b, 6), b),
    )
    return out


def immunosuppressant_failure(p: Patient, b: Day) -> str:
    def amount_at_least(limit: float) -> Callable[[Ev], bool | None]:
        def test(e: Ev) -> bool | None:
            dose = e.get("dose") or e.get("daily_dose")
            if not isinstance(dose, dict) or dose.get("unit") != "mg":
                return None
            return bool(dose["value"] >= limit)

        return test

    def per_kg(low: float, high: float | None) -> Callable[[Ev], bool | None]:
        def test(e: Ev) -> bool | None:
            value, span = per_day(e), exposure_span(e)
            weight = weight_near(p, span[0]) if span else None
            if value is None or not weight:
                return None
            value /= weight
            return low <= value <= high if high is not None else value > low

        return test

    def amount_per_kg(limit: float) -> Callable[[Ev], bool | None]:
        def test(e: Ev) -> bool | None:
            dose, span = e.get("dose"), exposure_span(e)
            weight = weight_near(p, span[0]) if span else None
            if not isinstance(dose, dict) or dose.get("unit") != "mg" or not weight:
                return None
            return bool(dose["value"] / weight >= limit)

        return test

    def rituximab(passes: Callable[[Ev], bool | None], count: int) -> str:
        n, unknown = 0, False
        for e in p.of("medication", "drugs.rituximab"):
            span = exposure_span(e)
            if span is None or span[0] > b or (e.get("route") or "").lower() != "intravenous":
                continue
            ok = passes(e)
            n += bool(ok)
            unknown = unknown or ok is None
        # A count is a lower bound where the record is not covered; undecided doses are not
        # counted (as ours does).
        return MET if n >= count else p.absence(False, p.ever_lo(), b)

    def per_m2(limit: float) -> Callable[[Ev], bool | None]:
        def test(e: Ev) -> bool | None:
            dose, span = e.get("dose"), exposure_span(e)
            if not isinstance(dose, dict) or dose.get("unit") != "mg" or span is None:
                return None
            weight, height = weight_near(p, span[0]), height_near(p, span[0])
            if not weight or not height:
                return None
            return bool(dose["value"] / math.sqrt(height * weight / 3600) >= limit)

        return test

    return any_of(
        dose_run(
            p,
            "drugs.cyclophosphamide",
            b,
            route="intravenous",
            passes=amount_at_least(500),
            months=3,
        ),
        dose_run(
            p, "drugs.mycophenolate_mofetil", b, route="oral", passes=daily_over(2000), days=90
        ),
        dose_run(p, "drugs.mycophenolic_acid", b, route="oral", passes=daily_over(1440), days=90),
        dose_run(p, "drugs.azathioprine", b, route="oral", passes=per_kg(2, None), days=90),
        dose_run(p, "drugs.methotrexate", b, route=None, passes=daily_over(20 / 7), days=90),
        dose_run(p, "drugs.leflunomide", b, route="oral", passes=daily_over(10), days=90),
        rituximab(per_m2(375), 4),
        rituximab(amount_at_least(1000), 2),
        dose_run(p, "drugs.cyclosporine", b, route="oral", passes=per_kg(2.5, 5), days=90),
        dose_run(p, "drugs.belimumab", b, route="intravenous", passes=amount_per_kg(10), months=3),
    )


def medication_in(p: Patient, concept: str, lo: Day, hi: Day) -> str:
    found = False
    for e in p.of("medication", concept):
        span = exposure_span(e)
        if span is not None and span[0] <= hi and span[1] >= lo:
            found = True
            break
    return p.absence(found, lo, hi)


def stable_and_no_change(p: Patient, s: Day) -> str:
    lo = s - dt.timedelta(30)
    drugs: dict[str, list[Ev]] = {}
    for e in p.of("medication", "sle_treatment"):
        span = exposure_span(e)
        if span is not None and span[0] <= s and span[1] >= lo:
            drugs.setdefault(p.concepts.leaf("sle_treatment", e["_codes"]), []).append(e)
    stable = change = unknown = False
    for exposures in drugs.values():
        doses = {per_day(e) for e in exposures}
        if None in doses:  # the daily dose is not recorded: neither stable nor changed is known
            unknown = True
            continue
        spans = [exposure_span(e) for e in exposures]
        inside = any(lo < sp[0] <= s or lo <= sp[1] < s for sp in spans if sp)
        change = change or len(doses) > 1 or inside
        through = any(sp[0] <= lo and sp[1] >= s for sp in spans if sp)
        stable = stable or (len(doses) == 1 and None not in doses and through and not inside)
    stable_q = MET if stable else UNK if unknown else p.absence(False, lo, s)
    change_q = MET if change else UNK if unknown else p.absence(False, lo, s)
    return all_of(stable_q, negate(change_q))


def criteria_at_screening(p: Patient, s: Day, b: Day | None) -> dict[str, str]:
    out = {}
    ana = p.points("lab", "labs.ana", None, s)
    titers = [None if titer(e) is None else titer(e) >= 80 for e in ana]  # type: ignore[operator]
    out["I2"] = all_of(
        p.condition("conditions.sle", s),
        any_of(value_query(titers), value_query([positive(e) for e in ana])),
    )
    out["I5"] = stable_and_no_change(p, s)
    m30 = (s - dt.timedelta(30), s + dt.timedelta(30))
    preg = UNK
    if b is not None:
        test = p.latest("lab", "labs.pregnancy_test", b - dt.timedelta(14), b)
        preg = UNK if test is None else {True: NOT, False: MET}.get(positive(test), UNK)  # type: ignore[arg-type]
    male = UNK if p.sex is None else MET if p.sex == "male" else NOT
    out["I6"] = any_of(male, negate(p.fact("facts.childbearing_potential", *m30)), preg)
    contraception = p.fact("facts.effective_contraception", *m30)
    out["I7"] = contraception
    out["I9"] = p.fact("facts.social_security_affiliation", p.ever_lo(), s)
    m7 = (s - dt.timedelta(7), s + dt.timedelta(7))
    out["E1"] = any_of(
        p.fact("facts.pregnant", *m7), p.fact("facts.breastfeeding", *m7), negate(contraception)
    )
    out["E2"] = crcl_below(p, s, 30)
    m12, m3 = months_before(s, 12), months_before(s, 3)

    def latest_cmp(
        kind: str, concept: str, lo: Day, family: str, test: Callable[[float], bool]
    ) -> str:
        e = p.latest(kind, concept, lo, s)
        value = None if e is None else number(e, family)
        return UNK if value is None else MET if test(value) else NOT

    out["E3"] = any_of(
        p.condition("conditions.congestive_heart_failure", s, active=True),
        latest_cmp("observation", "observations.lvef", m12, "%", lambda v: v < 40),
        all_of(p.condition("conditions.ventricular_arrhythmia", s, active=True), p.review("E3")),
    )

    def over_uln(concept: str) -> str:
        e = p.latest("lab", concept, m3, s)
        high = None if e is None else (e.get("reference_range") or {}).get("high")
        if high is None and e is not None:
            high = p.concepts.upper_limit(concept)
        value = None if e is None else number(e, "U/L")
        return UNK if value is None or high is None else MET if value > 2 * high else NOT

    out["E4"] = all_of(any_of(over_uln("labs.ast"), over_uln("labs.alt")), p.review("E4"))
    out["E5"] = any_of(
        latest_cmp("observation", "observations.mean_pap", m12, "mmHg", lambda v: v > 50),
        latest_cmp("lab", "labs.pao2", m3, "mmHg", lambda v: v < 70),
        latest_cmp("lab", "labs.paco2", m3, "mmHg", lambda v: v > 50),
    )
    out["E7"] = p.condition("excluded_neoplasia", s, active=True)
    out["E8"] = all_of(
        any_of(
            latest_cmp("lab", "labs.neutrophils", m3, "count", lambda v: v < 0.5),
            latest_cmp("lab", "labs.platelets", m3, "count", lambda v: v < 30),
            latest_cmp("lab", "labs.hemoglobin", m3, "g/dL", lambda v: v < 8),
            latest_cmp("lab", "labs.cd4", m3, "cd4", lambda v: v < 0.2),
        ),
        p.review("E8"),
    )
    infections = []
    for concept in ("labs.hiv_test", "labs.htlv", "labs.hbsag", "labs.hcv_rna"):
        infections.append(value_query([positive(e) for e in p.points("lab", concept, m3, s)]))
    out["E9"] = any_of(*infections)
    out["E11"] = any_of(
        p.condition("conditions.substance_abuse", s, active=True),
        p.condition("conditions.substance_abuse", s, lo=s - dt.timedelta(60)),
    )
    out["E12"] = p.fact("facts.excluded_from_research_roster", *m30)
    out["E14"] = p.fact("facts.in_other_study", *m30)
    out["E16"] = p.fact("facts.legal_protection", *m30)
    return out


def crcl_below(p: Patient, s: Day, limit: float) -> str:
    def nearest(kind: str, concept: str, family: str) -> float | None:
        best = None
        for e in p.points(kind, concept, s - dt.timedelta(30), s + dt.timedelta(30)):
            value = number(e, family)
            if value is None:
                continue
            key = (abs((day(e["date"]) - s).days), e["date"])  # type: ignore[operator]
            if best is None or key < best[0]:
                best = (key, value)
        return best[1] if best else None

    creatinine = nearest("lab", "derived.creatinine", "mg/dL")
    weight = nearest("observation", "derived.weight", "kg")
    if creatinine is None or weight is None or p.birth is None or p.sex not in ("male", "female"):
        return UNK
    crcl = (140 - age_years(p.birth, s)) * weight / (72 * creatinine)
    crcl *= 0.85 if p.sex == "female" else 1
    return MET if crcl < limit else NOT


# ---------------------------------------------------------------------------- main


def main(argv: list[str]) -> int:
    plan = json.loads(open(argv[0], encoding="utf-8").read())
    table = dict(plan["concepts"])
    # What the builtin derived values read (core/derived.py: CREATININE, WEIGHT): by name or code.
    for name, names, loinc in (
        ("derived.creatinine", ["creatinine"], ["2160-0", "38483-4", "14682-9"]),
        ("derived.weight", ["body_weight"], ["29463-7", "3141-9"]),
        ("derived.height", ["body_height"], ["8302-2"]),
    ):
        table[name] = {
            "names": names,
            "codes": {"loinc": loinc},
            "prefixes": {},
            "excluded_names": [],
            "excluded_codes": {},
            "excluded_prefixes": {},
            "excluded": [],
        }
    concepts = Concepts(table)
    # One record at a time (holding them all would make the garbage collector walk them all,
    # again and again), each step timed in CPU time (a clock read costs ~2 us).
    read = evaluate = 0.0
    rows, errors = [], 0
    clock = time.process_time
    with open(argv[1], "rb") as handle:
        for line in handle:
            if not line.strip():
                continue
            t0 = clock()
            try:
                doc = json.loads(line)
                patient = Patient(doc, concepts)
            except (ValueError, KeyError, TypeError, AttributeError):
                errors += 1
                read += clock() - t0
                continue
            t1 = clock()
            try:
                rows.append({"patient": doc.get("id"), **criteria(patient)})
            except (ValueError, KeyError, TypeError, AttributeError):
                errors += 1
            t2 = clock()
            read, evaluate = read + t1 - t0, evaluate + t2 - t1
    if "--dump" in argv:
        with open(argv[argv.index("--dump") + 1], "w", encoding="utf-8") as out:
            json.dump(rows, out)
    n = len(rows)
    print(
        json.dumps(
            {
                "patients": n,
                "errors": errors,
                "read_parse_s": round(read, 3),
                "eval_s": round(evaluate, 3),
                "read_per_s": round(n / read, 1) if read else None,
                "eval_per_s": round(n / evaluate, 1) if evaluate else None,
                "end_to_end_per_s": round(n / (read + evaluate), 1) if read + evaluate else None,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
