"""criteria-lang: a language for clinical-trial eligibility criteria, its compiler and evaluator.

The public API: compile a rule file into `Rules`, evaluate patients, read results.
"""

from .api import Rules, to_patient
from .check import CompiledRules, compile_file, compile_text
from .diagnostics import CompileError, Diagnostic
from .load import PatientDataError, Problem, RecordError, load_patient, read_patients
from .results import (
    CriterionResult,
    Evidence,
    OutcomeReport,
    OutcomeSeries,
    PatientResult,
    Truth,
    Verdict,
    VisitOutcome,
)
from .timeline import Patient

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
