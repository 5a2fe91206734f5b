"""Routes of administration: the one table of their names, the words records use for them, and
their codes (docs/language.md, "Routes").

A rule names a route by its name (`route oral, intravenous`) or by a group (`route parenteral`).
A record's route is matched through this table: as text (`iv`, `IV`, `Intravenous route`,
`intravenous use`, `i.v.`), or as a code of SNOMED CT (the "Route of administration value"
hierarchy that FHIR's route value sets use) or of the EDQM Standard Terms (routes of
administration, as European product data and the EU FHIR guides code them). A route that is not
in the table cannot be matched to any name: a route-restricted query is then undecided for that
event, as it is when the record gives no route at all ("missing is not no").

Sources, each code confirmed against a published copy:
  SNOMED CT: the route concepts listed in the OncoFAIR FHIR implementation guide's SNOMED CT code
    system (github.com/ONCOFAIR/FHIR-ImplementationGuide-Article,
    input/fsh/OncoFAIR/CodeSystems/SNOMEDCTOncoFAIRCodeSystem.fsh, "administration route") and
    in DICOM CID 11 "Administration Route" as a FHIR value set
    (github.com/bvdh/dicom-terminology-in-fhir, ValueSet-dicom-cid-11-AdministrationRoute.fsh:
    446406008 By inhalation, 372464004 Intracutaneous/intradermal route).
  EDQM Standard Terms, routes of administration (ROA): the HL7 Europe UNICOM guide's value set
    "EDQM Route of Administration" (github.com/hl7-eu/unicom-ig, commit 20fc5214,
    input/fsh/value-set/edqm/RouteOfAdministration.fsh), from https://standardterms.edqm.eu.
"""

from __future__ import annotations

import re

import attrs


@attrs.frozen
class Route:
    """One route: its name in rules, the words records write for it, its codes."""

    name: str
    words: tuple[str, ...] = ()
    snomed: tuple[str, ...] = ()
    edqm: tuple[str, ...] = ()


ROUTES: tuple[Route, ...] = (
    Route("oral", ("po", "p.o.", "per os", "by mouth", "orally"), ("26643006",), ("20053000",)),
    Route("sublingual", ("sl", "s.l."), ("37839007",), ("20067000",)),
    Route("buccal", (), ("54471007",), ("20002500",)),
    Route(
        "intravenous",
        ("iv", "i.v.", "ivi", "iv infusion", "iv bolus", "iv push", "intravenously"),
        ("47625008",),
        ("20045000",),
    ),
    Route("intramuscular", ("im", "i.m.", "intramuscularly"), ("78421000",), ("20035000",)),
    Route(
        "subcutaneous",
        ("sc", "s.c.", "sq", "s.q.", "subq", "sub-q", "subcut", "subcutaneously"),
        ("34206005",),
        ("20066000",),
    ),
    Route("intradermal", ("id", "intracutaneous"), ("372464004",), ("20030000",)),
    Route("intra_arterial", ("ia", "intraarterial"), ("58100008",), ("20023000",)),
    Route("intra_articular", ("intraarticular",), ("12130007",), ("20024000",)),
    Route("intrathecal", ("it",), ("72607000",), ("20042000",)),
    Route("intraperitoneal", ("ip",), ("38239002",), ("20038000",)),
    Route("topical", ("cutaneous", "dermal", "skin", "top"), ("6064005",), ("20003000",)),
    Route("transdermal", ("td", "patch"), ("45890007",), ("20070000",)),
    Route(
        "inhaled",
        ("inhalation", "inh", "by inhalation", "inhal", "respiratory"),
        ("446406008",),
        ("20020000",),
    ),
    Route("nasal", ("intranasal", "nas"), ("46713006",), ("20049000",)),
    Route("ophthalmic", ("ocular", "eye", "oph"), ("54485002",), ("20051000",)),
    Route("otic", ("auricular", "ear"), ("10547007",), ("20001000",)),
    Route("rectal", ("pr", "per rectum", "p.r."), ("37161004",), ("20061000",)),
    Route("vaginal", ("pv", "per vagina"), ("16857009",), ("20072000",)),
    Route("intravitreal", (), (), ("20047000",)),
    Route("intravesical", (), (), ("20046000",)),
)

# Groups a rule may name: the routes they hold. "Parenteral" is by injection or infusion,
# bypassing the gut; "systemic" is given to act on the whole body: by mouth (swallowed,
# sublingual, buccal) or parenterally -- not topical, inhaled, nasal, ophthalmic, otic, rectal or
# vaginal use, which protocols name when they mean them.
ROUTE_GROUPS: dict[str, tuple[str, ...]] = {
    "parenteral": ("intravenous", "intramuscular", "subcutaneous", "intradermal", "intra_arterial"),
    "systemic": (
        "oral",
        "sublingual",
        "buccal",
        "intravenous",
        "intramuscular",
        "subcutaneous",
        "intra_arterial",
    ),
}

ROUTE_NAMES: tuple[str, ...] = tuple(r.name for r in ROUTES)

_BY_WORD: dict[str, str] = {}
for _route in ROUTES:
    for _word in (
        _route.name,
        _route.name.replace("_", "-"),
        _route.name.replace("_", ""),
        *_route.words,
    ):
        _BY_WORD[_word.casefold()] = _route.name
_BY_CODE: dict[tuple[str, str], str] = {
    **{("snomed", code): r.name for r in ROUTES for code in r.snomed},
    **{("edqm", code): r.name for r in ROUTES for code in r.edqm},
}

# "Oral route (qualifier value)", "Intravenous use", "route: oral": the words around a route.
_DECORATION = re.compile(r"\s*\([^)]*\)\s*$|\s+(?:route|use|administration)$|^route[:\s]+")


def route_of_text(text: str) -> str | None:
    """The route a record's text names (`IV`, `Oral route (qualifier value)`), or None."""
    word = " ".join(text.split()).casefold()
    found = _BY_WORD.get(word)
    if found is not None:
        return found
    stripped = word
    for _ in range(3):
        stripped = _DECORATION.sub("", stripped).strip()
    return _BY_WORD.get(stripped)


def route_of_code(system: str, code: str) -> str | None:
    """The route a SNOMED CT (`snomed`) or EDQM Standard Terms (`edqm`) code names, or None."""
    return _BY_CODE.get((system, code.strip()))


def expand(names: tuple[str, ...]) -> tuple[str, ...]:
    """Route names and groups (as a rule writes them, any case) -> the route names they hold."""
    out: list[str] = []
    for name in names:
        key = name.casefold()
        for route in ROUTE_GROUPS.get(key, (route_of_text(key) or key,)):
            if route not in out:
                out.append(route)
    return tuple(out)


def is_route_word(name: str) -> bool:
    """Can a rule name this route (or group)?"""
    key = name.casefold()
    return key in ROUTE_GROUPS or route_of_text(key) is not None
