"""Measuring a command as a whole: wall time, CPU time and the peak memory of its process tree.

    from measure import run, machine, median

`run(command)` starts the command, samples the resident memory of it and of every process it
starts (worker processes included) every few milliseconds, and reaps it with `os.wait4`, whose
resource usage covers the command and every descendant it waited for: so `cpu` is the CPU time
of the whole tree, as `/usr/bin/time` would give it. Memory is reported three ways:

- `peak_rss_mib`: the largest resident set of any one process (what `/usr/bin/time %M` says);
- `peak_tree_rss_mib`: the largest sum of the resident sets of all the tree's processes at one
  sample. Pages that forked workers share with their parent are counted once per process, so
  this over-counts; it is the figure the 500 MB target is held to;
- `peak_tree_pss_mib`: the same with the proportional set size (shared pages split between the
  processes sharing them): what the tree really costs the machine.

Linux only (/proc). Load averages are read from /proc/loadavg and printed beside every figure,
because the machines these run on are shared.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 1024 * 1024


@dataclass(frozen=True)
class Measured:
    """One run of a command: seconds, MiB, its exit status."""

    wall: float
    cpu: float
    peak_rss_mib: float
    peak_tree_rss_mib: float
    peak_tree_pss_mib: float
    peak_processes: int
    returncode: int


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            text = Path(f"/proc/{pid}/task/{task}/children").read_text()
        except OSError:
            continue
        found.extend(int(x) for x in text.split())
    return found


def tree(pid: int) -> list[int]:
    """`pid` and all its descendants alive now."""
    out, todo = [], [pid]
    while todo:
        here = todo.pop()
        out.append(here)
        todo.extend(_children(here))
    return out


def rss_bytes(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/statm").read_text().split()
    except OSError:
        return 0
    return int(fields[1]) * PAGE


def pss_bytes(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


class TreeSampler(threading.Thread):
    """Samples the memory of a process tree until stopped; keeps the peaks."""

    def __init__(self, pid: int, interval: float = 0.01, pss_every: int = 5) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.pss_every = pss_every
        self.peak_rss = self.peak_pss = self.peak_one = 0
        self.peak_processes = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        tick = 0
        while not self._stop_event.is_set():
            pids = tree(self.pid)
            sizes = [rss_bytes(p) for p in pids]
            self.peak_rss = max(self.peak_rss, sum(sizes))
            self.peak_one = max(self.peak_one, max(sizes, default=0))
            self.peak_processes = max(self.peak_processes, len(pids))
            if tick % self.pss_every == 0:
                self.peak_pss = max(self.peak_pss, sum(pss_bytes(p) for p in pids))
            tick += 1
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def run(
    command: Sequence[str],
    *,
    stdout: IO[bytes] | int | None = subprocess.DEVNULL,
    stderr: IO[bytes] | int | None = subprocess.DEVNULL,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    check: bool = True,
) -> Measured:
    """Run `command` to its end, measuring it and its descendants."""
    # As a user's Python runs: with its bytecode cache (a shell that sets PYTHONDONTWRITEBYTECODE
    # would make every run compile the package again, ~0.3 s of "start-up").
    env = dict(os.environ if env is None else env)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    began = time.perf_counter()
    process = subprocess.Popen(list(command), stdout=stdout, stderr=stderr, env=env, cwd=cwd)
    sampler = TreeSampler(process.pid)
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - began
    sampler.stop()
    process.returncode = os.waitstatus_to_exitcode(status)
    if check and process.returncode != 0:
        raise subprocess.CalledProcessError(process.returncode, list(command))
    return Measured(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        # ru_maxrss (KiB) covers the largest process; the sampler may miss a short peak.
        peak_rss_mib=max(usage.ru_maxrss * 1024, sampler.peak_one) / MIB,
        peak_tree_rss_mib=max(sampler.peak_rss, usage.ru_maxrss * 1024) / MIB,
        peak_tree_pss_mib=sampler.peak_pss / MIB,
        peak_processes=sampler.peak_processes,
        returncode=process.returncode,
    )


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()} on "
        f"{platform.system()} {platform.release()}; load average {load()}"
    )


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")
