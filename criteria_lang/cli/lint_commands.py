"""`criteria lint` and `criteria fmt`: rule files checked and formatted like code (CI, pre-commit).

Exit codes, for both: 0 clean; 1 findings at or above the threshold (lint) or files that are not
formatted (`fmt --check`); 2 usage or internal error, or (fmt) a file that does not parse.
"""

from __future__ import annotations

import argparse
import difflib
import sys
import traceback
from pathlib import Path
from typing import IO, TYPE_CHECKING

from criteria_lang.cli.files import UsageError, fail, require_paths

# The linter and the formatter are imported by the commands that run them, not here: building
# the `criteria` argument parser must stay cheap (`criteria --help`).
if TYPE_CHECKING:
    from criteria_lang.core.diagnostics import Diagnostic
    from criteria_lang.tools.fmt import FormatError
    from criteria_lang.tools.lint import LintConfig

# The output formats of `lint --format` (tools/lint_output.py FORMATS; a test keeps them equal).
FORMATS = ("text", "json", "github", "sarif")

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2

LINT_EPILOG = """\
rules (docs/lint.md has a bad and a good example of each):
{rules}
  C...  compile errors (always reported; they cannot be ignored)

configuration: [tool.criteria.lint] in the nearest pyproject.toml above each rule file:
  select = ["W"], ignore = ["W108"], severity = "warning" (the --fail-on default).
  On a line: `# criteria: ignore[W101]` or `# criteria: ignore` (every W code).
  --select, --ignore and --fail-on override the file.

exit codes:
  0  no finding at or above the --fail-on severity
  1  findings at or above the --fail-on severity
  2  usage or configuration error, or an internal error
"""

FMT_EPILOG = """\
exit codes:
  0  every file is formatted (or was reformatted)
  1  --check: some files are not formatted (their diff is printed)
  2  usage error, a file that does not parse or cannot be read (nothing is written for
     it), or an internal error
"""


class HelpWithRules(argparse.Action):
    """`criteria lint --help`: the epilog lists the lint rules, which only importing the linter
    can tell, so it is made when the help is asked for (not whenever the parser is built)."""

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        parser.epilog = lint_epilog()
        parser.print_help()
        parser.exit()


