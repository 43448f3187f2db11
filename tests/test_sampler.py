"""The sampler: reproducible for a seed, and temperature/top-k/top-p as Hugging Face defines them."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import genzip
from genzip.errors import InputError
from genzip.sampler import draw, shape_distribution

PROMPT = b"Call me Ishmael. Some years ago"


def test_same_seed_same_sample() -> None:
    a = genzip.sample(genzip.predictor("zlib", jobs=1), PROMPT, n=40, seed=3)
    b = genzip.sample(genzip.predictor("zlib", jobs=1), PROMPT, n=40, seed=3)
    c = genzip.sample(genzip.predictor("zlib", jobs=1), PROMPT, n=40, seed=4)
    assert a == b and len(a) == 40
    assert a != c


def test_greedy_follows_the_argmax() -> None:
    predictor = genzip.predictor("zlib", jobs=1)
    out = genzip.sample(predictor, PROMPT, n=5, temperature=0, seed=0)
    predictor.reset(PROMPT)
    for byte in out:
        probs = predictor.distribution()
        assert probs[byte] == probs.max()
        predictor.observe(byte)


def test_greedy_breaks_ties_by_the_seed_not_byte_order() -> None:
    tied = np.array([0.1, 0.3, 0.3, 0.3])
    np.testing.assert_array_equal(shape_distribution(tied, temperature=0), [0, 1 / 3, 1 / 3, 1 / 3])
    rng = np.random.default_rng(1)
    picks = {draw(shape_distribution(tied, temperature=0), rng.random()) for _ in range(200)}
    assert picks == {1, 2, 3}


def test_temperature_matches_softmax_of_scaled_logits() -> None:
    probs = np.array([0.5, 0.3, 0.2])
    shaped = shape_distribution(probs, temperature=0.5)
    expected = probs**2 / (probs**2).sum()
    np.testing.assert_allclose(shaped, expected, rtol=1e-12)


def test_top_k_keeps_k_most_likely() -> None:
    shaped = shape_distribution(np.array([0.1, 0.4, 0.2, 0.3]), top_k=2)
    np.testing.assert_allclose(shaped, [0, 4 / 7, 0, 3 / 7], rtol=1e-12)


def test_top_p_keeps_smallest_nucleus() -> None:
    shaped = shape_distribution(np.array([0.1, 0.4, 0.2, 0.3]), top_p=0.6)
    np.testing.assert_allclose(shaped, [0, 4 / 7, 0, 3 / 7], rtol=1e-12)
    assert shape_distribution(np.array([0.1, 0.4, 0.2, 0.3]), top_p=0.4)[1] == 1.0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0.01, 1.0), min_size=2, max_size=20), st.floats(0, 0.999999))
def test_draw_inverts_the_cdf(weights: list[float], u: float) -> None:
    probs = np.array(weights) / sum(weights)
    index = draw(probs, u)
    cumulative = np.cumsum(probs)
    assert cumulative[index] >= u * cumulative[-1]
    assert index == 0 or cumulative[index - 1] <= u * cumulative[-1]


def test_sample_frequencies_follow_the_distribution() -> None:
    rng = np.random.default_rng(0)
    probs = np.array([0.7, 0.2, 0.1])
    counts = np.bincount([draw(probs, rng.random()) for _ in range(20000)], minlength=3) / 20000
    np.testing.assert_allclose(counts, probs, atol=0.015)


@pytest.mark.parametrize(
    "kwargs", [{"temperature": -1}, {"top_k": 0}, {"top_p": 0.0}, {"top_p": 1.5}, {"n": -1}]
)
def test_bad_options_rejected(kwargs: dict) -> None:
    with pytest.raises(InputError):
        genzip.sample(genzip.predictor("zlib", jobs=1), b"x", **{"n": 3, **kwargs})
