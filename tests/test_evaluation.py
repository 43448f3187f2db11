"""Bounded and sampled runs, the paper's protocol, the work estimate, and the registry's kinds."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import genzip
from genzip import registry
from genzip.evaluation import Estimate, compare, to_markdown
from genzip.evaluation.plan import MAX_BATCH, Done, EstimateWatch, Job, SlowestFirst, Task, select_pieces
from genzip.evaluation.protocol import mask_non_ascii, right_shift
from genzip.evaluation.results import ChunkScore
from genzip.evaluation.summary import ratio_standard_error
from genzip.evaluation.work import chunk_work, job_work
from genzip.registry import Kind

from .test_compare import UniformModel

TEXT = genzip.corpus.text(2048, offset=30000)


@pytest.fixture(autouse=True)
def uniform_model():
    registry.register(
        registry.Entry("uniformtest", f"{UniformModel.__module__}:UniformModel", "test", "language model")
    )
    yield
    registry.ENTRIES.pop("uniformtest", None)


# --- bounded and sampled runs ---------------------------------------------------


def test_select_pieces_bounds_over_inputs_in_order() -> None:
    selection = select_pieces([b"a" * 300, b"b" * 300], 128, max_bytes=400)
    assert [(p.file, p.index, len(p.data)) for p in selection.pieces] == [(0, 0, 128), (0, 1, 128), (0, 2, 44),
                                                                          (1, 0, 100)]  # fmt: skip
    assert not selection.sampled


def test_select_pieces_draws_distinct_chunks_reproducibly() -> None:
    data = bytes(range(256)) * 40  # 40 chunks of 256 bytes, each starting with byte 0
    first = select_pieces([data], 256, sample_chunks=6, seed=3)
    again = select_pieces([data], 256, sample_chunks=6, seed=3)
    other = select_pieces([data], 256, sample_chunks=6, seed=4)
    indices = [p.index for p in first.pieces]
    assert (
        indices == [p.index for p in again.pieces] and indices == sorted(set(indices)) and len(indices) == 6
    )
    assert indices != [p.index for p in other.pieces]
    assert first.population == 40 and first.sampled


def test_slowest_first_starts_every_job_then_the_slowest_measured_job() -> None:
    def job(slot: int, pieces: range) -> Job:
        return Job(slot, f"spec{slot}", Kind.COMPRESSOR, [Task(slot, i, b"", f"{slot}.{i}") for i in pieces])

    # as a phase hands them over: every job's first chunk, then every job's rest
    queue = SlowestFirst([job(0, range(1)), job(1, range(1)), job(2, range(1)),
                          job(0, range(1, 4)), job(1, range(1, 4)), job(2, range(1, 4))])  # fmt: skip
    started = [queue.pop()[1] for _ in range(4)]
    assert [t.key for t in started] == ["0.0", "1.0", "2.0", "0.1"]  # firsts, then unmeasured = slowest
    for task, seconds in zip(started[:3], [1.0, 9.0, 0.1], strict=True):
        queue.finished(Done(task, ChunkScore(0, None, None, 0), seconds))
    order = [queue.pop()[1].key for _ in range(len(queue))]
    assert order == ["1.1", "1.2", "1.3", "0.2", "0.3", "2.1", "2.2", "2.3"] and not queue


def test_batches_hold_as_many_tasks_of_one_job_as_its_measured_cost_fits() -> None:
    tasks = [Task(0, i, b"", f"0.{i}") for i in range(1000)]
    queue = SlowestFirst([Job(0, "spec0", Kind.COMPRESSOR, tasks)])
    assert queue.pop_batch(1.0)[1] == tasks[:1]  # not measured yet: one task
    queue.finished(Done(tasks[0], ChunkScore(0, None, None, 0), 0.01))
    assert queue.pop_batch(0.05)[1] == tasks[1:6]  # 5 tasks of 10 ms
    assert queue.pop_batch(0.001)[1] == tasks[6:7]  # a task costlier than the budget goes alone
    assert len(queue.pop_batch(1e9)[1]) == MAX_BATCH
    assert queue.pop_batch(1e9)[1] == tasks[7 + MAX_BATCH : 7 + 2 * MAX_BATCH]  # in order, none lost


def test_ratio_standard_error_of_equal_chunks_is_the_mean_standard_error() -> None:
    rng = np.random.default_rng(0)
    bits = rng.uniform(1000, 9000, size=12)
    sizes = np.full(12, 2048.0)
    expected = np.std(bits / 2048, ddof=1) / np.sqrt(12) * np.sqrt(1 - 12 / 100)
    assert ratio_standard_error(bits, sizes, 100) == pytest.approx(expected, rel=1e-12)
    assert ratio_standard_error(bits[:1], sizes[:1], 100) is None


def test_sampled_run_is_the_ratio_of_the_drawn_chunks_with_its_standard_error() -> None:
    result = compare([("t", TEXT)], ["ppm:order=3"], 256, jobs=1, sample_chunks=3, seed=5).results[0]
    drawn = [p.data for p in select_pieces([TEXT], 256, sample_chunks=3, seed=5).pieces]
    reference = genzip.predictor("ppm:order=3")
    bits = np.array([genzip.score(c, reference).total_bits for c in drawn])
    assert result.n_bytes == 3 * 256 and result.bits_per_byte == pytest.approx(bits.sum() / 768, rel=1e-12)
    assert result.sample is not None and result.sample.population == 8 and result.sample.drawn == 3
    assert result.sample.bits_per_byte_se == pytest.approx(
        np.std(bits / 256, ddof=1) / np.sqrt(3) * np.sqrt(5 / 8)
    )


def test_sampling_every_chunk_is_the_full_run_with_zero_error() -> None:
    full = compare([("t", TEXT)], ["ppm:order=3"], 512, jobs=1).results[0]
    everything = compare([("t", TEXT)], ["ppm:order=3"], 512, jobs=1, sample_chunks=99).results[0]
    assert everything.total_bits == full.total_bits and everything.sample.bits_per_byte_se == 0.0
    assert "± bits/byte" in to_markdown(compare([("t", TEXT)], ["ppm:order=3"], 512, jobs=1, sample_chunks=2))


def test_max_bytes_is_the_run_on_the_first_bytes() -> None:
    bounded = compare([("a", TEXT[:500]), ("b", TEXT[500:])], ["ppm:order=3"], 256, jobs=1, max_bytes=700)
    direct = compare([("a", TEXT[:500]), ("b", TEXT[500:700])], ["ppm:order=3"], 256, jobs=1)
    assert bounded.results[0].n_bytes == 700 and bounded.results[0].total_bits == direct.results[0].total_bits


def test_estimate_comes_after_each_phases_first_chunks() -> None:
    events: list[object] = []
    compare([("t", TEXT)], ["ppm:order=3", "uniformtest"], 512, jobs=1,
            on_chunk=lambda spec, n: events.append(spec), on_estimate=events.append)  # fmt: skip
    # jobs=1: each predictor runs in its own phase: its first chunk, the estimate of its rest, the rest
    kinds = [e.chunks if isinstance(e, Estimate) else e for e in events]
    assert kinds == ["ppm:order=3", 3, *["ppm:order=3"] * 3, "uniformtest", 3, *["uniformtest"] * 3]
    estimate = events[1]
    assert isinstance(estimate, Estimate) and estimate.seconds >= 0 and "3 chunks left" in estimate.describe()


def test_the_estimate_weighs_the_rest_by_its_work() -> None:
    """A first chunk that costs a third of the others' measured calls triples their estimate."""
    job = Job(0, "gzip", Kind.COMPRESSOR, [Task(0, i, b"", "") for i in range(4)])
    plain = EstimateWatch([job], ["gzip"], [1], lambda e: None)
    weighed = EstimateWatch([job], ["gzip"], [1], lambda e: None, lambda j: (1.0, 3.0))
    for watch in (plain, weighed):
        watch.done(0, 2.0)
    assert plain.estimate().seconds == 6.0 and weighed.estimate().seconds == 18.0


