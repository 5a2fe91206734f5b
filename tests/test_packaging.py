"""The package carries its data: everything it reads (grammar, parser tables, stdlib, schema) is
declared as package data and read through importlib.resources, so it works from a wheel and
even from a zip. (`.ci/run` also builds the wheel, installs it in a fresh virtual environment
and runs the command line from a temporary folder.)"""

from __future__ import annotations

import fnmatch
import os
import subprocess
import sys
import textwrap
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "criteria_lang"


def package_files() -> list[str]:
    """Files under criteria_lang/ as the wheel would name them, sources and caches excluded."""
    found = []
    for path in sorted(PACKAGE.rglob("*")):
        if path.is_dir() or "__pycache__" in path.parts or path.suffix in (".py", ".pyc"):
            continue
        found.append(path.relative_to(PACKAGE).as_posix())
    return found


def test_every_data_file_of_the_package_is_declared_as_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["criteria_lang"]
    files = package_files()
    for needed in ("syntax/criteria.lark", "syntax/parser.json", "stdlib/labs.crit"):
        assert needed in files
    undeclared = [f for f in files if not any(fnmatch.fnmatch(f, p) for p in patterns)]
    assert undeclared == [], "add them to [tool.setuptools.package-data] in pyproject.toml"


def test_the_package_works_imported_from_a_zip(tmp_path: Path) -> None:
    archive = tmp_path / "criteria_lang.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted(PACKAGE.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                zipped.write(path, path.relative_to(ROOT).as_posix())
    rule = tmp_path / "trial.crit"
    rule.write_text((ROOT / "rules" / "nct03562065.crit").read_text(encoding="utf-8"))
    script = textwrap.dedent(
        """
        import sys, warnings
        from criteria_lang.syntax.tables import StaleTablesWarning
        warnings.simplefilter("error", StaleTablesWarning)
        import criteria_lang
        assert criteria_lang.__file__.startswith(sys.argv[1]), criteria_lang.__file__
        from criteria_lang import compile_file
        program = compile_file(sys.argv[2])
        assert program.ok, [d.message for d in program.diagnostics]
        stdlib = [path for path in program.sources if ".zip/criteria_lang/stdlib/" in path]
        assert stdlib, program.sources
        print(len(program.criteria))
        """
    )
    env = dict(os.environ, PYTHONPATH=str(archive))
    result = subprocess.run(
        [sys.executable, "-c", script, str(archive), str(rule)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "25"
