"""What a reader says about input it cannot read, shared by every reader of records/: a
`Problem` (where, as a JSON path, and what is wrong), `PatientDataError`, and `RecordError` (a
record that could not be read: the batch goes on, the record comes out as this error).

Moved out of patient_json.py unchanged (no module over 800 lines)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

import attrs

# Keys that are never data: notes inside examples and extensions for other tools.
_FREE_PREFIXES = ("x-", "_comment")
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# --------------------------------------------------------------------------------------------
# Problems


@attrs.frozen
class Problem:
    """One mistake in a patient document: where it is (a JSON path) and what is wrong."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class PatientDataError(ValueError):
    """A patient document that cannot be read; `problems` lists every mistake found in it."""

    def __init__(self, problems: Iterable[Problem], source: str | None = None) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.source = source
        super().__init__(self.problems, source)

    def __str__(self) -> str:
        where = self.source or "patient"
        count = len(self.problems)
        head = f"{where}: {count} problem{'s' if count != 1 else ''} in the patient data"
        return "\n  ".join([head, *(str(p) for p in self.problems)])

    def __reduce__(self) -> tuple[Any, ...]:
        # Picklable, so that batch screening can hand errors between processes.
        return (type(self), (self.problems, self.source))


@attrs.frozen
class RecordError:
    """A record of a batch that could not be read, in place of the Patient it should have been."""

    source: str
    problems: tuple[Problem, ...]


def _at(base: str, key: object) -> str:
    """The JSON path of `key` inside the value at `base`."""
    if type(key) is int:
        return f"{base}[{key}]"
    text = key if isinstance(key, str) else str(type(key).__name__)
    if _IDENT_RE.fullmatch(text):
        return f"{base}.{text}"
    quoted = text.replace("\\", "\\\\").replace("'", "\\'")
    return f"{base}['{quoted}']"


def _describe(value: object) -> str:
    """How a value is named in a message: short, in JSON terms."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return "the text " + json.dumps(text, ensure_ascii=False)
    if isinstance(value, int):
        text = str(value) if abs(value) < 10**30 else "with more than 30 digits"
        return f"the number {text}"
    if isinstance(value, float):
        return f"the number {value!r}"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    return f"a Python {type(value).__name__}"


def _is_free_key(key: object) -> bool:
    return isinstance(key, str) and key.startswith(_FREE_PREFIXES)
