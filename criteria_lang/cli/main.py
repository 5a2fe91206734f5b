"""The `criteria` command: check, eval, screen, outcomes; lint and fmt (cli_lint.py).

Exit codes: 0 success (check: no errors); 1 the run found errors in rule files (check) or a
record could not be read (eval); 2 usage or internal error. See `criteria --help`.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import sys
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

from criteria_lang import __version__
from criteria_lang.cli import lint_commands, plan_command, screen_options, sql_commands
from criteria_lang.cli import report_commands as cli_report
from criteria_lang.cli.files import (
    OutputFile,
    RecordCount,
    UsageError,
    check_output,
    fail,
    require_paths,
)

# Only what every command needs is imported here: `criteria --help` and `--version` must start in
# milliseconds, and `check` must not pay for the engine, the readers or the tables (rich). Each
# command imports what it uses (and so should a new one).
if TYPE_CHECKING:
    from rich.console import Console

    from criteria_lang.api import Rules
    from criteria_lang.batch.screen import ReadRecord
    from criteria_lang.core.results import OutcomeReport
    from criteria_lang.engine.evaluate import AbsencePolicy
    from criteria_lang.records.fhir import ReadSummary
    from criteria_lang.records.patient_json import RecordError
    from criteria_lang.records.timeline import Patient

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def parse_date_option(text: str) -> tuple[str, dt.date]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=YYYY-MM-DD, got {text!r}")
    try:
        return name.strip(), dt.date.fromisoformat(value.strip())
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from error


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="criteria", description="Compile and run clinical-trial eligibility criteria."
    )
    parser.add_argument("--version", action="version", version=f"criteria {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def stdlib_option(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--stdlib",
            action="append",
            type=Path,
            default=[],
            metavar="DIR",
            help="a folder of modules for `import`, searched after the rule file's own stdlib/ "
            "and before the shipped one (repeatable)",
        )

    check = sub.add_parser("check", help="compile rule files and report diagnostics")
    check.add_argument("paths", nargs="+", type=Path, help="rule files or folders of them")
    check.add_argument("--format", choices=["text", "json"], default="text")
    stdlib_option(check)

    def data_options(p: argparse.ArgumentParser) -> None:
        stdlib_option(p)
        p.add_argument(
            "--date",
            action="append",
            type=parse_date_option,
            default=[],
            metavar="NAME=YYYY-MM-DD",
            help="a trial date for records that do not carry it (repeatable)",
        )
        p.add_argument(
            "--closed-world",
            action="store_true",
            help="treat every absent event as absent, even outside the record's coverage",
        )
        p.add_argument(
            "--input-format",
            choices=["auto", "patient", "fhir"],
            default="auto",
            help="our patient JSON or FHIR R4 (auto: look at the data)",
        )
        p.add_argument(
            "--problems",
            action="store_true",
            help="FHIR input: list every resource that could not be read (default: the first 20)",
        )

    ev = sub.add_parser("eval", help="evaluate one patient against a rule file")
    ev.add_argument("rules", type=Path)
    ev.add_argument("patient", type=Path)
    ev.add_argument("--json", action="store_true", help="print the result as JSON")
    data_options(ev)

    screen = sub.add_parser("screen", help="screen many patients: one row per patient")
    screen.add_argument("rules", type=Path, help="a rule file, or a folder of rule files")
    screen.add_argument(
        "input",
        type=Path,
        nargs="?",
        help="a patient file, a folder, a JSON Lines file, FHIR bundles or NDJSON; '-' for stdin "
        "(or --omop: an OMOP warehouse)",
    )
    screen.add_argument("--format", choices=["table", "csv", "jsonl"], default="table")
    screen.add_argument("--output", "-o", type=Path, help="write to a file instead of stdout")
    screen_options.add_options(screen)
    sql_commands.add_screen_options(screen)
    cli_report.add_html_option(screen)
    data_options(screen)
    sql_commands.add_parser(sub, data_options)
    lint_commands.add_parsers(sub)
    cli_report.add_parsers(sub)
    plan_command.add_parser(sub)

    outcomes = sub.add_parser(
        "outcomes", help="judge a rule file's outcomes at each of the patients' visits"
    )
    outcomes.add_argument("rules", type=Path, help="a rule file with an `outcomes` section")
    outcomes.add_argument(
        "input",
        type=Path,
        help="a patient file, a folder, a JSON Lines file, FHIR bundles or NDJSON; '-' for stdin",
    )
    outcomes.add_argument(
        "--format",
        choices=["table", "csv", "jsonl"],
        default="table",
        help="table: one a patient; csv, jsonl: one row per patient x outcome x visit",
    )
    outcomes.add_argument(
        "--details", action="store_true", help="table: print the evidence of every judged visit"
    )
    outcomes.add_argument("--output", "-o", type=Path, help="write to a file instead of stdout")
    cli_report.add_html_option(outcomes)
    data_options(outcomes)

    lsp = sub.add_parser(
        "lsp",
        help="the language server for editors (LSP over stdio; see docs/editors.md)",
        description="Speak the Language Server Protocol on stdin/stdout: diagnostics, quick "
        "fixes, hover, definitions, references, completion, outline and formatting for rule "
        "files. Needs the `lsp` extra: pip install 'criteria-lang[lsp]'.",
    )
    lsp.add_argument(
        "--stdio", action="store_true", help="use stdin/stdout (the default and only transport)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code) if isinstance(exit_.code, int) else EXIT_USAGE
    try:
        unable = cli_report.preflight(args)
        if unable is not None:
            return unable
        return run_command(args)
    except UsageError as error:
        return fail(args.command, error)
    except BrokenPipeError:
        return EXIT_OK
    except KeyboardInterrupt:
        return EXIT_USAGE
    except Exception:  # a bug: say so, and never exit 1, which means "findings"
        traceback.print_exc()
        print(f"criteria {args.command}: internal error (please report it)", file=sys.stderr)
        return EXIT_USAGE


def run_command(args: argparse.Namespace) -> int:
    """The subcommand's exit status (no subcommand: screen)."""
    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "check": cmd_check,
        "eval": cmd_eval,
        "lint": lint_commands.cmd_lint,
        "fmt": lint_commands.cmd_fmt,
        "outcomes": cmd_outcomes,
        "report": cli_report.cmd_report,
        "plan": plan_command.cmd_plan,
        "sql": sql_commands.cmd_sql,
        "lsp": lambda _args: cmd_lsp(),
    }
    return commands.get(args.command, cmd_screen)(args)


