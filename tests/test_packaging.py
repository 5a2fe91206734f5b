"""The package carries its data: everything it reads (grammar, parser tables, stdlib, schema) is
declared as package data and read through importlib.resources, so it works from a wheel and
even from a zip. (`.ci/run` also builds the wheel, installs it in a fresh virtual environment
and runs the command line from a temporary folder.)"""

from __future__ import annotations

import ast
import fnmatch
import os
import re
import subprocess
import sys
import textwrap
import tomllib
import zipfile
from importlib.metadata import packages_distributions
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


def imported_top_level_modules() -> dict[str, set[str]]:
    """Third-party top-level modules imported anywhere in the package -> the files importing."""
    found: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "criteria_lang":
                    found.setdefault(top, set()).add(path.relative_to(ROOT).as_posix())
    return found


def requirement_name(requirement: str) -> str:
    return re.split(r"[\s<>=!~\[;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_dependencies_are_what_the_package_imports() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {requirement_name(r) for r in config["dependencies"]}
    extras = {
        name: {requirement_name(r) for r in requirements}
        for name, requirements in config["optional-dependencies"].items()
    }
    distributions = packages_distributions()
    imported: dict[str, set[str]] = {}
    for module, files in imported_top_level_modules().items():
        for dist in distributions.get(module, [module]):
            imported.setdefault(dist.lower().replace("_", "-"), set()).update(files)
    # Every declared dependency is imported by the package itself...
    assert declared - set(imported) == set()
    # ... and everything it imports is declared, or is an extra's (imported only on demand).
    optional = set().union(*(extras[name] for name in extras if name != "test"))
    assert set(imported) - declared - optional == set(), imported
    # Test-only libraries stay out of the package.
    for name in ("jsonschema", "interegular", "python-dateutil", "pytest", "hypothesis"):
        assert name not in imported and name not in declared


def test_every_documented_extra_exists() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = set(config["optional-dependencies"])
    documents = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    documents += sorted(PACKAGE.rglob("*.py"))
    for document in documents:
        text = document.read_text(encoding="utf-8")
        for extra in re.findall(r"criteria-lang\[([A-Za-z0-9_,-]+)\]", text):
            for name in extra.split(","):
                assert name in extras, f"{document.name} names the extra [{name}]"


def test_import_paths_from_before_the_layout_by_stage_still_work() -> None:
    """Scripts written before the move to records/ and core/ (the peer comparison's
    shared/peers/compare/proj_run.py imports these two) get the same objects."""
    from criteria_lang import fhir, units
    from criteria_lang.core.units import get_units
    from criteria_lang.records.fhir import read_bundle

    assert fhir.read_bundle is read_bundle
    assert units.get_units is get_units
    assert units.get_units().parse_ucum("mg/dL") == get_units().parse_ucum("mg/dL")
