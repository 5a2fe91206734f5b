"""criteria-lang: a language for clinical-trial eligibility criteria, its compiler and evaluator.

The public API: compile a rule file into `Rules`, evaluate patients, read results.

The names below are imported on first use (PEP 562), so that `import criteria_lang.x` (and the
`criteria` command, whose `--help` must start in milliseconds) does not pay for all of them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# The one place the version is written (pyproject.toml reads it; `criteria --version` prints it).
__version__ = "0.1.0"

if TYPE_CHECKING:
    from criteria_lang.api import Rules, to_patient
    from criteria_lang.check.checker import (
        CompiledRules,
        compile_file,
        compile_text,
    )
    from criteria_lang.core.diagnostics import (
        CompileError,
        Diagnostic,
    )
    from criteria_lang.core.results import (
        CriterionResult,
        Evidence,
        OutcomeReport,
        OutcomeSeries,
        PatientResult,
        Truth,
        Verdict,
        VisitOutcome,
    )
    from criteria_lang.records.patient_json import (
        PatientDataError,
        Problem,
        RecordError,
        load_patient,
        read_patients,
    )
    from criteria_lang.records.timeline import Patient

# Public name -> the module that defines it.
_EXPORTS: dict[str, str] = {
    "Rules": "criteria_lang.api",
    "to_patient": "criteria_lang.api",
    "CompiledRules": "criteria_lang.check.checker",
    "compile_file": "criteria_lang.check.checker",
    "compile_text": "criteria_lang.check.checker",
    "CompileError": "criteria_lang.core.diagnostics",
    "Diagnostic": "criteria_lang.core.diagnostics",
    "CriterionResult": "criteria_lang.core.results",
    "Evidence": "criteria_lang.core.results",
    "OutcomeReport": "criteria_lang.core.results",
    "OutcomeSeries": "criteria_lang.core.results",
    "PatientResult": "criteria_lang.core.results",
    "Truth": "criteria_lang.core.results",
    "Verdict": "criteria_lang.core.results",
    "VisitOutcome": "criteria_lang.core.results",
    "PatientDataError": "criteria_lang.records.patient_json",
    "Problem": "criteria_lang.records.patient_json",
    "RecordError": "criteria_lang.records.patient_json",
    "load_patient": "criteria_lang.records.patient_json",
    "read_patients": "criteria_lang.records.patient_json",
    "Patient": "criteria_lang.records.timeline",
}

__all__ = [
    "CompileError",
    "CompiledRules",
    "CriterionResult",
    "Diagnostic",
    "Evidence",
    "OutcomeReport",
    "OutcomeSeries",
    "Patient",
    "PatientDataError",
    "PatientResult",
    "Problem",
    "RecordError",
    "Rules",
    "Truth",
    "Verdict",
    "VisitOutcome",
    "compile_file",
    "compile_text",
    "load_patient",
    "read_patients",
    "to_patient",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'criteria_lang' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next access is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