@contextlib.contextmanager
def output_to(path: Path | None) -> Iterator[IO[str]]:
    """Standard output, or the file `-o` names, written only if the command runs to its end."""
    if path is None:
        yield sys.stdout
        return
    with OutputFile(path) as output:
        yield output.handle
        output.commit()


def watch_input(command: str, count: RecordCount, status: int) -> int:
    """The exit status after one input: no record at all is an input error; a patient id seen
    twice is a finding. Both are said on stderr."""
    for line in count.problems():
        print(f"criteria {command}: {line}", file=sys.stderr)
    if count.records == 0:
        return EXIT_USAGE
    return max(status, EXIT_FINDINGS) if count.duplicates else status


# ---------------------------------------------------------------------------- lsp


def cmd_lsp() -> int:
    # pygls is an optional dependency, imported only here (`criteria --help` stays fast).
    try:
        from criteria_lang.lsp.server import serve
    except ImportError as error:
        print(
            f"criteria lsp needs pygls and lsprotocol ({error.name or error} is missing): "
            "pip install 'criteria-lang[lsp]'",
            file=sys.stderr,
        )
        return EXIT_USAGE
    serve()
    return EXIT_OK


# ---------------------------------------------------------------------------- check


def cmd_check(args: argparse.Namespace) -> int:
    from criteria_lang.check.checker import compile_file, rule_files
    from criteria_lang.core.diagnostics import render
    from criteria_lang.report.coverage import coverage_line

    out = sys.stdout
    errors = 0
    records = []
    require_paths(args.paths)
    files = [f for p in args.paths for f in rule_files(p)]
    if not files:
        print("no rule files (*.crit) found", file=sys.stderr)
        return EXIT_USAGE
    for path in files:
        program = compile_file(path, search_path=tuple(args.stdlib))
        own = list(program.diagnostics)
        errors += sum(1 for d in own if d.severity == "error")
        if args.format == "json":
            records.append(
                {
                    "file": str(path),
                    "ok": program.ok,
                    "coverage": coverage_line(program) if program.ok else None,
                    "diagnostics": [d.to_dict() for d in own],
                }
            )
            continue
        for diagnostic in own:
            print(render(diagnostic, program.sources.get(diagnostic.file)), file=out)
            print(file=out)
        if program.ok:
            print(f"{path}: ok | {coverage_line(program)}", file=out)
        else:
            count = sum(1 for d in own if d.severity == "error")
            print(f"{path}: {count} error{'s' if count != 1 else ''}", file=out)
    if args.format == "json":
        import orjson

        print(orjson.dumps(records, option=orjson.OPT_INDENT_2).decode(), file=out)
    return EXIT_FINDINGS if errors else EXIT_OK


