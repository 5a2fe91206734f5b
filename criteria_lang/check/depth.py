"""How deep an expression is once the definitions it uses are counted in (docs/limits.md).

The checker, the compiler and the evaluator walk an expression by recursion, and a reference to
a definition continues the walk into its body. The parser already refuses a tree deeper than
MAX_DEPTH; this counts depth through definitions as well, so that 10,000 definitions each using
the one before are a diagnostic (C007) instead of a RecursionError. Computed without recursion,
each definition once.
"""

from __future__ import annotations

from collections.abc import Callable

from criteria_lang.syntax import nodes as n
from criteria_lang.syntax.limits import MAX_DEPTH

# A definition's body, and where to look up the names in it (its module's lookup).
Body = tuple[object, Callable[[tuple[str, ...]], object]]


class DepthCounter:
    """Effective depth of expressions; `define_of(symbol)` turns a looked-up symbol into the
    body of the definition it names (None for anything else)."""

    def __init__(self, define_of: Callable[[object], Body | None]) -> None:
        self.define_of = define_of
        self.depths: dict[int, int] = {}

    def depth(self, body: Body) -> int:
        """The depth of `body`, with each definition it uses counted at the level it is used."""
        on_path: set[int] = set()
        stack = [body]
        while stack:
            current = stack[-1]
            key = id(current[0])
            if key in self.depths:
                stack.pop()
                continue
            tree_depth, uses = self._walk(current)
            pending = [
                used
                for _, used in uses
                if id(used[0]) not in self.depths and id(used[0]) not in on_path
            ]
            if pending:
                on_path.add(key)
                stack.extend(pending)
                continue
            # A definition on the path is a cycle (reported as C206): it adds nothing here.
            self.depths[key] = max(
                [tree_depth] + [level + self.depths.get(id(used[0]), 0) for level, used in uses]
            )
            on_path.discard(key)
            stack.pop()
        return self.depths[id(body[0])]

    def _walk(self, body: Body) -> tuple[int, list[tuple[int, Body]]]:
        """The tree depth of the body and the definitions it uses, with their levels."""
        node, lookup = body
        deepest = 0
        uses: list[tuple[int, Body]] = []
        stack: list[tuple[object, int]] = [(node, 1)]
        while stack:
            current, level = stack.pop()
            deepest = max(deepest, level)
            if isinstance(current, n.Ref):
                used = self.define_of(lookup(current.parts))
                if used is not None:
                    uses.append((level, used))
            stack.extend((child, level + 1) for child in n.children(current))
        return deepest, uses


def too_deep(depth: int) -> bool:
    return depth > MAX_DEPTH
