"""MSV_LE (MSV-allo) example patients: one eligible woman and variants of her.

The eligible patient: 33 at consent, SLE since 2016 (5 of the 11 ACR 1997 criteria, SLICC 2012
classified), lupus nephritis class IV on a biopsy 3 months before the selection visit, entering
from the induction period with only a partial response (the investigator's answer), SLEDAI-2K 12,
on prednisone, mycophenolate, hydroxychloroquine and a stable dose of enalapril, vaccinated,
screening tests negative, and the investigator's answers to the review questions. Selection visit
and consent on 1 March 2024, randomization on 29 March 2024.
"""

from generate import Variant, add, answer, chain, drop, set_fields, set_patient
from generate import medication as course

SELECTION, RANDOMIZATION = "2024-03-01", "2024-03-29"


def lab(ident: str, code: str, date: str, value: object, unit: str | None = None) -> dict:
    event = {"id": ident, "type": "lab", "code": code, "date": date, "value": value}
    if unit is not None:
        event["unit"] = unit
    return event


def fact(code: str, value: object, date: str = SELECTION) -> dict:
    return {"id": f"fact-{code}", "type": "fact", "code": code, "date": date, "value": value}


def daily(value: float, route: str = "oral") -> dict:
    return {
        "dose": {"value": value, "unit": "mg"},
        "frequency": {"count": 1, "period": 1, "unit": "d"},
        "route": route,
    }


def condition(
    ident: str, code: str, onset: str, abatement: str | None = None, **extra: object
) -> dict:
    event = {"id": ident, "type": "condition", "code": code, "onset": onset}
    if abatement is not None:
        event["abatement"] = abatement
    event.update(extra)
    return event


def icd10(ident: str, code: str, onset: str, abatement: str) -> dict:
    return {
        "id": ident,
        "type": "condition",
        "code": [{"system": "icd10", "code": code}],
        "onset": onset,
        "abatement": abatement,
    }


ACR_MET = (
    "malar_rash",
    "arthritis",
    "renal_disorder",
    "immunologic_disorder",
    "antinuclear_antibody",
)
ACR_NOT_MET = (
    "discoid_rash",
    "photosensitivity",
    "oral_ulcers",
    "serositis",
    "neurologic_disorder",
    "hematologic_disorder",
)

BASE = {
    "birth_date": "1990-06-15",
    "sex": "female",
    "dates": {"selection": SELECTION, "consent": SELECTION, "randomization": RANDOMIZATION},
    "coverage": [{"start": "2015-01-01", "end": RANDOMIZATION}],
    "events": [
        condition("sle", "sle", "2016-04-01"),
        condition("ln", "lupus_nephritis", "2023-11-20"),
        *(fact(f"acr1997_{name}", True, "2023-12-01") for name in ACR_MET),
        *(fact(f"acr1997_{name}", False, "2023-12-01") for name in ACR_NOT_MET),
        fact("sle_slicc_2012", True, "2023-12-01"),
        {
            "id": "biopsy",
            "type": "procedure",
            "code": "renal_biopsy",
            "date": "2023-12-01",
            "attributes": {"isn_rps_class": "IV"},
        },
        fact("entered_from_induction", True),
        fact("moderate_severe_recurrence", False),
        {"id": "sledai", "type": "score", "code": "sledai_2k", "date": SELECTION, "value": 12},
        course("pred", "prednisone", "2023-12-05", None, **daily(10)),
        course("mmf", "mycophenolate_mofetil", "2023-12-05", None, **daily(2000)),
        course("hcq", "hydroxychloroquine", "2016-05-01", None, **daily(200)),
        course("enalapril", "enalapril", "2022-01-10", None, **daily(10)),
        lab("hiv", "hiv_test", "2024-02-20", "negative"),
        lab("hcv-ab", "hcv_antibody", "2024-02-20", "negative"),
        lab("hcv-rna", "hcv_rna", "2024-02-20", "not detected"),
        lab("hbsag", "hbsag", "2024-02-20", "negative"),
        lab("anti-hbc", "hbc_antibody_total", "2024-02-20", "negative"),
        lab("ppd", "ppd_induration", "2024-02-20", 0, "mm"),
        lab("quantiferon", "quantiferon", "2024-02-20", "negative"),
        {
            "id": "xray",
            "type": "observation",
            "code": "chest_xray_active_tb",
            "date": "2024-02-20",
            "value": False,
        },
        fact("consent_signed", True),
        fact("childbearing_potential", True),
        fact("effective_contraception", True),
        fact("vaccinated_pneumococcus", True, "2022-10-03"),
        fact("vaccinated_influenza", True, "2023-10-16"),
        fact("pregnant", False),
        fact("breastfeeding", False),
    ],
    "reviews": {
        "I4": {"answer": "met", "by": "site investigator", "note": "partial response at month 3"},
        "E1": {"answer": "not_met", "by": "site investigator"},
        "E8": {"answer": "not_met", "by": "site investigator"},
        "E10": {"answer": "not_met", "by": "site investigator", "note": "normal ECG"},
        "E15": {"answer": "not_met", "by": "site investigator"},
        "E21": {"answer": "not_met", "by": "site investigator"},
        "E23": {"answer": "not_met", "by": "site investigator"},
        "E25": {"answer": "not_met", "by": "site investigator"},
    },
}

