"""Evaluation alone, in this process, for comparing two checkouts in turn (A/B) on a loaded machine.

    python bench/bench_evaluate.py RULES PATIENTS.jsonl [--repeat 3]
    PYTHONPATH=/path/to/other/checkout python bench/bench_evaluate.py ...   # the other side

Reads the patients with `read_patients`, then evaluates them all `--repeat` times and prints the
CPU time of reading and the best CPU time of evaluating (time.process_time: the figure that other
processes disturb least), with the checkout the package was imported from. Run the two sides one
after the other, several times, and compare the medians (docs/performance.md).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

import criteria_lang
from criteria_lang import Rules
from criteria_lang.records.patient_json import RecordError, read_patients


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rules", type=Path)
    parser.add_argument("patients", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    rules = Rules.from_file(args.rules)
    t0 = time.process_time()
    patients = [p for p in read_patients(args.patients) if not isinstance(p, RecordError)]
    read = time.process_time() - t0
    evaluate = rules.evaluator.evaluate
    best = float("inf")
    for _ in range(args.repeat):
        gc.collect()
        t1 = time.process_time()
        for patient in patients:
            evaluate(patient)
        best = min(best, time.process_time() - t1)
    checkout = Path(criteria_lang.__file__).resolve().parent.parent
    print(
        f"{checkout}: read {read:.2f} s CPU; evaluate {len(patients)} patients, best of "
        f"{args.repeat}: {best:.2f} s CPU = {len(patients) / best:,.0f}/s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
