"""Checks: names, imports, kinds, units, windows and ids, on the typed tree.

`compile_text` / `compile_file` run the pipeline (parse -> build -> check) and return a
`CompiledRules`: the typed tree plus the scopes its names resolve in. The checks are small passes
over the tree; each reports every problem it finds as a diagnostic, so one run reports all of
them. A file with errors still yields a `CompiledRules` (with `ok == False`) for tools.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, Union

import attrs

from criteria_lang.check import sources
from criteria_lang.check.depth import DepthCounter, too_deep
from criteria_lang.check.modules import CachedModule, ModuleRoot, module_cache, shipped_stdlib
from criteria_lang.check.unit_checks import conversion_problems, why_not, wrong_unit_fix
from criteria_lang.core.concepts import ConceptSet, QuantityAttr, UnitAttr, basis_of
from criteria_lang.core.concepts import molar_mass_of as molar_mass_of
from criteria_lang.core.dates import MAX_DURATION_DAYS, MAX_DURATION_YEARS, approximate_days
from criteria_lang.core.derived import BUILTINS, Builtin
from criteria_lang.core.diagnostics import (
    NO_SPAN,
    Diagnostic,
    Edit,
    Span,
    did_you_mean,
    has_errors,
)
from criteria_lang.core.numbers import format_number
from criteria_lang.core.units import Unit, UnitError, get_units
from criteria_lang.syntax import nodes as n
from criteria_lang.syntax.build import build
from criteria_lang.syntax.limits import MAX_DEPTH
from criteria_lang.syntax.parse import parse_text

RULE_SUFFIX = ".crit"

# Query keyword -> the concept kind it reads.
QUERY_CONCEPT_KIND = {
    "condition": "condition",
    "medication": "drug",
    "lab": "lab",
    "procedure": "procedure",
    "observation": "observation",
    "score": "score",
    "fact": "fact",
}


# ---------------------------------------------------------------------- symbols


@attrs.frozen(eq=False)
class ConceptSymbol:
    concept: ConceptSet
    decl: n.ConceptDecl
    module: Module


@attrs.frozen(eq=False)
class DefineSymbol:
    define: n.Define
    module: Module


@attrs.frozen(eq=False)
class ModuleSymbol:
    module: Module


@attrs.frozen(eq=False)
class BuiltinSymbol:
    builtin: Builtin


@attrs.frozen(eq=False)
class OutcomeSymbol:
    """An outcome's id: a condition inside the other outcomes of its file."""

    outcome: n.Outcome
    module: Module


Symbol = Union[ConceptSymbol, DefineSymbol, ModuleSymbol, BuiltinSymbol, OutcomeSymbol]


@attrs.define(eq=False)
class Module:
    """One compiled file and the names it defines or imports."""

    path: str
    name: str  # the module name for qualified concept names ("labs"), or the file stem
    rule_file: n.RuleFile
    symbols: dict[str, Symbol] = attrs.field(factory=dict)
    exports: dict[str, Symbol] = attrs.field(factory=dict)  # own declarations only
    # Definitions that use `visit` or `previous visit` (directly or through another): usable in
    # outcomes only (C403).
    visit_defines: set[str] = attrs.field(factory=set)

    def lookup(self, parts: tuple[str, ...]) -> Symbol | None:
        symbol: Symbol | None = self.symbols.get(parts[0])
        if symbol is None and len(parts) == 1 and parts[0] in BUILTINS:
            return BuiltinSymbol(BUILTINS[parts[0]])
        for part in parts[1:]:
            if not isinstance(symbol, ModuleSymbol):
                return None
            symbol = symbol.module.exports.get(part)
        return symbol


# ---------------------------------------------------------------------- value types

TypeKind = Literal["bool", "quantity", "number", "text", "any"]


@attrs.frozen
class ValueType:
    kind: TypeKind
    unit: Unit | None = None  # a quantity's canonical unit, when known
    concept: ConceptSet | None = None
    query_kind: str | None = None
    describe: str = ""


BOOL = ValueType("bool", describe="a condition (true/false)")
ANY = ValueType("any", describe="a value")


@attrs.frozen(eq=False)
class CompiledRules:
    """The checked form of a rule file: independent of how it is executed."""

    path: str
    source: str
    rule_file: n.RuleFile
    module: Module
    diagnostics: tuple[Diagnostic, ...]
    sources: dict[str, str]

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)

    @property
    def trial(self) -> n.Trial | None:
        return self.rule_file.trial

    @property
    def criteria(self) -> tuple[n.Criterion, ...]:
        return self.rule_file.criteria

    @property
    def dates(self) -> tuple[str, ...]:
        return tuple(d.text for d in self.trial.dates) if self.trial else ()

    @property
    def index_date(self) -> str | None:
        if self.trial and self.trial.index:
            return self.trial.index.text
        return self.dates[0] if self.dates else None

    @property
    def outcome_sections(self) -> tuple[n.OutcomeSection, ...]:
        return self.rule_file.outcome_sections

    @property
    def outcomes(self) -> tuple[n.Outcome, ...]:
        return self.rule_file.outcomes


# ---------------------------------------------------------------------- loading modules


