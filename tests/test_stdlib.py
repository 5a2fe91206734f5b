"""The standard library of clinical definitions (stdlib/*.crit).

Every module compiles without diagnostics; every code has the shape of its code system (LOINC with
a valid mod 10 check digit, SNOMED CT with a valid Verhoeff check digit and a concept partition
identifier, ...); the attributes the evaluator reads are present and well-formed; and the classes
behave as documented in docs/stdlib.md.
"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import pytest

from criteria_lang.check.checker import CompiledRules, ConceptSymbol, compile_file, compile_text
from criteria_lang.core.concepts import ConceptSet, QuantityAttr, UnitAttr
from criteria_lang.core.units import get_units
from criteria_lang.records.timeline import Code

STDLIB = Path(__file__).resolve().parent.parent / "criteria_lang" / "stdlib"
MODULES = sorted(STDLIB.glob("*.crit"))
MODULE_NAMES = {
    "antidiabetics",
    "antineoplastics",
    "bilag",
    "cardiovascular_drugs",
    "chemistry",
    "conditions",
    "drugs",
    "facts",
    "hematology",
    "interactions",
    "labs",
    "observations",
    "oncology",
    "procedures",
    "scores",
    "urine",
    "vaccines",
}


def compiled(name: str):
    result = compile_file(STDLIB / f"{name}.crit")
    assert result.ok, [str(d) for d in result.diagnostics]
    return result


def exported_concepts(result: CompiledRules) -> dict[str, ConceptSet]:
    return {
        key: symbol.concept
        for key, symbol in result.module.exports.items()
        if isinstance(symbol, ConceptSymbol)
    }


def concepts(name: str) -> dict[str, ConceptSet]:
    return exported_concepts(compiled(name))


def all_concepts() -> list[tuple[str, str, ConceptSet]]:
    return [(m, n, c) for m in sorted(MODULE_NAMES) for n, c in concepts(m).items()]


# ---------------------------------------------------------------------- check digits


def loinc_check_digit_ok(code: str) -> bool:
    """LOINC's mod 10 algorithm (the Luhn scheme): double every other digit of the body starting
    from the rightmost, add the digits of the products and the other digits; the check digit
    brings the sum to a multiple of 10."""
    body, check = code.split("-")
    total = 0
    for position, char in enumerate(reversed(body)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            total += digit // 10 + digit % 10
        else:
            total += digit
    return (10 - total % 10) % 10 == int(check)


def _dihedral(j: int, k: int) -> int:
    """Multiplication in the dihedral group D5, the Verhoeff d table, computed rather than typed."""
    if j < 5 and k < 5:
        return (j + k) % 5
    if j < 5 <= k:
        return 5 + (j + k) % 5
    if k < 5 <= j:
        return 5 + (j - k) % 5
    return (j - k) % 5


_D = [[_dihedral(j, k) for k in range(10)] for j in range(10)]
_P = [list(range(10))]
for _ in range(7):
    _P.append([[1, 5, 7, 6, 2, 8, 3, 0, 9, 4][x] for x in _P[-1]])


def verhoeff_ok(digits: str) -> bool:
    check = 0
    for position, char in enumerate(reversed(digits)):
        check = _D[check][_P[position % 8][int(char)]]
    return check == 0


def test_check_digit_algorithms_on_known_codes() -> None:
    for good in ("2160-0", "718-7", "8480-6", "29463-7", "98979-8", "4548-4"):
        assert loinc_check_digit_ok(good), good
    for bad in ("2160-1", "718-6", "8480-5"):
        assert not loinc_check_digit_ok(bad), bad
    # SNOMED CT root, Clinical finding, SLE, myocardial infarction, and the classic example 2363.
    for good in ("138875005", "404684003", "55464009", "22298006", "2363"):
        assert verhoeff_ok(good), good
    for bad in ("138875004", "55464008", "22298007"):
        assert not verhoeff_ok(bad), bad


# ---------------------------------------------------------------------- code shapes

ATC_CODE = re.compile(r"^[A-Z]\d\d(?:[A-Z](?:[A-Z](?:\d\d)?)?)?$")
ATC_PREFIX = re.compile(r"^[A-Z](?:\d\d?(?:[A-Z](?:[A-Z]\d?)?)?)?$")
# ICD-10 (WHO) and ICD-10-CM: a category letter + 2 digits (ICD-10-CM also uses a letter in the
# third place: C4A, C7A, Z3A), then optionally a dot and up to 4 characters (ICD-10-CM I82.4Y).
ICD10_CODE = re.compile(r"^[A-Z]\d[\dA-Z](?:\.[\dA-Z]{1,4})?$")
ICD10_PREFIX = re.compile(r"^[A-Z](?:\d(?:[\dA-Z](?:\.[\dA-Z]{0,3})?)?)?$")
LOCAL_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")


def code_problem(system: str, code: str, prefix: bool) -> str | None:
    if system == "rxnorm":
        if prefix:
            return "RxNorm codes have no hierarchy: no prefixes"
        return None if re.fullmatch(r"[1-9]\d{0,7}", code) else "RxNorm RXCUI must be digits"
    if system == "loinc":
        if prefix:
            return "LOINC codes have no hierarchy: no prefixes"
        if not re.fullmatch(r"\d{1,7}-\d", code):
            return "LOINC code must look like 2160-0"
        return None if loinc_check_digit_ok(code) else "LOINC check digit is wrong"
    if system == "snomed":
        if prefix:
            return "SNOMED CT ids match exactly: no prefixes"
        if not re.fullmatch(r"[1-9]\d{5,17}", code):
            return "SNOMED CT id must be 6-18 digits"
        if code[-3:-1] not in ("00", "10"):
            return "SNOMED CT partition identifier must be 00 or 10 (a concept id)"
        return None if verhoeff_ok(code) else "SNOMED CT Verhoeff check digit is wrong"
    if system == "atc":
        pattern = ATC_PREFIX if prefix else ATC_CODE
        return None if pattern.fullmatch(code) else "not an ATC code shape"
    if system == "icd10":
        pattern = ICD10_PREFIX if prefix else ICD10_CODE
        return None if pattern.fullmatch(code) else "not an ICD-10 code shape"
    if system == "cvx":
        if prefix:
            return "CVX codes have no hierarchy: no prefixes"
        return None if re.fullmatch(r"\d{1,3}", code) else "CVX codes are 1-3 digits"
    if system == "omop":
        if prefix:
            return "OMOP concept ids have no hierarchy by prefix: no prefixes"
        return None if re.fullmatch(r"[1-9]\d{0,10}", code) else "OMOP concept ids are digits"
    if system == "local":
        if prefix:
            return "local codes take no prefixes"
        return None if LOCAL_CODE.fullmatch(code) else "local codes are identifiers"
    return f"unknown code system {system}"


def own_codes(concept: ConceptSet) -> list[tuple[str, str, bool]]:
    out = [(s, c, False) for s, c in concept.codes | concept.excluded_codes]
    out += [(s, p, True) for s, p in (*concept.prefixes, *concept.excluded_prefixes)]
    return out


def test_code_shape_checker_rejects_bad_codes() -> None:
    assert code_problem("loinc", "2160-1", False)
    assert code_problem("snomed", "55464008", False)
    assert code_problem("snomed", "55464019", False)  # partition 01 is a description id
    assert code_problem("atc", "H02AB7", False)
    assert code_problem("icd10", "M3", False)
    assert code_problem("rxnorm", "88*", True)
    assert not code_problem("atc", "L04A", True)
    assert not code_problem("icd10", "Z3A", True)
    assert not code_problem("icd10", "I82.4Y", False)


# ---------------------------------------------------------------------- compiling


def test_every_module_is_there() -> None:
    assert {p.stem for p in MODULES} == MODULE_NAMES


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.stem)
def test_module_compiles_without_diagnostics(path: Path) -> None:
    result = compile_file(path)
    assert result.ok
    assert result.diagnostics == (), [str(d) for d in result.diagnostics]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.stem)
def test_module_holds_declarations_only(path: Path) -> None:
    rule_file = compile_file(path).rule_file
    assert rule_file.trial is None
    assert rule_file.criteria == ()


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.stem)
def test_module_header_names_its_sources(path: Path) -> None:
    header = path.read_text(encoding="utf-8").split("\n\n")[0]
    assert header.startswith(f"# stdlib/{path.name}")
    assert "Sources" in header


@pytest.mark.parametrize("module", sorted(MODULE_NAMES))
def test_every_code_has_the_shape_of_its_system(module: str) -> None:
    problems = [
        f"{module}.{name}: {system} {code!r}: {problem}"
        for name, concept in concepts(module).items()
        for system, code, prefix in own_codes(concept)
        if (problem := code_problem(system, code, prefix))
    ]
    assert problems == []


def test_every_unverified_mark_sits_on_a_code() -> None:
    for path in MODULES:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "# unverified" in line and not line.lstrip().startswith("#"):
                assert re.search(r'(rxnorm|atc|loinc|snomed|icd10|local) "', line), (
                    f"{path.name}:{number}"
                )


# ---------------------------------------------------------------------- names

REQUIRED = {
    "drugs": """prednisone prednisolone methylprednisolone hydrocortisone dexamethasone
        betamethasone deflazacort triamcinolone glucocorticoids cyclophosphamide
        mycophenolate_mofetil mycophenolic_acid mycophenolate azathioprine methotrexate leflunomide
        cyclosporine tacrolimus voclosporin calcineurin_inhibitors tripterygium_wilfordii
        iguratimod antimetabolites rituximab ocrelizumab obinutuzumab ofatumumab b_cell_depleting
        belimumab telitacicept atacicept anti_b_cell_biologics other_anti_b_cell etanercept
        infliximab adalimumab golimumab certolizumab_pegol tnf_inhibitors tofacitinib baricitinib
        upadacitinib filgotinib ruxolitinib jak_inhibitors tocilizumab anifrolumab abatacept
        biologics_immune immunosuppressants hydroxychloroquine chloroquine quinacrine antimalarials
        ace_inhibitors arbs ras_blockers immunoglobulins anticonvulsants anti_infectives
        tb_treatment isoniazid rifampicin pyrazinamide ethambutol rifapentine
        investigational_product""",
    "vaccines": """live_vaccines herpes_zoster_vaccine influenza_vaccine pneumococcal_vaccine""",
    "labs": """creatinine egfr creatinine_clearance upcr urine_protein_24h
        urine_albumin_creatinine_ratio albumin ana anti_dsdna c3 c4 hemoglobin neutrophils
        lymphocytes platelets leukocytes cd4 ast alt pao2 paco2 urine_rbc_hpf urine_wbc_hpf
        urine_rbc_casts hbsag hbc_antibody hcv_antibody hcv_rna hiv_test htlv quantiferon
        ppd_induration pregnancy_test""",
    "conditions": """sle lupus_nephritis heart_failure congestive_heart_failure
        ventricular_arrhythmia cardiac_arrhythmia myocardial_infarction stroke
        cardiovascular_events thromboembolism antiphospholipid_syndrome demyelinating_disease
        seizures malignant_neoplasm basal_cell_carcinoma squamous_cell_carcinoma_skin
        cervical_carcinoma_in_situ myelodysplastic_syndrome infection onychomycosis
        vaginal_candidiasis herpes_simplex herpes_zoster tuberculosis latent_tuberculosis
        hiv_infection hepatitis_b hepatitis_c htlv_infection asthma inflammatory_bowel_disease
        organ_transplant psychosis severe_psychiatric_disorder substance_abuse pregnancy
        lactation""",
    "scores": """sledai_2k selena_sledai bilag bilag_a_domains bilag_b_domains nyha_class
        physician_global_assessment isn_rps_class""",
    "bilag": """bilag_constitutional bilag_mucocutaneous bilag_neuropsychiatric
        bilag_musculoskeletal bilag_cardiorespiratory bilag_gastrointestinal bilag_ophthalmic
        bilag_renal bilag_haematological domains""",
    "observations": "body_weight body_height bmi lvef mean_pap systolic_bp diastolic_bp",
    "procedures": """renal_biopsy plasmapheresis immunoadsorption major_surgery
        organ_transplantation chest_xray echocardiography hospitalization tb_skin_test""",
    "facts": """pregnant breastfeeding childbearing_potential effective_contraception
        consent_signed social_security_affiliation in_other_study legal_protection
        excluded_from_research_roster vaccinated_pneumococcus vaccinated_influenza
        entered_from_induction moderate_severe_recurrence planned_pregnancy planned_surgery
        planned_transplant""",
}


@pytest.mark.parametrize("module", sorted(REQUIRED))
def test_required_names_are_declared(module: str) -> None:
    declared = set(concepts(module))
    assert set(REQUIRED[module].split()) - declared == set()


@pytest.mark.parametrize("module", sorted(MODULE_NAMES))
def test_kind_matches_module(module: str) -> None:
    kind = {
        "antidiabetics": "drug",
        "antineoplastics": "drug",
        "bilag": "score",
        "cardiovascular_drugs": "drug",
        "chemistry": "lab",
        "conditions": "condition",
        "drugs": "drug",
        "facts": "fact",
        "hematology": "lab",
        "interactions": "drug",
        "labs": "lab",
        "observations": "observation",
        "oncology": "condition",
        "procedures": "procedure",
        "scores": "score",
        "urine": "lab",
        "vaccines": "vaccine",
    }[module]
    assert {c.kind for c in concepts(module).values()} == {kind}


def test_every_concept_has_a_title() -> None:
    assert [f"{m}.{n}" for m, n, c in all_concepts() if not c.title] == []


def test_facts_have_a_local_code_named_after_themselves() -> None:
    for name, concept in concepts("facts").items():
        assert ("local", name) in concept.codes, name


# ---------------------------------------------------------------------- attributes


def test_every_glucocorticoid_has_a_prednisone_equivalent() -> None:
    gc = concepts("drugs")["glucocorticoids"]
    assert len(gc.members) >= 9
    for member in gc.members:
        value = member.attributes.get("prednisone_equivalent")
        assert isinstance(value, Fraction) and value > 0, member.name


def test_prednisone_equivalents_follow_the_bnf_table() -> None:
    drugs = concepts("drugs")
    exact = {  # mg of prednisone per mg of drug: 5 mg prednisolone / equivalent dose
        "prednisone": Fraction(1),
        "prednisolone": Fraction(1),
        "methylprednisolone": Fraction(5, 4),
        "triamcinolone": Fraction(5, 4),
        "hydrocortisone": Fraction(5, 20),
        "cortisone": Fraction(5, 25),
        "dexamethasone": Fraction(20, 3),
        "betamethasone": Fraction(20, 3),
        "deflazacort": Fraction(5, 6),
    }
    for name, ratio in exact.items():
        value = drugs[name].attributes["prednisone_equivalent"]
        assert isinstance(value, Fraction), name
        # Decimals truncate ratios such as 20/3: never above the exact value, within 1e-6.
        assert value <= ratio and ratio - value < Fraction(1, 10**6), name


def test_half_lives_are_durations() -> None:
    units = get_units()
    for module, name, concept in all_concepts():
        value = concept.attributes.get("half_life")
        if value is not None:
            assert isinstance(value, QuantityAttr), f"{module}.{name}"
            days = units.convert(value.value, value.unit, "days")
            assert 0 < days < 365, f"{module}.{name}"


def test_budesonide_is_not_a_systemic_glucocorticoid() -> None:
    gc = concepts("drugs")["glucocorticoids"]
    assert not gc.matches((Code("rxnorm", "19831"),))
    assert gc.matches((Code("atc", "H02AB02"),))
    assert gc.matches((Code("concept", "dexamethasone"),))


def dimensionless_or_unit(value: object) -> str | None:
    """The unit text of a `unit` attribute (`unit = 1` is the dimensionless unit)."""
    if isinstance(value, UnitAttr):
        return value.unit
    return None


# Qualitative results (positive/negative, detected/not detected) have no unit: a unit would make
# `is positive` a type error, and their values are words.
QUALITATIVE = {("observations", "chest_xray_active_tb")}
# Dipstick presence tests (urine module): read as words or ordinal grades, no unit.
QUALITATIVE_URINE = {
    "urine_protein_dipstick",
    "urine_glucose_dipstick",
    "urine_ketones_dipstick",
    "urine_blood_dipstick",
    "urine_leukocyte_esterase",
    "urine_nitrite",
    "urine_bilirubin_dipstick",
}
QUALITATIVE_LABS = {
    "hbsag",
    "hbc_antibody",
    "hbc_antibody_total",
    "hbc_antibody_igm",
    "hcv_antibody",
    "hiv_test",
    "htlv",
    "quantiferon",
    "pregnancy_test",
    "pregnancy_test_urine",
    "pregnancy_test_serum",
}


@pytest.mark.parametrize(
    "module", ["labs", "chemistry", "hematology", "urine", "observations", "scores"]
)
def test_every_measurement_has_a_unit(module: str) -> None:
    units = get_units()
    for name, concept in concepts(module).items():
        unit = dimensionless_or_unit(concept.attributes.get("unit"))
        if (
            (module, name) in QUALITATIVE
            or (module == "labs" and name in QUALITATIVE_LABS)
            or (module == "urine" and name in QUALITATIVE_URINE)
        ):
            assert unit is None, f"{module}.{name} is qualitative and must declare no unit"
            continue
        assert unit is not None, f"{module}.{name} has no unit"
        units.parse(unit)


def test_scores_are_dimensionless() -> None:
    for name, concept in concepts("scores").items():
        assert dimensionless_or_unit(concept.attributes.get("unit")) == "1", name


def test_creatinine_has_its_molar_mass() -> None:
    labs = concepts("labs")
    for name in ("creatinine", "upcr", "urine_albumin_creatinine_ratio"):
        molar_mass = labs[name].attributes["molar_mass"]
        assert molar_mass == QuantityAttr(Fraction("113.12"), "g/mol"), name


def test_molar_mass_converts_upcr_from_mg_per_mmol() -> None:
    # 113.12 mg/mmol of creatinine is exactly 1 g/g.
    units = get_units()
    factor = units.factor("mg/mmol", "g/g", molar_mass=Fraction("113.12"))
    assert Fraction("113.12") * factor == 1


def test_reference_limits_are_in_the_concepts_unit() -> None:
    units = get_units()
    for module, name, concept in all_concepts():
        for limit in ("upper_limit", "lower_limit"):
            value = concept.attributes.get(limit)
            if value is None:
                continue
            unit = concept.attributes["unit"]
            assert isinstance(value, QuantityAttr) and isinstance(unit, UnitAttr), (module, name)
            assert units.compatible(units.parse(value.unit), units.parse(unit.unit)), (module, name)
    assert concepts("labs")["ast"].attributes["upper_limit"] == QuantityAttr(Fraction(40), "U/L")


# ---------------------------------------------------------------------- classes


def test_open_classes_are_empty_and_included() -> None:
    drugs = concepts("drugs")
    for name in ("other_anti_b_cell", "investigational_product", "other_biologics_immune"):
        concept = drugs[name]
        assert not concept.codes and not concept.prefixes and not concept.members, name
    assert drugs["other_anti_b_cell"] in drugs["anti_b_cell_biologics"].members
    assert drugs["other_biologics_immune"] in drugs["biologics_immune"].members


def test_a_trial_extends_an_open_class() -> None:
    result = compile_text(
        "import drugs\n"
        'drug b_cells "B-cell therapies" = drugs.anti_b_cell_biologics | local "CAR-T-19"\n',
        "<test>",
        search_path=[STDLIB],
    )
    assert result.ok, [str(d) for d in result.diagnostics]
    b_cells = exported_concepts(result)["b_cells"]
    assert b_cells.matches((Code("local", "CAR-T-19"),))
    assert b_cells.matches((Code("rxnorm", "121191"),))  # rituximab
    assert b_cells.matches((Code("concept", "other_anti_b_cell"),))


def test_2024_and_earlier_atc_codes_both_match() -> None:
    drugs = concepts("drugs")
    for name, old, new in [
        ("belimumab", "L04AA26", "L04AG04"),
        ("leflunomide", "L04AA13", "L04AK01"),
        ("tofacitinib", "L04AA29", "L04AF01"),
        ("anifrolumab", "L04AA51", "L04AG11"),
        ("rituximab", "L01XC02", "L01FA01"),
    ]:
        for code in (old, new):
            assert drugs[name].matches((Code("atc", code),)), (name, code)


def test_live_vaccines_except_zoster() -> None:
    result = compile_text(
        "import vaccines\n"
        'vaccine lv "Live vaccines but zoster" = vaccines.live_vaccines'
        " except vaccines.herpes_zoster_vaccine\n",
        "<test>",
        search_path=[STDLIB],
    )
    assert result.ok
    live = exported_concepts(result)["lv"]
    assert live.matches((Code("atc", "J07BD52"),))  # MMR
    assert not live.matches((Code("atc", "J07BK02"),))  # zoster, live
    assert not concepts("vaccines")["live_vaccines"].matches((Code("atc", "J07BK03"),))


def test_neoplasia_exceptions_of_the_msc_sle_trial() -> None:
    result = compile_text(
        "import conditions\n"
        'condition neo "x" = conditions.malignant_neoplasm except conditions.basal_cell_carcinoma'
        " | conditions.squamous_cell_carcinoma_skin | conditions.cervical_carcinoma_in_situ\n",
        "<test>",
        search_path=[STDLIB],
    )
    assert result.ok
    neo = exported_concepts(result)["neo"]
    assert neo.matches((Code("icd10", "C50.9"),))
    assert not neo.matches((Code("icd10", "C44.91"),))  # BCC, unspecified site
    assert not neo.matches((Code("snomed", "254651007"),))  # SCC of skin
    assert not neo.matches((Code("icd10", "D06.9"),))  # not malignant anyway


def test_substance_abuse_leaves_out_tobacco() -> None:
    abuse = concepts("conditions")["substance_abuse"]
    assert abuse.matches((Code("icd10", "F10.20"),))
    assert not abuse.matches((Code("icd10", "F17.210"),))


def test_hospitalization_matches_fhir_inpatient_encounters() -> None:
    assert concepts("procedures")["hospitalization"].matches((Code("local", "encounter-IMP"),))


def test_members_are_of_the_same_kind() -> None:
    for module, name, concept in all_concepts():
        for member in concept.members:
            assert member.kind == concept.kind, f"{module}.{name}"


# ---------------------------------------------------------------------- general-trial labs


def test_molar_masses_convert_common_si_results() -> None:
    units = get_units()
    chem = concepts("chemistry")

    def molar(name: str) -> Fraction:
        value = chem[name].attributes["molar_mass"]
        assert isinstance(value, QuantityAttr) and value.unit == "g/mol", name
        return value.value

    # 7.0 mmol/L glucose is 126 mg/dL (the ADA fasting threshold), to the gram per mole.
    assert abs(units.convert(Fraction(7), "mmol/L", "mg/dL", molar_mass=molar("glucose")) - 126) < 1
    # LDL 1.8 mmol/L is 70 mg/dL (ESC/ACC targets), 2.5 mmol/L is 97 mg/dL.
    ldl = molar("ldl_cholesterol")
    assert abs(units.convert(Fraction("1.8"), "mmol/L", "mg/dL", molar_mass=ldl) - 70) < 1
    # Bilirubin 17.1 umol/L is 1 mg/dL.
    bili = molar("bilirubin_total")
    assert abs(units.convert(Fraction("17.1"), "umol/L", "mg/dL", molar_mass=bili) - 1) < 0.01
    # Urea 1 mmol/L is 2.8014 mg/dL of urea nitrogen, exactly.
    bun = molar("urea_nitrogen")
    assert units.convert(Fraction(1), "mmol/L", "mg/dL", molar_mass=bun) == Fraction("2.8014")


def compile_rule(text: str) -> CompiledRules:
    return compile_text(text, "<test>", search_path=[STDLIB])


def test_a_threshold_in_si_units_compiles_through_the_molar_mass() -> None:
    ok = compile_rule(
        'import chemistry\ntrial "T"\n  dates screening\ninclusion\n  I1 "FPG":\n'
        "    latest lab chemistry.fasting_glucose within 30 days before screening >= 7.0 mmol/L\n"
    )
    assert ok.ok, [str(d) for d in ok.diagnostics]
    bad = compile_rule(
        'import chemistry\ntrial "T"\n  dates screening\ninclusion\n  I1 "Na":\n'
        "    latest lab chemistry.sodium within 30 days before screening > 140 mg/dL\n"
    )
    assert not bad.ok
    assert any(d.code == "C301" for d in bad.diagnostics)


def test_troponin_class_holds_every_assay() -> None:
    trop = concepts("chemistry")["cardiac_troponin"]
    for code in ("10839-9", "89579-7", "6598-7", "67151-1"):
        assert trop.matches((Code("loinc", code),)), code
    assert not trop.matches((Code("loinc", "33762-6"),))  # NT-proBNP


def test_fasting_glucose_is_a_glucose() -> None:
    chem = concepts("chemistry")
    assert chem["glucose"].matches((Code("loinc", "1558-6"),))
    assert not chem["fasting_glucose"].matches((Code("loinc", "2345-7"),))


# ---------------------------------------------------------------------- verification record

SOURCES = STDLIB.parent.parent / "docs" / "stdlib-sources.tsv"
STANDARD_TERM = re.compile(r'\b(rxnorm|atc|loinc|snomed|icd10|cvx)\s+"([^"]+)"')


def written_codes() -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """(system, code) of every standard code term in the modules: confirmed, and marked
    `# unverified` (the mark speaks of every code on its line)."""
    confirmed: set[tuple[str, str]] = set()
    unverified: set[tuple[str, str]] = set()
    for path in MODULES:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.lstrip().startswith("#"):
                continue
            code, _, comment = line.partition("#")
            target = unverified if "unverified" in comment else confirmed
            target.update(STANDARD_TERM.findall(code))
    return confirmed, unverified


def recorded_sources() -> dict[tuple[str, str], str]:
    rows = [
        line.split("\t")
        for line in SOURCES.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    assert rows[0] == ["system", "code", "found_as", "source"]
    return {(system, code): source for system, code, _, source in rows[1:]}


def test_every_confirmed_code_names_where_it_was_confirmed() -> None:
    confirmed, unverified = written_codes()
    recorded = recorded_sources()
    assert sorted(confirmed - set(recorded)) == []  # a code without a mark needs a source
    assert sorted(set(recorded) - confirmed) == []  # no row for a code the stdlib lacks
    # A code both confirmed and marked somewhere: the mark is stale.
    assert sorted(unverified & set(recorded)) == []
    assert all(source.strip() for source in recorded.values())
