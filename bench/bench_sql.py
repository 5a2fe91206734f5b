"""The SQL engine at scale: NCT03562065 over a synthetic OMOP database (docs/sql.md, "Scale").

    python bench/omop_generate.py --persons 1000000 --out /work/cache/omop-1m
    python bench/bench_sql.py --data /work/cache/omop-1m [--runs 3] [--sample 300] [--spark]

Prints, per engine, the median over `--runs` of wall time, CPU time of this process (DuckDB's
threads included), persons a second and peak memory, with the load average before and after:
the machine is shared, and a figure taken under load says so. A sample of persons is then read
back through the OMOP reader and judged by the Python engine: the compiled criteria must agree
(a benchmark of wrong answers measures nothing). Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import time
from pathlib import Path

from criteria_lang import Rules
from criteria_lang.records.omop import read_omop_tables
from criteria_lang.records.timeline import Patient
from criteria_lang.sql.run import compile_for, omop_rows, run_screen
from criteria_lang.sql.warehouse import Warehouse, open_warehouse

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "rules" / "nct03562065.crit"


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def timed(rules: Rules, warehouse: Warehouse, runs: int) -> tuple[dict[str, object], int]:
    compiled = compile_for(rules.plan, warehouse)
    walls, cpus, count = [], [], 0
    for _ in range(runs):
        cpu0, wall0 = time.process_time(), time.perf_counter()
        count = sum(1 for _ in run_screen(rules.plan, warehouse, compiled))
        walls.append(time.perf_counter() - wall0)
        cpus.append(time.process_time() - cpu0)
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    figures = {
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "persons_per_s": round(count / wall),
        "fallback": sorted(compiled.fallback),
    }
    return figures, count


def check(rules: Rules, warehouse: Warehouse, persons: int, sample: int) -> str:
    compiled = compile_for(rules.plan, warehouse)
    rows = {r.person_id: r for r in run_screen(rules.plan, warehouse, compiled)}
    chosen = random.Random(7).sample(sorted(rows), min(sample, persons))
    differ = compared = 0
    for patient in read_omop_tables(omop_rows(warehouse, chosen)):
        if not isinstance(patient, Patient):
            continue
        for criterion in rules.evaluate(patient).criteria:
            if criterion.id in rows[patient.id].truths:
                compared += 1
                differ += rows[patient.id].truths[criterion.id] is not criterion.truth
    return f"sample of {len(chosen)} persons: {compared} truths compared, {differ} differ"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="bench/omop_generate.py's folder")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sample", type=int, default=300)
    parser.add_argument("--spark", action="store_true", help="also Spark local mode")
    args = parser.parse_args(argv)
    rules = Rules.from_file(RULES)
    print(f"load average before: {load()}; {os.cpu_count()} cores")
    engines = [("duckdb", f"duckdb:{args.data}")]
    if args.spark:
        engines.append(("spark", f"spark:{args.data}"))
    for name, spec in engines:
        warehouse = open_warehouse(spec)
        figures, count = timed(rules, warehouse, args.runs)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"{name}: {count:,} persons, median of {args.runs}: {figures}, peak RSS {rss:,.0f} MiB"
        )
        print(f"  {check(rules, warehouse, count, args.sample)}")
    print(f"load average after: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
