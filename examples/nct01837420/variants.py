"""NCT01837420 (moderate to severe chronic plaque psoriasis, with wash-outs) example patients.

The eligible patient: a man of 47 at screening (8 April 2024; baseline 29 April 2024) with
plaque psoriasis (ICD-10 L40.0) since 2015, 15 % of body surface area and PASI 14 at screening.
He took methotrexate 15 mg a week in 2019-2021 and etanercept 50 mg a week in 2021-2022 (stopped
for injection-site reactions, not for lack of efficacy), and used calcipotriol ointment (ATC
D05AX02) until 1 March 2024. The investigator answered the review questions: no unstable or
other predominant form (E1), no biologic failed for lack of efficacy (E2), no sun exposure
planned (E4).
"""

from generate import (
    ELIGIBLE,
    Variant,
    add,
    answer,
    chain,
    coded,
    condition,
    dosing,
    drop,
    medication,
    procedure,
    result,
    set_fields,
    set_patient,
)

SCREENING, BASELINE = "2024-04-08", "2024-04-29"


def weekly(ident: str, code: object, start: str, end: str, mg: float, weeks: int = 1) -> dict:
    return medication(ident, code, start, end, **dosing(mg, every="wk", period=weeks, route="sc"))


BASE = {
    "birth_date": "1976-10-19",
    "sex": "male",
    "dates": {"screening": SCREENING, "baseline": BASELINE},
    "coverage": [{"start": "2012-01-01", "end": BASELINE}],
    "events": [
        condition("psoriasis", coded("icd10", "L40.0"), "2015-02-01"),
        result("score", "bsa", "psoriasis_bsa", SCREENING, 15, "%"),
        result("score", "pasi", "pasi", SCREENING, 14),
        medication(
            "mtx",
            "methotrexate",
            "2019-03-01",
            "2021-02-28",
            **dosing(15, every="wk", route="oral"),
        ),
        weekly("etanercept", "etanercept", "2021-05-01", "2022-06-30", 50),
        medication(
            "calcipotriol",
            coded("atc", "D05AX02"),
            "2023-09-01",
            "2024-03-01",
            route="topical",
        ),
    ],
    "reviews": {
        "E1": {"answer": "not_met", "by": "site investigator"},
        "E2": {
            "answer": "not_met",
            "by": "site investigator",
            "note": "stopped for site reactions",
        },
        "E4": {"answer": "not_met", "by": "site investigator"},
    },
}

