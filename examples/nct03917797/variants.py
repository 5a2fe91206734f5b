"""NCT03917797 (MSC-ROLE) example patients: one eligible woman and variants of her.

The eligible patient: 33 at consent, SLE since 2018 (4 of the 11 ACR 1997 criteria recorded),
ANA 1:320 and anti-dsDNA 85 IU/mL (reference range up to 30), a renal flare since 1 December 2023
with a class IV biopsy on 15 January 2024, an active sediment (25 red cells/HPF) and a UPC ratio
of 2.4 g/g during it, creatinine 0.9 mg/dL (CKD-EPI 2021 eGFR 86.6), on mycophenolate since 2019,
hydroxychloroquine and prednisone, with an intravenous methylprednisolone pulse on 2-4 December
2023, just before the 3 months that the exclusions count back from randomization (11 March
2024). The investigator answered the one review-only question (E5a).
"""

from generate import Variant, add, answer, chain, drop, set_fields, set_patient
from generate import medication as med

CONSENT, SCREENING, RANDOMIZATION = "2024-02-20", "2024-02-26", "2024-03-11"
ACR_MET = ("malar_rash", "renal_disorder", "immunologic_disorder", "antinuclear_antibody")
ACR_NOT_MET = (
    "discoid_rash",
    "photosensitivity",
    "oral_ulcers",
    "arthritis",
    "serositis",
    "neurologic_disorder",
    "hematologic_disorder",
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


def mp_iv(ident: str, start: str, end: str, mg: float) -> dict:
    return med(ident, "methylprednisolone", start, end, **per_day(mg, route="intravenous"))


BASE = {
    "birth_date": "1990-07-12",
    "sex": "female",
    "dates": {
        "consent": CONSENT,
        "screening": SCREENING,
        "randomization": RANDOMIZATION,
        "baseline": "2024-03-12",
        "flare_onset": "2023-12-01",
    },
    "coverage": [{"start": "2016-01-01", "end": "2024-03-12"}],
    "events": [
        {"id": "sle", "type": "condition", "code": "sle", "onset": "2018-05-01"},
        {"id": "ln", "type": "condition", "code": "lupus_nephritis", "onset": "2023-12-01"},
        lab("ana", "ana", "2018-05-10", "1:320"),
        lab(
            "dsdna",
            {"system": "loinc", "code": "32677-7"},
            SCREENING,
            85,
            "IU/mL",
            reference_range={"high": 30},
        ),
        {
            "id": "biopsy",
            "type": "procedure",
            "code": "renal_biopsy",
            "date": "2024-01-15",
            "attributes": {"isn_rps_class": "IV", "isn_rps_activity": "A"},
        },
        lab("rbc-2023", "urine_rbc_hpf", "2023-06-15", 1, "/HPF"),
        lab("wbc-2023", "urine_wbc_hpf", "2023-06-15", 2, "/HPF"),
        lab("casts-2023", "urine_casts", "2023-06-15", "none seen"),
        lab("rbc", {"system": "loinc", "code": "13945-1"}, SCREENING, 25, "/HPF"),
        lab("wbc", {"system": "loinc", "code": "5821-4"}, SCREENING, 4, "/HPF"),
        lab("casts", {"system": "loinc", "code": "9842-6"}, SCREENING, "none seen"),
        lab("upcr", {"system": "loinc", "code": "2890-2"}, SCREENING, 2.4, "g/g"),
        lab("creatinine", {"system": "loinc", "code": "2160-0"}, SCREENING, 0.9, "mg/dL"),
        med("hcq", "hydroxychloroquine", "2018-06-01", None, **per_day(200, 2)),
        med("mmf", "mycophenolate_mofetil", "2019-01-10", None, **per_day(1000, 2)),
        mp_iv("mp-pulse", "2023-12-02", "2023-12-04", 500),
        med("pred-40", "prednisone", "2023-12-05", "2024-01-31", **per_day(40)),
        med("pred-20", "prednisone", "2024-02-01", None, **per_day(20)),
        *(fact(f"acr1997_{name}", True) for name in ACR_MET),
        *(fact(f"acr1997_{name}", False) for name in ACR_NOT_MET),
        fact("pregnant", False, RANDOMIZATION),
        fact("planned_pregnancy", False, RANDOMIZATION),
        fact("planned_surgery", False, RANDOMIZATION),
    ],
    "reviews": {
        "E5a": {"answer": "not_met", "by": "site investigator", "note": "hypertension controlled"},
    },
}

VARIANTS = [
    Variant("eligible", "The eligible patient itself.", "eligible", ()),
    # ------------------------------------------------------------------ I1 age
    Variant(
        "age-76",
        "Born 12 July 1947: 76 completed years at consent, above the registry's 18 to 75.",
        "ineligible",
        ("I1",),
        set_patient(birth_date="1947-07-12"),
    ),
    # ------------------------------------------------------------------ I2 classification
    Variant(
        "acr-3-of-11-slicc-not-met",
        "Malar rash is recorded as not met, leaving 3 of the 11 ACR 1997 criteria, and the site "
        "records the 2012 SLICC classification as not fulfilled.",
        "ineligible",
        ("I2",),
        chain(
            set_fields("fact-acr1997_malar_rash", value=False), add(fact("sle_slicc_2012", False))
        ),
    ),
    Variant(
        "acr-3-of-11-slicc-met",
        "3 of the 11 ACR 1997 criteria (malar rash not met), but the site records the 2012 SLICC "
        "classification as fulfilled: either classification is enough.",
        "eligible",
        (),
        chain(
            set_fields("fact-acr1997_malar_rash", value=False), add(fact("sle_slicc_2012", True))
        ),
    ),
    Variant(
        "acr-3-of-11-slicc-unrecorded",
        "3 of the 11 ACR 1997 criteria (malar rash not met) and no SLICC record: the "
        "classification cannot be decided.",
        "undetermined",
        ("I2",),
        set_fields("fact-acr1997_malar_rash", value=False),
    ),
    # ------------------------------------------------------------------ I3 serology
    Variant(
        "seronegative",
        "ANA 1:40 (below 1:80) and anti-dsDNA 12 IU/mL, inside its reference range up to 30.",
        "ineligible",
        ("I3",),
        chain(set_fields("ana", value="1:40"), set_fields("dsdna", value=12)),
    ),
    Variant(
        "ana-1-40-dsdna-positive",
        "ANA only 1:40, but anti-dsDNA 85 IU/mL is above its range: seropositive through the "
        '"and/or".',
        "eligible",
        (),
        set_fields("ana", value="1:40"),
    ),
    Variant(
        "ana-1-40-dsdna-reported-positive",
        'ANA 1:40 and the anti-dsDNA result reported as the word "positive" instead of a number.',
        "eligible",
        (),
        chain(
            set_fields("ana", value="1:40"),
            set_fields("dsdna", value="positive", unit=None, reference_range=None),
        ),
    ),
    Variant(
        "ana-1-40-dsdna-without-range",
        "ANA 1:40 and anti-dsDNA 12 IU/mL with no reference range: the number alone cannot be "
        "read as positive or negative.",
        "undetermined",
        ("I3",),
        chain(set_fields("ana", value="1:40"), set_fields("dsdna", value=12, reference_range=None)),
    ),
    # ------------------------------------------------------------------ I4a biopsy
    Variant(
        "biopsy-class-v",
        "The biopsy shows ISN/RPS class V (membranous) disease, not class III or IV.",
        "ineligible",
        ("I4a",),
        set_fields("biopsy", attributes={"isn_rps_class": "V"}),
    ),
    Variant(
        "biopsy-class-iv-plus-v",
        "The biopsy shows mixed class IV+V: proliferative class IV with a membranous component.",
        "eligible",
        (),
        set_fields("biopsy", attributes={"isn_rps_class": "IV+V"}),
    ),
    Variant(
        "biopsy-13-months",
        "The class IV biopsy was done on 10 February 2023, 13 months before randomization.",
        "ineligible",
        ("I4a",),
        set_fields("biopsy", date="2023-02-10"),
    ),
    Variant(
        "biopsy-class-not-recorded",
        "The biopsy record carries no ISN/RPS class.",
        "undetermined",
        ("I4a",),
        set_fields("biopsy", attributes={}),
    ),
    # ------------------------------------------------------------------ I4b sediment
    Variant(
        "sediment-inactive",
        "The urinalysis during the flare shows 3 red cells/HPF, 4 white cells/HPF and no casts.",
        "ineligible",
        ("I4b",),
        set_fields("rbc", value=3),
    ),
    Variant(
        "sediment-active-before-flare-only",
        "The sediment was active (25 red cells/HPF) on 15 June 2023, before the flare began on 1 "
        "December, and inactive (3/HPF) during it.",
        "ineligible",
        ("I4b",),
        chain(set_fields("rbc", value=3), set_fields("rbc-2023", value=25)),
    ),
    Variant(
        "sediment-white-cells-only",
        "During the flare 3 red cells/HPF but 12 white cells/HPF (> 8): active through the "
        "second part.",
        "eligible",
        (),
        chain(set_fields("rbc", value=3), set_fields("wbc", value=12)),
    ),
    Variant(
        "sediment-casts-only",
        "During the flare 3 red cells/HPF, 4 white cells/HPF, and casts present: cylindruria.",
        "eligible",
        (),
        chain(set_fields("rbc", value=3), set_fields("casts", value="present")),
    ),
    Variant(
        "flare-onset-not-dated",
        'The site has not dated the onset of the current flare, so "during the current flare" '
        "has no start.",
        "undetermined",
        ("I4b",),
        set_patient(
            dates={
                "consent": CONSENT,
                "screening": SCREENING,
                "randomization": RANDOMIZATION,
                "baseline": "2024-03-12",
            }
        ),
    ),
    # ------------------------------------------------------------------ I4c UPC ratio
    Variant(
        "upcr-0.9",
        "UPC ratio 0.9 g/g, below 1.",
        "ineligible",
        ("I4c",),
        set_fields("upcr", value=0.9),
    ),
    Variant(
        "upcr-113.12-mg-mmol",
        "UPC ratio reported as 113.12 mg/mmol: exactly 1 g/g through creatinine's molar mass "
        "(113.12 g/mol), so >= 1 holds.",
        "eligible",
        (),
        set_fields("upcr", value=113.12, unit="mg/mmol"),
    ),
    Variant(
        "upcr-113.11-mg-mmol",
        "UPC ratio reported as 113.11 mg/mmol: 0.99991 g/g, just below 1.",
        "ineligible",
        ("I4c",),
        set_fields("upcr", value=113.11, unit="mg/mmol"),
    ),
    # ------------------------------------------------------------------ E1 eGFR
    Variant(
        "egfr-39.8-creatinine-152-umol",
        "Creatinine 152 umol/L (1.7194 mg/dL): CKD-EPI 2021 eGFR 39.8 mL/min/1.73m2 at 33, "
        "below 40.",
        "ineligible",
        ("E1",),
        set_fields(
            "creatinine", code={"system": "loinc", "code": "14682-9"}, value=152, unit="umol/L"
        ),
    ),
    Variant(
        "egfr-40.4-creatinine-150-umol",
        "Creatinine 150 umol/L (1.6968 mg/dL): eGFR 40.4 mL/min/1.73m2, just above 40.",
        "eligible",
        (),
        set_fields(
            "creatinine", code={"system": "loinc", "code": "14682-9"}, value=150, unit="umol/L"
        ),
    ),
    Variant(
        "egfr-55.7",
        'Creatinine 1.3 mg/dL: eGFR 55.7 mL/min/1.73m2. Eligible as the rule reads "40ml/min/m2" '
        "(per 1.73 m2); the literal per-m2 reading (69.2 per 1.73 m2) would exclude her.",
        "eligible",
        (),
        set_fields("creatinine", value=1.3),
    ),
    Variant(
        "creatinine-missing",
        "No creatinine within 30 days of screening: eGFR cannot be computed.",
        "undetermined",
        ("E1",),
        drop("creatinine"),
    ),
    Variant(
        "egfr-reported-38-no-creatinine",
        "No creatinine, but the site reports an eGFR (CKD-EPI, LOINC 62238-1) of 38 "
        "mL/min/1.73m2 at screening: E1 computes eGFR first and, when it cannot, uses the "
        "reported one (docs/language.md, 'Reported and computed values').",
        "ineligible",
        ("E1",),
        chain(
            drop("creatinine"),
            add(
                lab("egfr", {"system": "loinc", "code": "62238-1"}, SCREENING, 38, "mL/min/1.73m2")
            ),
        ),
    ),
    Variant(
        "egfr-reported-38-creatinine-0.9",
        "The site reports an eGFR of 38 but the creatinine of the same day (0.9 mg/dL) gives "
        "CKD-EPI 2021 86.6: computed first, so one equation decides E1 for every site.",
        "eligible",
        (),
        add(lab("egfr", {"system": "loinc", "code": "62238-1"}, SCREENING, 38, "mL/min/1.73m2")),
    ),
    # ------------------------------------------------------------------ E2 additions in 3 months
    Variant(
        "mp-bolus-in-window",
        "The methylprednisolone pulse (500 mg/day IV) ran on 11-13 December 2023, the first days "
        "of the 3 months before randomization.",
        "ineligible",
        ("E2",),
        set_fields("mp-pulse", start="2023-12-11", end="2023-12-13"),
    ),
    Variant(
        "mp-iv-200-mg",
        "One more day of IV methylprednisolone, 200 mg on 1 February 2024: 250 mg/day "
        "prednisone-equivalent, exactly the pulse threshold.",
        "ineligible",
        ("E2",),
        add(mp_iv("mp-200", "2024-02-01", "2024-02-01", 200)),
    ),
    Variant(
        "mp-iv-160-mg",
        "IV methylprednisolone 160 mg on 1 February 2024: 200 mg/day prednisone-equivalent, below "
        "the 250 of a pulse, so not a bolus.",
        "eligible",
        (),
        add(mp_iv("mp-160", "2024-02-01", "2024-02-01", 160)),
    ),
    Variant(
        "tacrolimus-new",
        "Tacrolimus 2 mg twice a day started on 20 January 2024, never taken before.",
        "ineligible",
        ("E2",),
        add(med("tac", "tacrolimus", "2024-01-20", None, **per_day(2, 2))),
    ),
    Variant(
        "ivig",
        "Intravenous immunoglobulin (ATC J06BA02) 30 g on 10 January 2024.",
        "ineligible",
        ("E2",),
        add(
            med(
                "ivig",
                {"system": "atc", "code": "J06BA02"},
                "2024-01-10",
                "2024-01-10",
                dose={"value": 30, "unit": "g"},
                route="intravenous",
            )
        ),
    ),
    Variant(
        "plasmapheresis",
        "A plasmapheresis session on 5 January 2024.",
        "ineligible",
        ("E2",),
        add({"id": "tpe", "type": "procedure", "code": "plasmapheresis", "date": "2024-01-05"}),
    ),
    # ------------------------------------------------------------------ E3, E4
    Variant(
        "cyclophosphamide-5-months",
        "An IV cyclophosphamide pulse of 500 mg on 15 October 2023, within 6 months (and before "
        "the 3 months of E2).",
        "ineligible",
        ("E3",),
        add(
            med(
                "cyc",
                "cyclophosphamide",
                "2023-10-15",
                "2023-10-15",
                dose={"value": 500, "unit": "mg"},
                route="intravenous",
            )
        ),
    ),
    Variant(
        "cyclophosphamide-7-months",
        "The IV cyclophosphamide pulse was on 10 August 2023, more than 6 months before "
        "randomization.",
        "eligible",
        (),
        add(
            med(
                "cyc",
                "cyclophosphamide",
                "2023-08-10",
                "2023-08-10",
                dose={"value": 500, "unit": "mg"},
                route="intravenous",
            )
        ),
    ),
    Variant(
        "rituximab-11-months",
        "A rituximab infusion of 1 g (RxNorm 121191) on 20 April 2023, within 12 months.",
        "ineligible",
        ("E4",),
        add(
            med(
                "ritux",
                {"system": "rxnorm", "code": "121191"},
                "2023-04-20",
                "2023-04-20",
                dose={"value": 1000, "unit": "mg"},
                route="intravenous",
            )
        ),
    ),
    # ------------------------------------------------------------------ E5b-E5d
    Variant(
        "pregnant",
        "Recorded pregnant at randomization.",
        "ineligible",
        ("E5b",),
        set_fields("fact-pregnant", value=True),
    ),
    Variant(
        "planned-pregnancy",
        "Recorded as planning a pregnancy during the 12 months of the study.",
        "ineligible",
        ("E5b",),
        set_fields("fact-planned_pregnancy", value=True),
    ),
    Variant(
        "male",
        "A man, with no pregnancy facts recorded: the pregnancy exclusion does not apply (his "
        "eGFR from creatinine 0.9 mg/dL is 115.7).",
        "eligible",
        (),
        chain(set_patient(sex="male"), drop("fact-pregnant", "fact-planned_pregnancy")),
    ),
    Variant(
        "infection-uncontrolled",
        "Pneumonia (ICD-10 J18.9) since 1 March 2024, still active, which the investigator "
        "judges uncontrolled.",
        "ineligible",
        ("E5c",),
        chain(
            add(
                {
                    "id": "pneumonia",
                    "type": "condition",
                    "onset": "2024-03-01",
                    "code": {"system": "icd10", "code": "J18.9"},
                }
            ),
            answer("E5c", True),
        ),
    ),
    Variant(
        "infection-review-pending",
        "The same active pneumonia, with no answer yet on whether it is uncontrolled.",
        "undetermined",
        ("E5c",),
        add(
            {
                "id": "pneumonia",
                "type": "condition",
                "onset": "2024-03-01",
                "code": {"system": "icd10", "code": "J18.9"},
            }
        ),
    ),
    Variant(
        "surgery-pending",
        "A cholecystectomy is indicated and planned: recorded as planned surgery.",
        "ineligible",
        ("E5d",),
        set_fields("fact-planned_surgery", value=True),
    ),
    Variant(
        "reviews-pending",
        "The investigator has not yet answered whether a coexisting morbidity is uncontrolled.",
        "undetermined",
        ("E5a",),
        answer("E5a", None),
    ),
]
