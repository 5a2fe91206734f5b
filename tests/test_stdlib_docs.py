"""docs/stdlib.md is generated from the stdlib modules and must equal what the generator writes."""

from __future__ import annotations

from pathlib import Path

from criteria_lang.tools import stdlib_docs

ROOT = Path(__file__).resolve().parent.parent


def test_checked_in_stdlib_docs_are_current() -> None:
    current = (ROOT / "docs" / "stdlib.md").read_text(encoding="utf-8")
    assert current == stdlib_docs.generate(), (
        "docs/stdlib.md is stale: run python -m criteria_lang.tools.stdlib_docs"
    )
    assert stdlib_docs.main(["--check"]) == 0


def test_every_concept_and_code_is_documented() -> None:
    text = stdlib_docs.generate()
    for module in stdlib_docs.modules():
        assert f"### {module.name}\n" in text
        for concept in module.concepts:
            assert f"| `{concept.name}` |" in text, f"{module.name}.{concept.name}"
            for term in concept.terms:
                if term.system:
                    assert f"`{term.system} {term.text}`" in text


def test_unverified_codes_are_marked_and_listed() -> None:
    text = stdlib_docs.generate()
    listed = text.split("## Unverified codes")[1].split("## Gaps")[0]
    for module in stdlib_docs.modules():
        for concept in module.concepts:
            for term in concept.terms:
                if term.unverified and term.system:
                    assert f"`{concept.name}` {term.system} `{term.text}`" in listed


def test_the_hbsag_row_declares_no_unit() -> None:
    # The hand-written page once gave HBsAg the unit 1; qualitative labs have none.
    row = next(
        line for line in stdlib_docs.generate().splitlines() if line.startswith("| `hbsag` |")
    )
    assert "unit" not in row.split("|")[2]


def test_a_stale_page_fails_the_check(tmp_path: Path, monkeypatch: object) -> None:
    stale = tmp_path / "stdlib.md"
    stale.write_text("old\n", encoding="utf-8")
    monkeypatch.setattr(stdlib_docs, "OUTPUT", stale)  # type: ignore[attr-defined]
    assert stdlib_docs.main(["--check"]) == 1
    assert stdlib_docs.main([]) == 0
    assert stale.read_text(encoding="utf-8") == stdlib_docs.generate()
