"""What a name means in a checked module: the symbols, the module's scope, the checked program.

These are the results of checking that the tools read (the language server, lint, the
lowering): `CompiledRules` and the scopes its names resolve in (`Module.lookup`).
"""

from __future__ import annotations

from typing import Literal

import attrs

from criteria_lang.core.concepts import ConceptSet
from criteria_lang.core.derived import BUILTINS, Builtin
from criteria_lang.core.diagnostics import Diagnostic, has_errors
from criteria_lang.core.units import Unit
from criteria_lang.syntax import nodes as n


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


Symbol = ConceptSymbol | DefineSymbol | ModuleSymbol | BuiltinSymbol | OutcomeSymbol


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


TypeKind = Literal["bool", "quantity", "number", "text", "any"]


@attrs.frozen
class ValueType:
    """What the checker knows of a value: its kind, its canonical unit, its concept."""

    kind: TypeKind
    unit: Unit | None = None  # a quantity's canonical unit, when known
    concept: ConceptSet | None = None
    query_kind: str | None = None
    describe: str = ""


BOOL = ValueType("bool", describe="a condition (true/false)")
ANY = ValueType("any", describe="a value")


@attrs.frozen(eq=False)
class CompiledRules:
    """The checked form of a rule file: the tree, its scopes and its diagnostics. The lowering
    (plan/lower.py) turns it into the plan the engines run."""

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
