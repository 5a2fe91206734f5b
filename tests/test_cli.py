"""The `criteria` command: check, eval, screen; formats; errors per record; exit codes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from criteria_lang.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "rules" / "nct03562065.crit"
EXAMPLES = ROOT / "examples" / "nct03562065"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_check_ok_prints_coverage(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", RULES)
    assert code == 0
    assert "NCT03562065: 25 criteria:" in out and "computable" in out and "need review only" in out


def test_check_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.crit"
    bad.write_text(
        'trial "T"\n  dates s\ninclusion\n  I1 "x": age at t > 3 years\n', encoding="utf-8"
    )
    code, out, _ = run(capsys, "check", "--format", "json", bad)
    assert code == 1
    records = json.loads(out)
    assert records[0]["diagnostics"][0]["code"] == "C201"
    assert records[0]["diagnostics"][0]["line"] == 4


def test_eval_table_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "eval", RULES, EXAMPLES / "belimumab-washout.json")
    assert code == 0
    assert "INELIGIBLE" in out and "E10" in out and "belimumab" in out
    code, out, _ = run(capsys, "eval", RULES, EXAMPLES / "belimumab-washout.json", "--json")
    data = json.loads(out)
    assert data["verdict"] == "ineligible" and data["deciding"] == ["E10"]
    e10 = next(c for c in data["criteria"] if c["id"] == "E10")
    assert e10["result"] == "met" and e10["evidence"][0]["event_id"] == "belimumab"


def test_eval_bad_record_exit_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"id": "x", "birth_date": "2024-02-30", "events": []}', encoding="utf-8")
    code, _, err = run(capsys, "eval", RULES, bad)
    assert code == 1
    assert "$.birth_date" in err


def test_screen_batch_goes_on_past_bad_records(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    lines = [
        (EXAMPLES / "eligible.json").read_text(encoding="utf-8").replace("\n", " "),
        "{not json",
        json.dumps({"id": "broken", "birth_date": "1990-01-01", "events": [{"type": "lab"}]}),
        (EXAMPLES / "pregnant.json").read_text(encoding="utf-8").replace("\n", " "),
    ]
    data = tmp_path / "patients.jsonl"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, err = run(capsys, "screen", RULES, data, "--format", "jsonl")
    assert code == 1  # records that cannot be read are findings (docs/cli.md)
    header, *records = [json.loads(line) for line in out.splitlines()]
    assert header["header"] == "screen" and header["trial"] == "NCT03562065"
    assert [r["verdict"] for r in records] == ["eligible", "error", "error", "ineligible"]
    assert records[1]["source"].endswith(":2") and records[2]["source"].endswith(":3")
    assert any("$.events[0]" in p["path"] for p in records[2]["problems"])
    assert "4 records: 1 eligible, 1 ineligible, 0 undetermined, 2 error" in err


def test_screen_csv(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "screen", RULES, EXAMPLES, "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == len(list(EXAMPLES.glob("*.json")))
    by_id = {r["patient"]: r for r in rows}
    assert by_id["nct03562065-azathioprine-below-2-mg-kg"]["deciding"] == "I4"
    assert "mg/kg/day" in by_id["nct03562065-azathioprine-below-2-mg-kg"]["reasons"]


def test_screen_folder_of_rules_pairs_example_folders(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "screen", ROOT / "rules", ROOT / "examples")
    assert code == 0
    assert "nct03562065-eligible" in out and "records:" in out


def test_date_option_fills_missing_dates(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    doc = json.loads((EXAMPLES / "eligible.json").read_text(encoding="utf-8"))
    doc["dates"].pop("baseline")
    path = tmp_path / "p.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    _, out, _ = run(capsys, "eval", RULES, path, "--json")
    assert json.loads(out)["verdict"] == "undetermined"
    _, out, _ = run(capsys, "eval", RULES, path, "--json", "--date", "baseline=2024-03-15")
    assert json.loads(out)["verdict"] == "eligible"


def test_usage_error_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["screen"]) == 2
    assert main(["eval", str(RULES), "x.json", "--date", "nodate"]) == 2
