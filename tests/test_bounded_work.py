"""Bounded work per input (issue 10): each pathological form the issue lists is answered (an
unknown with its reason, a problem, a diagnostic), and quickly.

The probes run in a child process with a timeout, so that a regression fails this test instead
of hanging the suite. The bound is generous (seconds of CPU for inputs that are refused before
any parser sees them): it catches hangs and quadratic blow-ups, not slowness.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOUND_SECONDS = 20  # CPU per probe; each takes milliseconds when it works

PROBES = r"""
import json, sys, time, copy
from pathlib import Path
from criteria_lang import Rules
from criteria_lang.check.checker import compile_text
from criteria_lang.records.fhir import read_bundle
from criteria_lang.records.patient_json import load_patient

root = Path(sys.argv[1])
base = json.loads((root / "examples/nct03917797/eligible.json").read_text())
rules = Rules.from_file(root / "rules/nct03917797.crit")
out = {}

def probe(name, fn):
    start = time.process_time()
    answer = fn()
    out[name] = [time.process_time() - start, str(answer)[:300]]

def lab_unit(unit):
    doc = copy.deepcopy(base)
    for event in doc["events"]:
        if event.get("id") == "creatinine":
            event["unit"] = unit
    result = rules.evaluate(load_patient(doc))
    return [m for c in result.criteria for m in c.missing if "cannot be read" in m]

UNITS = {
    "exponent": "mg^999999/dL^999999",
    "power of ten": "10^99999999/L",
    "python power": "mg**9999999999",
    "UCUM power of ten": "10*99999999/L",
    "30,000-character name": "m" * 30_000,
    "1 MB name": "x" * 1_000_000,
}
for name, unit in UNITS.items():
    probe("our format: " + name, lambda unit=unit: lab_unit(unit))

def fhir(code):
    patient = {"resourceType": "Patient", "id": "p", "birthDate": "1960-01-01", "gender": "male"}
    obs = {"resourceType": "Observation", "id": "o", "status": "final",
           "code": {"coding": [{"system": "http://loinc.org", "code": "2160-0"}]},
           "subject": {"reference": "Patient/p"}, "effectiveDateTime": "2024-01-01",
           "valueQuantity": {"value": 1, "system": "http://unitsofmeasure.org", "code": code}}
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": patient}, {"resource": obs}]}
    patients, problems, _ = read_bundle(json.dumps(bundle), "probe")
    assert len(patients) == 1
    return [p.message for p in problems]

for name, unit in UNITS.items():
    probe("FHIR valueQuantity.code: " + name, lambda unit=unit: fhir(unit))

rule_text = (root / "rules/nct03917797.crit").read_text()
def rule(old, new):
    assert old in rule_text
    program = compile_text(rule_text.replace(old, new, 1), "probe.crit")
    return [d.code for d in program.diagnostics if d.severity == "error"]

probe("rule: huge exponent", lambda: rule("< 40 mL/min/1.73m2", "< 1.5 mg^999999/dL^999999"))
probe("rule: 1 MB unit", lambda: rule("< 40 mL/min/1.73m2", "< 1.5 " + "m" * 1_000_000))
probe("rule: within 9000 years",
      lambda: rule("within 6 months before randomization", "within 9000 years after screening"))

def calendar_end():
    doc = copy.deepcopy(base)
    doc["dates"] = {name: "9999-12-31" for name in doc["dates"]}
    result = rules.evaluate(load_patient(doc))
    return [m for c in result.criteria for m in c.missing if "calendar" in m]

probe("screening 9999-12-31", calendar_end)
print(json.dumps(out))
"""


def test_each_pathological_form_is_answered_within_a_small_bound() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBES, str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,  # a hang fails here instead of stalling the suite
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.splitlines()[-1])
    assert len(results) == 16
    for name, (seconds, answer) in results.items():
        assert seconds < BOUND_SECONDS, f"{name}: {seconds:.1f} s"
        assert answer not in ("[]", ""), f"{name}: no answer ({answer})"
    assert "C300" in results["rule: huge exponent"][1]
    assert "C124" in results["rule: within 9000 years"][1]
    assert "limit" in results["our format: exponent"][1]
    assert "limit" in results["FHIR valueQuantity.code: 1 MB name"][1]
