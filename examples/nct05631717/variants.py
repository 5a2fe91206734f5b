"""NCT05631717 (UC-MSC vs low-dose IL-2) example patients: one eligible woman and variants of her.

The eligible patient: 31 at consent (26 February 2024), SLE since 2019 with 4 of the 11 ACR 1997
criteria recorded, lupus nephritis since October 2023, SLEDAI-2K 10 at screening (1 March 2024),
UPCR 1.8 g/g and 2.1 g of protein in 24 hours, negative urine and serum pregnancy tests, using
effective contraception, on prednisone 15 mg/day, hydroxychloroquine and a stable mycophenolate
mofetil 1 g twice a day since October 2023. Randomization is on 15 March 2024. The investigator
answered the review questions (I7: will comply; E3: no severe uncontrolled disease).
"""

from generate import Variant, add, answer, chain, coded, drop, immunization, set_fields, set_patient
from generate import medication as med

CONSENT, SCREENING, RANDOMIZATION = "2024-02-26", "2024-03-01", "2024-03-15"
ACR_MET = ("malar_rash", "arthritis", "renal_disorder", "antinuclear_antibody")
ACR_NOT_MET = (
    "discoid_rash",
    "photosensitivity",
    "oral_ulcers",
    "serositis",
    "neurologic_disorder",
    "hematologic_disorder",
    "immunologic_disorder",
)


def lab(
    ident: str, code: object, date: str, value: object, unit: str | None = None, **extra: object
) -> dict:
    event = {"id": ident, "type": "lab", "code": code, "date": date, "value": value}
    if unit is not None:
        event["unit"] = unit
    event.update(extra)
    return event


def fact(code: str, value: object, date: str = SCREENING) -> dict:
    return {"id": f"fact-{code}", "type": "fact", "code": code, "date": date, "value": value}


def per_day(value: float, times: int = 1, route: str = "oral") -> dict:
    return {
        "dose": {"value": value, "unit": "mg"},
        "frequency": {"count": times, "period": 1, "unit": "d"},
        "route": route,
    }


def condition(ident: str, icd10: str, onset: str, abatement: str | None = None) -> dict:
    event: dict = {
        "id": ident,
        "type": "condition",
        "code": {"system": "icd10", "code": icd10},
        "onset": onset,
    }
    if abatement is not None:
        event["abatement"] = abatement
    return event


def atc(code: str) -> dict:
    return {"system": "atc", "code": code}


BASE = {
    "birth_date": "1992-04-03",
    "sex": "female",
    "dates": {"consent": CONSENT, "screening": SCREENING, "randomization": RANDOMIZATION},
    "coverage": [{"start": "2017-01-01", "end": RANDOMIZATION}],
    "events": [
        {"id": "sle", "type": "condition", "code": "sle", "onset": "2019-03-01"},
        {"id": "ln", "type": "condition", "code": "lupus_nephritis", "onset": "2023-10-01"},
        {"id": "sledai", "type": "score", "code": "sledai_2k", "date": SCREENING, "value": 10},
        lab("upcr", {"system": "loinc", "code": "2890-2"}, "2024-02-28", 1.8, "g/g"),
        lab("protein-24h", {"system": "loinc", "code": "2889-4"}, "2024-02-28", 2.1, "g/24h"),
        lab("hcg-urine", {"system": "loinc", "code": "2106-3"}, SCREENING, "negative"),
        lab("hcg-serum", {"system": "loinc", "code": "2118-8"}, SCREENING, "negative"),
        med("pred", "prednisone", "2023-10-10", None, **per_day(15)),
        med("hcq", "hydroxychloroquine", "2019-04-01", None, **per_day(200, 2)),
        med("mmf", {"system": "rxnorm", "code": "68149"}, "2023-10-15", None, **per_day(1000, 2)),
        *(fact(f"acr1997_{name}", True) for name in ACR_MET),
        *(fact(f"acr1997_{name}", False) for name in ACR_NOT_MET),
        fact("reproductive_potential", True),
        fact("childbearing_potential", True),
        fact("effective_contraception", True),
        fact("consent_signed", True, CONSENT),
        fact("pregnant", False),
        fact("breastfeeding", False),
        fact("planned_surgery", False),
        fact("planned_live_vaccine", False),
    ],
    "reviews": {
        "I7": {"answer": "met", "by": "site investigator"},
        "E3": {"answer": "not_met", "by": "site investigator"},
    },
}

