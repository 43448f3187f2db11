"""The local engine: a fork pool of single-threaded predictors, and this process for language models.

Work runs in phases (see `plan.placement`): first the chunks of every
pool-friendly predictor go to the process pool together, so no core idles
between predictors; then language models and predictors with fewer chunks than
workers run here, one after another, each built once with all the workers
(threads, or its own pool). The pool forks before any language model is built.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait

from ...predictor import RuntimeOptions, SequencePredictor
from ...registry import Kind, build, canonical_spec, parse_spec
from ...workers import WorkerPool
from ..plan import Done, Job, Placement, SlowestFirst, Task, placement
from ..results import ChunkScore
from ..scoring import identity, timed_score
from ..summary import PredictorInfo
from .base import Engine

#: chunks queued per worker process: one running and one waiting, so that no worker waits for this
#: process, while the next choice of `SlowestFirst` stays open until a worker is nearly free
IN_FLIGHT = 2

_WORKER_PREDICTORS: dict[str, SequencePredictor] = {}


def _score_in_worker(spec: str, chunk: bytes, native_only: bool) -> tuple[ChunkScore, float, float]:
    """Pool task: one chunk with a single-threaded predictor built once per worker process."""
    if spec not in _WORKER_PREDICTORS:
        _WORKER_PREDICTORS[spec] = build(spec, RuntimeOptions(jobs=1))
    return timed_score(_WORKER_PREDICTORS[spec], chunk, native_only)


def describe_predictor(predictor: SequencePredictor, kind: Kind) -> PredictorInfo:
    """What a run needs to know about a built predictor (shared by every engine)."""
    header = predictor.compressed_size(b"\x00") if kind is Kind.COMPRESSOR else None
    return PredictorInfo(predictor.spec, identity(predictor), predictor.model_size_bytes(), header)


class LocalEngine(Engine):
    """This machine: a process pool for many chunks, this process for language models."""

    def __init__(self, options: RuntimeOptions, native_only: bool) -> None:
        self.options = options
        self.native_only = native_only
        self.workers = options.worker_count
        self.pool = WorkerPool(self.workers)  # forks on the first pooled chunk
        self.built: dict[str, SequencePredictor] = {}
        self.users: dict[str, int] = {}

    def phases(self, kinds: Sequence[Kind], run_chunks: int) -> list[list[int]]:
        where = [placement(kind, run_chunks, self.workers) for kind in kinds]
        pooled = [i for i, p in enumerate(where) if p is Placement.POOL]
        here = [[i] for i, p in enumerate(where) if p is Placement.HERE]
        return ([pooled] if pooled else []) + here

    def describe(self, spec: str) -> PredictorInfo:
        entry, values = parse_spec(spec)
        canonical = canonical_spec(entry, values)
        if canonical not in self.built:
            self.built[canonical] = build(spec, self.options)
        self.users[canonical] = self.users.get(canonical, 0) + 1
        return describe_predictor(self.built[canonical], entry.kind)

    def parallelism(self, job: Job, run_chunks: int) -> int:
        return self.workers if placement(job.kind, run_chunks, self.workers) is Placement.POOL else 1

    def run(self, jobs: Sequence[Job], on_done: Callable[[Done], None], run_chunks: int) -> None:
        pooled = [j for j in jobs if placement(j.kind, run_chunks, self.workers) is Placement.POOL]
        self._run_pooled(pooled, on_done)
        for job in jobs:
            if all(job is not p for p in pooled):
                predictor = self.built[job.spec]
                for task in job.tasks:
                    on_done(Done(task, *timed_score(predictor, task.data, self.native_only)))

    def _run_pooled(self, jobs: Sequence[Job], on_done: Callable[[Done], None]) -> None:
        """Chunks over the pool, slowest job first (`SlowestFirst`), `IN_FLIGHT` per worker at a time."""
        queue = SlowestFirst(jobs)
        if not queue:
            return
        # one call per chunk (no leak budget: predictors own theirs)
        executor = self.pool.executor(len(queue))
        futures: dict[Future[tuple[ChunkScore, float, float]], Task] = {}

        def submit() -> None:
            spec, task = queue.pop()
            futures[executor.submit(_score_in_worker, spec, task.data, self.native_only)] = task

        while queue and len(futures) < IN_FLIGHT * self.workers:
            submit()
        while futures:
            finished, _ = wait(futures, return_when=FIRST_COMPLETED)
            for future in finished:
                done = Done(futures.pop(future), *future.result())
                queue.finished(done)
                on_done(done)
                if queue:
                    submit()

    def release(self, spec: str) -> None:
        self.users[spec] -= 1
        if self.users[spec] == 0:
            self.built.pop(spec).close()

    def close(self) -> None:
        self.pool.shutdown()
        for predictor in self.built.values():
            predictor.close()
        self.built.clear()
