"""Files that ship in the package but are generated from other files, ahead of time.

The parser tables (syntax/parser.json, from the grammar) and pint's parsed definitions
(core/pint_definitions.json, from pint's definition files) are made by the developer who changes
their source, so that no run of criteria-lang has to; each has a small command that writes the
file or, with `--check`, says whether it is up to date (the tests run the check).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib import resources

__all__ = ["generator_main"]


def generator_main(
    argv: Sequence[str] | None,
    *,
    module: str,
    target: tuple[str, str],
    description: str,
    is_current: Callable[[str], bool],
    generate: Callable[[], str],
) -> int:
    """`python -m MODULE [--check]`: write `target` (package, file name) with `generate()`, or
    exit 1 when `is_current(its text)` is false."""
    package, name = target
    options = argparse.ArgumentParser(prog=f"python -m {module}", description=description)
    options.add_argument(
        "--check", action="store_true", help="exit 1 if the file is out of date; write nothing"
    )
    args = options.parse_args(argv)
    file = resources.files(package).joinpath(name)
    if args.check:
        try:
            current = file.read_text(encoding="utf-8")
        except OSError:
            current = ""
        if not is_current(current):
            print(f"{name} is out of date: run python -m {module}", file=sys.stderr)
            return 1
        print(f"{name} is up to date")
        return 0
    text = generate()
    with resources.as_file(file) as path:
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path} ({len(text)} bytes)")
    return 0
