"""Rule files within limits, and nothing read outside its place (issue 10; docs/limits.md).

Each limit gives its diagnostic (stable code) instead of a crash, a hang or gigabytes; module
files are regular files inside the folders of the search path; the search path is explicit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from criteria_lang.check.checker import compile_file, compile_text, stdlib_search_path
from criteria_lang.core.diagnostics import render_all
from criteria_lang.syntax.limits import MAX_DEPTH, MAX_LINE_CHARS, MAX_TEXT_CHARS

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "criteria_lang" / "stdlib"
HEAD = 'trial "T"\n  dates screening\n  index screening\ncondition mi = snomed "22298006"\n'


def codes(text: str, path: str = "t.crit") -> list[str]:
    return [d.code for d in compile_text(text, path).diagnostics]


def criterion(expr: str) -> str:
    return HEAD + f'inclusion\n  I1 "x": {expr}\n'


# --------------------------------------------------------------------------- the limits


def test_a_file_over_the_size_limit_is_not_parsed() -> None:
    assert codes(criterion("condition mi ever") + "#" * 2_000_000 + "\n") == ["C003"]


def test_a_line_over_the_limit() -> None:
    long_line = criterion("condition mi ever") + "# " + "x" * MAX_LINE_CHARS + "\n"
    assert codes(long_line) == ["C004"]


def test_a_quoted_text_over_the_limit() -> None:
    text = '"""' + ("word " * 99 + "\n") * (MAX_TEXT_CHARS // 400) + '"""'
    assert codes(HEAD + f"inclusion\n  I1 {text}: condition mi ever\n") == ["C005"]


def test_a_number_of_5000_digits() -> None:
    assert codes(criterion("age at screening > " + "9" * 5000 + " years")) == ["C006"]


def test_a_unit_dividing_by_zero() -> None:
    text = HEAD + 'lab c = loinc "2160-0"\ninclusion\n  I1 "x": latest lab c ever < 1.5 mg/0\n'
    assert codes(text) == ["C300"]


@pytest.mark.parametrize("count", [1000, 10_000])
def test_deeply_nested_not_is_a_diagnostic_not_a_recursion_error(count: int) -> None:
    assert codes(criterion("not\n" * count + "condition mi ever")) == ["C007"]


def test_nesting_within_the_limit_compiles_and_evaluates() -> None:
    from criteria_lang import Rules

    nested = "not (condition mi ever and\n" * (MAX_DEPTH // 3) + "condition mi ever"
    rules = Rules(compile_text(criterion(nested + ")" * (MAX_DEPTH // 3)), "t.crit"))
    doc = {"id": "p", "birth_date": "1980-01-01", "sex": "male",
           "dates": {"screening": "2024-01-01"},
           "coverage": [{"start": "2000-01-01", "end": "2024-12-31"}], "events": []}  # fmt: skip
    assert rules.evaluate(doc).criteria[0].truth.value == "met"


def test_a_thousand_parentheses() -> None:
    assert codes(criterion("(" * 1000 + "condition mi ever" + ")" * 1000)) == []


def test_a_chain_of_definitions_deeper_than_the_limit() -> None:
    lines = [HEAD, "define d0 = condition mi ever\n"]
    lines += [f"define d{i} = d{i - 1} and condition mi ever\n" for i in range(1, 2000)]
    found = compile_text("".join(lines) + 'inclusion\n  I1 "x": d1999\n', "t.crit").diagnostics
    assert [d.code for d in found] == ["C007"]  # the first too deep only
    assert "counting the definitions it uses" in found[0].message


CHAIN = r"""
import json, resource, sys, time
from criteria_lang.check.checker import compile_text
n, reverse = int(sys.argv[1]), sys.argv[2] == "reverse"
lines = ['trial "T"', "  dates screening", "  index screening"]
if reverse:
    lines += [f'lab c{i} = c{i + 1} | loinc "{i}-1"' for i in range(n - 1)]
    lines += [f'lab c{n - 1} = loinc "2160-0"']
    last = "c0"
else:
    lines += ['lab c0 = loinc "2160-0"']
    lines += [f'lab c{i} = c{i - 1} | loinc "{i}-1"' for i in range(1, n)]
    last = f"c{n - 1}"
