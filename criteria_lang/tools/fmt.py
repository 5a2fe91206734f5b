"""The one layout of a rule file (`criteria fmt`).

What is printed comes from the typed tree (nodes.py), so formatting cannot change what a file
means, and `format_text` proves it on every run: the output is parsed again and its typed tree
must equal the input's (spans take no part in equality) and every comment must still be there;
otherwise nothing is returned. The typed tree drops a few things that carry no meaning but that
the author chose; they are read from the parse tree so that they survive: the order of a query's
qualifiers, of the trial's fields and of the sections, quoted strings exactly as written, numbers
and units as written (`1.20`, `mo`), and interchangeable words (`drug` / `medication`, `any`, an
explicit `inclusive` or `continuous`).

The layout (docs/lint.md, "criteria fmt"):

* statements keep their order; blank lines between statements are kept (at most one);
* trial fields and criteria are indented 2 spaces; a criterion's expression goes on the line after
  `ID "text":`, indented 4;
* an expression that does not fit in `WIDTH` columns (or holds a comment) is broken before each
  of its top-level `and` / `or`, the operator starting the line; a parenthesised group breaks the
  same way inside its parenthesis; `at least N of (` lists one item a line; `if` breaks before
  `then`, `else` and `end`;
* a concept's codes go on the lines after its name (`= a | b`), then `except ...`, then `with ...`;
  a list that does not fit on one line (or holds a comment) keeps the terms that were written on
  one line together, so that a comment ending that line still annotates all of them, and puts
  each term of a line too long (and not annotated) on a line of its own;
* the comments that end the lines of one concept declaration start in one column, two spaces
  after the longest of those lines;
* single spaces between words and around operators.

Comments (collected by the parser) stay with the node they precede, or, for a comment that ends a
line of code, with the line of the node it follows.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterator
from fractions import Fraction
from typing import Any, assert_never

from lark import Token, Tree

from criteria_lang.syntax import nodes as n
from criteria_lang.syntax.build import TIME_UNITS, Builder, build
from criteria_lang.syntax.parse import Comment, parse_text
from criteria_lang.tools.fmt_text import (
    _NUMBER,
    _QUANTITY_UNIT,
    _RATIO,
    _TITER,
    WIDTH,
    Line,
    _needs_parens,
    quote,
)
from criteria_lang.tools.fmt_text import FormatError as FormatError
from criteria_lang.tools.fmt_text import fraction_text as fraction_text
from criteria_lang.tools.fmt_text import is_expr as is_expr


def _parse(text: str, path: str) -> tuple[Tree[Any], n.RuleFile, list[Comment]]:
    comments: list[Comment] = []
    tree, diagnostics = parse_text(text, path, comments=comments)
    if tree is None or diagnostics:
        raise FormatError("the file has syntax errors", tuple(diagnostics))
    rule_file, built = build(tree, path)
    if built:
        raise FormatError("the file has errors", tuple(built))
    return tree, rule_file, comments


def format_text(text: str, path: str = "<string>") -> str:
    """The canonical layout of a rule file. Raises FormatError for a file with syntax errors."""
    tree, rule_file, comments = _parse(text, path)
    out = Formatter(text, tree, rule_file, comments).run()
    try:
        _, again, comments_again = _parse(out, path)
    except FormatError as error:
        raise FormatError(f"internal error: the formatted text does not parse ({error})") from None
    if again != rule_file:
        raise FormatError("internal error: formatting would change the meaning; file left as is")
    if sorted(c.text for c in comments) != sorted(c.text for c in comments_again):
        raise FormatError("internal error: formatting would lose a comment; file left as is")
    return out


class Formatter:
    def __init__(
        self, source: str, tree: Tree[Any], rule_file: n.RuleFile, comments: list[Comment]
    ) -> None:
        self.source = source
        self.tree = tree
        self.rule_file = rule_file
        self.comments = sorted(comments, key=lambda c: c.span.start)
        self.comment_starts = [c.span.start for c in self.comments]
        # Parse-tree nodes the typed tree has no room for, by (rule, start offset).
        self.parsed: dict[tuple[str, int], Tree[Any]] = {}
        strings: list[tuple[int, Token]] = []
        for sub in tree.iter_subtrees():
            if sub.data in ("query", "exists", "between", "dose_between", "duration_req"):
                self.parsed[(sub.data, sub.meta.start_pos)] = sub
            for child in sub.children:
                if isinstance(child, Token) and child.type == "STRING":
                    strings.append((child.start_pos or 0, child))
        strings.sort(key=lambda s: s[0])
        self.string_starts = [s for s, _ in strings]
        self.string_tokens = [t for _, t in strings]

    # ------------------------------------------------------------------ whole file
    def run(self) -> str:
        lines = list(self.file_lines())
        return self.emit(lines)

    def file_lines(self) -> Iterator[Line]:
        rf = self.rule_file
        imports, concepts = iter(rf.imports), iter(rf.concepts)
        defines, criteria = iter(rf.defines), iter(rf.criteria)
        outcome_sections = iter(rf.outcome_sections)
        for item in self.tree.children:
            kind = item.data
            if kind == "trial":
                assert rf.trial is not None
                yield from self.trial(rf.trial, item)
            elif kind in ("import_module", "import_names"):
                yield Line(self.import_(next(imports)), item.meta.start_pos, True)
            elif kind == "concept_decl":
                yield from self.concept(next(concepts), item)
            elif kind == "define":
                yield from self.define(next(defines), item)
            elif kind == "section":
                yield Line(str(item.children[0].children[0]), item.meta.start_pos, True)
                for crit in item.children[1:]:
                    yield from self.criterion(next(criteria), crit)
            elif kind == "outcome_section":
                yield from self.outcome_section(next(outcome_sections), item)

    # ------------------------------------------------------------------ comments and blanks
    def inner_comment(self, low: int, high: int) -> bool:
        """A comment strictly between two offsets."""
        i = bisect.bisect_right(self.comment_starts, low)
        return i < len(self.comment_starts) and self.comment_starts[i] < high

    def blank_before(self, offset: int) -> bool:
        i, newlines = offset - 1, 0
        while i >= 0 and self.source[i] in " \t\r\n\f":
            newlines += self.source[i] == "\n"
            i -= 1
        return i >= 0 and newlines >= 2

    def emit(self, lines: list[Line]) -> str:
        anchored = [(i, line.anchor) for i, line in enumerate(lines) if line.anchor is not None]
        starts = [a for _, a in anchored]
        if starts != sorted(starts):  # pragma: no cover - a layout bug; the check would catch it
            raise FormatError("internal error: output lines out of source order")
        before: dict[int, list[Comment]] = defaultdict(list)
        trailing: dict[int, Comment] = {}
        at_end: list[Comment] = []
        for comment in self.comments:
            position = comment.span.start
            if not comment.own_line:
                k = bisect.bisect_left(starts, position) - 1
                if k >= 0 and anchored[k][0] not in trailing:
                    trailing[anchored[k][0]] = comment
                    continue
            k = bisect.bisect_left(starts, position)
            if k < len(anchored):
                before[anchored[k][0]].append(comment)
            else:
                at_end.append(comment)

        columns: dict[int, int] = {}
        for i in trailing:
            key = lines[i].align
            if key is not None:
                columns[key] = max(columns.get(key, 0), len(lines[i].text.rstrip()) + 2)

        out: list[str] = []

        def blank(wanted: bool) -> None:
            if wanted and out and out[-1] != "":
                out.append("")

        for i, line in enumerate(lines):
            indent = " " * (len(line.text) - len(line.text.lstrip(" ")))
            for comment in before.get(i, ()):
                blank(line.statement and self.blank_before(comment.span.start))
                out.append(indent + comment.text)
            if line.anchor is not None:
                blank(line.statement and self.blank_before(line.anchor))
            text = line.text.rstrip()
            if i in trailing:
                column = columns.get(line.align, 0) if line.align is not None else 0
                text = text.ljust(column - 2) + "  " + trailing[i].text
            out.append(text)
        for comment in at_end:
            blank(self.blank_before(comment.span.start))
            out.append(comment.text)
        return "\n".join(out) + "\n" if out else ""

    # ------------------------------------------------------------------ source words
    def raw_string(self, value: str, low: int, high: int, nth: int = 0) -> str:
        """The `nth` string literal written between two offsets, if it reads as `value`."""
        i = bisect.bisect_left(self.string_starts, low) + nth
        if i < len(self.string_starts) and self.string_starts[i] < high:
            return self.token_string(self.string_tokens[i], value)
        return quote(value)

    @staticmethod
    def token_string(token: Any, value: str | None) -> str:
        """A string token as written, if it reads as `value`."""
        if value is None or (isinstance(token, Token) and Builder.string(token) == value):
            return str(token)
        return quote(value)

    def number(self, value: Fraction, offset: int) -> str:
        match = _NUMBER.match(self.source, offset)
        if match and Fraction(match.group()) == value:
            return match.group()
        return fraction_text(value)

    def bare(self, span: object) -> bool:
        """The literal at `span` was written as a bare number (its unit borrowed)."""
        start, end = span.start, span.end  # type: ignore[attr-defined]
        return end > start and _NUMBER.fullmatch(self.source, start, end) is not None

    # ------------------------------------------------------------------ statements
    def trial(self, trial: n.Trial, item: Tree[Any]) -> Iterator[Line]:
        yield Line(
            f"trial {self.token_string(item.children[0], trial.registry_id)}",
            item.meta.start_pos,
            True,
        )
        fields = item.children[1:]
        last_title = max((i for i, f in enumerate(fields) if f.data == "title"), default=-1)
        last_index = max((i for i, f in enumerate(fields) if f.data == "index_date"), default=-1)
        dates = iter(trial.dates)
        schedule = iter(trial.schedule)
        for i, field in enumerate(fields):
            if field.data == "title" and i == last_title:
                text = f"title {self.token_string(field.children[0], trial.title)}"
            elif field.data == "dates":
                text = "dates " + ", ".join(next(dates).text for _ in field.children)
            elif field.data == "index_date" and i == last_index:
                assert trial.index is not None
                text = f"index {trial.index.text}"
            elif field.data == "scheduled_visit":
                text = self.scheduled_visit(next(schedule), field)
            else:
                continue
            yield Line("  " + text, field.meta.start_pos)

    def scheduled_visit(self, visit: n.ScheduledVisit, field: Tree[Any]) -> str:
        """`visit "month 12" at 12 months after baseline +/- 14 days`."""
        name = self.token_string(field.children[0], visit.name)
        where = f"{self.duration(visit.offset)} {visit.direction} {visit.anchor.text}"
        window = f" +/- {self.duration(visit.tolerance)}" if visit.tolerance else ""
        return f"visit {name} at {where}{window}"

    @staticmethod
    def import_(imp: n.Import) -> str:
        module = ".".join(imp.module)
        if imp.names:
            return f"from {module} import " + ", ".join(name.text for name in imp.names)
        if imp.alias is not None:
            return f"import {module} as {imp.alias.text}"
        return f"import {module}"

    def concept(self, decl: n.ConceptDecl, item: Tree[Any]) -> Iterator[Line]:
        header = f"{item.children[0].children[0]} {decl.name.text}"
        if decl.title is not None:
            header += " " + self.token_string(item.children[2], decl.title)
        yield Line(header, decl.span.start, True)
        body = list(self.union("= ", decl.include))
        if decl.exclude:
            body += self.union("except ", decl.exclude)
        if decl.attributes:
            attributes = ", ".join(f"{a.name.text} = {self.attribute(a)}" for a in decl.attributes)
            body.append(Line(f"  with {attributes}", decl.attributes[0].span.start))
        for line in body:
            line.align = decl.span.start
        yield from body

    def union(self, keyword: str, terms: tuple[n.ConceptTerm, ...]) -> Iterator[Line]:
        if not terms:
            yield Line(f"  {keyword}{{}}", None)
            return
        texts = [self.term(t) for t in terms]
        flat = f"  {keyword}" + " | ".join(texts)
        if len(flat) <= WIDTH and not self.inner_comment(terms[0].span.start, terms[-1].span.start):
            yield Line(flat, terms[0].span.start)
            return
        # Terms written on one source line stay on one line: a comment that ends the line speaks
        # of all of them (`| icd10 "I60*" | icd10 "I61*"  # unverified`).
        prefix = keyword
        for group in self.source_lines(list(zip(terms, texts, strict=True))):
            line = f"  {prefix}" + " | ".join(text for _, text in group)
            if len(line) <= WIDTH or len(group) == 1 or self.annotated(group[-1][0]):
                yield Line(line, group[0][0].span.start)
            else:
                for term, text in group:
                    yield Line(f"  {prefix}{text}", term.span.start)
                    prefix = "| "
            prefix = "| "

    def source_lines(
        self, items: list[tuple[n.ConceptTerm, str]]
    ) -> list[list[tuple[n.ConceptTerm, str]]]:
        """Consecutive terms grouped by the source line they start on."""
        groups: list[list[tuple[n.ConceptTerm, str]]] = []
        last_line = -1
        for term, text in items:
            line = self.source.count("\n", 0, term.span.start)
            if groups and line == last_line:
                groups[-1].append((term, text))
            else:
                groups.append([(term, text)])
            last_line = line
        return groups

    def annotated(self, term: n.ConceptTerm) -> bool:
        """A comment ends the source line of `term`, after it."""
        end = self.source.find("\n", term.span.end)
        end = len(self.source) if end < 0 else end
        return self.inner_comment(term.span.end - 1, end)

    def term(self, term: n.ConceptTerm) -> str:
        if isinstance(term, n.CodeTerm):
            return f"{term.system} {self.raw_string(term.code, term.span.start, term.span.end)}"
        return term.ref.dotted

    def attribute(self, attr: n.ConceptAttr) -> str:
        value = attr.value
        if isinstance(value, n.QuantityLit):
            ratio = _RATIO.match(self.source, value.span.start)
            if value.unit is None and ratio:  # `prednisone_equivalent = 20/3`
                if Fraction(ratio.group(1)) / Fraction(ratio.group(2)) == value.value:
                    return f"{ratio.group(1)}/{ratio.group(2)}"
            return self.quantity(value)
        if isinstance(value, n.UnitLit):
            return value.unit
        return self.raw_string(value, attr.name.span.end, attr.span.end)

    def define(self, define: n.Define, item: Tree[Any]) -> Iterator[Line]:
        header = f"define {define.name.text}"
        if define.title is not None:
            header += " " + self.token_string(item.children[1], define.title)
        header += " ="
        body = define.expr
        flat = self.flat(body)
        if (
            flat is not None
            and len(header) + 1 + len(flat) <= WIDTH
            and not self.inner_comment(define.span.start, body.span.start)
        ):
            yield Line(f"{header} {flat}", define.span.start, True)
            return
        yield Line(header, define.span.start, True)
        yield from self.indented(body, 2)

    def criterion(self, criterion: n.Criterion, item: Tree[Any]) -> Iterator[Line]:
        text = self.token_string(item.children[1], criterion.text)
        yield Line(f"  {criterion.id.text} {text}:", criterion.span.start, True)
        yield from self.indented(criterion.expr, 4)

    def indented(self, body: n.Expr | n.Operand, column: int) -> list[Line]:
        if is_expr(body):
            lines = self.lay(body, column, column)
        else:
            operand: Any = body
            lines = [Line(self.operand(operand), operand.span.start)]
        lines[0].text = " " * column + lines[0].text
        return lines

    # ------------------------------------------------------------------ expressions: layout
    def lay(self, expr: n.Expr, column: int, indent: int) -> list[Line]:
        """The lines of `expr` starting at `column` on a line indented by `indent`. The first
        line carries no indentation (the caller prints what goes before it)."""
        flat = self.flat(expr)
        if flat is not None and column + len(flat) <= WIDTH:
            return [Line(flat, expr.span.start)]
        if isinstance(expr, (n.And, n.Or)):
            word = "and " if isinstance(expr, n.And) else "or "
            lines: list[Line] = []
            for i, item in enumerate(expr.operands):
                prefix = "" if i == 0 else word
                sub = self.lay_child(expr, item, column + len(prefix), indent if i == 0 else column)
                if i:
                    sub[0].text = " " * column + prefix + sub[0].text
                sub[0].anchor = item.span.start
                lines.extend(sub)
            return lines
        if isinstance(expr, n.Not):
            sub = self.lay_child(expr, expr.operand, column + 4, indent)
            sub[0].text = "not " + sub[0].text
            sub[0].anchor = expr.span.start
            return sub
        if isinstance(expr, n.AtLeast):
            lines = [Line(f"at least {expr.count} of (", expr.span.start)]
            inner = indent + 2
            for i, item in enumerate(expr.operands):
                sub = self.lay(item, inner, inner)
                sub[0].text = " " * inner + sub[0].text
                if i < len(expr.operands) - 1:
                    sub[-1].text += ","
                lines.extend(sub)
            closing = expr.span.end - 1
            anchor = closing if self.source[closing : closing + 1] == ")" else None
            lines.append(Line(" " * indent + ")", anchor))
            return lines
        if isinstance(expr, n.Conditional):
            lines = self.lay(expr.condition, column + 3, indent)
            lines[0].text = "if " + lines[0].text
            lines[0].anchor = expr.span.start
            for word, branch in (("then ", expr.then), ("else ", expr.otherwise)):
                sub = self.lay(branch, column + 5, column)
                sub[0].text = " " * column + word + sub[0].text
                lines.extend(sub)
            end = expr.span.end - 3
            anchor = end if self.source[end : end + 3] == "end" else None
            lines.append(Line(" " * column + "end", anchor))
            return lines
        # A predicate is never broken.
        return [Line(self.predicate(expr), expr.span.start)]

    def lay_child(self, parent: n.Expr, child: n.Expr, column: int, indent: int) -> list[Line]:
        if not _needs_parens(parent, child):
            return self.lay(child, column, indent)
        sub = self.lay(child, column + 1, column + 1)
        sub[0].text = "(" + sub[0].text
        sub[-1].text += ")"
        return sub

    def breaks(self, expr: n.Expr) -> bool:
        """A comment between the parts of `expr` (or of a part) that must stay between them."""
        if isinstance(expr, (n.And, n.Or)):
            first, last = expr.operands[0].span.start, expr.operands[-1].span.start
            return self.inner_comment(first, last) or any(self.breaks(o) for o in expr.operands)
        if isinstance(expr, n.Not):
            return self.breaks(expr.operand)
        if isinstance(expr, n.Conditional):
            return self.inner_comment(expr.condition.span.start, expr.span.end - 3) or any(
                self.breaks(e) for e in (expr.condition, expr.then, expr.otherwise)
            )
        return isinstance(expr, n.AtLeast)

    def flat(self, expr: n.Expr | n.Operand) -> str | None:
        """`expr` on one line, or None when it must be broken."""
        if not is_expr(expr):
            operand: Any = expr
            return self.operand(operand)
        if self.breaks(expr):
            return None
        return self.flat_expr(expr)

    def flat_expr(self, expr: n.Expr) -> str:
        if isinstance(expr, (n.And, n.Or)):
            word = " and " if isinstance(expr, n.And) else " or "
            return word.join(self.flat_child(expr, o) for o in expr.operands)
        if isinstance(expr, n.Not):
            return "not " + self.flat_child(expr, expr.operand)
        if isinstance(expr, n.Conditional):
            return (
                f"if {self.flat_expr(expr.condition)} then {self.flat_expr(expr.then)} "
                f"else {self.flat_expr(expr.otherwise)} end"
            )
        if isinstance(expr, n.AtLeast):  # pragma: no cover - always broken (see `breaks`)
            items = ", ".join(self.flat_expr(o) for o in expr.operands)
            return f"at least {expr.count} of ({items})"
        return self.predicate(expr)

    def flat_child(self, parent: n.Expr, child: n.Expr) -> str:
        text = self.flat_expr(child)
        return f"({text})" if _needs_parens(parent, child) else text

    # ------------------------------------------------------------------ predicates and values
    def predicate(self, expr: n.Expr) -> str:
        if isinstance(expr, n.Review):
            return "review " + self.raw_string(expr.question, expr.span.start, expr.span.end)
        if isinstance(expr, n.Truth):
            return self.operand(expr.operand)
        if isinstance(expr, n.Constant):
            return "true" if expr.value else "false"
        if isinstance(expr, n.Compare):
            return f"{self.operand(expr.left)} {expr.op} {self.operand(expr.right)}"
        if isinstance(expr, n.Between):
            text = (
                f"{self.operand(expr.operand)} between {self.operand(expr.low)} "
                f"and {self.operand(expr.high)}"
            )
            return text + self.bounds(expr.bounds, ("between", expr.span.start))
        if isinstance(expr, n.IsValue):
            return f"{self.operand(expr.operand)} is {'not ' if expr.negated else ''}{expr.word}"
        if isinstance(expr, n.InValues):
            start = expr.operand.span.end
            values = ", ".join(
                self.raw_string(v, start, expr.span.end, i) for i, v in enumerate(expr.values)
            )
            return f"{self.operand(expr.operand)} in ({values})"
        raise FormatError(f"internal error: cannot format {type(expr).__name__}")

    def bounds(self, bounds: str, key: tuple[str, int]) -> str:
        if bounds != "inclusive":
            return f" {bounds}"
        parsed = self.parsed.get(key)
        written = parsed is not None and any(
            isinstance(c, Tree) and c.data == "bounds" for c in parsed.children
        )
        return " inclusive" if written else ""

    def operand(self, operand: n.Operand) -> str:
        match operand:
            case n.QuantityLit():
                return self.quantity(operand)
            case n.TiterLit():
                return self.titer(operand)
            case n.LimitLit():
                return f"{self.number(operand.multiple, operand.span.start)} x {operand.limit}"
            case n.Aggregate():
                basis = f" as {operand.basis}" if operand.basis else ""
                op = "count distinct" if operand.distinct else operand.op
                return f"{op} {self.query(operand.query)}{basis}"
            case n.Exists():
                return self.exists(operand)
            case n.Age():
                return f"age at {self.anchor(operand.anchor)}"
            case n.Sex():
                return "sex"
            case n.DerivedValue():
                first = f" {operand.precedence} first" if operand.precedence else ""
                text = f"value {operand.function.dotted}{first} at {self.anchor(operand.anchor)}"
                if operand.tolerance is not None:
                    text += f" +/- {self.duration(operand.tolerance)}"
                return text
            case n.Ref():
                return operand.dotted
            case n.PercentOf() | n.Difference() | n.DailyDose() | n.NewGrades():
                return self.relative_operand(operand)
            case _:
                assert_never(operand)

    def exists(self, operand: n.Exists) -> str:
        parsed = self.parsed.get(("exists", operand.span.start))
        if operand.negated:
            quantifier = "no "
        elif operand.closed:
            quantifier = "known "
        elif parsed is not None and len(parsed.children) == 2:
            quantifier = "any "
        else:
            quantifier = ""
        return quantifier + self.query(operand.query)

    def quantity(self, quantity: n.QuantityLit) -> str:
        number = self.number(quantity.value, quantity.span.start)
        if quantity.unit is None or self.bare(quantity.span):
            return number
        if quantity.unit[:1].isdigit():  # a scaled unit: `0.5 x 10^9/L`
            return f"{number} x {quantity.unit}"
        return f"{number} {quantity.unit}"

    def titer(self, titer: n.TiterLit) -> str:
        match = _TITER.match(self.source, titer.span.start)
        if match and Fraction(match.group(1)) == titer.dilution:
            return match.group()
        return f"1:{fraction_text(titer.dilution)}"

    def duration(self, duration: n.DurationLike) -> str:
        if isinstance(duration, n.LongestDuration):
            return "max(" + ", ".join(self.duration(d) for d in duration.options) + ")"
        if isinstance(duration, n.HalfLives):
            text = f"{self.number(duration.count, duration.span.start)} half-lives"
            return text + (f" of {duration.drug.dotted}" if duration.drug is not None else "")
        number = self.number(duration.amount, duration.span.start)
        if self.bare(duration.span):
            return number
        match = _QUANTITY_UNIT.match(self.source, duration.span.start)
        written = match.group(1) if match else None
        unit = written if written and TIME_UNITS.get(written) == duration.unit else duration.unit
        return f"{number} {unit}"

    def window(self, window: n.Window) -> str:
        kind = window.kind
        anchor = self.anchor(window.anchor) if window.anchor is not None else ""
        if kind == "within":
            assert window.far is not None
            text = f"within {self.duration(window.far)}"
            return f"{text} {window.direction} {anchor}" if window.anchor is not None else text
        if kind == "between":
            assert window.near is not None and window.far is not None
            return (
                f"between {self.duration(window.near)} and {self.duration(window.far)} "
                f"{window.direction} {anchor}"
            )
        if kind == "at":
            tolerance = f" +/- {self.duration(window.near)}" if window.near is not None else ""
            return f"at {anchor}{tolerance}"
        if kind == "ever":
            return f"ever before {anchor}" if window.anchor is not None else "ever"
        if kind == "span":
            assert window.anchor_end is not None
            start = self.shifted(anchor, window.start_shift)
            end = self.shifted(self.anchor(window.anchor_end), window.end_shift)
            return f"from {start} to {end}"
        if kind == "open":
            assert window.far is not None
            how = "more than" if window.strict else "at least"
            return f"{how} {self.duration(window.far)} {window.direction} {anchor}"
        if kind == "age":
            assert window.far is not None
            how = "before" if window.direction == "before" else "from"
            return f"{how} age {self.duration(window.far)}"
        if kind == "during":
            return f"during {anchor}"
        return "any time"

    def anchor(self, anchor: n.Name) -> str:
        """A date as written: a name, a visit, `birth`, `it`, `end of ...`, or an event
        `(earliest KIND concept ... WINDOW)`."""
        if isinstance(anchor, n.EventAnchor) and anchor.query is not None:
            return f"({anchor.pick} {self.query(anchor.query)})"
        if isinstance(anchor, n.EndOf) and anchor.of is not None:
            return f"end of {self.anchor(anchor.of)}"
        return anchor.text

    def shifted(self, anchor: str, shift: n.Shift | None) -> str:
        if shift is None:
            return anchor
        return f"{self.duration(shift.duration)} {shift.direction} {anchor}"

    def query(self, query: n.Query) -> str:
        parsed = self.parsed.get(("query", query.span.start))
        if parsed is not None:
            kind = str(parsed.children[0].children[0])
            order = [c.data for c in parsed.children[2:-1]]
        else:  # pragma: no cover - every query has its parse tree
            kind = query.kind
            order = ["route", "dose", "new_start", "ended", "dose_change", "duration_req"]
            order += ["status", "any_period"]
            order += ["where"] * len(query.where) + ["value_filter"]
        words = [kind, query.concept.dotted]
        if query.same_type:
            words.append("of the same type")  # the grammar puts it right after the concept
        order = [q for q in order if q != "same_type"]
        group = {"dose_between": "dose", "where_in": "where", "value_is": "value_filter"}
        order = [group.get(q, q) for q in order]
        wheres = iter(query.where)
        for i, qualifier in enumerate(order):
            if qualifier == "where":
                words.append(self.where(next(wheres)))
            elif qualifier not in order[i + 1 :]:  # repeated: the last one counts
                text = self.qualifier(query, qualifier)
                if text:
                    words.append(text)
        words.append(self.window(query.window))
        return " ".join(words)

    def qualifier(self, query: n.Query, qualifier: str) -> str:
        if qualifier == "route":
            return "route " + ", ".join(query.routes)
        if qualifier == "status":
            return "status " + ", ".join(query.statuses)
        if qualifier == "new_start":
            return "new" if query.new_start else ""
        if qualifier == "ended":
            return "ended" if query.ended else ""
        if qualifier == "any_period" and query.period is not None:
            return f"in any {self.duration(query.period)}"
        if qualifier == "dose_change":
            return {"change": "with dose change", "stable": "with stable dose"}.get(
                query.dose_pattern or "", ""
            )
        if qualifier == "dose" and query.dose is not None:
            return self.dose(query.dose)
        if qualifier == "duration_req" and query.duration is not None:
            return self.duration_requirement(query.duration)
        if qualifier == "related":
            return self.related(query)
        if qualifier == "reason_for":
            return " ".join(f"for {r.dotted}" for r in query.reasons)
        if qualifier == "value_filter" and query.value is not None:
            value = query.value
            if value.op == "is":
                return f"value is {value.value}"
            assert not isinstance(value.value, str)
            return f"value {value.op} {self.operand(value.value)}"
        return ""

    def related(self, query: n.Query) -> str:
        """Every `with [no] (QUERY)` of the query, in order (they are one list)."""
        return " ".join(
            f"with {'no ' if r.negated else ''}({self.query(r.query)})" for r in query.related
        )

    def dose(self, dose: n.DoseFilter) -> str:
        if dose.op == "between":
            assert dose.high is not None
            text = f"dose between {self.quantity(dose.value)} and {self.quantity(dose.high)}"
            text += self.bounds(dose.bounds, ("dose_between", dose.span.start))
        else:
            text = f"dose {dose.op} {self.quantity(dose.value)}"
        return text + (f" as {dose.basis}" if dose.basis is not None else "")

    def duration_requirement(self, requirement: n.DurationRequirement) -> str:
        text = f"for at least {self.duration(requirement.duration)}"
        parsed = self.parsed.get(("duration_req", requirement.span.start))
        written = parsed is not None and any(
            isinstance(c, Tree) and c.data == "continuity" for c in parsed.children
        )
        if requirement.mode != "continuous" or written:
            text += f" {requirement.mode}"
        if requirement.gap is not None:
            text += f" allowing gaps of {self.duration(requirement.gap)}"
        return text

    # ------------------------------------------------------------------ outcomes
    # The `outcomes` section (docs/language.md, "Outcomes"): `outcomes [options]`, then each
    # outcome as a criterion is laid out, its options kept in the order written.
    def outcome_section(self, section: n.OutcomeSection, item: Tree[Any]) -> Iterator[Line]:
        options = [c for c in item.children if c.data != "outcome"]
        header = "outcomes" + self.outcome_options(options, section.timepoints, section.baseline)
        yield Line(header, item.meta.start_pos, True)
        outcomes = iter(section.outcomes)
        for child in item.children:
            if child.data == "outcome":
                yield from self.outcome(next(outcomes), child)

    def outcome(self, outcome: n.Outcome, item: Tree[Any]) -> Iterator[Line]:
        text = self.token_string(item.children[1], outcome.text)
        options = self.outcome_options(item.children[2:-1], outcome.timepoints, outcome.baseline)
        yield Line(f"  {outcome.id.text} {text}{options}:", outcome.span.start, True)
        yield from self.indented(outcome.expr, 4)

    def outcome_options(
        self, options: list[Any], timepoints: n.Timepoints | None, baseline: n.Name | None
    ) -> str:
        words = []
        for option in options:
            if option.data == "compared_to" and baseline is not None:
                words.append(f"compared to {baseline.text}")
            elif option.data == "at_visits" and timepoints is not None:
                names = zip(option.children, timepoints.visits, strict=False)
                words.append("at visits " + ", ".join(self.token_string(t, v) for t, v in names))
            elif option.data == "at_every_visit" and timepoints is not None:
                window = timepoints.window
                words.append("at every visit" + (f" {self.window(window)}" if window else ""))
        return "".join(" " + word for word in words)

    def relative_operand(
        self, operand: n.PercentOf | n.Difference | n.DailyDose | n.NewGrades
    ) -> str:
        if isinstance(operand, n.PercentOf):
            number = self.number(operand.percent, operand.span.start)
            return f"{number} % of {self.operand(operand.operand)}"
        if isinstance(operand, n.Difference):
            return f"{self.operand(operand.left)} - {self.operand(operand.right)}"
        if isinstance(operand, n.DailyDose):
            basis = f" as {operand.basis}" if operand.basis else ""
            return f"daily dose {operand.drug.dotted}{basis} at {self.anchor(operand.anchor)}"
        grades = ", ".join(quote(g) for g in operand.grades)
        reference = operand.reference
        assert reference.anchor is not None
        tolerance = f" +/- {self.duration(reference.near)}" if reference.near is not None else ""
        return (
            f"count new {grades} in {operand.kind} {operand.concept.dotted} "
            f"{self.window(operand.window)} compared to {self.anchor(reference.anchor)}{tolerance}"
        )

    def where(self, where: n.AttributeFilter) -> str:
        values: list[str] = []
        nth = 0
        for value in where.values:
            if isinstance(value, n.QuantityLit):
                values.append(self.quantity(value))
            elif isinstance(value, bool):
                values.append("true" if value else "false")
            else:
                values.append(self.raw_string(value, where.span.start, where.span.end, nth))
                nth += 1
        if where.op == "in":
            return f"where {where.name} in ({', '.join(values)})"
        return f"where {where.name} {where.op} {values[0]}"
