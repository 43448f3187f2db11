"""The generic worker pool: results in order, the leak budget replaces workers, forks and exits are clean."""

from __future__ import annotations

import multiprocessing
import os
from multiprocessing.queues import Queue

from genzip.workers import WorkerPool


def _pid_and_square(x: int) -> tuple[int, int]:
    return os.getpid(), x * x


def test_run_returns_results_in_order_from_other_processes() -> None:
    pool = WorkerPool(2)
    results = pool.run(_pid_and_square, [(x,) for x in range(10)], calls=10)
    pool.shutdown()
    assert [square for _, square in results] == [x * x for x in range(10)]
    assert os.getpid() not in {pid for pid, _ in results}


def test_leak_budget_replaces_the_workers_between_batches_only() -> None:
    pool = WorkerPool(1, calls_per_worker=4)
    first = {pid for pid, _ in pool.run(_pid_and_square, [(1,), (2,)], calls=4)}  # within budget
    second = {pid for pid, _ in pool.run(_pid_and_square, [(3,)], calls=1)}  # would exceed it: new workers
    third = {pid for pid, _ in pool.run(_pid_and_square, [(4,)], calls=1)}
    pool.shutdown()
    assert len(first) == 1 and first != second and second == third


def test_unbudgeted_pool_keeps_its_workers() -> None:
    pool = WorkerPool(1)
    pids = {pid for _ in range(3) for pid, _ in pool.run(_pid_and_square, [(1,)], calls=10**9)}
    pool.shutdown()
    assert len(pids) == 1


def _use_inherited_pool(pool: WorkerPool, out: Queue[int]) -> None:
    out.put(
        pool.run(_pid_and_square, [(5,)], calls=1)[0][1]
    )  # the pool is left running: the finalizer stops it


def test_forked_process_starts_its_own_pool_and_exits_cleanly() -> None:
    """A multiprocessing worker using a pool inherited through fork gets its own, and its exit does not
    hang on it (multiprocessing skips atexit there; the finalizer shuts the pool down)."""
    pool = WorkerPool(1)
    pool.run(_pid_and_square, [(1,)], calls=1)
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    child = context.Process(target=_use_inherited_pool, args=(pool, out))
    child.start()
    assert out.get(timeout=60) == 25
    child.join(timeout=60)
    pool.shutdown()
    assert child.exitcode == 0
