"""Synthetic lupus-clinic patients in our JSON format, for benchmarks (docs/performance.md).

    python bench/generate.py --patients 5000 --out bench/out/patients.jsonl [--seed 20180701]

Writes one patient a line (JSON Lines) and, beside it, `<out>.manifest.json`: the seed, the count,
the mean number of events and the records broken on purpose (line, id, what is wrong), so that a
benchmark can check that every record comes out as a result or an error and none is lost.

Each patient is the record of a rheumatology clinic around the screening of NCT03562065
(screening between July 2018 and December 2020, consent a few days before, baseline two weeks
after): a few years of visits with routine labs (creatinine in mg/dL or umol/L, eGFR, UPCR in g/g
or mg/mmol, blood counts in 10^9/L or /uL, AST/ALT with or without their reference range,
complement, anti-dsDNA), weights and heights, SLEDAI scores, conditions (SLE and others, some
resolved), overlapping medication exposures (prednisone tapers after flares, methylprednisolone
pulses, hydroxychloroquine, immunosuppressant courses, rituximab and belimumab infusions as
single-day exposures, ongoing maintenance), the screening tests and facts, coverage spans, and
for a share of patients the investigator's review answers. Codes are stdlib concept names or real
codes of stdlib/*.crit (LOINC, RxNorm, ATC, SNOMED CT, ICD-10), both forms, sometimes together.

Patient `i` depends only on the seed and `i` (not on `--patients`), except that a few evenly
spaced records are then broken on purpose: a date that does not exist, a value of the wrong
type, a line that is not JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
from collections import Counter
from pathlib import Path
from typing import Any

VERSION = 1
DEFAULT_SEED = 20180701
BROKEN_EVERY = 250  # one record in this many is broken on purpose (at least 2 per file)

Doc = dict[str, Any]
Day = dt.date

# ---------------------------------------------------------------------------- codes
# Each concept: the stdlib concept name and the real codes stdlib/*.crit lists for it. An event
# names the concept, carries one real code, or both.

CODES: dict[str, tuple[tuple[str, str], ...]] = {
    # labs.crit
    "creatinine": (("loinc", "2160-0"), ("loinc", "38483-4")),
    "creatinine_molar": (("loinc", "14682-9"),),
    "egfr": (("loinc", "98979-8"), ("loinc", "62238-1"), ("loinc", "33914-3")),
    "upcr": (("loinc", "2890-2"),),
    "albumin": (("loinc", "1751-7"),),
    "ana": (("loinc", "5048-4"), ("loinc", "21423-9")),
    "anti_dsdna": (("loinc", "32677-7"), ("loinc", "47299-3")),
    "c3": (("loinc", "4485-9"),),
    "c4": (("loinc", "4498-2"),),
    "ast": (("loinc", "1920-8"),),
    "alt": (("loinc", "1742-6"),),
    "hemoglobin": (("loinc", "718-7"),),
    "neutrophils": (("loinc", "751-8"), ("loinc", "26499-4")),
    "lymphocytes": (("loinc", "731-0"), ("loinc", "26474-7")),
    "platelets": (("loinc", "777-3"), ("loinc", "26515-7")),
    "leukocytes": (("loinc", "6690-2"), ("loinc", "26464-8")),
    "cd4": (("loinc", "24467-3"),),
    "pao2": (("loinc", "2703-7"),),
    "paco2": (("loinc", "2019-8"),),
    "hbsag": (("loinc", "5196-1"), ("loinc", "5195-3")),
    "hcv_rna": (("loinc", "11011-4"),),
    "hiv_test": (("loinc", "56888-1"), ("loinc", "31201-7")),
    "htlv": (("loinc", "29901-6"),),
    "pregnancy_test": (("loinc", "2106-3"), ("loinc", "2118-8")),
    # observations.crit
    "body_weight": (("loinc", "29463-7"),),
    "body_height": (("loinc", "8302-2"),),
    "systolic_bp": (("loinc", "8480-6"),),
    "diastolic_bp": (("loinc", "8462-4"),),
    "lvef": (("loinc", "10230-1"), ("loinc", "18043-0")),
    "mean_pap": (("local", "mean_pap"),),
    # scores.crit
    "selena_sledai": (("local", "selena_sledai"),),
    "sledai_2k": (("local", "sledai_2k"),),
    "physician_global_assessment": (("local", "physician_global_assessment"),),
    # drugs.crit
    "prednisone": (("rxnorm", "8640"), ("atc", "H02AB07")),
    "prednisolone": (("rxnorm", "8638"), ("atc", "H02AB06")),
    "methylprednisolone": (("rxnorm", "6902"), ("atc", "H02AB04")),
    "hydroxychloroquine": (("rxnorm", "5521"), ("atc", "P01BA02")),
    "mycophenolate_mofetil": (("rxnorm", "68149"),),
    "mycophenolic_acid": (("rxnorm", "7145"),),
    "azathioprine": (("rxnorm", "1256"), ("atc", "L04AX01")),
    "methotrexate": (("rxnorm", "6851"), ("atc", "L04AX03")),
    "leflunomide": (("atc", "L04AK01"), ("atc", "L04AA13")),
    "cyclophosphamide": (("rxnorm", "3002"), ("atc", "L01AA01")),
    "cyclosporine": (("rxnorm", "3008"), ("atc", "L04AD01")),
    "tacrolimus": (("rxnorm", "42316"), ("atc", "L04AD02")),
    "rituximab": (("rxnorm", "121191"), ("atc", "L01FA01"), ("atc", "L01XC02")),
    "belimumab": (("atc", "L04AG04"), ("atc", "L04AA26")),
    "ramipril": (("atc", "C09AA05"),),
    "losartan": (("atc", "C09CA01"),),
    # conditions.crit
    "sle": (("snomed", "55464009"), ("icd10", "M32.9"), ("icd10", "M32.10"), ("icd10", "M32.14")),
    "lupus_nephritis": (("snomed", "68815009"), ("icd10", "M32.14")),
    "heart_failure": (("icd10", "I50.9"), ("icd10", "I50.22")),
    "ventricular_arrhythmia": (("snomed", "44103008"), ("icd10", "I47.20")),
    "atrial_fibrillation": (("snomed", "49436004"), ("icd10", "I48.91")),
    "antiphospholipid_syndrome": (("icd10", "D68.61"),),
    "deep_vein_thrombosis": (("icd10", "I82.40"),),
    "malignant_neoplasm": (("icd10", "C50.911"), ("icd10", "C18.9"), ("icd10", "C34.90")),
    "basal_cell_carcinoma": (("snomed", "254701007"), ("icd10", "C44.311")),
    "cervical_carcinoma_in_situ": (("snomed", "92564006"), ("icd10", "D06.9")),
    "herpes_zoster": (("icd10", "B02.9"),),
    "substance_abuse": (("snomed", "66214007"), ("icd10", "F10.20")),
    "psychosis": (("icd10", "F20.9"),),
    # facts.crit
    "pregnant": (("local", "pregnant"), ("snomed", "77386006")),
    "breastfeeding": (("local", "breastfeeding"),),
    "childbearing_potential": (("local", "childbearing_potential"),),
    "effective_contraception": (("local", "effective_contraception"),),
    "consent_signed": (("local", "consent_signed"),),
    "social_security_affiliation": (("local", "social_security_affiliation"),),
    "in_other_study": (("local", "in_other_study"),),
    "legal_protection": (("local", "legal_protection"),),
    "excluded_from_research_roster": (("local", "excluded_from_research_roster"),),
}
# Codes no stdlib concept holds: the noise every real record carries.
OTHER_CONDITIONS = (
    ("icd10", "I10", "Essential hypertension"),
    ("icd10", "E78.5", "Hyperlipidaemia"),
    ("icd10", "M81.0", "Osteoporosis"),
    ("icd10", "F32.1", "Depressive episode"),
    ("icd10", "F17.210", "Nicotine dependence, cigarettes"),
    ("icd10", "E03.9", "Hypothyroidism"),
    ("icd10", "K21.9", "Gastro-oesophageal reflux"),
    ("icd10", "M06.9", "Rheumatoid arthritis"),
    ("icd10", "L93.0", "Discoid lupus erythematosus"),
)
DISPLAY = {
    "2160-0": "Creatinine [Mass/volume] in Serum or Plasma",
    "14682-9": "Creatinine [Moles/volume] in Serum or Plasma",
    "8640": "prednisone",
    "5521": "hydroxychloroquine",
    "55464009": "Systemic lupus erythematosus",
}


def code(rng: random.Random, concept: str) -> Any:
    """The `code` of an event: the concept name, one real code, or both in an array."""
    roll = rng.random()
    name = "creatinine" if concept == "creatinine_molar" else concept
    system, value = rng.choice(CODES[concept])
    obj: dict[str, str] = {"system": system, "code": value}
    if value in DISPLAY and rng.random() < 0.5:
        obj["display"] = DISPLAY[value]
    if concept == "creatinine_molar" or roll < 0.55:
        return obj
    if roll < 0.85:
        return name
    return [obj, name]


# ---------------------------------------------------------------------------- the patient


class Record:
    """One patient being written: the events in the order they are made."""

    def __init__(self, rng: random.Random, ids: bool) -> None:
        self.rng = rng
        self.ids = ids
        self.events: list[Doc] = []

    def add(self, kind: str, concept: str | Any, **fields: Any) -> Doc:
        event: Doc = {"type": kind}
        if self.ids:
            event["id"] = f"{kind[:3]}{len(self.events)}"
        event["code"] = code(self.rng, concept) if isinstance(concept, str) else concept
        event.update(fields)
        if self.rng.random() < 0.03:
            event["x-source"] = self.rng.choice(["EHR", "lab feed", "CRF"])
        self.events.append(event)
        return event

    def lab(self, concept: str, day: Day, value: Any, unit: str | None = None, **extra: Any) -> Doc:
        fields: Doc = {"date": iso(day), "value": value}
        if unit is not None:
            fields["unit"] = unit
        fields.update(extra)
        return self.add("lab", concept, **fields)

    def observation(self, concept: str, day: Day, value: Any, unit: str) -> Doc:
        return self.add("observation", concept, date=iso(day), value=value, unit=unit)

    def score(self, concept: str, day: Day, value: int) -> Doc:
        return self.add("score", concept, date=iso(day), value=value)

    def fact(self, concept: str, day: Day, value: Any) -> Doc:
        return self.add("fact", concept, date=iso(day), value=value)

    def condition(
        self, concept: str | Any, onset: Day, abatement: Day | None = None, **extra: Any
    ) -> Doc:
        fields: Doc = {"onset": iso(onset)}
        if abatement is not None:
            fields["abatement"] = iso(abatement)
        fields.update(extra)
        return self.add("condition", concept, **fields)

    def medication(
        self,
        concept: str,
        start: Day,
        end: Day | None,
        dose: float | None = None,
        *,
        per: tuple[float, float, str] | None = (1, 1, "d"),
        daily: float | None = None,
        route: str | None = "oral",
        **extra: Any,
    ) -> Doc:
        fields: Doc = {"start": iso(start)}
        if end is None:
            fields["ongoing"] = True
        elif end != start or self.rng.random() < 0.5:  # a one-day exposure may omit its end
            fields["end"] = iso(end)
        if daily is not None:
            fields["daily_dose"] = {"value": daily, "unit": "mg"}
        elif dose is not None:
            fields["dose"] = {"value": dose, "unit": "mg"}
            if per is not None:
                count, period, unit = per
                fields["frequency"] = {"count": count, "period": period, "unit": unit}
        if route is not None:
            fields["route"] = route
        fields.update(extra)
        return self.add("medication", concept, **fields)


def iso(day: Day) -> str:
    return day.isoformat()


def days(n: float) -> dt.timedelta:
    return dt.timedelta(days=int(n))


def between(rng: random.Random, first: Day, last: Day) -> Day:
    return first + days(rng.randint(0, max(0, (last - first).days)))


def make_patient(seed: int, index: int) -> Doc:
    """Patient `index`: the same for a seed whatever the number of patients generated."""
    rng = random.Random(f"{seed}:{index}")
    screening = dt.date(2018, 7, 1) + days(rng.randint(0, 913))
    consent = screening - days(rng.choice([0, 0, 1, 2, 3, 5, 7]))
    baseline = screening + days(rng.choice([10, 14, 14, 14, 21]))
    profile = rng.choices(
        ["refractory", "mild", "nephritis", "other_disease", "sparse"], [46, 20, 14, 12, 8]
    )[0]
    sle = profile in ("refractory", "mild", "nephritis")
    female = rng.random() < (0.9 if sle else 0.6)
    age = min(82, max(16, int(rng.gauss(41, 13))))
    birth = consent - days(age * 365.25 + rng.randint(0, 364))
    years = rng.uniform(1.0, 3.0) if profile == "sparse" else rng.uniform(3.0, 9.0)
    first = screening - days(years * 365.25)
    rec = Record(rng, ids=rng.random() < 0.7)
    weight = round(rng.gauss(68 if female else 80, 12), 1)
    height = round(rng.gauss(164 if female else 177, 7))
    state = {
        "weight": max(40.0, weight),
        "kidney": rng.random() < (0.6 if profile == "nephritis" else 0.06),
        "severe_kidney": rng.random() < (0.12 if profile == "nephritis" else 0.01),
        "liver": rng.random() < 0.05,
        "cytopenia": rng.random() < 0.06,
    }

    # ---- conditions
    onset = first - days(rng.randint(-200, 2500))
    if sle:
        rec.condition("sle", onset, status="active")
        if profile == "nephritis":
            rec.condition("lupus_nephritis", onset + days(rng.randint(0, 900)), status="active")
    elif rng.random() < 0.5:
        rec.condition(
            {"system": "icd10", "code": "L93.0", "display": "Discoid lupus erythematosus"}, onset
        )
    for system, value, display in rng.sample(OTHER_CONDITIONS, rng.randint(0, 4)):
        item = {"system": system, "code": value, "display": display}
        rec.condition(item, between(rng, first, screening), status=rng.choice(["active", None]))
    for concept, chance, resolves in [
        ("antiphospholipid_syndrome", 0.06, False),
        ("deep_vein_thrombosis", 0.06, True),
        ("herpes_zoster", 0.10, True),
        ("basal_cell_carcinoma", 0.03, True),
        ("cervical_carcinoma_in_situ", 0.03, True),
        ("malignant_neoplasm", 0.025, False),
        ("heart_failure", 0.02, False),
        ("ventricular_arrhythmia", 0.02, False),
        ("atrial_fibrillation", 0.02, False),
        ("substance_abuse", 0.03, False),
        ("psychosis", 0.015, False),
    ]:
        if rng.random() < chance:
            start = between(rng, first, screening - days(20))
            if resolves or rng.random() < 0.3:
                rec.condition(concept, start, start + days(rng.randint(7, 120)), status="resolved")
            else:
                rec.condition(concept, start, status=rng.choice(["active", "active", None]))

    # ---- medications
    if sle or rng.random() < 0.4:
        medications(rec, rng, profile, first, screening, baseline, state)

    # ---- visits: routine labs and measures until the record reaches its size
    target = max(60, int(rng.gauss(300, 60))) if profile != "sparse" else rng.randint(40, 160)
    screening_events = 45
    made = len(rec.events)
    visit_days: list[Day] = []
    per_visit = 12.5 if sle else 10.0
    count = max(3, int((target - made - screening_events) / per_visit))
    step = max(14, (screening - days(30) - first).days // count)
    day = first
    while day < screening - days(30) and len(visit_days) < count:
        visit_days.append(day)
        day += days(step + rng.randint(-step // 4, step // 4))
    for index_visit, day in enumerate(visit_days):
        visit(rec, rng, day, sle, state, full=index_visit % 6 == 0, height=height)

    # ---- screening
    screen(rec, rng, profile, sle, female, age, consent, screening, baseline, state, height)

    # ---- the document
    doc: Doc = {"format": "criteria-lang/patient@1"} if rng.random() < 0.5 else {}
    doc["id"] = f"P{index:06d}"
    doc["x-profile"] = profile  # for looking at the verdict mix; readers ignore x- keys
    doc["birth_date"] = iso(birth)
    doc["sex"] = "female" if female else "male"
    if rng.random() < 0.01:
        doc["sex"] = rng.choice(["unknown", None])
    dates: Doc = {"screening": iso(screening), "consent": iso(consent), "baseline": iso(baseline)}
    if rng.random() < 0.03:
        dates["baseline"] = None  # not scheduled yet
    if rng.random() < 0.02:
        del dates["consent"]
    doc["dates"] = dates
    doc["coverage"] = coverage(rng, first, screening, baseline)
    rng.shuffle(rec.events)  # sources rarely list events in date order
    doc["events"] = rec.events
    reviews = review_answers(rng, profile, screening)
    if reviews:
        doc["reviews"] = reviews
    return doc


def coverage(rng: random.Random, first: Day, screening: Day, baseline: Day) -> list[Doc]:
    roll = rng.random()
    if roll < 0.03:
        return []
    if roll < 0.15:
        return [{"start": iso(first), "end": None}]
    if roll < 0.22:  # the extract was taken at screening
        return [{"start": iso(first), "end": iso(screening)}]
    if roll < 0.27:  # a change of insurer: a gap of a few months
        gap = between(rng, first + days(200), screening - days(300))
        return [
            {"start": iso(first), "end": iso(gap)},
            {"start": iso(gap + days(rng.randint(30, 150))), "end": iso(baseline)},
        ]
    return [{"start": iso(first), "end": iso(baseline)}]


def medications(
    rec: Record,
    rng: random.Random,
    profile: str,
    first: Day,
    screening: Day,
    baseline: Day,
    state: dict[str, Any],
) -> None:
    """Treatment history: steroid tapers after flares, immunosuppressant courses, biologics."""
    # Hydroxychloroquine: most patients with SLE, ongoing; some stopped.
    if profile != "other_disease" and rng.random() < 0.85:
        start = first - days(rng.randint(0, 900))
        end = None if rng.random() < 0.85 else between(rng, start + days(90), screening - days(60))
        rec.medication(
            "hydroxychloroquine",
            start,
            end,
            rng.choice([200, 200, 400]),
            per=(rng.choice([1, 2]), 1, "d"),
        )
    # Flares: a prednisone taper each, sometimes after methylprednisolone pulses.
    flares = rng.randint(1, 4) if profile in ("refractory", "nephritis") else rng.randint(0, 2)
    taper_days: list[Day] = sorted(
        between(rng, first, screening - days(250)) for _ in range(flares)
    )
    if rng.random() < 0.12:  # a flare treated right before screening: the dose is still changing
        taper_days.append(screening - days(rng.randint(10, 50)))
    for start in taper_days:
        if rng.random() < 0.3:
            for k in range(3):
                pulse = start - days(3 - k)
                rec.medication(
                    "methylprednisolone",
                    pulse,
                    pulse,
                    rng.choice([500, 1000]),
                    per=None,
                    route="intravenous",
                )
        drug = "prednisone" if rng.random() < 0.8 else "prednisolone"
        day = start
        for dose in rng.choice(
            [(60, 40, 30, 20, 15, 10, 7.5), (40, 30, 20, 15, 10), (30, 20, 10, 7.5, 5)]
        ):
            length = rng.randint(10, 28)
            end = day + days(length - 1)
            if rng.random() < 0.5:
                rec.medication(drug, day, end, dose)
            else:
                rec.medication(drug, day, end, daily=dose)
            day = end + days(1)
    # Maintenance steroid, ongoing at a stable dose (or just changed).
    if rng.random() < (0.8 if profile != "other_disease" else 0.4):
        start = screening - days(rng.randint(20, 700))
        dose = rng.choice([5, 5, 7.5, 10, 10, 15])
        rec.medication("prednisone", start, None, dose, status="active")
    # Immunosuppressant courses.
    courses = {
        "refractory": rng.randint(1, 3),
        "nephritis": rng.randint(1, 3),
        "mild": rng.choice([0, 0, 1]),
        "other_disease": rng.choice([0, 1]),
        "sparse": rng.choice([0, 1]),
    }[profile]
    day = first - days(rng.randint(0, 1200))
    options = ["mmf", "aza", "mtx", "cyc", "ritux", "belim", "mpa", "lef", "csa", "tac"]
    weights = [30, 22, 10, 10, 8, 8, 4, 3, 3, 2]
    for _ in range(courses):
        kind = rng.choices(options, weights)[0]
        weak = profile == "mild" or rng.random() < 0.12  # too short or too low a dose to count
        length = rng.randint(30, 85) if weak else rng.randint(92, 720)
        end = day + days(length)
        ongoing = end >= screening - days(30) or rng.random() < 0.15
        last = None if ongoing else min(end, screening - days(35))
        if kind == "mmf":
            dose = rng.choice([500, 750, 1000] if weak else [1000, 1250, 1500, 1500])
            rec.medication("mycophenolate_mofetil", day, last, dose, per=(2, 1, "d"))
        elif kind == "mpa":
            rec.medication("mycophenolic_acid", day, last, rng.choice([360, 720]), per=(2, 1, "d"))
        elif kind == "aza":
            per_kg = rng.uniform(1.0, 1.9) if weak else rng.uniform(2.05, 2.8)
            dose = round(per_kg * state["weight"] / 25) * 25
            rec.medication("azathioprine", day, last, dose)
        elif kind == "mtx":
            dose = rng.choice([10, 15] if weak else [22.5, 25])
            rec.medication(
                "methotrexate",
                day,
                last,
                dose,
                per=(1, 1, "wk"),
                route=rng.choice(["oral", "subcutaneous"]),
            )
        elif kind == "lef":
            rec.medication("leflunomide", day, last, rng.choice([10, 20]))
        elif kind == "csa":
            rec.medication(
                "cyclosporine", day, last, round(3 * state["weight"] / 25) * 25 / 2, per=(2, 1, "d")
            )
        elif kind == "tac":
            rec.medication("tacrolimus", day, last, 2, per=(2, 1, "d"))
        elif kind == "cyc":  # monthly pulses, each one day
            for k in range(rng.randint(3, 6) if not weak else 2):
                pulse = day + days(30 * k)
                rec.medication(
                    "cyclophosphamide",
                    pulse,
                    pulse,
                    rng.choice([500, 750, 1000]),
                    per=None,
                    route="intravenous",
                )
            end = day + days(180)
        elif kind == "ritux":
            infusions = 2 if rng.random() < 0.7 else 4
            for k in range(infusions):
                pulse = day + days((14 if infusions == 2 else 7) * k)
                dose = 1000 if infusions == 2 else round(375 * 1.75 / 10) * 10
                rec.medication("rituximab", pulse, pulse, dose, per=None, route="intravenous")
            end = day + days(30)
        else:  # belimumab 10 mg/kg every four weeks (two-week loading doses first)
            dose = round(10 * state["weight"] / 10) * 10
            pulse = day
            for k in range(rng.randint(3, 10)):
                rec.medication("belimumab", pulse, pulse, dose, per=None, route="intravenous")
                pulse += days(14 if k < 2 else 28)
            end = pulse
        day = end + days(rng.randint(20, 400))
        if day > screening - days(40):
            break
    # Recent biologics: the washout criterion (E10).
    roll = rng.random()
    if roll < 0.05:
        pulse = baseline - days(rng.randint(5, 55))
        rec.medication(
            "belimumab",
            pulse,
            pulse,
            round(state["weight"] / 10) * 100,
            per=None,
            route="intravenous",
        )
    elif roll < 0.09:
        pulse = baseline - days(rng.randint(20, 170))
        rec.medication("rituximab", pulse, pulse, 1000, per=None, route="intravenous")
    # Blood-pressure treatment for kidney disease.
    if state["kidney"] and rng.random() < 0.7:
        drug = rng.choice(["ramipril", "losartan"])
        rec.medication(drug, first + days(rng.randint(0, 300)), None, rng.choice([5, 10, 50]))


def visit(
    rec: Record,
    rng: random.Random,
    day: Day,
    sle: bool,
    state: dict[str, Any],
    *,
    full: bool,
    height: int,
) -> None:
    """One clinic visit: vitals and a routine panel."""
    weight = state["weight"] = round(state["weight"] + rng.gauss(0, 1.2), 1)
    if rng.random() < 0.05:
        rec.observation("body_weight", day, round(weight * 2.20462, 1), "lb")
    else:
        rec.observation("body_weight", day, weight, "kg")
    if full:
        rec.observation("body_height", day, height, "cm")
    rec.observation("systolic_bp", day, rng.randint(100, 160), "mmHg")
    rec.observation("diastolic_bp", day, rng.randint(60, 100), "mmHg")
    blood_counts(rec, rng, day, state, screening=False)
    kidney(rec, rng, day, state)
    if rng.random() < 0.6:
        transaminases(rec, rng, day, state, near_screening=False)
    if sle:
        rec.lab("c3", day, rng.randint(50, 160), "mg/dL")
        if rng.random() < 0.7:
            rec.lab("c4", day, rng.randint(5, 40), "mg/dL")
        if rng.random() < 0.5:
            rec.lab("anti_dsdna", day, rng.randint(0, 400), "IU/mL")
        if rng.random() < 0.6:
            rec.score(
                rng.choice(["selena_sledai", "sledai_2k"]),
                day,
                rng.choice([0, 2, 4, 4, 6, 8, 10, 12]),
            )
        if rng.random() < 0.3:
            rec.score("physician_global_assessment", day, rng.randint(0, 3))
    if rng.random() < 0.4:
        rec.lab("albumin", day, round(rng.uniform(3.0, 4.8), 1), "g/dL")


def blood_counts(
    rec: Record, rng: random.Random, day: Day, state: dict[str, Any], *, screening: bool
) -> None:
    low = state["cytopenia"] and (screening or rng.random() < 0.3)
    neutrophils = round(rng.uniform(0.2, 0.9) if low else rng.uniform(1.6, 7.0), 2)
    platelets = rng.randint(15, 60) if low else rng.randint(150, 400)
    hemoglobin = round(rng.uniform(6.5, 9.0) if low else rng.uniform(10.5, 15.5), 1)
    if rng.random() < 0.7:  # SI units
        rec.lab("neutrophils", day, neutrophils, rng.choice(["10^9/L", "10*9/L"]))
        rec.lab("platelets", day, platelets, "10^9/L")
        rec.lab("lymphocytes", day, round(rng.uniform(0.5, 3.0), 2), "10^9/L")
        rec.lab("leukocytes", day, round(rng.uniform(2.5, 10.0), 1), "10^9/L")
        rec.lab("hemoglobin", day, hemoglobin, "g/dL")
    else:  # conventional units: cells per microlitre, g/L
        rec.lab("neutrophils", day, int(neutrophils * 1000), "/uL")
        rec.lab("platelets", day, platelets, "10*3/uL")
        rec.lab("lymphocytes", day, rng.randint(500, 3000), "cells/uL")
        rec.lab("leukocytes", day, round(rng.uniform(2.5, 10.0), 1), "10*3/uL")
        rec.lab("hemoglobin", day, int(hemoglobin * 10), "g/L")


def kidney(rec: Record, rng: random.Random, day: Day, state: dict[str, Any]) -> None:
    if state["severe_kidney"]:
        mg_dl = round(rng.uniform(2.5, 5.5), 2)
    elif state["kidney"]:
        mg_dl = round(rng.uniform(0.9, 2.2), 2)
    else:
        mg_dl = round(rng.uniform(0.5, 1.1), 2)
    if rng.random() < 0.35:
        rec.lab("creatinine_molar", day, round(mg_dl * 88.42), "umol/L")
    else:
        rec.lab("creatinine", day, mg_dl, "mg/dL")
    if rng.random() < 0.6:
        egfr = max(5, min(120, int(90 / mg_dl)))
        rec.lab("egfr", day, egfr, "mL/min/1.73m2")
    if state["kidney"] or rng.random() < 0.15:
        ratio = round(rng.uniform(0.5, 4.0) if state["kidney"] else rng.uniform(0.05, 0.3), 2)
        if rng.random() < 0.4:
            rec.lab("upcr", day, round(ratio * 113.12, 1), "mg/mmol")
        else:
            rec.lab("upcr", day, ratio, "g/g")


def transaminases(
    rec: Record, rng: random.Random, day: Day, state: dict[str, Any], *, near_screening: bool
) -> None:
    high = state["liver"] and (near_screening or rng.random() < 0.3)
    for concept in ("ast", "alt"):
        value = rng.randint(90, 300) if high else rng.randint(10, 45)
        if rng.random() < 0.7:
            upper = rng.choice([33, 35, 40, 41, 48, 55])
            rec.lab(
                concept,
                day,
                value,
                "U/L",
                reference_range={"low": rng.choice([5, 7, 10]), "high": upper},
            )
        else:
            rec.lab(concept, day, value, "U/L")


def screen(
    rec: Record,
    rng: random.Random,
    profile: str,
    sle: bool,
    female: bool,
    age: int,
    consent: Day,
    screening: Day,
    baseline: Day,
    state: dict[str, Any],
    height: int,
) -> None:
    """The screening work-up and the facts the site records (some missing, as in real files)."""
    day = screening - days(rng.randint(0, 10))
    on = screening - days(rng.choice([0, 0, 0, 1, 2]))  # the day the site fills in the CRF
    # Candidates referred for the trial get the whole work-up; others miss a few items.
    complete = rng.random() < (0.8 if profile in ("refractory", "nephritis") else 0.4)
    missing = 0.0 if complete else 0.3 if profile == "sparse" else 0.1
    present = lambda: rng.random() >= missing  # noqa: E731 - a coin per item
    if present():
        rec.observation("body_weight", day, state["weight"], "kg")
    if present():
        rec.observation("body_height", day, height, "cm")
    blood_counts(rec, rng, day, state, screening=True)
    if present() and rng.random() < 0.9:
        rec.lab(
            "cd4",
            day,
            rng.randint(150, 1200) if state["cytopenia"] else rng.randint(400, 1400),
            rng.choice(["10^6/L", "/uL"]),
        )
    if present():
        kidney(rec, rng, day, state)
    if present():
        transaminases(rec, rng, day, state, near_screening=True)
    # ANA: positive titers in SLE (a few recorded as text), low or negative otherwise.
    ana_day = between(rng, screening - days(2000), day)
    if sle:
        if rng.random() < 0.85:
            rec.lab("ana", ana_day, rng.choice(["1:160", "1:320", "1:640", "1:1280", "positive"]))
        elif rng.random() < 0.5:
            rec.lab("ana", ana_day, "1:40")
    elif rng.random() < 0.6:
        rec.lab("ana", ana_day, rng.choice(["1:40", "negative", "1:80", "1:160"]))
    # Infection serology: negative but for a few; not done for some.
    serology = present()
    for concept, positive, negative in [
        ("hiv_test", 0.004, "negative"),
        ("htlv", 0.003, "non-reactive"),
        ("hbsag", 0.01, "negative"),
        ("hcv_rna", 0.005, "not detected"),
    ]:
        if serology:
            rec.lab(
                concept,
                day,
                rng.choice(["positive", "detected"]) if rng.random() < positive else negative,
            )
    # Echocardiography in the last year and blood gases, as the protocol asks.
    if present() and rng.random() < (0.95 if sle else 0.5):
        echo = screening - days(rng.randint(10, 330))
        rec.observation(
            "lvef", echo, rng.randint(30, 39) if rng.random() < 0.03 else rng.randint(50, 70), "%"
        )
        if rng.random() < 0.9:
            rec.observation(
                "mean_pap",
                echo,
                rng.randint(52, 60) if rng.random() < 0.02 else rng.randint(12, 30),
                "mmHg",
            )
    if present() and rng.random() < (0.9 if sle else 0.3):
        rec.lab(
            "pao2",
            day,
            rng.randint(60, 69) if rng.random() < 0.02 else rng.randint(75, 100),
            "mmHg",
        )
        rec.lab("paco2", day, rng.randint(35, 45), "mmHg")
    # SLEDAI at baseline: the activity criterion.
    if sle and present():
        sledai = rng.choice([2, 4, 4, 6, 6, 8, 8, 10, 12, 14, 16])
        rec.score("selena_sledai", baseline - days(rng.randint(0, 10)), sledai)
    # Facts.
    childbearing = female and age < 50 and rng.random() < 0.9
    if female and present():
        rec.fact("childbearing_potential", on, childbearing)
    positive = childbearing and rng.random() < 0.02
    if childbearing and present():
        rec.lab(
            "pregnancy_test",
            baseline - days(rng.randint(1, 12)),
            "positive" if positive else "negative",
        )
    if present() and (female or rng.random() < 0.7):  # some CRFs skip these for men
        rec.fact("pregnant", on, positive)
        rec.fact("breastfeeding", on, childbearing and rng.random() < 0.02)
    if present():
        rec.fact("effective_contraception", on, rng.random() < 0.95)
    if present():
        rec.fact("consent_signed", consent, True)
    if present():
        rec.fact(
            "social_security_affiliation", consent - days(rng.randint(0, 30)), rng.random() < 0.98
        )
    for concept, yes in [
        ("in_other_study", 0.03),
        ("legal_protection", 0.01),
        ("excluded_from_research_roster", 0.005),
    ]:
        if present():
            rec.fact(concept, on, rng.random() < yes)


def review_answers(rng: random.Random, profile: str, screening: Day) -> Doc:
    """The investigator answered the review questions for about half the candidates."""
    if profile in ("other_disease", "sparse") or rng.random() < (0.5 if profile == "mild" else 0.3):
        return {}
    by = rng.choice(["Dr Martin", "Dr Chen", "site investigator"])
    when = iso(screening + days(rng.randint(0, 7)))
    answers: Doc = {}
    for criterion, yes in [
        ("I4", 0.85),
        ("E6", 0.02),
        ("E13", 0.03),
        ("E15", 0.05),
        ("E3", 0.5),
        ("E4", 0.3),
        ("E8", 0.3),
    ]:
        if criterion in ("E3", "E4", "E8") and rng.random() < 0.7:
            continue
        if rng.random() < 0.04:
            continue  # not answered yet
        item: Doc = {"answer": "met" if rng.random() < yes else "not_met", "by": by}
        if rng.random() < 0.6:
            item["date"] = when
        if rng.random() < 0.2:
            item["note"] = "discussed at the multidisciplinary meeting"
        answers[criterion] = item
    return answers


# ---------------------------------------------------------------------------- broken records

BROKEN_KINDS = ("bad date", "wrong type", "not JSON")


def broken_indexes(total: int) -> list[int]:
    """Evenly spaced records to break: one in BROKEN_EVERY, at least 2 when there are 4 or more."""
    if total < 4:
        return []
    count = max(2, total // BROKEN_EVERY)
    return [(k * total) // count + total // (2 * count) for k in range(count)]


def break_record(doc: Doc, kind: str, rng: random.Random) -> str:
    """Spoil one record in one way; returns the line to write."""
    events = doc["events"]
    if kind == "bad date":
        dated = [e for e in events if "date" in e]
        rng.choice(dated)["date"] = "2019-02-30"
    elif kind == "wrong type":
        doses = [e for e in events if "dose" in e]
        if doses:
            doses[0]["dose"]["value"] = str(doses[0]["dose"]["value"]) + " mg"
        else:
            doc["sex"] = "F"
    else:
        return json.dumps(doc, separators=(",", ":"))[:-40]  # a truncated line
    return json.dumps(doc, separators=(",", ":"))


# ---------------------------------------------------------------------------- main


def resize(doc: Doc, target: int, rng: random.Random) -> None:
    """Give the patient about `target` events, for measuring how cost grows with record length:
    fewer by dropping events at random; more by repeating its own events, each copy moved back
    by a whole number of 5-year steps (so the copies are history, read and matched like the
    rest) and given an id of its own."""
    events = doc["events"]
    if len(events) >= target:
        keep = sorted(rng.sample(range(len(events)), target))
        doc["events"] = [events[i] for i in keep]
        return
    base = list(events)
    copies = 0
    while len(events) < target:
        event = json.loads(json.dumps(rng.choice(base)))
        copies += 1
        shift = days(365.25 * 5 * (1 + copies // len(base)))
        for key in ("date", "start", "end", "onset", "abatement"):
            if isinstance(event.get(key), str):
                event[key] = iso(Day.fromisoformat(event[key]) - shift)
        event["id"] = f"copy{copies}"
        events.append(event)


def generate(path: Path, total: int, seed: int = DEFAULT_SEED, events: int | None = None) -> Doc:
    """Write `total` patients to `path` (JSON Lines) and the manifest beside it; returns it.
    `events`: about that many events a patient (`resize`) instead of the clinic's own mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    broken = {
        index: BROKEN_KINDS[k % len(BROKEN_KINDS)] for k, index in enumerate(broken_indexes(total))
    }
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for index in range(total):
            doc = make_patient(seed, index)
            if events is not None:
                resize(doc, events, random.Random(f"{seed}:resize:{index}"))
            count += len(doc["events"])
            if index in broken:
                line = break_record(doc, broken[index], random.Random(f"{seed}:broken:{index}"))
            else:
                line = json.dumps(doc, separators=(",", ":"))
            out.write(line + "\n")
    manifest = {
        "generator": VERSION,
        "seed": seed,
        "patients": total,
        "events_mean": round(count / total, 1) if total else 0,
        "events_target": events,
        "bytes": path.stat().st_size,
        "broken": [
            {"line": index + 1, "id": f"P{index:06d}", "kind": kind}
            for index, kind in sorted(broken.items())
        ],
    }
    manifest_path(path).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def manifest_path(path: Path) -> Path:
    return path.with_name(path.name + ".manifest.json")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=Path("bench/out/patients.jsonl"))
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--events", type=int, help="about this many events a patient")
    args = parser.parse_args(argv)
    manifest = generate(args.out, args.patients, args.seed, args.events)
    kinds = Counter(b["kind"] for b in manifest["broken"])
    print(
        f"{args.out}: {manifest['patients']} patients, {manifest['events_mean']} events each on "
        f"average, {manifest['bytes'] / 1e6:.1f} MB; broken on purpose: {len(manifest['broken'])} "
        f"({', '.join(f'{n} {k}' for k, n in sorted(kinds.items())) or 'none'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
