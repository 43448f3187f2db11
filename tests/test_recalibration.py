"""The adapter's online recalibration (recalibrate=true): the novel-byte escape and the reliability bins."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import genzip
import genzip.corpus
from genzip.adapter.recalibration import (
    BINS,
    ESCAPE_HITS,
    ESCAPE_POSITIONS,
    PRIOR,
    Recalibrator,
    absent_masks,
)
from genzip.predictor import PROBABILITY_FLOOR

from .conftest import assert_batched_equals_stepping

TEXT = genzip.corpus.text(2600, offset=9000)


@settings(max_examples=40, deadline=None)
@given(
    st.binary(min_size=0, max_size=300),
    st.integers(min_value=0, max_value=64),
    st.data(),
)
def test_absent_masks_are_the_bytes_missing_from_each_window(
    data: bytes, window: int, draw: st.DataObject
) -> None:
    positions = sorted(draw.draw(st.lists(st.integers(0, len(data)), max_size=20)))
    masks = absent_masks(np.frombuffer(data, dtype=np.uint8), np.array(positions, dtype=np.int64), window)
    for row, end in enumerate(positions):
        seen = set(data[max(0, end - window) : end] if window else b"")
        assert [b not in seen for b in range(256)] == masks[row].tolist()


def reference(rows: np.ndarray, absent: np.ndarray, continued: np.ndarray, symbols: list[int]) -> np.ndarray:
    """The recalibration written out byte by byte in plain Python, from the module doc."""
    hits = [0.0] * (4 * BINS)
    expected = [0.0] * (4 * BINS)
    escapes = 0
    out = []
    for t, s in enumerate(symbols):
        p = [float(x) for x in rows[t]]
        mass = sum(p[b] for b in range(256) if absent[t, b])
        if 0 < sum(absent[t]) < 256 and mass > 0:
            rate = (escapes + ESCAPE_HITS) / (t + ESCAPE_POSITIONS)
            p = [x * rate / mass if absent[t, b] else x * (1 - rate) / (1 - mass) for b, x in enumerate(p)]
        bins = [min(BINS - 1, max(0, -math.frexp(x)[1])) + BINS * (int(absent[t, b]) + 2 * int(continued[t, b]))
                for b, x in enumerate(p)]  # fmt: skip
        q = [x * (hits[j] + PRIOR) / (expected[j] + PRIOR) for x, j in zip(p, bins, strict=True)]
        q = [max(x / sum(q), PROBABILITY_FLOOR) for x in q]
        out.append([x / sum(q) for x in q])
        hits[bins[s]] += 1
        for x, j in zip(p, bins, strict=True):
            expected[j] += x
        escapes += int(absent[t, s])
    return np.array(out)


def test_recalibration_matches_its_reference_written_out_by_hand() -> None:
    rng = np.random.default_rng(3)
    n = 40
    rows = rng.dirichlet(np.full(256, 0.05), size=n)
    absent = rng.random((n, 256)) < 0.6
    absent[0] = True  # a first position with an empty window: nothing to escape from
    continued = rng.random((n, 256)) < 0.05
    symbols = [int(rng.integers(256)) for _ in range(n)]
    evidence = np.zeros((n, 2, 256), dtype=np.int64)
    evidence[:, 1, :] = np.where(continued, 0, 1 << 60)
    got = Recalibrator().sequence(rows, evidence, absent, np.array(symbols))
    assert np.allclose(got, reference(rows, absent, continued, symbols), rtol=1e-12, atol=0)


def test_escape_gives_the_absent_bytes_the_rate_at_which_they_came() -> None:
    recalibrator = Recalibrator()
    recalibrator.positions, recalibrator.escapes = 20, 3
    p = np.full(256, 1 / 256)
    absent = np.arange(256) >= 10
    escaped = recalibrator.escaped(p, absent)
    assert escaped[absent].sum() == pytest.approx((3 + 0.5) / (20 + 4), rel=1e-12)
    assert escaped.sum() == pytest.approx(1.0, rel=1e-12)
    assert np.allclose(escaped[:10], escaped[0]) and np.allclose(escaped[10:], escaped[10])  # shares kept


def test_a_bin_that_keeps_coming_true_more_often_than_it_says_gains_mass() -> None:
    recalibrator = Recalibrator()
    p = np.full(256, 0.5 / 255)
    p[0] = 0.5  # says 1/2; the byte that comes is always one of the small ones
    nothing = np.zeros(256, dtype=bool)
    before, _ = recalibrator.apply(p, nothing, nothing)
    for _ in range(30):
        _, state = recalibrator.apply(p, nothing, nothing)
        recalibrator.learn(state, 7)
    after, _ = recalibrator.apply(p, nothing, nothing)
    assert np.array_equal(before, p / p.sum())  # nothing learned yet: unchanged
    assert after[0] < 0.1 and after[7] > before[7] * 1.5


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize(
    "spec",
    [
        "gzip:lookahead=8,context=256",  # the default stages: calibrate and recalibrate
        "zlib:adapter=paper,resolution=bits,recalibrate=true",  # recalibration alone, every byte measured
        "bz2:lookahead=6,dither=2,context=300",
    ],
)
def test_recalibrated_distributions_bit_identical_to_stepping(spec: str, jobs: int) -> None:
    data = np.frombuffer(TEXT[2300:2330] + bytes([0, 200]) + TEXT[2330:2340], dtype=np.uint8).astype(np.int64)
    with genzip.predictor(spec, jobs=jobs) as predictor:
        assert_batched_equals_stepping(predictor, data, TEXT[:2300])


@settings(max_examples=6, deadline=None)
@given(st.binary(max_size=30) | st.text(alphabet="ab \n", max_size=40).map(str.encode))
def test_recalibrated_adapter_round_trips_any_bytes(data: bytes) -> None:
    predictor = genzip.predictor("zlib:adapter=paper,resolution=bits,recalibrate=true,context=64", jobs=1)
    assert genzip.decompress(genzip.compress(data, predictor), jobs=1) == data


def test_fork_carries_the_recalibration_state() -> None:
    p = genzip.predictor("zlib:adapter=paper,resolution=bits,recalibrate=true,context=64", jobs=1)
    for b in b"abracadabra, abracadabra":
        p.distribution()
        p.observe(b)
    twin = p.fork()
    assert np.array_equal(twin.distribution(), p.distribution())
    twin.observe(ord("q"))  # new: the escape rate rises for the twin only
    p.observe(ord("a"))
    assert not np.array_equal(twin.distribution(), p.distribution())


def test_recalibration_codes_text_in_fewer_bits() -> None:
    """On text the window has not seen, recalibration (the default) beats the same adapter without it."""
    data = TEXT[1000:1600]
    on = genzip.score(data, genzip.predictor("zlib:lookahead=8,dither=1", jobs=1)).total_bits
    off = genzip.score(
        data, genzip.predictor("zlib:lookahead=8,dither=1,recalibrate=false", jobs=1)
    ).total_bits
    assert on < off