def test_a_chunks_work_is_its_adapters_library_calls() -> None:
    """gzip measures every byte its window holds: a chunk of many distinct bytes is more work; lzma reads
    its lone literals off the model, so its work is the rest; other predictors weigh by length."""
    varied = bytes(np.random.default_rng(0).integers(0, 256, 1024, dtype=np.uint8))
    plain = TEXT[:1024]
    gzip_job = Job(
        0,
        registry.build("gzip").spec,
        Kind.COMPRESSOR,
        [Task(0, i, d, "") for i, d in enumerate([plain, varied])],
    )
    first, rest = job_work(gzip_job)
    assert rest > 2 * first
    gzip = registry.build("gzip")
    context = TEXT[:700]
    assert chunk_work(gzip, b"x" * 300) == sum(gzip.measured_calls(b"x" * p) for p in range(0, 300, 128))  # type: ignore[attr-defined]
    lzma = registry.build("lzma")
    assert lzma.measured_calls(context) < registry.build("lzma:literals=compressed").measured_calls(context)  # type: ignore[attr-defined]
    assert chunk_work(registry.build("ppm"), plain) == 1024.0


# --- the paper's protocol -------------------------------------------------------


@given(st.binary(max_size=300))
def test_masks_match_the_papers_definitions(data: bytes) -> None:
    assert right_shift(data) == (bytes(b >> 1 for b in data), len(data))
    assert mask_non_ascii(data) == (
        bytes(b if b < 128 else b & 0x7F for b in data),
        sum(b >= 128 for b in data),
    )


