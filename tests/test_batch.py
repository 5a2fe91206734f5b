"""Screening on several processes (criteria_lang.batch): the same rows in the same order as one
process, every record accounted (also when a worker dies), and the pieces it is built from.

Timing is never asserted (docs/performance.md): these tests are about what comes out.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from golden import SYNTHEA

from criteria_lang import Rules
from criteria_lang.batch import wire
from criteria_lang.batch.pool import Failure, OrderedPool, can_fork
from criteria_lang.batch.screen import ScreenRun
from criteria_lang.batch.units import Unit, line_chunks, plan_units
from criteria_lang.cli.main import main
from criteria_lang.cli.progress import ProgressBar, format_duration
from criteria_lang.cli.screening import Output
from criteria_lang.core.results import PatientResult
from criteria_lang.records.patient_json import RecordError, read_patients
from criteria_lang.report.tables import jsonl

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "rules" / "nct03562065.crit"
EXAMPLES = ROOT / "examples"
forking = pytest.mark.skipif(not can_fork(), reason="worker processes need fork (Linux)")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 generated patients (JSON Lines), some broken on purpose, with blank lines between."""
    out = tmp_path_factory.mktemp("gen") / "patients.jsonl"
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / "generate.py"), "--patients", "60", "--out", out],
        check=True,
        capture_output=True,
    )
    lines = out.read_bytes().splitlines(keepends=True)
    lines.insert(10, b"\n")
    lines.insert(31, b"   \n")
    out.write_bytes(b"".join(lines))
    return out


def cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------------- units


def test_line_chunks_cut_at_line_ends_and_count_lines() -> None:
    data = b"".join(b'{"n": %d, "pad": "%s"}\n' % (i, b"x" * (i * 7 % 50)) for i in range(200))
    data += b"no newline at the end"
    units = list(line_chunks(io.BytesIO(data), "f.jsonl", chunk_bytes=300))
    assert b"".join(u.data for u in units) == data
    assert len(units) > 10
    line = 1
    for unit in units:
        assert unit.first_line == line
        assert unit.data.endswith(b"\n") or unit is units[-1]
        line += len(unit.lines())
    assert line == 202


def test_a_line_longer_than_a_chunk_is_never_cut() -> None:
    data = b"a\n" + b"b" * 1000 + b"\nc\n"
    units = list(line_chunks(io.BytesIO(data), "f", chunk_bytes=64))
    assert [line for u in units for line in u.lines()] == [b"a", b"b" * 1000, b"c"]
    assert units[0].lines() == [b"a"] and units[1].first_line == 2


def test_unit_encoding_round_trips() -> None:
    unit = Unit("patient-lines", "x.jsonl", 3, ("a", "b"), True, 17, b"\x00\n{}")
    assert Unit.decode(unit.encode()) == unit


def test_fhir_folder_units_in_reading_order(tmp_path: Path) -> None:
    bundle = b'{"resourceType": "Bundle", "entry": []}'
    for name in ("b.json", "a.json", "Patient.ndjson", "Observation.ndjson"):
        (tmp_path / name).write_bytes(bundle if name.endswith(".json") else b"")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.json").write_bytes(bundle)
    units = list(plan_units(tmp_path, True))
    assert [(u.kind, Path(u.source).name) for u in units] == [
        ("fhir-file", "a.json"),
        ("fhir-file", "b.json"),
        ("fhir-export", tmp_path.name),
        ("fhir-file", "c.json"),
    ]
    assert [Path(p).name for p in units[2].paths] == ["Observation.ndjson", "Patient.ndjson"]


# ---------------------------------------------------------------------------- rows on the wire


def test_rows_round_trip_exactly_through_json() -> None:
    """Every example patient of every trial, and its error rows: the JSON a worker sends
    rebuilds the same result, which prints the same."""
    seen = 0
    for rule_file in sorted((ROOT / "rules").glob("*.crit")):
        folder = EXAMPLES / rule_file.stem
        if not folder.is_dir():
            continue
        rules = Rules.from_file(rule_file)
        for row in rules.screen(read_patients(folder)):
            back = wire.row_from_json(wire.row_json(row))
            assert back == row
            assert jsonl(back) == jsonl(row) == wire.row_json(row).decode()
            seen += 1
    assert seen > 50
    error = RecordError("f.jsonl:3", (wire.Problem("$.x", "bad"),))
    assert wire.row_from_json(wire.row_json(error)) == error