REVIEWED = ("I4", "E1", "E8", "E10", "E15", "E21", "E23", "E25")

VARIANTS = [
    Variant("eligible", "The eligible patient itself.", "eligible", ()),
    # ------------------------------------------------------------------ inclusion
    Variant(
        "age-17",
        "Born 2 March 2006: 17 completed years at consent on 1 March 2024, one day short of 18.",
        "ineligible",
        ("I1",),
        set_patient(birth_date="2006-03-02"),
    ),
    Variant(
        "age-18-on-consent-day",
        "Born 1 March 2006: 18 on the day of consent, which is enough.",
        "eligible",
        (),
        set_patient(birth_date="2006-03-01"),
    ),
    Variant(
        "consent-not-signed",
        "The consent is recorded as not signed at the selection visit.",
        "ineligible",
        ("I1",),
        set_fields("fact-consent_signed", value=False),
    ),
    Variant(
        "sle-classification-not-met",
        "Arthritis and the renal disorder are recorded as not met (3 of the 11 ACR criteria) and "
        "the "
        "SLICC 2012 classification as not met.",
        "ineligible",
        ("I2",),
        chain(
            set_fields("fact-acr1997_arthritis", value=False),
            set_fields("fact-acr1997_renal_disorder", value=False),
            set_fields("fact-sle_slicc_2012", value=False),
        ),
    ),
    Variant(
        "acr-3-of-11-slicc-met",
        "Only 3 of the 11 ACR criteria (arthritis and renal disorder not met), but classified by "
        "the "
        "SLICC 2012 criteria: the record accepts either.",
        "eligible",
        (),
        chain(
            set_fields("fact-acr1997_arthritis", value=False),
            set_fields("fact-acr1997_renal_disorder", value=False),
        ),
    ),
    Variant(
        "biopsy-7-months-from-induction",
        "The biopsy was on 15 July 2023, 7.5 months before the selection visit, and the patient "
        "enters "
        "from the induction period, where the limit is 6 months.",
        "ineligible",
        ("I3",),
        set_fields("biopsy", date="2023-07-15"),
    ),
    Variant(
        "biopsy-6-months-exactly",
        "The biopsy was on 1 September 2023, exactly 6 calendar months before the selection visit: "
        "still inside.",
        "eligible",
        (),
        set_fields("biopsy", date="2023-09-01"),
    ),
    Variant(
        "biopsy-7-months-with-recurrence",
        "The same biopsy of 15 July 2023, but the patient enters with a moderate/severe "
        "recurrence, "
        "where the limit is one year (and the recurrence also meets I4).",
        "eligible",
        (),
        chain(
            set_fields("biopsy", date="2023-07-15"),
            set_fields("fact-entered_from_induction", value=False),
            set_fields("fact-moderate_severe_recurrence", value=True),
        ),
    ),
    Variant(
        "biopsy-13-months-with-recurrence",
        "Entering with a moderate/severe recurrence, but the biopsy was on 1 February 2023, 13 "
        "months "
        "before the selection visit.",
        "ineligible",
        ("I3",),
        chain(
            set_fields("biopsy", date="2023-02-01"),
            set_fields("fact-entered_from_induction", value=False),
            set_fields("fact-moderate_severe_recurrence", value=True),
        ),
    ),
    Variant(
        "biopsy-class-not-recorded",
        "The biopsy is recorded without its ISN/RPS class: whether it classified lupus nephritis "
        "cannot be decided.",
        "undetermined",
        ("I3",),
        set_fields("biopsy", attributes={}),
    ),
    Variant(
        "complete-response",
        "The investigator answers that the nephritis responded completely to standard treatment, "
        "and "
        "there is no recurrence.",
        "ineligible",
        ("I4",),
        answer("I4", False),
    ),
    Variant(
        "sledai-8",
        "SLEDAI-2K is 8 at the selection visit.",
        "ineligible",
        ("I5",),
        set_fields("sledai", value=8),
    ),
    Variant(
        "sledai-10",
        "SLEDAI-2K is exactly 10 at the selection visit: the threshold is met.",
        "eligible",
        (),
        set_fields("sledai", value=10),
    ),
    Variant(
        "sledai-missing",
        "No SLEDAI-2K recorded near the selection visit: the activity criterion cannot be decided.",
        "undetermined",
        ("I5",),
        drop("sledai"),
    ),
    Variant(
        "no-contraception",
        "A woman of childbearing potential who is recorded as not using effective contraception.",
        "ineligible",
        ("I6",),
        set_fields("fact-effective_contraception", value=False),
    ),
    Variant(
        "not-vaccinated-pneumococcus",
        "Recorded as not vaccinated against pneumococcus.",
        "ineligible",
        ("I7",),
        set_fields("fact-vaccinated_pneumococcus", value=False),
    ),
    Variant(
        "not-vaccinated-influenza",
        "Recorded at the selection visit as not vaccinated against influenza in this campaign.",
        "ineligible",
        ("I7",),
        set_fields("fact-vaccinated_influenza", value=False, date=SELECTION),
    ),
    Variant(
        "influenza-vaccine-last-season",
        "The only influenza vaccination on record is of 17 October 2022, more than 12 months "
        "before "
        "the selection visit: whether she was vaccinated in the last campaign is not recorded.",
        "undetermined",
        ("I7",),
        set_fields("fact-vaccinated_influenza", date="2022-10-17"),
    ),
    # ------------------------------------------------------------------ A: previous treatments
    Variant(
        "rituximab-4-months",
        "A rituximab infusion of 1 g on 1 November 2023, 4 months before the selection visit.",
        "ineligible",
        ("E2",),
        add(
            course(
                "rituximab",
                "rituximab",
                "2023-11-01",
                "2023-11-01",
                dose={"value": 1000, "unit": "mg"},
                route="intravenous",
            )
        ),
    ),
    Variant(
        "rituximab-7-months",
        "A rituximab infusion on 1 August 2023, 7 months before the selection visit: outside the "
        "6-month window.",
        "eligible",
        (),
        add(
            course(
                "rituximab",
                "rituximab",
                "2023-08-01",
                "2023-08-01",
                dose={"value": 1000, "unit": "mg"},
                route="intravenous",
            )
        ),
    ),
    Variant(
        "belimumab-2-months",
        "Belimumab 10 mg/kg every 4 weeks from 1 October 2023 to 2 January 2024.",
        "ineligible",
        ("E2",),
        add(
            course(
                "belimumab",
                "belimumab",
                "2023-10-01",
                "2024-01-02",
                dose={"value": 600, "unit": "mg"},
                route="intravenous",
                frequency={"count": 1, "period": 4, "unit": "wk"},
            )
        ),
    ),
    Variant(
        "cyclophosphamide-5-months",
        "Cyclophosphamide 500 mg every 2 weeks from 1 September to 10 November 2023 (Euro-Lupus), "
        "within the 6 months.",
        "ineligible",
        ("E3",),
        add(
            course(
                "cyclophosphamide",
                "cyclophosphamide",
                "2023-09-01",
                "2023-11-10",
                dose={"value": 500, "unit": "mg"},
                route="intravenous",
                frequency={"count": 1, "period": 2, "unit": "wk"},
            )
        ),
    ),
    Variant(
        "adalimumab-3-months",
        "Adalimumab 40 mg every 2 weeks until 1 December 2023.",
        "ineligible",
        ("E4",),
        add(
            course(
                "adalimumab",
                "adalimumab",
                "2023-01-01",
                "2023-12-01",
                dose={"value": 40, "unit": "mg"},
                route="subcutaneous",
                frequency={"count": 1, "period": 2, "unit": "wk"},
            )
        ),
    ),
    Variant(
        "ivig-2-months",
        "Intravenous immunoglobulin (ATC J06BA02) on 2 and 3 January 2024.",
        "ineligible",
        ("E5",),
        add(
            {
                "id": "ivig",
                "type": "medication",
                "code": [{"system": "atc", "code": "J06BA02"}],
                "start": "2024-01-02",
                "end": "2024-01-03",
                "route": "intravenous",
            }
        ),
    ),
    Variant(
        "enalapril-dose-increased",
        "Enalapril went from 10 to 20 mg/day on 1 February 2024, within the two months before "
        "selection.",
        "ineligible",
        ("E6",),
        chain(
            set_fields("enalapril", end="2024-01-31", ongoing=None),
            add(course("enalapril-20", "enalapril", "2024-02-01", None, **daily(20))),
        ),
    ),
    Variant(
        "enalapril-dose-increased-3-months-ago",
        "Enalapril went from 10 to 20 mg/day on 1 December 2023, three months before selection: "
        "stable in the two months.",
        "eligible",
        (),
        chain(
            set_fields("enalapril", end="2023-11-30", ongoing=None),
            add(course("enalapril-20", "enalapril", "2023-12-01", None, **daily(20))),
        ),
    ),
    Variant(
        "investigational-product-2-months",
        "Another trial's investigational product taken until 2 January 2024, within 3 months.",
        "ineligible",
        ("E7",),
        add(course("other-ip", "investigational_product", "2023-10-01", "2024-01-02")),
    ),
    Variant(
        "investigational-product-4-months",
        "Another trial's investigational product taken until 1 November 2023, 4 months before: "
        "whether that is within 5 of its half-lives is unknown (the agent's half-life is not "
        "known).",
        "undetermined",
        ("E7",),
        add(course("other-ip", "investigational_product", "2023-08-01", "2023-11-01")),
    ),
    # ------------------------------------------------------------------ B: medical problems
    Variant(
        "myocardial-infarction-3-months",
        "An acute myocardial infarction on 1 December 2023: a cardiac event in the 6 months.",
        "ineligible",
        ("E9",),
        add(condition("mi", "myocardial_infarction", "2023-12-01", "2023-12-20")),
    ),
    Variant(
        "limb-embolism-2-months",
        "An arterial embolism of a leg (ICD-10 I74.3) on 2 January 2024: a peripheral "
        "cardiovascular "
        "event (E9) that is also a thromboembolic event in the 12 months (E11).",
        "ineligible",
        ("E9", "E11"),
        add(icd10("embolism", "I74.3", "2024-01-02", "2024-01-20")),
    ),
    Variant(
        "transient-ischemic-attack-5-months",
        "A transient ischaemic attack (ICD-10 G45.9) on 1 October 2023: a cerebrovascular event.",
        "ineligible",
        ("E9",),
        add(icd10("tia", "G45.9", "2023-10-01", "2023-10-01")),
    ),
    Variant(
        "atrial-fibrillation-judged-a-risk",
        "Active atrial fibrillation, which the investigator judges an inappropriate risk.",
        "ineligible",
        ("E10",),
        chain(
            add(condition("af", "atrial_fibrillation", "2023-06-01", status="active")),
            answer("E10", True),
        ),
    ),
    Variant(
        "deep-vein-thrombosis-5-months",
        "A deep vein thrombosis (ICD-10 I80.2) on 1 October 2023, in the 12 months before "
        "selection.",
        "ineligible",
        ("E11",),
        add(icd10("dvt", "I80.2", "2023-10-01", "2024-01-01")),
    ),
    Variant(
        "anticoagulation-inadequate",
        "On acenocoumarol (ATC B01AA07) since 2023, with INRs the investigator judges inadequate "
        "in "
        "the 6 weeks before selection.",
        "ineligible",
        ("E11",),
        chain(
            add(
                {
                    "id": "acenocoumarol",
                    "type": "medication",
                    "code": [{"system": "atc", "code": "B01AA07"}],
                    "start": "2023-05-01",
                    "ongoing": True,
                    "route": "oral",
                }
            ),
            answer("E11", True),
        ),
    ),
    Variant(
        "cns-lupus-anticonvulsant-change",
        "Active CNS lupus, and levetiracetam started on 15 January 2024 (a change in "
        "anticonvulsant "
        "treatment within 3 months).",
        "ineligible",
        ("E12",),
        add(
            condition("cns-lupus", "cns_lupus", "2024-01-10", status="active"),
            course("levetiracetam", "levetiracetam", "2024-01-15", None, **daily(1000)),
        ),
    ),
    Variant(
        "multiple-sclerosis",
        "Multiple sclerosis diagnosed in 2012.",
        "ineligible",
        ("E13",),
        add(condition("ms", "multiple_sclerosis", "2012-05-01")),
    ),
    Variant(
        "optic-neuritis-history",
        "An optic neuritis in 2019, resolved.",
        "ineligible",
        ("E13",),
        add(condition("optic-neuritis", "optic_neuritis", "2019-02-01", "2019-04-01")),
    ),
    Variant(
        "asthma-needing-steroids",
        "Active asthma that, the investigator answers, needs systemic corticosteroids.",
        "ineligible",
        ("E14",),
        chain(
            add(condition("asthma", "asthma", "2005-01-01", status="active")), answer("E14", True)
        ),
    ),
    Variant(
        "kidney-transplant",
        "A kidney transplantation on 10 June 2019.",
        "ineligible",
        ("E15",),
        add(
            {
                "id": "transplant",
                "type": "procedure",
                "code": "organ_transplantation",
                "date": "2019-06-10",
            }
        ),
    ),
    Variant(
        "pneumonia-hospitalised",
        "A pneumonia from 10 to 20 February 2024 with an inpatient stay from 10 to 15 February.",
        "ineligible",
        ("E16",),
        add(
            condition("pneumonia", "pneumonia", "2024-02-10", "2024-02-20"),
            {
                "id": "stay",
                "type": "procedure",
                "code": "hospitalization",
                "date": "2024-02-10",
                "end": "2024-02-15",
            },
        ),
    ),
    Variant(
        "pneumonia-at-home",
        "The same pneumonia treated at home with oral amoxicillin that ended on 14 February, more "
        "than 2 weeks before the selection visit.",
        "eligible",
        (),
        add(
            condition("pneumonia", "pneumonia", "2024-02-10", "2024-02-20"),
            {
                "id": "amoxicillin",
                "type": "medication",
                "code": [{"system": "atc", "code": "J01CA04"}],
                "start": "2024-02-08",
                "end": "2024-02-14",
                **daily(3000),
            },
        ),
    ),
    Variant(
        "intravenous-antibiotic-3-weeks",
        "Intravenous ceftriaxone (ATC J01DD04) from 5 to 12 February 2024: parenteral treatment in "
        "the 4 weeks before selection.",
        "ineligible",
        ("E16",),
        add(
            {
                "id": "ceftriaxone",
                "type": "medication",
                "code": [{"system": "atc", "code": "J01DD04"}],
                "start": "2024-02-05",
                "end": "2024-02-12",
                **daily(2000, "intravenous"),
            }
        ),
    ),
    Variant(
        "antibiotic-finished-last-week",
        "Oral amoxicillin (ATC J01CA04) that ended on 23 February 2024, within 2 weeks before "
        "selection.",
        "ineligible",
        ("E16",),
        add(
            {
                "id": "amoxicillin",
                "type": "medication",
                "code": [{"system": "atc", "code": "J01CA04"}],
                "start": "2024-02-16",
                "end": "2024-02-23",
                **daily(3000),
            }
        ),
    ),
    Variant(
        "recurrent-urinary-infections",
        "Three urinary tract infections (ICD-10 N39.0, N30.0 and SNOMED 68566005) in March, June "
        "and November 2022: three of the same type within 12 months.",
        "ineligible",
        ("E16",),
        add(
            icd10("uti-1", "N39.0", "2022-03-01", "2022-03-10"),
            icd10("uti-2", "N30.0", "2022-06-01", "2022-06-10"),
            {
                "id": "uti-3",
                "type": "condition",
                "code": [{"system": "snomed", "code": "68566005"}],
                "onset": "2022-11-20",
                "abatement": "2022-11-30",
            },
        ),
    ),
    Variant(
        "urinary-infections-13-months-apart",
        "Three urinary tract infections, the first and the last 13 months apart (March 2022, "
        "August "
        "2022, April 2023): no 12-month period holds all three.",
        "eligible",
        (),
        add(
            icd10("uti-1", "N39.0", "2022-03-01", "2022-03-10"),
            icd10("uti-2", "N39.0", "2022-08-01", "2022-08-10"),
            icd10("uti-3", "N39.0", "2023-04-01", "2023-04-10"),
        ),
    ),
    Variant(
        "three-infections-of-different-types",
        "A pneumonia, a urinary tract infection and a cellulitis within 12 months in 2022: three "
        "infections, but not of the same type.",
        "eligible",
        (),
        add(
            icd10("pneumonia", "J18.9", "2022-03-01", "2022-03-20"),
            icd10("uti", "N39.0", "2022-06-01", "2022-06-10"),
            icd10("cellulitis", "L03.115", "2022-09-01", "2022-09-15"),
        ),
    ),
    Variant(
        "recurrent-oral-herpes",
        "Three episodes of oral herpes simplex (ICD-10 B00.1) in 2023: the record excepts herpes "
        "simplex.",
        "eligible",
        (),
        add(
            icd10("hsv-1", "B00.1", "2023-02-01", "2023-02-10"),
            icd10("hsv-2", "B00.1", "2023-05-01", "2023-05-10"),
            icd10("hsv-3", "B00.1", "2023-09-01", "2023-09-10"),
        ),
    ),
    Variant(
        "active-cellulitis-significant",
        "An active cellulitis since 25 February 2024 that the investigator judges clinically "
        "significant.",
        "ineligible",
        ("E16",),
        chain(
            add(condition("cellulitis", "cellulitis", "2024-02-25", status="active")),
            answer("E16", True),
        ),
    ),
    Variant(
        "hiv-positive",
        "A positive HIV test on 20 February 2024.",
        "ineligible",
        ("E17",),
        set_fields("hiv", value="positive"),
    ),
    Variant(
        "hcv-antibody-positive",
        "Hepatitis C antibodies positive, with no HCV RNA detected: the record excludes either.",
        "ineligible",
        ("E17",),
        set_fields("hcv-ab", value="positive"),
    ),
    Variant(
        "hbsag-positive",
        "HBsAg positive on 20 February 2024.",
        "ineligible",
        ("E17",),
        set_fields("hbsag", value="positive"),
    ),
    Variant(
        "anti-hbc-positive",
        "Total antibodies against the hepatitis B core antigen positive (HBsAg negative).",
        "ineligible",
        ("E17",),
        set_fields("anti-hbc", value="positive"),
    ),
    Variant(
        "ppd-5-mm",
        "The tuberculin skin test reads 5 mm, the threshold.",
        "ineligible",
        ("E18",),
        set_fields("ppd", value=5),
    ),
    Variant(
        "ppd-4-mm",
        "The tuberculin skin test reads 4 mm, below the threshold.",
        "eligible",
        (),
        set_fields("ppd", value=4),
    ),
    Variant(
        "quantiferon-positive",
        "A positive Quantiferon on 20 February 2024, with no TB treatment.",
        "ineligible",
        ("E18",),
        set_fields("quantiferon", value="positive"),
    ),
    Variant(
        "latent-tb-treated-5-weeks",
        "A positive Quantiferon, and isoniazid since 25 January 2024 (5 weeks to the selection "
        "visit), which the investigator judges adequate and expected to be completed.",
        "eligible",
        (),
        chain(
            set_fields("quantiferon", value="positive"),
            add(course("isoniazid", "isoniazid", "2024-01-25", None, **daily(300))),
            answer("E18", False),
        ),
    ),
    Variant(
        "latent-tb-treated-3-weeks",
        "A positive Quantiferon and isoniazid since 9 February 2024: 3 weeks, less than the 4 "
        "continuous weeks that would spare the patient.",
        "ineligible",
        ("E18",),
        chain(
            set_fields("quantiferon", value="positive"),
            add(course("isoniazid", "isoniazid", "2024-02-09", None, **daily(300))),
            answer("E18", False),
        ),
    ),
    Variant(
        "latent-tb-treated-review-pending",
        "A positive Quantiferon and 5 weeks of isoniazid, and the investigator has not yet said "
        "whether the treatment is adequate.",
        "undetermined",
        ("E18",),
        chain(
            set_fields("quantiferon", value="positive"),
            add(course("isoniazid", "isoniazid", "2024-01-25", None, **daily(300))),
        ),
    ),
    Variant(
        "tb-tests-missing",
        "Neither a tuberculin skin test nor a Quantiferon in the 3 months before selection.",
        "undetermined",
        ("E18",),
        drop("ppd", "quantiferon"),
    ),
    Variant(
        "heart-failure-nyha-3",
        "Active heart failure at NYHA class III on 1 February 2024.",
        "ineligible",
        ("E19",),
        add(
            condition("hf", "heart_failure", "2023-06-01", status="active"),
            {"id": "nyha", "type": "score", "code": "nyha_class", "date": "2024-02-01", "value": 3},
        ),
    ),
    Variant(
        "heart-failure-nyha-2",
        "Active heart failure at NYHA class II: not class 3 or 4.",
        "eligible",
        (),
        add(
            condition("hf", "heart_failure", "2023-06-01", status="active"),
            {"id": "nyha", "type": "score", "code": "nyha_class", "date": "2024-02-01", "value": 2},
        ),
    ),
    Variant(
        "active-breast-cancer",
        "An active breast cancer (ICD-10 C50.9) since November 2023.",
        "ineligible",
        ("E20",),
        add(
            {
                "id": "cancer",
                "type": "condition",
                "code": [{"system": "icd10", "code": "C50.9"}],
                "onset": "2023-11-01",
                "status": "active",
            }
        ),
    ),
    Variant(
        "major-surgery-3-weeks",
        "A major operation on 9 February 2024, 3 weeks before the selection visit.",
        "ineligible",
        ("E21",),
        add({"id": "surgery", "type": "procedure", "code": "major_surgery", "date": "2024-02-09"}),
    ),
    Variant(
        "pregnant",
        "Recorded pregnant at the selection visit.",
        "ineligible",
        ("E22",),
        set_fields("fact-pregnant", value=True),
    ),
    Variant(
        "breastfeeding",
        "Recorded breastfeeding at the selection visit.",
        "ineligible",
        ("E22",),
        set_fields("fact-breastfeeding", value=True),
    ),
    Variant(
        "chest-xray-active-tb",
        "The chest X-ray of 20 February 2024 shows changes indicating active tuberculosis.",
        "ineligible",
        ("E24",),
        set_fields("xray", value=True),
    ),
    Variant(
        "chest-xray-missing",
        "No chest X-ray reading in the 3 months before selection, though the X-ray is required.",
        "undetermined",
        ("E24",),
        drop("xray"),
    ),
    Variant(
        "reviews-pending",
        "The investigator has not yet answered the review questions.",
        "undetermined",
        REVIEWED,
        chain(*(answer(ident, None) for ident in REVIEWED)),
    ),
]
