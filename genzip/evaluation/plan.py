"""Scheduling: which chunks a run scores, and which predictor scores them where.

A run's chunks are the inputs cut into `chunk_size` pieces, optionally bounded
(`max_bytes`: only the first bytes, over all inputs in order) and sampled
(`sample_chunks`: that many chunks drawn uniformly without replacement, seeded).
Each predictor gets one `Job`: the `Task`s its cache does not answer yet.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from ..chunks import split_chunks
from ..errors import InputError
from ..registry import Kind
from .results import ChunkScore


@dataclass(frozen=True)
class Piece:
    """One chunk of one input, as cut from the data."""

    file: int  # index into the run's inputs
    index: int  # chunk number within its file
    data: bytes


@dataclass(frozen=True)
class Selection:
    """The chunks a run scores, and how many it could have scored (for sampled runs)."""

    pieces: list[Piece]
    population: int
    sampled: bool
    seed: int = 0


def select_pieces(
    inputs: Sequence[bytes],
    chunk_size: int | None,
    max_bytes: int | None = None,
    sample_chunks: int | None = None,
    seed: int = 0,
) -> Selection:
    """Cut, bound and sample the inputs (see the module docstring)."""
    if max_bytes is not None and max_bytes <= 0:
        raise InputError(f"--max-bytes must be positive, got {max_bytes}")
    if sample_chunks is not None and sample_chunks <= 0:
        raise InputError(f"--sample-chunks must be positive, got {sample_chunks}")
    pieces: list[Piece] = []
    budget = max_bytes
    for fi, data in enumerate(inputs):
        if budget is not None:
            if budget <= 0:
                break
            data, budget = data[:budget], budget - len(data[:budget])
        pieces.extend(Piece(fi, ci, chunk) for ci, chunk in enumerate(split_chunks(data, chunk_size)))
    if sample_chunks is None:
        return Selection(pieces, len(pieces), False, seed)
    rng = np.random.default_rng(seed)
    drawn = np.sort(rng.choice(len(pieces), size=min(sample_chunks, len(pieces)), replace=False))
    return Selection([pieces[i] for i in drawn.tolist()], len(pieces), True, seed)


@dataclass(frozen=True)
class Task:
    """Score `data` (a piece as this predictor sees it) and store the result under `key`."""

    slot: int  # which predictor of the run
    piece: int  # index into the selection's pieces
    data: bytes
    key: str


@dataclass
class Job:
    """One predictor's pending work in a run."""

    slot: int
    spec: str  # canonical spec: what a worker builds
    kind: Kind
    tasks: list[Task] = field(default_factory=list)


@dataclass(frozen=True)
class Done:
    """A finished task: its score, the seconds the scoring itself took and the CPU seconds of its process."""

    task: Task
    score: ChunkScore
    seconds: float
    cpu_seconds: float = 0.0


#: the most chunks one batch of `SlowestFirst.pop_batch` holds
MAX_BATCH = 256


