"""The ready-made integration runs: the commands of `.pre-commit-hooks.yaml` and of the GitHub
Actions workflow in docs/ci.md, run as written (`criteria` -> `python -m criteria_lang.cli.main`)
on a
good and a bad rule file."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
GOOD, BAD = DATA / "lint" / "good.crit", DATA / "lint" / "bad.crit"
CRITERIA = f"{shlex.quote(sys.executable)} -m criteria_lang.cli.main"


def run(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = re.sub(r"^criteria\b", CRITERIA, command.strip())
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        ["bash", "-e", "-c", command], cwd=cwd, env=env, capture_output=True, text=True
    )


# ---------------------------------------------------------------------------- pre-commit


def hooks() -> list[dict[str, object]]:
    return yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))


def test_hooks_are_declared() -> None:
    declared = {h["id"]: h for h in hooks()}
    assert set(declared) == {"criteria-lint", "criteria-fmt"}
    assert declared["criteria-lint"]["entry"] == "criteria lint"
    assert declared["criteria-fmt"]["entry"] == "criteria fmt --check"
    for hook in declared.values():
        assert hook["files"] == r"\.crit$" and hook["language"] == "python"


@pytest.mark.parametrize("hook", hooks(), ids=lambda h: str(h["id"]))
def test_hooks_pass_a_good_file_and_stop_a_bad_one(hook: dict[str, object], tmp_path: Path) -> None:
    for source, expected in ((GOOD, 0), (BAD, 1)):
        target = tmp_path / source.name
        shutil.copy(source, target)
        assert re.search(str(hook["files"]), target.name)
        # pre-commit appends the staged files that match `files` to the entry
        result = run(f"{hook['entry']} {shlex.quote(target.name)}", tmp_path)
        assert result.returncode == expected, (
            hook["id"],
            source.name,
            result.stdout,
            result.stderr,
        )


# ---------------------------------------------------------------------------- GitHub Actions


def workflow() -> dict[str, object]:
    text = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    parsed = [yaml.safe_load(b) for b in blocks]
    return next(p for p in parsed if isinstance(p, dict) and "jobs" in p)


def steps() -> list[dict[str, object]]:
    job = next(iter(workflow()["jobs"].values()))  # type: ignore[attr-defined]
    return list(job["steps"])


def test_workflow_shape() -> None:
    runs = [str(s.get("run", "")) for s in steps()]
    uses = [str(s.get("uses", "")) for s in steps()]
    assert any(r.startswith("criteria lint --format github rules/") for r in runs)
    assert any(r.startswith("criteria fmt --check rules/") for r in runs)
    assert any(u.startswith("github/codeql-action/upload-sarif@") for u in uses)
    upload = next(s for s in steps() if str(s.get("uses", "")).startswith("github/codeql-action"))
    sarif_file = upload["with"]["sarif_file"]  # type: ignore[index]
    assert any(sarif_file in r for r in runs), "a step writes the file the upload reads"
    assert workflow()["permissions"]["security-events"] == "write"  # type: ignore[index]


def criteria_steps() -> list[dict[str, object]]:
    return [s for s in steps() if str(s.get("run", "")).startswith("criteria ")]


@pytest.mark.parametrize(("source", "good"), [(GOOD, True), (BAD, False)], ids=["good", "bad"])
def test_workflow_commands(source: Path, good: bool, tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    shutil.copy(source, tmp_path / "rules" / source.name)
    results = {str(s["name"]): run(str(s["run"]), tmp_path) for s in criteria_steps()}
    assert len(results) == 3
    lint = results["Lint rule files"]
    layout = results["Check the layout of rule files"]
    sarif_step = results["Lint rule files (SARIF)"]
    if good:
        assert (lint.returncode, layout.returncode) == (0, 0), (lint.stdout, layout.stdout)
        assert lint.stdout == ""
    else:
        assert (lint.returncode, layout.returncode) == (1, 1)
        assert lint.stdout.startswith("::warning file=rules/bad.crit,line=6,")
        assert "+++ rules/bad.crit (formatted)" in layout.stdout
    # the SARIF step succeeds either way (findings are exit code 1) and leaves a valid log
    assert sarif_step.returncode == 0, sarif_step.stderr
    log = json.loads((tmp_path / "criteria-lint.sarif").read_text(encoding="utf-8"))
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(schema).validate(log)
    assert len(log["runs"][0]["results"]) == (0 if good else 1)


def test_sarif_step_still_fails_on_an_error_exit(tmp_path: Path) -> None:
    step = next(s for s in criteria_steps() if "sarif" in str(s["run"]))
    (tmp_path / "rules").mkdir()  # no rule file in it: exit code 2
    assert run(str(step["run"]), tmp_path).returncode != 0
