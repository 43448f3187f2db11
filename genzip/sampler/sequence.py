"""Sequence-level sampling for compressor predictors: sequential Monte Carlo over blocks of bytes.

A compressor's own distribution over the next K bytes is p(s | x) ∝ 2^-(l(x.s) - l(x)),
with l its code length. It is sampled in blocks: particles are extended byte
by byte from a cheap proposal q (an interpolated order-k model of the history,
`proposal`), and weighted by the measured code lengths towards the target

    pi(s) ∝ (p(s)^beta * q(s)^gamma)^(1/T),   w(s) = pi(s) / q(s),

with the temperature T applied to the whole sequence (beta = `compressor_weight`,
gamma = `proposal_weight`; beta 1, gamma 0 is the compressor's own joint). Every `resample_every`
bytes the lengths of all particles are measured (one batched `code_lengths`
call) and, when the effective sample size falls below half, the particles are
resampled (systematic resampling); `resample_every=None` weights only at the
block's end (sampling-importance-resampling). At the block's end one particle
is drawn by weight and its first `commit` bytes are kept. Every random number
comes from the seeded generator, so the same seed gives the same sample.

The per-symbol controls act on the proposal and reshape the target by the same
factors (the target is p_T(s) * prod_t q'_t(s_t) / q_t(s_t), q' the shaped
proposal), so `no_repeat_ngram_size` is a hard rule on the sequence and the
truncations restrict it to bytes the proposal keeps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from ..errors import InputError
from ..predictor import SequencePredictor
from ..progress import progress_bar
from .proposal import proposal_rows
from .shaping import Controls, draw, draw_rows, shape


@runtime_checkable
class CodeLengths(Protocol):
    """What the sequence samplers need from a compressor predictor (the adapter's public API)."""

    #: bytes of history the compressor sees
    window: int

    def code_lengths(self, context: bytes, continuations: Sequence[bytes]) -> np.ndarray: ...


@dataclass(frozen=True)
class SequenceSettings:
    """The sequence sampler's knobs; the defaults are the measured best for gzip (docs/sampling.md)."""

    particles: int = 64
    horizon: int = 32  # bytes per block (K)
    commit: int | None = 16  # bytes kept per block (the rest is lookahead); None = the whole block
    resample_every: int | None = (
        None  # None = weights at the block's end only (sampling-importance-resampling)
    )
    proposal_order: int = 8
    proposal_temperature: float = 1.0
    #: gamma: the target is (p(s)^beta * q(s)^gamma)^(1/T); 0 = the compressor's own joint distribution, 3 = its
    #: product with the proposal model cubed (the measured best: the order-k model judges how pieces join)
    proposal_weight: float = 3.0
    #: beta: the exponent of the compressor's p(s) in the target; 0 = the proposal model alone (an ablation
    #: with the same particles, blocks and rules, and no code length measured)
    compressor_weight: float = 1.0
    #: no n-gram of this many bytes repeats inside the sample itself (0 = off); the prompt is not counted
    own_ngram_size: int = 10

    def __post_init__(self) -> None:
        if self.particles < 1:
            raise InputError(f"particles must be >= 1, got {self.particles}")
        if self.horizon < 1:
            raise InputError(f"horizon must be >= 1, got {self.horizon}")
        if self.commit is not None and not 1 <= self.commit <= self.horizon:
            raise InputError(f"commit must be in 1..horizon ({self.horizon}), got {self.commit}")
        if self.resample_every is not None and self.resample_every < 1:
            raise InputError(f"resample-every must be >= 1, got {self.resample_every}")
        if not 0 <= self.proposal_order <= 16:
            raise InputError(f"proposal order must be in 0..16, got {self.proposal_order}")
        if not self.proposal_weight >= 0:
            raise InputError(f"proposal weight must be >= 0, got {self.proposal_weight}")
        if not self.compressor_weight >= 0:
            raise InputError(f"compressor weight must be >= 0, got {self.compressor_weight}")
        if self.own_ngram_size < 0:
            raise InputError(f"own n-gram size must be >= 0, got {self.own_ngram_size}")
        if not self.proposal_temperature > 0:
            raise InputError(f"proposal temperature must be > 0, got {self.proposal_temperature}")


def _log_softmax(logw: np.ndarray) -> np.ndarray:
    top = logw.max()
    return logw - top - math.log(np.exp(logw - top).sum())


def _systematic(log_weights: np.ndarray, uniform: float) -> np.ndarray:
    """Indices of the resampled particles: one uniform, evenly spaced points through the CDF."""
    weights = np.exp(_log_softmax(log_weights))
    points = (uniform + np.arange(len(weights))) / len(weights)
    return np.minimum(np.searchsorted(np.cumsum(weights), points, side="right"), len(weights) - 1)


class _Block:
    """One block of particles: their bytes, log-weights and last measured lengths."""

    def __init__(self, sampler: SequenceSampler, history: np.ndarray, own_start: int) -> None:
        self.sampler = sampler
        self.history = history
        self.own_start = own_start
        window = sampler.window
        self.context = history[-window:].tobytes() if window else b""
        self.weighs = sampler.settings.compressor_weight > 0  # beta 0: the compressor is never asked
        self.base_length = float(sampler.measure(self.context, [b""])[0]) if self.weighs else 0.0
        m = sampler.settings.particles
        self.bytes = np.zeros((m, 0), dtype=np.uint8)
        self.log_weights = np.zeros(m)
        self.lengths = np.full(m, self.base_length)

    def extend(self, rng: np.random.Generator) -> None:
        """Add one proposed byte to every particle; the proposal's correction goes into the weights."""
        s = self.sampler
        settings = s.settings
        base, banned, seen = proposal_rows(
            self.history,
            self.bytes,
            settings.proposal_order,
            s.ban_size,
            self.own_start,
            settings.own_ngram_size,
        )
        user = shape(base, s.proposal_controls, seen, banned)
        proposal = user if s.settings.proposal_temperature == 1 else shape(user, s.sharpen)
        picks = draw_rows(proposal, rng.random(len(proposal)))
        rows = np.arange(len(picks))
        with np.errstate(divide="ignore"):
            log_base = np.log(base[rows, picks])
            self.log_weights += np.log(user[rows, picks]) - log_base - np.log(proposal[rows, picks])
            self.log_weights += settings.proposal_weight / s.temperature * log_base
        self.bytes = np.concatenate([self.bytes, picks.astype(np.uint8)[:, None]], axis=1)

    def reweight(self) -> None:
        """Measure every particle's code length and add beta x the change to its log-weight (at temperature T)."""
        s = self.sampler
        if not self.weighs:
            return
        lengths = s.measure(self.context, [row.tobytes() for row in self.bytes]).astype(np.float64)
        beta = s.settings.compressor_weight
        self.log_weights -= beta * (lengths - self.lengths) * math.log(2) / s.temperature
        self.lengths = lengths

    def resample_if_degenerate(self, rng: np.random.Generator) -> None:
        weights = np.exp(_log_softmax(self.log_weights))
        if 1.0 / float((weights**2).sum()) < len(weights) / 2:
            keep = _systematic(self.log_weights, float(rng.random()))
            self.bytes, self.lengths = self.bytes[keep], self.lengths[keep]
            self.log_weights = np.zeros(len(keep))

    def choose(self, rng: np.random.Generator) -> np.ndarray:
        """One particle's bytes, drawn by weight."""
        return self.bytes[draw(np.exp(_log_softmax(self.log_weights)), float(rng.random()))]


class SequenceSampler:
    """Sequential Monte Carlo over blocks of `horizon` bytes from a compressor's code lengths."""

    def __init__(
        self, compressor: CodeLengths, window: int, controls: Controls, settings: SequenceSettings
    ) -> None:
        self.compressor = compressor
        self.window = window
        self.settings = settings
        #: temperature 0 (greedy) keeps the particle with the shortest code: a vanishing temperature
        self.temperature = controls.temperature if controls.temperature > 0 else 1e-9
        self.ban_size = controls.no_repeat_ngram_size or 0
        self.proposal_controls = Controls(
            1.0,
            controls.top_k,
            controls.top_p,
            controls.min_p,
            controls.typical_p,
            controls.repetition_penalty,
        )
        self.sharpen = Controls(settings.proposal_temperature)
        self.measurements = 0

    def measure(self, context: bytes, continuations: list[bytes]) -> np.ndarray:
        self.measurements += len(continuations)
        return np.asarray(self.compressor.code_lengths(context, continuations))

    def block(self, history: np.ndarray, own_start: int, rng: np.random.Generator) -> np.ndarray:
        """The bytes one block commits after `history` (the sample so far starts at `own_start`)."""
        settings = self.settings
        block = _Block(self, history, own_start)
        every = settings.resample_every or settings.horizon
        for t in range(1, settings.horizon + 1):
            block.extend(rng)
            if t % every == 0 or t == settings.horizon:
                block.reweight()
                if t < settings.horizon:
                    block.resample_if_degenerate(rng)
        return block.choose(rng)[: settings.commit or settings.horizon]

    def sample(
        self, prompt: bytes, n: int, rng: np.random.Generator, progress: bool = False, label: str = ""
    ) -> bytes:
        """`n` bytes continuing `prompt`."""
        history = np.frombuffer(bytes(prompt), dtype=np.uint8)
        start = len(history)
        with progress_bar(n, f"sample {label}", progress) as advance:
            while len(history) - start < n:
                kept = self.block(history, start, rng)
                history = np.concatenate([history, kept])
                advance(min(len(kept), n - (len(history) - start - len(kept))))
        return history[start : start + n].tobytes()


def compressor_window(predictor: SequencePredictor) -> int | None:
    """The context window (bytes) of a compressor predictor, None for other predictors."""
    return predictor.window if isinstance(predictor, CodeLengths) else None
