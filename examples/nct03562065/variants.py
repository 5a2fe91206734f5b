"""NCT03562065 (MSC-SLE) example patients: one eligible woman and variants of her.

The eligible patient: 34 at consent, SLE since 2016 with ANA 1:320, SELENA-SLEDAI 8 the day
before baseline, a year of azathioprine at 2.5 mg/kg/day (150 mg/day, 60 kg) and 8 months of
prednisone 20 mg/day in the past, now stable on prednisone 10 mg/day and hydroxychloroquine, all
screening tests normal, and the investigator's answers to the review questions.
"""

from generate import Variant, add, answer, chain, drop, set_fields, set_patient

SCREENING, BASELINE = "2024-03-01", "2024-03-15"


def lab(
    ident: str, code: str, date: str, value: object, unit: str | None = None, **extra: object
) -> dict:
    event = {"id": ident, "type": "lab", "code": code, "date": date, "value": value}
    if unit is not None:
        event["unit"] = unit
    event.update(extra)
    return event


def fact(code: str, value: object, date: str = SCREENING) -> dict:
    return {"id": f"fact-{code}", "type": "fact", "code": code, "date": date, "value": value}


def daily(value: float, route: str = "oral") -> dict:
    return {
        "dose": {"value": value, "unit": "mg"},
        "frequency": {"count": 1, "period": 1, "unit": "d"},
        "route": route,
    }


BASE = {
    "birth_date": "1989-05-20",
    "sex": "female",
    "dates": {"consent": "2024-02-20", "screening": SCREENING, "baseline": BASELINE},
    "coverage": [{"start": "2015-01-01", "end": BASELINE}],
    "events": [
        {"id": "sle", "type": "condition", "code": "sle", "onset": "2016-04-01"},
        lab("ana", "ana", "2016-04-10", "1:320"),
        {
            "id": "sledai",
            "type": "score",
            "code": "selena_sledai",
            "date": "2024-03-14",
            "value": 8,
        },
        {
            "id": "pred-2016",
            "type": "medication",
            "code": "prednisone",
            "start": "2016-05-01",
            "end": "2016-12-31",
            **daily(20),
        },
        {
            "id": "aza",
            "type": "medication",
            "code": "azathioprine",
            "start": "2017-01-01",
            "end": "2017-12-31",
            **daily(150),
        },
        {
            "id": "pred-now",
            "type": "medication",
            "code": "prednisone",
            "start": "2023-06-01",
            "ongoing": True,
            **daily(10),
        },
        {
            "id": "hcq",
            "type": "medication",
            "code": "hydroxychloroquine",
            "start": "2016-05-01",
            "ongoing": True,
            **daily(400),
        },
        {
            "id": "weight-2017",
            "type": "observation",
            "code": "body_weight",
            "date": "2017-01-05",
            "value": 60,
            "unit": "kg",
        },
        {
            "id": "weight",
            "type": "observation",
            "code": "body_weight",
            "date": "2024-02-28",
            "value": 60,
            "unit": "kg",
        },
        {
            "id": "height",
            "type": "observation",
            "code": "body_height",
            "date": "2024-02-28",
            "value": 165,
            "unit": "cm",
        },
        {
            "id": "lvef",
            "type": "observation",
            "code": "lvef",
            "date": "2023-11-10",
            "value": 60,
            "unit": "%",
        },
        {
            "id": "pap",
            "type": "observation",
            "code": "mean_pap",
            "date": "2023-11-10",
            "value": 20,
            "unit": "mmHg",
        },
        lab("creatinine", "creatinine", "2024-02-28", 0.8, "mg/dL"),
        lab("ast", "ast", "2024-02-28", 25, "U/L", reference_range={"low": 5, "high": 40}),
        lab("alt", "alt", "2024-02-28", 20, "U/L", reference_range={"low": 5, "high": 40}),
        lab("pao2", "pao2", "2024-02-28", 90, "mmHg"),
        lab("paco2", "paco2", "2024-02-28", 40, "mmHg"),
        lab("neutrophils", "neutrophils", "2024-02-28", 3.5, "10^9/L"),
        lab("platelets", "platelets", "2024-02-28", 220, "10^9/L"),
        lab("hemoglobin", "hemoglobin", "2024-02-28", 12.5, "g/dL"),
        lab("cd4", "cd4", "2024-02-28", 600, "10^6/L"),
        lab("hiv", "hiv_test", "2024-02-28", "negative"),
        lab("htlv", "htlv", "2024-02-28", "negative"),
        lab("hbsag", "hbsag", "2024-02-28", "negative"),
        lab("hcv", "hcv_rna", "2024-02-28", "not detected"),
        lab("hcg", "pregnancy_test", "2024-03-10", "negative"),
        fact("childbearing_potential", True),
        fact("effective_contraception", True),
        fact("consent_signed", True, "2024-02-20"),
        fact("social_security_affiliation", True, "2024-02-20"),
        fact("pregnant", False),
        fact("breastfeeding", False),
        fact("excluded_from_research_roster", False),
        fact("in_other_study", False),
        fact("legal_protection", False),
    ],
    "reviews": {
        "I4": {"answer": "met", "by": "site investigator", "note": "flares on both lines"},
        "E6": {"answer": "not_met", "by": "site investigator"},
        "E13": {"answer": "not_met", "by": "site investigator"},
        "E15": {"answer": "not_met", "by": "site investigator"},
    },
}

