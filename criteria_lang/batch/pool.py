"""Worker processes that run one function over a stream of tasks, results in task order.

    pool = OrderedPool(work, jobs=2)
    for tag, result in pool.run(tasks):     # tasks: (payload bytes, tag); result: bytes | Failure
        ...

Why processes, and how:
- CPython runs Python code on one core at a time; reading JSON into timelines and evaluating are
  Python code, so using every core takes processes.
- Workers are forked: they start with everything the parent built (the compiled rules, the unit
  registry, the parser), so nothing is compiled twice and nothing has to be sent to them but the
  work. Where the platform cannot fork, `can_fork()` is false and callers run in-process.
- Tasks and results are bytes, sent with `Connection.send_bytes`/`recv_bytes` over pipes: no
  object is pickled, in either direction (the project passes nothing to pickle).
- Each worker reads its tasks on a thread of its own while it works, so the parent's writes never
  wait on a busy worker and a worker's result never waits on the parent's writes (no deadlock
  with several tasks in flight); up to `depth` tasks are in flight per worker.
- Results come back in task order whatever the workers' speed: out-of-order results wait in a
  buffer, and no new task is sent while `window` tasks are outstanding, so memory stays bounded.
- A worker that dies (killed, out of memory, a crash in C code) costs only its tasks in flight:
  each comes back as a `Failure` naming the exit status, and a new worker takes its place.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import queue
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection, wait
from typing import Any, Generic, TypeVar

import attrs

Tag = TypeVar("Tag")
_RESULT, _ERROR = b"R", b"E"


@attrs.frozen
class Failure:
    """A task that produced no result: its worker died, or `work` raised."""

    reason: str


def can_fork() -> bool:
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _serve(tasks: Connection, results: Connection, work: Callable[[bytes], bytes]) -> None:
    """A worker's life: take tasks (a thread keeps reading them), send back results."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    # Objects inherited from the parent are never garbage: keep the collector off them, so
    # that it neither scans them nor writes to (and so copies) their pages.
    gc.freeze()
    inbox: queue.SimpleQueue[bytes] = queue.SimpleQueue()

    def pump() -> None:
        while True:
            try:
                data = tasks.recv_bytes()
            except (EOFError, OSError):
                data = b""
            inbox.put(data)
            if not data:
                return

    threading.Thread(target=pump, daemon=True).start()
    while True:
        data = inbox.get()
        if not data:
            return
        try:
            reply = _RESULT + work(data)
        except Exception as error:  # noqa: BLE001 - reported as this task's failure
            reply = _ERROR + f"{type(error).__name__}: {error}".encode()
        try:
            results.send_bytes(reply)
        except (BrokenPipeError, OSError):
            return


@attrs.define(eq=False)
class _Worker:
    process: Any  # multiprocessing.context.ForkProcess
    tasks: Connection  # parent -> worker
    results: Connection  # worker -> parent
    in_flight: deque[int] = attrs.field(factory=deque)

    def close(self) -> None:
        for conn in (self.tasks, self.results):
            with contextlib.suppress(OSError):
                conn.close()


