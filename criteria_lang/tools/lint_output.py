"""Lint findings as text, JSON, GitHub Actions workflow commands, or SARIF 2.1.0.

One function a format, each taking every finding of the run (`Diagnostic`s) and the sources
they point into, and returning the whole output.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from urllib.parse import quote

from criteria_lang.core.diagnostics import Diagnostic, render
from criteria_lang.tools.lint import DOCS_URL, RULE_BY_CODE, RULES

FORMATS = ("text", "json", "github", "sarif")
SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
GITHUB_COMMAND = {"error": "error", "warning": "warning", "info": "notice"}


def write(format_: str, findings: Sequence[Diagnostic], sources: dict[str, str], files: int) -> str:
    if format_ == "json":
        return as_json(findings)
    if format_ == "github":
        return as_github(findings)
    if format_ == "sarif":
        return as_sarif(findings)
    return as_text(findings, sources, files)


# ---------------------------------------------------------------------------- text


def as_text(findings: Sequence[Diagnostic], sources: dict[str, str], files: int) -> str:
    parts = [render(f, sources.get(f.file)) for f in findings]
    noun = "file" if files == 1 else "files"
    if not findings:
        parts.append(f"No findings in {files} {noun}.")
    else:
        counts = Counter(f.severity for f in findings)
        words = [
            f"{counts[s]} {s if s == 'info' or counts[s] == 1 else s + 's'}"
            for s in ("error", "warning", "info")
            if counts[s]
        ]
        total = len(findings)
        parts.append(
            f"Found {total} finding{'s' if total != 1 else ''} ({', '.join(words)}) "
            f"in {files} {noun}."
        )
    return "\n\n".join(parts) + "\n"


# ---------------------------------------------------------------------------- json


def as_json(findings: Sequence[Diagnostic]) -> str:
    records = []
    for finding in findings:
        record = finding.to_dict()
        record["url"] = help_uri(finding.code)
        records.append(record)
    return json.dumps(records, indent=2, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------------- github


def escape_data(text: str) -> str:
    """The escaping GitHub's workflow commands need in a message."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """... and in a property value (`file=`, `title=`)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def as_github(findings: Sequence[Diagnostic]) -> str:
    lines = []
    for f in findings:
        span = f.span
        properties = ",".join(
            f"{key}={escape_property(str(value))}"
            for key, value in (
                ("file", relative_path(f.file)),
                ("line", span.line),
                ("col", span.column),
                ("endLine", span.end_line),
                ("endColumn", span.end_column),
                ("title", f.code),
            )
        )
        message = f.message + (f"\nhelp: {f.fix}" if f.fix else "")
        lines.append(f"::{GITHUB_COMMAND[f.severity]} {properties}::{escape_data(message)}")
    return "".join(line + "\n" for line in lines)


# ---------------------------------------------------------------------------- sarif


def relative_path(path: str) -> str:
    """A path relative to the working directory when it is below it (posix separators)."""
    try:
        relative = Path(os.path.abspath(path)).relative_to(Path.cwd())
    except ValueError:
        return Path(os.path.abspath(path)).as_posix()
    return relative.as_posix()


def artifact_uri(path: str) -> str:
    absolute = Path(os.path.abspath(path))
    try:
        return quote(absolute.relative_to(Path.cwd()).as_posix())
    except ValueError:
        return absolute.as_uri()


def help_uri(code: str) -> str:
    anchor = code.lower() if code in RULE_BY_CODE else "compile-errors"
    return f"{DOCS_URL}#{anchor}"


def _version() -> str:
    try:
        return metadata.version("criteria-lang")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


def _descriptor(code: str) -> dict[str, object]:
    rule = RULE_BY_CODE.get(code)
    if rule is None:
        return {
            "id": code,
            "name": "compile-error",
            "shortDescription": {"text": "A compile error"},
            "fullDescription": {
                "text": "An error the compiler reports (names, units, windows, syntax); a file "
                "with errors does not run. The message says what is wrong."
            },
            "helpUri": help_uri(code),
            "defaultConfiguration": {"level": "error"},
        }
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.description},
        "helpUri": help_uri(rule.code),
        "defaultConfiguration": {"level": SARIF_LEVEL[rule.severity]},
    }


def as_sarif(findings: Sequence[Diagnostic]) -> str:
    codes = [r.code for r in RULES] + sorted({f.code for f in findings} - set(RULE_BY_CODE))
    index = {code: i for i, code in enumerate(codes)}
    results = []
    for f in findings:
        span = f.span
        message = f.message + (f" (help: {f.fix})" if f.fix else "")
        results.append(
            {
                "ruleId": f.code,
                "ruleIndex": index[f.code],
                "level": SARIF_LEVEL[f.severity],
                "message": {"text": message},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": artifact_uri(f.file)},
                            "region": {
                                "startLine": span.line,
                                "startColumn": span.column,
                                "endLine": span.end_line,
                                "endColumn": max(span.end_column, span.column),
                            },
                        }
                    }
                ],
            }
        )
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "criteria-lint",
                        "informationUri": DOCS_URL,
                        "version": _version(),
                        "rules": [_descriptor(code) for code in codes],
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