def lint_epilog() -> str:
    from criteria_lang.tools.lint import RULES

    rules = "\n".join(f"  {r.code}  {r.summary} [{r.severity}]" for r in RULES)
    return LINT_EPILOG.format(rules=rules)


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    lint = sub.add_parser(
        "lint",
        help="report compile errors and lint warnings (W codes) in rule files",
        description="Report compile errors and lint warnings in rule files.",
        add_help=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    lint.add_argument(
        "-h", "--help", action=HelpWithRules, nargs=0, help="show this help message and exit"
    )
    lint.add_argument("paths", nargs="+", type=Path, help="rule files or folders of them")
    lint.add_argument("--format", choices=FORMATS, default="text", help="output format")
    lint.add_argument(
        "--select",
        action="append",
        metavar="CODES",
        help="run only these codes or prefixes, comma-separated (e.g. W1,W203); replaces the "
        "pyproject.toml setting",
    )
    lint.add_argument(
        "--ignore",
        action="append",
        metavar="CODES",
        help="do not run these codes or prefixes; replaces the pyproject.toml setting",
    )
    lint.add_argument(
        "--fail-on",
        choices=["error", "warning", "info"],
        help="the lowest severity that makes the exit code 1 (default: the pyproject.toml "
        "`severity`, else warning)",
    )
    lint.add_argument("--output", "-o", type=Path, help="write the report to a file")

    fmt = sub.add_parser(
        "fmt",
        help="format rule files in the canonical layout",
        description="Format rule files in place, or check that they are formatted.",
        epilog=FMT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fmt.add_argument("paths", nargs="+", type=Path, help="rule files or folders of them")
    fmt.add_argument(
        "--check",
        action="store_true",
        help="write nothing; print the diff of each file that is not formatted and exit 1",
    )
    fmt.add_argument("--diff", action="store_true", help="write nothing; print the diffs")


def _files(paths: list[Path]) -> list[Path]:
    from criteria_lang.check.checker import rule_files

    require_paths(paths)
    return [f for p in paths for f in rule_files(p)]


# ---------------------------------------------------------------------------- lint


def cmd_lint(args: argparse.Namespace) -> int:
    from criteria_lang.tools.lint import ConfigError

    try:
        return _lint(args)
    except UsageError as error:
        return fail("lint", error)
    except ConfigError as error:
        print(f"criteria lint: {error}", file=sys.stderr)
        return EXIT_USAGE
    except Exception:  # an internal error must not look like findings
        traceback.print_exc()
        print("criteria lint: internal error (please report it)", file=sys.stderr)
        return EXIT_USAGE


def _lint(args: argparse.Namespace) -> int:
    import attrs

    from criteria_lang.core.diagnostics import Diagnostic
    from criteria_lang.tools.lint import find_config, lint_file, parse_codes
    from criteria_lang.tools.lint_output import write

    select = parse_codes(args.select, "--select") if args.select else None
    ignore = parse_codes(args.ignore, "--ignore") if args.ignore else None
    files = _files(args.paths)
    if not files:
        print("criteria lint: no rule files (*.crit) found", file=sys.stderr)
        return EXIT_USAGE
    configs: dict[Path, LintConfig] = {}
    findings: dict[Diagnostic, None] = {}
    sources: dict[str, str] = {}
    failed = False
    for path in files:
        folder = path.resolve().parent
        if folder not in configs:
            configs[folder] = find_config(path)
        config = configs[folder]
        if select is not None:
            config = attrs.evolve(config, select=select)
        if ignore is not None:
            config = attrs.evolve(config, ignore=ignore)
        if args.fail_on is not None:
            config = attrs.evolve(config, fail_on=args.fail_on)
        program, found = lint_file(path, config)
        sources.update(program.sources)
        for finding in found:
            findings.setdefault(finding, None)
            failed = failed or config.fails(finding)
    ordered = sorted(findings, key=Diagnostic.sort_key)
    report = write(args.format, ordered, sources, len(files))
    _output(report, args.output)
    return EXIT_FINDINGS if failed else EXIT_OK


def _output(text: str, path: Path | None) -> None:
    if path is None:
        sys.stdout.write(text)
        return
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(text)


# ---------------------------------------------------------------------------- fmt


def cmd_fmt(args: argparse.Namespace) -> int:
    from criteria_lang.tools.fmt import FormatError, format_text

    try:
        files = _files(args.paths)
    except UsageError as error:
        return fail("fmt", error)
    if not files:
        print("criteria fmt: no rule files (*.crit) found", file=sys.stderr)
        return EXIT_USAGE
    write_back = not (args.check or args.diff)
    changed = unchanged = failed = 0
    for path in files:
        try:
            with path.open(encoding="utf-8", newline="") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as error:
            print(f"{path}: cannot read it: {error}", file=sys.stderr)
            failed += 1
            continue
        try:
            formatted = format_text(text, str(path))
        except FormatError as error:
            _report_format_error(path, text, error, sys.stderr)
            failed += 1
            continue
        except Exception:  # a bug in the formatter: not "needs formatting" (exit 1)
            traceback.print_exc()
            print(f"{path}: internal error while formatting (please report it)", file=sys.stderr)
            failed += 1
            continue
        if formatted == text:
            unchanged += 1
            continue
        changed += 1
        if write_back:
            with path.open("w", encoding="utf-8", newline="") as handle:
                handle.write(formatted)
        else:
            sys.stdout.writelines(
                difflib.unified_diff(
                    text.splitlines(keepends=True),
                    formatted.splitlines(keepends=True),
                    fromfile=str(path),
                    tofile=f"{path} (formatted)",
                )
            )
    _fmt_summary(changed, unchanged, failed, write_back)
    if failed:
        return EXIT_USAGE
    if args.check and changed:
        return EXIT_FINDINGS
    return EXIT_OK


def _report_format_error(path: Path, text: str, error: FormatError, out: IO[str]) -> None:
    from criteria_lang.core.diagnostics import render

    print(f"{path}: cannot format: {error}", file=out)
    for diagnostic in error.diagnostics:
        print(render(diagnostic, text), file=out)


def _fmt_summary(changed: int, unchanged: int, failed: int, write_back: bool) -> None:
    def files(count: int) -> str:
        return f"{count} file{'s' if count != 1 else ''}"

    parts = []
    if changed:
        parts.append(f"{files(changed)} {'reformatted' if write_back else 'would be reformatted'}")
    if unchanged:
        parts.append(f"{files(unchanged)} already formatted")
    if failed:
        parts.append(f"{files(failed)} could not be formatted")
    print(", ".join(parts) + ".", file=sys.stderr)