class OrderedPool(Generic[Tag]):
    """`jobs` forked workers running `work(payload) -> bytes`; see the module docstring."""

    def __init__(
        self,
        work: Callable[[bytes], bytes],
        *,
        jobs: int,
        depth: int = 2,
        window: int | None = None,
    ) -> None:
        self.work = work
        self.jobs = max(1, jobs)
        self.depth = max(1, depth)
        self.window = window or self.jobs * (self.depth + 2)
        self.workers: list[_Worker] = []
        self.started = 0  # workers started, replacements included
        self.payloads: dict[int, bytes] = {}  # tasks in flight, kept to be sent again
        self.retry: deque[int] = deque()  # tasks to send again (their worker died)
        self.refused = 0  # sends in a row that found their worker gone

    # ------------------------------------------------------------------ workers
    def _start_worker(self) -> _Worker:
        context = multiprocessing.get_context("fork")
        task_read, task_write = context.Pipe(duplex=False)
        result_read, result_write = context.Pipe(duplex=False)
        # The new worker must not hold the parent's ends of the other workers' pipes (it would
        # keep them open after the parent is gone): it closes them first thing.
        inherited = [c for w in self.workers for c in (w.tasks, w.results)]
        inherited += [task_write, result_read]
        process = context.Process(
            target=_child,
            args=(task_read, result_write, self.work, inherited),
            daemon=True,
            name=f"criteria-worker-{self.started}",
        )
        process.start()
        task_read.close()
        result_write.close()
        worker = _Worker(process, task_write, result_read)
        self.workers.append(worker)
        self.started += 1
        return worker

    def _pick_worker(self) -> _Worker | None:
        """The worker to send the next task to: an idle one, else a new one while fewer than
        `jobs` run, else the least busy one below `depth`; None when all are full."""
        idle = [w for w in self.workers if not w.in_flight]
        if idle:
            return idle[0]
        if len(self.workers) < self.jobs:
            return self._start_worker()
        ready = [w for w in self.workers if len(w.in_flight) < self.depth]
        return min(ready, key=lambda w: len(w.in_flight)) if ready else None

    def _lose(self, worker: _Worker, results: dict[int, bytes | Failure]) -> None:
        """A worker is gone: the task it was working on (the oldest it was sent) fails; the
        ones waiting behind it are sent again to another worker."""
        worker.process.join(timeout=5)
        code = worker.process.exitcode
        reason = (
            f"the worker process stopped (killed by signal {-code})"
            if code is not None and code < 0
            else f"the worker process stopped (exit status {code})"
        )
        if worker.in_flight:
            seq = worker.in_flight.popleft()
            results[seq] = Failure(reason)
            self.payloads.pop(seq, None)
        self.retry.extend(worker.in_flight)
        worker.close()
        self.workers.remove(worker)

    def _receive(self, results: dict[int, bytes | Failure]) -> None:
        """Wait for at least one result (or a worker's death) and file it."""
        by_conn = {w.results: w for w in self.workers if w.in_flight}
        for conn in wait(list(by_conn)):
            worker = by_conn[conn]  # type: ignore[index]
            try:
                reply = worker.results.recv_bytes()
            except (EOFError, OSError):
                self._lose(worker, results)
                continue
            seq = worker.in_flight.popleft()
            del self.payloads[seq]
            if reply[:1] == _RESULT:
                results[seq] = reply[1:]
            else:
                results[seq] = Failure(reply[1:].decode(errors="replace"))

    def _send(self, worker: _Worker, seq: int, results: dict[int, bytes | Failure]) -> None:
        try:
            worker.tasks.send_bytes(self.payloads[seq])
        except (BrokenPipeError, OSError):
            # The worker is gone before it saw this task: send it again, unless workers die
            # as soon as they start.
            self.refused += 1
            if self.refused > 3:
                results[seq] = Failure("no worker process would start")
                del self.payloads[seq]
            else:
                self.retry.appendleft(seq)
            self._lose(worker, results)
            return
        self.refused = 0
        worker.in_flight.append(seq)

    # ------------------------------------------------------------------ running
    def run(self, tasks: Iterable[tuple[bytes, Tag]]) -> Iterator[tuple[Tag, bytes | Failure]]:
        """Each task's tag with its result, in task order."""
        source = iter(tasks)
        tags: dict[int, Tag] = {}
        results: dict[int, bytes | Failure] = {}
        sent = emitted = 0
        exhausted = False
        try:
            while True:
                while self.retry or (not exhausted and sent - emitted < self.window):
                    worker = self._pick_worker()
                    if worker is None:
                        break
                    if self.retry:
                        seq = self.retry.popleft()
                    else:
                        task = next(source, None)
                        if task is None:
                            exhausted = True
                            break
                        seq, sent = sent, sent + 1
                        self.payloads[seq], tags[seq] = task
                    self._send(worker, seq, results)
                while emitted in results:
                    yield tags.pop(emitted), results.pop(emitted)
                    emitted += 1
                if exhausted and emitted == sent:
                    return
                if emitted not in results and any(w.in_flight for w in self.workers):
                    self._receive(results)
        finally:
            self.close()

    def close(self) -> None:
        """Stop every worker (an empty task tells one to finish; those that do not are
        terminated)."""
        for worker in self.workers:
            with contextlib.suppress(OSError):
                worker.tasks.send_bytes(b"")
        for worker in self.workers:
            worker.process.join(timeout=2 if not worker.in_flight else 0.1)
            if worker.process.is_alive():
                worker.process.terminate()
                worker.process.join(timeout=5)
            worker.close()
        self.workers.clear()


def _child(
    tasks: Connection,
    results: Connection,
    work: Callable[[bytes], bytes],
    inherited: list[Connection],
) -> None:
    for conn in inherited:
        with contextlib.suppress(OSError):
            conn.close()
    _serve(tasks, results, work)
