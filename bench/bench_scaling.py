"""How the cost of screening grows with the length of the records and with their number.

    python bench/bench_scaling.py [--events 100,300,1000,3000] [--patients 500,1000,2000,4000]

(1) Events per patient: generated NCT03562065 patients (bench/generate.py --events N: the clinic's
    own events, repeated back in time to reach N), the same number of events in each set. For
    each N: CPU time per patient to read and validate (read_patients), to evaluate (loaded
    patients), and both; the same for the plain-Python floor (floor_nct03562065.py). Then the
    exponent k of cost ~ N^k between successive sizes: 1 is linear.
(2) Patients: the whole command (`criteria screen --jobs 1 --format jsonl`) on 500 ... 4,000
    patients of ~300 events: CPU time of the process, minus that of the same command on an empty
    input (start-up and compiling), per patient; k as above.

CPU time (not wall time) is reported, because the machine is shared: see the load average
printed beside. Nothing here is asserted; docs/performance.md records the figures.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import generate  # noqa: E402
from measure import load, machine, run  # noqa: E402

from criteria_lang import Rules  # noqa: E402
from criteria_lang.records.patient_json import RecordError, read_patients  # noqa: E402

RULES = ROOT / "rules" / "nct03562065.crit"
OUT = ROOT / "bench" / "out"
EVENTS_PER_SET = 300_000


def data(patients: int, events: int | None) -> Path:
    suffix = f"-e{events}" if events else ""
    path = OUT / f"scaling-{patients}{suffix}.jsonl"
    if not path.exists():
        print(f"generating {path.name} ...", file=sys.stderr, flush=True)
        generate.generate(path, patients, events=events)
    return path


def plan_file() -> Path:
    path = OUT / "nct03562065.plan.json"
    text = subprocess.run(
        [sys.executable, "-m", "criteria_lang.cli.main", "plan", str(RULES), "--json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path.write_text(text, encoding="utf-8")
    return path


def slope(xs: Sequence[float], ys: Sequence[float]) -> list[str]:
    return [
        f"{math.log(ys[i + 1] / ys[i]) / math.log(xs[i + 1] / xs[i]):.2f}"
        for i in range(len(xs) - 1)
    ]


def in_process(rules: Rules, path: Path) -> tuple[int, float, float]:
    """Patients, CPU seconds to read them all, CPU seconds to evaluate them all."""
    gc.collect()
    t0 = time.process_time()
    patients = [r for r in read_patients(path) if not isinstance(r, RecordError)]
    t1 = time.process_time()
    evaluate = rules.evaluator.evaluate
    for patient in patients:
        evaluate(patient)
    t2 = time.process_time()
    return len(patients), t1 - t0, t2 - t1


def floor(plan: Path, path: Path) -> dict[str, float]:
    text = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "floor_nct03562065.py"), str(plan), str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, float] = json.loads(text)
    return result


def events_scaling(sizes: list[int]) -> None:
    rules = Rules.from_file(RULES)
    plan = plan_file()
    print(f"(1) events per patient; {EVENTS_PER_SET:,} events a set; CPU ms per patient")
    head = f"  {'events':>7} {'patients':>9} {'read':>8} {'evaluate':>9} {'both':>8}"
    print(head + "   floor: read, eval")
    costs: list[float] = []
    for events in sizes:
        path = data(max(20, EVENTS_PER_SET // events), events)
        n, read, evaluate = in_process(rules, path)
        f = floor(plan, path)
        per = 1000 / n
        costs.append((read + evaluate) / n)
        print(
            f"  {events:>7,} {n:>9,} {read * per:>8.2f} {evaluate * per:>9.2f} "
            f"{(read + evaluate) * per:>8.2f}   "
            f"{1000 * f['read_parse_s'] / f['patients']:.2f}, "
            f"{1000 * f['eval_s'] / f['patients']:.2f}"
        )
    print(f"  k (cost ~ events^k) between successive sizes: {', '.join(slope(sizes, costs))}")


def patients_scaling(sizes: list[int]) -> None:
    print("(2) patients (~300 events each): the whole command, --jobs 1, CPU s")
    empty = OUT / "empty.jsonl"
    empty.write_text("")
    command = [sys.executable, "-m", "criteria_lang.cli.main", "screen", str(RULES)]
    tail = ["--format", "jsonl", "-o", "/dev/null", "--jobs", "1"]
    # An empty input exits 2 ("no patient records") after starting up and compiling the rules.
    base = min(run([*command, str(empty), *tail], check=False).cpu for _ in range(3))
    print(f"  start-up and compiling (empty input): {base:.2f} s CPU")
    costs: list[float] = []
    for patients in sizes:
        path = data(patients, None)
        # Exit 1: the records generate.py breaks on purpose are error rows.
        cpu = run([*command, str(path), *tail], check=False).cpu - base
        costs.append(cpu / patients)
        print(f"  {patients:>7,} patients: {cpu:7.2f} s CPU = {1000 * cpu / patients:.2f} ms each")
    print(f"  k (cost ~ patients^k) between successive sizes: {', '.join(slope(sizes, costs))}")
    print("  (k is of the cost per patient: 0 is linear in patients)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", default="100,300,1000,3000")
    parser.add_argument("--patients", default="500,1000,2000,4000")
    args = parser.parse_args(argv)
    print(f"machine: {machine()}")
    if args.events:
        events_scaling([int(x) for x in args.events.split(",")])
    if args.patients:
        patients_scaling([int(x) for x in args.patients.split(",")])
    print(f"load average at the end: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
