"""The units data carry, each in our unit syntax, as a UCUM code and as an OMOP unit concept.

One table for three readers of units: the plan lists, for every threshold, the exact factor from
each of these units that converts to it (docs/plan.md, "Units"), so that an engine that cannot
call our unit registry (SQL over OMOP) converts by `unit_concept_id` or by UCUM code; the OMOP
reader names a unit concept that its concept table does not describe; tests check that each
UCUM code means exactly the unit of our spelling (`parse_ucum(ucum) == parse(ours)`).

OMOP ids are concept_ids of the OMOP "UCUM" vocabulary (athena.ohdsi.org, domain Unit); only
those given here are known, the others are None (a warehouse's own `concept` table names them).
"""

from __future__ import annotations

import attrs


@attrs.frozen
class DataUnit:
    ours: str  # docs/units.md
    ucum: str
    omop_concept_id: int | None = None


DATA_UNITS: tuple[DataUnit, ...] = (
    # mass / volume
    DataUnit("mg/dL", "mg/dL", 8840),
    DataUnit("mg/L", "mg/L", 8751),
    DataUnit("g/dL", "g/dL", 8713),
    DataUnit("g/L", "g/L"),
    DataUnit("ng/mL", "ng/mL", 8842),
    DataUnit("ug/mL", "ug/mL", 8859),
    # substance / volume
    DataUnit("mmol/L", "mmol/L", 8753),
    DataUnit("umol/L", "umol/L", 8749),
    # equivalents / volume: electrolytes in US and Japanese laboratories (through the valence)
    DataUnit("mEq/L", "meq/L"),
    # ratios
    DataUnit("mg/mmol", "mg/mmol"),
    DataUnit("g/g", "g/g"),
    DataUnit("mg/g", "mg/g"),
    DataUnit("mg/mg", "mg/mg"),
    DataUnit("mmol/mol", "mmol/mol"),  # HbA1c, IFCC
    DataUnit("%", "%", 8554),
    DataUnit("1", "1"),
    DataUnit("titer", "{titer}"),
    # amounts per time
    DataUnit("g/24h", "g/(24.h)"),
    DataUnit("g/day", "g/d"),
    DataUnit("mg/day", "mg/d"),
    DataUnit("mg/week", "mg/wk"),
    DataUnit("mg/month", "mg/mo"),
    DataUnit("mg/kg/day", "mg/kg/d"),
    # doses
    DataUnit("g", "g"),
    DataUnit("mg", "mg"),
    DataUnit("ug", "ug"),
    DataUnit("IU", "[iU]"),
    DataUnit("mg/kg", "mg/kg"),
    DataUnit("mg/m2", "mg/m2"),
    # rates
    DataUnit("mL/min", "mL/min"),
    DataUnit("mL/min/1.73m2", "mL/min/{1.73_m2}"),
    # counts
    DataUnit("10^9/L", "10*9/L"),
    DataUnit("10^6/L", "10*6/L"),
    DataUnit("10^12/L", "10*12/L"),
    DataUnit("cells/uL", "{cells}/uL"),
    DataUnit("/uL", "/uL"),
    DataUnit("/mm3", "/mm3"),
    DataUnit("/HPF", "/[HPF]"),
    DataUnit("/LPF", "/[LPF]"),
    # activities
    DataUnit("IU/mL", "[iU]/mL"),
    DataUnit("IU/L", "[iU]/L"),
    DataUnit("U/L", "U/L"),
    DataUnit("kU/L", "kU/L"),
    # body measures and vital signs
    DataUnit("mmHg", "mm[Hg]", 8876),
    DataUnit("kg", "kg", 9529),
    DataUnit("cm", "cm", 8582),
    DataUnit("m", "m"),
    DataUnit("mm", "mm"),
    DataUnit("kg/m2", "kg/m2"),
    DataUnit("Cel", "Cel"),  # body temperature (an affine scale: docs/units.md)
    DataUnit("[degF]", "[degF]"),
    DataUnit("m2", "m2"),
    # time
    DataUnit("days", "d"),
    DataUnit("weeks", "wk"),
    DataUnit("months", "mo"),
    DataUnit("years", "a"),
    DataUnit("h", "h"),
)
