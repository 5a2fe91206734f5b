"""How long the language server takes to answer, on the seed rule files.

    python bench/bench_lsp.py [--repeat N]

For each rule file in rules/: the analysis behind the diagnostics (compile + lint + index, what a
change costs after the debounce), against the floor of compiling alone (`criteria check`'s
work), and the answers to hover, definition, completion and the outline at a fixed place. CPU
time of this process (the server compiles in one thread), median of N runs after one warm-up;
the first compile of a process (parser tables, stdlib) is printed apart.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from criteria_lang.check.checker import compile_text
from criteria_lang.lsp.adapter import analyse
from criteria_lang.lsp.completion import complete
from criteria_lang.lsp.features import Document, definition, document_symbols, hover

ROOT = Path(__file__).resolve().parent.parent


def cpu_ms(work: Callable[[], object], repeat: int) -> float:
    work()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.process_time()
        work()
        times.append((time.process_time() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    files = sorted((ROOT / "rules").glob("*.crit"))
    start = time.process_time()
    analyse(files[0].read_text(encoding="utf-8"), str(files[0].resolve()))
    print(f"first analysis in a process: {(time.process_time() - start) * 1000:.0f} ms CPU")
    header = f"{'file':<22} {'lines':>5} {'compile':>8} {'analysis':>9} {'ratio':>6}"
    print(header + f" {'hover':>6} {'defn':>6} {'compl':>6} {'outline':>7}  (ms CPU, median)")
    for file in files:
        print(measure(file, args.repeat))


def measure(file: Path, repeat: int) -> str:
    """One row: the figures of one rule file."""
    text = file.read_text(encoding="utf-8")
    path = str(file.resolve())
    floor = cpu_ms(lambda: compile_text(text, path), repeat)
    whole = cpu_ms(lambda: Document.of(analyse(text, path)), repeat)
    document = Document.of(analyse(text, path))
    spot = text.find("labs.")
    spot = spot + 6 if spot != -1 else len(text) // 2
    at_end = text + '\n  X1 "x":\n    latest lab labs.creatinine at screening > 2 '
    figures = [
        cpu_ms(lambda: hover(document, spot), repeat),
        cpu_ms(lambda: definition(document, spot), repeat),
        cpu_ms(lambda: complete(document.analysis, at_end, len(at_end), path), repeat),
        cpu_ms(lambda: document_symbols(document), repeat),
    ]
    cells = " ".join(f"{f:>6.2f}" for f in figures[:3])
    return (
        f"{file.name:<22} {text.count(chr(10)):>5} {floor:>8.1f} {whole:>9.1f} "
        f"{whole / floor:>6.2f} {cells} {figures[3]:>7.2f}"
    )


if __name__ == "__main__":
    main()
