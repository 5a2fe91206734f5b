"""Memory (and time) of `criteria screen` on FHIR NDJSON bulk exports of 5,000 and 50,000
patients, and the same output whatever --jobs is.

    python bench/bench_memory.py [--sizes 5000,50000] [--events 300,100] [--jobs 1,0] [--dir D]

For each size, bench/generate_ndjson.py writes an export (once; kept in --dir, default
bench/out) of generated NCT03562065 patients, each resource type in its own file with patients
interleaved. Then for each --jobs value (0: the default, every core) the whole command runs:

    criteria screen rules/nct03562065.crit EXPORT --date ... --format jsonl -o OUT --jobs N

and bench/measure.py reports wall time, CPU time of the process tree, the largest single
process, and the peak of the whole tree's resident memory (sum of RSS: the figure held to
~500 MB) and of its proportional set size (shared pages counted once). The JSON Lines outputs of
the runs must be byte for byte the same (but the time of the run in the header line); the run
fails otherwise. Load average beside.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import generate  # noqa: E402
import generate_ndjson  # noqa: E402
from measure import load, machine, run  # noqa: E402

RULES = ROOT / "rules" / "nct03562065.crit"


def export(folder: Path, patients: int, events: int | None) -> Path:
    out = folder / (f"export-{patients}" + (f"-e{events}" if events else ""))
    manifest = generate_ndjson.manifest_path(out)
    if not manifest.exists():
        print(f"generating {out} ...", file=sys.stderr, flush=True)
        generate_ndjson.write(out, patients, generate.DEFAULT_SEED, events, 2000)
    return out


def rows_of(path: Path) -> list[bytes]:
    """The output's lines but the header's time of the run (report/run.py), which differs."""
    return [
        re.sub(rb'"run_at":"[^"]*"', b'"run_at":""', line)
        for line in path.read_bytes().splitlines()
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,50000")
    parser.add_argument("--events", default="300,100", help="events a patient, per size")
    parser.add_argument("--jobs", default="1,0", help="0: the default (every core)")
    parser.add_argument("--dir", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--cli", type=Path, default=Path(sys.executable).parent / "criteria")
    args = parser.parse_args(argv)
    sizes = [int(x) for x in args.sizes.split(",")]
    events = [int(x) if x != "0" else None for x in args.events.split(",")]
    print(f"machine: {machine()}")
    ok = True
    for patients, per in zip(sizes, events + [None] * len(sizes), strict=False):
        folder = export(args.dir, patients, per)
        manifest = json.loads(generate_ndjson.manifest_path(folder).read_text())
        resources = sum(manifest["resources"].values())
        print(
            f"\n{folder.name}: {patients:,} patients, {resources:,} resources, "
            f"{manifest['bytes'] / 1e9:.2f} GB of NDJSON"
        )
        outputs = []
        for jobs in args.jobs.split(","):
            out = args.dir / f"{folder.name}.jobs{jobs}.jsonl"
            option = ["--jobs", jobs] if jobs != "0" else []
            before = load()
            m = run(
                [str(args.cli), "screen", str(RULES), str(folder), *manifest["dates"]]
                + ["--format", "jsonl", "-o", str(out), *option],
                check=False,
            )
            label = f"--jobs {jobs}" if jobs != "0" else "default jobs"
            print(
                f"  {label:<13} exit {m.returncode}: {m.wall:8.1f} s wall, {m.cpu:8.1f} s CPU "
                f"({patients / m.cpu:,.0f} patients/s of CPU), largest process "
                f"{m.peak_rss_mib:,.0f} MiB, whole tree {m.peak_tree_rss_mib:,.0f} MiB RSS / "
                f"{m.peak_tree_pss_mib:,.0f} MiB PSS, {m.peak_processes} processes; "
                f"load {before} -> {load()}"
            )
            outputs.append(out)
        for other in outputs[1:]:
            same = rows_of(outputs[0]) == rows_of(other)
            print(
                f"  {other.name} {'is the same as' if same else 'DIFFERS FROM'} {outputs[0].name}"
            )
            ok = ok and same
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
