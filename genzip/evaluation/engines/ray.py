"""The Ray engine: predictors held by Ray actors, chunks streamed to them as tasks.

Each actor builds a predictor the first time it is asked for it and keeps it,
so a model is loaded once per actor. Compressors and context models go to a
pool of one-CPU actors (single-threaded predictors, as in the local pool);
language models with ``--device cuda`` go to a pool of one-GPU actors (which
reserve no CPU, so both pools fit on a cluster at once). Every actor has at
most `DEPTH` tasks in flight, so a run of any size streams with bounded memory;
chunks cheaper than `BATCH_SECONDS` travel several to a task. When an actor's
process dies, Ray restarts it (the predictor is rebuilt) and retries its
unfinished tasks; results come back once per task and the run counts each
chunk once. Chunk scores are deterministic, so a retried task gives the same
bits, and the driver writes the same cache entries as the local engine.

Without an address a one-machine cluster is started on 127.0.0.1 and kept for
the rest of the process (several runs share it); with one (``ray start --head``
on one machine, ``ray start --address`` on the others) the run joins that cluster.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from ...errors import GenzipError, InputError
from ...predictor import RuntimeOptions, SequencePredictor
from ...registry import Kind, build, parse_spec
from ..plan import Done, Job, SlowestFirst, Task
from ..results import ChunkScore
from ..scoring import timed_score
from ..summary import PredictorInfo
from .base import Engine
from .local import describe_predictor

#: tasks in flight per actor: one running, one queued, so an actor never waits for the driver
DEPTH = 2
#: seconds of work one task aims at: cheaper chunks travel together, sharing Ray's 1-4 ms per task
BATCH_SECONDS = 0.05
#: how often Ray restarts a dead actor, and retries a task whose actor died, before the run fails
RESTARTS = 4


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise InputError("the ray engine needs Ray: pip install 'genzip[ray]'") from None
    return ray


class ScoringActor:
    """Holds built predictors (one per spec, built on first use) and scores chunks with them."""

    def __init__(self, options: RuntimeOptions, native_only: bool) -> None:
        self.options = options
        self.native_only = native_only
        self.predictors: dict[str, SequencePredictor] = {}

    def predictor(self, spec: str) -> SequencePredictor:
        if spec not in self.predictors:
            self.predictors[spec] = build(spec, self.options)
        return self.predictors[spec]

    def describe(self, spec: str) -> PredictorInfo:
        return describe_predictor(self.predictor(spec), parse_spec(spec)[0].kind)

    def score(self, spec: str, chunks: list[bytes]) -> list[tuple[ChunkScore, float, float]]:
        """A batch of chunks, each scored from a fresh state."""
        predictor = self.predictor(spec)
        return [timed_score(predictor, chunk, self.native_only) for chunk in chunks]

    def pid(self) -> int:
        return os.getpid()

    def niceness(self) -> int:
        """This actor process's nice value (a local cluster runs actors at the caller's)."""
        return os.nice(0)

    def placement(self) -> tuple[str, dict[str, float]]:
        """The node this actor runs on and the resources Ray gave it (tests check GPU actors with this)."""
        context = _ray().get_runtime_context()
        return context.get_node_id(), context.get_assigned_resources()


#: Ray 2.60 replaces 127.0.0.1 with the machine's routable address unless multi-node clusters are off;
#: a local cluster turns them off so that nothing binds anything but the loopback interface
_LOOPBACK_ONLY = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


#: Ray starts its worker processes at nice 15, so on a machine shared with other work its actors got a third
#: of the CPU the local pool's workers got (benchmarks/scale.py: CPU share 0.06 against 0.18); a local
#: cluster runs them at the caller's priority (a joined cluster keeps its own: RAY_worker_niceness=0 ray start)
LOCAL_SYSTEM_CONFIG = {"worker_niceness": 0}


def connect(address: str | None, workers: int | None) -> None:
    """Join the cluster at `address`, or start a local one on 127.0.0.1 (once per process)."""
    if address is None:
        os.environ.setdefault(_LOOPBACK_ONLY, "0")  # read when ray is first imported
    ray = _ray()
    if ray.is_initialized():
        return
    try:
        if address is not None:
            ray.init(address=address, log_to_driver=False)
        else:
            cpus = max(
                workers or 0, os.cpu_count() or 1
            )  # later runs of this process may ask for more actors
            ray.init(address="local", num_cpus=cpus, include_dashboard=False, _node_ip_address="127.0.0.1",
                     log_to_driver=False, _system_config=LOCAL_SYSTEM_CONFIG)  # fmt: skip
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise InputError(f"cannot start or join a Ray cluster ({address or 'local'}): {exc}") from None


class ActorPool:
    """Actors of one resource shape, each fed up to `DEPTH` tasks at a time, slowest job first."""

    def __init__(self, actors: list[Any]) -> None:
        self.actors = actors

    def run(self, jobs: Sequence[Job], on_done: Callable[[Done], None]) -> None:
        ray = _ray()
        queue = SlowestFirst(jobs)
        in_flight: dict[Any, tuple[list[Task], Any]] = {}
        for _ in range(DEPTH):  # breadth first: every actor gets a task before any gets a second
            for actor in self.actors:
                self._submit(queue, actor, in_flight)
        while in_flight:
            [ref], _ = ray.wait(list(in_flight), num_returns=1)
            tasks, actor = in_flight.pop(ref)
            try:
                results = ray.get(ref)
            except ray.exceptions.RayTaskError as exc:
                cause = exc.cause
                raise (cause if isinstance(cause, GenzipError) else exc) from None
            for task, result in zip(tasks, results, strict=True):
                done = Done(task, *result)
                queue.finished(done)
                on_done(done)
            self._submit(queue, actor, in_flight)

    @staticmethod
    def _submit(queue: SlowestFirst, actor: Any, in_flight: dict[Any, tuple[list[Task], Any]]) -> None:
        if queue:
            spec, tasks = queue.pop_batch(BATCH_SECONDS)
            in_flight[actor.score.remote(spec, [task.data for task in tasks])] = (tasks, actor)


class RayEngine(Engine):
    """A Ray cluster: CPU actors for compressors and context models, GPU actors for language models on cuda."""

    def __init__(self, options: RuntimeOptions, native_only: bool, address: str | None = None) -> None:
        self.options = options
        self.native_only = native_only
        connect(address, options.jobs)
        self.pools: dict[bool, ActorPool] = {}

    def _on_gpu(self, kind: Kind) -> bool:
        return kind is Kind.LANGUAGE_MODEL and self.options.device == "cuda"

    def pool(self, kind: Kind) -> ActorPool:
        """The actors for predictors of this kind, started on first use."""
        gpu = self._on_gpu(kind)
        if gpu not in self.pools:
            ray = _ray()
            resources = ray.cluster_resources()
            if gpu:
                count = int(resources.get("GPU", 0))
                if count == 0:
                    raise InputError("--device cuda with --engine ray: the Ray cluster has no GPU")
                # no CPU reserved: the CPU actors take every CPU, and a GPU actor mostly waits on its GPU
                shape: dict[str, Any] = {"num_cpus": 0, "num_gpus": 1}
            else:
                count = self.options.jobs or max(1, int(resources.get("CPU", 1)))
                shape = {"num_cpus": 1}
            actor_class = ray.remote(max_restarts=RESTARTS, max_task_retries=RESTARTS, **shape)(ScoringActor)
            worker_options = RuntimeOptions(jobs=1, device=self.options.device, dtype=self.options.dtype)
            self.pools[gpu] = ActorPool(
                [actor_class.remote(worker_options, self.native_only) for _ in range(count)]
            )
        return self.pools[gpu]

    def describe(self, spec: str) -> PredictorInfo:
        ray = _ray()
        actor = self.pool(parse_spec(spec)[0].kind).actors[0]
        try:
            info: PredictorInfo = ray.get(actor.describe.remote(spec))
        except ray.exceptions.RayTaskError as exc:
            raise (exc.cause if isinstance(exc.cause, GenzipError) else exc) from None
        return info

    def parallelism(self, job: Job, run_chunks: int) -> int:
        return len(self.pool(job.kind).actors)

    def run(self, jobs: Sequence[Job], on_done: Callable[[Done], None], run_chunks: int) -> None:
        for gpu in (False, True):
            mine = [job for job in jobs if self._on_gpu(job.kind) == gpu and job.tasks]
            if mine:
                self.pools[gpu].run(mine, on_done)

    def worker_pids(self) -> list[int]:
        """The process ids of the CPU actors (benchmarks and the fault-tolerance test kill one)."""
        ray = _ray()
        return [int(pid) for pid in ray.get([a.pid.remote() for a in self.pool(Kind.COMPRESSOR).actors])]

    def close(self) -> None:
        ray = _ray()
        for pool in self.pools.values():
            for actor in pool.actors:
                ray.kill(actor)
        self.pools.clear()