lines += ["inclusion", f'  I1 "x": lab {last} within 3 months before screening']
start = time.process_time()
program = compile_text("\n".join(lines) + "\n", "chain.crit")
concept = program.module.lookup((last,)).concept
print(json.dumps({
    "ok": program.ok,
    "seconds": time.process_time() - start,
    "own_codes": len(concept.own_codes),
    "codes": len(concept.codes),
    "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
}))
"""


@pytest.mark.parametrize("order", ["forward", "reverse"])
def test_ten_thousand_chained_concepts_compile_in_linear_memory(order: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHAIN, "10000", order], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["ok"]
    # Each concept keeps its own codes only; the flattened set is built when asked for.
    assert result["own_codes"] == 1 and result["codes"] == 10_000
    assert result["rss_mb"] < 500  # was 4.8 GB; about 110 MB (Python and the parser included)


FIVE_MB = r"""
import json, resource, sys
from criteria_lang.check.checker import compile_text
text = 'trial "T"\n  dates s\n  index s\ncondition mi = snomed "1"\ninclusion\n  I1 "'
text += "x" * 5_000_000 + '": condition mi ever\n'
program = compile_text(text, "big.crit")
print(json.dumps({"codes": [d.code for d in program.diagnostics],
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}))
"""


def test_five_megabytes_of_quoted_text_in_bounded_memory() -> None:
    done = subprocess.run(
        [sys.executable, "-c", FIVE_MB], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["codes"] == ["C003"]
    assert result["rss_mb"] < 500  # was 1.1 GB


def test_a_bom_is_accepted(tmp_path: Path) -> None:
    text = criterion("condition mi ever")
    assert codes("\ufeff" + text) == []
    file = tmp_path / "bom.crit"
    file.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert compile_file(file).ok


def test_huge_echoes_are_clipped() -> None:
    name = "y" * 9000
    program = compile_text(criterion(f"condition {name} ever"), "t.crit")
    shown = render_all(program.diagnostics, program.sources)
    assert program.diagnostics and len(shown) < 2000, len(shown)
    syntax = compile_text(criterion("condition mi ever " + "z" * 9000 + " (("), "t.crit")
    shown = render_all(syntax.diagnostics, syntax.sources)
    assert syntax.diagnostics and len(shown) < 2000, len(shown)
    assert all(len(json.dumps(d.to_dict())) < 1500 for d in program.diagnostics)


# --------------------------------------------------------------------------- files


def test_a_rule_file_that_is_a_device_is_not_read(tmp_path: Path) -> None:
    link = tmp_path / "x.crit"
    link.symlink_to("/dev/zero")
    (diagnostic,) = compile_file(link).diagnostics
    assert diagnostic.code == "C002" and "device" in diagnostic.message


def test_a_fifo_and_a_folder_are_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.crit"
    os.mkfifo(fifo)
    assert [d.code for d in compile_file(fifo).diagnostics] == ["C002"]  # and it did not block
    folder = tmp_path / "folder.crit"
    folder.mkdir()
    assert [d.code for d in compile_file(folder).diagnostics] == ["C002"]


def rule_with_imports(folder: Path, *modules: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    imports = "".join(f"import {m}\n" for m in modules)
    path = folder / "t.crit"
    path.write_text(HEAD + imports + 'inclusion\n  I1 "x": condition mi ever\n')
    return path


def test_a_module_link_leaving_its_folder_is_refused(tmp_path: Path) -> None:
    rule = rule_with_imports(tmp_path / "trial", "environ")
    (tmp_path / "trial" / "stdlib").mkdir()
    (tmp_path / "trial" / "stdlib" / "environ.crit").symlink_to("/proc/self/environ")
    program = compile_file(rule)
    (diagnostic,) = program.diagnostics
    assert diagnostic.code == "C212" and "/proc/" in diagnostic.message
    assert not any("environ" in path and "proc" in path for path in program.sources)
    shown = render_all(program.diagnostics, program.sources)
    assert "PATH=" not in shown and "HOME=" not in shown


def test_a_module_that_is_a_device_is_refused(tmp_path: Path) -> None:
    rule = rule_with_imports(tmp_path / "trial", "zero")
    (tmp_path / "trial" / "stdlib").mkdir()
    os.mkfifo(tmp_path / "trial" / "stdlib" / "zero.crit")
    (diagnostic,) = compile_file(rule).diagnostics
    assert diagnostic.code == "C002"


def test_a_link_inside_the_folder_is_followed(tmp_path: Path) -> None:
    rule = rule_with_imports(tmp_path / "trial", "mine")
    stdlib = tmp_path / "trial" / "stdlib"
    stdlib.mkdir()
    (stdlib / "real.crit").write_text('condition other = snomed "1"\n')
    (stdlib / "mine.crit").symlink_to(stdlib / "real.crit")
    assert compile_file(rule).ok


def test_no_stdlib_above_the_rule_files_folder_is_used(tmp_path: Path) -> None:
    rule = rule_with_imports(tmp_path / "project" / "trials", "labs")
    above = tmp_path / "project" / "stdlib"
    above.mkdir()
    (above / "labs.crit").write_text('lab creatinine = loinc "0000-0"\n')
    program = compile_file(rule)
    assert program.ok and program.diagnostics == ()
    roots = stdlib_search_path(str(rule))
    assert above not in roots and roots[-1] == SHIPPED


def test_the_search_path_order_and_the_shadow_warning(tmp_path: Path) -> None:
    rule = rule_with_imports(tmp_path / "trial", "labs", "mods.extra")
    own = tmp_path / "trial" / "stdlib"
    own.mkdir()
    (own / "labs.crit").write_text('lab creatinine = loinc "2160-0"\n')
    given = tmp_path / "given"
    (given / "mods").mkdir(parents=True)
    (given / "mods" / "extra.crit").write_text('lab other = loinc "1-1"\n')
    assert stdlib_search_path(str(rule), (given,)) == (own, given, SHIPPED)
    program = compile_file(rule, search_path=[given])
    (warning,) = program.diagnostics
    assert warning.code == "C213" and warning.severity == "warning"
    assert (
        str(own / "labs.crit") in warning.message and str(SHIPPED / "labs.crit") in warning.message
    )
    assert program.ok  # a warning, not an error


def test_a_configured_stdlib(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.criteria]\nstdlib = ["shared"]\n')
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "site.crit").write_text('condition local_thing = local "x"\n')
    rule = rule_with_imports(tmp_path / "trials", "site")
    assert stdlib_search_path(str(rule)) == (tmp_path / "shared", SHIPPED)
    assert compile_file(rule).ok


def test_the_cli_stdlib_option(tmp_path: Path) -> None:
    from criteria_lang.cli.main import main

    rule = rule_with_imports(tmp_path / "trial", "site")
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "site.crit").write_text('condition local_thing = local "x"\n')
    assert main(["check", str(rule)]) == 1
    assert main(["check", str(rule), "--stdlib", str(tmp_path / "mods")]) == 0