VARIANTS = [
    Variant("eligible", "The eligible patient itself.", "eligible", ()),
    # ------------------------------------------------------------------ I1 ACR 1997
    Variant(
        "acr-3-of-11",
        "Arthritis is recorded as not met: 3 of the 11 ACR 1997 criteria, one short of 4.",
        "ineligible",
        ("I1",),
        set_fields("fact-acr1997_arthritis", value=False),
    ),
    Variant(
        "acr-3-recorded-8-unrecorded",
        "Only the malar rash, renal disorder and ANA criteria are recorded (as met); the other 8 "
        "are not recorded, so a fourth may or may not be met.",
        "undetermined",
        ("I1",),
        drop("fact-acr1997_arthritis", *(f"fact-acr1997_{name}" for name in ACR_NOT_MET)),
    ),
    # ------------------------------------------------------------------ I2 age
    Variant(
        "age-18",
        "Born 1 June 2005: 18 completed years at consent, not > 18.",
        "ineligible",
        ("I2",),
        set_patient(birth_date="2005-06-01"),
    ),
    Variant(
        "age-65",
        "Born 1 June 1958: 65 completed years at consent, still <= 65.",
        "eligible",
        (),
        set_patient(birth_date="1958-06-01"),
    ),
    Variant(
        "age-66",
        "Born 1 June 1957: 66 completed years at consent, above 65.",
        "ineligible",
        ("I2",),
        set_patient(birth_date="1957-06-01"),
    ),
    # ------------------------------------------------------------------ I3 SLEDAI-2K
    Variant(
        "sledai-4",
        "SLEDAI-2K is 4 at screening.",
        "ineligible",
        ("I3",),
        set_fields("sledai", value=4),
    ),
    Variant(
        "sledai-missing",
        "No SLEDAI-2K recorded within 14 days of screening.",
        "undetermined",
        ("I3",),
        drop("sledai"),
    ),
    # ------------------------------------------------------------------ I4 proteinuria
    Variant(
        "proteinuria-low",
        "UPCR 0.8 g/g and 0.9 g of protein in 24 hours: neither above 1.0.",
        "ineligible",
        ("I4",),
        chain(set_fields("upcr", value=0.8), set_fields("protein-24h", value=0.9)),
    ),
    Variant(
        "only-24h-protein-high",
        "UPCR 0.8 g/g, but 2.1 g of protein in 24 hours: the second part suffices.",
        "eligible",
        (),
        set_fields("upcr", value=0.8),
    ),
    Variant(
        "only-upcr-high",
        "0.9 g of protein in 24 hours, but UPCR 1.8 g/g: the first part suffices.",
        "eligible",
        (),
        set_fields("protein-24h", value=0.9),
    ),
    Variant(
        "upcr-113.12-mg-mmol",
        "UPCR reported as 113.12 mg/mmol, exactly 1.0 g/g through creatinine's molar mass: not "
        "> 1.0, and 24-hour protein 0.9 g.",
        "ineligible",
        ("I4",),
        chain(
            set_fields("upcr", value=113.12, unit="mg/mmol"), set_fields("protein-24h", value=0.9)
        ),
    ),
    Variant(
        "upcr-113.2-mg-mmol",
        "UPCR reported as 113.2 mg/mmol (1.0007 g/g), just above 1.0, with 24-hour protein 0.9 g.",
        "eligible",
        (),
        chain(
            set_fields("upcr", value=113.2, unit="mg/mmol"), set_fields("protein-24h", value=0.9)
        ),
    ),
    # ---------------------------------------------------- I5, I6 contraception, pregnancy tests
    Variant(
        "no-contraception",
        "Fertile, and recorded as not agreeing to use effective contraception.",
        "ineligible",
        ("I5",),
        set_fields("fact-effective_contraception", value=False),
    ),
    Variant(
        "postmenopausal",
        "Not fertile and not of childbearing potential: no contraception and no pregnancy tests "
        "are needed.",
        "eligible",
        (),
        chain(
            set_fields("fact-reproductive_potential", value=False),
            set_fields("fact-childbearing_potential", value=False),
            set_fields("fact-effective_contraception", value=False),
            drop("hcg-urine", "hcg-serum"),
        ),
    ),
    Variant(
        "serum-pregnancy-test-positive",
        "The serum pregnancy test is positive (the urine test negative): both must be negative.",
        "ineligible",
        ("I6",),
        set_fields("hcg-serum", value="positive"),
    ),
    Variant(
        "serum-pregnancy-test-missing",
        "Only the urine pregnancy test was done; the serum test is missing.",
        "undetermined",
        ("I6",),
        drop("hcg-serum"),
    ),
    # ------------------------------------------------------------------ I7 consent
    Variant(
        "consent-not-signed",
        "Informed consent recorded as not signed.",
        "ineligible",
        ("I7",),
        set_fields("fact-consent_signed", value=False),
    ),
    Variant(
        "reviews-pending",
        "The investigator has not yet answered the compliance (I7) and comorbidity (E3) questions.",
        "undetermined",
        ("I7", "E3"),
        chain(answer("I7", None), answer("E3", None)),
    ),
    # ------------------------------------------------------------------ E1a-E1c drugs
    Variant(
        "rituximab-20-weeks",
        "A rituximab infusion of 1 g on 13 October 2023, 20 weeks before screening.",
        "ineligible",
        ("E1a",),
        add(
            med(
                "ritux",
                "rituximab",
                "2023-10-13",
                "2023-10-13",
                dose={"value": 1000, "unit": "mg"},
                route="intravenous",
            )
        ),
    ),
    Variant(
        "rituximab-25-weeks",
        "The rituximab infusion was on 8 September 2023, 25 weeks before screening.",
        "eligible",
        (),
        add(
            med(
                "ritux",
                "rituximab",
                "2023-09-08",
                "2023-09-08",
                dose={"value": 1000, "unit": "mg"},
                route="intravenous",
            )
        ),
    ),
    Variant(
        "mycophenolate-dose-reduced",
        "Mycophenolate mofetil was reduced from 1 g to 750 mg twice a day on 21 January 2024, "
        "inside the 12 weeks before screening.",
        "ineligible",
        ("E1b",),
        chain(
            set_fields("mmf", ongoing=None, end="2024-01-20"),
            add(
                med(
                    "mmf-750",
                    {"system": "rxnorm", "code": "68149"},
                    "2024-01-21",
                    None,
                    **per_day(750, 2),
                )
            ),
        ),
    ),
    Variant(
        "tacrolimus-started",
        "Tacrolimus 2 mg twice a day started on 15 January 2024: a start inside the 12 weeks.",
        "ineligible",
        ("E1b",),
        add(med("tac", "tacrolimus", "2024-01-15", None, **per_day(2, 2))),
    ),
    Variant(
        "belimumab-3-weeks",
        "A belimumab infusion (10 mg/kg, 600 mg) on 10 February 2024, within 4 weeks of screening.",
        "ineligible",
        ("E1c",),
        add(
            med(
                "belimumab",
                "belimumab",
                "2024-02-10",
                "2024-02-10",
                dose={"value": 600, "unit": "mg"},
                route="intravenous",
            )
        ),
    ),
    Variant(
        "tofacitinib",
        "Tofacitinib (ATC L04AF01) 5 mg twice a day until 20 February 2024: a JAK inhibitor "
        "within 4 weeks (and not a conventional immunosuppressant for E1b).",
        "ineligible",
        ("E1c",),
        add(med("tofa", atc("L04AF01"), "2023-11-01", "2024-02-20", **per_day(5, 2))),
    ),
    # ------------------------------------------------------------------ E2 apheresis
    Variant(
        "plasmapheresis",
        "A plasmapheresis session on 5 January 2024, 8 weeks before screening.",
        "ineligible",
        ("E2",),
        add({"id": "tpe", "type": "procedure", "code": "plasmapheresis", "date": "2024-01-05"}),
    ),
    Variant(
        "immunoadsorption",
        "An immunoadsorption session on 5 January 2024.",
        "ineligible",
        ("E2",),
        add({"id": "ia", "type": "procedure", "code": "immunoadsorption", "date": "2024-01-05"}),
    ),
    # ------------------------------------------------------------------ E4 infections
    Variant(
        "pneumonia-judged-severe",
        "Pneumonia (ICD-10 J18.9) since 5 March 2024, still active, judged severe by the "
        "investigator.",
        "ineligible",
        ("E4",),
        chain(add(condition("pneumonia", "J18.9", "2024-03-05")), answer("E4", True)),
    ),
    Variant(
        "pneumonia-review-pending",
        "The same active pneumonia, not yet judged.",
        "undetermined",
        ("E4",),
        add(condition("pneumonia", "J18.9", "2024-03-05")),
    ),
    Variant(
        "onychomycosis",
        "Onychomycosis (ICD-10 B35.1) since 5 March 2024: an infection the criterion excludes.",
        "eligible",
        (),
        add(condition("onychomycosis", "B35.1", "2024-03-05")),
    ),
    Variant(
        "hospitalized-iv-antibiotics",
        "An inpatient stay on 10-15 February 2024 with intravenous ceftriaxone (ATC J01DD04), "
        "within 4 weeks before screening.",
        "ineligible",
        ("E4",),
        add(
            {
                "id": "admission",
                "type": "procedure",
                "code": {"system": "local", "code": "encounter-IMP"},
                "date": "2024-02-10",
                "end": "2024-02-15",
            },
            med(
                "ceftriaxone",
                atc("J01DD04"),
                "2024-02-10",
                "2024-02-15",
                **per_day(2000, route="intravenous"),
            ),
        ),
    ),
    Variant(
        "treated-infection-2-weeks",
        "A urinary tract infection (ICD-10 N39.0) on 22-29 February 2024 treated with oral "
        "nitrofurantoin (ATC J01XE01), within 2 weeks before screening.",
        "ineligible",
        ("E4",),
        add(
            condition("uti", "N39.0", "2024-02-22", "2024-02-29"),
            med("nitrofurantoin", atc("J01XE01"), "2024-02-22", "2024-02-28", **per_day(100, 2)),
        ),
    ),
    Variant(
        "prophylaxis-only",
        "Co-trimoxazole prophylaxis (ATC J01EE01) since January 2024, with no infection recorded.",
        "eligible",
        (),
        add(med("ctx", atc("J01EE01"), "2024-01-02", None, **per_day(480))),
    ),
    # ------------------------------------------------------------------ E5 surgery
    Variant(
        "major-surgery-8-weeks",
        "A major operation (flagged major_surgery by the site) on 5 January 2024.",
        "ineligible",
        ("E5",),
        add({"id": "surgery", "type": "procedure", "code": "major_surgery", "date": "2024-01-05"}),
    ),
    Variant(
        "planned-surgery-risky",
        "Surgery is planned during the study, and the researchers judge it a major operation of "
        "unacceptable risk.",
        "ineligible",
        ("E5",),
        chain(set_fields("fact-planned_surgery", value=True), answer("E5", True)),
    ),
    # ------------------------------------------------------------------ E6 live vaccines
    Variant(
        "mmr-vaccine",
        "A measles-mumps-rubella live vaccine (ATC J07BD52) on 20 January 2024, within 12 weeks "
        "before randomization.",
        "ineligible",
        ("E6",),
        add(med("mmr", atc("J07BD52"), "2024-01-20", "2024-01-20")),
    ),
    Variant(
        "mmr-immunization",
        "A measles-mumps-rubella vaccination recorded as an immunization (CVX 03, as FHIR "
        "Immunization records carry it) on 20 January 2024, within 12 weeks before randomization.",
        "ineligible",
        ("E6",),
        add(immunization("mmr", coded("cvx", "03"), "2024-01-20")),
    ),
    Variant(
        "zoster-live-vaccine",
        "A live herpes zoster vaccine (ATC J07BK02) on 20 January 2024: the excepted vaccination.",
        "eligible",
        (),
        add(med("zoster", atc("J07BK02"), "2024-01-20", "2024-01-20")),
    ),
    # ------------------------------------------------------------------ E7 malignancy
    Variant(
        "breast-cancer-history",
        "Breast cancer (ICD-10 C50.9) in 2015, treated and in remission since 2016.",
        "ineligible",
        ("E7",),
        add(condition("breast-cancer", "C50.9", "2015-05-01", "2016-01-15")),
    ),
    Variant(
        "basal-cell-carcinoma-excised",
        "A basal cell carcinoma of the nose (ICD-10-CM C44.311) in 2021, excised (abated) a "
        "month later.",
        "eligible",
        (),
        add(condition("bcc", "C44.311", "2021-02-01", "2021-03-01")),
    ),
    Variant(
        "basal-cell-carcinoma-not-excised",
        "A basal cell carcinoma of the nose (C44.311) found on 10 January 2024, not yet excised.",
        "ineligible",
        ("E7",),
        add(condition("bcc", "C44.311", "2024-01-10")),
    ),
    # ------------------------------------------------------------------ E8
    Variant(
        "breastfeeding",
        "Recorded as breastfeeding at screening.",
        "ineligible",
        ("E8",),
        set_fields("fact-breastfeeding", value=True),
    ),
]
