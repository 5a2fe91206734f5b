"""How fast `screen` runs rules/nct03562065.crit over synthetic patients, per core.

    python bench/bench_screen.py [--patients N] [--data FILE] [--repeat R] [--no-cli]
    make bench        # 2,000 patients

Generates N patients with bench/generate.py (cached in bench/out/ by seed and size) and prints:
(a) evaluation alone, patients already loaded, one core; (b) end to end from JSON Lines: read,
validate, evaluate, write JSON Lines results to a null sink, one core, as `screen --jobs 1`
does; (c) the whole command in its own processes (bench/measure.py): start-up, --jobs 1 (per
core) and the default (every core); (d) peak memory: tracemalloc's peak while streaming (b), the
resident high-water mark of this process (which holds all N patients for (a)) and of the CLI;
(e) the rule file's compile time; (f) the plain-Python floor (bench/floor_nct03562065.py: the
same 25 criteria from the same JSON with json + datetime) and our ratio to it. Then the verdict
mix and the error records, which must be exactly the records generate.py broke on purpose: the
run fails (exit 1) if a record is lost or an error is missing.

CPU time (time.process_time) is printed beside wall time: on a shared machine it is the figure
that does not depend on what else is running. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import generate  # noqa: E402
from measure import Measured, machine, run  # noqa: E402

from criteria_lang import Rules  # noqa: E402
from criteria_lang.batch.screen import ScreenRun  # noqa: E402
from criteria_lang.core.results import PatientResult  # noqa: E402
from criteria_lang.records.patient_json import RecordError, read_patients  # noqa: E402
from criteria_lang.report.tables import jsonl  # noqa: E402

RULES = ROOT / "rules" / "nct03562065.crit"
# Runs argv[1:] and prints its child's peak resident memory (KiB).
LAUNCHER = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


class NullSink:
    """A text file that keeps nothing (counts characters, so the writes cannot be optimised out)."""

    def __init__(self) -> None:
        self.chars = 0

    def write(self, text: str) -> int:
        self.chars += len(text)
        return len(text)


class Clock:
    """Wall and CPU time of a block."""

    def __enter__(self) -> Clock:
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.cpu = time.process_time() - self.cpu0


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s" if seconds > 0 else "-"


def data_file(patients: int, seed: int) -> tuple[Path, dict[str, Any]]:
    """bench/out/patients-N.jsonl, generated unless an up-to-date copy is there."""
    path = ROOT / "bench" / "out" / f"patients-{patients}-{seed}.jsonl"
    manifest_path = generate.manifest_path(path)
    if path.exists() and manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if (
            manifest.get("generator") == generate.VERSION
            and manifest.get("bytes") == path.stat().st_size
        ):
            return path, manifest
    print(f"generating {patients} patients into {path.relative_to(ROOT)} ...", flush=True)
    return path, generate.generate(path, patients, seed)


def screen_to_sink(rules: Rules, path: Path, sink: NullSink) -> Counter[str]:
    """(b): read + validate + evaluate + write JSONL, as `criteria screen --format jsonl
    --jobs 1` does (criteria_lang.batch, in this process)."""
    mix: Counter[str] = Counter()
    for item in ScreenRun(rules, jobs=1).rows(path):
        row = item.row
        sink.write(jsonl(row) + "\n")
        mix["error" if isinstance(row, RecordError) else row.verdict.value] += 1
    return mix


def floor(path: Path, rules: Path) -> dict[str, Any]:
    """(f) the plain-Python floor (bench/floor_nct03562065.py) on the same file, its concept
    codes taken from the rule file's plan; its answers under "answers" ({(patient, criterion):
    truth}), to be compared with ours."""
    plan = ROOT / "bench" / "out" / f"{rules.stem}.plan.json"
    dump = ROOT / "bench" / "out" / f"{rules.stem}.floor-answers.json"
    text = subprocess.run(
        [sys.executable, "-m", "criteria_lang.cli.main", "plan", str(rules), "--json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    plan.write_text(text, encoding="utf-8")
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "floor_nct03562065.py"), str(plan), str(path)]
        + ["--dump", str(dump)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, Any] = json.loads(out)
    rows = json.loads(dump.read_text(encoding="utf-8"))
    result["answers"] = {
        (row["patient"], key): truth
        for row in rows
        for key, truth in row.items()
        if key != "patient"
    }
    return result


def agreement(ours: dict[tuple[str, str], str], floor_answers: dict[tuple[str, str], str]) -> str:
    """How many of the floor's answers equal ours (criterion by criterion, patient by patient),
    and the criteria that differ most: the floor's honesty, beside its speed."""
    both = [key for key in floor_answers if key in ours]
    differ = Counter(key[1] for key in both if ours[key] != floor_answers[key])
    same = len(both) - sum(differ.values())
    worst = ", ".join(f"{c} {n}" for c, n in differ.most_common(5)) or "none"
    share = 100 * same / max(1, len(both))
    return f"{same:,} of {len(both):,} answers the same as ours ({share:.2f}%); differing: {worst}"


