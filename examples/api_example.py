"""The README's API example, runnable: `python examples/api_example.py`."""

from pathlib import Path

from criteria_lang import Rules, read_patients

ROOT = Path(__file__).resolve().parents[1]

rules = Rules.from_file(ROOT / "rules" / "nct03562065.crit")  # raises CompileError on a bad file
result = rules.evaluate(ROOT / "examples" / "nct03562065" / "azathioprine-below-2-mg-kg.json")
print(result.verdict.value, result.deciding)  # ineligible ('I4',)
for criterion in result.criteria:
    if criterion.id in result.deciding:
        print(criterion.id, criterion.truth.value, criterion.evidence[0].detail)

# a patient can also be a dict in our JSON format, JSON text, or a criteria_lang.Patient
result = rules.evaluate(
    {
        "id": "p1",
        "birth_date": "1980-01-01",
        "sex": "female",
        "dates": {"consent": "2024-01-01", "screening": "2024-01-10", "baseline": "2024-01-20"},
        "events": [],
    }
)
print(result.verdict.value, len(result.deciding), "criteria open")

# many records: each is a PatientResult or a RecordError, none lost
rows = list(rules.screen(read_patients(ROOT / "examples" / "nct03562065")))
print(len(rows), "records screened")
