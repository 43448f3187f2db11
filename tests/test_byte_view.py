"""The byte view of a token model (`view=bytes`): exact next-byte probabilities, coding, sampling.

The exactness test compares the byte view of a tiny random Llama (float64,
no pruning) with brute force: every tokenization of every prefix, each
token sequence run from scratch through transformers' own forward.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import genzip
import genzip.corpus
from genzip.coder import decode, encode, read_header
from genzip.language_models.byte_view import ESCAPE_MASS
from genzip.language_models.hf import HFPredictor
from genzip.language_models.hf_engines import LlamaEngine
from genzip.language_models.views import ByteViewPredictor
from genzip.predictor import RuntimeOptions, normalise
from genzip.registry import build

from .conftest import assert_batched_equals_stepping
from .test_hf import build_tiny_model

CPU = RuntimeOptions(device="cpu", jobs=1)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="module")
def tiny_bytes(tiny_model: Path) -> ByteViewPredictor:
    predictor = build(f"hf:{tiny_model},view=bytes", CPU)
    assert isinstance(predictor, ByteViewPredictor)
    return predictor


class BruteForce:
    """p(next byte | x) by enumerating every token sequence that spells a prefix of x."""

    def __init__(self, engine: LlamaEngine, tokens: HFPredictor) -> None:
        self.engine, self.bos = engine, tokens.bos
        masked = set(tokens.codec.mask.tolist())
        self.vocab = {i: b for i, b in enumerate(tokens.codec.token_bytes[: tokens.engine.vocab_size]) if b and i not in masked}
        self.usable = np.array(sorted(self.vocab))

    def next_token(self, sequence: list[int]) -> dict[int, float]:
        ids = torch.tensor([[self.bos, *sequence]])
        logits = self.engine.forward(ids, self.engine.new_cache(1), 0)[0, self.usable]  # a fresh prefill each time
        return dict(zip(self.usable.tolist(), torch.softmax(logits, dim=0).tolist()))

    def next_byte(self, x: bytes) -> np.ndarray:
        mass = np.zeros(256)
        stack: list[tuple[list[int], int, float]] = [([], 0, 1.0)]  # sequence, bytes spelled, probability
        while stack:
            sequence, spelled, p = stack.pop()
            dist = self.next_token(sequence)
            pending = x[spelled:]
            for token, q in dist.items():
                b = self.vocab[token]
                if len(b) > len(pending) and b.startswith(pending):  # covers the next byte
                    mass[b[len(pending)]] += p * q
                elif len(b) <= len(pending) and pending.startswith(b):
                    stack.append(([*sequence, token], spelled + len(b), p * q))
        missing = mass == 0
        if missing.any():
            mass *= (1 - ESCAPE_MASS) / mass.sum()
            mass[missing] = ESCAPE_MASS / missing.sum()
        return normalise(mass)


def test_byte_view_equals_brute_force_marginalisation(tiny_model: Path) -> None:
    """Float64, no pruning: every branch of every tokenization, to 1e-9 at every byte. The reference runs
    each token sequence through the engine's plain prefill, not the byte view's shared-trunk attention."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model), dtype=torch.float64).eval()
    tokens = HFPredictor(CPU, str(tiny_model))
    tokens.engine = LlamaEngine(model, torch.device("cpu"))
    view = ByteViewPredictor(tokens, prune=0.0, beam=256)
    brute = BruteForce(tokens.engine, tokens)
    text = "the sé".encode()
    for n in range(len(text) + 1):
        np.testing.assert_allclose(view.distribution(), brute.next_byte(text[:n]), rtol=0, atol=1e-9)
        if n < len(text):
            view.observe(text[n])
    assert view.stats.pruned == 0 and view.stats.branches > 2 * len(text)  # several tokenizations were live
