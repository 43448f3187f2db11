"""The Ray engine on a real two-node Ray cluster on 127.0.0.1 (a head node and a worker node, each its own
raylet): same bits as the local engine with actors on both nodes, a shared cache, a worker process killed
mid-run loses no chunk and counts none twice, and language-model actors on ``--device cuda`` ask Ray for a
GPU (the worker node advertises one logical GPU; no GPU is used: the test builds no model)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import genzip.corpus
import genzip.evaluation.engines.ray as ray_engine
from genzip.errors import InputError
from genzip.evaluation import compare, to_json
from genzip.evaluation.engines.ray import RayEngine, connect
from genzip.predictor import RuntimeOptions
from genzip.registry import Kind

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # loopback only; read when ray is imported
import ray
from ray.cluster_utils import Cluster

TEXT = genzip.corpus.text(6144, offset=40000)
SPECS = ["ppm:order=3", "gzip"]  # a context model (code lengths) and a compressor (its own size)
LOCAL_ONLY: dict[str, Any] = {"native_only": True, "jobs": 1}
TIMEOUT = 120  # seconds: an actor Ray cannot place fails the test instead of hanging it


@dataclass(frozen=True)
class TwoNodes:
    address: str
    head: str  # node ids
    worker: str


@pytest.fixture(scope="module")
def cluster() -> Iterator[TwoNodes]:
    """A head node (1 CPU) and a worker node (1 CPU, 1 logical GPU) on 127.0.0.1, once for the module."""
    nodes = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "node_ip_address": "127.0.0.1", "include_dashboard": False},
    )
    try:
        worker = nodes.add_node(num_cpus=1, num_gpus=1, node_ip_address="127.0.0.1")
        nodes.wait_for_nodes()
        assert nodes.address.startswith("127.0.0.1:")
        connect(nodes.address, None)
        assert nodes.head_node is not None
        yield TwoNodes(nodes.address, nodes.head_node.node_id, worker.node_id)
    finally:
        ray.shutdown()
        nodes.shutdown()


@pytest.fixture(scope="module")
def local_result() -> str:
    return to_json(compare([("t", TEXT)], SPECS, 256, **LOCAL_ONLY))


@pytest.fixture(scope="module")
def engine(cluster: TwoNodes) -> Iterator[RayEngine]:
    """One Ray engine with its two CPU actors for the module (actor processes take seconds to start)."""
    with RayEngine(RuntimeOptions(), native_only=True, address=cluster.address) as shared:
        yield shared


def placements(actors: list[ray.actor.ActorHandle]) -> list[tuple[str, dict[str, float]]]:
    return ray.get([a.placement.remote() for a in actors], timeout=TIMEOUT)


def test_ray_engine_on_two_nodes_gives_the_local_bits(
    cluster: TwoNodes, engine: RayEngine, local_result: str
) -> None:
    assert len([n for n in ray.nodes() if n["Alive"]]) == 2
    actors = engine.pool(Kind.COMPRESSOR).actors
    assert sorted(node for node, _ in placements(actors)) == sorted([cluster.head, cluster.worker])
    result = compare([("t", TEXT)], SPECS, 256, native_only=True, engine=engine)
    assert to_json(result) == local_result


def test_ray_run_resumes_a_local_runs_cache(engine: RayEngine, local_result: str, tmp_path: Path) -> None:
    compare([("t", TEXT)], SPECS, 256, cache_dir=tmp_path, max_bytes=2048, **LOCAL_ONLY)  # 8 of 24 chunks
    computed: list[str] = []
    result = compare([("t", TEXT)], SPECS, 256, native_only=True, cache_dir=tmp_path, engine=engine,
                     on_chunk=lambda spec, n: computed.append(spec))  # fmt: skip
    assert sorted(computed) == sorted(SPECS * 16)
    assert to_json(result) == local_result


def test_killed_worker_loses_no_chunk_and_counts_none_twice(
    cluster: TwoNodes, engine: RayEngine, local_result: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # one chunk per task, so that the victim still has tasks in flight when it dies (these chunks
    # take microseconds: batched, a job would be one or two tasks, done before the third chunk)
    monkeypatch.setattr(ray_engine, "BATCH_SECONDS", 0.0)
    actors = engine.pool(Kind.COMPRESSOR).actors
    on_worker_node = [
        a for a, (node, _) in zip(actors, placements(actors), strict=True) if node == cluster.worker
    ]
    victim = ray.get(on_worker_node[0].pid.remote(), timeout=TIMEOUT)
    computed: list[str] = []

    def kill_a_worker_after_three(spec: str, n: int) -> None:
        computed.append(spec)
        if len(computed) == 3:
            os.kill(victim, signal.SIGKILL)

    result = compare(
        [("t", TEXT)], SPECS, 256, native_only=True, engine=engine, on_chunk=kill_a_worker_after_three
    )
    assert sorted(computed) == sorted(SPECS * 24)  # every chunk once
    assert to_json(result) == local_result
    assert victim not in engine.worker_pids()  # the actor was restarted in a new process


def test_language_model_actors_on_cuda_get_a_gpu_beside_cpu_actors_holding_every_cpu(
    cluster: TwoNodes, engine: RayEngine
) -> None:
    cpu = engine.pool(Kind.COMPRESSOR).actors
    assert [r for _, r in placements(cpu)] == [{"CPU": 1.0}] * 2  # the cluster's two CPUs are taken
    with RayEngine(RuntimeOptions(device="cuda"), native_only=False, address=cluster.address) as on_cuda:
        gpu = on_cuda.pool(Kind.LANGUAGE_MODEL).actors
        [(node, resources)] = placements(gpu)  # placed although no CPU is free: GPU actors reserve none
        assert node == cluster.worker and resources == {"GPU": 1.0}


def test_cuda_on_a_cluster_without_gpus_is_a_clear_error(
    cluster: TwoNodes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 2.0})
    with (
        RayEngine(RuntimeOptions(device="cuda"), native_only=False, address=cluster.address) as on_cuda,
        pytest.raises(InputError, match="has no GPU"),
    ):
        on_cuda.pool(Kind.LANGUAGE_MODEL)


def test_a_local_cluster_runs_its_actors_at_the_callers_priority() -> None:
    """Ray's default runs workers at nice 15; on a shared machine that starves the actors (CPU share 0.06
    where the local pool's workers got 0.18), so a cluster genzip starts itself sets it to the caller's."""
    script = (
        "import os; from genzip.evaluation.engines.ray import RayEngine; from genzip.predictor import "
        "RuntimeOptions; from genzip.registry import Kind; import ray\n"
        "with RayEngine(RuntimeOptions(jobs=1), native_only=True) as e:\n"
        "    print(ray.get(e.pool(Kind.COMPRESSOR).actors[0].niceness.remote()) - os.nice(0))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=TIMEOUT)
    assert out.stdout.strip().splitlines()[-1] == "0", out.stderr[-2000:]
