"""NCT03123120 (ulcerative colitis on a TNF inhibitor at unchanged doses) example patients.

The eligible patient: a woman of 45 at screening (4 March 2024; randomization 25 March 2024)
with ulcerative colitis since 2016 (ICD-10 K51.9), on intravenous infliximab 400 mg every 8 weeks
since June 2021, her first TNF inhibitor, with a total Mayo score of 6 at screening. The
investigator answered the two questions the record leaves to its protocol: the further inclusion
criteria are met (I5) and no further exclusion criterion applies (E5). Her screening stool test
(28 February 2024) is negative for C. difficile and other pathogens.
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
    stop,
    switch,
)

SCREENING, RANDOMIZATION = "2024-03-04", "2024-03-25"


def infliximab(ident: str, start: str, end: str | None, weeks: int = 8) -> dict:
    return medication(
        ident,
        "infliximab",
        start,
        end,
        **dosing(400, every="wk", period=weeks, route="intravenous"),
    )


def every_2_weeks(ident: str, code: object, start: str, end: str | None, mg: float) -> dict:
    return medication(ident, code, start, end, **dosing(mg, every="wk", period=2, route="sc"))


BASE = {
    "birth_date": "1978-11-02",
    "sex": "female",
    "dates": {"screening": SCREENING, "randomization": RANDOMIZATION},
    "coverage": [{"start": "2014-01-01", "end": RANDOMIZATION}],
    "events": [
        condition("uc", coded("icd10", "K51.9"), "2016-09-01"),
        infliximab("ifx", "2021-06-01", None),
        result("score", "mayo", "mayo_score", SCREENING, 6),
        result("lab", "stool", coded("local", "stool_pathogen_test"), "2024-02-28", "negative"),
    ],
    "reviews": {
        "I5": {"answer": "met", "by": "site investigator"},
        "E5": {"answer": "not_met", "by": "site investigator"},
    },
}

VARIANTS = [
    ELIGIBLE,
    # ------------------------------------------------------------------ I1 age
    Variant(
        "age-75-then-76",
        "Born 10 March 1948: 75 at screening, 76 at randomization.",
        "ineligible",
        ("I1",),
        set_patient(birth_date="1948-03-10"),
    ),
    # ------------------------------------------------------------------ I2 diagnosis
    Variant(
        "uc-diagnosed-4-months-ago",
        "Ulcerative colitis first recorded on 1 November 2023, 4 months before screening: the "
        "language cannot say that no earlier diagnosis exists outside the record (see the rule "
        "file's header), so the criterion is unknown.",
        "undetermined",
        ("I2",),
        chain(
            set_fields("uc", onset="2023-11-01"),
            set_fields("ifx", start="2023-11-10"),
        ),
    ),
    Variant(
        "no-uc-diagnosis",
        "No diagnosis of ulcerative colitis on record (the colitis is coded as unspecified "
        "noninfective colitis, ICD-10 K52.9).",
        "ineligible",
        ("I2",),
        set_fields("uc", code=coded("icd10", "K52.9")),
    ),
    Variant(
        "uc-diagnosed-exactly-5-months-before",
        "Ulcerative colitis first recorded on 4 October 2023, exactly 5 months before screening "
        "(and infliximab from 10 October 2023).",
        "eligible",
        (),
        chain(
            set_fields("uc", onset="2023-10-04"),
            set_fields("ifx", start="2023-10-10"),
        ),
    ),
    # ------------------------------------------------------------------ I3 TNF inhibitor
    Variant(
        "infliximab-interval-shortened",
        "Infliximab every 8 weeks until 14 January 2024, then every 6 weeks: the dosing interval "
        "changed within 4 months of randomization.",
        "ineligible",
        ("I3",),
        switch("ifx", "2024-01-14", infliximab("ifx-6w", "2024-01-15", None, weeks=6)),
    ),
    Variant(
        "infliximab-stopped",
        "Infliximab stopped on 10 March 2024: not received through to randomization.",
        "ineligible",
        ("I3",),
        stop("ifx", "2024-03-10"),
    ),
    Variant(
        "adalimumab-unchanged-2-months",
        "Adalimumab 40 mg every 2 weeks since 1 December 2023 instead of infliximab: unchanged "
        "for the 2 months the record asks of adalimumab.",
        "eligible",
        (),
        switch("ifx", "2023-11-30", every_2_weeks("ada", "adalimumab", "2023-12-01", None, 40)),
    ),
    Variant(
        "adalimumab-started-7-weeks-ago",
        "Infliximab until 4 February 2024, then adalimumab 40 mg every 2 weeks from 5 February: "
        "neither unchanged for its required months.",
        "ineligible",
        ("I3",),
        switch("ifx", "2024-02-04", every_2_weeks("ada", "adalimumab", "2024-02-05", None, 40)),
    ),
    # ------------------------------------------------------------------ I4 Mayo score
    Variant(
        "mayo-11",
        "Total Mayo score 11 at screening: above 10.",
        "ineligible",
        ("I4",),
        set_fields("mayo", value=11),
    ),
    Variant(
        "mayo-missing",
        "No Mayo score within 14 days of screening (the last is from January 2024).",
        "undetermined",
        ("I4",),
        set_fields("mayo", date="2024-01-15"),
    ),
    # ------------------------------------------------------------------ I5, E5: the protocol
    Variant(
        "further-inclusion-not-met",
        "The investigator answers that a further inclusion criterion of the protocol is not met.",
        "ineligible",
        ("I5",),
        answer("I5", False),
    ),
    Variant(
        "reviews-pending",
        "The investigator has not answered the two protocol questions (I5, E5).",
        "undetermined",
        ("I5", "E5"),
        chain(answer("I5", None), answer("E5", None)),
    ),
    # ------------------------------------------------------------------ E1 prior biologics
    Variant(
        "three-tnf-inhibitors",
        "Adalimumab (2018-2019) and golimumab (2019-2021) before infliximab: three different TNF "
        "inhibitors.",
        "ineligible",
        ("E1",),
        add(
            every_2_weeks("ada", "adalimumab", "2018-01-01", "2019-03-31", 40),
            medication(
                "glm", "golimumab", "2019-05-01", "2021-04-30", **dosing(50, every="mo", route="sc")
            ),
        ),
    ),
    Variant(
        "two-tnf-inhibitors",
        "Adalimumab (2018-2019) before infliximab: two different TNF inhibitors.",
        "eligible",
        (),
        add(every_2_weeks("ada", "adalimumab", "2018-01-01", "2019-03-31", 40)),
    ),
    Variant(
        "prior-vedolizumab",
        "Vedolizumab (ATC L04AG05) 300 mg every 8 weeks in 2020.",
        "ineligible",
        ("E1",),
        add(
            medication(
                "vdz",
                coded("atc", "L04AG05"),
                "2020-01-15",
                "2020-12-31",
                **dosing(300, every="wk", period=8, route="intravenous"),
            )
        ),
    ),
    # ------------------------------------------------------------------ E2 colectomy
    Variant(
        "extensive-colectomy",
        "A subtotal colectomy in 2019, which the investigator judges extensive.",
        "ineligible",
        ("E2",),
        chain(add(procedure("colectomy", "colectomy", "2019-07-01")), answer("E2", True)),
    ),
    Variant(
        "limited-resection",
        "A limited sigmoid resection in 2019, which the investigator judges not extensive.",
        "eligible",
        (),
        chain(add(procedure("colectomy", "colectomy", "2019-07-01")), answer("E2", False)),
    ),
    Variant(
        "colectomy-review-pending",
        "A colectomy in 2019, its extent not yet judged.",
        "undetermined",
        ("E2",),
        add(procedure("colectomy", "colectomy", "2019-07-01")),
    ),
    # ------------------------------------------------------------------ E3 intestinal infection
    Variant(
        "c-difficile-20-days-ago",
        "C. difficile enterocolitis (ICD-10 A04.7) diagnosed on 13 February 2024, 20 days "
        "before screening.",
        "ineligible",
        ("E3",),
        add(condition("cdiff", coded("icd10", "A04.7"), "2024-02-13", "2024-02-27")),
    ),
    Variant(
        "c-difficile-28-days-ago",
        "C. difficile enterocolitis on 5 February 2024 only (onset and resolution), exactly 28 "
        "days before screening: not less than 28 days.",
        "eligible",
        (),
        add(condition("cdiff", coded("icd10", "A04.7"), "2024-02-05", "2024-02-05")),
    ),
    Variant(
        "stool-pathogen-positive",
        "The screening stool test (28 February 2024) is positive for Campylobacter.",
        "ineligible",
        ("E3",),
        set_fields("stool", value="positive"),
    ),
    Variant(
        "stool-test-missing",
        "No stool test for C. difficile or other pathogens in the 27 days before screening.",
        "undetermined",
        ("E3",),
        drop("stool"),
    ),
    # ------------------------------------------------------------------ E4 tuberculosis
    Variant(
        "latent-tuberculosis",
        "Latent tuberculosis (SNOMED CT 11999007, inactive tuberculosis) recorded in October "
        "2023, not resolved.",
        "ineligible",
        ("E4",),
        add(condition("ltbi", coded("snomed", "11999007"), "2023-10-01")),
    ),
    Variant(
        "latent-tuberculosis-treated",
        "Latent tuberculosis recorded in 2020 and resolved after treatment in 2021.",
        "eligible",
        (),
        add(condition("ltbi", coded("snomed", "11999007"), "2020-10-01", "2021-01-31")),
    ),
]