@pytest.mark.skipif(not SYNTHEA.is_dir(), reason="needs the shared Synthea bundles")
def test_fhir_summary_round_trips() -> None:
    rules = Rules.from_file(ROOT / "rules" / "examples" / "synthea_kidney.crit")
    run = ScreenRun(rules, jobs=1, read_all=True)
    # The one bundle with problems: three scores in "(score)", which is not UCUM.
    bundle = SYNTHEA / "Korey_Toy_1b643ea7-c9f8-40e6-b32c-88a3cc1d71f0.json"
    rows = list(run.rows(bundle, fhir=True))
    assert rows and run.summary.total > 0 and run.summary.problems
    back = wire.summary_from_record(orjson.loads(orjson.dumps(wire.summary_record(run.summary))))
    assert back == run.summary


# ---------------------------------------------------------------------------- the pool


def _echo_or_die(payload: bytes) -> bytes:
    if payload == b"die":
        os._exit(7)
    if payload == b"raise":
        raise ValueError("no")
    return payload.upper()


@forking
def test_pool_keeps_order_and_survives_a_dead_worker() -> None:
    tasks = [b"a%d" % i for i in range(40)]
    tasks[13] = b"die"
    tasks[27] = b"raise"
    pool: OrderedPool[int] = OrderedPool(_echo_or_die, jobs=3)
    results = list(pool.run((t, i) for i, t in enumerate(tasks)))
    assert [i for i, _ in results] == list(range(40))
    for i, result in results:
        if i == 13:
            assert isinstance(result, Failure) and "exit status 7" in result.reason
        elif i == 27:
            assert isinstance(result, Failure) and "ValueError: no" in result.reason
        else:
            assert result == tasks[i].upper()
    assert pool.started >= 4  # the dead worker was replaced
    assert not pool.workers  # and all were stopped


# ---------------------------------------------------------------------------- the same output


@forking
@pytest.mark.parametrize("output_format", ["jsonl", "csv", "table"])
def test_jobs_do_not_change_the_output(
    capsys: pytest.CaptureFixture[str], generated: Path, tmp_path: Path, output_format: str
) -> None:
    outputs = []
    for jobs in ("1", "2", "3"):
        out = tmp_path / f"{jobs}.{output_format}"
        code, _, err = cli(
            capsys, "screen", RULES, generated, "--format", output_format, "--jobs", jobs, "-o", out
        )
        assert code == 1  # records broken on purpose are error rows
        # The JSON Lines header says when the run was made (report/run.py): not compared.
        text = re.sub(rb'"run_at":"[^"]*"', b'"run_at":""', out.read_bytes())
        outputs.append((text, err))
    assert outputs[0] == outputs[1] == outputs[2]


@forking
def test_error_rows_stay_in_place(generated: Path) -> None:
    """The records broken on purpose come out where they are in the file, with --jobs 2 as
    with one process, and small units make many workers' results interleave."""
    rules = Rules.from_file(RULES)
    one = list(ScreenRun(rules, jobs=1).rows(generated))
    run = ScreenRun(rules, jobs=2, chunk_bytes=20_000)
    two = list(run.rows(generated))
    assert run.workers_used == 2
    assert [jsonl(a.row) for a in one] == [jsonl(b.row) for b in two]
    errors = [i for i, item in enumerate(two) if isinstance(item.row, RecordError)]
    assert len(errors) >= 2 and errors[0] > 0 and errors[-1] < len(two) - 1
    lines = [i + 1 for i, line in enumerate(generated.read_bytes().split(b"\n")) if line.strip()]
    assert len(one) == len(lines)  # one row for every non-blank line
    for index in errors:
        assert two[index].row.source == f"{generated}:{lines[index]}"  # type: ignore[union-attr]


@forking
@pytest.mark.skipif(not SYNTHEA.is_dir(), reason="needs the shared Synthea bundles")
def test_fhir_bundles_same_rows_and_summary_on_two_processes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rules = ROOT / "rules" / "examples" / "synthea_kidney.crit"
    runs = []
    for jobs in ("1", "2"):
        out = tmp_path / f"{jobs}.jsonl"
        code, _, err = cli(
            capsys, "screen", rules, SYNTHEA, "--date", "screening=2018-06-01",
            "--format", "jsonl", "--jobs", jobs, "-o", out,
        )  # fmt: skip
        assert code == 0
        runs.append((re.sub(rb'"run_at":"[^"]*"', b"", out.read_bytes()), err))
    assert runs[0] == runs[1]
    assert runs[0][1].count("\n") > 10 and "FHIR: 37 file(s)" in runs[0][1]


