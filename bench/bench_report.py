"""How big the HTML report of a large screen is, how long it takes to make, and how fast it opens.

    python bench/bench_report.py [--patients 100000] [--repeat 3]
    make bench-report        # 100,000 patients (the first run generates and screens them: ~15 min)

Generates N patients with bench/generate.py and screens them against rules/nct03562065.crit with
`criteria screen --format jsonl` (both cached in bench/out/), then measures:
(a) `criteria report RESULTS.jsonl -o REPORT.html`: wall and CPU time, peak memory of the process;
(b) the file: its size, per patient, against the JSON Lines it was made from, and what fills it
    (patient table, drill-down chunks, the rest);
(c) headless Chromium (Debian's chromium + chromium-driver): time from navigation until the page's
    script has decoded the patient table and drawn its first page (as the page measures it,
    performance.now()), the median of --repeat fresh browsers; then, in the open page, a search
    for one patient id over all rows, a sort of all rows, and opening the last patient's
    drill-down (which decodes its chunk).
Timings on a shared machine are noisy: the load average is printed with them, and CPU time beside
wall time where there is one. docs/report.md keeps the figures.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

import bench_screen  # noqa: E402
import generate  # noqa: E402
import headless  # noqa: E402

RULES = ROOT / "rules" / "nct03562065.crit"


def load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def run_cli(*args: str) -> tuple[float, float, float]:
    """Run `criteria ARGS` in its own process: wall s, CPU s, peak RSS MB."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    command = [sys.executable, "-m", "criteria_lang.cli.main", *args]
    before = os.times()
    began = time.perf_counter()
    launched = subprocess.run(
        [sys.executable, "-c", bench_screen.LAUNCHER, *command],
        check=True,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    wall = time.perf_counter() - began
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return wall, cpu, int(launched.stdout.split()[-1]) / 1024


def screened(patients: int, seed: int) -> Path:
    data, _ = bench_screen.data_file(patients, seed)
    results = ROOT / "bench" / "out" / f"screen-{patients}-{seed}.jsonl"
    if not results.exists() or results.stat().st_mtime < data.stat().st_mtime:
        print(f"screening {patients} patients into {results.relative_to(ROOT)} ...", flush=True)
        partial = results.with_suffix(".partial")
        wall, cpu, _ = run_cli(
            "screen", str(RULES), str(data), "--format", "jsonl", "-o", str(partial)
        )
        partial.rename(results)
        print(f"  screen: {wall:.0f} s wall, {cpu:.0f} s CPU (load {load()})")
    return results


def composition(page: str) -> dict[str, int]:
    blocks = re.findall(
        r'<script type="application/gzip\+base64" id="([^"]+)">([^<]*)</script>', page
    )
    table = sum(len(text) for ident, text in blocks if ident.endswith("-table"))
    chunks = sum(len(text) for ident, text in blocks if not ident.endswith("-table"))
    return {"table": table, "chunks": chunks, "rest": len(page) - table - chunks}


def in_browser(page: Path, repeat: int) -> dict[str, float]:
    opened, walls = [], []
    after: dict[str, float] = {}
    for attempt in range(repeat):
        with headless.chromium() as driver:
            began = time.perf_counter()
            opened.append(headless.open_report(driver, page, timeout=300))
            walls.append(time.perf_counter() - began)
            errors = headless.console_errors(driver)
            if errors:
                raise SystemExit(f"console errors: {errors}")
            if attempt == 0:
                after = interactions(driver)
    return {"open": statistics.median(opened), "open_wall": statistics.median(walls), **after}


def interactions(driver: object) -> dict[str, float]:
    """Search, sort and a drill-down, timed inside the page (milliseconds)."""
    script = """
    const done = arguments[arguments.length - 1];
    const s = document.querySelector("section[data-blob]").report;
    const last = s.n - 1, id = s.data.id[last];
    let t = performance.now();
    s.state.query = id.toLowerCase(); s.refresh();
    const search = performance.now() - t, found = s.rows.length;
    s.state.query = ""; s.state.sort = "id"; s.state.dir = -1;
    t = performance.now(); s.refresh(); const sort = performance.now() - t;
    t = performance.now();
    s.open(last).then(() => done([search, found, sort, performance.now() - t,
      document.querySelector(".drill").textContent.includes(id)]));
    """
    search, found, sort, drill, shown = driver.execute_async_script(script)  # type: ignore[attr-defined]
    if found < 1 or not shown:
        raise SystemExit("the search or the drill-down did not find the last patient")
    return {"search_ms": search, "sort_ms": sort, "drill_ms": drill}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=generate.DEFAULT_SEED)
    parser.add_argument("--repeat", type=int, default=3, help="fresh browsers to time the opening")
    args = parser.parse_args()

    results = screened(args.patients, args.seed)
    page = ROOT / "bench" / "out" / f"report-{args.patients}.html"
    wall, cpu, rss = run_cli("report", str(results), "-o", str(page))
    size = page.stat().st_size
    text = page.read_text(encoding="utf-8")
    parts = composition(text)
    n = args.patients
    print(f"{n:,} patients against {RULES.name}; load average {load()}")
    print(
        f"(a) `criteria report` of {results.stat().st_size / 1e6:,.0f} MB of JSON Lines: "
        f"{wall:.1f} s wall, {cpu:.1f} s CPU ({n / cpu:,.0f} patients/s CPU), "
        f"peak RSS {rss:,.0f} MB"
    )
    print(
        f"(b) report: {size / 1e6:.1f} MB = {size / n:,.0f} bytes a patient = "
        f"{100 * size / results.stat().st_size:.1f}% of the JSON Lines; patient table "
        f"{parts['table'] / 1e6:.1f} MB, drill-downs {parts['chunks'] / 1e6:.1f} MB, "
        f"page and charts {parts['rest'] / 1e6:.2f} MB"
    )
    reason = headless.missing_reason()
    if reason is not None:
        print(f"(c) not measured: {reason}")
        return 0
    timing = in_browser(page, args.repeat)
    print(
        f"(c) headless Chromium: ready (table decoded, first page drawn) {timing['open']:.2f} s "
        f"after navigation (median of {args.repeat}; {timing['open_wall']:.2f} s wall through "
        f"the driver); search all rows {timing['search_ms']:.0f} ms, sort all rows "
        f"{timing['sort_ms']:.0f} ms, last patient's drill-down {timing['drill_ms']:.0f} ms "
        f"(load average {load()})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
