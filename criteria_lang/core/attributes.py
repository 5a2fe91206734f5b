"""The attributes each kind of event carries: one table for the language, the checker and the
readers (docs/language.md, "Attributes").

A rule reads an attribute with `where NAME ...` (and a reason with `for CONCEPT`). It may name an
attribute that its kind carries (below), or one that the queried concept declares (`procedure
renal_biopsy = ... with attributes = "isn_rps_class, nih_activity_index"`), for data that record
more than the standard; any other name is an error (C311): an attribute nothing can carry would
leave the query undecided for every patient. Each reader says where it finds each attribute
(docs/patient-format.md, docs/fhir.md, docs/omop.md).
"""

from __future__ import annotations

from typing import Literal

import attrs

AttributeType = Literal["text", "number", "bool", "quantity", "codes"]


@attrs.frozen
class AttributeSpec:
    """An attribute: its name in rules and in our JSON's `attributes`, the kinds whose events
    carry it, its type, what it means, and where FHIR and OMOP data carry it."""

    name: str
    kinds: tuple[str, ...]
    type: AttributeType
    meaning: str
    fhir: str = ""
    omop: str = ""


_RESULTS = ("lab", "observation", "score")

ATTRIBUTES: tuple[AttributeSpec, ...] = (
    # --- why, how and with what: medications (and immunizations), procedures
    AttributeSpec(
        "reason",
        ("medication", "procedure", "immunization"),
        "codes",
        "why it was given or done (indication, an encounter's reason): read by `for CONCEPT`",
        "reasonCode, reasonReference (the Condition's codes); Encounter also diagnosis",
        "",
    ),
    AttributeSpec(
        "intent",
        ("medication",),
        "text",
        "treatment intent: adjuvant, neoadjuvant, consolidation, maintenance, induction, "
        "palliative, curative, prophylactic ...",
        "our attribute extension",
    ),
    AttributeSpec(
        "stop_reason",
        ("medication",),
        "text",
        "why the drug was stopped (inefficacy, adverse event, ...)",
        "MedicationStatement/MedicationRequest.statusReason (text or first coding's display)",
        "drug_exposure.stop_reason",
    ),
    AttributeSpec(
        "as_needed",
        ("medication",),
        "bool",
        "taken as needed (PRN) rather than on a schedule",
        "Dosage.asNeededBoolean (asNeededCodeableConcept: true)",
    ),
    AttributeSpec(
        "half_life",
        ("medication",),
        "quantity",
        "the drug's half-life as the record gives it (an investigational product the stdlib "
        "cannot know): used by `N half-lives` when the concept declares none",
        "our attribute extension (valueQuantity)",
    ),
    # --- results
    AttributeSpec(
        "method",
        _RESULTS,
        "text",
        "how it was measured (assay, technique, post-bronchodilator ...)",
        "Observation.method (text or first coding's display)",
    ),
    AttributeSpec(
        "specimen",
        _RESULTS,
        "text",
        "the specimen measured (serum, plasma, urine, whole blood ...)",
        "Observation.specimen: the contained or bundled Specimen's type, else the display",
    ),
    AttributeSpec(
        "performer",
        _RESULTS,
        "text",
        "who measured it: the performing laboratory (a central or local laboratory)",
        "Observation.performer[0].display",
    ),
    # --- conditions
    AttributeSpec(
        "verification",
        ("condition", "allergy"),
        "text",
        "confirmed, unconfirmed, provisional, differential",
        "Condition/AllergyIntolerance.verificationStatus",
    ),
    AttributeSpec(
        "severity",
        ("condition", "allergy"),
        "text",
        "mild, moderate, severe",
        "Condition.severity; AllergyIntolerance.reaction[0].severity",
    ),
    AttributeSpec("stage", ("condition",), "text", "the stage as recorded", "Condition.stage"),
    AttributeSpec(
        "body_site",
        ("condition", "procedure", *_RESULTS),
        "text",
        "where on the body",
        "bodySite (text or first coding's display)",
    ),
    # --- encounters read as procedures
    AttributeSpec(
        "class", ("procedure",), "text", "an encounter's class (IMP, EMER, AMB)", "Encounter.class"
    ),
    # --- immunizations and allergies
    AttributeSpec(
        "dose_number",
        ("immunization",),
        "number",
        "which dose of the series",
        "Immunization.protocolApplied[0].doseNumberPositiveInt",
    ),
    AttributeSpec(
        "type",
        ("allergy",),
        "text",
        "allergy or intolerance",
        "AllergyIntolerance.type",
    ),
    AttributeSpec(
        "category",
        ("allergy",),
        "text",
        "food, medication, environment, biologic",
        "AllergyIntolerance.category[0]",
    ),
    AttributeSpec(
        "criticality",
        ("allergy",),
        "text",
        "low, high, unable-to-assess",
        "AllergyIntolerance.criticality",
    ),
    # --- the OMOP reader's columns, kept as attributes (docs/omop.md)
    *(
        AttributeSpec(column, ("condition", "procedure"), "text", "an OMOP column", omop=column)
        for column in (
            "omop_table",
            "visit_occurrence_id",
            "condition_type_concept_id",
            "condition_status_concept_id",
            "cause_concept_id",
            "death_type_concept_id",
            "procedure_type_concept_id",
            "modifier_concept_id",
            "device_type_concept_id",
            "specimen_type_concept_id",
            "anatomic_site_concept_id",
            "disease_status_concept_id",
            "visit_type_concept_id",
            "visit_detail_type_concept_id",
            "provider_specialty_concept_id",
            "place_of_service_concept_id",
        )
    ),
    *(
        AttributeSpec(column, ("condition", "procedure"), "number", "an OMOP count", omop=column)
        for column in ("quantity", "condition_occurrence_count")
    ),
)

# The attribute `for CONCEPT` reads: its values are codes.
REASON = "reason"


def attributes_of(kind: str) -> dict[str, AttributeSpec]:
    """The standard attributes events of `kind` carry, by name."""
    return {a.name: a for a in ATTRIBUTES if kind in a.kinds}


def declared_names(text: str) -> tuple[str, ...]:
    """A concept's `attributes = "a, b c"` as names."""
    return tuple(word for word in text.replace(",", " ").split() if word)
