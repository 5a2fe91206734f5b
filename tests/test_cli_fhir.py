"""`criteria eval` and `criteria screen` on FHIR R4 input: bundles, folders, NDJSON exports."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from criteria_lang import Rules
from criteria_lang.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
KIDNEY = ROOT / "rules" / "examples" / "synthea_kidney.crit"


def observation(
    rid: str, pid: str, loinc: str, date: str, value: float, unit: str
) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "category": [{"coding": [{"code": "laboratory"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": date,
        "valueQuantity": {
            "value": value,
            "unit": unit,
            "system": "http://unitsofmeasure.org",
            "code": unit,
        },
    }


def resources(pid: str, egfr: float) -> list[dict[str, Any]]:
    return [
        {"resourceType": "Patient", "id": pid, "birthDate": "1960-01-01", "gender": "female"},
        observation(f"{pid}-egfr", pid, "33914-3", "2023-12-01", egfr, "mL/min/{1.73_m2}"),
        observation(f"{pid}-acr", pid, "14959-1", "2023-12-01", 12.5, "mg/g"),
        # an arbitrary unit: not readable (criteria_lang gives [arb'U] no meaning), a problem
        # with its path
        observation(f"{pid}-arb", pid, "5048-4", "2024-02-01", 37.1, "[arb'U]"),
        {"resourceType": "Claim", "id": f"{pid}-claim"},
    ]


def bundle(*items: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in items],
    }


@pytest.fixture
def fhir_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "fhir"
    folder.mkdir()
    (folder / "a.json").write_text(json.dumps(bundle(*resources("a", 45))))
    (folder / "b.json").write_text(json.dumps(bundle(*resources("b", 20))))
    return folder


def test_screen_a_folder_of_bundles(fhir_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["screen", str(KIDNEY), str(fhir_dir), "--date", "screening=2024-03-01"]) == 0
    out = capsys.readouterr().out
    assert "2 records: 0 eligible, 1 ineligible, 1 undetermined, 0 error" in out
    assert (
        "FHIR: 2 file(s), 10 resources: 6 read, 4 not read; 2 patient(s) read, 0 not readable"
        in out
    )
    assert "Claim: 2 ignored (not used for eligibility)" in out
    assert "Observation: 4 read, 2 not readable (see problems)" in out
    assert (
        'a.json: $.entry[3].resource.valueQuantity.code: Observation/a-arb: unit "[arb\'U]"' in out
    )


def test_without_the_date_the_run_says_so_once(
    fhir_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["screen", str(KIDNEY), str(fhir_dir)]) == 0
    out = capsys.readouterr().out
    note = (
        "note: no record has the date 'screening', which criteria I1, I2, I3, E1 count from, and "
        "no --date screening=YYYY-MM-DD was given: those criteria are unknown for every record."
    )
    assert out.count(note) == 1
    assert "FHIR data carries no trial dates: give them with --date NAME=YYYY-MM-DD." in out


def test_csv_and_jsonl_put_the_summary_on_stderr(
    fhir_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["screen", str(KIDNEY), str(fhir_dir), "--format", "csv"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("patient,trial,verdict,deciding,reasons,source\n")
    assert "FHIR:" not in captured.out and "note:" not in captured.out
    assert (
        "FHIR: 2 file(s)" in captured.err and "no record has the date 'screening'" in captured.err
    )
    assert (
        main(
            [
                "screen",
                str(KIDNEY),
                str(fhir_dir),
                "--format",
                "jsonl",
                "--date",
                "screening=2024-03-01",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    header, *rows = [json.loads(line) for line in captured.out.splitlines()]
    assert header["input"]["format"] == "FHIR R4" and header["dates"] == {"screening": "2024-03-01"}
    assert sorted(r["verdict"] for r in rows) == ["ineligible", "undetermined"]
    assert "2 problem(s):" in captured.err


def test_problems_lists_every_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    temps = [observation(f"t{i}", "a", "5048-4", "2024-01-01", 37, "[arb'U]") for i in range(25)]
    path = tmp_path / "many.json"
    path.write_text(json.dumps(bundle(*resources("a", 45), *temps)))
    main(["screen", str(KIDNEY), str(path), "--date", "screening=2024-03-01"])
    out = capsys.readouterr().out
    assert (
        "26 problem(s):" in out and "... and 6 more" in out and "(--problems lists them all)" in out
    )
    main(["screen", str(KIDNEY), str(path), "--date", "screening=2024-03-01", "--problems"])
    out = capsys.readouterr().out
    assert "... and" not in out and out.count("Observation/t") == 25


def test_eval_one_bundle(fhir_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(fhir_dir / "b.json")
    assert main(["eval", str(KIDNEY), path, "--date", "screening=2024-03-01", "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["verdict"] == "ineligible" and result["deciding"] == ["I2"]
    i2 = next(c for c in result["criteria"] if c["id"] == "I2")
    assert i2["result"] == "not_met" and i2["evidence"][0]["event_id"] == "Observation/b-egfr"
    assert "FHIR: 1 file(s)" in captured.err


def test_an_ndjson_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    by_type: dict[str, list[dict[str, Any]]] = {}
    for res in resources("a", 45) + resources("b", 20):
        by_type.setdefault(res["resourceType"], []).append(res)
    for rtype, items in by_type.items():
        (tmp_path / f"{rtype}.ndjson").write_text("".join(json.dumps(r) + "\n" for r in items))
    assert main(["screen", str(KIDNEY), str(tmp_path), "--date", "screening=2024-03-01"]) == 0
    out = capsys.readouterr().out
    assert "2 records: 0 eligible, 1 ineligible, 1 undetermined, 0 error" in out
    assert "FHIR: 3 file(s), 10 resources" in out
    assert "Observation.ndjson:3: $.valueQuantity.code: Observation/a-arb" in out


def test_our_format_missing_a_date_in_some_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = {
        "birth_date": "1960-01-01",
        "sex": "female",
        "coverage": [{"start": "2000-01-01", "end": None}],
    }
    (tmp_path / "p1.json").write_text(
        json.dumps({"id": "p1", "dates": {"screening": "2024-03-01"}, **base})
    )
    (tmp_path / "p2.json").write_text(json.dumps({"id": "p2", **base}))
    assert main(["screen", str(KIDNEY), str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert (
        "note: 1 of 2 records lack the date 'screening', which criteria I1, I2, I3, E1 count from"
        in out
    )
    assert "FHIR" not in out


def test_dates_needed_follow_definitions_and_the_index_date() -> None:
    rules = Rules.from_text(
        """
        trial "T"
          dates consent, screening, baseline
          index baseline
        import labs
        define recent = lab labs.egfr within 30 days
        inclusion
          I1 "age": age at consent >= 18 years
          I2 "recent": recent
        exclusion
          E1 "any time": lab labs.egfr any time
          E2 "span": lab labs.egfr from screening to baseline
        """,
        path=str(ROOT / "rules" / "t.crit"),
    )
    assert rules.dates_needed() == {
        "consent": ("I1",),
        "screening": ("E2",),
        "baseline": ("I2", "E2"),
    }


def test_fhir_patients_get_the_dates_given(fhir_dir: Path) -> None:
    from criteria_lang.cli.main import read_records

    records = list(read_records(fhir_dir, "auto", {"screening": dt.date(2024, 3, 1)}))
    assert [r.dates for r in records] == [{"screening": dt.date(2024, 3, 1)}] * 2  # type: ignore[union-attr]


def test_a_folder_of_rules_screens_each_trial_on_its_own_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from criteria_lang.cli.main import screen_pairs

    rules = ROOT / "rules"
    examples = tmp_path / "examples"
    (examples / "nct03562065").mkdir(parents=True)
    pairs = screen_pairs(rules, examples)
    assert pairs == [(rules / "nct03562065.crit", examples / "nct03562065")]
    assert "synthea_kidney.crit: no folder" in capsys.readouterr().err
    # no trial folders at all: every rule file runs on the whole input
    assert len(screen_pairs(rules, tmp_path / "examples" / "nct03562065")) == len(
        list(rules.rglob("*.crit"))
    )


def test_dates_needed_are_trial_dates_not_events_birth_or_it() -> None:
    # A window anchored at an event counts from that event (its own window needs screening), not
    # from a trial date named after it; birth and `it` are not trial dates either.
    rules = Rules.from_text(
        """
        trial "T"
          dates screening
        condition ra = icd10 "M06"
        condition hf = icd10 "I50"
        procedure hospitalization = local "encounter-IMP"
        inclusion
          I1 "a": condition hf within 12 months after (earliest condition ra ever before screening)
          I2 "b": condition ra from birth to 16 years after birth
          I3 "c": procedure hospitalization with (condition hf during it) ever before screening
        """,
        path=str(ROOT / "rules" / "t.crit"),
    )
    assert rules.dates_needed() == {"screening": ("I1", "I3")}
