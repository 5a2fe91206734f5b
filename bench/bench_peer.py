"""The whole `criteria screen` command against the reference CQL engine, on Synthea bundles.

    python bench/bench_peer.py [--sets 37,600] [--rounds 3] [--jobs 0] [--synthea-all DIR]

The four kidney criteria of the cql-execution peer (../shared/peers: cql-execution 3.3.2 with
cql-exec-fhir 2.2.0, its hand-written ELM, and peer_kidney.crit, the same four criteria in our
language), run side by side on the same FHIR bundles, each engine in its own process:

  criteria   `criteria screen peer_kidney.crit DIR --format jsonl` (the whole command: start-up,
             compiling the rules, reading, evaluating, writing), with --jobs as given;
  peer       `node bench.js N DIR` (preload mode, as the peer's README reports it);
  floor      the peer folder's plain_floor.py: the same four answers in plain Python (json +
             datetime), one bundle at a time: what reading the JSON alone costs.

Sets: `37`, the 37 shared bundles; `600`, the public Synthea R4 sample (smart-on-fhir/
generated-sample-data, R4/SYNTHEA: 615 patients in 617 files) from --synthea-all or
$SYNTHEA_ALL, or else the 37 bundles cycled to 615 files with fresh patient ids (written once
under bench/out/). A warm-up round comes first (untimed; it also compares the answers patient by
patient with the peer's); then --rounds timed rounds, each running every engine once, so that a
ratio is taken within one round. Printed: medians of wall time, CPU time of the process tree and
peak memory, the ratios (peer / criteria: how many times as fast we are), and the load average
before and after. Timing is never asserted anywhere (docs/performance.md).

The peer's node_modules are installed by `npm ci` into --cache (default
~/.cache/criteria-peer-compare, as the peer's compare.sh) on first use.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import Measured, load, machine, median, run  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DATES = ["--date", "index_date=2020-01-01", "--date", "last_day=2019-12-31", "--closed-world"]
KEYS = ("HasCKD", "LatestEGFRBelow60", "RecentMedication", "Eligible")
TRUTH = {"met": True, "not_met": False, "unknown": None, "needs_review": "review"}
# Where the semantics differ on purpose (peer_kidney.crit's header): RecentMedication asks
# "exposed in the window" (we) vs "authored in the window" (CQL), and Eligible uses it.
DIFFERENT_SEMANTICS = frozenset({"RecentMedication", "Eligible"})


def find_shared() -> Path:
    for parent in ROOT.parents:
        if (parent / "shared" / "peers").is_dir():
            return parent / "shared"
    return ROOT.parent / "shared"


@dataclass
class Setup:
    peer: Path
    node_path: Path
    cli: Path
    rules: Path
    floor: Path
    jobs: str | None


def node_modules(peer: Path, cache: Path) -> Path:
    """cql-execution's node_modules, installed with `npm ci` once per lock file."""
    lock = (peer / "cql-execution" / "package-lock.json").read_bytes()
    folder = cache / f"node-{hashlib.sha256(lock).hexdigest()[:12]}"
    if not (folder / "node_modules" / "cql-execution").is_dir():
        print(f"installing cql-execution into {folder} (npm ci) ...", file=sys.stderr)
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(peer / "cql-execution" / name, folder / name)
        subprocess.run(
            ["npm", "ci", "--silent", "--no-audit", "--no-fund"],
            cwd=folder,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return folder / "node_modules"


def cycled_set(source: Path, count: int, out: Path) -> Path:
    """`count` bundles made from those in `source`, cycled, each patient with a fresh id (the
    id is replaced everywhere in the file: Patient.id, fullUrl and every reference)."""
    folder = out / f"synthea-cycled-{count}"
    files = sorted(source.glob("*.json"))
    if folder.is_dir() and len(list(folder.glob("*.json"))) == count:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        original = files[i % len(files)]
        data = original.read_bytes()
        doc = json.loads(data)
        old = next(
            e["resource"]["id"]
            for e in doc["entry"]
            if e.get("resource", {}).get("resourceType") == "Patient"
        )
        new = str(uuid.uuid5(uuid.NAMESPACE_URL, f"criteria-lang-bench/{i}"))
        name = original.name.replace(old, new) if old in original.name else f"{i:04d}_{new}.json"
        (folder / name).write_bytes(data.replace(old.encode(), new.encode()))
    return folder


def criteria_answers(jsonl: Path) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for line in jsonl.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if "patient" not in record or "criteria" not in record:
            continue
        rows[record["patient"]] = {c["id"]: TRUTH[c["result"]] for c in record["criteria"]}
    return rows


def compare(peer_dump: Path, ours: dict[str, dict[str, Any]], label: str, ours_differ: bool) -> str:
    peer = {r["id"]: r for r in json.loads(peer_dump.read_text())["results"]}
    both = sorted(set(peer) & set(ours))
    parts = []
    for key in KEYS:
        same = sum(1 for pid in both if peer[pid].get(key) == ours[pid].get(key))
        note = " (semantics differ)" if ours_differ and key in DIFFERENT_SEMANTICS else ""
        parts.append(f"{key} {same}/{len(peer)}{note}")
    only = len(set(peer) ^ set(ours))
    tail = f"; {only} patients on one side only" if only else ""
    return f"  {label:<9}" + ", ".join(parts) + tail


def floor_answers(dump: Path) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in json.loads(dump.read_text())["results"]}