def evaluate_all(rules: Rules, patients: Iterable[Any]) -> list[PatientResult]:
    evaluate = rules.evaluator.evaluate
    return [evaluate(p) for p in patients]


def best(repeat: int, work: Callable[[], Any]) -> tuple[Clock, Any]:
    """The fastest of `repeat` runs by CPU time (the least disturbed by other processes)."""
    runs = []
    for _ in range(repeat):
        gc.collect()
        with Clock() as clock:
            result = work()
        runs.append((clock, result))
    return min(runs, key=lambda run: run[0].cpu)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=generate.DEFAULT_SEED)
    parser.add_argument(
        "--data",
        type=Path,
        help="a JSONL file to use instead (checked against its manifest if any)",
    )
    parser.add_argument("--rules", type=Path, default=RULES)
    parser.add_argument("--repeat", type=int, default=1, help="best of R runs for (a) and (b)")
    parser.add_argument("--no-cli", action="store_true", help="skip (c)")
    parser.add_argument("--no-floor", action="store_true", help="skip (f)")
    args = parser.parse_args(argv)

    if args.data:
        path, manifest = args.data, None
        beside = generate.manifest_path(path)
        if beside.exists():  # made by generate.py: check the error records against it
            manifest = json.loads(beside.read_text(encoding="utf-8"))
    else:
        path, manifest = data_file(args.patients, args.seed)
    size = path.stat().st_size
    print(f"machine: {machine()}")
    shown = args.rules.relative_to(ROOT) if args.rules.is_relative_to(ROOT) else args.rules
    print(f"rules:   {shown}")
    print(f"data:    {path.name}: {size / 1e6:.1f} MB", end="")
    if manifest:
        print(
            f", {manifest['patients']} patients, {manifest['events_mean']} events each on average"
        )
    else:
        print()

    # (e) compile time: the first compile pays for the grammar and the unit registry.
    with Clock() as cold:
        rules = Rules.from_file(args.rules)
    with Clock() as warm:
        Rules.from_file(args.rules)

    # Load every patient once (reported too: it is the loader's share of (b)).
    gc.collect()
    with Clock() as loading:
        records = list(read_patients(path))
    patients = [r for r in records if not isinstance(r, RecordError)]
    total = len(records)

    # (a) evaluation alone
    evaluate_clock, results = best(args.repeat, lambda: evaluate_all(rules, patients))
    del records
    our_answers = {(r.patient_id, c.id): c.truth.value for r in results for c in r.criteria}

    # (b) end to end, streaming from the file
    sink = NullSink()
    end_clock, mix = best(args.repeat, lambda: screen_to_sink(rules, path, sink))
    mix_total = sum(mix.values())

    # (d) memory while streaming (b) again, traced: tracemalloc slows it, so it is not timed.
    del results
    gc.collect()
    tracemalloc.start()
    screen_to_sink(rules, path, NullSink())
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux

    # (c) the whole command, in its own process tree (bench/measure.py): on an empty file
    # (start-up and compiling), then on the data with one process and with the default (every
    # core).
    cli: dict[str, Measured] = {}
    if not args.no_cli:
        command = [sys.executable, "-m", "criteria_lang.cli.main", "screen", str(args.rules)]
        tail = ["--format", "jsonl", "-o", os.devnull]
        empty = ROOT / "bench" / "out" / "empty.jsonl"
        empty.write_text("")
        cli["start-up"] = run([*command, str(empty), *tail, "--jobs", "1"], check=False)
        cli["--jobs 1"] = run([*command, str(path), *tail, "--jobs", "1"], check=False)
        cli["default"] = run([*command, str(path), *tail], check=False)
    floor_figures = None if args.no_floor or args.rules != RULES else floor(path, args.rules)

    n = len(patients)
    print()
    print(
        f"(e) compile {args.rules.name}: {cold.wall * 1000:,.0f} ms first in the process "
        f"(grammar, unit registry, stdlib), {warm.wall * 1000:,.0f} ms again"
    )
    print(
        f"    load {total} records (read + validate): {loading.wall:.2f} s wall, "
        f"{loading.cpu:.2f} s CPU = {rate(total, loading.cpu)} (CPU)"
    )
    print(
        f"(a) evaluate {n} loaded patients: {evaluate_clock.wall:.2f} s wall, "
        f"{evaluate_clock.cpu:.2f} s CPU = {rate(n, evaluate_clock.cpu)} (CPU), "
        f"{rate(n, evaluate_clock.wall)} (wall)"
    )
    print(
        f"(b) end to end from JSONL (read + validate + evaluate + write JSONL): "
        f"{end_clock.wall:.2f} s wall, {end_clock.cpu:.2f} s CPU = "
        f"{rate(mix_total, end_clock.cpu)} (CPU), {rate(mix_total, end_clock.wall)} (wall); "
        f"{sink.chars / 1e6:,.0f} MB of results"
    )
    if cli:
        start = cli["start-up"].cpu
        one, every = cli["--jobs 1"], cli["default"]
        print(
            f"(c) the whole command, --format jsonl -o /dev/null: start-up and compiling "
            f"{start:.2f} s CPU; --jobs 1: {one.wall:.2f} s wall, {one.cpu:.2f} s CPU = "
            f"{rate(mix_total, one.cpu)} per core (CPU), {rate(mix_total, one.cpu - start)} "
            f"without start-up; every core ({os.cpu_count()}): {every.wall:.2f} s wall, "
            f"{every.cpu:.2f} s CPU = {rate(mix_total, every.wall)} (wall), "
            f"peak {every.peak_tree_rss_mib:,.0f} MiB RSS over {every.peak_processes} processes"
        )
    print(
        f"(d) memory: tracemalloc peak while streaming (b) {traced_peak / 1e6:,.1f} MB; "
        f"max RSS of this process {self_rss:,.0f} MB (holds all {n} patients for (a))",
        end="",
    )
    if cli:
        print(f"; peak RSS of the CLI, --jobs 1: {cli['--jobs 1'].peak_tree_rss_mib:,.0f} MiB")
    else:
        print()
    if floor_figures is not None:
        f = floor_figures
        ours_eval = n / evaluate_clock.cpu if evaluate_clock.cpu else 0.0
        ours_e2e = mix_total / end_clock.cpu if end_clock.cpu else 0.0
        print(
            f"(f) plain-Python floor (bench/floor_nct03562065.py, json + datetime): evaluate "
            f"{f['eval_per_s']:,.0f}/s, read {f['read_per_s']:,.0f}/s, end to end "
            f"{f['end_to_end_per_s']:,.0f}/s (CPU); criteria-lang / floor: evaluate "
            f"{ours_eval / f['eval_per_s']:.2f}x, end to end "
            f"{ours_e2e / f['end_to_end_per_s']:.2f}x"
        )
        print(f"    floor vs criteria-lang: {agreement(our_answers, f['answers'])}")
    order = ["eligible", "ineligible", "undetermined", "error"]
    print(
        f"verdicts: {mix_total} records: "
        + ", ".join(f"{mix[k]} {k} ({100 * mix[k] / max(1, mix_total):.1f}%)" for k in order)
    )
    print(f"machine at the end: load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}")

    ok = True
    if manifest is not None:
        expected = len(manifest["broken"])
        if mix_total != manifest["patients"]:
            print(f"LOST RECORDS: {manifest['patients']} generated, {mix_total} came out")
            ok = False
        if mix["error"] != expected:
            print(f"ERROR RECORDS: {mix['error']}, but {expected} were broken on purpose")
            ok = False
        if ok:
            print(f"errors: {mix['error']}, as many as broken on purpose; no record lost")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
