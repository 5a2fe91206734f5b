"""Lint rules (`criteria lint`): what a rule file compiles with but should not say.

Each rule is one small pass over the checked tree (`CompiledRules` from `check.compile_file`),
one function each, listed in `RULES` in the order they run (sqlglot's optimizer style). A rule
yields `Diagnostic`s with a stable `W` code, documented with a bad and a good example in
docs/lint.md. Compile errors (`C` codes, from the checker) are findings too; they cannot be
switched off, since a file with errors does not run.

Configuration: `[tool.criteria.lint]` in the nearest `pyproject.toml` above a rule file
(`select`, `ignore`, `severity`), `# criteria: ignore[W101]` (or `# criteria: ignore`) on the
line of a finding, and the command line, which overrides the file (`config.py` style in one place:
`LintConfig`, `find_config`).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

import attrs

from criteria_lang.check.checker import (
    CompiledRules,
    ConceptSymbol,
    DefineSymbol,
    Module,
    ModuleSymbol,
    compile_file,
    compile_text,
)
from criteria_lang.core.concepts import ConceptSet, UnitAttr, basis_of
from criteria_lang.core.diagnostics import SEVERITY_RANK, Diagnostic, Edit, Severity, Span, end_of
from criteria_lang.core.units import Unit, UnitError, get_units
from criteria_lang.syntax import nodes as n
from criteria_lang.syntax.parse import Comment, parse_text
from criteria_lang.tools.fmt import is_expr
from criteria_lang.tools.lint_constancy import ALWAYS, NEVER, Constancy, _number

DOCS = "docs/lint.md"
# Where the documentation of each code is published (SARIF `helpUri`, `#w101` anchors).
DOCS_URL = "https://github.com/criteria-lang/criteria-lang/blob/main/docs/lint.md"


# ---------------------------------------------------------------------------- rules


@attrs.frozen
class Rule:
    code: str
    name: str
    severity: Severity
    summary: str  # one line: SARIF shortDescription, `criteria lint --help`
    description: str  # what is detected, exactly: SARIF fullDescription
    check: Callable[[Context], Iterable[Diagnostic]]


@attrs.define
class Context:
    """What a rule sees: the checked file and a way to report."""

    program: CompiledRules
    code: str = ""
    units: Any = attrs.field(factory=get_units)

    @property
    def rule_file(self) -> n.RuleFile:
        return self.program.rule_file

    def finding(
        self, message: str, fix: str, span: Span, edits: tuple[Edit, ...] = ()
    ) -> Diagnostic:
        """A finding of the running rule; `edits` is its fix as data, when there is one."""
        rule = RULE_BY_CODE[self.code]
        return Diagnostic(
            self.code, rule.severity, message, fix, self.program.path, span, edits=edits
        )

    def expressions(self) -> Iterator[tuple[n.Criterion | n.Define, n.Expr | n.Operand]]:
        for define in self.rule_file.defines:
            yield define, define.expr
        for criterion in self.rule_file.criteria:
            yield criterion, criterion.expr

    def nodes(self) -> Iterator[object]:
        """Every node of the file's own declarations and criteria."""
        rf = self.rule_file
        for top in (*rf.concepts, *rf.defines, *rf.criteria, *rf.outcomes):
            yield from n.walk(top)

    def concept(self, ref: n.Ref) -> ConceptSet | None:
        symbol = self.program.module.lookup(ref.parts)
        return symbol.concept if isinstance(symbol, ConceptSymbol) else None

    def unit(self, text: str) -> Unit | None:
        try:
            return self.units.parse(text)  # type: ignore[no-any-return]
        except UnitError:
            return None

    def declared_unit(self, concept: ConceptSet | None) -> Unit | None:
        attr = concept.attributes.get("unit") if concept is not None else None
        return self.unit(attr.unit) if isinstance(attr, UnitAttr) else None

    def compatible(self, a: Unit, b: Unit, concept: ConceptSet | None) -> bool:
        try:
            return bool(self.units.compatible(a, b, basis=basis_of(concept)))
        except UnitError:
            return True  # not ours to report: C300


VALUE_AGGREGATES = ("latest", "earliest", "nearest", "min", "max", "sum")