VARIANTS = [
    ELIGIBLE,
    # ------------------------------------------------------------------ I1
    Variant(
        "age-76",
        "Born 1 January 1948: 76 at screening, above 18-75.",
        "ineligible",
        ("I1",),
        set_patient(birth_date="1948-01-01"),
    ),
    Variant(
        "no-plaque-psoriasis",
        "The psoriasis on record is unspecified (ICD-10 L40.9), not chronic plaque psoriasis.",
        "ineligible",
        ("I1",),
        set_fields("psoriasis", code=coded("icd10", "L40.9")),
    ),
    Variant(
        "psoriasis-diagnosed-4-months-ago",
        "Plaque psoriasis first recorded on 1 December 2023: whether an earlier diagnosis exists "
        "outside the record cannot be said (see the rule file's header), so I1 is unknown.",
        "undetermined",
        ("I1",),
        set_fields("psoriasis", onset="2023-12-01"),
    ),
    # ------------------------------------------------------------------ I2, I3
    Variant(
        "bsa-9-percent",
        "9 % of body surface area affected: below 10 %.",
        "ineligible",
        ("I2",),
        set_fields("bsa", value=9),
    ),
    Variant(
        "bsa-30-percent",
        "30 % of body surface area: the upper end is included.",
        "eligible",
        (),
        set_fields("bsa", value=30),
    ),
    Variant(
        "bsa-missing",
        "No body surface area assessment within 14 days of screening.",
        "undetermined",
        ("I2",),
        drop("bsa"),
    ),
    Variant(
        "pasi-21",
        "PASI 21: above 20.",
        "ineligible",
        ("I3",),
        set_fields("pasi", value=21),
    ),
    Variant(
        "pasi-10",
        "PASI 10: the lower end is included.",
        "eligible",
        (),
        set_fields("pasi", value=10),
    ),
    # ------------------------------------------------------------------ E1, E2
    Variant(
        "guttate-psoriasis",
        "Guttate psoriasis (ICD-10 L40.4) recorded in March 2024, still active.",
        "ineligible",
        ("E1",),
        add(condition("guttate", coded("icd10", "L40.4"), "2024-03-10")),
    ),
    Variant(
        "unstable-psoriasis",
        "The investigator judges the psoriasis unstable.",
        "ineligible",
        ("E1",),
        answer("E1", True),
    ),
    Variant(
        "biologic-failed",
        "The investigator records that etanercept was stopped for lack of efficacy.",
        "ineligible",
        ("E2",),
        answer("E2", True),
    ),
    # ------------------------------------------------------------------ E3 wash-outs
    Variant(
        "topical-10-days-before-baseline",
        "Calcipotriol used until 19 April 2024, 10 days before baseline: inside the 2-week "
        "wash-out.",
        "ineligible",
        ("E3",),
        set_fields("calcipotriol", end="2024-04-19"),
    ),
    Variant(
        "topical-15-days-before-baseline",
        "Calcipotriol used until 14 April 2024, 15 days before baseline: the 2-week wash-out is "
        "complete.",
        "eligible",
        (),
        set_fields("calcipotriol", end="2024-04-14"),
    ),
    Variant(
        "methotrexate-3-weeks-before-baseline",
        "Methotrexate restarted in 2023 and stopped on 8 April 2024, 3 weeks before baseline.",
        "ineligible",
        ("E3",),
        add(
            medication(
                "mtx-2023",
                "methotrexate",
                "2023-06-01",
                "2024-04-08",
                **dosing(15, every="wk", route="oral"),
            )
        ),
    ),
    Variant(
        "etanercept-7-weeks-before-baseline",
        "Etanercept continued until 11 March 2024, 7 weeks before baseline: inside 8 weeks (its "
        "5 half-lives, about 21 days, are shorter).",
        "ineligible",
        ("E3",),
        set_fields("etanercept", end="2024-03-11"),
    ),
    Variant(
        "ustekinumab-12-weeks-before-baseline",
        "Ustekinumab (ATC L04AC05) 45 mg every 12 weeks, last dose on 5 February 2024, 12 weeks "
        "before baseline: past 8 weeks but within its 5 half-lives (160 days).",
        "ineligible",
        ("E3",),
        add(weekly("ustekinumab", coded("atc", "L04AC05"), "2023-02-13", "2024-02-05", 45, 12)),
    ),
    Variant(
        "ustekinumab-6-months-before-baseline",
        "Ustekinumab, last dose on 23 October 2023, 189 days before baseline: past its 5 "
        "half-lives (160 days).",
        "eligible",
        (),
        add(weekly("ustekinumab", coded("atc", "L04AC05"), "2022-11-01", "2023-10-23", 45, 12)),
    ),
    Variant(
        "phototherapy-3-weeks-before-baseline",
        "A narrow-band UVB session on 8 April 2024, 3 weeks before baseline.",
        "ineligible",
        ("E3",),
        add(procedure("uvb", "phototherapy", "2024-04-08")),
    ),
    # ------------------------------------------------------------------ E4, E5
    Variant(
        "sunbathing-planned",
        "The investigator records that he plans a long beach holiday during the study.",
        "ineligible",
        ("E4",),
        answer("E4", True),
    ),
    Variant(
        "breast-cancer-history",
        "Breast cancer (ICD-10 C50.9) in 2010, treated and resolved.",
        "ineligible",
        ("E5",),
        add(condition("breast-cancer", coded("icd10", "C50.9"), "2010-03-01", "2011-01-31")),
    ),
    Variant(
        "basal-cell-carcinoma",
        "A basal cell carcinoma of the skin (ICD-10 C44.3) excised in 2020: skin cancer is "
        "allowed.",
        "eligible",
        (),
        add(condition("bcc", coded("icd10", "C44.3"), "2020-05-01", "2020-06-01")),
    ),
    Variant(
        "melanoma-history",
        "A melanoma of the skin (ICD-10 C43.5) in 2016: skin cancer too, as the record is read "
        "(see the rule file).",
        "eligible",
        (),
        add(condition("melanoma", coded("icd10", "C43.5"), "2016-02-01", "2016-04-01")),
    ),
    Variant(
        "reviews-pending",
        "No one has answered the review questions yet (E1, E2, E4).",
        "undetermined",
        ("E1", "E2", "E4"),
        chain(answer("E1", None), answer("E2", None), answer("E4", None)),
    ),
]
