"""`criteria plan RULEFILE [--json]`: what a rule file means, as the engines will run it.

The plan (docs/plan.md) is printed readably for people reviewing a rule file, or as JSON for
other engines. Exit codes: 0 printed; 1 the rule file has errors (they are printed instead);
2 usage error. The plan's modules are imported here, when the command runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    plan = sub.add_parser(
        "plan",
        help="print the plan of a rule file (what each criterion means, resolved)",
        description="Print a rule file's plan: concepts resolved to codes, windows as a date "
        "and offsets, thresholds with the exact factor from every data unit (docs/plan.md).",
    )
    plan.add_argument("rules", type=Path, help="a rule file")
    plan.add_argument("--json", action="store_true", help="the versioned JSON form")


def cmd_plan(args: argparse.Namespace) -> int:
    from criteria_lang.check.checker import compile_file
    from criteria_lang.core.diagnostics import render
    from criteria_lang.plan.lower import lower
    from criteria_lang.plan.serial import dumps
    from criteria_lang.plan.show import show

    if args.rules.is_dir():
        print(f"{args.rules} is a folder: give one rule file", file=sys.stderr)
        return EXIT_USAGE
    program = compile_file(args.rules)
    if not program.ok:
        for diagnostic in program.diagnostics:
            print(render(diagnostic, program.sources.get(diagnostic.file)), file=sys.stderr)
        print(f"{args.rules}: has errors, so it has no plan", file=sys.stderr)
        return EXIT_FINDINGS
    plan = lower(program)
    sys.stdout.write(dumps(plan) if args.json else show(plan))
    return EXIT_OK