def _thresholds(ctx: Context) -> Iterator[tuple[n.Query, n.QuantityLit | n.TiterLit | n.LimitLit]]:
    """Each literal a concept's value is compared with: `latest lab x ... > 1.2 mg/dL`,
    `x between 1 and 2`, and value filters (`value > 1.2 mg/dL`)."""
    for node in ctx.nodes():
        pairs: list[tuple[n.Operand, n.Operand]] = []
        if isinstance(node, n.Compare):
            pairs = [(node.left, node.right), (node.right, node.left)]
        elif isinstance(node, n.Between):
            pairs = [(node.operand, node.low), (node.operand, node.high)]
        for value, literal in pairs:
            if (
                isinstance(value, n.Aggregate)
                and value.op in VALUE_AGGREGATES
                and isinstance(literal, (n.QuantityLit, n.TiterLit, n.LimitLit))
            ):
                yield value.query, literal
        if isinstance(node, n.Query) and node.value is not None:
            threshold = node.value.value
            if isinstance(threshold, (n.QuantityLit, n.TiterLit, n.LimitLit)):
                yield node, threshold


def threshold_without_unit(ctx: Context) -> Iterator[Diagnostic]:
    for query, literal in _thresholds(ctx):
        if not isinstance(literal, n.QuantityLit) or literal.unit is not None:
            continue
        concept = ctx.concept(query.concept)
        unit = ctx.declared_unit(concept)
        if concept is None or unit is None:
            continue
        if unit.dimensionality == "dimensionless" and unit.base_factor == 1:
            continue  # a score or a titer: a bare number is its value
        number = _number(literal.value)
        yield ctx.finding(
            f"'{query.concept.dotted}' is measured in {unit.text}, but the threshold "
            f"{number} has no unit",
            f"write the unit, e.g. `{number} {unit.text}`",
            literal.span,
            (Edit(literal.span, f"{number} {unit.text}"),),
        )


def window_without_date(ctx: Context) -> Iterator[Diagnostic]:
    named = ctx.program.index_date
    index = named or "the index date"
    for node in ctx.nodes():
        if isinstance(node, n.Query) and node.window.kind == "within":
            window = node.window
            if window.anchor is None and window.far is not None:
                yield ctx.finding(
                    f"this window counts back from {index}, which the rule does not name",
                    f"name the date: `within ... before {index}`",
                    window.span,
                    (Edit(end_of(window.span), f" before {named}"),) if named else (),
                )


def never_met(ctx: Context) -> Iterator[Diagnostic]:
    yield from _constant(ctx, NEVER)


def always_met(ctx: Context) -> Iterator[Diagnostic]:
    yield from _constant(ctx, ALWAYS)


def _constant(ctx: Context, wanted: str) -> Iterator[Diagnostic]:
    constancy = Constancy(ctx)
    for owner, body in ctx.expressions():
        if not is_expr(body):
            continue
        for node, state in constancy.outermost(body):
            if state != wanted:
                continue
            whole = node is body
            yield ctx.finding(
                _constant_message(owner, whole, state), _constant_fix(state), node.span
            )


def _constant_message(owner: n.Criterion | n.Define, whole: bool, state: str) -> str:
    what = "can never be met" if state == NEVER else "is met whenever it is decided"
    if not whole:
        return f"this condition {what}"
    if isinstance(owner, n.Define):
        return f"definition '{owner.name.text}' {what}"
    effect = {
        ("inclusion", NEVER): "so no patient can be included",
        ("inclusion", ALWAYS): "so it screens no one out",
        ("exclusion", NEVER): "so it excludes no one",
        ("exclusion", ALWAYS): "so it excludes every patient",
    }[(owner.section, state)]
    return f"{owner.section} criterion {owner.id.text} {what}, {effect}"


def _constant_fix(state: str) -> str:
    if state == NEVER:
        return (
            "check what is joined by `and` (comparisons of one value that exclude each other, "
            "a condition and its opposite) and the number in `at least N of`"
        )
    return (
        "check what is joined by `or` (comparisons of one value that cover every number, "
        "a condition and its opposite) and the number in `at least N of`"
    )


