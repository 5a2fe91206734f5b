"""NCT00917761 (HBeAg-negative chronic hepatitis B) example patients.

The eligible patient: a man of 42 at screening (11 March 2024). HBsAg positive since May 2022 (and
in September 2023 and February 2024), anti-HBe positive and HBeAg negative in September 2023 and
February 2024, HBV DNA above 2,000 IU/mL three times in the 12 months (8,500, 12,000 and 25,000),
ALT 110 U/L against an upper limit of 40 (2.75 x ULN), a liver biopsy in November 2023. Blood
counts, creatinine, HIV and HCV tests, alcohol intake (5 g a day) and Child-Pugh score (5) are
normal; he agrees to contraception and has signed the consent. The investigator confirmed the
biopsy (I5); no allergy is on record.
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
    procedure,
    result,
    set_fields,
    set_patient,
)

SCREENING = "2024-03-11"
LAST = "2024-02-20"  # the screening blood tests
EARLIER = "2023-09-01"


def lab(ident: str, code: object, date: str, value: object, unit: str | None = None) -> dict:
    return result("lab", ident, code, date, value, unit)


def with_range(event: dict, high: float) -> dict:
    return event | {"reference_range": {"high": high}}


def dna(ident: str, date: str, iu_per_ml: float) -> dict:
    return lab(ident, coded("loinc", "42595-9"), date, iu_per_ml, "IU/mL")


BASE = {
    "birth_date": "1981-07-04",
    "sex": "male",
    "dates": {"screening": SCREENING},
    "coverage": [{"start": "2015-01-01", "end": SCREENING}],
    "events": [
        condition("chb", coded("icd10", "B18.1"), "2022-05-10"),
        lab("hbsag-2022", "hbsag", "2022-05-10", "positive"),
        lab("hbsag-2023", "hbsag", EARLIER, "positive"),
        lab("hbsag", "hbsag", LAST, "positive"),
        lab("antihbe-2023", coded("loinc", "22320-6"), EARLIER, "positive"),
        lab("antihbe", coded("loinc", "22320-6"), LAST, "positive"),
        lab("hbeag-2023", coded("loinc", "13954-3"), EARLIER, "negative"),
        lab("hbeag", coded("loinc", "13954-3"), LAST, "negative"),
        dna("dna-1", "2023-05-15", 8500),
        dna("dna-2", EARLIER, 12000),
        dna("dna-3", LAST, 25000),
        with_range(lab("alt", "alt", LAST, 110, "U/L"), 40),
        procedure("biopsy", coded("local", "liver_biopsy"), "2023-11-15"),
        lab("hb", "hemoglobin", LAST, 14.5, "g/dL"),
        lab("neutrophils", "neutrophils", LAST, 3.2, "10^9/L"),
        lab("platelets", "platelets", LAST, 180, "10^9/L"),
        with_range(lab("creatinine", "creatinine", LAST, 0.9, "mg/dL"), 1.3),
        lab("hiv", "hiv_test", LAST, "negative"),
        lab("hcv-rna", "hcv_rna", LAST, "not detected"),
        result("observation", "alcohol", coded("local", "alcohol_g_per_day"), LAST, 5, "g/d"),
        result("score", "child-pugh", coded("local", "child_pugh"), LAST, 5),
        fact("reproductive_potential", True, SCREENING),
        fact("effective_contraception", True, SCREENING),
        fact("consent_signed", True, SCREENING),
    ],
    "reviews": {
        "I5": {"answer": "met", "by": "site investigator", "note": "METAVIR A2 F2"},
    },
}

VARIANTS = [
    ELIGIBLE,
    # ------------------------------------------------------------------ I1 serology
    Variant(
        "hbeag-positive-last-month",
        "HBeAg positive on 20 February 2024: not absent for the last 3 months.",
        "ineligible",
        ("I1",),
        set_fields("hbeag", value="positive"),
    ),
    Variant(
        "hbsag-first-positive-4-months-ago",
        "The first HBsAg on record is from November 2023 (the 2022 and 2023 tests are not on "
        "record): its presence for more than 6 months cannot be shown.",
        "undetermined",
        ("I1",),
        chain(
            drop("hbsag-2022", "hbsag-2023"),
            add(lab("hbsag-nov", "hbsag", "2023-11-10", "positive")),
        ),
    ),
    # ------------------------------------------------------------------ I2 age
    Variant(
        "age-18",
        "Born 1 June 2005: 18 at screening, not older than 18 in completed years.",
        "ineligible",
        ("I2",),
        set_patient(birth_date="2005-06-01"),
    ),
    # ------------------------------------------------------------------ I3 HBV DNA
    Variant(
        "hbv-dna-2000-once",
        "The May 2023 HBV DNA was exactly 2,000 IU/mL: only two results above 2,000.",
        "ineligible",
        ("I3",),
        set_fields("dna-1", value=2000),
    ),
    Variant(
        "hbv-dna-in-copies",
        "The May 2023 HBV DNA was reported as 40,000 copies per mL (unit /mL), which does not "
        "convert to IU/mL (it depends on the assay): two results above 2,000 IU/mL are certain, "
        "the third is not known.",
        "undetermined",
        ("I3",),
        set_fields("dna-1", value=40000, unit="/mL"),
    ),
    # ------------------------------------------------------------------ I4 ALT
    Variant(
        "alt-1.9-x-uln",
        "ALT 76 U/L against an upper limit of 40: 1.9 x ULN, below 2.",
        "ineligible",
        ("I4",),
        set_fields("alt", value=76),
    ),
    Variant(
        "alt-10-x-uln",
        "ALT 400 U/L against an upper limit of 40: exactly 10 x ULN, included.",
        "eligible",
        (),
        set_fields("alt", value=400),
    ),
    Variant(
        "alt-11-x-uln",
        "ALT 440 U/L: 11 x ULN, above 10.",
        "ineligible",
        ("I4",),
        set_fields("alt", value=440),
    ),
    # ------------------------------------------------------------------ I5 biopsy
    Variant(
        "no-liver-biopsy",
        "No liver biopsy on record.",
        "ineligible",
        ("I5",),
        drop("biopsy"),
    ),
    # ------------------------------------------------------------------ E1-E3 blood counts
    Variant(
        "male-hemoglobin-12.8",
        "Hemoglobin 12.8 g/dL in a man: below 13.",
        "ineligible",
        ("E1",),
        set_fields("hb", value=12.8),
    ),
    Variant(
        "female-hemoglobin-12.8",
        "The same hemoglobin of 12.8 g/dL in a woman: not below her threshold of 12.",
        "eligible",
        (),
        chain(set_patient(sex="female"), set_fields("hb", value=12.8)),
    ),
    Variant(
        "neutrophils-1400-per-mm3",
        "Neutrophils reported as 1,400 /mm3 (1.4 x 10^9/L): below 1,500.",
        "ineligible",
        ("E2",),
        set_fields("neutrophils", value=1400, unit="/mm3"),
    ),
    Variant(
        "platelets-85",
        "Platelets 85 x 10^9/L: below 90,000 /mm3.",
        "ineligible",
        ("E3",),
        set_fields("platelets", value=85),
    ),
    # ------------------------------------------------------------------ E4 co-infection
    Variant(
        "hiv-positive",
        "An HIV test positive on 20 February 2024.",
        "ineligible",
        ("E4",),
        set_fields("hiv", value="positive"),
    ),
    Variant(
        "hepatitis-delta",
        "Chronic hepatitis B with delta agent (ICD-10 B18.0) recorded in 2023.",
        "ineligible",
        ("E4",),
        add(condition("hdv", coded("icd10", "B18.0"), "2023-09-01")),
    ),
    Variant(
        "hcv-rna-detected",
        "HCV RNA detected on 20 February 2024 (read as the co-infection the record names HBV).",
        "ineligible",
        ("E4",),
        set_fields("hcv-rna", value="detected"),
    ),
    # ------------------------------------------------------------------ E5-E7
    Variant(
        "alcohol-30-g-a-day",
        "Alcohol intake recorded as 30 g a day.",
        "ineligible",
        ("E5",),
        set_fields("alcohol", value=30),
    ),
    Variant(
        "alcohol-20-g-a-day",
        "Alcohol intake recorded as 20 g a day: not more than 20.",
        "eligible",
        (),
        set_fields("alcohol", value=20),
    ),
    Variant(
        "child-pugh-7",
        "Child-Pugh score 7 (class B).",
        "ineligible",
        ("E6",),
        set_fields("child-pugh", value=7),
    ),
    Variant(
        "creatinine-1.54-x-uln",
        "Creatinine 2.0 mg/dL against an upper limit of 1.3: 1.54 x ULN.",
        "ineligible",
        ("E7",),
        set_fields("creatinine", value=2.0),
    ),
    Variant(
        "creatinine-without-range",
        "Creatinine reported without a reference range: its upper limit of normal is not known.",
        "undetermined",
        ("E7",),
        set_fields("creatinine", reference_range=None),
    ),
    # ------------------------------------------------------------------ E8-E11
    Variant(
        "autoimmune-hepatitis",
        "Autoimmune hepatitis (ICD-10 K75.4) diagnosed in 2019.",
        "ineligible",
        ("E8",),
        add(condition("aih", coded("icd10", "K75.4"), "2019-04-01")),
    ),
    Variant(
        "hepatocellular-carcinoma",
        "Hepatocellular carcinoma (ICD-10 C22.0) found in January 2024.",
        "ineligible",
        ("E9",),
        add(condition("hcc", coded("icd10", "C22.0"), "2024-01-15")),
    ),
    Variant(
        "kidney-transplant",
        "A kidney transplant recipient (ICD-10 Z94.0) since 2017.",
        "ineligible",
        ("E10",),
        add(condition("tx", coded("icd10", "Z94.0"), "2017-06-01")),
    ),
    Variant(
        "azathioprine",
        "Azathioprine 100 mg a day from October 2023 to January 2024.",
        "ineligible",
        ("E11",),
        add(medication("aza", "azathioprine", "2023-10-01", "2024-01-31", **dosing(100))),
    ),
    Variant(
        "prednisone-30-mg-for-3-weeks",
        "Prednisone 30 mg a day for 21 days in January 2024: an immunosuppressive dose.",
        "ineligible",
        ("E11",),
        add(medication("pred", "prednisone", "2024-01-05", "2024-01-25", **dosing(30))),
    ),
    Variant(
        "prednisone-10-mg",
        "Prednisone 10 mg a day for 21 days in January 2024: below 20 mg a day.",
        "eligible",
        (),
        add(medication("pred", "prednisone", "2024-01-05", "2024-01-25", **dosing(10))),
    ),
    # ------------------------------------------------------------------ E12-E16
    Variant(
        "asthma-poorly-controlled",
        "Asthma since 2010, which the investigator judges poorly controlled.",
        "ineligible",
        ("E12",),
        chain(add(condition("asthma", "asthma", "2010-01-01")), answer("E12", True)),
    ),
    Variant(
        "asthma-review-pending",
        "Asthma since 2010, its control not yet judged.",
        "undetermined",
        ("E12",),
        add(condition("asthma", "asthma", "2010-01-01")),
    ),
    Variant(
        "cocaine-abuse",
        "Harmful use of cocaine (ICD-10 F14.1) recorded in October 2023.",
        "ineligible",
        ("E13",),
        add(condition("cocaine", coded("icd10", "F14.1"), "2023-10-01", "2023-10-01")),
    ),
    Variant(
        "no-contraception",
        "He does not agree to use contraception.",
        "ineligible",
        ("E14",),
        set_fields("fact-effective_contraception", value=False),
    ),
    Variant(
        "consent-refused",
        "He refuses to sign the informed consent.",
        "ineligible",
        ("E16",),
        set_fields("fact-consent_signed", value=False),
    ),
    Variant(
        "reviews-pending",
        "No one has confirmed the biopsy reading (I5) yet.",
        "undetermined",
        ("I5",),
        answer("I5", None),
    ),
    Variant(
        "entecavir-allergy",
        "An allergy to entecavir on record since 2021 (an AllergyIntolerance, recorded by name).",
        "ineligible",
        ("E15",),
        add(
            {
                "id": "allergy-entecavir",
                "type": "allergy",
                "code": "entecavir",
                "onset": "2021-04-01",
                "status": "active",
                "attributes": {"type": "allergy", "criticality": "high"},
            }
        ),
    ),
]
