"""`criteria report` and the `--html` option of `screen` and `outcomes` (issue 16).

`criteria --help` imports this module to build its parser: everything but argparse is imported
inside the functions (cli/main.py's rule), and the report's libraries (jinja2, altair,
vl-convert) only when a report is written.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from criteria_lang.cli.files import UsageError, check_output

if TYPE_CHECKING:
    from criteria_lang.check.checker import CompiledRules
    from criteria_lang.core.results import OutcomeReport, PatientResult
    from criteria_lang.records.patient_json import RecordError
    from criteria_lang.report.outcome_summary import OutcomeSummary
    from criteria_lang.report.run import RunInfo, RunKind
    from criteria_lang.report.screen_summary import ScreenSummary

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def add_html_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--html",
        type=Path,
        metavar="REPORT.html",
        help="also write a self-contained HTML report (charts, table, drill-down per patient)",
    )


def add_parsers(sub: Any) -> None:
    report = sub.add_parser(
        "report",
        help="an HTML report from saved results (screen or outcomes --format jsonl)",
        description="Make the HTML report of `criteria screen --html` (or `outcomes --html`) "
        "from results saved with `--format jsonl`, without running the screen again.",
    )
    report.add_argument("results", type=Path, help="a JSON Lines file of results; '-' for stdin")
    report.add_argument(
        "--output", "-o", type=Path, help="the HTML file (default: RESULTS with .html)"
    )
    report.add_argument(
        "--evidence",
        type=int,
        default=12,
        metavar="N",
        help="pieces of evidence kept per criterion in a drill-down, the decisive first "
        "(default 12; fewer make a smaller file: docs/report.md)",
    )


LIBRARIES = (("jinja2", "jinja2"), ("altair", "altair"), ("vl_convert", "vl-convert-python"))


def preflight(args: argparse.Namespace) -> int | None:
    """Before a long screen: can the report be written at all? The libraries are there, and
    `--html` names a file in a folder that exists and is none of the inputs (UsageError)."""
    html: Path | None = getattr(args, "html", None)
    if args.command != "report" and html is None:
        return None
    from importlib.util import find_spec

    missing = [package for module, package in LIBRARIES if find_spec(module) is None]
    if missing:
        print(
            f"criteria {args.command}: the HTML report needs {', '.join(missing)}: "
            "pip install 'criteria-lang[report]'",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if html is not None:
        try:
            check_output(html, args.rules, [args.input])
        except UsageError as error:
            raise UsageError(str(error).replace("-o ", "--html ", 1)) from None
    return None


def run_header(
    program: CompiledRules,
    kind: RunKind,
    input_path: Path,
    fhir: bool,
    closed_world: bool,
    dates: Mapping[str, dt.date],
) -> RunInfo:
    from criteria_lang.report.run import describe_run

    return describe_run(
        program,
        kind,
        input_path=str(input_path),
        input_format="FHIR R4" if fhir else "patient JSON",
        policy="closed-world" if closed_world else "coverage",
        dates=dates,
    )


def header_line(info: RunInfo) -> str:
    import orjson

    return orjson.dumps(info.to_dict()).decode()


class HtmlReport:
    """Collects the rows of `screen --html` or `outcomes --html`, one block per rule file."""

    def __init__(self, path: Path, kind: RunKind) -> None:
        self.path = path
        self.kind = kind
        self.screens: list[ScreenSummary] = []
        self.outcomes: list[OutcomeSummary] = []

    def begin(self, info: RunInfo) -> None:
        if self.kind == "screen":
            from criteria_lang.report.screen_summary import ScreenSummary

            self.screens.append(ScreenSummary(info))
        else:
            from criteria_lang.report.outcome_summary import OutcomeSummary

            self.outcomes.append(OutcomeSummary(info))

    def add(self, row: PatientResult | OutcomeReport | RecordError) -> None:
        from criteria_lang.records.patient_json import RecordError

        if isinstance(row, RecordError):
            data: dict[str, Any] = {
                "verdict" if self.kind == "screen" else "result": "error",
                "source": row.source,
                "problems": [{"path": p.path, "message": p.message} for p in row.problems],
            }
        else:
            data = row.to_dict()
        if self.kind == "screen":
            self.screens[-1].add(data)
        else:
            self.outcomes[-1].add(data)

    def add_line(self, row: PatientResult | RecordError, line: bytes | None) -> None:
        """A screen's row, with its JSON Lines text when a worker process wrote it (read back
        rather than serialising the row again)."""
        if line is None:
            self.add(row)
            return
        import orjson

        data = orjson.loads(line)
        if self.kind == "screen":
            self.screens[-1].add(data)
        else:
            self.outcomes[-1].add(data)

    def write(self) -> int:
        """Write the file; EXIT_USAGE (said on stderr) when it cannot be written."""
        from criteria_lang.report import html

        page = (
            html.render_screen(self.screens)
            if self.kind == "screen"
            else html.render_outcomes(self.outcomes)
        )
        return write_page(self.path, page)


def write_page(path: Path, page: str) -> int:
    from criteria_lang.report.html import write_html

    try:
        write_html(path, page)
    except OSError as error:
        print(f"{path}: cannot write the report: {error.strerror or error}", file=sys.stderr)
        return EXIT_USAGE
    size = len(page.encode("utf-8"))
    print(f"report: {path} ({size / 1e6:.1f} MB)", file=sys.stderr)
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from criteria_lang.report import html
    from criteria_lang.report.jsonl_input import ResultsError, ResultsReader

    source = str(args.results)
    if source == "-" and args.output is None:
        print("criteria report: reading stdin needs --output REPORT.html", file=sys.stderr)
        return EXIT_USAGE
    output = args.output or args.results.with_suffix(".html")
    if source != "-" and output.resolve() == args.results.resolve():
        print(f"{source}: the report would overwrite its input; give --output", file=sys.stderr)
        return EXIT_USAGE
    if args.evidence < 0:
        print("criteria report: --evidence must be 0 or more", file=sys.stderr)
        return EXIT_USAGE
    reader = ResultsReader("<stdin>" if source == "-" else source, args.evidence)
    try:
        if source == "-":
            reader.feed(sys.stdin.buffer)
        else:
            with args.results.open("rb") as lines:
                reader.feed(lines)
    except OSError as error:
        print(f"{source}: cannot read: {error.strerror or error}", file=sys.stderr)
        return EXIT_USAGE
    except ResultsError as error:
        print(str(error), file=sys.stderr)
        return EXIT_FINDINGS
    for problem in reader.problems:
        print(problem, file=sys.stderr)
    if reader.skipped > len(reader.problems):
        print(
            f"... and {reader.skipped - len(reader.problems)} more lines skipped", file=sys.stderr
        )
    if reader.kind is None:
        print(f"{source}: no results (write them with --format jsonl)", file=sys.stderr)
        return EXIT_FINDINGS
    if reader.kind == "screen":
        page = html.render_screen(reader.screens)
    else:
        page = html.render_outcomes(reader.outcomes)
    status = write_page(output, page)
    return status or (EXIT_FINDINGS if reader.skipped else EXIT_OK)
