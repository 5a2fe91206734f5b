"""NCT00879658 (relapsing-remitting MS, patients declining disease-modifying drugs) examples.

The eligible patient: a woman of 34 at screening (2 April 2024; randomization 30 April 2024)
with multiple sclerosis since 2019 (ICD-10 G35 and the SNOMED CT relapsing-remitting course),
diagnosed by the revised McDonald criteria. Her last relapse began on 10 June 2023, within the
year before screening, and was treated with intravenous methylprednisolone 1 g a day for 3
days; the MRI at screening shows no gadolinium-enhancing lesion. EDSS 2.5 at randomization. She
declines disease-modifying drugs after being informed.
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
)

SCREENING, RANDOMIZATION = "2024-04-02", "2024-04-30"


def relapse(ident: str, onset: str, abatement: str) -> dict:
    return condition(ident, coded("local", "ms_relapse"), onset, abatement)


def mri(ident: str, date: str, lesions: int) -> dict:
    return result(
        "observation", ident, coded("local", "mri_gd_enhancing_lesions"), date, lesions, "1"
    )


def methylprednisolone(ident: str, start: str, end: str) -> dict:
    return medication(ident, "methylprednisolone", start, end, **dosing(1000, route="intravenous"))


BASE = {
    "birth_date": "1989-08-21",
    "sex": "female",
    "dates": {"screening": SCREENING, "randomization": RANDOMIZATION},
    "coverage": [{"start": "2015-01-01", "end": RANDOMIZATION}],
    "events": [
        condition("ms", coded("icd10", "G35"), "2019-03-01"),
        condition("rrms", coded("snomed", "426373005"), "2019-03-01"),
        fact("ms_mcdonald_revised", True, "2019-03-15", "local"),
        relapse("relapse-2023", "2023-06-10", "2023-07-20"),
        methylprednisolone("ivmp-2023", "2023-06-12", "2023-06-14"),
        mri("mri-screening", SCREENING, 0),
        result("score", "edss", "edss", RANDOMIZATION, 2.5),
        fact("declines_ms_dmt", True, SCREENING, "local"),
    ],
}

VARIANTS = [
    ELIGIBLE,
    # ------------------------------------------------------------------ I1 diagnosis
    Variant(
        "mcdonald-not-met",
        "The site records that the diagnosis does not meet the revised McDonald criteria.",
        "ineligible",
        ("I1",),
        set_fields("fact-ms_mcdonald_revised", value=False),
    ),
    # ------------------------------------------------------------------ I2 course and activity
    Variant(
        "one-relapse-18-months-ago",
        "The only relapse began on 1 October 2022, 18 months before screening, and the MRI at "
        "screening is negative: one relapse in 2 years is not enough.",
        "ineligible",
        ("I2",),
        set_fields("relapse-2023", onset="2022-10-01", abatement="2022-11-15"),
    ),
    Variant(
        "two-relapses-in-2-years",
        "Relapses on 1 October 2022 and 15 January 2023, none in the last year: two in the "
        "previous 2 years.",
        "eligible",
        (),
        chain(
            set_fields("relapse-2023", onset="2022-10-01", abatement="2022-11-15"),
            add(relapse("relapse-2023-jan", "2023-01-15", "2023-02-20")),
        ),
    ),
    Variant(
        "relapse-exactly-one-year-before",
        "The relapse began on 2 April 2023, exactly one year before screening: in the previous "
        "year (both ends count).",
        "eligible",
        (),
        set_fields("relapse-2023", onset="2023-04-02", abatement="2023-05-10"),
    ),
    Variant(
        "relapse-over-before-the-year",
        "The relapse lasted from 1 to 31 March 2023, ending two days before the year before "
        "screening began, and the MRI is negative.",
        "ineligible",
        ("I2",),
        set_fields("relapse-2023", onset="2023-03-01", abatement="2023-03-31"),
    ),
    Variant(
        "relapse-reaching-into-the-year",
        "The relapse began on 1 April 2023, a year and a day before screening, and lasted to 10 "
        "May 2023: its days reach into the previous year.",
        "eligible",
        (),
        set_fields("relapse-2023", onset="2023-04-01", abatement="2023-05-10"),
    ),
    Variant(
        "second-mri-positive",
        "No relapse in 2 years (the last one began in January 2021); the MRI at screening is "
        "negative, a second scan on 29 April 2024 shows 2 enhancing lesions.",
        "eligible",
        (),
        chain(
            set_fields("relapse-2023", onset="2021-01-10", abatement="2021-02-20"),
            add(mri("mri-second", "2024-04-29", 2)),
        ),
    ),
    Variant(
        "mri-not-done",
        "No relapse in 2 years (the last one began in January 2021) and no MRI on record: the "
        "activity criterion cannot be decided.",
        "undetermined",
        ("I2",),
        chain(
            set_fields("relapse-2023", onset="2021-01-10", abatement="2021-02-20"),
            drop("mri-screening"),
        ),
    ),
    Variant(
        "course-not-coded",
        "The multiple sclerosis is coded in ICD-10 only (G35), which does not say the course: a "
        "person must say whether it is relapsing-remitting.",
        "undetermined",
        ("I2",),
        drop("rrms"),
    ),
    Variant(
        "course-not-coded-judged-rrms",
        "Coded in ICD-10 only, and the investigator records that the course is "
        "relapsing-remitting.",
        "eligible",
        (),
        chain(drop("rrms"), answer("I2", True)),
    ),
    # ------------------------------------------------------------------ I3 EDSS
    Variant(
        "edss-5.5",
        "EDSS 5.5 at randomization, above 0-5.0.",
        "ineligible",
        ("I3",),
        set_fields("edss", value=5.5),
    ),
    Variant(
        "edss-5.0",
        "EDSS 5.0 at randomization: the upper end is included.",
        "eligible",
        (),
        set_fields("edss", value=5.0),
    ),
    Variant(
        "edss-missing",
        "No EDSS recorded within 3 days of randomization (the last one is from screening).",
        "undetermined",
        ("I3",),
        set_fields("edss", date=SCREENING),
    ),
    # ------------------------------------------------------------------ I4 stability
    Variant(
        "relapse-20-days-before-randomization",
        "A new relapse began on 10 April 2024, 20 days before randomization.",
        "ineligible",
        ("I4",),
        add(relapse("relapse-2024", "2024-04-10", "2024-04-25")),
    ),
    Variant(
        "steroids-25-days-before-randomization",
        "Intravenous methylprednisolone on 3-5 April 2024, within 30 days of randomization.",
        "ineligible",
        ("I4",),
        add(methylprednisolone("ivmp-2024", "2024-04-03", "2024-04-05")),
    ),
    Variant(
        "steroids-31-days-before-randomization",
        "Intravenous methylprednisolone ending on 30 March 2024, 31 days before randomization: "
        "outside the 30 days.",
        "eligible",
        (),
        add(methylprednisolone("ivmp-2024", "2024-03-28", "2024-03-30")),
    ),
    # ------------------------------------------------------------------ I5, I6
    Variant(
        "accepts-dmt",
        "The site records that she does not decline disease-modifying drugs.",
        "ineligible",
        ("I5",),
        set_fields("fact-declines_ms_dmt", value=False),
    ),
    Variant(
        "age-56",
        "Born 1 March 1968: 56 at screening, above 18-55.",
        "ineligible",
        ("I6",),
        set_patient(birth_date="1968-03-01"),
    ),
    # ------------------------------------------------------------------ exclusions
    Variant(
        "secondary-progressive",
        "Secondary progressive multiple sclerosis (SNOMED CT 425500002) recorded in January 2024, "
        "after the relapsing-remitting course.",
        "ineligible",
        ("E1",),
        add(condition("spms", coded("snomed", "425500002"), "2024-01-15")),
    ),
    Variant(
        "crohns-disease",
        "Crohn's disease (ICD-10 K50.9) since 2012.",
        "ineligible",
        ("E2",),
        add(condition("crohn", coded("icd10", "K50.9"), "2012-05-01")),
    ),
    Variant(
        "type-2-diabetes",
        "Type 2 diabetes (ICD-10 E11.9) since 2022.",
        "ineligible",
        ("E3",),
        add(condition("t2d", coded("icd10", "E11.9"), "2022-09-01")),
    ),
    Variant(
        "active-breast-cancer",
        "Breast cancer (ICD-10 C50.9) diagnosed in November 2023, not resolved.",
        "ineligible",
        ("E3",),
        add(condition("breast-cancer", coded("icd10", "C50.9"), "2023-11-01")),
    ),
    Variant(
        "breast-cancer-cured",
        "Breast cancer (ICD-10 C50.9) in 2016, resolved in 2017.",
        "eligible",
        (),
        add(condition("breast-cancer", coded("icd10", "C50.9"), "2016-03-01", "2017-02-01")),
    ),
    Variant(
        "asthma-significant",
        "Asthma since 2005, still active, which the investigator judges significant.",
        "ineligible",
        ("E3",),
        chain(add(condition("asthma", "asthma", "2005-01-01")), answer("E3", True)),
    ),
    Variant(
        "asthma-not-significant",
        "Asthma since 2005, still active, which the investigator judges not significant.",
        "eligible",
        (),
        chain(add(condition("asthma", "asthma", "2005-01-01")), answer("E3", False)),
    ),
    Variant(
        "asthma-review-pending",
        "Asthma since 2005, still active, not yet judged.",
        "undetermined",
        ("E3",),
        add(condition("asthma", "asthma", "2005-01-01")),
    ),
    Variant(
        "pneumonia-at-screening",
        "Pneumonia (ICD-10 J18.9) from 8 April 2024, between screening and randomization.",
        "ineligible",
        ("E4",),
        add(condition("pneumonia", coded("icd10", "J18.9"), "2024-04-08", "2024-04-20")),
    ),
    Variant(
        "pneumonia-resolved-before-screening",
        "Pneumonia (ICD-10 J18.9) in January 2024, resolved on 5 February 2024.",
        "eligible",
        (),
        add(condition("pneumonia", coded("icd10", "J18.9"), "2024-01-20", "2024-02-05")),
    ),
]