# ---------------------------------------------------------------------------- data in


def looks_like_fhir(path: Path) -> bool:
    """FHIR when a JSON/NDJSON file (compressed or not; any one of a folder's) has a
    `resourceType`."""
    from criteria_lang.records.detect import any_fhir

    return any_fhir(path)


def is_fhir_input(path: Path, input_format: str) -> bool:
    if str(path) == "-":
        return False
    return input_format == "fhir" or (input_format == "auto" and looks_like_fhir(path))


def read_records(
    path: Path,
    input_format: str,
    dates: dict[str, dt.date],
    summary: ReadSummary | None = None,
) -> Iterator[Patient | RecordError]:
    """The records under `path`: our patient format, or FHIR R4 (bundles, folders of them,
    NDJSON exports). FHIR carries no trial dates: `dates` gives them to every FHIR patient, and
    `summary` collects what the FHIR reader did with every resource."""
    from criteria_lang.records.patient_json import iter_patients_from_lines, read_patients

    if str(path) == "-":
        yield from iter_patients_from_lines(sys.stdin.buffer, "<stdin>")
        return
    if input_format == "fhir":
        from criteria_lang.records.fhir import read_fhir

        yield from read_fhir(path, dates=dates, summary=summary)
        return
    if input_format == "auto":
        # Each file is read in the format its content calls for (a folder may hold both).
        from criteria_lang.records.detect import read_any

        yield from read_any(path, dates, summary)
        return
    yield from read_patients(path)


class DateCheck:
    """Counts the records that lack a trial date the rules count from and that no --date gave,
    so that the run can say so once instead of leaving one unexplained unknown per criterion."""

    def __init__(self, rules: Rules, given: dict[str, dt.date], fhir: bool) -> None:
        self.needed = {k: v for k, v in rules.dates_needed().items() if k not in given}
        self.fhir = fhir
        self.records = 0
        self.lacking: Counter[str] = Counter()

    def watch(self, records: Iterable[Patient | RecordError]) -> Iterator[Patient | RecordError]:
        from criteria_lang.records.timeline import Patient

        for record in records:
            if isinstance(record, Patient):
                self.count(tuple(name for name in self.needed if name not in record.dates))
            yield record

    def count(self, lacking: tuple[str, ...] | None) -> None:
        """One record read: the needed dates it lacks (None: not a patient record)."""
        if lacking is not None:
            self.records += 1
            self.lacking.update(lacking)

    def note(self, record: ReadRecord) -> None:
        """One record read by criteria_lang.batch (screen)."""
        self.count(record.lacking)

    def message(self) -> str | None:
        if not self.lacking:
            return None
        lines = []
        for name, count in self.lacking.items():
            criteria = ", ".join(self.needed[name])
            if count == self.records:
                who, whom = "no record has", "every record"
            else:
                who, whom = f"{count} of {self.records} records lack", "them"
            lines.append(
                f"note: {who} the date '{name}', which criteria {criteria} count from, and no "
                f"--date {name}=YYYY-MM-DD was given: those criteria are unknown for {whom}."
            )
        if self.fhir:
            lines.append("FHIR data carries no trial dates: give them with --date NAME=YYYY-MM-DD.")
        return "\n".join(lines)


def fhir_report(summary: ReadSummary, all_problems: bool) -> str:
    limit = len(summary.problems) if all_problems else 20
    text = summary.render(max_problems=limit)
    if len(summary.problems) > limit:
        text += "\n  (--problems lists them all)"
    return text