def unused_declaration(ctx: Context) -> Iterator[Diagnostic]:
    rf = ctx.rule_file
    if rf.trial is None:
        return  # a module: its declarations are for the files that import it
    used: dict[str, int] = {}
    owners: list[tuple[str, object]] = [(c.name.text, c) for c in rf.concepts]
    owners += [(d.name.text, d) for d in rf.defines]
    for top in (*rf.concepts, *rf.defines, *rf.criteria, *rf.outcomes):
        own = getattr(getattr(top, "name", None), "text", None)
        for node in n.walk(top):
            if isinstance(node, n.Ref) and len(node.parts) == 1 and node.parts[0] != own:
                used[node.parts[0]] = used.get(node.parts[0], 0) + 1
    for name, decl in owners:
        if name in used:
            continue
        if isinstance(decl, n.Define):
            yield ctx.finding(
                f"definition '{name}' is never used",
                "use it in a criterion, or remove it",
                decl.name.span,
            )
        elif isinstance(decl, n.ConceptDecl):
            yield ctx.finding(
                f"concept '{name}' is declared but never used",
                "query it in a criterion, or remove it",
                decl.name.span,
            )


def duplicate_criterion(ctx: Context) -> Iterator[Diagnostic]:
    seen: dict[n.Expr, n.Criterion] = {}
    for criterion in ctx.rule_file.criteria:
        first = seen.get(criterion.expr)
        if first is None:
            seen[criterion.expr] = criterion
            continue
        yield ctx.finding(
            f"criterion {criterion.id.text} has the same expression as {first.id.text} "
            f"(line {first.id.span.line})",
            "merge the two criteria, or correct the one that was copied",
            criterion.id.span,
        )


def empty_criterion_text(ctx: Context) -> Iterator[Diagnostic]:
    source = ctx.program.source
    for criterion in ctx.rule_file.criteria:
        if criterion.text.strip():
            continue
        span = criterion.id.span
        quote = source.find('"', span.end)
        if quote != -1 and source.count("\n", span.end, quote) == 0:
            width = len(criterion.text) + 2
            column = span.end_column + (quote - span.end)
            span = Span(quote, quote + width, span.line, column, span.line, column + width)
        yield ctx.finding(
            f"criterion {criterion.id.text} does not quote the protocol's text",
            'quote the criterion as the protocol words it: `ID "the protocol\'s words": ...`',
            span,
        )


def review_data_could_decide(ctx: Context) -> Iterator[Diagnostic]:
    known = _known_concepts(ctx)
    if not known:
        return
    for criterion in ctx.rule_file.criteria:
        queried = _queried(ctx.program.module, criterion.expr, set())
        for node in n.walk(criterion.expr):
            if not isinstance(node, n.Review):
                continue
            question = node.question.casefold()
            for shown, concept in known:
                if not _mentions(question, concept.short_name):
                    continue
                if concept.name in queried:
                    break  # a judgement about what the criterion queries (the longest name wins)
                keyword = _QUERY_WORD.get(concept.kind, concept.kind)
                yield ctx.finding(
                    f"this review asks about '{concept.short_name}', which the data can record "
                    f"({concept.kind} {shown})",
                    f"query it (`{keyword} {shown} ...`), and keep the review only for what "
                    "needs a person's judgement",
                    node.span,
                )
                break


_QUERY_WORD = {"drug": "medication"}

# Words that name no concept by themselves: a question about "treatment" or "the study" does not
# ask about `tb_treatment` or `in_other_study`. A concept is mentioned only through at least one
# word of its name that is not in this list.
_GENERIC_WORDS = frozenset(
    """treatment treatments therapy therapies study studies trial other others disease diseases
    disorder disorders condition conditions test tests planned plan use used drug drugs agent
    agents medication medications procedure procedures event events history active severe
    chronic acute new current in on of at to for by with and or the a an""".split()
)


def _queried(module: Module, expr: n.Expr | n.Operand, seen: set[int]) -> set[str]:
    """The concepts an expression queries, through the definitions it uses, with the concepts
    related to them (`_related`)."""
    out: set[str] = set()
    for node in n.walk(expr):
        if isinstance(node, n.Query):
            symbol = module.lookup(node.concept.parts)
            if isinstance(symbol, ConceptSymbol):
                out |= _related(symbol.concept)
        elif isinstance(node, n.Ref):
            symbol = module.lookup(node.parts)
            if isinstance(symbol, DefineSymbol) and id(symbol.define) not in seen:
                seen.add(id(symbol.define))
                out |= _queried(symbol.module, symbol.define.expr, seen)
    return out


