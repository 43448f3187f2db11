"""bytelm: the paper's byte transformer as a predictor, its training loop and its shipped checkpoint."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import genzip
import genzip.corpus
from genzip.coder import read_header
from genzip.language_models import bytelm
from genzip.language_models.bytelm_checkpoints import load_model, parameters_blake2b, read_checkpoint
from genzip.language_models.bytelm_predictor import BytelmPredictor
from genzip.language_models.devices import torch_threads
from genzip.language_models.train import TrainSettings, train
from genzip.predictor import RuntimeOptions

from .conftest import assert_batched_equals_stepping

CPU = RuntimeOptions(device="cpu")


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`genzip ARGS` in a fresh process (encoder and decoder never share state)."""
    return subprocess.run(
        [sys.executable, "-c", "from genzip.cli import main; main()", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def random_predictor(context: int = 2048, size: str = "200k") -> BytelmPredictor:
    return BytelmPredictor(CPU, size=size, init="random", context=context)


@pytest.fixture(scope="module")
def tiny_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two short training runs: 3 steps, then the same run resumed to 5 steps."""
    root = tmp_path_factory.mktemp("train")
    data = root / "data.txt"
    data.write_bytes(genzip.corpus.text(20000, offset=5000))
    quiet = {"log": lambda message: None, "show_progress": False}
    base = TrainSettings(
        size="200k",
        data=(data,),
        steps=3,
        device="cpu",
        batch=2,
        seq_len=64,
        eval_every=2,
        eval_bytes=256,
        warmup=2,
        out=root / "run.pt",
        export=root / "weights.pt",
        seed=1,
    )
    with torch_threads():  # tiny batches: extra threads only add synchronisation
        first = train(base, **quiet)
        resumed = train(
            TrainSettings(
                **{
                    **base.__dict__,
                    "steps": 5,
                    "resume": root / "run.pt",
                    "out": root / "resumed.pt",
                    "export": None,
                }
            ),
            **quiet,
        )
        train(TrainSettings(**{**base.__dict__, "out": root / "again.pt", "export": None}), **quiet)
    assert np.isfinite(first.eval_bits_per_byte) and np.isfinite(resumed.eval_bits_per_byte)
    return {
        "data": data,
        "run": root / "run.pt",
        "weights": root / "weights.pt",
        "resumed": root / "resumed.pt",
        "again": root / "again.pt",
    }


def test_parameter_counts_match_the_paper() -> None:
    expected = {"200k": 0.23e6, "800k": 0.86e6, "3.2m": 3.3e6}
    for size, config in bytelm.SIZES.items():
        assert config.layers == 4 and config.context == 2048
        count = bytelm.parameter_count(bytelm.ByteTransformer(config))
        assert abs(count - expected[size]) / expected[size] < 0.02, (size, count)


def test_stepping_matches_the_batched_forward_pass() -> None:
    p = random_predictor(size="800k")
    data = genzip.corpus.text(300, offset=777)
    symbols = p.tokenize(data)
    stepped = p.distributions(symbols)
    ids = torch.tensor([[bytelm.BOS, *symbols[:-1].tolist()]])
    with torch.no_grad():
        batched = torch.softmax(p.model(ids)[0].double(), dim=-1).numpy()
    np.testing.assert_allclose(stepped, batched, rtol=1e-4, atol=1e-6)


def test_distributions_are_bit_identical_to_stepping_across_the_sliding_window() -> None:
    p = random_predictor(context=48)  # the ring buffer wraps several times
    symbols = p.tokenize(genzip.corpus.text(200, offset=99) + bytes(range(0, 256, 3)))
    batch = assert_batched_equals_stepping(p, symbols)
    assert np.all(batch > 0) and np.allclose(batch.sum(axis=1), 1.0)


def test_stepping_past_the_window_is_sliding_window_attention() -> None:
    """Past the window, stepping equals a forward pass whose attention is banded to `context` positions."""
    context = 32
    p = random_predictor(context=context)
    symbols = p.tokenize(genzip.corpus.text(100, offset=3000))
    stepped = p.distributions(symbols)
    ids = torch.tensor([[bytelm.BOS, *symbols[:-1].tolist()]])
    with torch.no_grad():
        banded = torch.softmax(p.model(ids, window=context)[0].double(), dim=-1).numpy()
        unbanded = torch.softmax(p.model(ids, window=len(symbols))[0].double(), dim=-1).numpy()
    np.testing.assert_allclose(stepped, banded, rtol=1e-4, atol=1e-7)
    assert np.abs(stepped[context:] - unbanded[context:]).max() > 1e-5  # the window really cuts


def test_score_agrees_with_stepping_beyond_the_window() -> None:
    p = random_predictor(context=64)
    symbols = p.tokenize(genzip.corpus.text(250, offset=10))
    stepped = p.distributions(symbols)
    p.reset(b"")
    scored = p.score(symbols)
    exact = -np.log2(stepped[np.arange(len(symbols)), symbols])
    # the first window is the same computation; later windows re-read context//2 bytes of history
    np.testing.assert_allclose(scored[:64], exact[:64], rtol=1e-4, atol=1e-4)
    assert abs(scored.mean() - exact.mean()) < 0.05


def test_score_leaves_the_stepping_state_when_it_fits_the_window() -> None:
    p, q = random_predictor(context=64), random_predictor(context=64)
    symbols = p.tokenize(b"Call me Ishmael. Some years ago")
    p.score(symbols)
    q.distributions(symbols)
    assert np.array_equal(p.distribution(), q.distribution())


def test_fork_is_independent() -> None:
    p = random_predictor()
    p.reset(b"Call me Ishmael")
    before = p.distribution().copy()
    twin = p.fork()
    twin.observe(ord("."))
    assert not np.array_equal(twin.distribution(), before)
    assert np.array_equal(p.distribution(), before)


def test_streams_step_independently_with_padding() -> None:
    p = random_predictor(context=40)
    texts = [genzip.corpus.text(60, offset=o) for o in (0, 5000, 9000)]
    texts[2] = texts[2][:25]  # ends early: padded afterwards
    streams = p.open_streams(3)
    rows: list[list[np.ndarray]] = [[], [], []]
    for t in range(60):
        probs = streams.distributions()
        for i, text in enumerate(texts):
            if t < len(text):
                rows[i].append(probs[i])
        streams.observe(np.array([text[t] if t < len(text) else 0 for text in texts]))
    for i, text in enumerate(texts):
        p.reset(b"")
        np.testing.assert_allclose(np.array(rows[i]), p.distributions(p.tokenize(text)), rtol=1e-4, atol=1e-7)


def test_sampling_is_deterministic_with_a_seed() -> None:
    p = genzip.predictor("bytelm", device="cpu")
    a = genzip.sample(p, b"Call me ", 40, seed=11)
    b = genzip.sample(p, b"Call me ", 40, seed=11)
    c = genzip.sample(p, b"Call me ", 40, seed=12)
    assert a == b and len(a) == 40 and a != c


def test_shipped_checkpoint_predicts_english_well() -> None:
    held_out = genzip.corpus.text(2048, offset=len(genzip.corpus.text()) - 4096)
    bpb = genzip.score(held_out, genzip.predictor("bytelm", device="cpu")).bits_per_byte
    gzip_bpb = 8 * len(gzip.compress(held_out, compresslevel=9, mtime=0)) / len(held_out)
    assert bpb < gzip_bpb and bpb < 3.0, (bpb, gzip_bpb)


@pytest.mark.parametrize("kind", ["text", "random"])
def test_cli_round_trip_in_separate_processes(tmp_path: Path, kind: str) -> None:
    data = genzip.corpus.text(1200, offset=40000) if kind == "text" else np.random.default_rng(5).bytes(400)
    (tmp_path / "f").write_bytes(data)
    enc = run_cli("compress", "f", "-o", "c", "-c", "bytelm", "--device", "cpu", cwd=tmp_path)
    assert enc.returncode == 0, enc.stderr
    dec = run_cli("decompress", "c", "-o", "g", "--device", "cpu", cwd=tmp_path)
    assert dec.returncode == 0, dec.stderr
    assert (tmp_path / "g").read_bytes() == data
    if kind == "text":  # the trained model really compresses English (payload, without the JSON header)
        _, payload = read_header((tmp_path / "c").read_bytes())
        assert 8 * payload.nbytes / len(data) < 3.2


def test_training_is_deterministic_and_resumes(tiny_checkpoints: dict[str, Path]) -> None:
    run = read_checkpoint(tiny_checkpoints["run"])
    again = read_checkpoint(tiny_checkpoints["again"])
    resumed = read_checkpoint(tiny_checkpoints["resumed"])
    weights = read_checkpoint(tiny_checkpoints["weights"])
    assert run["step"] == 3 and resumed["step"] == 5 and "optimizer" in resumed and "optimizer" not in weights
    same = parameters_blake2b(load_model(run)) == parameters_blake2b(load_model(again))
    assert same, "same seed, same data: same weights"
    assert parameters_blake2b(load_model(resumed)) != parameters_blake2b(load_model(run))
    for path in (tiny_checkpoints["resumed"], tiny_checkpoints["weights"]):
        p = genzip.predictor(f"bytelm:checkpoint={path}", device="cpu")
        data = b"It is a way I have of driving off the spleen."
        assert genzip.decompress(genzip.compress(data, p), device="cpu") == data


def test_cannot_resume_from_a_weights_only_export(tiny_checkpoints: dict[str, Path]) -> None:
    settings = TrainSettings(
        size="200k",
        data=(tiny_checkpoints["data"],),
        steps=6,
        device="cpu",
        batch=2,
        seq_len=64,
        resume=tiny_checkpoints["weights"],
    )
    with pytest.raises(genzip.InputError, match="no optimizer state"):
        train(settings, log=lambda message: None, show_progress=False)


def test_changed_checkpoint_is_a_model_mismatch(tiny_checkpoints: dict[str, Path], tmp_path: Path) -> None:
    ckpt = tmp_path / "model.pt"
    ckpt.write_bytes(tiny_checkpoints["run"].read_bytes())
    blob = genzip.compress(b"some bytes to code", genzip.predictor(f"bytelm:checkpoint={ckpt}", device="cpu"))
    ckpt.write_bytes(tiny_checkpoints["resumed"].read_bytes())
    with pytest.raises(genzip.ModelMismatchError, match="weights"):
        genzip.decompress(blob, device="cpu")


def test_missing_checkpoint_is_a_clean_cli_error(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"hello")
    for spec, message in (
        ("bytelm:size=3.2m", "no checkpoint is shipped for size=3.2m"),
        (f"bytelm:checkpoint={tmp_path / 'nope.pt'}", "no checkpoint file"),
    ):
        result = run_cli("compress", "f", "-o", "c", "-c", spec, cwd=tmp_path)
        assert result.returncode == 2 and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr and not (tmp_path / "c").exists()


def test_random_init_is_explicit_and_reproducible() -> None:
    a, b = random_predictor(size="800k"), random_predictor(size="800k")
    assert a.fingerprint() == b.fingerprint() and a.model_size_bytes() == 2 * 854400
    with pytest.raises(genzip.SpecError, match="exceeds"):
        BytelmPredictor(CPU, init="random", context=4096)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_stepping_is_deterministic_and_round_trips() -> None:
    cuda = RuntimeOptions(device="cuda")
    p = BytelmPredictor(cuda, init="random", size="800k", context=64)
    symbols = p.tokenize(genzip.corpus.text(300, offset=123))
    batch = p.distributions(symbols)
    p.reset(b"")
    stepped = np.array([(p.distribution(), p.observe(s))[0] for s in symbols.tolist()])
    assert np.array_equal(batch, stepped) and p.fingerprint()["device"] == "cuda"
    q = genzip.predictor("bytelm:size=800k,init=random", device="cuda")
    data = genzip.corpus.text(500, offset=50) + bytes(range(256))
    assert genzip.decompress(genzip.compress(data, q), device="cuda") == data


def test_chunked_round_trip_in_process() -> None:
    p = genzip.predictor("bytelm", device="cpu")
    data = genzip.corpus.text(500, offset=70000) + bytes(range(200, 256))
    assert genzip.decompress(genzip.compress(data, p, chunk_size=200), device="cpu") == data
