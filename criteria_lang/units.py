"""The unit registry under its import path from before the layout by stage (b6b3719): scripts
written against it (the peer comparison's `shared/peers/compare/proj_run.py` among them) keep
working. The registry lives in `criteria_lang.core.units`; new code imports it from there."""

from criteria_lang.core.units import UnitError, get_units

__all__ = ["UnitError", "get_units"]