@attrs.define
class Loader:
    """Finds, compiles and caches the modules a rule file imports (check/modules.py keeps the
    compiled modules for the process, so the stdlib is compiled once)."""

    search_path: tuple[ModuleRoot, ...]
    modules: dict[str, Module] = attrs.field(factory=dict)
    loading: set[str] = attrs.field(factory=set)
    sources: dict[str, str] = attrs.field(factory=dict)
    diagnostics: list[Diagnostic] = attrs.field(factory=list)
    # The modules loaded by each compile under way (innermost last), to record what a cached
    # module imported.
    imported: list[list[Module]] = attrs.field(factory=list)

    def find(self, parts: tuple[str, ...]) -> ModuleRoot | None:
        found = self.locate(parts)
        return found.path if found is not None and found.refused is None else None

    def locate(self, parts: tuple[str, ...]) -> sources.Found | None:
        """Where `import parts` finds its file, or why the file found is refused."""
        return sources.find_module(self.search_path, parts, RULE_SUFFIX)

    def load(self, location: ModuleRoot, name: str) -> Module | sources.SourceError | None:
        key = str(location)
        module = self.modules.get(key)
        if module is None:
            if key in self.loading:
                return None  # an import cycle: reported by the importer
            try:
                text = sources.read_module(location)
            except sources.SourceError as error:
                return error
            module = self._cached(key, name, text) or self._compile(key, name, text)
            self.modules[key] = module
        if self.imported:
            self.imported[-1].append(module)
        return module

    def _compile(self, key: str, name: str, text: str) -> Module:
        self.loading.add(key)
        self.imported.append([])
        diagnostics_before = len(self.diagnostics)
        try:
            module = compile_module(text, key, name, self)
        finally:
            imported = self.imported.pop()
            self.loading.discard(key)
        if len(self.diagnostics) == diagnostics_before:
            cache_key = module_cache().key(self.search_path, key, name, text)
            module_cache().put(cache_key, CachedModule(module, tuple(imported)))
        return module

    def _cached(self, key: str, name: str, text: str) -> Module | None:
        entry = module_cache().get(module_cache().key(self.search_path, key, name, text))
        if entry is None:
            return None
        imports = entry.module.rule_file.imports
        if len(imports) != len(entry.imports):
            return None
        self.loading.add(key)
        self.imported.append([])  # what this check loads is not the importer's import
        try:
            for statement, expected in zip(imports, entry.imports, strict=True):
                location = self.find(statement.module)
                if location is None or self.load(location, statement.module[-1]) is not expected:
                    return None
        finally:
            self.imported.pop()
            self.loading.discard(key)
        self.sources[key] = text
        return entry.module


def stdlib_search_path(
    rule_path: str | None, extra: tuple[Path, ...] = ()
) -> tuple[ModuleRoot, ...]:
    """Where `import x` looks: the rule file's own folder's `stdlib/`, the given folders and
    the configured ones, then the stdlib that ships with criteria-lang (check/sources.py)."""
    return sources.search_path(rule_path, extra, shipped_stdlib())


# ---------------------------------------------------------------------- the checker


