"""The engine interface: score these chunks with these predictors, somewhere.

An engine builds predictors where it runs them (this process, forked workers,
Ray actors), tells the run what it needs to know about each (`describe`), and
streams finished tasks back through `on_done`. Engines never touch the cache
or the totals, so every engine gives the same bits and writes the same entries.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Self

from ...registry import Kind
from ..plan import Done, Job
from ..summary import PredictorInfo


class Engine(ABC):
    """Where a run's chunks are scored. Use as a context manager; `close` releases every predictor and worker."""

    def phases(self, kinds: Sequence[Kind], run_chunks: int) -> list[list[int]]:
        """Groups of predictor slots run one group after another (default: all at once)."""
        return [list(range(len(kinds)))]

    @abstractmethod
    def describe(self, spec: str) -> PredictorInfo:
        """Build (or reuse) the predictor a spec names, and say what the run needs to know about it."""

    @abstractmethod
    def parallelism(self, job: Job, run_chunks: int) -> int:
        """How many of this job's chunks run at the same time (for the work estimate)."""

    @abstractmethod
    def run(self, jobs: Sequence[Job], on_done: Callable[[Done], None], run_chunks: int) -> None:
        """Score every task of every job, calling `on_done` once per task as each finishes."""

    def release(self, spec: str) -> None:  # noqa: B027 - optional hook: engines that keep nothing per spec skip it
        """The run is done with this predictor (canonical spec, once per `describe`); close what is held for it."""

    @abstractmethod
    def close(self) -> None:
        """Release every predictor and worker."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
