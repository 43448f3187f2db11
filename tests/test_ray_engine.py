"""The Ray engine on a real Ray cluster on 127.0.0.1 (a head and two worker processes): same bits as the
local engine, a shared cache, and a worker process killed mid-run loses no chunk and counts none twice.

One node only: Ray 2.60 refuses a second node unless it binds the machine's routable address, and these
tests bind nothing but the loopback interface."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

import genzip
from genzip.evaluation import compare, to_json
from genzip.evaluation.engines.ray import RayEngine, connect
from genzip.predictor import RuntimeOptions

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # loopback only; read when ray is imported
import ray

TEXT = genzip.corpus.text(6144, offset=40000)
SPECS = ["ppm:order=3", "gzip"]  # a context model (code lengths) and a compressor (its own size)
LOCAL_ONLY = {"native_only": True, "jobs": 1}


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A local Ray cluster with two CPUs on 127.0.0.1, once for the module; yields its address."""
    connect(None, 2)
    address = ray.get_runtime_context().gcs_address
    assert address.startswith("127.0.0.1:")
    yield address
    ray.shutdown()


@pytest.fixture(scope="module")
def local_result() -> str:
    return to_json(compare([("t", TEXT)], SPECS, 256, **LOCAL_ONLY))


def test_ray_engine_gives_the_local_bits(cluster: str, local_result: str) -> None:
    assert ray.cluster_resources()["CPU"] == 2
    result = compare([("t", TEXT)], SPECS, 256, native_only=True, engine="ray", address=cluster)
    assert to_json(result) == local_result


def test_ray_run_resumes_a_local_runs_cache(cluster: str, local_result: str, tmp_path: Path) -> None:
    compare([("t", TEXT)], SPECS, 256, cache_dir=tmp_path, max_bytes=2048, **LOCAL_ONLY)  # 8 of 24 chunks
    computed: list[str] = []
    result = compare([("t", TEXT)], SPECS, 256, native_only=True, cache_dir=tmp_path, engine="ray",
                     on_chunk=lambda spec, n: computed.append(spec))  # fmt: skip
    assert sorted(computed) == sorted(SPECS * 16)
    assert to_json(result) == local_result


def test_killed_worker_loses_no_chunk_and_counts_none_twice(cluster: str, local_result: str) -> None:
    engine = RayEngine(RuntimeOptions(), native_only=True)
    try:
        pids = engine.worker_pids()
        assert len(pids) == 2
        computed: list[str] = []

        def kill_a_worker_after_three(spec: str, n: int) -> None:
            computed.append(spec)
            if len(computed) == 3:
                os.kill(pids[0], signal.SIGKILL)

        result = compare(
            [("t", TEXT)], SPECS, 256, native_only=True, engine=engine, on_chunk=kill_a_worker_after_three
        )
        assert sorted(computed) == sorted(SPECS * 24)  # every chunk once
        assert to_json(result) == local_result
        assert pids[0] not in engine.worker_pids()  # the actor was restarted in a new process
    finally:
        engine.close()
