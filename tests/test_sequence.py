"""The sequence-level samplers: the compressor's joint distribution, the rules they keep, reproducibility."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import genzip
from genzip.errors import InputError
from genzip.sampler import Controls, SequenceSettings, sample
from genzip.sampler.proposal import proposal_rows
from genzip.sampler.sequence import SequenceSampler
from genzip.sampler.shaping import ngram_bans

#: the compressor's own joint distribution over two-byte blocks, with enough particles to see it
JOINT = SequenceSettings(particles=200, horizon=2, commit=2, proposal_weight=0.0)
DRAWS = 200
PROMPT = (
    b"Call me Ishmael. Some years ago - never mind how long precisely - having little or no money in my purse"
)


class TableLengths:
    """A fake compressor whose code length of a continuation is a table lookup (bits), any context."""

    def __init__(self, bits: dict[bytes, float], other: float = 40.0) -> None:
        self.bits, self.other, self.calls = bits, other, 0

    def code_lengths(self, context: bytes, continuations: Sequence[bytes]) -> np.ndarray:
        self.calls += 1
        return np.array([self.bits.get(c, 0.0 if c == b"" else self.other) for c in continuations])


def _frequencies(sampler: SequenceSampler, draws: int) -> Counter:
    return Counter(sampler.sample(b"abab", 2, np.random.default_rng(seed)) for seed in range(draws))


def test_sir_draws_the_joint_distribution_of_code_lengths() -> None:
    # target over two-byte blocks: 2^-1, 2^-2, 2^-2 for "ab", "ba", "aa" (the rest ~2^-40)
    lengths = TableLengths({b"ab": 1.0, b"ba": 2.0, b"aa": 2.0})
    sampler = SequenceSampler(lengths, 2048, Controls(), JOINT)
    counts = _frequencies(sampler, DRAWS)
    assert set(counts) <= {b"ab", b"ba", b"aa"}
    np.testing.assert_allclose(
        [counts[b"ab"] / DRAWS, counts[b"ba"] / DRAWS, counts[b"aa"] / DRAWS], [0.5, 0.25, 0.25], atol=0.09
    )


def test_temperature_applies_to_the_sequence() -> None:
    # at T = 0.5 the weights are squared: 4:1:1
    lengths = TableLengths({b"ab": 1.0, b"ba": 2.0, b"aa": 2.0})
    sampler = SequenceSampler(lengths, 2048, Controls(temperature=0.5), JOINT)
    counts = _frequencies(sampler, DRAWS)
    assert counts[b"ab"] / DRAWS == pytest.approx(4 / 6, abs=0.09)
    greedy = SequenceSampler(lengths, 2048, Controls(temperature=0), JOINT)
    assert set(_frequencies(greedy, 20)) == {b"ab"}


def test_compressor_weight_scales_the_code_lengths_and_zero_never_asks_the_compressor() -> None:
    lengths = TableLengths({b"ab": 1.0, b"ba": 2.0, b"aa": 2.0})
    squared = SequenceSettings(particles=200, horizon=2, commit=2, proposal_weight=0.0, compressor_weight=2.0)
    # beta 2 at T 1 is the joint at T 0.5 (weights 4:1:1), draw for draw
    by_weight = _frequencies(SequenceSampler(lengths, 2048, Controls(), squared), DRAWS)
    by_temperature = _frequencies(SequenceSampler(lengths, 2048, Controls(temperature=0.5), JOINT), DRAWS)
    assert by_weight == by_temperature
    assert by_weight[b"ab"] / DRAWS == pytest.approx(4 / 6, abs=0.09)
    silent = TableLengths({b"ab": 1.0})
    alone = SequenceSettings(particles=8, horizon=2, commit=2, compressor_weight=0.0)
    _frequencies(SequenceSampler(silent, 2048, Controls(), alone), 5)
    assert silent.calls == 0


def test_smc_resampling_keeps_the_target() -> None:
    lengths = TableLengths({b"a": 0.0, b"b": 0.0, b"ab": 1.0, b"ba": 2.0, b"aa": 2.0})
    settings = SequenceSettings(particles=200, horizon=2, commit=2, resample_every=1, proposal_weight=0.0)
    counts = _frequencies(SequenceSampler(lengths, 2048, Controls(), settings), DRAWS)
    assert counts[b"ab"] / DRAWS == pytest.approx(0.5, abs=0.09)


def test_proposal_is_witten_bell_and_its_rules_match_the_reference() -> None:
    history = np.frombuffer(b"abcabd", dtype=np.uint8)
    probs, banned, seen = proposal_rows(history, np.zeros((1, 0), np.uint8), 1, 2, 0, 0)
    # order 0: counts a2 b2 c1 d1 (n 6, 4 distinct); order 1 after "d": nothing; so p = (c0 + 4/256) / 10
    expected = np.full(256, 4 / 256 / 10)
    for symbol, count in zip(b"abcd", (2, 2, 1, 1), strict=True):
        expected[symbol] += count / 10
    np.testing.assert_allclose(probs[0], expected, rtol=1e-12)
    np.testing.assert_array_equal(banned[0], ngram_bans(history, 2, 256))
    np.testing.assert_array_equal(np.flatnonzero(seen[0]), sorted(b"abcd"))


@settings(max_examples=60, deadline=None)
@given(
    st.binary(min_size=0, max_size=60),
    st.binary(min_size=0, max_size=8),
    st.integers(1, 6),
    st.integers(0, 8),
)
def test_proposal_bans_are_transformers_bans(history: bytes, extension: bytes, size: int, own: int) -> None:
    h = np.frombuffer(history, dtype=np.uint8)
    ext = np.frombuffer(extension, dtype=np.uint8)[None, :].copy()
    probs, banned, _ = proposal_rows(h, ext, 3, size, len(history), own)
    full = np.concatenate([h, ext[0]])
    expected = ngram_bans(full, size, 256)
    if own:
        expected |= ngram_bans(ext[0], own, 256)
    np.testing.assert_array_equal(banned[0], expected)
    assert probs[0].sum() == pytest.approx(1.0) and np.all(probs[0] > 0)


def test_default_gzip_sample_is_reproducible_and_keeps_its_rules() -> None:
    with genzip.predictor("gzip", jobs=1) as gzip:
        quick = SequenceSettings(particles=8, horizon=8, commit=4)
        a = sample(gzip, PROMPT, 40, seed=5, settings=quick)
        b = sample(gzip, PROMPT, 40, seed=5, settings=quick)
        c = sample(gzip, PROMPT, 40, seed=6, settings=quick)
        ban = sample(gzip, PROMPT, 40, seed=5, no_repeat_ngram_size=4, settings=quick)
    assert a == b and len(a) == 40 and a != c
    whole = PROMPT + ban  # transformers' rule: no 4-gram of prompt + sample occurs twice
    assert not any(whole[i : i + 4] in whole[: i + 3] for i in range(len(PROMPT) - 3, len(whole) - 3))
    own = [a[i : i + 10] for i in range(len(a) - 9)]
    assert len(own) == len(set(own))  # no 10-gram of the sample repeats inside it


def test_methods_and_errors() -> None:
    with genzip.predictor("zlib", jobs=1) as zlib:
        assert len(sample(zlib, PROMPT, 5, seed=0, method="symbol")) == 5
        with pytest.raises(InputError, match="method"):
            sample(zlib, PROMPT, 5, method="beam")
    with genzip.predictor("order", jobs=1) as order, pytest.raises(InputError, match="compressor"):
        sample(order, PROMPT, 5, method="sequence")
    for bad in (
        {"particles": 0},
        {"horizon": 0},
        {"commit": 9, "horizon": 8},
        {"proposal_weight": -1.0},
        {"compressor_weight": -0.5},
    ):
        with pytest.raises(InputError):
            SequenceSettings(**bad)