VARIANTS = [
    Variant("eligible", "The eligible patient itself.", "eligible", ()),
    Variant(
        "azathioprine-below-2-mg-kg",
        "Azathioprine was 100 mg/day (1.67 mg/kg/day at 60 kg), not above 2 mg/kg/day, and no "
        "other "
        "immunosuppressant reached its threshold.",
        "ineligible",
        ("I4",),
        set_fields("aza", dose={"value": 100, "unit": "mg"}),
    ),
    Variant(
        "azathioprine-too-short",
        "Azathioprine at 2.5 mg/kg/day lasted 89 days (1 January to 30 March 2017), one day short "
        "of 90.",
        "ineligible",
        ("I4",),
        set_fields("aza", end="2017-03-30"),
    ),
    Variant(
        "ast-over-2x-uln",
        "AST is 130 U/L against the result's own upper limit of 40 U/L (more than 2 x ULN), and "
        "the "
        "investigator judged it unrelated to SLE activity.",
        "ineligible",
        ("E4",),
        chain(set_fields("ast", value=130), answer("E4", True)),
    ),
    Variant(
        "ast-exactly-2x-uln",
        "AST is 80 U/L, exactly 2 x its ULN of 40 U/L: not above it.",
        "eligible",
        (),
        set_fields("ast", value=80),
    ),
    Variant(
        "belimumab-washout",
        "A belimumab infusion (10 mg/kg) on 20 January 2024, within 2 months before baseline.",
        "ineligible",
        ("E10",),
        add(
            {
                "id": "belimumab",
                "type": "medication",
                "code": "belimumab",
                "start": "2024-01-20",
                "end": "2024-01-20",
                "dose": {"value": 600, "unit": "mg"},
                "route": "intravenous",
            }
        ),
    ),
    Variant(
        "rituximab-within-6-months",
        "A rituximab infusion of 1 g on 1 November 2023, within 6 months before baseline.",
        "ineligible",
        ("E10",),
        add(
            {
                "id": "rituximab",
                "type": "medication",
                "code": "rituximab",
                "start": "2023-11-01",
                "end": "2023-11-01",
                "dose": {"value": 1000, "unit": "mg"},
                "route": "intravenous",
            }
        ),
    ),
    Variant(
        "age-70",
        "Born 20 May 1953: 70 completed years at consent, and the upper bound is exclusive.",
        "ineligible",
        ("I1",),
        set_patient(birth_date="1953-05-20"),
    ),
    Variant(
        "creatinine-clearance-low",
        "Creatinine 3.0 mg/dL at 50 kg: Cockcroft-Gault clearance (140-34) x 50 x 0.85 / (72 x "
        "3.0) "
        "= 20.9 mL/min, below 30.",
        "ineligible",
        ("E2",),
        chain(set_fields("creatinine", value=3.0), set_fields("weight", value=50)),
    ),
    Variant(
        "creatinine-in-umol",
        "The same normal creatinine reported as 70.7 umol/L (0.8 mg/dL) instead of mg/dL.",
        "eligible",
        (),
        set_fields("creatinine", value=70.7, unit="umol/L"),
    ),
    Variant(
        "sledai-below-6",
        "SELENA-SLEDAI is 4 at baseline.",
        "ineligible",
        ("I3",),
        set_fields("sledai", value=4),
    ),
    Variant(
        "lvef-low",
        "Left ventricular ejection fraction 35% on the last echocardiography.",
        "ineligible",
        ("E3",),
        set_fields("lvef", value=35),
    ),
    Variant(
        "pregnant",
        "Recorded pregnant at screening.",
        "ineligible",
        ("E1",),
        set_fields("fact-pregnant", value=True),
    ),
    Variant(
        "sledai-missing",
        "No SELENA-SLEDAI score recorded near baseline: the activity criterion cannot be decided.",
        "undetermined",
        ("I3",),
        drop("sledai"),
    ),
    Variant(
        "weight-missing",
        "No body weight recorded: neither mg/kg/day nor creatinine clearance can be computed.",
        "undetermined",
        ("I4", "E2"),
        drop("weight-2017", "weight"),
    ),
    Variant(
        "reviews-pending",
        "The investigator has not yet answered the review questions.",
        "undetermined",
        ("I4", "E6", "E13", "E15"),
        chain(answer("I4", None), answer("E6", None), answer("E13", None), answer("E15", None)),
    ),
]