class Checker:
    def __init__(self, module: Module, loader: Loader) -> None:
        self.module = module
        self.loader = loader
        self.path = module.path
        self.diagnostics: list[Diagnostic] = []
        self.define_types: dict[str, ValueType] = {}
        self.checking_defines: list[str] = []
        self.checking_outcomes: list[str] = []
        self.checked_outcomes: set[str] = set()
        self.units = get_units()

    def warning(self, code: str, message: str, fix: str, span: Span) -> None:
        self.diagnostics.append(Diagnostic(code, "warning", message, fix, self.path, span))

    def error(
        self, code: str, message: str, fix: str, span: Span, edits: tuple[Edit, ...] = ()
    ) -> None:
        """Report an error; `edits` is the fix as data, when it is one change of the text."""
        self.diagnostics.append(
            Diagnostic(code, "error", message, fix, self.path, span, edits=edits)
        )

    # ------------------------------------------------------------------ passes
    def run(self) -> None:
        rf = self.module.rule_file
        self.check_imports(rf)
        self.declare(rf)
        self.declare_outcomes(rf)
        self.check_trial(rf)
        if not self.within_depth(rf):
            return  # what follows recurses once per level: it would not get to the end
        for define in rf.defines:
            self.define_type(define.name.text)
        self.check_criteria(rf)
        self.check_outcomes(rf)

    def within_depth(self, rf: n.RuleFile) -> bool:
        """Every definition, criterion and outcome within MAX_DEPTH levels, counting the
        definitions it uses (C007; docs/limits.md)."""
        counter = DepthCounter(
            lambda s: (s.define.expr, s.module.lookup) if isinstance(s, DefineSymbol) else None
        )
        bodies = [(d.expr, d.name.span, f"definition '{d.name.text}'") for d in rf.defines]
        bodies += [(c.expr, c.id.span, f"criterion {c.id.text}") for c in rf.criteria]
        bodies += [(o.expr, o.id.span, f"outcome {o.id.text}") for o in rf.outcomes]
        for expr, span, what in bodies:
            depth = counter.depth((expr, self.module.lookup))
            if too_deep(depth):
                # The first only: what uses it is too deep because of it.
                self.error(
                    "C007",
                    f"{what} is nested {depth} levels deep, counting the definitions it uses "
                    f"(the limit is {MAX_DEPTH})",
                    "write fewer definitions that each use the one before",
                    span,
                )
                return False
        return True

    def check_imports(self, rf: n.RuleFile) -> None:
        for imp in rf.imports:
            module_name = ".".join(imp.module)
            found = self.loader.locate(imp.module)
            if found is not None and found.refused is not None:
                self.error(
                    "C212",
                    f"module '{module_name}' ({found.path}) is refused: {found.refused}",
                    "keep module files inside the folders of the search path (docs/limits.md)",
                    imp.span,
                )
                continue
            path = found.path if found is not None else None
            if path is not None and found is not None:
                twin = sources.shadows(found, imp.module, RULE_SUFFIX, shipped_stdlib())
                if twin is not None:
                    self.warning(
                        "C213",
                        f"module '{module_name}' is {path}, which hides the shipped {twin}",
                        "rename the local module, or remove it to use the shipped one",
                        imp.span,
                    )
            if path is None:
                self.error(
                    "C204",
                    f"no module '{module_name}' to import",
                    "check the name; modules are files under stdlib/ "
                    f"(looked in: {', '.join(str(p) for p in self.loader.search_path)})",
                    imp.span,
                )
                continue
            if str(path) in self.loader.loading:
                self.error(
                    "C206",
                    f"module '{module_name}' imports itself (directly or through another module)",
                    "move the shared declarations to a module both can import",
                    imp.span,
                )
                continue
            module = self.loader.load(path, imp.module[-1])
            if isinstance(module, sources.SourceError):
                self.error(
                    module.code, f"module '{module_name}': {module.message}", module.fix, imp.span
                )
                continue
            if module is None:
                self.error("C204", f"cannot read module '{module_name}'", "", imp.span)
                continue
            if imp.names:
                for name in imp.names:
                    symbol = module.exports.get(name.text)
                    if symbol is None:
                        hint = did_you_mean(name.text, module.exports)
                        self.error(
                            "C207",
                            f"module '{module_name}' has no '{name.text}'",
                            f"did you mean '{hint}'?"
                            if hint
                            else f"see {module.path} for what it declares",
                            name.span,
                            (Edit(name.span, hint),) if hint else (),
                        )
                        continue
                    self.bind(name.text, symbol, name.span)
            else:
                alias = imp.alias.text if imp.alias else imp.module[-1]
                span = imp.alias.span if imp.alias else imp.span
                self.bind(alias, ModuleSymbol(module), span)

    def bind(self, name: str, symbol: Symbol, span: Span, export: bool = False) -> None:
        if name in self.module.symbols:
            self.error(
                "C203",
                f"'{name}' is declared twice",
                "rename one of them; every name in a file must be unique",
                span,
            )
            return
        self.module.symbols[name] = symbol
        if export:
            self.module.exports[name] = symbol

    def declare(self, rf: n.RuleFile) -> None:
        decls = {d.name.text: d for d in rf.concepts}
        resolved: dict[str, ConceptSet] = {}
        for decl in rf.concepts:
            if decl.name.text in self.module.symbols:
                self.error(
                    "C203",
                    f"'{decl.name.text}' is declared twice",
                    "rename one of them; every name in a file must be unique",
                    decl.name.span,
                )
                continue
            concept = self.resolve_concept(decl, decls, resolved)
            self.bind(
                decl.name.text, ConceptSymbol(concept, decl, self.module), decl.name.span, True
            )
        for define in rf.defines:
            self.bind(define.name.text, DefineSymbol(define, self.module), define.name.span, True)

    def resolve_concept(
        self,
        decl: n.ConceptDecl,
        decls: dict[str, n.ConceptDecl],
        resolved: dict[str, ConceptSet],
    ) -> ConceptSet:
        """The concept `decl` declares, after the local concepts it names (post-order, without
        recursion: a chain of 10,000 definitions declared last-first must neither hit Python's
        recursion limit nor copy a path per step; docs/limits.md)."""
        key = decl.name.text
        if key in resolved:
            return resolved[key]
        on_path: dict[str, None] = {key: None}  # the concepts being resolved, for cycles
        stack: list[tuple[n.ConceptDecl, Iterator[str]]] = [(decl, self.local_refs(decl, decls))]
        while stack:
            current, refs = stack[-1]
            for ref in refs:
                if ref not in resolved and ref not in on_path:
                    on_path[ref] = None
                    stack.append((decls[ref], self.local_refs(decls[ref], decls)))
                    break
            else:
                stack.pop()
                name = current.name.text
                resolved[name] = self.build_concept(current, decls, resolved, on_path)
                del on_path[name]
        return resolved[key]

    def local_refs(self, decl: n.ConceptDecl, decls: dict[str, n.ConceptDecl]) -> Iterator[str]:
        """The concepts of this file that `decl` includes or excludes by name."""
        for term in (*decl.include, *decl.exclude):
            if isinstance(term, n.CodeTerm):
                continue
            parts = term.ref.parts
            if len(parts) == 1 and parts[0] in decls and parts[0] not in self.module.symbols:
                yield parts[0]

    def build_concept(
        self,
        decl: n.ConceptDecl,
        decls: dict[str, n.ConceptDecl],
        resolved: dict[str, ConceptSet],
        on_path: dict[str, None],
    ) -> ConceptSet:
        key = decl.name.text
        include = self.concept_terms(decl, decl.include, decls, resolved, on_path)
        exclude = self.concept_terms(decl, decl.exclude, decls, resolved, on_path)
        attributes: dict[str, Any] = {}
        for attr in decl.attributes:
            attributes[attr.name.text] = self.concept_attribute(attr)
        spans = {attr.name.text: attr.span for attr in decl.attributes}
        for name, message, fix in conversion_problems(attributes, self.units):
            self.error("C310", message, fix, spans.get(name, decl.span))
            attributes.pop(name, None)  # a conversion that cannot be read converts nothing
        qualified = f"{self.module.name}.{key}" if self.module.name else key
        return ConceptSet(
            name=qualified,
            short_name=key,
            kind=decl.kind,
            title=decl.title,
            own_codes=frozenset(include[0]),
            own_prefixes=tuple(sorted(set(include[1]))),
            members=tuple(include[2]),
            excluded=tuple(exclude[2]),
            own_excluded_codes=frozenset(exclude[0]),
            own_excluded_prefixes=tuple(sorted(set(exclude[1]))),
            attributes=attributes,
        )

    def concept_terms(
        self,
        decl: n.ConceptDecl,
        terms: tuple[n.ConceptTerm, ...],
        decls: dict[str, n.ConceptDecl],
        resolved: dict[str, ConceptSet],
        on_path: dict[str, None],
    ) -> tuple[set[tuple[str, str]], list[tuple[str, str]], list[ConceptSet]]:
        codes: set[tuple[str, str]] = set()
        prefixes: list[tuple[str, str]] = []
        members: list[ConceptSet] = []
        for term in terms:
            if isinstance(term, n.CodeTerm):
                if term.code.endswith("*"):
                    prefixes.append((term.system, term.code[:-1]))
                else:
                    codes.add((term.system, term.code))
                continue
            parts = term.ref.parts
            if len(parts) == 1 and parts[0] in decls and parts[0] not in self.module.symbols:
                if parts[0] in on_path:
                    self.error(
                        "C206",
                        f"concept '{parts[0]}' includes itself",
                        "remove the circular reference",
                        term.span,
                    )
                    continue
                member = resolved[parts[0]]
            else:
                symbol = self.module.lookup(parts)
                if not isinstance(symbol, ConceptSymbol):
                    self.unknown_name(term.ref, "concept")
                    continue
                member = symbol.concept
            if member.kind != decl.kind:
                self.error(
                    "C205",
                    f"'{term.ref.dotted}' is a {member.kind} concept, not a {decl.kind}",
                    f"a {decl.kind} set may only contain {decl.kind} concepts",
                    term.span,
                )
            members.append(member)
        return codes, prefixes, members

    def concept_attribute(self, attr: n.ConceptAttr) -> Any:
        value = attr.value
        if isinstance(value, n.UnitLit):
            self.parse_unit(value.unit, value.span)
            return UnitAttr(value.unit)
        if isinstance(value, n.QuantityLit):
            if value.unit is None:
                return value.value
            self.parse_unit(value.unit, value.span)
            return QuantityAttr(value.value, value.unit)
        return value

    def check_trial(self, rf: n.RuleFile) -> None:
        trial = rf.trial
        if trial is None:
            if rf.criteria:
                first = rf.criteria[0]
                self.error(
                    "C209",
                    "criteria without a trial header",
                    'start the file with `trial "NCT..."` and the trial\'s `dates`',
                    first.span,
                )
            return
        seen: set[str] = set()
        for date in trial.dates:
            if date.text in seen:
                self.error("C203", f"date '{date.text}' is listed twice", "list it once", date.span)
            seen.add(date.text)
        if trial.index and trial.index.text not in seen:
            self.error(
                "C201",
                f"the index date '{trial.index.text}' is not one of the trial's dates",
                f"add it to `dates` or use one of: {', '.join(sorted(seen)) or '(none)'}",
                trial.index.span,
            )

    def check_criteria(self, rf: n.RuleFile) -> None:
        seen: dict[str, n.Criterion] = {}
        for criterion in rf.criteria:
            ident = criterion.id.text
            if ident in seen:
                first = seen[ident]
                self.error(
                    "C202",
                    f"criterion id '{ident}' is used twice (first at line {first.id.span.line})",
                    "give every criterion its own id; ids are how results name criteria",
                    criterion.id.span,
                )
            else:
                seen[ident] = criterion
            self.check_bool(criterion.expr)

    # ------------------------------------------------------------------ names
    def unknown_name(self, ref: n.Ref, what: str) -> None:
        candidates: list[str] = list(self.module.symbols)
        head = self.module.symbols.get(ref.parts[0])
        if isinstance(head, ModuleSymbol) and len(ref.parts) > 1:
            candidates = [f"{ref.parts[0]}.{name}" for name in head.module.exports]
        candidates += list(BUILTINS)
        hint = did_you_mean(ref.dotted, candidates)
        fix = f"did you mean '{hint}'?" if hint else f"declare the {what} or import it from stdlib"
        edits = (Edit(ref.span, hint),) if hint else ()
        self.error("C200", f"unknown {what} '{ref.dotted}'", fix, ref.span, edits)

    def date_name(self, name: n.Name | None, span: Span) -> None:
        if isinstance(name, n.VisitAnchor):
            self.visit_date(name)
            return
        trial = self.module.rule_file.trial
        if name is None:
            if trial is None or (trial.index is None and not trial.dates):
                self.error(
                    "C401",
                    "this window has no date to count from and the trial has no index date",
                    "name a date (`before screening`) or declare `index <date>` in the trial",
                    span,
                )
            return
        dates = [d.text for d in trial.dates] if trial else []
        if name.text not in dates:
            hint = did_you_mean(name.text, dates)
            self.error(
                "C201",
                f"'{name.text}' is not one of the trial's dates",
                f"did you mean '{hint}'?"
                if hint
                else f"use one of: {', '.join(dates) or '(declare `dates` in the trial header)'}",
                name.span,
                (Edit(name.span, hint),) if hint else (),
            )

    # ------------------------------------------------------------------ types
    def define_type(self, name: str) -> ValueType:
        if name in self.define_types:
            return self.define_types[name]
        symbol = self.module.symbols.get(name)
        if not isinstance(symbol, DefineSymbol) or symbol.module is not self.module:
            return ANY
        if name in self.checking_defines:
            self.error(
                "C206",
                f"definition '{name}' refers to itself",
                "a definition cannot use itself, directly or through another",
                symbol.define.name.span,
            )
            return ANY
        self.checking_defines.append(name)
        body = symbol.define.expr
        if isinstance(body, n.Expr.__args__):  # type: ignore[attr-defined]
            self.check_bool(body)
            result = BOOL
        else:
            result = self.operand_type(body)
        self.checking_defines.pop()
        self.define_types[name] = result
        return result

    def check_bool(self, expr: n.Expr) -> None:
        if isinstance(expr, (n.And, n.Or, n.AtLeast)):
            for operand in expr.operands:
                self.check_bool(operand)
            if isinstance(expr, n.AtLeast) and expr.count > len(expr.operands):
                self.error(
                    "C110",
                    f"at least {expr.count} of {len(expr.operands)} can never be met",
                    "lower the number or add the missing criteria",
                    expr.span,
                )
        elif isinstance(expr, n.Not):
            self.check_bool(expr.operand)
        elif isinstance(expr, n.Conditional):
            self.check_bool(expr.condition)
            self.check_bool(expr.then)
            self.check_bool(expr.otherwise)
        elif isinstance(expr, n.Truth):
            kind = self.operand_type(expr.operand)
            if kind.kind not in ("bool", "any"):
                self.error(
                    "C302",
                    f"{kind.describe or 'this value'} is not a condition",
                    "compare it with something, e.g. `... > 2 mg/dL` or `... is positive`",
                    expr.span,
                )
        elif isinstance(expr, n.Compare):
            left = self.operand_type(expr.left)
            right = self.operand_type(expr.right)
            self.check_comparable(left, right, expr.left, expr.right, expr.span)
        elif isinstance(expr, n.Between):
            value = self.operand_type(expr.operand)
            for bound in (expr.low, expr.high):
                self.check_comparable(
                    value, self.operand_type(bound), expr.operand, bound, expr.span
                )
        elif isinstance(expr, n.IsValue):
            kind = self.operand_type(expr.operand)
            numeric_result = expr.word in ("positive", "negative") and kind.query_kind in (
                "lab",
                "observation",
            )  # read against the result's reference range (docs: "Values and comparisons")
            if kind.kind == "quantity" and not numeric_result:
                self.error(
                    "C302",
                    f"`is {expr.word}` needs a coded result, and this is {kind.describe}",
                    "compare the number with a threshold instead",
                    expr.span,
                )
        elif isinstance(expr, n.InValues):
            kind = self.operand_type(expr.operand)
            if kind.kind in ("quantity", "number", "bool"):
                self.error(
                    "C302",
                    f"`in (...)` needs a coded result, and this is {kind.describe}",
                    "use a comparison for numbers",
                    expr.span,
                )

    def check_comparable(
        self, left: ValueType, right: ValueType, lnode: Any, rnode: Any, span: Span
    ) -> None:
        if "any" in (left.kind, right.kind):
            return
        if left.kind == "bool" or right.kind == "bool":
            self.error(
                "C302",
                "a condition cannot be compared with a value",
                "compare values (e.g. `latest lab x ... > 2 mg/dL`), or combine conditions "
                "with and/or",
                span,
            )
            return
        if isinstance(rnode, n.LimitLit) or isinstance(lnode, n.LimitLit):
            other = left if isinstance(rnode, n.LimitLit) else right
            if other.query_kind not in ("lab", "observation"):
                self.error(
                    "C303",
                    "`x ULN` needs a lab result, which carries its own reference range",
                    "compare a `latest lab ...` (or min/max) with the multiple of ULN",
                    span,
                )
            return
        if isinstance(rnode, n.TiterLit) or isinstance(lnode, n.TiterLit):
            return
        if left.kind == "text" or right.kind == "text":
            return
        lunit, runit = left.unit, right.unit
        concept = left.concept or right.concept
        if lunit is None or runit is None:
            return
        if not self.units.compatible(lunit, runit, basis=basis_of(concept)):
            what = f"'{concept.short_name}'" if concept else "the value"
            node = rnode if isinstance(rnode, n.QuantityLit) else lnode
            reason = why_not(self.units, lunit, runit, concept)
            self.error(
                "C301",
                f"{what} is measured in {lunit.text} ({self.units.describe(lunit)}) but is "
                f"compared with {runit.text if node is rnode else lunit.text} "
                f"({self.units.describe(runit)})" + (f": {reason}" if reason else ""),
                wrong_unit_fix(concept, lunit, self.units),
                getattr(node, "span", span),
                unit_edit(node, lunit),
            )

    def parse_unit(self, text: str, span: Span) -> Unit | None:
        try:
            return self.units.parse(text)
        except UnitError as error:
            self.error("C300", str(error), "write a unit from docs/units.md", span)
            return None

    def operand_type(self, operand: n.Operand) -> ValueType:
        if isinstance(operand, n.QuantityLit):
            if operand.unit is None:
                return ValueType("number", describe="a number")
            unit = self.parse_unit(operand.unit, operand.span)
            if unit is None:
                return ANY
            return ValueType("quantity", unit=unit, describe=f"a quantity in {operand.unit}")
        if isinstance(operand, (n.TiterLit, n.LimitLit)):
            return ValueType("number", describe="a threshold")
        if isinstance(operand, n.Age):
            self.date_name(operand.anchor, operand.span)
            return ValueType("quantity", unit=self.units.parse("years"), describe="an age")
        if isinstance(operand, n.Sex):
            return ValueType("text", describe="the patient's sex")
        if isinstance(operand, n.DerivedValue):
            self.date_name(operand.anchor, operand.span)
            self.check_duration(operand.tolerance, None)
            symbol = self.module.lookup(operand.function.parts)
            if not isinstance(symbol, BuiltinSymbol):
                self.unknown_name(operand.function, "derived value")
                return ANY
            unit = self.units.parse(symbol.builtin.unit)
            return ValueType("quantity", unit=unit, describe=symbol.builtin.title)
        if isinstance(operand, n.Exists):
            self.check_query(operand.query)
            self.check_counting(operand.query, None)
            return BOOL
        if isinstance(operand, (n.PercentOf, n.Difference, n.DailyDose, n.NewGrades)):
            return self.relative_type(operand)
        if isinstance(operand, n.Aggregate):
            concept = self.check_query(operand.query)
            self.check_counting(operand.query, operand.op)
            if operand.op == "count":
                return ValueType("number", describe="a count")
            if operand.op == "cumulative":
                if operand.query.kind != "medication":
                    self.error(
                        "C302",
                        "`cumulative` adds up medication doses",
                        "use `sum` for other values",
                        operand.span,
                    )
                return ValueType("quantity", concept=concept, query_kind="medication")
            if operand.query.kind in ("condition", "procedure") and operand.op in (
                "min",
                "max",
                "sum",
            ):
                self.error(
                    "C302",
                    f"`{operand.op}` needs values, and {operand.query.kind}s have none",
                    "use `count`, `any` or `no`",
                    operand.span,
                )
            unit = None
            if concept is not None:
                attr = concept.attributes.get("unit")
                if isinstance(attr, UnitAttr):
                    unit = self.units.parse(attr.unit)
            kind: TypeKind = "any"
            if unit is not None:
                kind = "quantity"
            described = f"the {operand.op} {concept.short_name if concept else 'value'}"
            return ValueType(
                kind, unit=unit, concept=concept, query_kind=operand.query.kind, describe=described
            )
        if isinstance(operand, n.Ref):
            symbol = self.module.lookup(operand.parts)
            if symbol is None:
                self.unknown_name(operand, "name")
                return ANY
            if isinstance(symbol, DefineSymbol):
                if symbol.module is self.module:
                    result = self.define_type(operand.parts[0])
                    self.uses_define(symbol, operand.span)
                    return result
                self.uses_define(symbol, operand.span)
                return ANY
            if isinstance(symbol, OutcomeSymbol):
                return self.outcome_reference(symbol, operand)
            if isinstance(symbol, ConceptSymbol):
                self.error(
                    "C208",
                    f"'{operand.dotted}' is a concept, not a condition or a value",
                    f"query it, e.g. `any {QUERY_KEYWORD[symbol.concept.kind]} "
                    f"{operand.dotted} within 6 months before <date>`",
                    operand.span,
                )
                return ANY
            self.error(
                "C208",
                f"'{operand.dotted}' cannot be used here",
                "use a definition, a query or a value",
                operand.span,
            )
            return ANY
        return ANY

    def check_query(self, query: n.Query) -> ConceptSet | None:
        concept: ConceptSet | None = None
        symbol = self.module.lookup(query.concept.parts)
        if symbol is None:
            self.unknown_name(query.concept, "concept")
        elif not isinstance(symbol, ConceptSymbol):
            self.error(
                "C208",
                f"'{query.concept.dotted}' is not a concept",
                "query a concept declared with condition/drug/lab/... or imported from stdlib",
                query.concept.span,
            )
        else:
            concept = symbol.concept
            expected = QUERY_CONCEPT_KIND[query.kind]
            if concept.kind != expected:
                self.error(
                    "C205",
                    f"'{query.concept.dotted}' is a {concept.kind} concept, not a {expected}",
                    f"write `{QUERY_KEYWORD[concept.kind]} {query.concept.dotted}`",
                    query.concept.span,
                )
        self.check_window(query.window, concept)
        if query.dose is not None:
            self.check_dose(query, query.dose, concept)
        if query.duration is not None:
            if query.kind != "medication":
                self.error(
                    "C304",
                    "`for at least` applies to medication exposures",
                    "remove it, or query a medication",
                    query.duration.span,
                )
            self.check_duration(query.duration.duration, concept)
            self.check_duration(query.duration.gap, concept)
            for part in (query.duration.duration, query.duration.gap):
                if part is not None and not isinstance(part, n.Duration):
                    self.error(
                        "C122",
                        "`for at least` and `allowing gaps of` take a plain duration",
                        "write days, weeks, months or years, e.g. `for at least 90 days`",
                        part.span,
                    )
        if query.routes and query.kind != "medication":
            self.error("C304", "`route` applies to medications", "remove it", query.window.span)
        if query.ended and query.kind != "medication":
            self.error(
                "C304", "`ended` applies to medication exposures", "remove it", query.window.span
            )
        if query.value is not None and isinstance(query.value.value, n.QuantityLit):
            unit_text = query.value.value.unit
            if unit_text is not None:
                threshold = self.parse_unit(unit_text, query.value.value.span)
                unit_attr = concept.attributes.get("unit") if concept else None
                if threshold is not None and isinstance(unit_attr, UnitAttr):
                    own = self.units.parse(unit_attr.unit)
                    if not self.units.compatible(own, threshold, basis=basis_of(concept)):
                        reason = why_not(self.units, own, threshold, concept)
                        self.error(
                            "C301",
                            f"'{concept.short_name}' is measured in {own.text} "  # type: ignore[union-attr]
                            f"({self.units.describe(own)}), not {self.units.describe(threshold)}"
                            + (f": {reason}" if reason else ""),
                            wrong_unit_fix(concept, own, self.units),
                            query.value.value.span,
                            unit_edit(query.value.value, own),
                        )
        return concept

    def check_counting(self, query: n.Query, op: str | None) -> None:
        """`of the same type` and `in any D` shape a count (docs: "Counting by type")."""
        if not query.same_type and query.period is None:
            return
        if isinstance(query.period, n.Duration):
            self.check_duration(query.period, None)
        if op != "count":
            self.error(
                "C305",
                "`of the same type` and `in any` say how to count events",
                "write `count` before the query, e.g. `count condition x of the same type in any "
                "12 months ever before <date> >= 3`",
                query.span,
            )

    def check_dose(self, query: n.Query, dose: n.DoseFilter, concept: ConceptSet | None) -> None:
        if query.kind != "medication":
            self.error("C304", "`dose` applies to medications", "remove it", dose.span)
            return
        for quantity in (dose.value, dose.high):
            if quantity is None:
                continue
            if quantity.unit is None:
                self.error(
                    "C304",
                    "a dose threshold needs a unit",
                    "write the unit, e.g. `dose >= 6 mg/day`",
                    quantity.span,
                )
                continue
            unit = self.parse_unit(quantity.unit, quantity.span)
            if unit is not None and dose_shape(unit) is None:
                self.error(
                    "C304",
                    f"'{quantity.unit}' is not a dose unit ({self.units.describe(unit)})",
                    "write a dose as an amount (mg, IU), an amount per day/week/month, "
                    "per kg (mg/kg, mg/kg/day) or per body surface (mg/m2)",
                    quantity.span,
                )
        if dose.basis is not None and concept is not None:
            values = concept.all_attribute_values(dose.basis)
            if not values:
                self.error(
                    "C402",
                    f"no drug in '{concept.short_name}' declares '{dose.basis}'",
                    f"declare `with {dose.basis} = ...` on its drugs in the stdlib",
                    dose.span,
                )

    def check_window(self, window: n.Window, concept: ConceptSet | None) -> None:
        if window.kind in ("within", "between", "at", "ever", "span"):
            self.date_name(window.anchor, window.span)
        if window.anchor_end is not None:
            self.date_name(window.anchor_end, window.span)
        self.check_duration(window.near, concept)
        self.check_duration(window.far, concept)

    def check_duration(self, duration: n.DurationLike | None, concept: ConceptSet | None) -> None:
        if duration is None:
            return
        if isinstance(duration, n.Duration):
            days = duration.amount * (7 if duration.unit == "weeks" else 1)
            if approximate_days(duration.amount, duration.unit) > MAX_DURATION_DAYS:
                # Dates are years 1 to 9999: a window of thousands of years from any real
                # screening date leaves them, and every patient would be unknown. Said here,
                # once, instead (docs/limits.md).
                self.error(
                    "C124",
                    f"{format_number(duration.amount)} {duration.unit} is longer than "
                    f"{MAX_DURATION_YEARS} years, the longest duration a rule may write",
                    "write a shorter duration; `ever` or `any time` for no limit",
                    duration.span,
                )
            elif days.denominator != 1:
                self.error(
                    "C121",
                    f"{duration.amount} {duration.unit} is not a whole number of "
                    f"{'days' if duration.unit in ('days', 'weeks') else duration.unit}",
                    "windows count whole days and calendar months; write e.g. `45 days` "
                    "instead of `1.5 months`",
                    duration.span,
                )
        elif isinstance(duration, n.LongestDuration):
            for option in duration.options:
                self.check_duration(option, concept)
        elif isinstance(duration, n.HalfLives):
            target = concept
            if duration.drug is not None:
                symbol = self.module.lookup(duration.drug.parts)
                if not isinstance(symbol, ConceptSymbol):
                    self.unknown_name(duration.drug, "drug")
                    return
                target = symbol.concept
            if target is None:
                return
            # An open class (one that includes `{}`) holds agents the stdlib cannot know: their
            # half-lives are unknown at run time (docs: "Time").
            open_class = duration.drug is None and is_open_class(target)
            if not target.all_attribute_values("half_life") and not open_class:
                self.error(
                    "C402",
                    f"'{target.short_name}' declares no half_life",
                    f"declare `with half_life = ... h` on '{target.short_name}' (cite the source)",
                    duration.span,
                )

    # ------------------------------------------------------------------ outcomes
    # The `outcomes` section, visit dates and the values that compare values (docs/language.md,
    # "Outcomes").
    def declare_outcomes(self, rf: n.RuleFile) -> None:
        for outcome in rf.outcomes:
            self.bind(outcome.id.text, OutcomeSymbol(outcome, self.module), outcome.id.span)

    def check_outcomes(self, rf: n.RuleFile) -> None:
        if rf.outcome_sections and rf.trial is None:
            self.error(
                "C209",
                "outcomes without a trial header",
                'start the file with `trial "NCT..."` and the trial\'s `dates`',
                rf.outcome_sections[0].span,
            )
            return
        for section in rf.outcome_sections:
            self.check_timepoints(section.timepoints)
            if section.baseline is not None:
                self.date_name(section.baseline, section.baseline.span)
            for outcome in section.outcomes:
                self.check_timepoints(outcome.timepoints)
                if outcome.baseline is not None:
                    self.date_name(outcome.baseline, outcome.baseline.span)
                elif section.baseline is None:
                    self.date_name(None, outcome.id.span)  # the index date must exist
                self.check_outcome(outcome)

    def check_timepoints(self, timepoints: n.Timepoints | None) -> None:
        if timepoints is None or timepoints.window is None:
            return
        # Judged outside any outcome: `visit` here has no meaning (C403).
        self.check_window(timepoints.window, None)
        for duration in (timepoints.window.near, timepoints.window.far):
            if duration is not None and any(
                isinstance(d, n.HalfLives) for d in [duration, *getattr(duration, "options", ())]
            ):
                self.error(
                    "C405",
                    "the visits an outcome is judged at are counted in days, weeks, months or "
                    "years",
                    "write the window without half-lives, e.g. `within 24 weeks after baseline`",
                    timepoints.window.span,
                )

    def check_outcome(self, outcome: n.Outcome) -> None:
        ident = outcome.id.text
        if ident in self.checked_outcomes:
            return
        if ident in self.checking_outcomes:
            self.error(
                "C206",
                f"outcome '{ident}' refers to itself",
                "an outcome cannot use itself, directly or through another outcome",
                outcome.id.span,
            )
            return
        self.checking_outcomes.append(ident)
        self.check_bool(outcome.expr)
        self.checking_outcomes.pop()
        self.checked_outcomes.add(ident)

    def outcome_reference(self, symbol: OutcomeSymbol, ref: n.Ref) -> ValueType:
        if not self.checking_outcomes or self.checking_defines:
            self.error(
                "C208",
                f"'{ref.dotted}' is an outcome: only other outcomes can use it",
                "repeat its expression in a definition that both use",
                ref.span,
            )
            return ANY
        self.check_outcome(symbol.outcome)
        return BOOL

    def visit_date(self, anchor: n.VisitAnchor) -> None:
        """`visit` and `previous visit` exist only while an outcome is judged."""
        if anchor.which == "named":
            return
        self.visit_used(anchor.span, f"`{anchor.text}` is the date of a visit being judged")

    def uses_define(self, symbol: DefineSymbol, span: Span) -> None:
        name = symbol.define.name.text
        if name in symbol.module.visit_defines:
            self.visit_used(span, f"definition '{name}' uses the visit being judged")

    def visit_used(self, span: Span, what: str) -> None:
        if self.checking_defines:
            self.module.visit_defines.update(self.checking_defines)
        elif not self.checking_outcomes:
            self.error(
                "C403",
                f"{what}; it has a meaning only in an outcome",
                "use it in the `outcomes` section, or name a date (`at baseline`, "
                '`at visit "week 24"`)',
                span,
            )

    def relative_type(
        self, operand: n.PercentOf | n.Difference | n.DailyDose | n.NewGrades
    ) -> ValueType:
        if isinstance(operand, n.PercentOf):
            inner = self.operand_type(operand.operand)
            if inner.kind in ("bool", "text"):
                self.error(
                    "C302",
                    f"a percentage of {inner.describe} has no meaning",
                    "take a percentage of a number, e.g. `80 % of latest lab egfr at baseline`",
                    operand.span,
                )
                return ANY
            return attrs.evolve(
                inner, describe=f"{operand.percent} % of {inner.describe or 'a value'}"
            )
        if isinstance(operand, n.Difference):
            left = self.operand_type(operand.left)
            right = self.operand_type(operand.right)
            for side in (left, right):
                if side.kind in ("bool", "text"):
                    self.error(
                        "C302",
                        f"{side.describe} cannot be subtracted",
                        "subtract numbers or quantities, e.g. `latest score x at baseline - "
                        "latest score x at visit`",
                        operand.span,
                    )
                    return ANY
            self.check_comparable(left, right, operand.left, operand.right, operand.span)
            return attrs.evolve(left, describe="a difference")
        if isinstance(operand, n.DailyDose):
            concept = self.drug_concept(operand.drug)
            self.date_name(operand.anchor, operand.span)
            if operand.basis is not None and concept is not None:
                if not concept.all_attribute_values(operand.basis):
                    self.error(
                        "C402",
                        f"no drug in '{concept.short_name}' declares '{operand.basis}'",
                        f"declare `with {operand.basis} = ...` on its drugs in the stdlib",
                        operand.span,
                    )
            return ValueType(
                "quantity",
                unit=self.units.parse("mg/day"),
                concept=concept,
                query_kind="medication",
                describe="a daily dose",
            )
        # count new "A" in score bilag.domains ...
        query = n.Query(operand.kind, operand.concept, operand.window, span=operand.span)
        concept = self.check_query(query)
        self.check_window(operand.reference, concept)
        if operand.kind not in ("score", "observation", "lab"):
            self.error(
                "C302",
                f"`count new` reads graded results, and a {operand.kind} has none",
                "count new grades of a score, observation or lab (e.g. BILAG domains)",
                operand.span,
            )
        elif concept is not None:
            for domain in grade_domains(concept):
                order = grade_order(domain, concept)
                if order is None:
                    self.error(
                        "C404",
                        f"'{domain.short_name}' declares no order of grades",
                        f'declare `with grades = "A, B, C, D, E"` (most severe first) on '
                        f"'{domain.short_name}' or on '{concept.short_name}'",
                        operand.concept.span,
                    )
                    continue
                unknown = [g for g in operand.grades if g.casefold() not in order]
                if unknown:
                    self.error(
                        "C404",
                        f"'{unknown[0]}' is not a grade of '{domain.short_name}'",
                        f"use one of: {', '.join(order)}",
                        operand.span,
                    )
                    break
        return ValueType("number", describe="a count of newly graded domains")

    def drug_concept(self, ref: n.Ref) -> ConceptSet | None:
        symbol = self.module.lookup(ref.parts)
        if symbol is None:
            self.unknown_name(ref, "drug")
            return None
        if not isinstance(symbol, ConceptSymbol) or symbol.concept.kind != "drug":
            self.error(
                "C205",
                f"'{ref.dotted}' is not a drug",
                "a daily dose is of a drug or a class of drugs",
                ref.span,
            )
            return None
        return symbol.concept


