"""The benchmark's patient generator: every record comes out of `Rules.screen`, none lost.

Benchmarks themselves never run in the test suite (docs/performance.md); this only checks that
bench/generate.py writes records our loader reads, and that the records it breaks on purpose come
out as errors, one for one.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

from criteria_lang import Rules, read_patients
from criteria_lang.core.results import PatientResult
from criteria_lang.records.patient_json import RecordError

ROOT = Path(__file__).resolve().parents[1]


def test_generated_patients_all_come_out(tmp_path: Path) -> None:
    out = tmp_path / "patients.jsonl"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "generate.py"),
            "--patients",
            "20",
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    manifest = orjson.loads(out.with_name(out.name + ".manifest.json").read_bytes())
    broken = {f"{out}:{item['line']}" for item in manifest["broken"]}
    assert manifest["patients"] == 20 and broken

    rules = Rules.from_file(ROOT / "rules" / "nct03562065.crit")
    rows = list(rules.screen(read_patients(out)))

    assert len(rows) == 20
    errors = {row.source for row in rows if isinstance(row, RecordError)}
    assert errors == broken
    results = [row for row in rows if isinstance(row, PatientResult)]
    assert len(results) + len(errors) == 20
    assert len({r.patient_id for r in results}) == len(results)
    assert all(len(r.criteria) == len(rules.program.criteria) for r in results)
