"""Every diagnostic about a rule file: one record per message, with its code, its templates and
its documentation (pyflakes' messages.py is the model).

A stage reports a problem by naming the message and filling its fields:

    cx.report(UNKNOWN_DATE, span, name="screenin", fix=...)

so a code is written once, here, and its words are in one place for the docs and the tests.
`CODES` titles every code as docs/diagnostics.md does; tests/test_messages.py checks that the
page lists exactly these codes, each with an anchor (`docs/diagnostics.md#c302`), and that no
module writes a code literally. A code may have several messages (C302: the things that cannot
be compared); a message never changes its code. Templates are `str.format` templates.
"""

from __future__ import annotations

from typing import Any

import attrs

from criteria_lang.core.diagnostics import Diagnostic, Edit, Severity, Span

DOCS = "docs/diagnostics.md"

# Every code, titled as the documentation's tables title it.
CODES: dict[str, str] = {
    "C001": "the rule file (or a module) cannot be read",
    "C002": "not a regular file",
    "C003": "a rule file larger than the limit",
    "C004": "a line longer than the limit",
    "C005": "a quoted text longer than the limit",
    "C006": "a number with more digits than the limit",
    "C007": "an expression nested deeper than the limit",
    "C100": "an unexpected word or symbol",
    "C101": "a character the language does not use",
    "C102": "the file ends in the middle of a statement",
    "C103": "a statement ends too early",
    "C110": "`at least N of` that cannot be met or is not a whole number",
    "C120": "a duration that is not in days, weeks, months or years",
    "C121": "a duration that is not whole days or calendar months",
    "C122": "`for at least` with a duration that is not plain",
    "C123": "`N UNIT of` that is not a percentage",
    "C124": "a duration longer than the limit",
    "C125": "a period of no days",
    "C126": "`around` at one end of a window",
    "C200": "an unknown name",
    "C201": "a date that is not one of the trial's dates",
    "C202": "a criterion id used twice",
    "C203": "a name declared twice",
    "C204": "a module that cannot be imported",
    "C205": "a concept of the wrong kind",
    "C206": "something that refers to itself",
    "C207": "a name a module does not have",
    "C208": "a name used where it cannot be",
    "C209": "criteria or outcomes without a trial header",
    "C210": "a second trial header",
    "C211": "two timepoint options or two `compared to` dates",
    "C212": "a module file refused",
    "C213": "a module that hides a shipped one",
    "C300": "an unknown unit",
    "C301": "a threshold in a unit of another kind",
    "C302": "things that cannot be compared",
    "C303": "`x ULN` on something that is not a result",
    "C304": "a qualifier that does not apply, or a dose without a dose unit",
    "C305": "a way of counting without `count`",
    "C306": "a value the patient's sex never has",
    "C307": "a range whose low end is above its high end",
    "C308": "a route the language does not know",
    "C311": "an attribute nothing can carry",
    "C312": "`is positive` on whether an event exists",
    "C310": "a conversion attribute that cannot be used",
    "C401": "a window with no date to count from",
    "C402": "an attribute no concept declares",
    "C403": "`visit` outside an outcome",
    "C404": "grades that are not declared",
    "C405": "half-lives in the visits an outcome is judged at",
    "C409": "`end of` or `during` a date that is not an event",
    "C410": "`it` outside `with (...)`",
    "C420": "a scheduled visit not counted before or after a date in plain durations",
    "C421": "a visit scheduled twice",
    "C422": "`reported first` or `computed first` on a derived value that no site reports",
}


def anchor(code: str) -> str:
    """Where a code is documented: `docs/diagnostics.md#c302`."""
    return f"{DOCS}#{code.lower()}"


@attrs.frozen
class Message:
    code: str
    message: str  # template
    fix: str = ""  # template
    severity: Severity = "error"

    @property
    def docs(self) -> str:
        return anchor(self.code)

    def about(self, prefix: str) -> Message:
        """The same message said of something (`module 'labs': ...`): same code, same fix."""
        return attrs.evolve(
            self, message=prefix.replace("{", "{{").replace("}", "}}") + self.message
        )

    def at(
        self, file: str, span: Span, *, edits: tuple[Edit, ...] = (), **fields: Any
    ) -> Diagnostic:
        """The diagnostic, its templates filled with `fields`."""
        return Diagnostic(
            self.code,
            self.severity,
            self.message.format(**fields),
            self.fix.format(**fields),
            file,
            span,
            edits=edits,
        )


# ------------------------------------------------------------ reading and syntax (C0xx, C1xx)

