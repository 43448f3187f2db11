"""The comparison engine: numbers vs independent computations, outputs, cache resume, CLI errors."""

from __future__ import annotations

import csv
import gzip
import io
import json
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

import genzip
from genzip import registry
from genzip.errors import InputError
from genzip.evaluation import compare, to_csv, to_json, to_markdown
from genzip.predictor import RuntimeOptions, SequencePredictor


class UniformModel(SequencePredictor):
    """A 'language model' that gives 8 bits to every byte and claims 500 parameters."""

    def __init__(self, options: RuntimeOptions) -> None:
        self.options = options

    def reset(self, context: bytes = b"") -> None:
        pass

    def distribution(self) -> np.ndarray:
        return np.full(256, 1 / 256)

    def observe(self, symbol: int) -> None:
        pass

    def fork(self) -> UniformModel:
        return self

    def model_size_bytes(self) -> int:
        return 1000


class PairTokenModel(UniformModel):
    """Token model: one token per two bytes (a lone last byte is its own token), 3 bits per token."""

    @property
    def alphabet_size(self) -> int:
        return 65536 + 256

    @property
    def is_byte_level(self) -> bool:
        return False

    def tokenize(self, data: bytes) -> np.ndarray:
        pairs = [data[i] * 256 + data[i + 1] for i in range(0, len(data) - 1, 2)]
        return np.array(pairs + ([65536 + data[-1]] if len(data) % 2 else []), dtype=np.int64)

    def detokenize(self, symbols: np.ndarray | list[int]) -> bytes:
        out = bytearray()
        for s in np.asarray(symbols).tolist():
            out += bytes([s - 65536]) if s >= 65536 else bytes([s >> 8, s & 255])
        return bytes(out)

    def score(self, symbols: np.ndarray) -> np.ndarray:
        return np.full(len(symbols), 3.0)


@pytest.fixture(autouse=True)
def test_models():
    for name, cls in (("uniformtest", "UniformModel"), ("pairtest", "PairTokenModel")):
        registry.register(
            registry.Entry(name, f"{__name__}:{cls}", "test model", registry.Kind.LANGUAGE_MODEL)
        )
    yield
    for name in ("uniformtest", "pairtest"):
        registry.ENTRIES.pop(name, None)


TEXT = genzip.corpus.text(700, offset=5000)
OTHER = genzip.corpus.text(300, offset=90000)
SPECS = ["gzip:context=64", "zlib:level=1,context=64", "uniformtest", "pairtest"]


