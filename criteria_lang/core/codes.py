"""Codes and the code systems rules and data are matched on."""

from __future__ import annotations

import attrs

# Short names for the coding systems we match on; readers map URIs to these.
CODE_SYSTEMS: tuple[str, ...] = (
    "concept",
    "rxnorm",
    "atc",
    "loinc",
    "snomed",
    "icd10",
    "cvx",
    "local",
    "omop",  # an OMOP CDM concept_id (criteria_lang/omop.py)
)


@attrs.frozen
class Code:
    """One code of an event. `system == "concept"` names a stdlib concept directly."""

    system: str
    code: str
    display: str | None = attrs.field(default=None, eq=False)