def _related(concept: ConceptSet) -> set[str]:
    """The concept, its members and its exceptions, transitively: a review next to a query of
    `infection_e4` (a union holding `conditions.infection`) asks a judgement about the queried
    events, not about a concept the rule forgot to query."""
    names: set[str] = set()
    stack = [concept]
    while stack:
        current = stack.pop()
        if current.name in names:
            continue
        names.add(current.name)
        stack.extend(current.members)
        stack.extend(current.excluded)
    return names


def _known_concepts(ctx: Context) -> list[tuple[str, ConceptSet]]:
    """The concepts a file can query, as it would name them, longest name first."""
    out: dict[str, tuple[str, ConceptSet]] = {}
    for name, symbol in ctx.program.module.symbols.items():
        if isinstance(symbol, ConceptSymbol):
            out.setdefault(symbol.concept.name, (name, symbol.concept))
        elif isinstance(symbol, ModuleSymbol):
            for export, inner in symbol.module.exports.items():
                if isinstance(inner, ConceptSymbol):
                    out.setdefault(inner.concept.name, (f"{name}.{export}", inner.concept))
    return sorted(out.values(), key=lambda item: (-len(item[1].short_name), item[0]))


def _mentions(question: str, name: str) -> bool:
    """Whether a question names a concept: every word of the name, words of 4 letters or fewer
    whole (`tb`, `hiv`), longer words by their stem (`pregnant` matches "pregnancy"), and at
    least one of them a word that is not generic (`treatment`, `study`, ...)."""
    words = [w for w in name.casefold().split("_") if w]
    if sum(len(w) for w in words) < 4 or all(w in _GENERIC_WORDS for w in words):
        return False
    for word in words:
        stem = word if len(word) <= 5 else word[: max(5, len(word) - 2)]
        pattern = rf"\b{re.escape(stem)}" + (r"\b" if stem == word and len(word) <= 4 else "")
        if not re.search(pattern, question):
            return False
    return True


def unit_kinds_differ(ctx: Context) -> Iterator[Diagnostic]:
    first: dict[str, tuple[Unit, n.QuantityLit]] = {}
    for query, literal in _thresholds(ctx):
        if not isinstance(literal, n.QuantityLit) or literal.unit is None:
            continue
        concept = ctx.concept(query.concept)
        if concept is None or ctx.declared_unit(concept) is not None:
            continue  # a declared unit is enforced by the checker (C301)
        unit = ctx.unit(literal.unit)
        if unit is None:
            continue
        seen = first.get(concept.name)
        if seen is None:
            first[concept.name] = (unit, literal)
            continue
        if not ctx.compatible(seen[0], unit, concept):
            yield ctx.finding(
                f"'{query.concept.dotted}' is compared in {unit.text} "
                f"({ctx.units.describe(unit)}) here, but in {seen[0].text} "
                f"({ctx.units.describe(seen[0])}) at line {seen[1].span.line}",
                f"use units of one kind; declare `with unit = {seen[0].text}` on the concept "
                "so that the checker enforces it",
                literal.span,
            )


def unused_import(ctx: Context) -> Iterator[Diagnostic]:
    rf = ctx.rule_file
    heads: set[str] = set()
    for top in (*rf.concepts, *rf.defines, *rf.criteria, *rf.outcomes):
        for node in n.walk(top):
            if isinstance(node, n.Ref):
                heads.add(node.parts[0])
    for imp in rf.imports:
        if imp.names:
            for name in imp.names:
                if name.text not in heads:
                    yield ctx.finding(
                        f"'{name.text}' is imported but never used",
                        "remove it from the import",
                        name.span,
                    )
            continue
        alias = imp.alias.text if imp.alias else imp.module[-1]
        if alias not in heads:
            yield ctx.finding(
                f"module '{'.'.join(imp.module)}' is imported but never used",
                "remove the import",
                imp.alias.span if imp.alias else imp.span,
            )


