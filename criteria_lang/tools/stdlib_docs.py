"""docs/stdlib.md, generated from the stdlib modules (`python -m criteria_lang.tools.stdlib_docs`).

The prose that does not come from the modules (how matching works, how a trial extends an open
class) is the template docs/stdlib.in.md; everything that does is generated here, so that the
page cannot drift from the files: the table of modules with their counts, the index of sections,
each module's header (its sources), each concept with its title, attributes, members, codes and
the comment written above it, and the list of codes marked `# unverified`. Where a code was
confirmed is read from docs/stdlib-sources.tsv.

    python -m criteria_lang.tools.stdlib_docs           # rewrite docs/stdlib.md
    python -m criteria_lang.tools.stdlib_docs --check   # exit 1 if docs/stdlib.md is stale

The test suite runs the check (tests/test_stdlib_docs.py).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import attrs

from criteria_lang.check.checker import CompiledRules, compile_file
from criteria_lang.syntax import nodes as n

ROOT = Path(__file__).resolve().parent.parent.parent
STDLIB = ROOT / "criteria_lang" / "stdlib"
TEMPLATE = ROOT / "docs" / "stdlib.in.md"
OUTPUT = ROOT / "docs" / "stdlib.md"
SOURCES = ROOT / "docs" / "stdlib-sources.tsv"

SYSTEM_NAMES = {
    "rxnorm": "RxNorm",
    "atc": "ATC",
    "loinc": "LOINC",
    "snomed": "SNOMED CT",
    "icd10": "ICD-10",
    "cvx": "CVX",
    "omop": "OMOP",
}
_SECTION = re.compile(r"^# -{10,} (.+)$")
_BANNER = re.compile(r"^# ={10,}")


@attrs.frozen
class Term:
    system: str  # a code system, or "" for a member concept
    text: str  # the code, or the member's name
    unverified: bool
    excluded: bool


@attrs.frozen
class Concept:
    name: str
    kind: str
    title: str
    section: str
    terms: tuple[Term, ...]
    attributes: tuple[str, ...]
    notes: str


@attrs.frozen
class Module:
    name: str
    header: str
    concepts: tuple[Concept, ...]

    @property
    def topic(self) -> str:
        """The first sentence of the header: `# stdlib/x.crit -- <topic>`, to the first `#`."""
        lines: list[str] = []
        for line in self.header.splitlines():
            if line.strip() == "#":
                break
            lines.append(line.lstrip("#").strip())
        text = " ".join(lines)
        return text.split("--", 1)[1].strip() if "--" in text else ""

    @property
    def kind(self) -> str:
        return ", ".join(sorted({c.kind for c in self.concepts}))


def read_module(path: Path) -> Module:
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    result = compile_file(path)
    header = text.split("\n\n")[0]
    concepts = tuple(
        read_concept(decl, text, lines, section) for decl, section in sections(result, lines)
    )
    return Module(path.stem, header, concepts)


def sections(result: CompiledRules, lines: list[str]) -> Iterator[tuple[n.ConceptDecl, str]]:
    """Each declaration with the `# ---- name` section it is in."""
    rule_file = result.rule_file
    marks = [(i, m.group(1).strip()) for i, line in enumerate(lines) if (m := _SECTION.match(line))]
    for decl in rule_file.concepts:
        line = decl.span.line - 1
        current = ""
        for index, name in marks:
            if index < line:
                current = name
        yield decl, current


def read_concept(decl: n.ConceptDecl, text: str, lines: list[str], section: str) -> Concept:
    def term(t: n.ConceptTerm, excluded: bool) -> Term:
        line = lines[t.span.line - 1]
        flagged = "# unverified" in line
        if isinstance(t, n.CodeTerm):
            return Term(t.system, t.code, flagged, excluded)
        return Term("", t.ref.dotted, False, excluded)

    terms = [term(t, False) for t in decl.include] + [term(t, True) for t in decl.exclude]
    attributes = tuple(text[a.span.start : a.span.end].strip() for a in decl.attributes)
    return Concept(
        decl.name.text,
        decl.kind,
        decl.title or "",
        section,
        tuple(terms),
        attributes,
        comment_above(lines, decl.span.line - 1),
    )


def comment_above(lines: list[str], line: int) -> str:
    """The comment block written right above a declaration (section rules excluded)."""
    out: list[str] = []
    i = line - 1
    while i >= 0 and lines[i].startswith("#"):
        if _SECTION.match(lines[i]) or _BANNER.match(lines[i]):
            break
        out.append(lines[i][1:].strip())
        i -= 1
    return " ".join(reversed(out)).strip()


def modules(stdlib: Path = STDLIB) -> list[Module]:
    return [read_module(path) for path in sorted(stdlib.glob("*.crit"))]


# ---------------------------------------------------------------------- rendering


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def code_text(t: Term) -> str:
    shown = f"`{t.system} {t.text}`" + (" (u)" if t.unverified else "")
    return ("except " if t.excluded else "") + shown


def counts(module: Module) -> tuple[Counter[str], int, int]:
    systems: Counter[str] = Counter()
    local = unverified = 0
    for concept in module.concepts:
        for t in concept.terms:
            if t.system == "local":
                local += 1
            elif t.system:
                systems[t.system] += 1
                unverified += t.unverified
    return systems, local, unverified


def modules_table(mods: Sequence[Module]) -> str:
    rows = [
        "| module | kind | what is in it | concepts | standard codes | `local` codes"
        " | unverified |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    totals: Counter[str] = Counter()
    all_concepts = all_local = all_unverified = 0
    for module in mods:
        systems, local, unverified = counts(module)
        totals.update(systems)
        all_concepts += len(module.concepts)
        all_local += local
        all_unverified += unverified
        topic = module.topic
        rows.append(
            f"| [`{module.name}`](#{module.name}) | {module.kind} | {cell(topic)} | "
            f"{len(module.concepts)} | {by_system(systems)} | {local} | {unverified} |"
        )
    rows.append(
        f"| **total** | | | **{all_concepts}** | **{by_system(totals)}** | **{all_local}** | "
        f"**{all_unverified}** |"
    )
    return "\n".join(rows)


def by_system(systems: Counter[str]) -> str:
    total = sum(systems.values())
    if not total:
        return "0"
    parts = ", ".join(f"{SYSTEM_NAMES.get(s, s)} {systems[s]}" for s in SYSTEM_NAMES if systems[s])
    return f"{total} ({parts})"


def index(mods: Sequence[Module]) -> str:
    """Every section of every module with its concepts: where to find things."""
    rows = ["| module | section | concepts |", "| --- | --- | --- |"]
    for module in mods:
        groups: dict[str, list[str]] = {}
        for concept in module.concepts:
            groups.setdefault(concept.section or "(no section)", []).append(concept.name)
        for section, names in groups.items():
            listed = ", ".join(f"`{name}`" for name in names)
            rows.append(f"| `{module.name}` | {cell(section)} | {listed} |")
    return "\n".join(rows)


def module_section(module: Module) -> str:
    lines = module.header.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == "#"), len(lines) - 1)
    header = "\n".join(
        (">" + (" " + line[1:].strip() if line[1:].strip() else "")) for line in lines[start + 1 :]
    )
    rows = [
        f"### {module.name}",
        "",
        f"*{cell(module.topic)}*",
        "",
        header,
        "",
        "| concept | title and attributes | members | codes | notes |",
        "| --- | --- | --- | --- | --- |",
    ]
    for c in module.concepts:
        title = cell(c.title)
        if c.attributes:
            title += " — " + cell("; ".join(c.attributes))
        members = ", ".join(
            ("except " if t.excluded else "") + t.text for t in c.terms if not t.system
        )
        codes = ", ".join(code_text(t) for t in c.terms if t.system)
        if not c.terms:
            codes = "open class `{}`"
        rows.append(f"| `{c.name}` | {title} | {cell(members)} | {codes} | {cell(c.notes)} |")
    return "\n".join(rows)


def unverified_list(mods: Sequence[Module]) -> str:
    lines = []
    for module in mods:
        items = [
            f"`{c.name}` {t.system} `{t.text}`"
            for c in module.concepts
            for t in c.terms
            if t.unverified and t.system
        ]
        if items:
            lines.append(f"* **{module.name}** ({len(items)}): " + ", ".join(items))
    return "\n".join(lines) if lines else "None."


def verification_summary(mods: Sequence[Module], sources: Path = SOURCES) -> str:
    written: set[tuple[str, str]] = set()
    unverified: set[tuple[str, str]] = set()
    for module in mods:
        for c in module.concepts:
            for t in c.terms:
                if t.system and t.system != "local":
                    (unverified if t.unverified else written).add((t.system, t.text))
    recorded: dict[tuple[str, str], str] = {}
    if sources.is_file():
        for line in sources.read_text(encoding="utf-8").splitlines():
            parts = line.split("\t")
            if len(parts) == 4 and not line.startswith("#") and parts[0] != "system":
                recorded[(parts[0], parts[1])] = parts[3]
    earlier = {key for key, source in recorded.items() if source.startswith("earlier")}
    confirmed = written - earlier
    rows = [
        "| system | distinct codes | confirmed, source recorded"
        " | confirmed earlier, source not recorded | unverified |",
        "| --- | --- | --- | --- | --- |",
    ]
    for system, shown in SYSTEM_NAMES.items():
        all_codes = {k for k in written | unverified if k[0] == system}
        if not all_codes:
            continue
        rows.append(
            f"| {shown} | {len(all_codes)} | {sum(k[0] == system for k in confirmed)} | "
            f"{sum(k[0] == system for k in earlier & written)} | "
            f"{sum(k[0] == system for k in unverified - written)} |"
        )
    rows.append(
        f"| **all** | **{len(written | unverified)}** | **{len(confirmed)}** | "
        f"**{len(earlier & written)}** | **{len(unverified - written)}** |"
    )
    return "\n".join(rows)


def render(template: str, mods: Sequence[Module], sources: Path = SOURCES) -> str:
    parts = {
        "modules": modules_table(mods),
        "index": index(mods),
        "verification": verification_summary(mods, sources),
        "concepts": "\n\n".join(module_section(m) for m in mods),
        "unverified": unverified_list(mods),
    }
    out = template
    for key, value in parts.items():
        out = out.replace("{{" + key + "}}", value)
    leftover = re.search(r"\{\{\w+\}\}", out)
    if leftover:
        raise ValueError(f"unknown placeholder {leftover.group()} in {TEMPLATE}")
    return out.rstrip("\n") + "\n"


def generate() -> str:
    return render(TEMPLATE.read_text(encoding="utf-8"), modules())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m criteria_lang.tools.stdlib_docs", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/stdlib.md is stale")
    args = parser.parse_args(argv)
    text = generate()
    current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.is_file() else ""
    if args.check:
        if current != text:
            print(
                f"{OUTPUT} is stale: run python -m criteria_lang.tools.stdlib_docs", file=sys.stderr
            )
            return 1
        return 0
    if current != text:
        OUTPUT.write_text(text, encoding="utf-8")
        print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