def unit_edit(node: object, unit: Unit) -> tuple[Edit, ...]:
    """The fix of a wrong unit as data: write `unit` where the literal's unit is written."""
    if isinstance(node, n.QuantityLit) and node.unit_span is not NO_SPAN:
        return (Edit(node.unit_span, unit.text),)
    return ()


def grade_domains(concept: ConceptSet) -> tuple[ConceptSet, ...]:
    """The domains `count new` judges: the members of a class, or the concept itself."""
    return concept.members or (concept,)


def grade_order(domain: ConceptSet, whole: ConceptSet) -> tuple[str, ...] | None:
    """A domain's grades, most severe first, casefolded: its own `grades`, else the class's."""
    value = domain.attributes.get("grades", whole.attributes.get("grades"))
    if not isinstance(value, str):
        return None
    grades = tuple(g.strip().casefold() for g in value.replace(",", " ").split() if g.strip())
    return grades or None


QUERY_KEYWORD = {
    "condition": "condition",
    "drug": "medication",
    "lab": "lab",
    "procedure": "procedure",
    "observation": "observation",
    "score": "score",
    "fact": "fact",
}


def is_open_class(concept: ConceptSet) -> bool:
    """Does the concept include an empty set `{}` (an open class a trial extends)?"""
    return any(
        not node.own_codes and not node.own_prefixes and not node.members
        for node in concept.reachable()
    )