CANNOT_READ = Message(
    "C001", "cannot read the {what}: {reason}", "check the path and that the file is UTF-8 text"
)
CANNOT_READ_OPEN_FILE = Message("C001", "cannot read the {what}: {reason}", "check the file")
NOT_UTF8 = Message(
    "C001", "the {what} is not UTF-8 text (byte {byte} cannot be read)", "save the file as UTF-8"
)
CANNOT_READ_SHIPPED = Message("C001", "cannot read the module: {reason}", "reinstall")
NOT_A_REGULAR_FILE = Message(
    "C002", "the {what} is {kind}, not a regular file: it is not read", "name a .crit file"
)
TOO_MANY_BYTES = Message(
    "C003",
    "the {what} is larger than {limit:,} bytes: it is not read",
    "split it into modules (docs/limits.md)",
)
TOO_MANY_CHARACTERS = Message(
    "C003",
    "the rule file has {chars:,} characters, more than the limit of {limit:,}",
    "split it into modules (docs/limits.md)",
)
LINE_TOO_LONG = Message(
    "C004",
    "a line of {chars:,} characters, more than the limit of {limit:,}",
    "break the line (a long quoted text can span lines inside triple quotes)",
)
TEXT_TOO_LONG = Message(
    "C005",
    "a quoted text of {chars:,} characters, more than the limit of {limit:,}",
    "shorten the text; criteria quote the registry, not whole documents",
)
NUMBER_TOO_LONG = Message(
    "C006",
    "a number of {digits:,} digits, more than the limit of {limit}",
    "write the number with fewer digits",
)
NESTED_TOO_DEEP = Message(
    "C007",
    "an expression nested more than {limit} levels deep",
    "name parts of it with `define` and use the names",
)
DEFINITIONS_TOO_DEEP = Message(
    "C007",
    "{what} is nested {depth} levels deep, counting the definitions it uses (the limit is {limit})",
    "write fewer definitions that each use the one before",
)
FILE_ENDS_IN_STATEMENT = Message(
    "C102",
    "the file ends in the middle of a statement",
    "finish the statement; expected {expected}",
)
FILE_ENDS_EARLY = Message("C102", "the file ends too early", "finish the statement")
UNEXPECTED = Message("C100", "unexpected {what}", "expected {expected} here")
UNEXPECTED_CHARACTER = Message("C101", "unexpected character {char}", "expected {expected} here")
STRAY_CHARACTER = Message(
    "C101",
    "unexpected character {char}",
    "remove the character or put the text in double quotes",
)
STATEMENT_ENDS_EARLY = Message(
    "C103",
    "this statement ends too early: the next line starts a new one",
    "finish the expression (e.g. the value after a comparison) or remove the dangling word",
)
AT_LEAST_NOT_WHOLE = Message(
    "C110",
    "`at least {count} of` needs a whole number",
    "write a whole number of criteria, e.g. `at least 4 of (...)`",
)
AT_LEAST_NEVER_MET = Message(
    "C110",
    "at least {count} of {items} can never be met",
    "lower the number or add the missing criteria",
)
NOT_A_NEAR_DURATION = Message(
    "C120",
    "'{text}' is not a duration",
    "write the window's near end in days, weeks, months or years",
)
NOT_A_DURATION = Message(
    "C120",
    "'{text}' is not a duration",
    "write a duration in days, weeks, months or years, e.g. `6 months`",
)
NOT_WHOLE_DURATION = Message(
    "C121",
    "{amount} {unit} is not a whole number of {whole}",
    "windows count whole days and calendar months; write e.g. `45 days` instead of `1.5 months`",
)
RUN_NOT_PLAIN = Message(
    "C122",
    "`for at least` and `allowing gaps of` take a plain duration",
    "write days, weeks, months or years, e.g. `for at least 90 days`",
)
DURATION_TOO_LONG = Message(
    "C124",
    "{amount} {unit} is longer than {years} years, the longest duration a rule may write",
    "write a shorter duration; `ever` or `any time` for no limit",
)
NOT_A_PERCENTAGE = Message(
    "C123", "'{text} of' is not a percentage", "write a percentage of a value as `80 % of <value>`"
)

# ---------------------------------------------------------------------- names and structure (C2xx)

