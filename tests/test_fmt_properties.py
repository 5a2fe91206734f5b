"""Properties over generated rule files: formatting is idempotent and never changes meaning, and
neither `criteria fmt` nor `criteria lint` crashes on any text.

The generator builds valid rule files from the grammar's constructs as token lists, then joins
the tokens with random whitespace, line breaks and comments.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from criteria_lang.syntax.build import build
from criteria_lang.syntax.parse import parse_text
from criteria_lang.tools.fmt import FormatError, format_text
from criteria_lang.tools.lint import lint_text

Tokens = list[str]
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def seq(*parts: st.SearchStrategy[Tokens] | Tokens) -> st.SearchStrategy[Tokens]:
    """Concatenate token lists (fixed lists or strategies)."""
    strategies = [p if isinstance(p, st.SearchStrategy) else st.just(p) for p in parts]
    return st.tuples(*strategies).map(lambda lists: [t for tokens in lists for t in tokens])


def maybe(part: st.SearchStrategy[Tokens] | Tokens) -> st.SearchStrategy[Tokens]:
    return st.one_of(st.just([]), part if isinstance(part, st.SearchStrategy) else st.just(part))


def one(*choices: str) -> st.SearchStrategy[Tokens]:
    """One of several token sequences, written with spaces between tokens (`~`: a space inside
    a token, as in the quantity `6~months`)."""
    return st.sampled_from(choices).map(lambda text: [t.replace("~", " ") for t in text.split(" ")])


# ---------------------------------------------------------------------------- values and windows

DATES = ("screening", "baseline")
date = st.sampled_from(DATES).map(lambda d: [d])
duration = one("6~months", "3~mo", "90~days", "2~weeks", "1~year", "12~wk")
longest = seq(["max", "(", "3 months", ",", "5", "half-lives", ")"])
window = st.one_of(
    seq(["within"], st.one_of(duration, longest), one("before", "after", "around"), date),
    seq(["within"], duration),
    seq(["between", "4", "and", "12 weeks"], one("before", "after"), date),
    seq(["at"], date, maybe(seq(one("+/-", "±"), duration))),
    seq(["ever"], maybe(seq(["before"], date))),
    seq(["from"], date, ["to"], date),
    st.just(["any", "time"]),
)
string_text = st.text(
    alphabet=st.characters(blacklist_characters='"\\\n\r', blacklist_categories=("Cs",)),
    max_size=12,
)
string = st.one_of(
    string_text.map(lambda s: [f'"{s}"']),
    string_text.map(lambda s: [f'"{s} \\"quoted\\""']),
)
comparator = one("<", "<=", ">", ">=", "=", "!=")
lab_threshold = one("3~g/dL", "1.20~g/dL", "30", "2 x ULN", "0.5 x 10^9/L", "600~umol/L")


# ------------------------------------------------------------------------ queries and predicates

medication = seq(
    one("medication", "drug"),
    one("aza", "steroid"),
    maybe(one("route oral", "route oral , intravenous")),
    maybe(
        one("dose > 5~mg/day", "dose between 1 and 2~mg/kg/day exclusive", "dose >= 6~mg/day as pe")
    ),
    maybe(["new"]),
    maybe(
        one(
            "for at least 90~days",
            "for at least 3~months total allowing gaps of 7~days",
            "for at least 28~days continuous",
        )
    ),
    maybe(one("with stable dose", "with dose change")),
    maybe(one("status active", "status active , resolved")),
    window,
)
condition = seq(
    ["condition", "inf"],
    maybe(["status", "active"]),
    maybe(one('where cls in ( "III" , "IV" )', "where size >= 5~mm")),
    window,
)
lab_query = seq(["lab", "alb"], maybe(seq(["value"], comparator, lab_threshold)), window)
fact_query = seq(["fact", "preg"], window)
query = st.one_of(medication, condition, lab_query, fact_query)

predicate = st.one_of(
    seq(maybe(one("any", "no")), query),
    seq(
        one("latest", "earliest", "nearest", "max"),
        ["lab", "alb"],
        window,
        comparator,
        lab_threshold,
    ),
    seq(["count"], medication, comparator, one("2", "4")),
    seq(
        ["latest", "lab", "alb"],
        window,
        ["between", "3", "and", "5 g/dL"],
        maybe(one("exclusive", "left-inclusive", "inclusive")),
    ),
    seq(
        ["latest", "lab", "alb"],
        window,
        ["is"],
        maybe(["not"]),
        one("positive", "negative", "present"),
    ),
    seq(["age", "at"], date, comparator, one("18~years", "216~months")),
    seq(["value", "bmi", "at"], date, maybe(["+/-", "30 days"]), comparator, ["30 kg/m2"]),
    seq(["sex", "in", "(", '"female"', ",", '"other"', ")"]),
    seq(["latest", "lab", "ana"], window, [">=", "1:80"]),
    seq(["review"], string),
    st.just(["d1"]),
)


def compound(inner: st.SearchStrategy[Tokens]) -> st.SearchStrategy[Tokens]:
    def joined(word: str) -> st.SearchStrategy[Tokens]:
        return st.lists(inner, min_size=2, max_size=4).map(
            lambda items: [t for i, item in enumerate(items) for t in ([word] if i else []) + item]
        )

    def at_least(items: list[Tokens], count: int) -> Tokens:
        tokens = ["at", "least", str(min(count, len(items))), "of", "("]
        for i, item in enumerate(items):
            tokens += ([","] if i else []) + item
        return tokens + [")"]

    return st.one_of(
        joined("and"),
        joined("or"),
        inner.map(lambda e: ["not"] + e),
        inner.map(lambda e: ["("] + e + [")"]),
        st.builds(at_least, st.lists(inner, min_size=1, max_size=3), st.integers(0, 3)),
        st.tuples(inner, inner, inner).map(
            lambda t: ["if", *t[0], "then", *t[1], "else", *t[2], "end"]
        ),
    )


expression = st.recursive(predicate, compound, max_leaves=8)


# ---------------------------------------------------------------------------- statements and files

trial = seq(
    ["trial"],
    string,
    maybe(seq(["title"], string)),
    ["dates", "screening", ",", "baseline"],
    maybe(seq(["index"], date)),
)
imports = maybe(one("import labs as l", "from conditions import sle , ckd", "import drugs"))
concepts = st.just(
    [
        "lab",
        "alb",
        '"Albumin"',
        "=",
        'loinc "1751-7"',
        "|",
        'loinc "61151-7"',
        "lab",
        "ana",
        "=",
        'loinc "5048-4"',
        "with",
        "unit",
        "=",
        "titer",
        "fact",
        "preg",
        "=",
        'local "pregnant"',
        "drug",
        "aza",
        "=",
        'rxnorm "1256"',
        "with",
        "half_life",
        "=",
        "5 h",
        ",",
        "pe",
        "=",
        "1",
        "medication",
        "steroid",
        "=",
        "aza",
        "|",
        'atc "H02AB*"',
        "condition",
        "inf",
        "=",
        'snomed "1"',
        "|",
        'icd10 "A*"',
        "except",
        'icd10 "A01"',
        "drug",
        "open",
        "=",
        "{",
        "}",
    ]
)
define = seq(["define", "d1"], maybe(string), ["="], expression)


def criteria_of(section: str) -> st.SearchStrategy[Tokens]:
    def criterion(index: int) -> st.SearchStrategy[Tokens]:
        return seq([f"{section[0].upper()}{index}"], string, [":"], expression)

    return st.integers(1, 3).flatmap(
        lambda count: st.tuples(*[criterion(i) for i in range(1, count + 1)]).map(
            lambda items: [section] + [t for item in items for t in item]
        )
    )


rule_file_tokens = seq(
    trial,
    imports,
    concepts,
    define,
    criteria_of("inclusion"),
    maybe(criteria_of("exclusion")),
)

separator = st.sampled_from(
    [" ", " ", " ", "  ", "\n", "\n  ", "\n\n    ", " \t", "  # a comment\n", "\n# own line\n  "]
)


def _bare_number(token: str) -> bool:
    return token.replace(".", "", 1).isdigit()


@st.composite
def rule_files(draw: st.DrawFn) -> str:
    tokens = draw(rule_file_tokens)
    out = [draw(st.sampled_from(["", "# header\n\n", "\n"]))]
    for i, token in enumerate(tokens):
        out.append(token)
        if i < len(tokens) - 1:
            gap = draw(separator)
            if _bare_number(token) and "\n" not in gap:
                gap = "\n"  # `3 I2` would read as a quantity with the unit I2
            out.append(gap)
    out.append(draw(st.sampled_from(["\n", "", "  # last\n"])))
    return "".join(out)


def meaning(text: str) -> object:
    tree, diagnostics = parse_text(text, "gen.crit")
    assert tree is not None and not diagnostics, (diagnostics, text)
    rule_file, built = build(tree, "gen.crit")
    assert not built, (built, text)
    return rule_file


@SETTINGS
@given(rule_files())
def test_fmt_is_idempotent_and_keeps_meaning(text: str) -> None:
    before = meaning(text)
    once = format_text(text, "gen.crit")
    assert format_text(once, "gen.crit") == once
    assert meaning(once) == before
    assert once.count("#") == text.count("#")


@SETTINGS
@given(rule_files())
def test_lint_runs_on_generated_files(text: str) -> None:
    lint_text(text, "gen.crit")


def _mutate(text: str, data: st.DataObject) -> str:
    if not text:
        return text
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start, min(len(text), start + 20)))
    insert = data.draw(st.text(alphabet='()"#:,=|\n x1aI', max_size=5))
    return text[:start] + insert + text[end:]


@SETTINGS
@given(st.one_of(st.text(max_size=200), rule_files()), st.data())
def test_fmt_and_lint_never_crash(text: str, data: st.DataObject) -> None:
    for candidate in (text, _mutate(text, data)):
        lint_text(candidate, "any.crit")
        try:
            out = format_text(candidate, "any.crit")
        except FormatError as error:
            assert "internal error" not in str(error), (str(error), candidate)
        else:
            assert format_text(out, "any.crit") == out
