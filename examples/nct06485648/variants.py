"""NCT06485648 example patients: one eligible woman and variants of her.

The eligible patient: 29 at screening (1 July 2024), SLE since 2019, a kidney biopsy on 10 October
2023 showing class IV+V lupus nephritis with an NIH activity index of 9, treated from 20 October
2023 with prednisone and mycophenolate mofetil, and still nephrotic (protein/creatinine ratio
3.6 g/g in June 2024): no kidney response after 8 months of first-line treatment.
"""

from generate import Variant, answer, chain, drop, set_fields, set_patient

SCREENING = "2024-07-01"


def daily(value: float, route: str = "oral") -> dict:
    return {
        "dose": {"value": value, "unit": "mg"},
        "frequency": {"count": 1, "period": 1, "unit": "d"},
        "route": route,
    }


BASE = {
    "birth_date": "1995-02-11",
    "sex": "female",
    "dates": {"screening": SCREENING},
    "coverage": [{"start": "2018-01-01", "end": SCREENING}],
    "events": [
        {"id": "sle", "type": "condition", "code": "sle", "onset": "2019-03-01"},
        {
            "id": "biopsy",
            "type": "procedure",
            "code": "renal_biopsy",
            "date": "2023-10-10",
            "attributes": {
                "isn_rps_class": "IV+V",
                "nih_activity_index": 9,
                "nih_chronicity_index": 2,
            },
        },
        {
            "id": "pred",
            "type": "medication",
            "code": "prednisone",
            "start": "2023-10-20",
            "ongoing": True,
            **daily(30),
        },
        {
            "id": "mmf",
            "type": "medication",
            "code": "mycophenolate_mofetil",
            "start": "2023-10-20",
            "ongoing": True,
            **daily(3000),
        },
        {
            "id": "upcr",
            "type": "lab",
            "code": "upcr",
            "date": "2024-06-20",
            "value": 3.6,
            "unit": "g/g",
        },
    ],
}

VARIANTS = [
    Variant("eligible", "The eligible patient itself.", "eligible", ()),
    Variant(
        "age-17",
        "Born 2 July 2006: 17 completed years at screening on 1 July 2024 (adults are a choice "
        "made "
        "in the rule file).",
        "ineligible",
        ("I1",),
        set_patient(birth_date="2006-07-02"),
    ),
    Variant(
        "no-sle-diagnosis",
        "No SLE diagnosis anywhere in the record, which covers 2018 onwards.",
        "ineligible",
        ("I1",),
        drop("sle"),
    ),
    Variant(
        "class-v-only",
        "The biopsy shows pure membranous (class V) nephritis, not class III or IV.",
        "ineligible",
        ("I2",),
        set_fields("biopsy", attributes={"isn_rps_class": "V", "nih_activity_index": 0}),
    ),
    Variant(
        "class-iv-activity-0",
        "Class IV, but with an NIH activity index of 0: not active nephritis.",
        "ineligible",
        ("I2",),
        set_fields("biopsy", attributes={"isn_rps_class": "IV", "nih_activity_index": 0}),
    ),
    Variant(
        "class-iii",
        "Class III with an activity index of 4: proliferative nephritis without a membranous part.",
        "eligible",
        (),
        set_fields("biopsy", attributes={"isn_rps_class": "III", "nih_activity_index": 4}),
    ),
    Variant(
        "biopsy-3-years-ago",
        "The only biopsy is of 1 June 2021, more than 2 years before screening.",
        "ineligible",
        ("I2",),
        set_fields("biopsy", date="2021-06-01"),
    ),
    Variant(
        "activity-index-not-recorded",
        "The biopsy records its class (IV+V) but not its NIH activity index.",
        "undetermined",
        ("I2",),
        set_fields("biopsy", attributes={"isn_rps_class": "IV+V"}),
    ),
    Variant(
        "treatment-started-4-months-ago",
        "Prednisone and mycophenolate began on 1 March 2024, 4 months before screening: too early "
        "to call the nephritis refractory.",
        "ineligible",
        ("I3",),
        chain(set_fields("pred", start="2024-03-01"), set_fields("mmf", start="2024-03-01")),
    ),
    Variant(
        "glucocorticoids-only",
        "Prednisone alone, with no first-line immunosuppressant.",
        "ineligible",
        ("I3",),
        drop("mmf"),
    ),
    Variant(
        "azathioprine-instead-of-mmf",
        "Prednisone with azathioprine, which is not among the record's first-line options.",
        "ineligible",
        ("I3",),
        set_fields("mmf", code="azathioprine", dose={"value": 100, "unit": "mg"}),
    ),
    Variant(
        "tacrolimus-instead-of-mmf",
        "Prednisone with tacrolimus, a calcineurin inhibitor: first-line.",
        "eligible",
        (),
        set_fields("mmf", code="tacrolimus", dose={"value": 4, "unit": "mg"}),
    ),
    Variant(
        "upcr-in-mg-per-mmol",
        "The protein/creatinine ratio reported as 400 mg/mmol, which is 3.54 g/g (creatinine "
        "113.12 "
        "g/mol): at or above 3 g/g.",
        "eligible",
        (),
        set_fields("upcr", value=400, unit="mg/mmol"),
    ),
    Variant(
        "upcr-below-3-review-pending",
        "The ratio is 300 mg/mmol (2.65 g/g), below 3 g/g: whether there was no kidney response is "
        "the investigator's call, not yet answered.",
        "undetermined",
        ("I4",),
        set_fields("upcr", value=300, unit="mg/mmol"),
    ),
    Variant(
        "upcr-below-3-no-response",
        "The ratio is 2.2 g/g, and the investigator answers that it fell by less than half from 4 "
        "g/g: no kidney response.",
        "eligible",
        (),
        chain(set_fields("upcr", value=2.2), answer("I4", True)),
    ),
    Variant(
        "upcr-below-3-partial-response",
        "The ratio is 1.2 g/g, down from 4 g/g, and the investigator answers that this is a "
        "partial "
        "response: not refractory.",
        "ineligible",
        ("I4",),
        chain(set_fields("upcr", value=1.2), answer("I4", False)),
    ),
    Variant(
        "upcr-missing",
        "No protein/creatinine ratio in the month before screening: the response cannot be judged.",
        "undetermined",
        ("I4",),
        drop("upcr"),
    ),
]