UNKNOWN_NAME = Message("C200", "unknown {what} '{name}'", "did you mean '{hint}'?")
UNKNOWN_NAME_NO_HINT = Message(
    "C200", "unknown {what} '{name}'", "declare the {what} or import it from stdlib"
)
UNKNOWN_INDEX_DATE = Message(
    "C201",
    "the index date '{name}' is not one of the trial's dates",
    "add it to `dates` or use one of: {dates}",
)
UNKNOWN_DATE = Message("C201", "'{name}' is not one of the trial's dates", "did you mean '{hint}'?")
UNKNOWN_DATE_NO_HINT = Message(
    "C201", "'{name}' is not one of the trial's dates", "use one of: {dates}"
)
DUPLICATE_CRITERION = Message(
    "C202",
    "criterion id '{ident}' is used twice (first at line {line})",
    "give every criterion its own id; ids are how results name criteria",
)
DECLARED_TWICE = Message(
    "C203", "'{name}' is declared twice", "rename one of them; every name in a file must be unique"
)
DATE_TWICE = Message("C203", "date '{name}' is listed twice", "list it once")
NO_MODULE = Message(
    "C204",
    "no module '{module}' to import",
    "check the name; modules are files under stdlib/ (looked in: {searched})",
)
CANNOT_READ_MODULE = Message("C204", "cannot read module '{module}'")
MEMBER_OF_OTHER_KIND = Message(
    "C205",
    "'{name}' is a {member_kind} concept, not a {kind}",
    "a {kind} set may only contain {kind} concepts",
)
QUERY_OF_OTHER_KIND = Message(
    "C205", "'{name}' is a {kind} concept, not a {expected}", "write `{keyword} {name}`"
)
NOT_A_DRUG = Message(
    "C205", "'{name}' is not a drug", "a daily dose is of a drug or a class of drugs"
)
MODULE_IMPORTS_ITSELF = Message(
    "C206",
    "module '{module}' imports itself (directly or through another module)",
    "move the shared declarations to a module both can import",
)
CONCEPT_INCLUDES_ITSELF = Message(
    "C206", "concept '{name}' includes itself", "remove the circular reference"
)
DEFINITION_REFERS_TO_ITSELF = Message(
    "C206",
    "definition '{name}' refers to itself",
    "a definition cannot use itself, directly or through another",
)
OUTCOME_REFERS_TO_ITSELF = Message(
    "C206",
    "outcome '{name}' refers to itself",
    "an outcome cannot use itself, directly or through another outcome",
)
MODULE_HAS_NO_NAME = Message("C207", "module '{module}' has no '{name}'", "did you mean '{hint}'?")
MODULE_HAS_NO_NAME_NO_HINT = Message(
    "C207", "module '{module}' has no '{name}'", "see {path} for what it declares"
)
CONCEPT_AS_CONDITION = Message(
    "C208",
    "'{name}' is a concept, not a condition or a value",
    "query it, e.g. `any {keyword} {name} within 6 months before <date>`",
)
NOT_USABLE_HERE = Message(
    "C208", "'{name}' cannot be used here", "use a definition, a query or a value"
)
NOT_A_CONCEPT = Message(
    "C208",
    "'{name}' is not a concept",
    "query a concept declared with condition/drug/lab/... or imported from stdlib",
)
OUTCOME_OUTSIDE_OUTCOMES = Message(
    "C208",
    "'{name}' is an outcome: only other outcomes can use it",
    "repeat its expression in a definition that both use",
)
CRITERIA_WITHOUT_TRIAL = Message(
    "C209",
    "criteria without a trial header",
    'start the file with `trial "NCT..."` and the trial\'s `dates`',
)
OUTCOMES_WITHOUT_TRIAL = Message(
    "C209",
    "outcomes without a trial header",
    'start the file with `trial "NCT..."` and the trial\'s `dates`',
)
SECOND_TRIAL = Message("C210", "a second trial header", "keep one `trial` header per rule file")
TWO_BASELINES = Message("C211", "{where} has two `compared to` dates", "keep one")
TWO_TIMEPOINTS = Message(
    "C211",
    "{where} has two timepoint options",
    'keep one: `at visits "week 24", ...` or `at every visit [window]`',
)
MODULE_REFUSED = Message(
    "C212",
    "module '{module}' ({path}) is refused: {why}",
    "keep module files inside the folders of the search path (docs/limits.md)",
)
MODULE_HIDES_SHIPPED = Message(
    "C213",
    "module '{module}' is {path}, which hides the shipped {twin}",
    "rename the local module, or remove it to use the shipped one",
    severity="warning",
)

# ---------------------------------------------------------------------- types and units (C3xx)