RULES: tuple[Rule, ...] = (
    Rule(
        "W101",
        "threshold-without-unit",
        "warning",
        "A threshold without a unit, for a concept that declares one",
        "A number compared with a concept's value (`latest lab creatinine ... > 1.2`, "
        "`between 1 and 2`, `value > 1.2`) has no unit while the concept declares `unit = ...`. "
        "Scores and titers (a unit of plain 1) are not reported.",
        threshold_without_unit,
    ),
    Rule(
        "W102",
        "window-without-date",
        "warning",
        "A window with no date (`within 6 months` without `before <date>`)",
        "`within D` without `before`, `after` or `around` a date counts back from the trial's "
        "index date, which a reader of the rule cannot see.",
        window_without_date,
    ),
    Rule(
        "W103",
        "never-met",
        "warning",
        "A criterion or condition that can never be met",
        "Detected: comparisons of the same value that no number satisfies together "
        "(`x < 5 and x > 10`, `x between 5 and 5 exclusive`; a reversed range is the "
        "compiler's C307), a condition and its opposite joined by "
        "`and` (`a and not a`, `x is positive and x is negative`, `any q and no q`), "
        "`at least N of` with fewer than N parts that can be met, two numbers compared, and "
        "`not` of an always-met condition.",
        never_met,
    ),
    Rule(
        "W104",
        "always-met",
        "warning",
        "A criterion or condition that is met whenever it is decided",
        "Detected: comparisons of the same value that every number satisfies "
        "(`x < 5 or x >= 5`), a condition and its opposite joined by `or` (`a or not a`), "
        "`at least 0 of (...)`, two numbers compared, and `not` of a never-met condition. "
        "Missing data can still leave such a criterion unknown; it can never be not met.",
        always_met,
    ),
    Rule(
        "W105",
        "unused-declaration",
        "warning",
        "A definition or a local concept that nothing uses",
        "A `define` or a concept declared in a rule file (a file with a trial header) that no "
        "criterion, definition or concept refers to. Modules are not checked: their "
        "declarations are for the files that import them.",
        unused_declaration,
    ),
    Rule(
        "W106",
        "duplicate-criterion",
        "warning",
        "Two criteria with the same expression",
        "Two criteria whose expressions are the same typed tree (layout, comments and "
        "redundant parentheses aside), in either section.",
        duplicate_criterion,
    ),
    Rule(
        "W107",
        "empty-criterion-text",
        "warning",
        "A criterion without the protocol's text",
        'A criterion whose quoted text is empty or blank (`I1 "": ...`).',
        empty_criterion_text,
    ),
    Rule(
        "W108",
        "review-data-could-decide",
        "info",
        "A review question about something the data can record (heuristic)",
        'A `review "..."` whose question names a concept the file can query (every word of '
        'the concept\'s name, long words by their stem: `pregnant` matches "pregnancy"; at '
        "least one word that is not generic, so that `treatment` or `study` alone names "
        "nothing), when the criterion queries neither that concept nor a class holding it or "
        "held by it. A heuristic: the question may need a person's judgement all the same.",
        review_data_could_decide,
    ),
    Rule(
        "W109",
        "unit-kinds-differ",
        "warning",
        "A concept without a declared unit compared in units of different kinds",
        "For a concept that declares no `unit`, the thresholds it is compared with in one file "
        "are of different kinds (mg/dL here, mmol/L there, without a molar mass to convert). "
        "Concepts that declare a unit are checked by the compiler (C301).",
        unit_kinds_differ,
    ),
    Rule(
        "W110",
        "unused-import",
        "warning",
        "An import that nothing uses",
        "`import m` whose name is never used, or a name of `from m import a, b` that is never "
        "used.",
        unused_import,
    ),
)

RULE_BY_CODE: dict[str, Rule] = {rule.code: rule for rule in RULES}


# ---------------------------------------------------------------------------- configuration

FailOn = Literal["error", "warning", "info"]
_CODE = re.compile(r"^[CW][0-9]{0,3}$")


class ConfigError(Exception):
    """A lint configuration that cannot be used (exit code 2)."""


@attrs.frozen
class LintConfig:
    """Which W codes run (`select` / `ignore`: codes or prefixes such as `W1`) and from which
    severity a finding fails the run."""

    select: tuple[str, ...] = ("W",)
    ignore: tuple[str, ...] = ()
    fail_on: FailOn = "warning"
    source: str | None = None  # the pyproject.toml it came from

    def enabled(self, code: str) -> bool:
        if code.startswith("C"):
            return True  # compile errors are always reported
        selected = any(code.startswith(p) for p in self.select)
        return selected and not any(code.startswith(p) for p in self.ignore)

    def fails(self, finding: Diagnostic) -> bool:
        return SEVERITY_RANK[finding.severity] >= SEVERITY_RANK[self.fail_on]


