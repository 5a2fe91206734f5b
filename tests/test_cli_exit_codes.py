"""The command line as CI sees it: the documented exit codes (docs/cli.md), one clear line and
no traceback for a mistake in what it is given, outputs that never destroy an input, compressed
inputs, duplicate ids, and what `--help`, `--version` and `check` import."""

from __future__ import annotations

import gzip
import json
import os
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import orjson
import pytest

from criteria_lang.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "rules" / "nct03562065.crit"
EXAMPLES = ROOT / "examples" / "nct03562065"
ELIGIBLE = EXAMPLES / "eligible.json"


def run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def usage_error(capsys: pytest.CaptureFixture[str], *args: object) -> str:
    """Runs a command that must fail with exit 2, one message and no traceback."""
    code, _, err = run(capsys, *args)
    assert code == 2, err
    assert "Traceback" not in err
    assert err.strip(), "a usage error says what is wrong"
    return err


def jsonl(paths: list[Path]) -> str:
    lines = [json.dumps(json.loads(p.read_text(encoding="utf-8"))) for p in paths]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- --version, --help


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    import criteria_lang

    code, out, _ = run(capsys, "--version")
    assert code == 0
    assert out.strip() == f"criteria {criteria_lang.__version__}"


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in ("check", "eval", "screen", "lint", "fmt", "outcomes"):
        assert command in out