UNKNOWN_UNIT = Message("C300", "{error}", "write a unit from docs/units.md")
# `why` is empty or ": " and the reason (a valence the concept lacks, ratios of different
# kinds); `fix` names units of the concept's kind (check/unit_checks.py).
UNIT_OF_OTHER_KIND = Message(
    "C301",
    "{what} is measured in {unit} ({dimension}) but is compared with {other} "
    "({other_dimension}){why}",
    "{fix}",
)
VALUE_UNIT_OF_OTHER_KIND = Message(
    "C301",
    "'{name}' is measured in {unit} ({dimension}), not {other_dimension}{why}",
    "{fix}",
)
CONVERSION_ATTRIBUTE = Message("C310", "{error}", "{fix}")
NOT_A_CONDITION = Message(
    "C302",
    "{what} is not a condition",
    "compare it with something, e.g. `... > 2 mg/dL` or `... is positive`",
)
WORD_ON_A_NUMBER = Message(
    "C302",
    "`is {word}` needs a coded result, and this is {what}",
    "compare the number with a threshold instead",
)
IN_ON_A_NUMBER = Message(
    "C302", "`in (...)` needs a coded result, and this is {what}", "use a comparison for numbers"
)
CONDITION_COMPARED = Message(
    "C302",
    "a condition cannot be compared with a value",
    "compare values (e.g. `latest lab x ... > 2 mg/dL`), or combine conditions with and/or",
)
CUMULATIVE_OF_OTHER_KIND = Message(
    "C302", "`cumulative` adds up medication doses", "use `sum` for other values"
)
NO_VALUES_TO_AGGREGATE = Message(
    "C302", "`{op}` needs values, and {kind}s have none", "use `count`, `any` or `no`"
)
PERCENT_OF_NON_NUMBER = Message(
    "C302",
    "a percentage of {what} has no meaning",
    "take a percentage of a number, e.g. `80 % of latest lab egfr at baseline`",
)
CANNOT_SUBTRACT = Message(
    "C302",
    "{what} cannot be subtracted",
    "subtract numbers or quantities, e.g. `latest score x at baseline - latest score x at visit`",
)
NEW_GRADES_WITHOUT_GRADES = Message(
    "C302",
    "`count new` reads graded results, and a {kind} has none",
    "count new grades of a score, observation or lab (e.g. BILAG domains)",
)
LIMIT_NOT_ON_RESULT = Message(
    "C303",
    "`x ULN` needs a lab result, which carries its own reference range",
    "compare a `latest lab ...` (or min/max) with the multiple of ULN",
)
ONLY_FOR_MEDICATIONS = Message("C304", "`{qualifier}` applies to medications", "remove it")
RUN_ONLY_FOR_MEDICATIONS = Message(
    "C304",
    "`for at least` applies to medication exposures and results",
    "remove it, or query a medication or a result",
)
ENDED_ONLY_FOR_MEDICATIONS = Message("C304", "`ended` applies to medication exposures", "remove it")
DOSE_WITHOUT_UNIT = Message(
    "C304", "a dose threshold needs a unit", "write the unit, e.g. `dose >= 6 mg/day`"
)
NOT_A_DOSE_UNIT = Message(
    "C304",
    "'{unit}' is not a dose unit ({dimension})",
    "write a dose as an amount (mg, IU), an amount per day/week/month, per kg (mg/kg, "
    "mg/kg/day) or per body surface (mg/m2)",
)
DISTINCT_WITH_SAME_TYPE = Message(
    "C305",
    "`count distinct` counts the types; `of the same type` and `in any` count within one type",
    "write `count distinct QUERY` alone, or `count QUERY of the same type ...`",
)
COUNTING_WITHOUT_COUNT = Message(
    "C305",
    "`of the same type` and `in any` say how to count events",
    "write `count` before the query, e.g. `count condition x of the same type in any 12 months "
    "ever before <date> >= 3`",
)

# ---------------------------------------------------------------------- time and outcomes (C4xx)

NO_DATE_TO_COUNT_FROM = Message(
    "C401",
    "this window has no date to count from and the trial has no index date",
    "name a date (`before screening`) or declare `index <date>` in the trial",
)
NO_DRUG_DECLARES = Message(
    "C402",
    "no drug in '{name}' declares '{attribute}'",
    "declare `with {attribute} = ...` on its drugs in the stdlib",
)
NO_HALF_LIFE = Message(
    "C402",
    "'{name}' declares no half_life",
    "declare `with half_life = ... h` on '{name}' (cite the source)",
)
VISIT_OUTSIDE_OUTCOME = Message(
    "C403",
    "{what}; it has a meaning only in an outcome",
    'use it in the `outcomes` section, or name a date (`at baseline`, `at visit "week 24"`)',
)
NO_ORDER_OF_GRADES = Message(
    "C404",
    "'{name}' declares no order of grades",
    "declare `with grades = \"A, B, C, D, E\"` (most severe first) on '{name}' or on '{whole}'",
)
NOT_A_GRADE = Message("C404", "'{grade}' is not a grade of '{name}'", "use one of: {grades}")
HALF_LIVES_IN_TIMEPOINTS = Message(
    "C405",
    "the visits an outcome is judged at are counted in days, weeks, months or years",
    "write the window without half-lives, e.g. `within 24 weeks after baseline`",
)

