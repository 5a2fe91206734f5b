"""The options of `criteria screen` that criteria_lang.cli.screening acts on (kept apart from
it so that building the argument parser imports nothing heavy)."""

from __future__ import annotations

import argparse


def add_options(screen: argparse.ArgumentParser) -> None:
    screen.add_argument(
        "--jobs",
        "-j",
        type=positive_int,
        default=None,
        metavar="N",
        help="worker processes (default: one per core; small inputs are screened in one)",
    )
    screen.add_argument(
        "--table",
        action="store_true",
        help="on a terminal, show the whole table (paged) even when it is long",
    )
    screen.add_argument(
        "--no-progress", action="store_true", help="no progress bar on a terminal's stderr"
    )
    screen.add_argument(
        "--read-all",
        action="store_true",
        help="FHIR input: read and check every resource, also those the rules cannot use "
        "(by default they are skipped unread and counted as such)",
    )


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected a number of processes, got {text!r}") from error
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value