DoseShape = Literal["amount", "daily", "per_kg", "per_kg_daily", "per_m2", "per_m2_daily"]


def dose_shape(unit: Unit) -> DoseShape | None:
    """What a dose threshold measures, from its dimension (see docs/language.md, "Doses")."""
    units = get_units()
    amounts = ("mg", "IU", "mmol")
    for amount in amounts:
        shapes: list[tuple[str, DoseShape]] = [
            (amount, "amount"),
            (f"{amount}/day", "daily"),
            (f"{amount}/kg", "per_kg"),
            (f"{amount}/kg/day", "per_kg_daily"),
            (f"{amount}/m2", "per_m2"),
            (f"{amount}/m2/day", "per_m2_daily"),
        ]
        for text, shape in shapes:
            if units.compatible(unit, text):
                return shape
    return None


# ---------------------------------------------------------------------- entry points


def compile_module(text: str, path: str, name: str, loader: Loader) -> Module:
    loader.sources[path] = text
    tree, diagnostics = parse_text(text, path)
    if tree is None:
        rule_file = n.RuleFile(path, None, (), (), (), ())
    else:
        rule_file, built = build(tree, path)
        diagnostics.extend(built)
    module = Module(path=path, name=name, rule_file=rule_file)
    checker = Checker(module, loader)
    checker.run()
    loader.diagnostics.extend(diagnostics)
    loader.diagnostics.extend(checker.diagnostics)
    return module