class _Boom(Exception):
    pass


@forking
def test_a_worker_that_dies_costs_only_its_records(generated: Path) -> None:
    """A worker killed while it screens a unit: each record of that unit is an error row saying
    so; every other row is as in one process."""
    rules = Rules.from_file(RULES)
    victim = "P000017"
    evaluate = rules.evaluator.evaluate

    def evaluate_or_die(patient):  # type: ignore[no-untyped-def]
        if patient.id == victim and os.getpid() != parent:
            os.kill(os.getpid(), 9)
        return evaluate(patient)

    parent = os.getpid()
    one = [jsonl(item.row) for item in ScreenRun(rules, jobs=1).rows(generated)]
    rules.evaluator.evaluate = evaluate_or_die  # type: ignore[method-assign]
    two = list(ScreenRun(rules, jobs=2, chunk_bytes=50_000).rows(generated))
    assert len(two) == len(one)
    lost = [i for i, item in enumerate(two) if "was not screened" in jsonl(item.row)]
    assert lost and all("killed by signal 9" in jsonl(two[i].row) for i in lost)
    assert any(victim in one[i] for i in lost)
    for i, item in enumerate(two):
        if i not in lost:
            assert jsonl(item.row) == one[i]


# ---------------------------------------------------------------------------- on a terminal


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_shows_count_rate_eta_and_errors() -> None:
    now = [100.0]
    stream = _Terminal()
    bar = ProgressBar(stream, "NCT1: data.jsonl", 1000, interval=0, clock=lambda: now[0])
    now[0] = 102.0
    bar.advance(250, 50, 0)
    bar.errors = 2
    text = bar.text(now[0], 200)
    assert "NCT1: data.jsonl" in text and "25%" in text and "50 records" in text
    assert "25/s" in text and "ETA 0:06" in text and "2 errors" in text
    narrow = bar.text(now[0], 50)  # the figures first; the label and the bar as room allows
    assert len(narrow) < 50 and "ETA 0:06" in narrow and "2 errors" in narrow
    assert stream.getvalue().startswith("\r\x1b[K")
    bar.close()
    assert stream.getvalue().endswith("\r\x1b[K")
    assert format_duration(3725) == "1:02:05"
    assert not ProgressBar.wanted(io.StringIO())


def _rows(count: int) -> list[PatientResult | RecordError]:
    rules = Rules.from_file(RULES)
    rows = list(rules.screen(read_patients(EXAMPLES / "nct03562065")))
    return [rows[i % len(rows)] for i in range(count)]


def test_on_a_terminal_the_summary_comes_first() -> None:
    handle = _Terminal()
    output = Output(handle, "table", terminal=True, whole_table=False)
    for row in _rows(5):
        output.add(row, None)
    output.finish("screening x", ["note: a note"], io.StringIO())
    text = handle.getvalue()
    assert text.index("5 records:") < text.index("note: a note") < text.index("screening x")


def test_on_a_terminal_a_long_table_waits_to_be_asked() -> None:
    handle = _Terminal()
    output = Output(handle, "table", terminal=True, whole_table=False)
    for row in _rows(200):
        output.add(row, None)
    output.finish("screening x", [], io.StringIO())
    text = handle.getvalue()
    assert text.startswith("200 records:") and "--table shows them all" in text
    assert "screening x" not in text
    assert len(output.kept) < 30  # the rows are not kept


def test_not_on_a_terminal_nothing_changes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "screen", RULES, EXAMPLES / "nct03562065")
    assert code == 0 and err == ""
    assert out.index("screening") < out.index(" records: ")
    assert "\x1b" not in out


@pytest.mark.parametrize("output_format", ["jsonl", "csv"])
def test_screen_to_jsonl_or_csv_imports_no_rich(output_format: str, tmp_path: Path) -> None:
    """rich renders tables only: a JSON Lines or CSV run, summary line included, never loads it
    (it costs every such command about 20 ms of CPU)."""
    out = tmp_path / f"out.{output_format}"
    code = (
        "import sys\n"
        "from criteria_lang.cli.main import main\n"
        f"code = main(['screen', {str(RULES)!r}, {str(EXAMPLES / 'nct03562065')!r},"
        f" '--format', {output_format!r}, '-o', {str(out)!r}])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'rich'"
        " or m == 'criteria_lang.report.tables'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert "records:" in done.stderr and out.stat().st_size > 0
