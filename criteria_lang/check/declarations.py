"""Passes over a module's statements: its imports, its declarations (concept sets resolved to
codes, definitions), its outcome ids and its trial header (docs/language.md, "Files",
"Concepts")."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

from criteria_lang.check import sources
from criteria_lang.check.context import CheckContext
from criteria_lang.check.loader import RULE_SUFFIX
from criteria_lang.check.modules import shipped_stdlib
from criteria_lang.check.symbols import (
    ConceptSymbol,
    DefineSymbol,
    Module,
    ModuleSymbol,
    OutcomeSymbol,
)
from criteria_lang.check.unit_checks import conversion_problems
from criteria_lang.core import messages as m
from criteria_lang.core.concepts import AttributeValue, ConceptSet, QuantityAttr, UnitAttr
from criteria_lang.core.diagnostics import Edit, did_you_mean
from criteria_lang.core.visits import visit_key
from criteria_lang.syntax import nodes as n

Terms = tuple[set[tuple[str, str]], list[tuple[str, str]], list[ConceptSet]]


def check_imports(cx: CheckContext) -> None:
    """Every `import`: the module found (and not refused), loaded (compiled once) and bound."""
    for imp in cx.rule_file.imports:
        module = imported_module(cx, imp)
        if module is None:
            continue
        if not imp.names:
            alias = imp.alias.text if imp.alias else imp.module[-1]
            cx.bind(alias, ModuleSymbol(module), imp.alias.span if imp.alias else imp.span)
            continue
        for name in imp.names:
            symbol = module.exports.get(name.text)
            if symbol is not None:
                cx.bind(name.text, symbol, name.span)
            else:
                missing_name(cx, ".".join(imp.module), module, name)


def imported_module(cx: CheckContext, imp: n.Import) -> Module | None:
    """The module an import names, or None after reporting why there is none (docs/limits.md:
    a refused file, C212; a module hiding a shipped one is a warning, C213)."""
    module_name = ".".join(imp.module)
    found = cx.loader.locate(imp.module)
    if found is not None and found.refused is not None:
        cx.report(
            m.MODULE_REFUSED, imp.span, module=module_name, path=found.path, why=found.refused
        )
        return None
    if found is None:
        searched = ", ".join(str(p) for p in cx.loader.search_path)
        cx.report(m.NO_MODULE, imp.span, module=module_name, searched=searched)
        return None
    twin = sources.shadows(found, imp.module, RULE_SUFFIX, shipped_stdlib())
    if twin is not None:
        cx.report(m.MODULE_HIDES_SHIPPED, imp.span, module=module_name, path=found.path, twin=twin)
    if str(found.path) in cx.loader.loading:
        cx.report(m.MODULE_IMPORTS_ITSELF, imp.span, module=module_name)
        return None
    module = cx.loader.load(found.path, imp.module[-1])
    if isinstance(module, sources.SourceError):
        cx.diagnostics.append(
            module.diagnostic(cx.path, imp.span, about=f"module '{module_name}': ")
        )
        return None
    if module is None:
        cx.report(m.CANNOT_READ_MODULE, imp.span, module=module_name)
    return module


def missing_name(cx: CheckContext, module_name: str, module: Module, name: n.Name) -> None:
    hint = did_you_mean(name.text, module.exports)
    if hint:
        edits = (Edit(name.span, hint),)
        cx.report(
            m.MODULE_HAS_NO_NAME,
            name.span,
            edits=edits,
            module=module_name,
            name=name.text,
            hint=hint,
        )
    else:
        cx.report(
            m.MODULE_HAS_NO_NAME_NO_HINT,
            name.span,
            module=module_name,
            name=name.text,
            path=module.path,
        )


def declare(cx: CheckContext) -> None:
    """The module's concepts (resolved to concept sets) and definitions, bound by name."""
    rule_file = cx.rule_file
    decls = {d.name.text: d for d in rule_file.concepts}
    resolved: dict[str, ConceptSet] = {}
    for decl in rule_file.concepts:
        if decl.name.text in cx.module.symbols:
            cx.report(m.DECLARED_TWICE, decl.name.span, name=decl.name.text)
            continue
        concept = resolve_concept(cx, decl, decls, resolved)
        cx.bind(decl.name.text, ConceptSymbol(concept, decl, cx.module), decl.name.span, True)
    for define in rule_file.defines:
        cx.bind(define.name.text, DefineSymbol(define, cx.module), define.name.span, True)


def declare_outcomes(cx: CheckContext) -> None:
    """Outcome ids: conditions inside the other outcomes of the file."""
    for outcome in cx.rule_file.outcomes:
        cx.bind(outcome.id.text, OutcomeSymbol(outcome, cx.module), outcome.id.span)


def check_trial(cx: CheckContext) -> None:
    """The trial header: its dates listed once, its index date among them."""
    rule_file = cx.rule_file
    trial = rule_file.trial
    if trial is None:
        if rule_file.criteria:
            cx.report(m.CRITERIA_WITHOUT_TRIAL, rule_file.criteria[0].span)
        return
    seen: set[str] = set()
    for date in trial.dates:
        if date.text in seen:
            cx.report(m.DATE_TWICE, date.span, name=date.text)
        seen.add(date.text)
    if trial.index and trial.index.text not in seen:
        listed = ", ".join(sorted(seen)) or "(none)"
        cx.report(m.UNKNOWN_INDEX_DATE, trial.index.span, name=trial.index.text, dates=listed)
    check_schedule(cx, trial.schedule)


