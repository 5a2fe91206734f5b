"""Reading rule files and modules, and where `import x` looks (docs/limits.md, docs/language.md).

Nothing is read outside its place. A rule file or module must be a regular file: a device
(`/dev/zero`), a FIFO or a folder is refused without being read, and no more than the size
limit is ever read. A module is looked for in an explicit search path, in this order:

1. the `stdlib/` folder in the rule file's own folder (not in the folders above it);
2. the folders given by the caller (`--stdlib DIR`, `search_path=`), then those named by
   `[tool.criteria] stdlib = [...]` in the pyproject.toml nearest above the rule file;
3. the stdlib shipped with criteria-lang.

A module file found in a folder of the path must be inside that folder once links are followed:
a link that leaves it (`stdlib/environ.crit -> /proc/self/environ`) is refused (C212). A module
outside the shipped stdlib with the name of a shipped one gets a warning naming both (C213).
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from criteria_lang.check.modules import ModuleRoot
from criteria_lang.core import messages as m
from criteria_lang.core.diagnostics import NO_SPAN, Diagnostic, Span
from criteria_lang.syntax.limits import MAX_FILE_CHARS

# UTF-8 takes at most 4 bytes a character: more bytes than this cannot be within the limit.
MAX_FILE_BYTES = 4 * MAX_FILE_CHARS


class SourceError(Exception):
    """A rule file or module that is not read: the message (core/messages.py) and its fields."""

    def __init__(self, kind: m.Message, /, **fields: Any) -> None:
        self.kind = kind
        self.fields = fields
        super().__init__(self.message)

    @property
    def code(self) -> str:
        return self.kind.code

    @property
    def message(self) -> str:
        return self.kind.message.format(**self.fields)

    @property
    def fix(self) -> str:
        return self.kind.fix.format(**self.fields)

    def diagnostic(self, file: str, span: Span = NO_SPAN, *, about: str = "") -> Diagnostic:
        """As a diagnostic; `about` says of what (`module 'labs': `)."""
        kind = self.kind.about(about) if about else self.kind
        return kind.at(file, span, **self.fields)


def read_source(path: Path, what: str = "rule file") -> str:
    """The text of a rule file or module, or SourceError (C001 unreadable or not UTF-8, C002
    not a regular file, C003 larger than the limit). A leading UTF-8 byte order mark is
    dropped. Opening does not block (a FIFO with no writer) and a device is never read."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        handle = os.open(path, flags)
    except OSError as error:
        raise SourceError(m.CANNOT_READ, what=what, reason=error.strerror or error) from None
    try:
        info = os.fstat(handle)
        if not stat.S_ISREG(info.st_mode):
            raise SourceError(m.NOT_A_REGULAR_FILE, what=what, kind=_kind(info.st_mode))
        data = _read_at_most(handle, MAX_FILE_BYTES + 1)
    except OSError as error:
        raise SourceError(
            m.CANNOT_READ_OPEN_FILE, what=what, reason=error.strerror or error
        ) from None
    finally:
        os.close(handle)
    if len(data) > MAX_FILE_BYTES:
        raise SourceError(m.TOO_MANY_BYTES, what=what, limit=MAX_FILE_BYTES)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SourceError(m.NOT_UTF8, what=what, byte=error.start + 1) from None
    return text.removeprefix("\ufeff")


def _read_at_most(handle: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = os.read(handle, min(1 << 20, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


# ---------------------------------------------------------------------- the search path


@attrs.frozen
class Found:
    """A module file found in a folder of the search path; `refused` says why it is not read."""

    path: ModuleRoot
    root: ModuleRoot
    refused: str | None = None


def find_module(roots: Sequence[ModuleRoot], parts: tuple[str, ...], suffix: str) -> Found | None:
    """The first file `parts` names under the roots, checked to stay inside its root. A folder
    of the package's own resources (the shipped stdlib, perhaps in a zip) holds no links."""
    for root in roots:
        candidate = root.joinpath(*parts[:-1], parts[-1] + suffix)
        if not isinstance(root, Path) or not isinstance(candidate, Path):
            if candidate.is_file():
                return Found(candidate, root)
            continue
        if not os.path.lexists(candidate):
            continue
        try:
            real_root, real = root.resolve(), candidate.resolve()
        except (OSError, RuntimeError) as error:  # RuntimeError: a loop of links
            return Found(candidate, root, f"its links cannot be followed ({error})")
        if not real.is_relative_to(real_root):
            return Found(
                candidate, root, f"it is a link to {real}, outside the module folder {real_root}"
            )
        return Found(real, real_root)
    return None


def read_module(location: ModuleRoot) -> str:
    """A module's text: a file on disk is read as a rule file is (read_source); a module of the
    package's own resources as it ships."""
    if isinstance(location, Path):
        return read_source(location, "module")
    try:
        return location.read_text(encoding="utf-8").removeprefix("\ufeff")
    except (OSError, UnicodeDecodeError) as error:
        raise SourceError(m.CANNOT_READ_SHIPPED, reason=error) from None


def search_path(
    rule_path: str | None, given: tuple[Path, ...], shipped: ModuleRoot
) -> tuple[ModuleRoot, ...]:
    """The folders `import x` looks in, in order (see the module's doc)."""
    roots: list[ModuleRoot] = []
    if rule_path and not rule_path.startswith("<"):
        own = Path(rule_path).absolute().parent / "stdlib"
        if own.is_dir():
            roots.append(own)
    roots.extend(given)
    if rule_path and not rule_path.startswith("<"):
        roots.extend(configured(Path(rule_path)))
    roots.append(shipped)
    unique: list[ModuleRoot] = []
    for root in roots:
        if str(root) not in {str(r) for r in unique}:
            unique.append(root)
    return tuple(unique)


def configured(rule_path: Path) -> tuple[Path, ...]:
    """`[tool.criteria] stdlib = ["dir", ...]` of the nearest pyproject.toml above the rule file
    that has a `[tool.criteria]` table, relative to it; () when none (or it cannot be read:
    `criteria lint` reports a broken configuration)."""
    start = rule_path.absolute().parent
    for folder in (start, *start.parents):
        config = folder / "pyproject.toml"
        if not config.is_file():
            continue
        try:
            data = tomllib.loads(read_source(config, "configuration"))
        except (SourceError, tomllib.TOMLDecodeError):
            return ()
        table = data.get("tool", {}).get("criteria")
        if not isinstance(table, dict):
            continue
        folders = table.get("stdlib", [])
        if isinstance(folders, str):
            folders = [folders]
        if not isinstance(folders, list):
            return ()
        return tuple(folder / str(f) for f in folders if isinstance(f, str))
    return ()


def shadows(
    found: Found, parts: tuple[str, ...], suffix: str, shipped: ModuleRoot
) -> ModuleRoot | None:
    """The shipped module that `found` (a module outside the shipped stdlib) hides, if any."""
    if str(found.root) == str(shipped) or (
        isinstance(shipped, Path)
        and isinstance(found.root, Path)
        and found.root == shipped.resolve()
    ):
        return None
    twin = shipped.joinpath(*parts[:-1], parts[-1] + suffix)
    try:
        if not twin.is_file():
            return None
        if isinstance(twin, Path) and isinstance(found.path, Path):
            return None if twin.resolve() == found.path.resolve() else twin
    except OSError:
        return None
    return twin
