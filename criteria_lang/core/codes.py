"""Codes and the code systems rules and data are matched on: one table for every reader,
writer and engine.

A rule file names a system by its short name (`rxnorm "8640"`); our patient JSON does the
same; FHIR names it by URI (or OID), OMOP by vocabulary_id. Every reader maps to the short
names through this table, the FHIR writer writes the first URI, and the SQL engine will match
OMOP vocabularies through it (docs/language.md, "Concepts"; docs/fhir.md; docs/omop.md).
"""

from __future__ import annotations

import attrs

# criteria-lang's own FHIR definitions (extensions, our code systems) live under this base.
FHIR_BASE = "https://criteria-lang.example/fhir"


@attrs.frozen
class CodeSystem:
    name: str  # the short name rules and our JSON use
    title: str
    # FHIR coding system URIs and OIDs, as listed in FHIR R4 "Using Codes in Resources",
    # section 4.3 (hl7.org/fhir/R4/terminologies-systems.html); the first is the one written.
    uris: tuple[str, ...]
    # OMOP CDM vocabulary_id values (OHDSI Standardized Vocabularies); the first is the one
    # our OMOP writer writes, readers compare them without regard to case.
    omop_vocabularies: tuple[str, ...] = ()
    in_rules: bool = True  # may be written in a rule file (`concept` codes are data only)


CODE_SYSTEM_TABLE: tuple[CodeSystem, ...] = (
    # criteria-lang's own systems, with the OMOP vocabularies our OMOP writer gives them (no
    # OMOP vocabulary holds them; records/omop_write.py).
    CodeSystem(
        "concept",
        "a stdlib concept named directly",
        (f"{FHIR_BASE}/CodeSystem/concept",),
        ("Criteria concept",),
        in_rules=False,
    ),
    CodeSystem(
        "rxnorm",
        "RxNorm",
        ("http://www.nlm.nih.gov/research/umls/rxnorm", "urn:oid:2.16.840.1.113883.6.88"),
        ("RxNorm",),
    ),
    CodeSystem(
        "atc", "WHO ATC", ("http://www.whocc.no/atc", "urn:oid:2.16.840.1.113883.6.73"), ("ATC",)
    ),
    CodeSystem("loinc", "LOINC", ("http://loinc.org", "urn:oid:2.16.840.1.113883.6.1"), ("LOINC",)),
    CodeSystem(
        "snomed",
        "SNOMED CT",
        ("http://snomed.info/sct", "urn:oid:2.16.840.1.113883.6.96"),
        ("SNOMED",),
    ),
    CodeSystem(
        "icd10",
        "ICD-10 and ICD-10-CM",
        (
            "http://hl7.org/fhir/sid/icd-10",
            "urn:oid:2.16.840.1.113883.6.3",
            "http://hl7.org/fhir/sid/icd-10-cm",
            "urn:oid:2.16.840.1.113883.6.90",
        ),
        ("ICD10", "ICD10CM"),
    ),
    CodeSystem(
        "cvx",
        "CDC CVX",
        ("http://hl7.org/fhir/sid/cvx", "urn:oid:2.16.840.1.113883.12.292"),
        ("CVX",),
    ),
    CodeSystem(
        "local", "a site's own codes", (f"{FHIR_BASE}/CodeSystem/local",), ("Criteria local",)
    ),
    # An OMOP CDM concept_id (records/omop.py): the OHDSI Standardized Vocabularies as
    # registered in HL7 terminology (UTG).
    CodeSystem("omop", "OMOP concept id", ("https://fhir-terminology.ohdsi.org",)),
)

CODE_SYSTEMS: tuple[str, ...] = tuple(s.name for s in CODE_SYSTEM_TABLE)
RULE_CODE_SYSTEMS: tuple[str, ...] = tuple(s.name for s in CODE_SYSTEM_TABLE if s.in_rules)
SYSTEM_OF_URI: dict[str, str] = {uri: s.name for s in CODE_SYSTEM_TABLE for uri in s.uris}
URI_OF_SYSTEM: dict[str, str] = {s.name: s.uris[0] for s in CODE_SYSTEM_TABLE}
# Casefolded vocabulary_id -> our system, and our system -> the vocabulary_id written.
SYSTEM_OF_VOCABULARY: dict[str, str] = {
    vocabulary.casefold(): s.name for s in CODE_SYSTEM_TABLE for vocabulary in s.omop_vocabularies
}
VOCABULARY_OF_SYSTEM: dict[str, str] = {
    s.name: s.omop_vocabularies[0] for s in CODE_SYSTEM_TABLE if s.omop_vocabularies
}
CONCEPT_SYSTEM = URI_OF_SYSTEM["concept"]
LOCAL_SYSTEM = URI_OF_SYSTEM["local"]


@attrs.frozen
class Code:
    """One code of an event. `system == "concept"` names a stdlib concept directly."""

    system: str
    code: str
    display: str | None = attrs.field(default=None, eq=False)