def imported_after(code: str) -> set[str]:
    script = textwrap.dedent(
        f"""
        import sys
        {code}
        print("\\n".join(sorted(sys.modules)))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        check=True,
    )
    return set(result.stdout.split())


HEAVY = {
    "rich",
    "jsonschema",
    "ucumvert",
    "criteria_lang.engine.evaluate",
    "criteria_lang.records.fhir",
    "criteria_lang.records.patient_json",
    "criteria_lang.tools.lint",
    "criteria_lang.tools.fmt",
    "criteria_lang.report.tables",
}


def test_help_imports_nothing_heavy() -> None:
    modules = imported_after(
        "from criteria_lang.cli.main import build_parser; build_parser().format_help()"
    )
    heavy = HEAVY | {"pint", "lark", "attrs", "orjson", "criteria_lang.check.checker"}
    assert modules & heavy == set()


def test_check_imports_neither_the_engine_nor_the_tables() -> None:
    modules = imported_after(
        f"from criteria_lang.cli.main import main; main(['check', {str(RULES)!r}])"
    )
    assert "criteria_lang.check.checker" in modules
    # pint too: the unit table (core/unit_table.py) knows the names the rule file uses.
    assert modules & (HEAVY | {"pint"}) == set()


def test_lint_help_still_lists_the_rules(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "lint", "--help")
    assert code == 0
    assert "W101" in out and "exit codes:" in out


# ---------------------------------------------------------------------------- paths


@pytest.mark.parametrize(
    "args",
    [
        ["check", "missing.crit"],
        ["lint", "missing.crit"],
        ["fmt", "--check", "missing.crit"],
        ["eval", RULES, "missing.json"],
        ["eval", "missing.crit", ELIGIBLE],
        ["screen", RULES, "missing-folder"],
        ["screen", "missing.crit", EXAMPLES],
        ["outcomes", RULES, "missing.jsonl"],
    ],
    ids=lambda a: " ".join(str(x).replace(str(ROOT), "") for x in a),
)
def test_a_path_that_does_not_exist_is_a_usage_error(
    args: list[object],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # undone after the test: later tests run where they started
    err = usage_error(capsys, *args)
    assert "no such file or folder: missing" in err


def test_screen_of_a_folder_without_rule_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert "no rule files" in usage_error(capsys, "screen", tmp_path, EXAMPLES)


@pytest.mark.parametrize("name", ["empty-folder", "empty.jsonl", "blank.ndjson"])
def test_input_with_no_records_is_an_input_error(
    name: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / name
    if name == "empty-folder":
        path.mkdir()
        (path / "notes.txt").write_text("not a patient", encoding="utf-8")
    else:
        path.write_text("" if name == "empty.jsonl" else "\n  \n", encoding="utf-8")
    for command in ("screen", "eval", "outcomes"):
        rules = ROOT / "rules" / "nct03917797.crit" if command == "outcomes" else RULES
        assert "no patient records" in usage_error(capsys, command, rules, path)


def test_empty_standard_input_is_an_input_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", _BinaryStdin(b""))
    assert "standard input: no patient records" in usage_error(capsys, "screen", RULES, "-")


class _BinaryStdin:
    def __init__(self, data: bytes) -> None:
        import io

        self.buffer = io.BytesIO(data)


# ---------------------------------------------------------------------------- -o


def test_output_naming_its_own_input_is_refused_and_the_input_kept(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = tmp_path / "patients.jsonl"
    data.write_text(jsonl([ELIGIBLE]), encoding="utf-8")
    before = data.read_bytes()
    err = usage_error(capsys, "screen", RULES, data, "-o", data, "--format", "jsonl")
    assert "is an input of this run" in err
    assert data.read_bytes() == before
    # the same file by another name (a symbolic link), and a file the folder input would read
    link = tmp_path / "link.jsonl"
    link.symlink_to(data)
    usage_error(capsys, "screen", RULES, data, "-o", link, "--format", "csv")
    usage_error(capsys, "screen", RULES, tmp_path, "-o", tmp_path / "out.jsonl")
    assert data.read_bytes() == before


def test_output_naming_the_rule_file_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rules = tmp_path / "trial.crit"
    rules.write_text(RULES.read_text(encoding="utf-8"), encoding="utf-8")
    before = rules.read_bytes()
    usage_error(capsys, "screen", rules, EXAMPLES, "-o", rules)
    usage_error(capsys, "outcomes", rules, EXAMPLES, "-o", rules)
    assert rules.read_bytes() == before


def test_output_into_a_missing_folder(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    err = usage_error(capsys, "screen", RULES, EXAMPLES, "-o", tmp_path / "no" / "out.csv")
    assert "does not exist" in err
    assert "does not exist" in usage_error(
        capsys, "outcomes", RULES, EXAMPLES, "-o", tmp_path / "no" / "out.csv"
    )


def test_output_is_written_whole_or_not_at_all(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out.csv"
    code, _, _ = run(capsys, "screen", RULES, EXAMPLES, "--format", "csv", "-o", out)
    assert code == 0
    written = out.read_text(encoding="utf-8")
    assert written.startswith("patient,trial,verdict")
    assert written.count("\n") == len(list(EXAMPLES.glob("*.json"))) + 1

    from criteria_lang.report import plain

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug while writing")

    monkeypatch.setattr(plain, "csv_row", broken)  # CSV rows are written as they come
    code, _, err = run(capsys, "screen", RULES, EXAMPLES, "--format", "csv", "-o", out)
    assert code == 2 and "internal error" in err
    assert out.read_text(encoding="utf-8") == written  # the previous output is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]  # no partial file left


@pytest.mark.parametrize("option", ["-o", "--html"])
def test_an_output_that_is_not_a_regular_file_is_written_not_replaced(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, option: str
) -> None:
    """`-o /dev/null` (a device, here a FIFO standing in for it) is written into; moving a
    temporary file over it would replace the device with a regular file."""
    fifo = tmp_path / "sink"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    try:
        code, _, err = run(capsys, "screen", RULES, EXAMPLES, "--format", "csv", option, fifo)
    finally:
        reader.join(timeout=60)
        if reader.is_alive():  # nothing opened the FIFO for writing: release the reader
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            reader.join(timeout=10)
    assert code == 0, err
    assert stat.S_ISFIFO(fifo.lstat().st_mode), "the FIFO was replaced by a file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sink"]  # no partial file left
    expected = b"patient,trial,verdict" if option == "-o" else b"<!DOCTYPE html>"
    assert received and received[0].lstrip().startswith(expected), received[:1]


# ---------------------------------------------------------------------------- findings


def test_an_unreadable_record_makes_screen_exit_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = tmp_path / "patients.jsonl"
    data.write_text(jsonl([ELIGIBLE]) + "{not json\n", encoding="utf-8")
    code, _, err = run(capsys, "screen", RULES, data, "--format", "csv")
    assert code == 1
    assert "1 error" in err


def test_verdicts_do_not_change_the_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "eval", RULES, EXAMPLES / "pregnant.json", "--json")
    assert json.loads(out)["verdict"] == "ineligible" and code == 0
    code, _, _ = run(capsys, "screen", RULES, EXAMPLES, "--format", "csv")
    assert code == 0


def test_duplicate_patient_ids_are_reported(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = tmp_path / "patients.jsonl"
    data.write_text(jsonl([ELIGIBLE, EXAMPLES / "pregnant.json", ELIGIBLE]), encoding="utf-8")
    code, out, err = run(capsys, "screen", RULES, data, "--format", "jsonl")
    assert code == 1
    assert len(out.splitlines()) == 1 + 3  # the header line, then every record: still screened
    assert "patient id 'nct03562065-eligible' appears 2 times" in err
    assert "patients.jsonl:1" in err and "patients.jsonl:3" in err
    assert "pregnant' appears" not in err


def test_a_crash_in_fmt_check_is_not_needs_formatting(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from criteria_lang.tools import fmt

    def crash(*args: object, **kwargs: object) -> str:
        raise RuntimeError("formatter bug")

    monkeypatch.setattr(fmt, "format_text", crash)
    code, _, err = run(capsys, "fmt", "--check", RULES)
    assert code == 2
    assert "internal error" in err and "would be reformatted" not in err


def test_an_internal_error_is_exit_2_not_findings(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from criteria_lang.check import checker

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("checker bug")

    monkeypatch.setattr(checker, "compile_file", crash)
    code, _, err = run(capsys, "check", RULES)
    assert code == 2 and "internal error (please report it)" in err


# ---------------------------------------------------------------------------- compressed input


def test_compressed_patient_files_are_read(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    examples = sorted(EXAMPLES.glob("*.json"))
    code, plain, _ = run(capsys, "screen", RULES, EXAMPLES, "--format", "csv")
    assert code == 0
    verdicts = sorted(line.split(",")[:3] for line in plain.splitlines()[1:])

    lines = tmp_path / "patients.ndjson.gz"
    lines.write_bytes(gzip.compress(jsonl(examples).encode("utf-8")))
    code, out, _ = run(capsys, "screen", RULES, lines, "--format", "csv")
    assert code == 0
    assert sorted(line.split(",")[:3] for line in out.splitlines()[1:]) == verdicts

    folder = tmp_path / "folder"
    folder.mkdir()
    for example in examples:
        (folder / (example.name + ".gz")).write_bytes(gzip.compress(example.read_bytes()))
    code, out, _ = run(capsys, "screen", RULES, folder, "--format", "csv")
    assert code == 0
    assert sorted(line.split(",")[:3] for line in out.splitlines()[1:]) == verdicts


def test_a_damaged_compressed_file_is_a_record_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    truncated = tmp_path / "patients.jsonl.gz"
    truncated.write_bytes(gzip.compress(jsonl([ELIGIBLE]).encode("utf-8"))[:40])
    code, out, _ = run(capsys, "screen", RULES, truncated, "--format", "jsonl")
    assert code == 1
    record = json.loads(out.splitlines()[-1])
    assert record["verdict"] == "error"
    assert "not a readable gzip file" in json.dumps(record["problems"])
    fake = tmp_path / "patient.json.gz"
    fake.write_bytes(b"plain text")
    code, out, _ = run(capsys, "screen", RULES, fake, "--format", "jsonl")
    assert code == 1 and "not a readable gzip file" in out


def test_compressed_fhir_is_read(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from criteria_lang.records.fhir_write import patient_to_bundle
    from criteria_lang.records.patient_json import load_patient

    bundle = patient_to_bundle(load_patient(json.loads(ELIGIBLE.read_text(encoding="utf-8"))))
    plain = tmp_path / "bundle.json"
    plain.write_bytes(orjson.dumps(bundle))
    compressed = tmp_path / "bundle.json.gz"
    compressed.write_bytes(gzip.compress(orjson.dumps(bundle)))
    dates = ["--date", "screening=2024-03-01", "--date", "baseline=2024-03-15"]
    code, expected, _ = run(capsys, "eval", RULES, plain, "--json", *dates)
    assert code == 0
    code, out, err = run(capsys, "eval", RULES, compressed, "--json", *dates)
    assert code == 0, err
    assert "FHIR" in err  # read as FHIR (the resourceType is found inside the gzip)
    got = json.loads(out)
    assert got["verdict"] == json.loads(expected)["verdict"] and got["criteria"]
    assert got["criteria"] == json.loads(expected)["criteria"]
