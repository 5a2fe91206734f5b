"""What the checks of one module share: its scope, the loader, the diagnostics found so far, and
where the walk is (the definitions and outcomes being typed), with the small checks every pass
uses: binding a name, an unknown name, a date name, a unit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from criteria_lang.check.symbols import DefineSymbol, Module, ModuleSymbol, Symbol, ValueType
from criteria_lang.core import messages as m
from criteria_lang.core.derived import BUILTINS
from criteria_lang.core.diagnostics import Diagnostic, Edit, Span, did_you_mean
from criteria_lang.core.units import Unit, UnitError, UnitSystem, get_units
from criteria_lang.syntax import nodes as n

if TYPE_CHECKING:
    from criteria_lang.check.loader import Loader


@attrs.define(eq=False)
class CheckContext:
    module: Module
    loader: Loader
    diagnostics: list[Diagnostic] = attrs.field(factory=list)
    define_types: dict[str, ValueType] = attrs.field(factory=dict)
    checking_defines: list[str] = attrs.field(factory=list)
    checking_outcomes: list[str] = attrs.field(factory=list)
    checked_outcomes: set[str] = attrs.field(factory=set)
    # Set by a pass after which the others cannot run (a tree too deep to walk): they are
    # skipped.
    stopped: bool = False
    units: UnitSystem = attrs.field(factory=get_units)

    @property
    def path(self) -> str:
        return self.module.path

    @property
    def rule_file(self) -> n.RuleFile:
        return self.module.rule_file

    def report(
        self, message: m.Message, span: Span, *, edits: tuple[Edit, ...] = (), **fields: Any
    ) -> None:
        """Report a problem; `edits` is the fix as data, when it is one change of the text."""
        self.diagnostics.append(message.at(self.path, span, edits=edits, **fields))

    def bind(self, name: str, symbol: Symbol, span: Span, export: bool = False) -> None:
        if name in self.module.symbols:
            self.report(m.DECLARED_TWICE, span, name=name)
            return
        self.module.symbols[name] = symbol
        if export:
            self.module.exports[name] = symbol

    def unknown_name(self, ref: n.Ref, what: str) -> None:
        candidates: list[str] = list(self.module.symbols)
        head = self.module.symbols.get(ref.parts[0])
        if isinstance(head, ModuleSymbol) and len(ref.parts) > 1:
            candidates = [f"{ref.parts[0]}.{name}" for name in head.module.exports]
        candidates += list(BUILTINS)
        hint = did_you_mean(ref.dotted, candidates)
        if hint:
            edits = (Edit(ref.span, hint),)
            self.report(
                m.UNKNOWN_NAME, ref.span, edits=edits, what=what, name=ref.dotted, hint=hint
            )
        else:
            self.report(m.UNKNOWN_NAME_NO_HINT, ref.span, what=what, name=ref.dotted)

    def parse_unit(self, text: str, span: Span) -> Unit | None:
        try:
            return self.units.parse(text)
        except UnitError as error:
            self.report(m.UNKNOWN_UNIT, span, error=str(error))
            return None

    # ------------------------------------------------------------------ dates
    def date_name(self, name: n.Name | None, span: Span) -> None:
        """A date a window, an age or a derived value counts from: a trial date, a visit (in
        outcomes), or, unnamed, the trial's index date."""
        if isinstance(name, n.VisitAnchor):
            self.visit_date(name)
            return
        trial = self.rule_file.trial
        if name is None:
            if trial is None or (trial.index is None and not trial.dates):
                self.report(m.NO_DATE_TO_COUNT_FROM, span)
            return
        dates = [d.text for d in trial.dates] if trial else []
        if name.text in dates:
            return
        hint = did_you_mean(name.text, dates)
        if hint:
            edits = (Edit(name.span, hint),)
            self.report(m.UNKNOWN_DATE, name.span, edits=edits, name=name.text, hint=hint)
        else:
            listed = ", ".join(dates) or "(declare `dates` in the trial header)"
            self.report(m.UNKNOWN_DATE_NO_HINT, name.span, name=name.text, dates=listed)

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
            self.report(m.VISIT_OUTSIDE_OUTCOME, span, what=what)
