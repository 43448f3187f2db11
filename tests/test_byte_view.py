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
        self.vocab = {
            i: b
            for i, b in enumerate(tokens.codec.token_bytes[: tokens.engine.vocab_size])
            if b and i not in masked
        }
        self.usable = np.array(sorted(self.vocab))

    def next_token(self, sequence: list[int]) -> dict[int, float]:
        ids = torch.tensor([[self.bos, *sequence]])
        logits = self.engine.forward(ids, self.engine.new_cache(1), 0)[
            0, self.usable
        ]  # a fresh prefill each time
        return dict(zip(self.usable.tolist(), torch.softmax(logits, dim=0).tolist(), strict=True))

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
    view = ByteViewPredictor(tokens, prune=0.0, beam=256, lazy=0.0)
    brute = BruteForce(tokens.engine, tokens)
    text = "the sé".encode()
    for n in range(len(text) + 1):
        np.testing.assert_allclose(view.distribution(), brute.next_byte(text[:n]), rtol=0, atol=1e-9)
        if n < len(text):
            view.observe(text[n])
    assert view.stats.pruned == 0 and view.stats.branches > 2 * len(text)  # several tokenizations were live


def test_distributions_are_bit_identical_to_stepping(tiny_bytes: ByteViewPredictor) -> None:
    data = genzip.corpus.text(120, offset=5000) + "é€\U0001f642".encode() + b"\xff\x00"
    rows = assert_batched_equals_stepping(
        tiny_bytes, np.frombuffer(data, dtype=np.uint8).astype(np.int64), b"Call"
    )
    assert rows.shape == (len(data), 256) and np.allclose(rows.sum(axis=1), 1.0)


def test_byte_view_is_a_byte_predictor_with_its_settings_in_the_fingerprint(tiny_model: Path) -> None:
    p = build(f"hf:{tiny_model},view=bytes,prune=0.01,beam=4", CPU)
    assert p.is_byte_level and p.alphabet_size == 256 and p.tokenize(b"ab").tolist() == [97, 98]
    fp = p.fingerprint()
    assert (
        fp["view"] == "bytes" and fp["prune"] == 0.01 and fp["beam"] == 4 and len(fp["weights_sha256"]) == 64
    )
    with pytest.raises(genzip.SpecError, match="only apply to view=bytes"):
        build(f"hf:{tiny_model},beam=4", CPU)


@pytest.mark.parametrize("data", [b"", b"\xff", genzip.corpus.text(150, offset=9000) + bytes([0, 255, 0xC3])])
def test_round_trip(tiny_bytes: ByteViewPredictor, data: bytes) -> None:
    blob = encode(data, tiny_bytes)
    assert decode(blob, predictor=tiny_bytes) == data
    assert genzip.decompress(blob, device="cpu") == data  # a fresh predictor rebuilt from the header


def test_chunk_batched_round_trip(tiny_bytes: ByteViewPredictor) -> None:
    data = genzip.corpus.text(300, offset=14000) + b"\x00\xfe"
    blob = encode(data, tiny_bytes, chunk_size=64, batch_size=3)
    header, _ = read_header(blob)
    assert header.batch_size == 3 and len(header.symbol_counts) == 5
    assert decode(blob, predictor=tiny_bytes) == data


def test_streams_agree_with_single_streams(tiny_bytes: ByteViewPredictor) -> None:
    """Streams stepped side by side see the same distributions as one stream (up to float rounding)."""
    texts = [genzip.corpus.text(40, offset=o) for o in (0, 7000, 11000)]
    streams = tiny_bytes.open_streams(3)
    rows = []
    for t in range(40):
        rows.append(streams.distributions())
        streams.observe(np.array([text[t] for text in texts]))
    for i, text in enumerate(texts):
        tiny_bytes.reset(b"")
        single = tiny_bytes.distributions(np.frombuffer(text, dtype=np.uint8).astype(np.int64))
        np.testing.assert_allclose(np.stack([r[i] for r in rows]), single, rtol=1e-4, atol=1e-9)


def test_fork_is_independent(tiny_bytes: ByteViewPredictor) -> None:
    tiny_bytes.reset(b"The wh")
    twin = tiny_bytes.fork()
    before = tiny_bytes.distribution().copy()
    for byte in b"ale":
        twin.observe(byte)
    twin.distribution()
    assert np.array_equal(tiny_bytes.distribution(), before)


# --- SmolLM2, the real model ----------------------------------------------------------


@pytest.fixture(scope="module")
def smollm2_bytes() -> ByteViewPredictor:
    predictor = build("smollm2:view=bytes", CPU)
    assert isinstance(predictor, ByteViewPredictor)
    return predictor


def test_smollm2_byte_view_costs_at_most_the_canonical_tokenization(smollm2_bytes: ByteViewPredictor) -> None:
    """Summing over tokenizations can only add probability: the byte view's bits for a text are at most
    the canonical tokens' bits, up to pruning and the escape mass (tolerance 0.01 bits/byte)."""
    text = genzip.corpus.text(120, offset=60000, name="jargon")
    tokens = smollm2_bytes.tokens
    tokens.reset(b"")
    canonical = tokens.score(tokens.tokenize(text)).sum()
    smollm2_bytes.reset(b"")
    view = smollm2_bytes.score(smollm2_bytes.tokenize(text)).sum()
    assert view <= canonical + 0.01 * len(text), (view, canonical)
    assert smollm2_bytes.stats.worst_pruned < 0.05


def test_smollm2_prompt_boundary(smollm2_bytes: ByteViewPredictor) -> None:
    """ "The quick brown fo" ends mid-token: the byte view predicts "x"; the token view, which tokenizes
    the prompt as if "fo" were finished, barely can."""
    prompt = b"The quick brown fo"
    smollm2_bytes.reset(prompt)
    p_bytes = smollm2_bytes.distribution()[ord("x")]
    tokens = smollm2_bytes.tokens
    tokens.reset(prompt)
    token_probs = tokens.distribution()
    p_tokens = sum(token_probs[t] for t, b in enumerate(tokens.codec.token_bytes) if b.startswith(b"x"))
    assert p_bytes > 0.5 > p_tokens, (p_bytes, p_tokens)