def one_round(setup: Setup, data: Path, files: int, tmp: Path, dump: bool) -> dict[str, Measured]:
    env = dict(os.environ, NODE_PATH=str(setup.node_path))
    out = tmp / "criteria.jsonl"
    jobs = ["--jobs", setup.jobs] if setup.jobs is not None else []
    measured = {
        "criteria": run(
            [str(setup.cli), "screen", str(setup.rules), str(data), *DATES]
            + ["--format", "jsonl", "-o", str(out), *jobs]
        )
    }
    peer_cmd = ["node", str(setup.peer / "cql-execution" / "bench.js"), str(files), str(data)]
    floor_cmd = ["python3", str(setup.floor), str(data)]
    if dump:
        peer_cmd += ["--dump", str(tmp / "peer.json")]
        floor_cmd += ["--dump", str(tmp / "floor.json")]
    measured["peer"] = run(peer_cmd, env=env)
    measured["floor"] = run(floor_cmd)
    return measured


def report(label: str, rounds: list[dict[str, Measured]], patients: int) -> None:
    def med(engine: str, field: str) -> float:
        return median([getattr(r[engine], field) for r in rounds])

    def ratio(a: str, b: str, field: str) -> float:  # median over rounds of a / b
        return median([getattr(r[a], field) / getattr(r[b], field) for r in rounds])

    print(f"{label}: {len(rounds)} timed rounds, {patients} patients")
    print(f"  {'engine':<44}{'wall s':>8}{'cpu s':>8}{'tree MiB':>10}{'patients/s':>12}")
    names = {
        "criteria": "criteria screen (whole command)",
        "peer": "cql-execution 3.3.2 (node bench.js)",
        "floor": "plain Python floor (plain_floor.py)",
    }
    for engine, name in names.items():
        wall = med(engine, "wall")
        print(
            f"  {name:<44}{wall:>8.2f}{med(engine, 'cpu'):>8.2f}"
            f"{med(engine, 'peak_tree_rss_mib'):>10.0f}{patients / wall:>12,.0f}"
        )
    print(
        f"  criteria vs cql-execution: {ratio('peer', 'criteria', 'wall'):.1f}x wall, "
        f"{ratio('peer', 'criteria', 'cpu'):.1f}x CPU | vs the plain floor: "
        f"{ratio('floor', 'criteria', 'wall'):.2f}x wall, {ratio('floor', 'criteria', 'cpu'):.2f}x"
        " CPU (above 1: faster than the floor)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="37,600", help="comma-separated: 37, 600")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", help="--jobs for criteria screen (default: its own default)")
    parser.add_argument("--shared", type=Path, default=find_shared())
    parser.add_argument("--synthea-all", type=Path, default=os.environ.get("SYNTHEA_ALL"))
    parser.add_argument(
        "--cache", type=Path, default=Path.home() / ".cache" / "criteria-peer-compare"
    )
    parser.add_argument("--cli", type=Path, default=Path(sys.executable).parent / "criteria")
    args = parser.parse_args(argv)

    peer = args.shared / "peers"
    if not (peer / "cql-execution" / "bench.js").is_file():
        print(f"no cql-execution peer in {peer}: give --shared", file=sys.stderr)
        return 2
    setup = Setup(
        peer=peer,
        node_path=node_modules(peer, args.cache),
        cli=args.cli,
        rules=peer / "compare" / "peer_kidney.crit",
        floor=peer / "compare" / "plain_floor.py",
        jobs=args.jobs,
    )
    thirty_seven = args.shared / "data" / "synthea-fhir-r4"
    print(f"machine: {machine()}")
    for name in args.sets.split(","):
        if name == "37":
            data, label = thirty_seven, "37 shared Synthea bundles"
        elif args.synthea_all and Path(args.synthea_all).is_dir():
            data = Path(args.synthea_all)
            label = f"Synthea R4 sample ({data})"
        else:
            data = cycled_set(thirty_seven, 615, ROOT / "bench" / "out")
            label = "the 37 bundles cycled to 615 with fresh patient ids"
        files = len(list(data.glob("*.json")))
        load_before = load()
        with tempfile.TemporaryDirectory(prefix="bench-peer-") as tmp_name:
            tmp = Path(tmp_name)
            one_round(setup, data, files, tmp, dump=True)
            ours = criteria_answers(tmp / "criteria.jsonl")
            print(f"answers vs cql-execution, patient by patient ({label}):")
            print(compare(tmp / "peer.json", ours, "criteria", True))
            print(compare(tmp / "peer.json", floor_answers(tmp / "floor.json"), "floor", False))
            rounds = [one_round(setup, data, files, tmp, dump=False) for _ in range(args.rounds)]
        report(f"{label}; load average {load_before} -> {load()}", rounds, len(ours))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
