"""A pool of forked worker processes with a leak budget; it knows nothing about what it runs.

Callers submit plain picklable functions and arguments. Two lessons are built in:

* Leak budget: a library that leaks memory on every call (pyppmd 1.3.1 never frees an
  encoder's model, ~7 KB a call) must only run in workers that get replaced. With
  ``calls_per_worker`` set, the pool is replaced between batches (never during one)
  once its workers have run about that many calls each.
* Fork awareness and clean exit: a process forked from the pool's owner (say a
  ``genzip compare`` worker) cannot use the owner's pool (its threads live in the
  parent), so it starts its own. The pool is shut down by a multiprocessing finalizer,
  which also runs in a multiprocessing worker: that exit joins the worker's children
  without running ``atexit`` hooks, so an idle pool left there would hang it.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.util
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

#: runs before the pool's own queues close themselves (their finalizers have priority 10)
_SHUTDOWN_PRIORITY = 100


class WorkerPool:
    """`count` forked worker processes, started on first use and shared by whoever holds this object."""

    def __init__(self, count: int, calls_per_worker: int | None = None) -> None:
        self.count = count
        self.calls_per_worker = calls_per_worker
        self.calls = 0
        self.pool: ProcessPoolExecutor | None = None
        self.owner = os.getpid()
        self.finalizer: multiprocessing.util.Finalize | None = None

    def executor(self, calls: int) -> ProcessPoolExecutor:
        """The pool to submit a whole batch of about `calls` library calls to (replaced first when the
        batch would take the workers past their leak budget)."""
        if self.owner != os.getpid():  # inherited through fork: that pool's threads live in the parent
            self.pool, self.finalizer, self.owner = None, None, os.getpid()
        limit = self.calls_per_worker
        if self.pool is not None and limit is not None and self.calls + calls > limit * self.count:
            self.shutdown()
        if self.pool is None:
            self.pool = ProcessPoolExecutor(self.count, mp_context=multiprocessing.get_context("fork"))
            self.finalizer = multiprocessing.util.Finalize(
                self, self.pool.shutdown, exitpriority=_SHUTDOWN_PRIORITY
            )
            self.calls = 0
        self.calls += calls
        return self.pool

    def run(
        self, function: Callable[..., Any], arguments: Sequence[tuple[Any, ...]], calls: int
    ) -> list[Any]:
        """`function(*args)` for every tuple of `arguments`, over the workers, results in order;
        the batch counts as `calls` library calls against the leak budget."""
        pool = self.executor(calls)
        futures = [pool.submit(function, *args) for args in arguments]
        return [f.result() for f in futures]

    def shutdown(self) -> None:
        """Stop the workers (only the process that started them can)."""
        if self.pool is not None and self.owner == os.getpid():
            if self.finalizer is not None:
                self.finalizer.cancel()
            self.pool.shutdown(cancel_futures=True)
            self.pool = None