def parse_codes(values: Iterable[str], where: str) -> tuple[str, ...]:
    codes: list[str] = []
    for value in values:
        for part in value.split(","):
            code = part.strip().upper()
            if not code:
                continue
            if code == "ALL":
                code = "W"
            if not _CODE.match(code):
                raise ConfigError(
                    f"{where}: '{part.strip()}' is not a code (W101) or a prefix (W1)"
                )
            if code.startswith("W") and not any(r.code.startswith(code) for r in RULES):
                raise ConfigError(f"{where}: no lint rule has the code '{code}' (see {DOCS})")
            codes.append(code)
    return tuple(codes)


def config_from_table(table: dict[str, Any], where: str) -> LintConfig:
    allowed = {"select", "ignore", "severity"}
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(
            f"{where}: unknown setting(s) {', '.join(unknown)} (allowed: select, ignore, severity)"
        )
    kwargs: dict[str, Any] = {"source": where}
    for key in ("select", "ignore"):
        if key in table:
            value = table[key]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f'{where}: `{key}` must be a list of codes, e.g. ["W101"]')
            kwargs[key] = parse_codes(value, where)
    if "severity" in table:
        severity = table["severity"]
        if severity not in ("error", "warning", "info"):
            raise ConfigError(f'{where}: `severity` must be "error", "warning" or "info"')
        kwargs["fail_on"] = severity
    return LintConfig(**kwargs)


def find_config(path: str | Path) -> LintConfig:
    """The `[tool.criteria.lint]` table of the nearest pyproject.toml above `path` that has one
    (the defaults when none has)."""
    start = Path(path).resolve()
    folders = [start] if start.is_dir() else []
    folders += list(start.parents)
    for folder in folders:
        candidate = folder / "pyproject.toml"
        if not candidate.is_file():
            continue
        try:
            data = tomllib.loads(candidate.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            raise ConfigError(f"{candidate}: cannot read it: {error}") from None
        table = data.get("tool", {}).get("criteria", {}).get("lint")
        if table is None:
            continue
        if not isinstance(table, dict):
            raise ConfigError(f"{candidate}: [tool.criteria.lint] must be a table")
        return config_from_table(table, str(candidate))
    return LintConfig()


# ---------------------------------------------------------------------------- running

_IGNORE = re.compile(r"#\s*criteria:\s*ignore\b(?:\[([^\]]*)\])?", re.IGNORECASE)


def inline_ignores(comments: Iterable[Comment]) -> dict[int, frozenset[str] | None]:
    """Line -> the codes `# criteria: ignore[...]` silences there (None: every W code)."""
    out: dict[int, frozenset[str] | None] = {}
    for comment in comments:
        match = _IGNORE.search(comment.text)
        if not match:
            continue
        line = comment.span.line
        if match.group(1) is None:
            out[line] = None
            continue
        codes = frozenset(c.strip().upper() for c in match.group(1).split(",") if c.strip())
        previous = out.get(line, frozenset())
        out[line] = None if previous is None else previous | codes
    return out


def _silenced(finding: Diagnostic, ignores: dict[int, frozenset[str] | None]) -> bool:
    if not finding.code.startswith("W") or finding.span.line not in ignores:
        return False
    codes = ignores[finding.span.line]
    return codes is None or any(finding.code.startswith(c) for c in codes)


def lint(program: CompiledRules, config: LintConfig | None = None) -> list[Diagnostic]:
    """Every finding for a compiled file: its compile diagnostics and the enabled W rules."""
    config = config or LintConfig()
    findings = list(program.diagnostics)
    syntax_errors = any(d.code.startswith("C1") for d in program.diagnostics)
    comments: list[Comment] = []
    if program.source:
        parse_text(program.source, program.path, comments=comments)
    if not syntax_errors and program.rule_file is not None:
        for rule in RULES:
            if config.enabled(rule.code):
                ctx = Context(program, rule.code)
                findings.extend(rule.check(ctx))
    ignores = inline_ignores(comments)
    kept = [f for f in findings if not (f.file == program.path and _silenced(f, ignores))]
    return sorted(set(kept), key=Diagnostic.sort_key)


def lint_text(
    text: str, path: str = "<string>", config: LintConfig | None = None
) -> list[Diagnostic]:
    return lint(compile_text(text, path), config)


def lint_file(
    path: str | Path, config: LintConfig | None = None
) -> tuple[CompiledRules, list[Diagnostic]]:
    program = compile_file(path)
    return program, lint(program, config)
