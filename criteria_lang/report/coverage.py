"""The one-line summary of a compiled rule file that `criteria check` prints.

Apart from the tables (report/tables.py, which need rich) so that `check` does not import them.
"""

from __future__ import annotations

from criteria_lang.check.checker import CompiledRules
from criteria_lang.syntax.nodes import Review, walk


def coverage_line(program: CompiledRules) -> str:
    """How many criteria the data can decide and how many need a person (`check`)."""
    computable = review = mixed = 0
    for criterion in program.criteria:
        nodes = walk(criterion.expr)
        has_review = any(isinstance(node, Review) for node in nodes)
        only_review = isinstance(criterion.expr, Review)
        if only_review:
            review += 1
        elif has_review:
            mixed += 1
        else:
            computable += 1
    total = len(program.criteria)
    if program.trial is None and not total:
        rf = program.rule_file
        return f"module: {len(rf.concepts)} concepts, {len(rf.defines)} definitions"
    trial = program.trial.registry_id if program.trial else "(no trial)"
    outcomes = f"; {len(program.outcomes)} outcomes" if program.outcomes else ""
    return (
        f"{trial}: {total} criteria: {computable} computable, {mixed} computable with a "
        f"review step, {review} need review only{outcomes}"
    )
