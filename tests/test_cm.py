"""The `cm` context-mixing model: coding contract, round trips, fork, memory, exact building blocks."""

from __future__ import annotations

import numpy as np
import pytest

import genzip
from genzip.context_models import _cm_history as history
from genzip.context_models.cm import CmPredictor, bit_history_tables
from genzip.corpus import text
from genzip.errors import SpecError

from .conftest import assert_batched_equals_stepping, torture_inputs

SPEC = "cm:memory=8m"
TEXT = text(2000, offset=20000)


def as_symbols(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=np.uint8).astype(np.int64)


@pytest.mark.parametrize("name", sorted(torture_inputs()))
def test_round_trip(name: str) -> None:
    data = torture_inputs()[name]
    assert genzip.decompress(genzip.compress(data, SPEC)) == data


def test_batched_rows_equal_stepping_and_are_distributions() -> None:
    with genzip.predictor(SPEC) as p:
        rows = assert_batched_equals_stepping(p, as_symbols(TEXT[:400]), context=TEXT[1000:1600])
    assert np.all(rows > 0)
    np.testing.assert_allclose(rows.sum(axis=1), 1.0, rtol=0, atol=1e-12)


def test_score_is_the_code_length_of_the_rows() -> None:
    """The fast scoring path gives -log2 of the probability the full distribution gives the byte
    (the same products; the compiler may round the last bit differently in the two kernels)."""
    symbols = as_symbols(TEXT[:500])
    with genzip.predictor(SPEC) as p:
        rows = p.distributions(symbols)
        p.reset()
        bits = p.score(symbols)
    np.testing.assert_allclose(bits, -np.log2(rows[np.arange(len(symbols)), symbols]), rtol=1e-12, atol=1e-12)


def test_learns_text() -> None:
    """A repeated text costs far less the second time (match model, high orders)."""
    with genzip.predictor(SPEC) as p:
        bits = p.score(as_symbols(TEXT + TEXT))
    first, second = bits[: len(TEXT)].sum(), bits[len(TEXT) :].sum()
    assert first / len(TEXT) < 4.5 and second < first / 10


def test_fork_is_independent() -> None:
    with genzip.predictor(SPEC) as p:
        p.reset(TEXT[:300])
        before = p.distribution()
        twin = p.fork()
        twin.observe(ord("x"))
        twin.observe(ord("y"))
        assert np.array_equal(p.distribution(), before)
        p.observe(ord("x"))
        other = p.fork()
        p.observe(ord("y"))
        assert np.array_equal(p.distribution(), twin.distribution())
        assert not np.array_equal(other.distribution(), p.distribution())


@pytest.mark.parametrize("memory", [8 << 20, 24 << 20])
def test_memory_bound(memory: int) -> None:
    with genzip.predictor(f"cm:memory={memory}") as p:
        assert isinstance(p, CmPredictor)
        p.score(as_symbols(TEXT))
        assert memory // 2 < p.memory_bytes() <= memory


def test_too_little_memory_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match="memory"):
        genzip.predictor("cm:memory=1m")


def test_hash_is_splitmix64() -> None:
    """The context hash is splitmix64's finaliser of v * golden + (tag + 1) * c2 (mod 2**64)."""
    m = (1 << 64) - 1

    def reference(v: int, tag: int) -> int:
        h = (v * 0x9E3779B97F4A7C15 + (tag + 1) * 0xBF58476D1CE4E5B9) & m
        h = ((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9) & m
        h = ((h ^ (h >> 27)) * 0x94D049BB133111EB) & m
        return h ^ (h >> 31)

    for v, tag in [(0, 0), (1, 3), (0x206973, 3), (0x2074686973206973, 6), (-5, 9)]:
        assert history._hash(v, tag) & m == reference(v & m, tag)


def test_bit_history_states() -> None:
    """State 0 is the empty history; a bit raises its own count and discounts the other above 2."""
    nex, priority, counts = bit_history_tables()
    assert tuple(counts[0]) == (0, 0) and priority[0] == 0
    state = 0
    for _ in range(5):
        state = nex[2 * state + 1]
    assert tuple(counts[state]) == (0, 5)
    state = nex[2 * state]
    assert tuple(counts[state]) == (1, 3)  # 5 // 2 + 1
    reachable = {0}
    frontier = [0]
    while frontier:
        s = frontier.pop()
        for bit in (0, 1):
            t = int(nex[2 * s + bit])
            if t not in reachable:
                reachable.add(t)
                frontier.append(t)
    assert len(reachable) == int((counts.sum(axis=1) > 0).sum()) + 1
