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

#: batches queued per worker process: one running and one waiting, so that no worker waits for this
#: process, while the next choice of `SlowestFirst` stays open until a worker is nearly free
IN_FLIGHT = 2
#: seconds of work one batch aims at: chunks cheaper than this travel together, so the pool's cost per
#: call (~0.4 ms) is shared by many (ppm's 1 ms chunks scaled 1.4x on 2 workers one by one)
BATCH_SECONDS = 0.05

_WORKER_PREDICTORS: dict[str, SequencePredictor] = {}


def _score_in_worker(
    spec: str, chunks: list[bytes], native_only: bool
) -> list[tuple[ChunkScore, float, float]]:
    """Pool task: a batch of chunks with a single-threaded predictor built once per worker process."""
    if spec not in _WORKER_PREDICTORS:
        _WORKER_PREDICTORS[spec] = build(spec, RuntimeOptions(jobs=1))
    return [timed_score(_WORKER_PREDICTORS[spec], chunk, native_only) for chunk in chunks]


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
        """Chunks over the pool in batches (`BATCH_SECONDS`), slowest job first (`SlowestFirst`),
        `IN_FLIGHT` batches per worker at a time."""
        queue = SlowestFirst(jobs)
        if not queue:
            return
        # one call per batch (no leak budget: predictors own theirs)
        executor = self.pool.executor(len(queue))
        futures: dict[Future[list[tuple[ChunkScore, float, float]]], list[Task]] = {}

        def submit() -> None:
            spec, tasks = queue.pop_batch(BATCH_SECONDS)
            chunks = [task.data for task in tasks]
            futures[executor.submit(_score_in_worker, spec, chunks, self.native_only)] = tasks

        while queue and len(futures) < IN_FLIGHT * self.workers:
            submit()
        while futures:
            finished, _ = wait(futures, return_when=FIRST_COMPLETED)
            for future in finished:
                for task, result in zip(futures.pop(future), future.result(), strict=True):
                    done = Done(task, *result)
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
