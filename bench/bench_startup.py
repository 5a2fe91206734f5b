"""Start-up time of the `criteria` command, each run in a fresh process, against issue 9's budget.

    python bench/bench_startup.py [--runs N] [--first-runs N] [--criteria PATH]

Runs every command `--runs` times (default 7) and prints the median, min and max of the wall
time, the median CPU time (user + system of the child: less noisy than wall time on a shared
machine), and the budget. "first run" runs `criteria check rules/` with an empty temp folder and
an empty user cache folder (TMPDIR, XDG_CACHE_HOME, HOME pointing at fresh folders), as on a
fresh machine where nothing was cached before. The load average is printed with the figures:
wall times taken on a busy machine are noisy.

Then, in this process, the warm compile of each seed rule file (the stdlib modules it imports
already compiled, as in a long-running process or the test suite): median of `--runs`, against
the budget of 25 ms for a file of 30 criteria.

The figures are printed, never asserted: tests do not depend on timing.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (label, arguments, budget in seconds, fresh caches every run)
COMMANDS: list[tuple[str, list[str], float, bool]] = [
    ("criteria --version", ["--version"], 0.150, False),
    ("criteria --help", ["--help"], 0.150, False),
    ("criteria check rules/nct03562065.crit", ["check", "rules/nct03562065.crit"], 0.300, False),
    ("first run: criteria check rules/", ["check", "rules/"], 1.0, True),
]


def default_criteria() -> list[str]:
    """The `criteria` script installed beside this Python, else `python -m`."""
    script = Path(sys.executable).parent / "criteria"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "criteria_lang.cli.main"]


def run_once(command: list[str], fresh: bool) -> tuple[float, float, int]:
    """(wall seconds, child CPU seconds, exit code) of one run in a new process."""
    env = dict(os.environ)
    scratch = None
    if fresh:
        scratch = Path(tempfile.mkdtemp(prefix="bench-startup-"))
        for name in ("TMPDIR", "XDG_CACHE_HOME", "HOME"):
            folder = scratch / name.lower()
            folder.mkdir()
            env[name] = str(folder)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    completed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)
    return wall, cpu, completed.returncode


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--runs", type=int, default=7, help="runs of each command")
    options.add_argument("--first-runs", type=int, default=3, help="runs of the first-run case")
    options.add_argument("--criteria", help="the criteria executable (default: beside python)")
    args = options.parse_args()
    criteria = [args.criteria] if args.criteria else default_criteria()

    print(f"criteria: {' '.join(criteria)}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    header = f"{'command':<42} {'median':>8} {'min':>8} {'max':>8} {'cpu med':>8} {'budget':>8}"
    print(header)
    print("-" * len(header))
    over = 0
    for label, arguments, budget, fresh in COMMANDS:
        runs = args.first_runs if fresh else args.runs
        if not fresh:
            run_once(criteria + arguments, fresh)  # warm the page cache and the .pyc files
        samples = [run_once(criteria + arguments, fresh) for _ in range(runs)]
        walls = [s[0] for s in samples]
        median = statistics.median(walls)
        codes = sorted({s[2] for s in samples})
        verdict = "ok" if median <= budget else "OVER"
        over += verdict == "OVER"
        print(
            f"{label:<42} {median * 1000:7.0f}ms {min(walls) * 1000:7.0f}ms "
            f"{max(walls) * 1000:7.0f}ms {statistics.median(s[1] for s in samples) * 1000:7.0f}ms "
            f"{budget * 1000:7.0f}ms  {verdict} (exit {','.join(map(str, codes))}, {runs} runs)"
        )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{over} command(s) over budget" if over else "all within budget")
    warm_compiles(args.runs)
    return 0


def warm_compiles(runs: int) -> None:
    sys.path.insert(0, str(ROOT))
    from criteria_lang.check.checker import compile_file

    print()
    print(f"{'warm compile (in process)':<42} {'criteria':>8} {'median':>8} {'cpu med':>8}")
    for path in sorted((ROOT / "rules").glob("*.crit")):
        program = compile_file(path)  # compiles the stdlib modules it imports, once
        walls, cpus = [], []
        for _ in range(runs):
            start, cpu = time.perf_counter(), time.process_time()
            compile_file(path)
            walls.append(time.perf_counter() - start)
            cpus.append(time.process_time() - cpu)
        budget = " (budget 25 ms at 30 criteria)" if len(program.criteria) >= 30 else ""
        print(
            f"{path.name:<42} {len(program.criteria):>8} {statistics.median(walls) * 1000:7.1f}ms "
            f"{statistics.median(cpus) * 1000:7.1f}ms{budget}"
        )


if __name__ == "__main__":
    sys.exit(main())