def load_rules(
    path: Path, closed_world: bool, err: IO[str], stdlib: Sequence[Path] = ()
) -> Rules | None:
    from criteria_lang.api import Rules
    from criteria_lang.core.diagnostics import CompileError

    try:
        policy: AbsencePolicy = "closed-world" if closed_world else "coverage"
        return Rules.from_file(path, policy=policy, search_path=stdlib)
    except CompileError as error:
        print(str(error), file=err)
        print(f"{path}: has errors; run `criteria check {path}`", file=err)
        return None


# ---------------------------------------------------------------------------- eval


def cmd_eval(args: argparse.Namespace) -> int:
    from criteria_lang.api import with_dates
    from criteria_lang.core.results import PatientResult
    from criteria_lang.records.patient_json import RecordError
    from criteria_lang.report import tables as report

    require_paths([args.rules, args.patient])
    rules = load_rules(args.rules, args.closed_world, sys.stderr, args.stdlib)
    if rules is None:
        return EXIT_FINDINGS
    dates = dict(args.date)
    fhir = is_fhir_input(args.patient, args.input_format)
    summary = new_summary() if fhir else None
    check = DateCheck(rules, dates, fhir)
    count = RecordCount(args.patient)
    read = read_records(args.patient, args.input_format, dates, summary)
    records = list(count.watch(check.watch(read)))
    if summary is not None:
        print(fhir_report(summary, args.problems), file=sys.stderr)
    note = check.message()
    if note:
        print(note, file=sys.stderr)
    status = watch_input("eval", count, EXIT_OK)
    if status == EXIT_USAGE:
        return status
    out = report.console()
    results: list[PatientResult | RecordError] = []
    for record in records:
        if isinstance(record, RecordError):
            status = max(status, EXIT_FINDINGS)
            results.append(record)
            continue
        results.append(rules.evaluator.evaluate(with_dates(record, dates)))
    if args.json:
        payload = [report.json_record(r) for r in results]
        print(report.dumps(payload[0] if len(payload) == 1 else payload))
        return status
    for result in results:
        if isinstance(result, RecordError):
            print(f"{result.source}: cannot read the patient record", file=sys.stderr)
            for problem in result.problems:
                print(f"  {problem}", file=sys.stderr)
            continue
        report.print_patient(result, out)
    return status


# ---------------------------------------------------------------------------- screen


def screen_pairs(rules_path: Path, input_path: Path) -> list[tuple[Path, Path]]:
    """A folder of rule files is paired with the input's subfolders of the same name. When some
    rule files have such a subfolder (examples/<trial>/), those without one are left out (said
    on stderr) rather than run on every trial's patients; when none has, each gets the input."""
    from criteria_lang.check.checker import rule_files

    if not rules_path.is_dir():
        return [(rules_path, input_path)]
    files = list(rule_files(rules_path))
    matched = [(f, input_path / f.stem) for f in files if (input_path / f.stem).is_dir()]
    if not matched:
        return [(f, input_path) for f in files]
    for rule_file in files:
        if not (input_path / rule_file.stem).is_dir():
            folder = input_path / rule_file.stem
            print(f"{rule_file}: no folder {folder}: not screened", file=sys.stderr)
    return matched


def new_summary() -> ReadSummary:
    from criteria_lang.records.fhir import ReadSummary

    return ReadSummary()


