"""What a screen or outcomes run was: the header line of its JSON Lines output.

A report made later from saved JSON Lines (`criteria report`) must still say which trial, which
version of the rule file, which data and when. The rows carry per-patient results only, so
`criteria screen --format jsonl` (and `criteria outcomes --format jsonl`) write one header line
before each rule file's rows:

    {"header": "screen", "format": 1, "trial": "NCT03562065", "rules": {"path": ...,
     "sha256": ..., "sources_sha256": ...}, "input": {...}, "run_at": ..., "criteria": [...]}

A reader tells it from a result row by its `header` key (rows never have one). The rows after
it are unchanged from the format without a header, so a reader that skips lines with `header`
reads both.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import attrs

if TYPE_CHECKING:
    from criteria_lang.check.checker import CompiledRules

HEADER_FORMAT = 1
RunKind = Literal["screen", "outcomes"]


@attrs.frozen
class Item:
    """A criterion or an outcome as the rule file states it (the protocol's words)."""

    id: str
    text: str
    section: str = ""  # inclusion | exclusion for criteria; "outcome" for outcomes

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "section": self.section, "text": self.text}


@attrs.frozen
class RunInfo:
    """The header of one rule file's block of results."""

    kind: RunKind
    trial: str
    title: str | None
    rules_path: str | None
    rules_sha256: str | None  # of the rule file's bytes, as `sha256sum` prints it
    sources_sha256: str | None  # of the rule file and every module it imports
    input: str | None  # the data source as given on the command line
    input_format: str | None  # "patient JSON" or "FHIR R4"
    run_at: str | None  # UTC, ISO 8601
    version: str | None  # criteria-lang's version
    policy: str | None  # coverage | closed-world
    dates: Mapping[str, str] = attrs.field(factory=dict)  # --date NAME=YYYY-MM-DD given
    items: tuple[Item, ...] = ()  # criteria (screen) or outcomes, in the file's order

    def to_dict(self) -> dict[str, Any]:
        key = "criteria" if self.kind == "screen" else "outcomes"
        return {
            "header": self.kind,
            "format": HEADER_FORMAT,
            "trial": self.trial,
            "title": self.title,
            "rules": {
                "path": self.rules_path,
                "sha256": self.rules_sha256,
                "sources_sha256": self.sources_sha256,
            },
            "input": {"path": self.input, "format": self.input_format},
            "run_at": self.run_at,
            "criteria_lang": self.version,
            "policy": self.policy,
            "dates": dict(self.dates),
            key: [item.to_dict() for item in self.items],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunInfo:
        """Read a header line; missing or mistyped fields become None (an older or hand-made
        file still gives a report, which then says what it does not know)."""
        kind: RunKind = "outcomes" if data.get("header") == "outcomes" else "screen"
        rules = mapping(data.get("rules"))
        source = mapping(data.get("input"))
        raw_items = data.get("criteria" if kind == "screen" else "outcomes")
        items = tuple(
            Item(str(i.get("id", "")), str(i.get("text", "")), str(i.get("section", "")))
            for i in (raw_items if isinstance(raw_items, list) else [])
            if isinstance(i, Mapping)
        )
        raw_dates = data.get("dates")
        dates = (
            {str(k): str(v) for k, v in raw_dates.items()} if isinstance(raw_dates, Mapping) else {}
        )
        return cls(
            kind=kind,
            trial=str(data.get("trial") or "(unknown trial)"),
            title=text_or_none(data.get("title")),
            rules_path=text_or_none(rules.get("path")),
            rules_sha256=text_or_none(rules.get("sha256")),
            sources_sha256=text_or_none(rules.get("sources_sha256")),
            input=text_or_none(source.get("path")),
            input_format=text_or_none(source.get("format")),
            run_at=text_or_none(data.get("run_at")),
            version=text_or_none(data.get("criteria_lang")),
            policy=text_or_none(data.get("policy")),
            dates=dates,
            items=items,
        )


def describe_run(
    program: CompiledRules,
    kind: RunKind,
    *,
    input_path: str | None,
    input_format: str | None,
    policy: str,
    dates: Mapping[str, dt.date],
) -> RunInfo:
    """The header of a run of `program` over `input_path`, made now."""
    if kind == "screen":
        items = tuple(Item(c.id.text, c.text, c.section) for c in program.criteria)
    else:
        items = tuple(Item(o.id.text, o.text, "outcome") for o in program.outcomes)
    trial = program.trial
    return RunInfo(
        kind=kind,
        trial=trial.registry_id if trial else "(no trial)",
        title=trial.title if trial else None,
        rules_path=program.path,
        rules_sha256=file_sha256(Path(program.path)),
        sources_sha256=sources_sha256(program.sources),
        input=input_path,
        input_format=input_format,
        run_at=run_time(),
        version=package_version(),
        policy=policy,
        dates={name: day.isoformat() for name, day in dates.items()},
        items=items,
    )


def mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def text_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def is_header(row: Mapping[str, Any]) -> bool:
    return "header" in row


def run_time() -> str:
    """Now, in UTC; `SOURCE_DATE_EPOCH` (reproducible builds) fixes it."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        moment = dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC)
    else:
        moment = dt.datetime.now(tz=dt.UTC)
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def file_sha256(path: Path) -> str | None:
    import hashlib  # here: `criteria --help` imports this module and need not load OpenSSL

    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def sources_sha256(sources: Mapping[str, str]) -> str:
    """One digest of every source a rule file compiled from (itself and its imports): the
    results change when a stdlib module does. Independent of where the modules are installed."""
    import hashlib

    digests = sorted(hashlib.sha256(text.encode("utf-8")).hexdigest() for text in sources.values())
    return hashlib.sha256("\n".join(digests).encode("ascii")).hexdigest()


def package_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("criteria-lang")
    except PackageNotFoundError:
        return None
