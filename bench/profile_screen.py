"""Where the time of a `criteria screen` run goes, stage by stage (cProfile, one process).

    python bench/profile_screen.py RULES INPUT [screen options...] [--top N] [--out FILE.prof]

Runs `criteria screen RULES INPUT --jobs 1 --format jsonl -o /dev/null [options]` (with the
criteria_lang of the Python that runs this script) in this process under cProfile and sums the
own time (tottime) of every function by the stage its file belongs to: start-up (imports),
compiling the rules (syntax/, check/, plan/), units (core/units and pint/ucumvert), reading
(records/), evaluating (engine/), writing (report/, batch/), JSON parsing (orjson), and the
rest. Profiling slows Python code more than C code, so the shares are a guide, not a
measurement; the top functions by own time follow. `--out` keeps the raw profile (for
snakeviz or `python -m pstats`).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
from collections import Counter
from pathlib import Path

STAGES = (
    ("reading", ("criteria_lang/records/",)),
    ("evaluating", ("criteria_lang/engine/",)),
    (
        "compiling",
        ("criteria_lang/syntax/", "criteria_lang/check/", "criteria_lang/plan/", "lark/"),
    ),
    ("units", ("criteria_lang/core/unit", "pint/", "ucumvert/", "flexparser/", "flexcache/")),
    ("core", ("criteria_lang/core/",)),
    ("writing", ("criteria_lang/report/", "criteria_lang/batch/", "criteria_lang/cli/", "rich/")),
    ("start-up", ("<frozen importlib", "importlib/")),
)


def stage(filename: str, function: str) -> str:
    if filename == "~":
        if "orjson" in function or "loads" in function:
            return "JSON parsing"
        if "compile" in function or "exec" in function:
            return "start-up"
    for name, parts in STAGES:
        if any(part in filename for part in parts):
            return name
    return "other"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rules")
    parser.add_argument("input")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--old", action="store_true", help="a version of criteria without --jobs (before it)"
    )
    args, rest = parser.parse_known_args(argv)

    # The criteria_lang of the Python running this (its venv): run it with another venv's
    # Python to profile another checkout.
    from criteria_lang.cli.main import main as criteria

    jobs = [] if args.old else ["--jobs", "1"]
    command = ["screen", args.rules, args.input, *jobs, "--format", "jsonl"]
    command += ["-o", "/dev/null", *rest]
    profile = cProfile.Profile()
    profile.runcall(criteria, command)
    stats = pstats.Stats(profile)
    if args.out:
        stats.dump_stats(str(args.out))
    shares: Counter[str] = Counter()
    raw = stats.stats  # type: ignore[attr-defined]
    for (filename, _, function), (_, _, own, _, callers) in raw.items():
        name = stage(filename, function)
        if name not in ("other", "JSON parsing") or not callers:
            shares[name] += own
            continue
        # Builtins and the standard library (dict.get, fractions) count for whoever called them,
        # in proportion to the time spent in them from each caller.
        spent = sum(tt for _, _, tt, _ in callers.values()) or 1.0
        for (c_file, _, c_function), (_, _, tt, _) in callers.items():
            caller = stage(c_file, c_function)
            shares[name if caller == "other" else caller] += own * tt / spent
    total = sum(shares.values())
    print(f"profiled {total:.2f} s of own time (cProfile inflates Python code)")
    for name, seconds in shares.most_common():
        print(f"  {name:<13} {seconds:7.2f} s  {100 * seconds / total:5.1f} %")
    print(f"top {args.top} functions by own time:")
    stats.sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