def test_compare_numbers_match_independent_computation() -> None:
    result = compare([("a", TEXT), ("b", OTHER)], SPECS, chunk_size=256, jobs=2)
    by_name = {r.spec.split(":")[0]: r for r in result.results}
    assert [r.name for r in result.results] == SPECS
    assert [r.spec for r in result.results] == [genzip.predictor(s).spec for s in SPECS]
    chunks = [TEXT[i : i + 256] for i in range(0, 700, 256)] + [OTHER[:256], OTHER[256:]]
    gz = by_name["gzip"]
    assert gz.n_bytes == 1000
    assert gz.native_bytes == sum(len(gzip.compress(c, 9, mtime=0)) for c in chunks)
    reference = genzip.predictor("gzip:context=64", jobs=1)
    expected_bits = sum(genzip.score(c, reference).total_bits for c in chunks)
    assert gz.total_bits == pytest.approx(expected_bits, rel=1e-12)
    assert gz.rate == pytest.approx(100 * expected_bits / 8 / 1000)
    assert len(gz.byte_bits) == 1000 and gz.byte_bits.sum() == pytest.approx(expected_bits)
    assert by_name["zlib"].native_bytes == sum(len(zlib.compress(c, 1)) for c in chunks)
    assert gz.adjusted_rate is None and gz.model_size_bytes is None
    uniform = by_name["uniformtest"]
    assert uniform.bits_per_byte == pytest.approx(8.0) and uniform.native_bytes is None
    assert uniform.adjusted_rate == pytest.approx(100 * (1000 + 1000) / 1000)
    # token model: 3 bits per token, spread over the token's bytes
    pair = by_name["pairtest"]
    n_tokens = sum((len(c) + 1) // 2 for c in chunks)
    assert pair.total_bits == pytest.approx(3.0 * n_tokens)
    assert len(pair.byte_bits) == 1000 and pair.byte_bits[0] == pytest.approx(1.5)


def test_outputs_json_csv_markdown() -> None:
    result = compare([("a", TEXT)], ["gzip:context=32", "uniformtest"], chunk_size=None, jobs=1)
    doc = json.loads(to_json(result))
    assert doc["chunk_size"] is None and doc["files"] == ["a"]
    gz = doc["results"][0]
    assert gz["native_bytes"] == len(gzip.compress(TEXT, 9, mtime=0))
    assert gz["native_rate_percent"] == pytest.approx(100 * gz["native_bytes"] / 700)
    assert gz["coded_bytes"] == pytest.approx(gz["total_bits"] / 8)
    assert doc["results"][1]["adjusted_rate_percent"] == pytest.approx(100 * (700 + 1000) / 700)
    rows = list(csv.DictReader(io.StringIO(to_csv(result))))
    gzip_spec = genzip.predictor("gzip:context=32").spec
    assert [(r["predictor"], r["file"]) for r in rows] == [
        (gzip_spec, "(all)"),
        (gzip_spec, "a"),
        ("uniformtest", "(all)"),
        ("uniformtest", "a"),
    ]
    assert float(rows[2]["bits_per_byte"]) == pytest.approx(8.0)
    md = to_markdown(result)
    assert "| gzip:context=32 | compressor | 700 |" in md and "| 242.9 |" in md


def test_native_only_skips_code_lengths() -> None:
    result = compare([("a", TEXT)], ["zstd:level=3", "uniformtest"], chunk_size=256, jobs=1, native_only=True)
    zstd, uniform = result.results
    assert zstd.total_bits is None and zstd.byte_bits is None and zstd.native_bytes > 0
    assert uniform.total_bits == pytest.approx(8 * 700)


def test_cache_resumes_without_recomputing(tmp_path: Path) -> None:
    calls: list[tuple[str, int]] = []
    inputs = [("a", TEXT)]
    first = compare(
        inputs,
        ["gzip:context=16", "uniformtest"],
        256,
        jobs=1,
        cache_dir=tmp_path,
        on_chunk=lambda s, n: calls.append((s, n)),
    )
    assert len(calls) == 6
    calls.clear()
    second = compare(
        inputs,
        ["gzip:context=16", "uniformtest"],
        256,
        jobs=1,
        cache_dir=tmp_path,
        on_chunk=lambda s, n: calls.append((s, n)),
    )
    assert calls == []
    assert to_json(first) == to_json(second)
    assert np.array_equal(first.results[0].byte_bits, second.results[0].byte_bits)


def test_interrupted_run_resumes_from_cache(tmp_path: Path) -> None:
    seen: list[int] = []

    def interrupt_after_two(spec: str, n: int) -> None:
        seen.append(n)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        compare(
            [("a", TEXT)], ["gzip:context=16"], 128, jobs=1, cache_dir=tmp_path, on_chunk=interrupt_after_two
        )
    resumed: list[int] = []
    result = compare(
        [("a", TEXT)],
        ["gzip:context=16"],
        128,
        jobs=1,
        cache_dir=tmp_path,
        on_chunk=lambda s, n: resumed.append(n),
    )
    assert len(resumed) == 6 - 2  # the two finished chunks came from the cache
    full = compare([("a", TEXT)], ["gzip:context=16"], 128, jobs=1)
    assert result.results[0].total_bits == full.results[0].total_bits


def test_engine_errors() -> None:
    with pytest.raises(InputError, match="empty input"):
        compare([("e", b"")], ["gzip"], 2048)
    with pytest.raises(InputError, match="no predictors"):
        compare([("a", b"x")], [], 2048)
    with pytest.raises(genzip.SpecError):
        compare([("a", b"x")], ["nosuch"], 2048)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "genzip", *args], capture_output=True, text=True, cwd=cwd, timeout=60
    )