class SlowestFirst:
    """A run's tasks handed out slowest job first (longest processing time first), for any engine.

    Every job's first chunk starts first (the estimate needs them), and jobs not
    measured yet count as the slowest; after that, the job with the most seconds per
    chunk so far goes first, so the long chunks start first and the short ones fill
    the end: no worker idles while another finishes a long tail. Tasks of one
    predictor (slot) keep their order.
    """

    def __init__(self, jobs: Sequence[Job]) -> None:
        self.queues: dict[int, deque[tuple[str, Task]]] = {}
        for job in jobs:
            self.queues.setdefault(job.slot, deque()).extend((job.spec, task) for task in job.tasks)
        self.started: set[int] = set()
        self.finished_count: dict[int, int] = {}
        self.finished_seconds: dict[int, float] = {}

    def __bool__(self) -> bool:
        return any(self.queues.values())

    def __len__(self) -> int:
        return sum(len(q) for q in self.queues.values())

    def _seconds_per_task(self, slot: int) -> float:
        count = self.finished_count.get(slot, 0)
        return self.finished_seconds[slot] / count if count else float("inf")

    def pop(self) -> tuple[str, Task]:
        """The next (spec, task) to start: a job not started yet, else the slowest so far."""
        spec, [task] = self.pop_batch(0.0)
        return spec, task

    def pop_batch(self, seconds: float) -> tuple[str, list[Task]]:
        """The next tasks to start together, all of one job chosen as `pop` chooses: as many as its
        measured seconds per task say take about `seconds` (at least one, at most `MAX_BATCH`), so
        that cheap chunks travel in batches and the engine's per-task cost is shared; a job not
        measured yet gives one task."""
        slot = max(
            (s for s, q in self.queues.items() if q),
            key=lambda s: (s not in self.started, self._seconds_per_task(s)),
        )  # ties: the first slot
        self.started.add(slot)
        queue = self.queues[slot]
        count = int(min(MAX_BATCH, max(1.0, seconds / max(self._seconds_per_task(slot), 1e-6)), len(queue)))
        spec, first = queue.popleft()
        return spec, [first, *(queue.popleft()[1] for _ in range(count - 1))]

    def finished(self, done: Done) -> None:
        """A task finished: its seconds count towards its job's cost."""
        slot = done.task.slot
        self.finished_count[slot] = self.finished_count.get(slot, 0) + 1
        self.finished_seconds[slot] = self.finished_seconds.get(slot, 0.0) + done.seconds


class Placement(Enum):
    """Where the local engine runs a predictor's chunks."""

    POOL = "one chunk per worker process, single-threaded predictors"
    HERE = "in this process, all workers given to the predictor itself"


def placement(kind: Kind, run_chunks: int, workers: int) -> Placement:
    """Language models and runs with fewer chunks than workers keep one predictor here with all the workers."""
    if kind is Kind.LANGUAGE_MODEL or workers == 1 or run_chunks < workers:
        return Placement.HERE
    return Placement.POOL


@dataclass(frozen=True)
class Estimate:
    """The work left, measured on each predictor's first chunk before the long part starts."""

    chunks: int
    seconds: float  # expected wall time of the rest of this phase
    per_chunk: dict[str, float]  # seconds of each predictor's first chunk, by spec

    def describe(self) -> str:
        rates = ", ".join(f"{spec.split(':')[0]} {1000 * s:.0f} ms" for spec, s in self.per_chunk.items())
        return f"estimate: {self.chunks} chunks left, about {_duration(self.seconds)} (first chunks: {rates})"


class EstimateWatch:
    """Announces the work left once every job of a phase has finished its first chunk (scheduled first)."""

    def __init__(
        self,
        jobs: Sequence[Job],
        specs: Sequence[str],
        parallel: Sequence[int],
        on_estimate: Callable[[Estimate], None],
        work: Callable[[Job], tuple[float, float]] | None = None,
    ) -> None:
        """`work(job)` is (the first chunk's work, the mean work of the others) in any unit (default:
        1 and 1): chunks that cost more than the first one are expected to take longer."""
        self.specs = specs
        self.left = {job.slot: len(job.tasks) for job in jobs if job.tasks}
        self.parallel = {job.slot: max(1, width) for job, width in zip(jobs, parallel, strict=True)}
        self.scale = {job.slot: _ratio(work(job)) if work else 1.0 for job in jobs if job.tasks}
        self.first: dict[int, float] = {}
        self.on_estimate: Callable[[Estimate], None] | None = on_estimate

    def done(self, slot: int, seconds: float) -> None:
        self.left[slot] -= 1
        self.first.setdefault(slot, seconds)
        if self.on_estimate is not None and len(self.first) == len(self.left):
            announce, self.on_estimate = self.on_estimate, None
            announce(self.estimate())

    def estimate(self) -> Estimate:
        """Sum over jobs of seconds per chunk x (the rest's work / the first's) x chunks left / chunks at a time."""
        seconds = sum(
            self.first[s] * self.scale[s] * left / self.parallel[s] for s, left in self.left.items()
        )
        per_chunk = {self.specs[s]: t for s, t in self.first.items()}
        return Estimate(sum(self.left.values()), seconds, per_chunk)


def _ratio(work: tuple[float, float]) -> float:
    first, rest = work
    return rest / first if first > 0 and rest > 0 else 1.0


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
