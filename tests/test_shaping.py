"""The generate controls: exact values by hand and against transformers' own processors and warpers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers.generation.logits_process import (
    MinPLogitsWarper,
    NoRepeatNGramLogitsProcessor,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
    TypicalLogitsWarper,
)

from genzip.errors import InputError
from genzip.sampler import Controls, ngram_bans, shape, shape_distribution


def test_repetition_penalty_by_hand() -> None:
    # log 0.5 * 2 = log 0.25: the seen symbol falls to the others' level
    shaped = shape_distribution(
        np.array([0.5, 0.25, 0.25]), repetition_penalty=2.0, seen=np.array([True, False, False])
    )
    np.testing.assert_allclose(shaped, [1 / 3, 1 / 3, 1 / 3], rtol=1e-12)


def test_no_repeat_ngram_bans_by_hand() -> None:
    # the suffix (1, 2) was followed by 3 once: 3 would repeat the 3-gram (1, 2, 3)
    np.testing.assert_array_equal(np.flatnonzero(ngram_bans(np.array([1, 2, 3, 1, 2]), 3, 5)), [3])
    np.testing.assert_array_equal(
        np.flatnonzero(ngram_bans(np.array([4, 1, 4]), 1, 5)), [1, 4]
    )  # size 1: all seen
    assert not ngram_bans(np.array([1, 2]), 3, 5).any()  # shorter than an n-gram: nothing to ban


def test_min_p_by_hand() -> None:
    # threshold 0.2 * 0.5 = 0.1 removes only the 0.05
    shaped = shape_distribution(np.array([0.5, 0.3, 0.15, 0.05]), min_p=0.2)
    np.testing.assert_allclose(shaped, [0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0], rtol=1e-12)


def test_typical_p_by_hand() -> None:
    # entropy 1.0297 nats; |surprisal - entropy| = 0.337, 0.174, 0.580: 0.3 is the most typical, then 0.5
    probs = np.array([0.5, 0.3, 0.2])
    np.testing.assert_allclose(shape_distribution(probs, typical_p=0.5), [0.625, 0.375, 0], rtol=1e-12)
    np.testing.assert_allclose(shape_distribution(probs, typical_p=0.2), [0, 1, 0], rtol=1e-12)


def test_ban_of_every_symbol_is_ignored() -> None:
    probs = np.array([0.25, 0.75])
    np.testing.assert_allclose(shape_distribution(probs, banned=np.array([True, True])), probs, rtol=1e-12)


def _transformers(probs: np.ndarray, history: list[int], controls: Controls) -> np.ndarray:
    """The same controls through transformers' processors and warpers, in generate's order, float64."""
    scores = torch.log(torch.tensor(probs, dtype=torch.float64))[None]
    ids = torch.tensor([history])
    steps: list = []
    if controls.repetition_penalty is not None:
        steps.append(RepetitionPenaltyLogitsProcessor(controls.repetition_penalty))
    if controls.no_repeat_ngram_size is not None:
        steps.append(NoRepeatNGramLogitsProcessor(controls.no_repeat_ngram_size))
    steps.append(TemperatureLogitsWarper(controls.temperature))
    if controls.top_k is not None:
        steps.append(TopKLogitsWarper(controls.top_k))
    if controls.top_p is not None:
        steps.append(TopPLogitsWarper(controls.top_p))
    if controls.min_p is not None:
        steps.append(MinPLogitsWarper(controls.min_p))
    if controls.typical_p is not None:
        steps.append(TypicalLogitsWarper(controls.typical_p))
    for step in steps:
        scores = step(ids, scores)
    return torch.softmax(scores, dim=-1)[0].numpy()


CONTROLS = [
    Controls(temperature=0.7),
    Controls(top_k=5),
    Controls(temperature=1.3, top_p=0.8),
    Controls(min_p=0.3),
    Controls(typical_p=0.6),
    Controls(repetition_penalty=1.8),
    Controls(repetition_penalty=0.7, temperature=0.5),
    Controls(no_repeat_ngram_size=2),
    Controls(no_repeat_ngram_size=3, top_k=8, top_p=0.9, min_p=0.05, typical_p=0.95, repetition_penalty=1.2),
]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("controls", CONTROLS, ids=str)
def test_matches_transformers(controls: Controls, seed: int) -> None:
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(16, 0.5))
    history = rng.integers(0, 4, size=12).tolist()  # few distinct symbols: repeats and n-gram matches happen
    seen = np.isin(np.arange(16), history)
    banned = (
        ngram_bans(np.array(history), controls.no_repeat_ngram_size, 16)
        if controls.no_repeat_ngram_size
        else None
    )
    ours = shape(probs, controls, seen, banned)
    np.testing.assert_allclose(ours, _transformers(probs, history, controls), rtol=1e-9, atol=1e-15)


def test_batched_rows_equal_single_rows() -> None:
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(32), size=5)
    seen = rng.random((5, 32)) < 0.3
    controls = Controls(
        temperature=0.8, top_k=10, top_p=0.9, min_p=0.02, typical_p=0.9, repetition_penalty=1.3
    )
    batched = shape(probs, controls, seen)
    for row in range(5):
        np.testing.assert_array_equal(batched[row], shape(probs[row], controls, seen[row]))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.floats(1e-6, 1.0), min_size=2, max_size=40),
    st.one_of(st.just(0.0), st.just(1e-300), st.floats(0.0, 3.0)),
    st.one_of(st.none(), st.integers(1, 50)),
    st.one_of(st.none(), st.floats(0.01, 1.0)),
    st.one_of(st.none(), st.floats(0.01, 1.0)),
    st.one_of(st.none(), st.floats(0.01, 1.0)),
    st.one_of(st.none(), st.floats(0.1, 5.0)),
)
def test_shaped_is_a_distribution_inside_the_support(
    weights: list[float],
    temperature: float,
    top_k: int | None,
    top_p: float | None,
    min_p: float | None,
    typical_p: float | None,
    penalty: float | None,
) -> None:
    probs = np.array(weights) / sum(weights)
    seen = np.arange(len(probs)) % 3 == 0
    banned = np.arange(len(probs)) % 4 == 1
    shaped = shape_distribution(probs, temperature, top_k, top_p, min_p, typical_p, penalty, seen, banned)
    assert shaped.shape == probs.shape and np.all(shaped >= 0)
    assert shaped.sum() == pytest.approx(1.0, abs=1e-12)
    assert not np.any(shaped[banned] > 0)
    assert shaped.argmax() in np.flatnonzero(~banned)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"temperature": -1},
        {"top_k": 0},
        {"top_p": 0.0},
        {"min_p": 1.5},
        {"typical_p": 0.0},
        {"repetition_penalty": 0.0},
        {"no_repeat_ngram_size": 0},
    ],
)
def test_bad_controls_rejected(kwargs: dict) -> None:
    with pytest.raises(InputError):
        Controls(**kwargs)
