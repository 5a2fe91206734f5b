"""The per-process cache of compiled modules (check/modules.py): the stdlib is compiled once,
and a cached module is never used once its text, or a module it imports, has changed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from criteria_lang.check.checker import ModuleSymbol, compile_file, compile_text
from criteria_lang.check.modules import ModuleCache, module_cache, shipped_stdlib

ROOT = Path(__file__).resolve().parent.parent

RULE = """\
trial "NCT-CACHE"
  dates screening
import lib
inclusion
  I1 "a": latest lab lib.thing within 3 months before screening > 1 mg/dL
"""


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    module_cache().clear()
    yield
    module_cache().clear()


def codes(text: str, search: Path) -> list[str]:
    return [d.code for d in compile_text(text, "<rule>", search_path=[search]).diagnostics]


def write_lib(folder: Path, body: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / "lib.crit"
    path.write_text(body, encoding="utf-8")
    return path


def test_the_stdlib_is_compiled_once_per_process() -> None:
    first = compile_file(ROOT / "rules" / "nct03562065.crit")
    compiled = module_cache().misses
    assert compiled >= 2 and len(module_cache()) >= 2
    second = compile_file(ROOT / "rules" / "nct03562065.crit")
    assert module_cache().misses == compiled  # nothing compiled again
    assert first.ok and second.ok
    assert first.diagnostics == second.diagnostics
    assert first.sources == second.sources
    imported = {
        name: symbol.module
        for name, symbol in first.module.symbols.items()
        if isinstance(symbol, ModuleSymbol)
    }
    assert imported  # the file imports stdlib modules as modules
    for name, module in imported.items():
        again = second.module.symbols[name]
        assert isinstance(again, ModuleSymbol) and again.module is module


def test_a_second_rule_file_reuses_the_modules_of_the_first() -> None:
    compile_file(ROOT / "rules" / "nct03562065.crit")
    misses = module_cache().misses
    hits = module_cache().hits
    compile_file(ROOT / "rules" / "nct05631717.crit")
    assert module_cache().hits > hits
    assert module_cache().misses - misses < 8  # only modules the first file did not import


def test_an_edited_module_is_compiled_again(tmp_path: Path) -> None:
    write_lib(tmp_path, 'lab thing "A thing" = loinc "2160-0" with unit = mg/dL\n')
    assert codes(RULE, tmp_path) == []
    write_lib(tmp_path, 'lab other "Another" = loinc "2160-0" with unit = mg/dL\n')
    assert "C200" in codes(RULE, tmp_path) or "C208" in codes(RULE, tmp_path)
    write_lib(tmp_path, 'lab thing "A thing" = loinc "2160-0" with unit = mmol/L\n')
    assert "C301" in codes(RULE, tmp_path)  # mg/dL no longer converts to the lab's unit


def test_a_module_whose_import_changed_is_compiled_again(tmp_path: Path) -> None:
    write_lib(tmp_path, 'import base\nlab thing "A thing" = base.creat\n')
    base = tmp_path / "base.crit"
    base.write_text('lab creat "C" = loinc "2160-0" with unit = mg/dL\n', encoding="utf-8")
    assert codes(RULE, tmp_path) == []
    base.write_text('lab creatinine "C" = loinc "2160-0" with unit = mg/dL\n', encoding="utf-8")
    assert "C200" in codes(RULE, tmp_path)  # lib's base.creat is gone


def test_a_module_added_earlier_on_the_search_path_is_used(tmp_path: Path) -> None:
    rule = RULE.replace("import lib", "import labs").replace("lib.thing", "labs.thing")
    assert any(d.startswith("C2") for d in codes(rule, tmp_path))  # the shipped labs has none
    (tmp_path / "labs.crit").write_text(
        'lab thing "A thing" = loinc "2160-0" with unit = mg/dL\n', encoding="utf-8"
    )
    # Used, with the warning that it hides the shipped labs (issue 10: C213).
    assert codes(rule, tmp_path) == ["C213"]


def test_a_module_with_errors_is_not_cached_and_reports_every_time(tmp_path: Path) -> None:
    write_lib(tmp_path, 'lab thing "A thing" = loinc "2160-0" with unit = mg/dL\nlab broken =\n')
    first = codes(RULE, tmp_path)
    assert first and codes(RULE, tmp_path) == first
    assert len(module_cache()) == 0 or all(
        "lib.crit" not in key[1]
        for key in module_cache()._entries  # noqa: SLF001
    )


def test_an_import_cycle_is_reported_every_time(tmp_path: Path) -> None:
    write_lib(tmp_path, 'import other\nlab thing "A thing" = loinc "2160-0" with unit = mg/dL\n')
    (tmp_path / "other.crit").write_text("import lib\n", encoding="utf-8")
    assert "C206" in codes(RULE, tmp_path)
    assert "C206" in codes(RULE, tmp_path)


def test_the_cache_drops_the_least_recently_used() -> None:
    cache = ModuleCache(capacity=2)
    entries = [object() for _ in range(3)]
    keys = [((), str(i), "m", "h") for i in range(3)]
    cache.put(keys[0], entries[0])  # type: ignore[arg-type]
    cache.put(keys[1], entries[1])  # type: ignore[arg-type]
    assert cache.get(keys[0]) is entries[0]  # now the most recent
    cache.put(keys[2], entries[2])  # type: ignore[arg-type]
    assert cache.get(keys[1]) is None
    assert cache.get(keys[0]) is entries[0] and cache.get(keys[2]) is entries[2]
    assert len(cache) == 2


def test_the_shipped_stdlib_is_found_through_the_package() -> None:
    root = shipped_stdlib()
    names = sorted(p.name for p in root.iterdir() if p.name.endswith(".crit"))
    assert "labs.crit" in names and "drugs.crit" in names
    assert root.joinpath("labs.crit").read_text(encoding="utf-8").startswith("#")
