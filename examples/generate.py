"""Build each trial's example patients from one eligible patient by small documented changes.

Every trial folder `examples/<trial>/` (named like its rule file `rules/<trial>.crit`) has a
`variants.py` with `BASE` (the eligible patient, our JSON format) and `VARIANTS` (a list of
`Variant`: a name, one sentence saying what differs from BASE, the expected verdict and deciding
criteria, and the change itself). This script writes `examples/<trial>/<name>.json` for each,
with the expectation under `x-expected`; tests/test_examples.py regenerates them in memory,
checks the files are up to date and that each patient comes out as it says.

    python examples/generate.py            # rewrite all example files
"""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
Patch = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Variant:
    name: str
    change: str  # what differs from the eligible patient, in one sentence
    verdict: str  # eligible | ineligible | undetermined
    deciding: tuple[str, ...]
    patch: Patch | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# The first variant of every trial: the base patient unchanged.
ELIGIBLE = Variant("eligible", "The eligible patient itself.", "eligible", ())


# ---------------------------------------------------------------------------- patch helpers


def find(doc: dict[str, Any], event_id: str) -> dict[str, Any]:
    for event in doc["events"]:
        if event.get("id") == event_id:
            return event  # type: ignore[no-any-return]
    raise KeyError(event_id)


def drop(*event_ids: str) -> Patch:
    def patch(doc: dict[str, Any]) -> None:
        missing = set(event_ids) - {e.get("id") for e in doc["events"]}
        if missing:
            raise KeyError(missing)
        doc["events"] = [e for e in doc["events"] if e.get("id") not in event_ids]

    return patch


def add(*events: dict[str, Any]) -> Patch:
    def patch(doc: dict[str, Any]) -> None:
        doc["events"].extend(copy.deepcopy(list(events)))

    return patch


def set_fields(event_id: str, **fields: Any) -> Patch:
    def patch(doc: dict[str, Any]) -> None:
        find(doc, event_id).update(copy.deepcopy(fields))

    return patch


def set_patient(**fields: Any) -> Patch:
    def patch(doc: dict[str, Any]) -> None:
        doc.update(copy.deepcopy(fields))

    return patch


def answer(criterion: str, met: bool | None) -> Patch:
    """Record (or with None remove) a reviewer's answer."""

    def patch(doc: dict[str, Any]) -> None:
        reviews = doc.setdefault("reviews", {})
        if met is None:
            reviews.pop(criterion, None)
        else:
            reviews[criterion] = {"answer": "met" if met else "not_met", "by": "site investigator"}

    return patch


def stop(event_id: str, last_day: str) -> Patch:
    """An ongoing exposure (or one with another end) ends on `last_day`."""
    return set_fields(event_id, end=last_day, ongoing=None)


def switch(event_id: str, last_day: str, *then: dict[str, Any]) -> Patch:
    """`event_id` ends on `last_day` and the events `then` follow (a new dose, another drug)."""
    return chain(stop(event_id, last_day), add(*then))


def chain(*patches: Patch) -> Patch:
    def patch(doc: dict[str, Any]) -> None:
        for p in patches:
            p(doc)

    return patch


# ---------------------------------------------------------------------------- event builders
# Shorthands for the events of a BASE patient (docs/patient-format.md). Codes are a stdlib
# concept name (text) or a coded object built by `coded`.


def coded(system: str, code: str) -> dict[str, str]:
    return {"system": system, "code": code}


def condition(
    ident: str, code: object, onset: str, abatement: str | None = None, **extra: Any
) -> dict[str, Any]:
    event: dict[str, Any] = {"id": ident, "type": "condition", "code": code, "onset": onset}
    if abatement is not None:
        event["abatement"] = abatement
    event.update(extra)
    return event


def immunization(ident: str, code: object, date: str, **extra: Any) -> dict[str, Any]:
    """A vaccination on one day (docs/patient-format.md, "immunization")."""
    event: dict[str, Any] = {"id": ident, "type": "immunization", "code": code, "date": date}
    event.update(extra)
    return event


def result(
    kind: str, ident: str, code: object, date: str, value: object, unit: str | None = None
) -> dict[str, Any]:
    """A lab, observation or score result on one day."""
    event: dict[str, Any] = {"id": ident, "type": kind, "code": code, "date": date, "value": value}
    if unit is not None:
        event["unit"] = unit
    return event


def fact(code: str, value: object, date: str, system: str | None = None) -> dict[str, Any]:
    """A fact recorded on `date`, id `fact-<code>`: a concept name, or a code of `system`."""
    coded_as: object = code if system is None else coded(system, code)
    return {"id": f"fact-{code}", "type": "fact", "code": coded_as, "date": date, "value": value}


def procedure(ident: str, code: object, date: str, **extra: Any) -> dict[str, Any]:
    return {"id": ident, "type": "procedure", "code": code, "date": date, **extra}


def medication(
    ident: str, code: object, start: str, end: str | None, **dosing: Any
) -> dict[str, Any]:
    """An exposure from `start` to `end` (None: ongoing) with its dosing fields."""
    event: dict[str, Any] = {"id": ident, "type": "medication", "code": code, "start": start}
    if end is None:
        event["ongoing"] = True
    else:
        event["end"] = end
    event.update(dosing)
    return event


def dosing(
    value: float,
    unit: str = "mg",
    every: str = "d",
    times: int = 1,
    route: str | None = None,
    period: int = 1,
) -> dict[str, Any]:
    """`value` `unit` given `times` every `period` `every` (d, wk, mo), by `route`."""
    fields: dict[str, Any] = {
        "dose": {"value": value, "unit": unit},
        "frequency": {"count": times, "period": period, "unit": every},
    }
    if route is not None:
        fields["route"] = route
    return fields


# ---------------------------------------------------------------------------- building


def load_variants(trial_dir: Path) -> Any:
    spec = importlib.util.spec_from_file_location(
        f"variants_{trial_dir.name}", trial_dir / "variants.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("generate", sys.modules[__name__])
    spec.loader.exec_module(module)
    return module


def trial_dirs() -> list[Path]:
    return sorted(p.parent for p in ROOT.glob("*/variants.py"))


def build(trial_dir: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    module = load_variants(trial_dir)
    base: dict[str, Any] = module.BASE
    for variant in module.VARIANTS:
        doc = copy.deepcopy(base)
        if variant.patch is not None:
            variant.patch(doc)
        doc["id"] = f"{trial_dir.name}-{variant.name}"
        doc["x-expected"] = {
            "verdict": variant.verdict,
            "deciding": list(variant.deciding),
            "change": variant.change,
        }
        # x-expected first after the id, for people reading the file
        ordered = {"id": doc.pop("id"), "x-expected": doc.pop("x-expected"), **doc}
        yield trial_dir / f"{variant.name}.json", ordered


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    for trial_dir in trial_dirs():
        wanted = {path: render(doc) for path, doc in build(trial_dir)}
        for stale in trial_dir.glob("*.json"):
            if stale not in wanted:
                stale.unlink()
        for path, text in wanted.items():
            path.write_text(text, encoding="utf-8")
        print(f"{trial_dir.name}: {len(wanted)} patients")
    return 0


if __name__ == "__main__":
    sys.exit(main())