def check_schedule(cx: CheckContext, schedule: tuple[n.ScheduledVisit, ...]) -> None:
    """The visit schedule: each visit once, before or after a trial date, in plain durations
    (docs/language.md, "The visit schedule")."""
    first: dict[str, n.ScheduledVisit] = {}
    for visit in schedule:
        key = visit_key(visit.name)
        if key in first:
            line = first[key].span.line
            cx.report(m.VISIT_SCHEDULED_TWICE, visit.span, name=visit.name, line=line)
        first.setdefault(key, visit)
        if visit.direction == "around":
            cx.report(m.SCHEDULE_AROUND, visit.span, name=visit.name)
        plain = (visit.offset, visit.tolerance or visit.offset)
        if not all(isinstance(d, n.Duration) for d in plain):
            cx.report(m.SCHEDULE_NOT_PLAIN, visit.span, name=visit.name)
        cx.date_name(visit.anchor, visit.anchor.span)


# ---------------------------------------------------------------------- concept sets


def resolve_concept(
    cx: CheckContext,
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
    stack: list[tuple[n.ConceptDecl, Iterator[str]]] = [(decl, local_refs(cx, decl, decls))]
    while stack:
        current, refs = stack[-1]
        for ref in refs:
            if ref not in resolved and ref not in on_path:
                on_path[ref] = None
                stack.append((decls[ref], local_refs(cx, decls[ref], decls)))
                break
        else:
            stack.pop()
            name = current.name.text
            resolved[name] = build_concept(cx, current, resolved, on_path)
            del on_path[name]
    return resolved[key]


def local_refs(
    cx: CheckContext, decl: n.ConceptDecl, decls: dict[str, n.ConceptDecl]
) -> Iterator[str]:
    """The concepts of this file that `decl` includes or excludes by name."""
    for term in (*decl.include, *decl.exclude):
        if isinstance(term, n.CodeTerm):
            continue
        parts = term.ref.parts
        if len(parts) == 1 and parts[0] in decls and parts[0] not in cx.module.symbols:
            yield parts[0]


def build_concept(
    cx: CheckContext,
    decl: n.ConceptDecl,
    resolved: dict[str, ConceptSet],
    on_path: dict[str, None],
) -> ConceptSet:
    key = decl.name.text
    codes, prefixes, members = concept_terms(cx, decl, decl.include, resolved, on_path)
    ex_codes, ex_prefixes, excluded = concept_terms(cx, decl, decl.exclude, resolved, on_path)
    module_name = cx.module.name
    attributes = {attr.name.text: concept_attribute(cx, attr) for attr in decl.attributes}
    spans = {attr.name.text: attr.span for attr in decl.attributes}
    for name, error, fix in conversion_problems(attributes, cx.units):
        cx.report(m.CONVERSION_ATTRIBUTE, spans.get(name, decl.span), error=error, fix=fix)
        attributes.pop(name, None)  # a conversion that cannot be read converts nothing
    return ConceptSet(
        name=f"{module_name}.{key}" if module_name else key,
        short_name=key,
        kind=decl.kind,
        title=decl.title,
        own_codes=frozenset(codes),
        own_prefixes=tuple(sorted(set(prefixes))),
        members=tuple(members),
        excluded=tuple(excluded),
        own_excluded_codes=frozenset(ex_codes),
        own_excluded_prefixes=tuple(sorted(set(ex_prefixes))),
        attributes=attributes,
    )


def concept_terms(
    cx: CheckContext,
    decl: n.ConceptDecl,
    terms: tuple[n.ConceptTerm, ...],
    resolved: dict[str, ConceptSet],
    on_path: dict[str, None],
) -> Terms:
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
        member = member_concept(cx, term, resolved, on_path)
        if member is None:
            continue
        if member.kind != decl.kind:
            cx.report(
                m.MEMBER_OF_OTHER_KIND,
                term.span,
                name=term.ref.dotted,
                member_kind=member.kind,
                kind=decl.kind,
            )
        members.append(member)
    return codes, prefixes, members


def member_concept(
    cx: CheckContext,
    term: n.RefTerm,
    resolved: dict[str, ConceptSet],
    on_path: dict[str, None],
) -> ConceptSet | None:
    """A concept named in a declaration: one of this file's (resolved before) or an imported
    one."""
    parts = term.ref.parts
    local = len(parts) == 1 and (parts[0] in resolved or parts[0] in on_path)
    if local and parts[0] not in cx.module.symbols:
        if parts[0] in on_path:
            cx.report(m.CONCEPT_INCLUDES_ITSELF, term.span, name=parts[0])
            return None
        return resolved[parts[0]]
    symbol = cx.module.lookup(parts)
    if not isinstance(symbol, ConceptSymbol):
        cx.unknown_name(term.ref, "concept")
        return None
    return symbol.concept


def concept_attribute(cx: CheckContext, attr: n.ConceptAttr) -> AttributeValue:
    value = attr.value
    if isinstance(value, n.UnitLit):
        cx.parse_unit(value.unit, value.span)
        return UnitAttr(value.unit)
    if isinstance(value, n.QuantityLit):
        if value.unit is None:
            return Fraction(value.value)
        cx.parse_unit(value.unit, value.span)
        return QuantityAttr(value.value, value.unit)
    return value
