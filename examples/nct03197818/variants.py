"""NCT03197818 (severe COPD with a recent exacerbation) example patients.

The eligible patient: a man of 64 at screening (5 March 2024) with COPD since 2015 (ICD-10
J44.9), a former smoker, post-bronchodilator FEV1 42 % of predicted and FEV1/FVC 0.55 a week
before screening, and an exacerbation (ICD-10 J44.1) on 10 November 2023 treated with
prednisolone. He takes bisoprolol (a cardioselective beta blocker, ATC C07AB07) and cetirizine
10 mg a day (ATC R06AE07) at the same dose since January 2023.
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
    fact,
    medication,
    result,
    set_fields,
    set_patient,
    switch,
)

SCREENING = "2024-03-05"
SPIROMETRY = "2024-02-27"


def observation(ident: str, code: str, date: str, value: object, unit: str | None = None) -> dict:
    return result("observation", ident, coded("local", code), date, value, unit)


def daily(ident: str, atc: str, start: str, end: str | None, mg: float) -> dict:
    return medication(ident, coded("atc", atc), start, end, **dosing(mg, route="oral"))


def oxygen(hours: int) -> dict:
    return condition(
        "oxygen",
        coded("local", "long_term_oxygen_therapy"),
        "2024-01-15",
        attributes={"hours_per_day": hours},
    )


def exacerbation(ident: str, onset: str, abatement: str) -> dict:
    return condition(ident, coded("icd10", "J44.1"), onset, abatement)


# Cetirizine 10 mg a day until 14 February 2024, 20 mg a day from 15 February.
CETIRIZINE_RAISED = switch(
    "cetirizine", "2024-02-14", daily("cetirizine-20", "R06AE07", "2024-02-15", None, 20)
)

BASE = {
    "birth_date": "1959-06-30",
    "sex": "male",
    "dates": {"screening": SCREENING},
    "coverage": [{"start": "2014-01-01", "end": SCREENING}],
    "events": [
        condition("copd", coded("icd10", "J44.9"), "2015-04-01"),
        result("observation", "smoking", coded("loinc", "72166-2"), "2023-06-01", "Former smoker"),
        observation("fev1", "post_bd_fev1_percent_predicted", SPIROMETRY, 42, "%"),
        observation("fev1-fvc", "post_bd_fev1_fvc", SPIROMETRY, 0.55, "1"),
        exacerbation("aecopd-2023", "2023-11-10", "2023-11-24"),
        medication(
            "pred-2023", "prednisolone", "2023-11-10", "2023-11-14", **dosing(40, route="oral")
        ),
        daily("bisoprolol", "C07AB07", "2020-01-01", None, 5),
        daily("cetirizine", "R06AE07", "2023-01-01", None, 10),
    ],
}

VARIANTS = [
    ELIGIBLE,
    # ------------------------------------------------------------------ I1
    Variant(
        "age-40",
        "Born 1 January 1984: 40 at screening, not above 40 (the registry's minimum age field "
        "would allow it; the criterion's words do not).",
        "ineligible",
        ("I1",),
        set_patient(birth_date="1984-01-01"),
    ),
    Variant(
        "no-copd-diagnosis",
        "No COPD diagnosis on record: the exacerbation is the site's record (a local code), "
        "not a coded diagnosis, and spirometry alone is not a diagnosis.",
        "ineligible",
        ("I1",),
        chain(drop("copd"), set_fields("aecopd-2023", code=coded("local", "copd_exacerbation"))),
    ),
    # ------------------------------------------------------------------ I2
    Variant(
        "never-smoker",
        'The smoking status on record is "Never smoker".',
        "ineligible",
        ("I2",),
        set_fields("smoking", value="Never smoker"),
    ),
    Variant(
        "smoking-status-missing",
        "No smoking status on record.",
        "undetermined",
        ("I2",),
        drop("smoking"),
    ),
    # ------------------------------------------------------------------ I3
    Variant(
        "fev1-50-percent",
        "Post-bronchodilator FEV1 exactly 50 % of predicted: not below 50 %.",
        "ineligible",
        ("I3",),
        set_fields("fev1", value=50),
    ),
    Variant(
        "fev1-fvc-0.7",
        "Post-bronchodilator FEV1/FVC exactly 0.7 (70 %): not below 0.7.",
        "ineligible",
        ("I3",),
        set_fields("fev1-fvc", value=0.7),
    ),
    Variant(
        "fev1-fvc-69-percent",
        "FEV1/FVC reported as 69 %, which is 0.69: below 0.7.",
        "eligible",
        (),
        set_fields("fev1-fvc", value=69, unit="%"),
    ),
    Variant(
        "spirometry-missing",
        "No post-bronchodilator spirometry within 30 days of screening (the last is from "
        "January 2024).",
        "undetermined",
        ("I3",),
        chain(set_fields("fev1", date="2024-01-10"), set_fields("fev1-fvc", date="2024-01-10")),
    ),
    # ------------------------------------------------------------------ I4
    Variant(
        "exacerbation-13-months-ago",
        "The only exacerbation was on 1 February 2023, 13 months before screening.",
        "ineligible",
        ("I4",),
        chain(
            set_fields("aecopd-2023", onset="2023-02-01", abatement="2023-02-14"),
            set_fields("pred-2023", start="2023-02-01", end="2023-02-05"),
        ),
    ),
    # ------------------------------------------------------------------ exclusions
    Variant(
        "pregnant",
        "A woman (the same record otherwise) recorded as pregnant at screening.",
        "ineligible",
        ("E1",),
        chain(set_patient(sex="female"), add(fact("pregnant", True, SCREENING))),
    ),
    Variant(
        "allergic-rhinitis",
        "Allergic rhinitis (ICD-10 J30.4) in 1998.",
        "ineligible",
        ("E2",),
        add(condition("rhinitis", coded("icd10", "J30.4"), "1998-05-01", "1998-09-01")),
    ),
    Variant(
        "asthma",
        "Asthma (ICD-10 J45.9) diagnosed in 2010: asthma (E2) and a respiratory disorder other "
        "than COPD (E7).",
        "ineligible",
        ("E2", "E7"),
        add(condition("asthma", coded("icd10", "J45.9"), "2010-01-01")),
    ),
    Variant(
        "exacerbation-treated-2-weeks-ago",
        "Another exacerbation on 20 February 2024, treated with prednisolone 40 mg for 5 days.",
        "ineligible",
        ("E3",),
        add(
            exacerbation("aecopd-2024", "2024-02-20", "2024-02-29"),
            medication(
                "pred-2024", "prednisolone", "2024-02-20", "2024-02-24", **dosing(40, route="oral")
            ),
        ),
    ),
    Variant(
        "exacerbation-untreated-2-weeks-ago",
        "Another exacerbation on 20 February 2024, with no treatment recorded for it.",
        "eligible",
        (),
        add(exacerbation("aecopd-2024", "2024-02-20", "2024-02-29")),
    ),
    Variant(
        "propranolol",
        "Propranolol (ATC C07AA05, non-selective) 40 mg a day since 15 February 2024.",
        "ineligible",
        ("E4",),
        add(daily("propranolol", "C07AA05", "2024-02-15", None, 40)),
    ),
    Variant(
        "propranolol-stopped-5-weeks-ago",
        "Propranolol stopped on 31 January 2024, before the month preceding screening.",
        "eligible",
        (),
        add(daily("propranolol", "C07AA05", "2023-06-01", "2024-01-31", 40)),
    ),
    Variant(
        "cetirizine-dose-changed-review-pending",
        "Cetirizine raised to 20 mg a day on 15 February 2024: not a stable regimen for 2 "
        "months, and no one has said whether it is taken as needed.",
        "undetermined",
        ("E5",),
        CETIRIZINE_RAISED,
    ),
    Variant(
        "cetirizine-dose-changed-regular",
        "Cetirizine raised to 20 mg a day on 15 February 2024, taken every day (the "
        "investigator answers that it is a regular schedule).",
        "ineligible",
        ("E5",),
        chain(CETIRIZINE_RAISED, answer("E5", True)),
    ),
    Variant(
        "cetirizine-as-needed",
        "Cetirizine raised to 20 mg on 15 February 2024, but taken only as needed (the "
        "investigator's answer).",
        "eligible",
        (),
        chain(CETIRIZINE_RAISED, answer("E5", False)),
    ),
    Variant(
        "oxygen-12-hours",
        "Oxygen therapy prescribed 12 hours a day since January 2024: at least 12.",
        "ineligible",
        ("E6",),
        add(oxygen(12)),
    ),
    Variant(
        "oxygen-at-night-8-hours",
        "Oxygen at night, 8 hours a day: not long-term oxygen therapy.",
        "eligible",
        (),
        add(oxygen(8)),
    ),
    Variant(
        "bronchiectasis",
        "Bronchiectasis (ICD-10 J47) since 2019.",
        "ineligible",
        ("E7",),
        add(condition("bronchiectasis", coded("icd10", "J47"), "2019-10-01")),
    ),
    Variant(
        "heart-failure-significant",
        "Heart failure since 2021, still active, judged clinically significant.",
        "ineligible",
        ("E8",),
        chain(add(condition("hf", "heart_failure", "2021-03-01")), answer("E8", True)),
    ),
    Variant(
        "heart-failure-review-pending",
        "Heart failure since 2021, still active, not yet judged.",
        "undetermined",
        ("E8",),
        add(condition("hf", "heart_failure", "2021-03-01")),
    ),
]
