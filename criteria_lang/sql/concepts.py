"""Concept sets in SQL: which OMOP concept ids an event may carry to match (docs/sql.md, "Codes").

The OMOP reader gives an event the codes of its standard concept, of that concept's ancestors
(`concept_ancestor`) and of its source concept: each as `omop "<id>"` and, through the concept
table, as `<system> "<concept_code>"` (docs/omop.md, "Codes"). An event matches a concept set when
one of those codes is in the set and none is excluded (docs/language.md, "Concepts"). So whether an
event matches depends only on its (concept id, source concept id); per concept set the engine
builds two small relations from the vocabulary:

* `own`: concept ids whose own codes are included (`inc` = 1) or excluded (`exc` = 1);
* `full`: the same with the codes of the concept's ancestors (a descendant of an included concept
  is included, of an excluded one excluded).

An event matches when `full` says included for its concept or `own` for its source concept, and
neither says excluded. Without a concept table only `omop` codes match, as in the reader.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlglot import exp

from criteria_lang.core.concepts import ConceptSet
from criteria_lang.records.omop import VOCABULARIES
from criteria_lang.sql.events import not_

__all__ = ["CodeSet", "code_set", "event_matches", "full_relation", "own_relation"]


class CodeSet:
    """The codes of a concept set, split as the SQL needs them."""

    def __init__(
        self,
        codes: Iterable[tuple[str, str]],
        prefixes: Iterable[tuple[str, str]],
        names: Iterable[str],
    ) -> None:
        self.codes = sorted(set(codes))
        self.prefixes = sorted(set(prefixes))
        self.names = sorted(set(names))

    def empty(self) -> bool:
        return not (self.codes or self.prefixes or self.names)

    def omop_ids(self) -> list[int]:
        return sorted({int(c) for s, c in self.codes if s == "omop" and c.isdigit()})

    def omop_all(self) -> bool:
        """`omop "*"`: every event read from OMOP."""
        return ("omop", "") in self.prefixes


def code_set(concept: ConceptSet, excluded: bool) -> CodeSet:
    if excluded:
        return CodeSet(concept.excluded_codes, concept.excluded_prefixes, concept.excluded_names)
    return CodeSet(concept.codes, concept.prefixes, concept.names)


def _str(value: str) -> exp.Expr:
    return exp.Literal.string(value)


def _like_escape(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _systems() -> dict[str, list[str]]:
    """Our code system -> the vocabulary_ids (lower case) the reader maps to it."""
    out: dict[str, list[str]] = {}
    for vocabulary, system in VOCABULARIES.items():
        out.setdefault(system, []).append(vocabulary)
    return out


def concept_row_matches(codes: CodeSet, concept: str) -> exp.Expr | None:
    """A condition on a `concept` row (alias `concept`): its own codes hit `codes`."""
    systems = _systems()
    vocabulary = exp.func("LOWER", exp.column("vocabulary_id", table=concept))
    code = exp.column("concept_code", table=concept)
    parts: list[exp.Expr] = []
    by_system: dict[str, list[str]] = {}
    for system, value in codes.codes:
        by_system.setdefault(system, []).append(value)
    for name in codes.names:
        by_system.setdefault("concept", []).append(name)
    for system, values in sorted(by_system.items()):
        if system == "omop":
            ids = [int(v) for v in values if v.isdigit()]
            if ids:
                parts.append(
                    exp.In(
                        this=exp.column("concept_id", table=concept),
                        expressions=[exp.Literal.number(i) for i in ids],
                    )
                )
            continue
        vocabularies = systems.get(system)
        if not vocabularies:
            continue
        parts.append(
            exp.And(
                this=exp.In(this=vocabulary.copy(), expressions=[_str(v) for v in vocabularies]),
                expression=exp.In(this=code.copy(), expressions=[_str(v) for v in values]),
            )
        )
    for system, prefix in codes.prefixes:
        if system == "omop":
            text = exp.Cast(
                this=exp.column("concept_id", table=concept), to=exp.DataType.build("VARCHAR")
            )
            parts.append(exp.Like(this=text, expression=_str(_like_escape(prefix) + "%")))
            continue
        vocabularies = systems.get(system)
        if vocabularies:
            parts.append(
                exp.And(
                    this=exp.In(
                        this=vocabulary.copy(), expressions=[_str(v) for v in vocabularies]
                    ),
                    expression=exp.Like(
                        this=code.copy(), expression=_str(_like_escape(prefix) + "%")
                    ),
                )
            )
    if not parts:
        return None
    out = parts[0]
    for part in parts[1:]:
        out = exp.Or(this=out, expression=part)
    return exp.Paren(this=out)


def own_relation(
    included: CodeSet, excluded: CodeSet, *, has_concept_table: bool
) -> exp.Select | None:
    """`own(concept_id, inc, exc)`: one row per concept id whose own codes are included or
    excluded. None when nothing can match (an empty set)."""
    selects: list[exp.Select] = []

    def flag(condition: exp.Expr | None) -> exp.Expr:
        if condition is None:
            return exp.Literal.number(0)
        return exp.Case().when(condition, exp.Literal.number(1)).else_(exp.Literal.number(0))

    if has_concept_table:
        inc = concept_row_matches(included, "c")
        exc = concept_row_matches(excluded, "c")
        if inc is not None or exc is not None:
            where = inc if exc is None else exc if inc is None else exp.Or(this=inc, expression=exc)
            selects.append(
                exp.select(
                    exp.column("concept_id", table="c").as_("concept_id"),
                    flag(inc).as_("inc"),
                    flag(exc).as_("exc"),
                )
                .from_(exp.table_("concept", alias="c"))
                .where(where)
            )
    # `omop "<id>"` codes match whether or not the concept table has a row for the id.
    for ids, is_exc in ((included.omop_ids(), False), (excluded.omop_ids(), True)):
        for ident in ids:
            selects.append(
                exp.select(
                    exp.Literal.number(ident).as_("concept_id"),
                    exp.Literal.number(0 if is_exc else 1).as_("inc"),
                    exp.Literal.number(1 if is_exc else 0).as_("exc"),
                )
            )
    if not selects:
        return None
    union: exp.Expr = selects[0]
    for select in selects[1:]:
        union = exp.union(union, select, distinct=False)
    return (
        exp.select(
            "concept_id",
            exp.func("MAX", exp.column("inc")).as_("inc"),
            exp.func("MAX", exp.column("exc")).as_("exc"),
        )
        .from_(exp.Subquery(this=union, alias=exp.TableAlias(this=exp.to_identifier("u"))))
        .group_by("concept_id")
    )


def full_relation(own_name: str, *, has_ancestors: bool) -> exp.Select:
    """`full(concept_id, inc, exc)`: `own` and every descendant of its concepts."""
    own = exp.select("concept_id", "inc", "exc").from_(own_name)
    if not has_ancestors:
        return own
    below = (
        exp.select(
            exp.column("descendant_concept_id", table="ca").as_("concept_id"),
            exp.column("inc", table="o"),
            exp.column("exc", table="o"),
        )
        .from_(exp.table_("concept_ancestor", alias="ca"))
        .join(
            exp.table_(own_name, alias="o"),
            on=exp.EQ(
                this=exp.column("ancestor_concept_id", table="ca"),
                expression=exp.column("concept_id", table="o"),
            ),
        )
        .where(
            exp.NEQ(
                this=exp.column("ancestor_concept_id", table="ca"),
                expression=exp.column("descendant_concept_id", table="ca"),
            )
        )
    )
    union = exp.union(own, below, distinct=False)
    return (
        exp.select(
            "concept_id",
            exp.func("MAX", exp.column("inc")).as_("inc"),
            exp.func("MAX", exp.column("exc")).as_("exc"),
        )
        .from_(exp.Subquery(this=union, alias=exp.TableAlias(this=exp.to_identifier("u"))))
        .group_by("concept_id")
    )


def event_matches(
    full_alias: str, own_alias: str, included: CodeSet, excluded: CodeSet
) -> exp.Expr:
    """The condition on an event joined (LEFT) to `full` on its concept id and to `own` on its
    source concept id (when that differs from the concept and is not 0)."""

    def flag(alias: str, column: str) -> exp.Expr:
        return exp.EQ(
            this=exp.func("COALESCE", exp.column(column, table=alias), exp.Literal.number(0)),
            expression=exp.Literal.number(1),
        )

    hit: exp.Expr = exp.Or(this=flag(full_alias, "inc"), expression=flag(own_alias, "inc"))
    if included.omop_all():
        hit = exp.true()
    miss: exp.Expr = exp.Or(this=flag(full_alias, "exc"), expression=flag(own_alias, "exc"))
    if excluded.omop_all():
        miss = exp.true()
    return exp.And(this=exp.Paren(this=hit), expression=not_(exp.Paren(this=miss)))
