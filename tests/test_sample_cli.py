"""`genzip sample` as a user runs it: --prompt-file, the generate controls, the sequence method."""

from __future__ import annotations

from pathlib import Path

import pytest

import genzip
from tests.test_cli import assert_one_line_error
from tests.test_cli import genzip as run

CONDITIONING = b"Call me Ishmael. Some years ago - never mind how long precisely - having little money. "


def test_prompt_file_and_controls_give_the_api_sample(tmp_path: Path) -> None:
    prompt = tmp_path / "prompt.txt"
    prompt.write_bytes(CONDITIONING)
    args = ["sample", "-c", "zlib", "--prompt-file", str(prompt), "-n", "24", "--seed", "2", "-j", "1"]
    result = run(*args, "--particles", "8", "--horizon", "8", "--no-repeat-ngram-size", "6")
    assert result.returncode == 0, result.stderr
    from genzip.sampler import SequenceSettings, sample

    with genzip.predictor("zlib", jobs=1) as zlib:
        expected = sample(
            zlib,
            CONDITIONING,
            24,
            seed=2,
            no_repeat_ngram_size=6,
            settings=SequenceSettings(particles=8, horizon=8, commit=8),
        )
    assert result.stdout == expected
    symbol = run(
        *args,
        "--method",
        "symbol",
        "--top-k",
        "5",
        "--min-p",
        "0.1",
        "--typical-p",
        "0.9",
        "--repetition-penalty",
        "1.2",
    )
    assert symbol.returncode == 0 and len(symbol.stdout) == 24


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (("--min-p", "0"), "min-p"),
        (("--typical-p", "1.5"), "typical-p"),
        (("--repetition-penalty", "-1"), "repetition penalty"),
        (("--method", "beam"), "sampling method"),
        (("--particles", "0"), "particles"),
        (("-c", "order", "--method", "sequence"), "compressor"),
    ],
)
def test_bad_sample_options_are_one_line_errors(options: tuple[str, ...], fragment: str) -> None:
    assert_one_line_error(run("sample", "-n", "3", "-j", "1", *options), fragment)


def test_no_prompt_continues_the_shipped_text_for_compressors() -> None:
    """`genzip sample -c gzip` alone: a compressor knows only what it is shown, so it continues the
    shipped paragraph (said on stderr), and the sample equals the API's with that prompt."""
    import genzip.corpus

    result = run("sample", "-c", "zlib", "-n", "40", "--seed", "3", "-j", "1")
    assert result.returncode == 0 and "no prompt" in result.stderr.decode()
    with genzip.predictor("zlib", jobs=1) as p:
        assert result.stdout == genzip.sample(p, genzip.corpus.default_prompt(), 40, seed=3)


def test_no_prompt_means_no_prompt_for_language_models() -> None:
    result = run("sample", "-c", "bytelm", "-n", "5", "--seed", "0", "--device", "cpu")
    assert result.returncode == 0 and len(result.stdout) == 5 and "no prompt" not in result.stderr.decode()
