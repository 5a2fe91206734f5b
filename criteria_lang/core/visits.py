"""Visit names: how a rule's visit name meets a record's."""

from __future__ import annotations


def visit_key(name: str) -> str:
    """Visit names match ignoring case and repeated spaces ("Week 24" is "week  24")."""
    return " ".join(name.split()).casefold()
