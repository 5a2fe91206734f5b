"""The FHIR reader under its import path from before the layout by stage (b6b3719): scripts
written against it (the peer comparison's `shared/peers/compare/proj_run.py` among them) keep
working. The reader lives in `criteria_lang.records.fhir`; new code imports it from there."""

from criteria_lang.records.fhir import read_bundle, read_fhir

__all__ = ["read_bundle", "read_fhir"]
