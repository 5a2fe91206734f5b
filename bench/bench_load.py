"""How fast `load_patient` reads a 300-event patient from JSON text.

    python bench/bench_load.py [--patients N] [--events N]

Prints patients per second on one core. Each patient is a different synthetic record (a mix of
labs, vital signs, conditions, medications, procedures, scores and facts, with values drawn at
random), so caches inside one document help only as much as they would on real data.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from criteria_lang.records.patient_json import load_patient  # noqa: E402

LABS = [
    ("4548-4", "%", 4.0, 12.0, 1),  # HbA1c
    ("2160-0", "mg/dL", 0.4, 3.0, 2),  # creatinine
    ("718-7", "g/dL", 8.0, 17.0, 1),  # haemoglobin
    ("777-3", "10*3/uL", 50.0, 450.0, 0),  # platelets
    ("1742-6", "U/L", 5.0, 200.0, 0),  # ALT
    ("33914-3", "mL/min/{1.73_m2}", 15.0, 120.0, 0),  # eGFR
]
VITALS = [("8480-6", "mm[Hg]", 90, 190), ("8867-4", "/min", 45, 120), ("29463-7", "kg", 45, 140)]
CONDITIONS = ["type_2_diabetes", "hypertension", "ckd", "heart_failure", "copd", "asthma"]
DRUGS = [("6809", "metformin"), ("29046", "lisinopril"), ("83367", "atorvastatin")]


def synthetic_patient(rng: random.Random, index: int, n_events: int) -> dict[str, Any]:
    first = dt.date(2015, 1, 1)

    def day() -> str:
        return (first + dt.timedelta(days=rng.randrange(3300))).isoformat()

    events: list[dict[str, Any]] = []
    for i in range(n_events):
        roll = rng.random()
        if roll < 0.5:
            code, unit, low, high, places = rng.choice(LABS)
            value = round(rng.uniform(low, high), places)
            events.append(
                {
                    "type": "lab",
                    "code": {"system": "loinc", "code": code},
                    "date": day(),
                    "value": int(value) if places == 0 else value,
                    "unit": unit,
                    "reference_range": {"low": low, "high": high},
                }
            )
        elif roll < 0.7:
            code, unit, low, high = rng.choice(VITALS)
            events.append(
                {
                    "type": "observation",
                    "code": {"system": "loinc", "code": code},
                    "date": day(),
                    "value": rng.randint(low, high),
                    "unit": unit,
                }
            )
        elif roll < 0.8:
            start = day()
            events.append(
                {
                    "type": "condition",
                    "code": rng.choice(CONDITIONS),
                    "onset": start,
                    "status": "active",
                }
            )
        elif roll < 0.92:
            code, name = rng.choice(DRUGS)
            item: dict[str, Any] = {
                "type": "medication",
                "code": {"system": "rxnorm", "code": code, "display": name},
                "start": day(),
                "dose": {"value": rng.choice([5, 10, 20, 500, 850]), "unit": "mg"},
                "frequency": {"count": rng.choice([1, 2, 3]), "period": 1, "unit": "d"},
            }
            if rng.random() < 0.5:
                item["ongoing"] = True
            events.append(item)
        elif roll < 0.96:
            events.append({"type": "procedure", "code": "colonoscopy", "date": day()})
        elif roll < 0.98:
            events.append(
                {"type": "score", "code": "ecog", "date": day(), "value": rng.randint(0, 4)}
            )
        else:
            events.append({"type": "fact", "code": "pregnant", "date": day(), "value": False})
        events[-1]["id"] = f"e{i}"
    return {
        "format": "criteria-lang/patient@1",
        "id": f"p{index:05d}",
        "birth_date": "1960-01-01",
        "sex": rng.choice(["female", "male"]),
        "dates": {"screening": "2024-03-01"},
        "coverage": [{"start": "2015-01-01", "end": "2024-03-15"}],
        "events": events,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=500)
    parser.add_argument("--events", type=int, default=300)
    args = parser.parse_args()
    rng = random.Random(20240301)
    texts = [orjson.dumps(synthetic_patient(rng, i, args.events)) for i in range(args.patients)]
    size = sum(map(len, texts)) // len(texts)
    print(f"{len(texts)} synthetic patients, {args.events} events and {size:,} bytes of JSON each")

    def rate(work: Any) -> float:
        began = time.perf_counter()
        for text in texts:
            work(text)
        return len(texts) / (time.perf_counter() - began)

    # The first pass starts with the loader's memo of dates, codes and values empty; later
    # passes find most of them there, as a long batch of real patients does.
    cold = rate(load_patient)
    warm = max(rate(load_patient) for _ in range(3))
    parse = max(rate(orjson.loads) for _ in range(3))
    for name, value in [("load_patient, first pass", cold), ("load_patient", warm)]:
        print(f"{name}: {value:,.0f} patients/s ({1e6 / value / args.events:.2f} us/event)")
    print(f"of which orjson.loads alone: {parse:,.0f} patients/s")


if __name__ == "__main__":
    main()
