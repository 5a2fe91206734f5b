"""NCT00845832 (rheumatoid arthritis, methotrexate inadequate response) example patients.

The eligible patient: a woman of 52 at screening (4 March 2024; baseline 18 March 2024) with
seropositive rheumatoid arthritis since May 2014 (rheumatoid factor 64 IU/mL and anti-CCP
120 U/mL, both above their laboratory's range), ACR functional class II, 6 swollen and 9 tender
of 28 joints at screening and 5 and 8 at baseline. She has taken oral methotrexate since
February 2019 (10 mg a week, 15 mg a week from June 2019) and failed one anti-TNF agent,
etanercept, in 2020-2021. The investigator answered the review questions: the response to
methotrexate is inadequate (I6), no systemic involvement (E1), not diagnosed before 16 (E3).
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
    result,
    set_fields,
    set_patient,
    switch,
)

SCREENING, BASELINE = "2024-03-04", "2024-03-18"


def score(ident: str, code: str, date: str, value: object) -> dict:
    return result("score", ident, code, date, value)


def weekly_mtx(ident: str, start: str, end: str | None, mg: float) -> dict:
    return medication(ident, "methotrexate", start, end, **dosing(mg, every="wk", route="oral"))


def biologic(ident: str, code: str, start: str, end: str) -> dict:
    return medication(ident, code, start, end, **dosing(40, every="wk", times=1, route="sc"))


BASE = {
    "birth_date": "1971-09-14",
    "sex": "female",
    "dates": {"screening": SCREENING, "baseline": BASELINE},
    "coverage": [{"start": "2012-01-01", "end": BASELINE}],
    "events": [
        condition("ra", coded("icd10", "M05.9"), "2014-05-01"),
        result("lab", "rf", coded("loinc", "11572-5"), "2014-05-10", 64, "IU/mL")
        | {"reference_range": {"high": 14}},
        result("lab", "ccp", coded("loinc", "32218-0"), "2014-05-10", 120, "U/mL")
        | {"reference_range": {"high": 20}},
        score("fc", "acr_functional_class", SCREENING, "II"),
        score("sjc-s", "sjc28", SCREENING, 6),
        score("tjc-s", "tjc28", SCREENING, 9),
        score("sjc-b", "sjc28", BASELINE, 5),
        score("tjc-b", "tjc28", BASELINE, 8),
        weekly_mtx("mtx-10", "2019-02-01", "2019-05-31", 10),
        weekly_mtx("mtx-15", "2019-06-01", None, 15),
        medication(
            "etanercept",
            "etanercept",
            "2020-03-01",
            "2021-09-30",
            **dosing(50, every="wk", route="sc"),
        ),
        condition("htn", coded("icd10", "I10"), "2016-02-01"),
    ],
    "reviews": {
        "I6": {"answer": "met", "by": "site investigator", "note": "DAS28 5.4 on methotrexate"},
        "E1": {"answer": "not_met", "by": "site investigator"},
        "E3": {"answer": "not_met", "by": "site investigator", "note": "diagnosed at 42"},
    },
}

VARIANTS = [
    ELIGIBLE,
    # ------------------------------------------------------------------ I1 age
    Variant(
        "age-66",
        "Born 1 December 1957: 66 completed years at screening, above 18-65.",
        "ineligible",
        ("I1",),
        set_patient(birth_date="1957-12-01"),
    ),
    Variant(
        "age-65-eve-of-66th-birthday",
        "Born 5 March 1958: screening is the day before her 66th birthday, so she is 65.",
        "eligible",
        (),
        set_patient(birth_date="1958-03-05"),
    ),
    # ------------------------------------------------------------------ I2 functional class
    Variant(
        "functional-class-iv",
        "The functional class at screening is IV.",
        "ineligible",
        ("I2",),
        set_fields("fc", value="IV"),
    ),
    Variant(
        "functional-class-not-recorded",
        "No ACR functional class was recorded around screening.",
        "undetermined",
        ("I2",),
        drop("fc"),
    ),
    # ------------------------------------------------------------------ I3 joint counts
    Variant(
        "baseline-sjc-3",
        "3 swollen joints at baseline (6 at screening): the count must be at least 4 at both.",
        "ineligible",
        ("I3",),
        set_fields("sjc-b", value=3),
    ),
    Variant(
        "screening-tjc-missing",
        "The tender joint count at screening was not recorded.",
        "undetermined",
        ("I3",),
        drop("tjc-s"),
    ),
    # ------------------------------------------------------------------ I4 serology
    Variant(
        "seronegative",
        "Rheumatoid factor reported negative and anti-CCP 12 U/mL, under its range's upper limit "
        "of 20.",
        "ineligible",
        ("I4",),
        chain(
            set_fields("rf", value="negative", unit=None, reference_range=None),
            set_fields("ccp", value=12),
        ),
    ),
    Variant(
        "anti-ccp-without-range",
        "No rheumatoid factor on record, and an anti-CCP of 120 U/mL reported without a "
        "reference range: it cannot be read as positive or negative.",
        "undetermined",
        ("I4",),
        chain(drop("rf"), set_fields("ccp", reference_range=None)),
    ),
    # ------------------------------------------------------------------ I5 anti-TNF agents
    Variant(
        "two-anti-tnf-review-pending",
        "Adalimumab 40 mg every week from October 2021 to December 2022 after etanercept: two "
        "anti-TNF agents taken, and no one has said how many failed.",
        "undetermined",
        ("I5",),
        add(biologic("adalimumab", "adalimumab", "2021-10-15", "2022-12-31")),
    ),
    Variant(
        "two-anti-tnf-both-failed",
        "Etanercept and then adalimumab (October 2021 to December 2022), and the investigator "
        "records that both failed.",
        "ineligible",
        ("I5",),
        chain(
            add(biologic("adalimumab", "adalimumab", "2021-10-15", "2022-12-31")),
            answer("I5", False),
        ),
    ),
    Variant(
        "two-anti-tnf-one-failed",
        "Etanercept and then adalimumab (October 2021 to December 2022), and the investigator "
        "records that only etanercept failed.",
        "eligible",
        (),
        chain(
            add(biologic("adalimumab", "adalimumab", "2021-10-15", "2022-12-31")),
            answer("I5", True),
        ),
    ),
    # ------------------------------------------------------------------ I6 methotrexate
    Variant(
        "mtx-30-mg-weekly",
        "The current methotrexate dose is 30 mg a week, above 7.5-25 mg.",
        "ineligible",
        ("I6",),
        set_fields("mtx-15", dose={"value": 30, "unit": "mg"}),
    ),
    Variant(
        "mtx-dose-raised-2-weeks-ago",
        "Methotrexate 15 mg a week until 18 February 2024, 20 mg a week from 19 February: not "
        "stable over the 4 weeks before screening.",
        "ineligible",
        ("I6",),
        switch("mtx-15", "2024-02-18", weekly_mtx("mtx-20", "2024-02-19", None, 20)),
    ),
    Variant(
        "mtx-exactly-12-weeks",
        "Methotrexate started 12 December 2023 (no earlier course): 84 days, 12 weeks, by "
        "screening.",
        "eligible",
        (),
        chain(drop("mtx-10"), set_fields("mtx-15", start="2023-12-12")),
    ),
    Variant(
        "mtx-one-day-short",
        "Methotrexate started 13 December 2023 (no earlier course): 83 days by screening, a day "
        "short of 12 weeks.",
        "ineligible",
        ("I6",),
        chain(drop("mtx-10"), set_fields("mtx-15", start="2023-12-13")),
    ),
    # ------------------------------------------------------------------ exclusions
    Variant(
        "sjogren",
        "Sjogren's syndrome (ICD-10 M35.0) diagnosed in 2019.",
        "ineligible",
        ("E1",),
        add(condition("sjogren", coded("icd10", "M35.0"), "2019-06-01")),
    ),
    Variant(
        "systemic-involvement",
        "The investigator judges that she has significant systemic involvement of her "
        "rheumatoid arthritis (rheumatoid lung).",
        "ineligible",
        ("E1",),
        answer("E1", True),
    ),
    Variant(
        "gout",
        "Gout (ICD-10 M10.0) since 2017.",
        "ineligible",
        ("E2",),
        add(condition("gout", coded("icd10", "M10.0"), "2017-08-01")),
    ),
    Variant(
        "juvenile-idiopathic-arthritis",
        "Juvenile idiopathic arthritis (ICD-10 M08.0) in 1984: an inflammatory joint disease other "
        "than rheumatoid arthritis, diagnosed before 16.",
        "ineligible",
        ("E2", "E3"),
        add(condition("jia", coded("icd10", "M08.0"), "1984-05-01", "1990-01-01")),
    ),
    Variant(
        "ra-diagnosed-at-15",
        "The investigator records that her rheumatoid arthritis was first diagnosed at 15.",
        "ineligible",
        ("E3",),
        answer("E3", True),
    ),
    Variant(
        "heart-failure-significant",
        "Heart failure since 2022, still active, which the investigator judges significant.",
        "ineligible",
        ("E4",),
        chain(
            add(condition("hf", "heart_failure", "2022-04-01")),
            answer("E4", True),
        ),
    ),
    Variant(
        "heart-failure-not-significant",
        "Heart failure since 2022, still active, which the investigator judges not significant.",
        "eligible",
        (),
        chain(
            add(condition("hf", "heart_failure", "2022-04-01")),
            answer("E4", False),
        ),
    ),
    Variant(
        "heart-failure-review-pending",
        "Heart failure since 2022, still active, not yet judged.",
        "undetermined",
        ("E4",),
        add(condition("hf", "heart_failure", "2022-04-01")),
    ),
    Variant(
        "tocilizumab-2022",
        "Tocilizumab from January to June 2022, a biologic other than the three allowed anti-TNF "
        "agents.",
        "ineligible",
        ("E5",),
        add(
            medication(
                "tcz",
                "tocilizumab",
                "2022-01-10",
                "2022-06-30",
                **dosing(162, every="wk", route="sc"),
            )
        ),
    ),
    Variant(
        "golimumab-2022",
        "Golimumab from January to June 2022: an anti-TNF agent, but not one of the three the "
        "record allows.",
        "ineligible",
        ("E5",),
        add(
            medication(
                "glm", "golimumab", "2022-01-10", "2022-06-30", **dosing(50, every="mo", route="sc")
            )
        ),
    ),
    Variant(
        "infliximab-instead-of-etanercept",
        "Infliximab (2020-2021) instead of etanercept: an allowed anti-TNF agent.",
        "eligible",
        (),
        set_fields("etanercept", code="infliximab", route="intravenous"),
    ),
    Variant(
        "reviews-pending",
        "No one has answered the review questions yet (I6, E1, E3).",
        "undetermined",
        ("I6", "E1", "E3"),
        chain(answer("I6", None), answer("E1", None), answer("E3", None)),
    ),
]
