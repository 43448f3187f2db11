"""Chunk-batched lossless coding: several chunks stepped side by side through a `StreamBatch`.

The coder part is checked with a small numpy predictor that implements the
StreamBatch contract (so it is generic, not tied to torch), and end to end
with a tiny random Hugging Face Llama.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import genzip
import genzip.corpus
from genzip.coder import DEFAULT_BATCH, decode, encode, read_header
from genzip.errors import ContainerError
from genzip.predictor import RuntimeOptions, SequencePredictor, StreamBatch
from genzip.registry import build

from .test_hf import build_tiny_model

CPU = RuntimeOptions(device="cpu", jobs=1)


class CountingStreams(StreamBatch):
    """Adaptive order-0 byte counts, one table per stream; records every call for layout checks."""

    def __init__(self, count: int, log: list) -> None:
        self.counts = np.ones((count, 256))
        self.log = log
        log.append(("open", count))

    def distributions(self) -> np.ndarray:
        return self.counts / self.counts.sum(axis=1, keepdims=True)

    def observe(self, symbols: np.ndarray) -> None:
        self.log.append(("observe", np.asarray(symbols).tolist()))
        self.counts[np.arange(len(symbols)), symbols] += 1


class Order0(SequencePredictor):
    """The same model as a plain predictor, with batched streams."""

    def __init__(self, batched: bool = True) -> None:
        self.batched = batched
        self.log: list = []
        self.spec = "order0-test"
        self.reset()

    def reset(self, context: bytes = b"") -> None:
        self.counts = np.ones(256)

    def distribution(self) -> np.ndarray:
        return self.counts / self.counts.sum()

    def observe(self, symbol: int) -> None:
        self.counts[symbol] += 1

    def fork(self) -> Order0:
        raise NotImplementedError

    def open_streams(self, count: int) -> StreamBatch | None:
        return CountingStreams(count, self.log) if self.batched else None


@settings(max_examples=40, deadline=None)
@given(
    data=st.binary(max_size=400),
    chunk=st.integers(1, 120),
    batch=st.one_of(st.none(), st.integers(0, 7)),
)
def test_batched_round_trip_and_identical_layout(data: bytes, chunk: int, batch: int | None) -> None:
    enc = Order0()
    blob = encode(data, enc, chunk_size=chunk, batch_size=batch)
    header, _ = read_header(blob)
    chunks = max(1, -(-len(data) // chunk))
    assert header.batch_size == (None if batch == 0 else min(batch or DEFAULT_BATCH, chunks))
    dec = Order0()
    assert decode(blob, predictor=dec) == data
    assert dec.log == enc.log  # the decoder opened and stepped exactly the encoder's batch layout


def test_batched_and_sequential_code_the_same_model() -> None:
    """Order-0 per chunk is the same model either way, so the payloads have the same size (to a few words)."""
    data = genzip.corpus.text(3000)
    batched = encode(data, Order0(), chunk_size=256, batch_size=4)
    sequential = encode(data, Order0(), chunk_size=256, batch_size=0)
    assert read_header(sequential)[0].batch_size is None and read_header(batched)[0].batch_size == 4
    payload = [len(read_header(blob)[1]) for blob in (batched, sequential)]
    assert (
        abs(payload[0] - payload[1]) <= 3 * 4
    )  # a range-coder flush of a few words per frame (one per group)
    assert decode(sequential, predictor=Order0()) == data


def test_predictor_without_streams_codes_one_chunk_at_a_time() -> None:
    data = genzip.corpus.text(500)
    blob = encode(data, Order0(batched=False), chunk_size=100)
    assert read_header(blob)[0].batch_size is None
    assert decode(blob, predictor=Order0(batched=False)) == data


def test_batched_container_needs_a_batching_predictor() -> None:
    blob = encode(b"abc" * 50, Order0(), chunk_size=40, batch_size=2)
    with pytest.raises(ContainerError, match="side by side"):
        decode(blob, predictor=Order0(batched=False))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> SequencePredictor:
    return build(f"hf:{build_tiny_model(tmp_path_factory.mktemp('tiny-llama'))}", CPU)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.binary(max_size=200) | st.text(max_size=80).map(lambda s: s.encode("utf-8", "surrogatepass")),
    chunk=st.integers(8, 100),
    batch=st.integers(1, 4),
)
def test_language_model_batched_round_trip(
    tiny: SequencePredictor, data: bytes, chunk: int, batch: int
) -> None:
    blob = encode(data, tiny, chunk_size=chunk, batch_size=batch)
    assert decode(blob, predictor=tiny) == data


def test_language_model_chunked_text_rate_and_verify(tiny: SequencePredictor) -> None:
    data = genzip.corpus.text(1500, offset=12000)
    batched = encode(data, tiny, chunk_size=256, batch_size=3)
    sequential = encode(data, tiny, chunk_size=256, batch_size=0)
    assert decode(batched, predictor=tiny) == data and decode(sequential, predictor=tiny) == data
    # same model, same chunks: only float rounding (and a range-coder flush per frame) differs between the layouts
    payload = [len(read_header(blob)[1]) for blob in (batched, sequential)]
    assert abs(payload[0] - payload[1]) <= 4
    assert genzip.decompress(batched, device="cpu") == data  # a fresh predictor, rebuilt from the header


def test_sliding_window_round_trip(tmp_path: Path) -> None:
    """A window far shorter than the input: the cache is rebuilt at the same points on both sides."""
    p = build(f"hf:{build_tiny_model(tmp_path)},window=16", CPU)
    data = genzip.corpus.text(300, offset=4000)
    assert len(p.tokenize(data)) > 4 * 16
    blob = encode(data, p)
    assert decode(blob, predictor=p) == data
    assert genzip.decompress(blob, device="cpu") == data