def compile_text(
    text: str,
    path: str = "<string>",
    *,
    search_path: tuple[Path, ...] | list[Path] = (),
) -> CompiledRules:
    """Compile rule-file text. Never raises for a bad file: see `.diagnostics` and `.ok`."""
    text = text.removeprefix("\ufeff")  # a UTF-8 byte order mark is not part of the text
    loader = Loader(stdlib_search_path(path, tuple(Path(p) for p in search_path)))
    # A rule file's own concepts are named without a module prefix.
    module = compile_module(text, path, "", loader)
    diagnostics = sorted(set(loader.diagnostics), key=Diagnostic.sort_key)
    return CompiledRules(
        path=path,
        source=text,
        rule_file=module.rule_file,
        module=module,
        diagnostics=tuple(diagnostics),
        sources=dict(loader.sources),
    )


def compile_file(
    path: str | Path, *, search_path: tuple[Path, ...] | list[Path] = ()
) -> CompiledRules:
    path_text = str(path)
    try:
        text = sources.read_source(Path(path))
    except sources.SourceError as error:
        diagnostic = Diagnostic(error.code, "error", error.message, error.fix, path_text, NO_SPAN)
        empty = n.RuleFile(path_text, None, (), (), (), ())
        return CompiledRules(path_text, "", empty, Module(path_text, "", empty), (diagnostic,), {})
    return compile_text(text, path_text, search_path=search_path)


def rule_files(path: str | Path) -> Iterator[Path]:
    """A rule file, or every rule file under a folder (sorted)."""
    p = Path(path)
    if p.is_dir():
        yield from sorted(p.rglob(f"*{RULE_SUFFIX}"))
    else:
        yield p
