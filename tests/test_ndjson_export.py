"""Large FHIR NDJSON exports read bucket by bucket (records/ndjson_export.py, batch/export.py):
the same patients, rows and counts as the in-memory reader, in the same order, whatever the
bucket and piece sizes and --jobs; memory bounded by a bucket, not the export."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from criteria_lang import Rules
from criteria_lang.batch.pool import can_fork
from criteria_lang.batch.screen import ScreenRun
from criteria_lang.records import ndjson_export as nd
from criteria_lang.report.tables import jsonl

ROOT = Path(__file__).resolve().parents[1]
KIDNEY = ROOT / "rules" / "examples" / "synthea_kidney.crit"
DATES = {"screening": dt.date(2024, 3, 1)}
LOINC = "http://loinc.org"


def observation(rid: str, ref: str, loinc: str, day: str, value: float, unit: str) -> Any:
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "category": [{"coding": [{"code": "laboratory"}]}],
        "code": {"coding": [{"system": LOINC, "code": loinc}]},
        "subject": {"reference": ref},
        "effectiveDateTime": day,
        "valueQuantity": {
            "value": value,
            "unit": unit,
            "system": "http://unitsofmeasure.org",
            "code": unit,
        },
    }


def make_export(folder: Path, patients: int, seed: int) -> None:
    """An export with what makes joining hard: patients interleaved in every file, references
    in three forms, a Patient without id, a broken Patient line, an orphan, a resource about a
    Group, a duplicate, Medications referenced from requests, lines that are no resource, a
    byte order mark, blank lines, ignored types with and without a subject."""
    rng = random.Random(seed)
    lines: dict[str, list[Any]] = {
        "Patient": [],
        "Observation": [],
        "MedicationRequest": [],
        "Medication": [],
        "Claim": [],
    }
    for i in range(patients):
        pid = f"p{i}"
        lines["Patient"].append(
            {"resourceType": "Patient", "id": pid, "birthDate": "1960-01-01", "gender": "female"}
        )
        refs = [f"Patient/{pid}", f"urn:uuid:{pid}", f"https://ehr.example/fhir/Patient/{pid}"]
        for k in range(rng.randint(1, 6)):
            lines["Observation"].append(
                observation(
                    f"{pid}-egfr{k}",
                    rng.choice(refs),
                    "33914-3",
                    f"2023-{rng.randint(1, 12):02d}-01",
                    rng.randint(10, 90),
                    "mL/min/{1.73_m2}",
                )
            )
        lines["MedicationRequest"].append(
            {
                "resourceType": "MedicationRequest",
                "id": f"{pid}-rx",
                "status": "active",
                "intent": "order",
                "subject": {"reference": f"Patient/{pid}"},
                "medicationReference": {"reference": f"Medication/med{i % 3}"},
                "authoredOn": "2023-06-01",
            }
        )
        lines["Claim"].append(
            {
                "resourceType": "Claim",
                "id": f"{pid}-claim",
                "patient": {"reference": f"Patient/{pid}"},
            }
        )
    for m in range(3):
        lines["Medication"].append(
            {
                "resourceType": "Medication",
                "id": f"med{m}",
                "code": {
                    "coding": [
                        {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "6809"}
                    ]
                },
            }
        )
    lines["Medication"].append(lines["Medication"][0])  # a duplicate Medication
    lines["Patient"].append({"resourceType": "Patient", "birthDate": "1950-01-01"})  # no id
    lines["Observation"].append(lines["Observation"][0])  # a duplicate, same patient
    lines["Observation"].append(
        observation("orphan", "Patient/nobody", "33914-3", "2023-01-01", 5, "mL/min")
    )
    lines["Observation"].append(
        observation("grp", "Group/g1", "33914-3", "2023-01-01", 5, "mL/min")
    )
    lines["Claim"].append({"resourceType": "Organization", "id": "org"})
    for items in lines.values():
        rng.shuffle(items)
    folder.mkdir(parents=True, exist_ok=True)
    for rtype, items in lines.items():
        text = [json.dumps(item) for item in items]
        if rtype == "Patient":
            text.insert(len(text) // 2, '{"resourceType": "Patient", "id": "broken", ')
        if rtype == "Observation":
            text.insert(3, "not json at all")
            text.insert(5, "[1, 2]")
            text.insert(7, "")
        body = "\n".join(text) + "\n"
        if rtype == "Claim":
            body = "\ufeff" + body
        (folder / f"{rtype}.ndjson").write_text(body, encoding="utf-8")


def screen(folder: Path, jobs: int) -> tuple[list[str], Any]:
    run = ScreenRun(Rules.from_file(KIDNEY), dates=DATES, jobs=jobs)
    rows = [jsonl(item.row) for item in run.rows(folder, fhir=True)]
    return rows, run.summary


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("export") / "bulk"
    make_export(folder, 60, seed=7)
    return folder


@pytest.mark.parametrize(
    ("bucket_bytes", "split_bytes", "jobs"),
    [(2_000, 500, 1), (20_000, 3_000, 1), (2_000, 700, 2), (50_000, 100_000, 3)],
)
def test_buckets_give_the_rows_of_the_in_memory_reader(
    export: Path, monkeypatch: pytest.MonkeyPatch, bucket_bytes: int, split_bytes: int, jobs: int
) -> None:
    if jobs > 1 and not can_fork():
        pytest.skip("worker processes need fork")
    whole, whole_summary = screen(export, 1)  # small: read in memory, as before
    monkeypatch.setattr(nd, "BUCKET_BYTES", bucket_bytes)
    monkeypatch.setattr(nd, "SPLIT_BYTES", split_bytes)
    size = sum(f.stat().st_size for f in export.iterdir())
    assert nd.bucket_count(size) > 1
    parts, summary = screen(export, jobs)
    assert parts == whole
    assert len(whole) == 62  # 60 patients, the one without id, the broken Patient line
    assert '"source":"' + str(export / "Patient.ndjson") in whole[-1]  # the broken line: last
    assert summary.read == whole_summary.read
    assert summary.skipped == whole_summary.skipped
    assert (summary.files, summary.patients, summary.record_errors) == (
        whole_summary.files,
        whole_summary.patients,
        whole_summary.record_errors,
    )
    assert Counter(map(str, summary.problems)) == Counter(map(str, whole_summary.problems))
    assert (
        summary.skipped[
            ("Observation", "duplicate of an earlier resource with the same type and id")
        ]
        == 1
    )
    assert (
        summary.skipped[
            ("Medication", "duplicate of an earlier resource with the same type and id")
        ]
        == 1
    )


def test_split_pieces_cover_every_line_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "Observation.ndjson"
    path.write_bytes(b"".join(b'{"n": %d}\n' % i for i in range(500)) + b'{"last": 1}')
    monkeypatch.setattr(nd, "SPLIT_BYTES", 64)
    chunks = list(nd._cut(path))
    assert len(chunks) > 20
    data = path.read_bytes()
    assert b"".join(data[c.offset : c.offset + c.length] for c in chunks) == data
    assert [c.first_line for c in chunks] == [1 + data[: c.offset].count(b"\n") for c in chunks]


def test_bucket_count_grows_with_the_export_and_is_capped() -> None:
    assert nd.bucket_count(0) == nd.bucket_count(nd.BUCKET_BYTES) == 1
    assert nd.bucket_count(nd.BUCKET_BYTES + 1) == 2
    assert nd.bucket_count(10**15) == nd.MAX_BUCKETS
