"""criteria-lang: a language for clinical-trial eligibility criteria, its compiler and evaluator.

The public API: compile a rule file into `Rules`, evaluate patients, read results.
"""

from criteria_lang.api import Rules, to_patient
from criteria_lang.check.checker import CompiledRules, compile_file, compile_text
from criteria_lang.core.diagnostics import CompileError, Diagnostic
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