def test_paper_protocol_counts_a_compressors_header_once() -> None:
    chunks = [TEXT[i : i + 512] for i in range(0, 2048, 512)]
    result = compare([("t", TEXT)], ["gzip"], 512, jobs=1, native_only=True, protocol="paper").results[0]
    header = len(gzip.compress(b"\x00", 9, mtime=0))
    own = sum(len(gzip.compress(c, 9, mtime=0)) for c in chunks)
    assert result.native_bytes == own
    assert result.native_rate == pytest.approx(100 * (own - 3 * header) / 2048)


def test_paper_protocol_rescales_a_language_model_by_the_bits_kept() -> None:
    image = bytes(range(256)) * 4
    shifted = compare([("i", image)], ["uniformtest"], 512, jobs=1, protocol="paper", modalities=["image"])
    assert shifted.results[0].rate == pytest.approx(100 * 8 / 7)  # 8 bits per byte over the 7 bits kept
    text = b"caf\xc3\xa9 " * 100  # two non-ASCII bytes in every six
    masked = compare([("t", text)], ["uniformtest"], 600, jobs=1, protocol="paper", modalities=["text"])
    assert masked.results[0].masked_bits == 200
    assert masked.results[0].rate == pytest.approx(100 * 4800 / (4800 - 200))
    plain = compare([("t", text)], ["uniformtest", "ppm:order=2"], 600, jobs=1)
    paper = compare([("t", text)], ["uniformtest", "ppm:order=2"], 600, jobs=1, protocol="paper")
    assert (
        plain.results[1].total_bits == paper.results[1].total_bits
    )  # context models see the bytes as they are


# --- the registry's kinds -------------------------------------------------------


def test_entry_kind_is_one_of_the_fixed_kinds() -> None:
    assert registry.Entry("x", "m:C", "s", "context model").kind is Kind.CONTEXT_MODEL
    assert {e.kind for e in registry.ENTRIES.values()} <= set(Kind)
    with pytest.raises(ValueError):
        registry.Entry("x", "m:C", "s", "transformer")


# --- the command line -----------------------------------------------------------


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "genzip", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def test_cli_sampled_compare_prints_estimate_and_standard_errors(tmp_path: Path) -> None:
    (tmp_path / "t.txt").write_bytes(TEXT)
    run = _cli("compare", "t.txt", "-c", "ppm:order=3", "--chunk", "256", "--sample-chunks", "3", "--seed", "1",
               "--json", "o.json", "-j", "1", cwd=tmp_path)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "estimate: 2 chunks left" in run.stderr and "± bits/byte" in run.stdout
    doc = json.loads((tmp_path / "o.json").read_text())
    assert (
        doc["results"][0]["sample"]["drawn_chunks"] == 3
        and doc["results"][0]["sample"]["bits_per_byte_se"] > 0
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sample-chunks", "0"], "--sample-chunks must be positive"),
        (["--max-bytes", "-3"], "--max-bytes must be positive"),
        (["--engine", "spark"], "unknown engine 'spark'"),
        (["--protocol", "deepmind"], "unknown protocol 'deepmind'"),
        (["--address", "127.0.0.1:6379"], "--address needs --engine ray"),
    ],
)
def test_cli_bad_run_options_are_one_line_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "t.txt").write_bytes(b"hello")
    run = _cli("compare", "t.txt", "-c", "ppm", *args, cwd=tmp_path)
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and message in run.stderr, run.stderr


def test_table1_paper_protocol_counts_header_once_and_rescales_models(tmp_path: Path) -> None:
    from genzip.data import corpus_bytes
    from genzip.experiments.table1 import table1

    table1(tmp_path, ["gzip", "uniformtest"], n_bytes=4096, lm_bytes=2048, modalities=("text", "random"), jobs=1,
           protocol="paper")  # fmt: skip
    doc = json.loads((tmp_path / "table1.json").read_text())
    assert doc["protocol"] == "paper"
    text = corpus_bytes("text", 4096, block=2048)
    own = sum(len(gzip.compress(text[i : i + 2048], 9, mtime=0)) for i in (0, 2048))
    header = len(gzip.compress(b"\x00", 9, mtime=0))
    assert doc["rows"]["gzip"]["text|chunk 2048"]["raw"] == pytest.approx(100 * (own - header) / 4096)
    assert doc["rows"]["uniformtest"]["random|chunk 2048"]["raw"] == pytest.approx(100 * 8 / 7)
    assert "Protocol: the paper's" in (tmp_path / "table1.md").read_text()