def test_cli_compare_writes_outputs(tmp_path: Path) -> None:
    (tmp_path / "t.txt").write_bytes(TEXT)
    run = _cli(
        "compare",
        "t.txt",
        "-c",
        "gzip:context=16",
        "-c",
        "zstd:level=1,context=16",
        "--chunk",
        "none",
        "--json",
        "o.json",
        "--csv",
        "o.csv",
        "--markdown",
        "o.md",
        "--plot",
        "o.png",
        "-j",
        "1",
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert "gzip:context=16" in run.stdout and "zstd:level=1,context=16" in run.stdout
    doc = json.loads((tmp_path / "o.json").read_text())
    assert doc["results"][1]["native_bytes"] > 0 and doc["chunk_size"] is None
    assert (tmp_path / "o.csv").read_text().startswith("predictor,kind,file")
    assert (tmp_path / "o.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compare", "missing.txt"], "no such file: missing.txt"),
        (["compare", "t.txt", "--modality", "video"], "unknown modality 'video'"),
        (["compare", "t.txt", "--chunk", "big"], "--chunk must be"),
        (["compare", "t.txt", "-c", "nosuch"], "unknown predictor 'nosuch'"),
    ],
)
def test_cli_errors_are_one_line_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "t.txt").write_bytes(b"hello")
    run = _cli(*args, cwd=tmp_path)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and message in run.stderr and run.stderr.startswith("genzip: error:")
    assert list(tmp_path.iterdir()) == [tmp_path / "t.txt"]


# --- the paper's experiments, on tiny inputs -------------------------------------


def test_table1_writes_rates(tmp_path: Path) -> None:
    from genzip.data import corpus_bytes
    from genzip.experiments.table1 import table1

    report = table1(
        tmp_path,
        ["zstd:level=1", "uniformtest", "nosuch"],
        n_bytes=4096,
        lm_bytes=2048,
        modalities=("text", "random"),
        jobs=1,
        cache_dir=tmp_path / "cache",
    )
    assert report.skipped == {"nosuch": "not in the registry"}
    doc = json.loads((tmp_path / "table1.json").read_text())
    text = corpus_bytes("text", 4096, block=2048)
    zstd = genzip.predictor("zstd:level=1")
    expected = 100 * sum(zstd.compressed_size(text[i : i + 2048]) for i in (0, 2048)) / 4096
    assert doc["rows"]["zstd:level=1"]["text|chunk 2048"]["raw"] == pytest.approx(expected)
    assert doc["rows"]["zstd:level=1"]["text|whole"]["raw"] == pytest.approx(
        100 * zstd.compressed_size(text) / 4096
    )
    uniform = doc["rows"]["uniformtest"]["random|chunk 2048"]
    assert uniform["raw"] == pytest.approx(100.0) and uniform["adjusted"] == pytest.approx(
        100 * (2048 + 1000) / 2048
    )
    md = (tmp_path / "table1.md").read_text()
    assert "| uniformtest | 100.0 | 100.0 | 100.0 | 100.0 |" in md
    assert (tmp_path / "table1.png").read_bytes()[:4] == b"\x89PNG"


def test_in_context_prefix_rates_and_curves(tmp_path: Path) -> None:
    from genzip.experiments.in_context import in_context, prefix_rates

    bits = np.concatenate([np.full(4, 8.0), np.full(4, 0.0), np.full(4, 8.0), np.full(4, 0.0)])
    assert prefix_rates(bits, 8, [4, 8]) == {4: 100.0, 8: 50.0}
    in_context(
        tmp_path,
        ["zstd:level=1", "uniformtest"],
        modalities=("text",),
        n_bytes=1024,
        max_length=1024,
        lm_length=256,
        lm_sequences=2,
        jobs=1,
    )
    doc = json.loads((tmp_path / "in_context.json").read_text())
    assert doc["lengths"] == [128, 256, 512, 1024]
    assert doc["curves"]["text"]["uniformtest"] == {"128": pytest.approx(100.0), "256": pytest.approx(100.0)}
    zstd = doc["curves"]["text"]["zstd:level=1"]
    assert zstd["128"] > zstd["1024"]  # longer sequences compress better
    assert (tmp_path / "in_context_text.png").exists()


def test_gallery_tiny(tmp_path: Path) -> None:
    import wave as wave_module

    from genzip.experiments.gallery import gallery

    gallery(
        tmp_path,
        ["zstd:level=1,context=64"],
        ["gzip:context=64"],
        prompt_bytes=50,
        text_bytes=20,
        image_rows=3,
        audio_prompt=128,
        audio_bytes=40,
        jobs=1,
    )
    assert "| zstd:level=1,context=64 |" in (tmp_path / "text.md").read_text()
    with wave_module.open(str(tmp_path / "audio" / "gzip_context-64.wav")) as w:
        assert w.getnframes() == 168 and w.getsampwidth() == 1 and w.getframerate() == 16000
    assert (tmp_path / "image.png").exists() and (tmp_path / "audio.png").exists()
