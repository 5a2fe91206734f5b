"""A FHIR R4 bulk export (NDJSON, one file a resource type, patients interleaved) of generated
patients, for measuring memory and speed on the input a site really sends.

    python bench/generate_ndjson.py --patients 50000 --out bench/out/export-50000 [--events 100]

The patients are bench/generate.py's (NCT03562065's clinic, or about `--events` events each),
written as FHIR by criteria_lang.records.fhir_write, one resource a line into Patient.ndjson,
Observation.ndjson, Condition.ndjson, MedicationRequest.ndjson and Procedure.ndjson. A bulk
export orders each file by the server's storage, not by patient: here the resources of each
block of `--mix` patients are shuffled together, so a patient's resources are spread over the
whole block in every file, and the Patient resources come in a file of their own. Records that
generate.py breaks on purpose are left out (the export is clean FHIR), and so are the few events
FHIR cannot hold as generated (a weight in lb has no UCUM code we write). Writes
`<out>.manifest.json` beside the folder (patients, resources, bytes, seed). Trial dates are not
part of FHIR: screen with --date screening=2020-06-01 --date consent=2020-05-30
--date baseline=2020-06-14.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import Counter
from pathlib import Path
from typing import IO, Any

import attrs
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import generate  # noqa: E402

from criteria_lang.records.fhir_write import patient_to_bundle  # noqa: E402
from criteria_lang.records.patient_json import load_patient  # noqa: E402

UNWRITABLE = re.compile(r"^event '([^']+)'")
DATES = ["--date", "screening=2020-06-01", "--date", "consent=2020-05-30"]
DATES += ["--date", "baseline=2020-06-14"]


def bundle_resources(index: int, seed: int, events: int | None) -> list[dict[str, Any]]:
    doc = generate.make_patient(seed, index)
    if events is not None:
        generate.resize(doc, events, random.Random(f"{seed}:resize:{index}"))
    doc.pop("dates", None)
    doc.pop("reviews", None)
    patient = load_patient(doc)
    while True:
        try:
            bundle = patient_to_bundle(patient)
        except ValueError as error:  # a value FHIR cannot hold (a weight in lb): drop the event
            found = UNWRITABLE.search(str(error))
            if found is None:
                raise
            kept = tuple(e for e in patient.events if e.id != found[1])
            patient = attrs.evolve(patient, events=kept)
            continue
        resources = [entry["resource"] for entry in bundle["entry"]]
        # A server's ids are unique across the export, not only within one patient's bundle.
        owner = resources[0]["id"]
        for res in resources[1:]:
            res["id"] = f"{owner}-{res['id']}"[:64]
        return resources


def manifest_path(out: Path) -> Path:
    """Beside the export's folder, not in it (where it would be read as data)."""
    return out.with_name(out.name + ".manifest.json")


def write(out: Path, patients: int, seed: int, events: int | None, mix: int) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    handles: dict[str, IO[bytes]] = {}
    counts: Counter[str] = Counter()
    rng = random.Random(f"{seed}:shuffle")
    try:
        for first in range(0, patients, mix):
            block: list[tuple[str, bytes]] = []
            for index in range(first, min(patients, first + mix)):
                for res in bundle_resources(index, seed, events):
                    block.append((res["resourceType"], orjson.dumps(res)))
            rng.shuffle(block)
            for rtype, line in block:
                handle = handles.get(rtype)
                if handle is None:
                    handle = handles[rtype] = (out / f"{rtype}.ndjson").open("wb")
                handle.write(line + b"\n")
                counts[rtype] += 1
            if first and first % (10 * mix) == 0:
                print(f"  {first:,} patients ...", file=sys.stderr, flush=True)
    finally:
        for handle in handles.values():
            handle.close()
    manifest = {
        "patients": patients,
        "seed": seed,
        "events_target": events,
        "mix": mix,
        "resources": dict(sorted(counts.items())),
        "bytes": sum(f.stat().st_size for f in out.glob("*.ndjson")),
        "dates": DATES,
    }
    manifest_path(out).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=5000)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=generate.DEFAULT_SEED)
    parser.add_argument("--events", type=int, help="about this many events a patient")
    parser.add_argument("--mix", type=int, default=2000, help="patients shuffled together")
    args = parser.parse_args(argv)
    manifest = write(args.out, args.patients, args.seed, args.events, args.mix)
    total = sum(manifest["resources"].values())
    print(
        f"{args.out}: {manifest['patients']:,} patients, {total:,} resources, "
        f"{manifest['bytes'] / 1e9:.2f} GB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