# ------------------------------------------------------------ issue 14 (docs/language.md)

PERIOD_OF_NO_DAYS = Message(
    "C125",
    "`in any 0 {unit}`: a period of no days holds no case",
    "write the period the protocol gives, e.g. `in any 12 months`",
)
AROUND_AT_AN_END = Message(
    "C126",
    "`around` cannot place one end of a window",
    "write `before` or `after`, e.g. `from 4 weeks before screening to randomization`",
)
NEVER_THE_SEX = Message(
    "C306", "'{value}' is never the patient's sex, which is one of: {sexes}", 'write "{hint}"'
)
NEVER_THE_SEX_NO_HINT = Message(
    "C306", "'{value}' is never the patient's sex, which is one of: {sexes}", "use one of: {sexes}"
)
REVERSED_RANGE = Message(
    "C307",
    "`between {low} and {high}` is a range whose low end is above its high end: nothing is in it",
    "write the low end first: `between {fixed_low} and {fixed_high}`",
)
UNKNOWN_ROUTE = Message(
    "C308", "'{route}' is not a route the language knows", "did you mean '{hint}'?"
)
UNKNOWN_ROUTE_NO_HINT = Message(
    "C308", "'{route}' is not a route the language knows", "use one of: {routes}"
)
UNDECLARED_ATTRIBUTE = Message(
    "C311",
    "no {kind} records an attribute '{name}': neither the kind nor '{concept}' declares it",
    '{hint}{carried}or declare it on the concept: `with attributes = "{name}"`',
)
REASON_IS_FOR = Message(
    "C311",
    "a reason is a coded concept, read by `for`, not by `where reason`",
    "write `for <concept>`, e.g. `{kind} {concept} for conditions.heart_failure ...`",
)
NO_REASON_RECORDED = Message(
    "C304",
    "`for` reads the reason a record gives, and a {kind} has none",
    "use `for` on a medication, procedure or immunization; relate other events with `with (...)`",
)
PERSISTENCE_IS_ONE_RUN = Message(
    "C304",
    "a result persists without a gap: `total` and `allowing gaps of` apply to exposures",
    "write `for at least D` alone, e.g. `lab hbsag value is positive for at least 6 months ...`",
)
TREND_OF_OTHER_KIND = Message(
    "C302",
    "`{op}` reads a series of results, and a {kind} has none",
    "use it on a lab, observation or score, e.g. `doubling time lab psa ever before screening`",
)
SUM_OF_DOSES = Message(
    "C302",
    "`sum medication` would add up daily doses (mg/day), not the doses given",
    "write `cumulative medication ...` for the total dose given in the window",
)
WORD_ON_EXISTENCE = Message(
    "C312",
    "`{query} is {word}` asks whether such an event exists, not what its value says: a "
    "negative result exists too",
    "write `{query_value}` (any result {word}) or `latest {query} is {word}` (the latest result)",
)
NOT_AN_EVENT = Message(
    "C409",
    "`{what} {name}`: '{name}' is a date, not an event, and has no last day",
    "name an event: `(earliest procedure x ever before screening)`, a definition that picks one "
    "with `earliest`/`latest`, or `it`",
)
IT_OUTSIDE_WITH = Message(
    "C410",
    "`it` is the event a `with (...)` query relates to; there is none here",
    "use `it` inside `with (...)`, e.g. `procedure hospitalization with (condition "
    "heart_failure during it) within 12 months before screening`",
)
SCHEDULE_AROUND = Message(
    "C420",
    "visit '{name}' is scheduled around a date; its target is before or after it",
    'write `visit "{name}" at <duration> after <date> +/- <days>`',
)
SCHEDULE_NOT_PLAIN = Message(
    "C420",
    "the target and window of visit '{name}' are counted in days, weeks, months or years",
    "write them without max(...) or half-lives, e.g. `at 12 months after baseline +/- 14 days`",
)
VISIT_SCHEDULED_TWICE = Message(
    "C421",
    "visit '{name}' is scheduled twice (first at line {line})",
    "schedule each visit once; names are compared ignoring case and repeated spaces",
)

NOTHING_REPORTED = Message(
    "C422",
    "'{name}' has no reported counterpart: `{precedence} first` has nothing to choose from",
    "drop `{precedence} first`; values that have one: {reported}",
)

MESSAGES: tuple[Message, ...] = tuple(v for v in list(globals().values()) if isinstance(v, Message))
