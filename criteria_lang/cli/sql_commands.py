"""`criteria sql RULES --dialect NAME` and `criteria screen RULES --omop SPEC` (docs/sql.md).

`sql` prints the query the SQL engine runs for a rule file, in any sqlglot dialect, for a DBA to
review or run; criteria it does not compile are listed on stderr with the reason. `screen --omop`
screens an OMOP warehouse where it lives: `duckdb:PATH` (a .duckdb file, or a folder of OMOP CSV
or Parquet files), `spark:PATH` / `spark:DATABASE`, `postgresql://...`. The outputs are those of
`screen` (table, CSV, JSONL), then the attrition table (`--attrition FILE` writes it as JSON).
duckdb, sqlglot, pyspark and psycopg are imported only here, when the command runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import IO, Any

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
DIALECTS = ("duckdb", "spark", "postgres", "databricks", "bigquery", "snowflake", "trino", "tsql")


def add_parser(sub: argparse._SubParsersAction, data_options: Any) -> None:  # type: ignore[type-arg]
    sql = sub.add_parser(
        "sql",
        help="print the SQL query that screens an OMOP warehouse for a rule file",
        description="Print the query the SQL engine runs over OMOP CDM v5.4 for a rule file "
        "(docs/sql.md): one row per person, a column per criterion, the verdict and the "
        "deciding criteria. Criteria it does not compile are listed on stderr with why.",
    )
    sql.add_argument("rules", type=Path, help="a rule file")
    sql.add_argument(
        "--dialect", default="duckdb", help=f"a sqlglot dialect ({', '.join(DIALECTS)}, ...)"
    )
    sql.add_argument(
        "--omop",
        metavar="SPEC",
        help="tailor the query to this warehouse's tables and units (duckdb:PATH, spark:..., "
        "postgresql://...); default: every OMOP CDM v5.4 table",
    )
    data_options(sql)


def add_screen_options(screen: argparse.ArgumentParser) -> None:
    screen.add_argument(
        "--omop",
        metavar="SPEC",
        help="screen an OMOP warehouse with the SQL engine: duckdb:PATH (a .duckdb file or a "
        "folder of OMOP CSV/Parquet files), spark:PATH, spark:DATABASE, postgresql://...",
    )
    screen.add_argument(
        "--attrition",
        type=Path,
        metavar="FILE",
        help="--omop: write the attrition table as JSON to FILE ('-': stdout)",
    )
    screen.add_argument(
        "--no-fallback",
        action="store_true",
        help="--omop: stop if a criterion is not compiled to SQL, instead of judging it with "
        "the Python engine",
    )


def _load(rules_path: Path, closed_world: bool) -> Any:
    from criteria_lang.cli.main import load_rules

    return load_rules(rules_path, closed_world, sys.stderr)


def cmd_sql(args: argparse.Namespace) -> int:
    from criteria_lang.sql.cdm import CDM_TABLES
    from criteria_lang.sql.compile import CompileOptions, compile_plan
    from criteria_lang.sql.run import compile_for
    from criteria_lang.sql.warehouse import WarehouseError, open_warehouse

    if args.rules.is_dir() or not args.rules.exists():
        print(f"{args.rules}: give one rule file", file=sys.stderr)
        return EXIT_USAGE
    rules = _load(args.rules, args.closed_world)
    if rules is None:
        return EXIT_FINDINGS
    options = CompileOptions(
        policy="closed-world" if args.closed_world else "coverage", dates=dict(args.date)
    )
    if args.omop:
        try:
            compiled = compile_for(rules.plan, open_warehouse(args.omop), options)
        except WarehouseError as error:
            print(f"criteria sql: {error}", file=sys.stderr)
            return EXIT_USAGE
    else:
        columns = {table: frozenset(spec) for table, spec in CDM_TABLES.items()}
        compiled = compile_plan(rules.plan, columns, options=options)
    try:
        text = compiled.sql(args.dialect)
    except Exception as error:  # noqa: BLE001 - an unknown dialect name, from sqlglot
        print(f"criteria sql: dialect {args.dialect!r}: {error}", file=sys.stderr)
        return EXIT_USAGE
    sys.stdout.write(
        f"-- {rules.trial_id}: screening query (criteria-lang SQL engine, {args.dialect})\n"
    )
    sys.stdout.write(text.rstrip() + ";\n")
    for ident, why in compiled.fallback.items():
        print(f"{args.rules}: {ident} is not compiled to SQL: {why}", file=sys.stderr)
    return EXIT_OK


def cmd_screen_omop(args: argparse.Namespace) -> int:
    from criteria_lang.cli import screening as cli_screening
    from criteria_lang.cli.files import check_output
    from criteria_lang.cli.main import output_to
    from criteria_lang.records.patient_json import RecordError
    from criteria_lang.screen_sql import NotCompiled, screen_warehouse
    from criteria_lang.sql.warehouse import WarehouseError

    if args.input is not None:
        print("criteria screen: give either patients or --omop, not both", file=sys.stderr)
        return EXIT_USAGE
    if getattr(args, "html", None):
        print("criteria screen: --html is not available with --omop yet", file=sys.stderr)
        return EXIT_USAGE
    if args.rules.is_dir() or not args.rules.exists():
        print(f"{args.rules}: --omop screens one rule file", file=sys.stderr)
        return EXIT_USAGE
    if args.output:
        check_output(args.output, args.rules, [])
    rules = _load(args.rules, args.closed_world)
    if rules is None:
        return EXIT_FINDINGS
    try:
        screen = screen_warehouse(
            rules, args.omop, dates=dict(args.date), fallback=not args.no_fallback
        )
    except WarehouseError as error:
        print(f"criteria screen: {error}", file=sys.stderr)
        return EXIT_USAGE
    except NotCompiled as error:
        print(f"criteria screen: {args.rules}: {error}", file=sys.stderr)
        return EXIT_FINDINGS
    status = EXIT_OK
    with output_to(args.output) as handle:
        terminal = args.output is None and handle.isatty()
        output = cli_screening.Output(
            handle, args.format, terminal=terminal, whole_table=args.table
        )
        if args.format == "jsonl":  # the block of rows starts with the run's header, as `screen`
            from criteria_lang.cli.report_commands import header_line
            from criteria_lang.report.run import describe_run

            info = describe_run(
                rules.program,
                "screen",
                input_path=args.omop,
                input_format=f"OMOP ({screen.warehouse.description}, SQL engine)",
                policy="closed-world" if args.closed_world else "coverage",
                dates=dict(args.date),
            )
            print(header_line(info), file=handle)
        for row in screen.results():
            output.add(row, None)
            if isinstance(row, RecordError):
                status = EXIT_FINDINGS
        notes = [f"SQL engine on {screen.warehouse.description}"]
        if screen.fallback:
            notes.append(
                f"judged by the Python engine (not compiled to SQL), for {screen.fallback_persons} "
                "person(s): " + "; ".join(f"{i}: {why}" for i, why in screen.fallback.items())
            )
        output.finish(f"screening {args.omop}", notes, sys.stderr)
    print_attrition(screen.attrition.to_dict(), sys.stderr)
    if args.attrition is not None:
        text = json.dumps(screen.attrition.to_dict(), indent=2) + "\n"
        if str(args.attrition) == "-":
            sys.stdout.write(text)
        else:
            args.attrition.write_text(text)
    screen.warehouse.close()
    return status


def print_attrition(data: dict[str, Any], handle: IO[str]) -> None:
    """The attrition table: criteria in file order, persons left after each, and its counts."""
    from rich.table import Table

    from criteria_lang.report import tables as report

    table = Table(title=f"attrition: {data['persons']} persons", title_justify="left")
    for name, justify in (
        ("criterion", "left"),
        ("remaining", "right"),
        ("for certain", "right"),
        ("met", "right"),
        ("not met", "right"),
        ("unknown", "right"),
        ("needs review", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in data["criteria"]:
        counts = row["counts"]
        table.add_row(
            f"{row['id']} ({row['section']})",
            str(row["remaining"]),
            str(row["remaining_for_certain"]),
            str(counts["met"]),
            str(counts["not_met"]),
            str(counts["unknown"]),
            str(counts["needs_review"]),
        )
    report.console(handle).print(table)