def cmd_screen(args: argparse.Namespace) -> int:
    from criteria_lang.cli import screening as cli_screening

    if args.omop:
        return sql_commands.cmd_screen_omop(args)
    if args.input is None:
        raise UsageError("give the patients to screen (a file, a folder, '-'), or --omop SPEC")

    require_paths([args.rules, args.input])
    pairs = screen_pairs(args.rules, args.input)
    if not pairs:
        raise UsageError(f"no rule files (*.crit) in {args.rules}")
    if args.output:
        check_output(args.output, args.rules, [args.input])
    dates = dict(args.date)
    status = EXIT_OK
    usage_error = False
    # After the verdicts: what the FHIR reader did with the input, and missing trial dates.
    notes: list[str] = []
    with output_to(args.output) as handle:
        terminal = args.output is None and handle.isatty()
        output = cli_screening.Output(
            handle, args.format, terminal=terminal, whole_table=args.table
        )
        html = cli_report.HtmlReport(args.html, "screen") if args.html else None
        if html:
            output.listeners.append(html.add_line)
        for rule_file, input_path in pairs:
            rules = load_rules(rule_file, args.closed_world, sys.stderr, args.stdlib)
            if rules is None:
                status = EXIT_FINDINGS
                continue
            fhir = is_fhir_input(input_path, args.input_format)
            check = DateCheck(rules, dates, fhir)
            count = RecordCount(input_path)
            if args.format == "jsonl" or html:
                info = cli_report.run_header(
                    rules.program, "screen", input_path, fhir, args.closed_world, dates
                )
                if args.format == "jsonl":  # the rule file's block of rows starts with it
                    print(cli_report.header_line(info), file=handle)
                if html:
                    html.begin(info)
            errors = output.errors
            summary = cli_screening.screen_one(
                rules,
                input_path,
                # auto: each file of a folder in the format its content calls for
                fhir=None if args.input_format == "auto" else fhir,
                dates=dates,
                needed=tuple(check.needed),
                jobs=args.jobs,
                output=output,
                watch=(check.note, count.note),
                progress=not args.no_progress,
                read_all=args.read_all,
                stdin=sys.stdin.buffer,
                stderr=sys.stderr,
            )
            if output.errors > errors:
                status = EXIT_FINDINGS
            status = watch_input("screen", count, status)
            usage_error = usage_error or status == EXIT_USAGE
            if fhir:
                heading = f"{rule_file}: " if len(pairs) > 1 else ""
                notes.append(heading + fhir_report(summary, args.problems))
            note = check.message()
            if note:
                notes.append(note)
        output.finish(f"screening {args.input}", notes, sys.stderr)
    status = EXIT_USAGE if usage_error else status
    return (html.write() if html else EXIT_OK) or status


# ---------------------------------------------------------------------------- outcomes


def cmd_outcomes(args: argparse.Namespace) -> int:
    from criteria_lang.records.patient_json import RecordError
    from criteria_lang.report import tables as report

    require_paths([args.rules, args.input])
    if args.output:
        check_output(args.output, args.rules, [args.input])
    rules = load_rules(args.rules, args.closed_world, sys.stderr, args.stdlib)
    if rules is None:
        return EXIT_FINDINGS
    if not rules.program.outcomes:
        print(f"{args.rules}: defines no outcomes (add an `outcomes` section)", file=sys.stderr)
        return EXIT_FINDINGS
    dates = dict(args.date)
    status = EXIT_OK
    rows: list[OutcomeReport | RecordError] = []
    count = RecordCount(args.input)
    html = cli_report.HtmlReport(args.html, "outcomes") if args.html else None
    with output_to(args.output) as handle:
        if args.format == "jsonl" or html:
            fhir = is_fhir_input(args.input, args.input_format)
            info = cli_report.run_header(
                rules.program, "outcomes", args.input, fhir, args.closed_world, dates
            )
            if args.format == "jsonl":
                print(cli_report.header_line(info), file=handle)
            if html:
                html.begin(info)
        records = count.watch(read_records(args.input, args.input_format, dates))
        # A visit a column: wider than a terminal's default when written to a file or a pipe.
        out = report.console(handle, width=None if handle.isatty() else 200)
        for row in rules.screen_outcomes(records, dates=dates):
            rows.append(row)
            if html:
                html.add(row)
            if isinstance(row, RecordError):
                status = EXIT_FINDINGS
            write_outcome_row(row, args, handle, out)
        if args.format == "csv":
            report.write_outcomes_csv(rows, handle)
    print(report.outcomes_summary(rows), file=sys.stderr)
    status = watch_input("outcomes", count, status)
    return (html.write() if html else EXIT_OK) or status


def write_outcome_row(
    row: OutcomeReport | RecordError, args: argparse.Namespace, handle: IO[str], out: Console
) -> None:
    """One patient's outcomes (or why its record could not be read) in the output format; a
    table names an unreadable record on stderr."""
    from criteria_lang.records.patient_json import RecordError
    from criteria_lang.report import tables as report

    if args.format == "jsonl":
        for line in report.outcomes_jsonl(row):
            print(line, file=handle)
    elif isinstance(row, RecordError):
        if args.format == "table":
            print(f"{row.source}: cannot read the patient record", file=sys.stderr)
            for problem in row.problems:
                print(f"  {problem}", file=sys.stderr)
    elif args.format == "table":
        report.print_outcomes(row, out, details=args.details)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
