"""Diagnostic codes are one table (core/messages.py) and docs/diagnostics.md documents each."""

from __future__ import annotations

import re
import string
from pathlib import Path

from criteria_lang.core import messages as m
from criteria_lang.core.diagnostics import NO_SPAN

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "diagnostics.md").read_text(encoding="utf-8")
PACKAGE = ROOT / "criteria_lang"


def test_the_docs_list_exactly_the_codes_each_with_an_anchor() -> None:
    rows = set(re.findall(r"^\| (?:<a id=\"c\d{3}\"></a>)?(C\d{3}) \|", DOC, re.M))
    assert rows == set(m.CODES)
    for code in m.CODES:
        assert f'<a id="{code.lower()}"></a>{code}' in DOC, f"{code} has no anchor in the docs"
        assert m.anchor(code) == f"docs/diagnostics.md#{code.lower()}"


def test_every_message_has_a_documented_code_and_every_code_a_message() -> None:
    codes = {message.code for message in m.MESSAGES}
    assert codes <= set(m.CODES)
    assert set(m.CODES) <= codes, sorted(set(m.CODES) - codes)


def test_every_message_fills_its_templates() -> None:
    for message in m.MESSAGES:
        fields = {
            name
            for template in (message.message, message.fix)
            for _, name, _, _ in string.Formatter().parse(template)
            if name
        }
        diagnostic = message.at("f.crit", NO_SPAN, **{name: 1 for name in fields})
        assert diagnostic.code == message.code and "{" not in diagnostic.message


def test_no_module_writes_a_code_literally() -> None:
    """A code is written once, in core/messages.py; stages name the message."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "messages.py" and path.parent.name == "core":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"[\"']C\d{3}[\"']", line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []
