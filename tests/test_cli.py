"""The command line, run as a user would: real processes, real files, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def genzip(*args: str, stdin: bytes | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "genzip", *args], input=stdin, capture_output=True, cwd=cwd, timeout=300
    )


def assert_one_line_error(result: subprocess.CompletedProcess, fragment: str) -> None:
    err = result.stderr.decode()
    assert result.returncode == 2, err
    assert err.count("\n") == 1 and err.startswith("genzip: error:") and fragment in err, err
    assert "Traceback" not in err


def test_help_lists_commands() -> None:
    result = genzip("--help")
    assert result.returncode == 0
    for command in ("sample", "compress", "decompress", "score", "list"):
        assert command in result.stdout.decode()


def test_top_level_cli_py_entry() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "cli.py"), "list"], capture_output=True, timeout=60)
    assert result.returncode == 0 and b"gzip" in result.stdout and b"level=" in result.stdout


def test_sample_is_reproducible_and_sized() -> None:
    args = ("sample", "-c", "zlib", "--prompt", "Call me", "-n", "30", "--seed", "0", "-j", "1")
    first, second = genzip(*args), genzip(*args)
    assert first.returncode == 0 and len(first.stdout) == 30
    assert first.stdout == second.stdout


def test_sample_context_override_and_output_file(tmp_path: Path) -> None:
    out = tmp_path / "s.bin"
    result = genzip(
        "sample", "-c", "zlib", "--context", "16", "-n", "10", "--seed", "1", "-o", str(out), "-j", "1"
    )
    assert result.returncode == 0 and len(out.read_bytes()) == 10


def test_compress_decompress_round_trip(tmp_path: Path) -> None:
    original = tmp_path / "in.txt"
    original.write_bytes("Call me Ishmael — naïve bytes \x00\xff".encode() + bytes(range(40)))
    packed, restored = tmp_path / "in.gzp", tmp_path / "out.txt"
    result = genzip("compress", str(original), "-o", str(packed), "-c", "zstd:level=3", "--verify", "-j", "1")
    assert result.returncode == 0, result.stderr
    assert b"bits/byte" in result.stderr
    result = genzip("decompress", str(packed), "-o", str(restored), "-j", "1")
    assert result.returncode == 0, result.stderr
    assert restored.read_bytes() == original.read_bytes()


def test_score_json_and_table(tmp_path: Path) -> None:
    f = tmp_path / "t.txt"
    f.write_bytes(b"abracadabra " * 20)
    result = genzip("score", str(f), "-c", "zlib", "-c", "bz2", "--json", "-j", "1")
    rows = json.loads(result.stdout)
    assert [r["spec"].split(":")[0] for r in rows] == ["zlib", "bz2"]
    assert rows[0]["native_bytes"] > 0 and rows[0]["bits_per_byte"] > 0
    table = genzip("score", str(f), "-c", "zlib", "-j", "1").stdout.decode()
    assert "bits/byte" in table and "zlib" in table


@pytest.mark.parametrize(
    "args, fragment",
    [
        (("score", "missing.txt"), "no such file"),
        (("sample", "-c", "nosuch"), "unknown predictor"),
        (("sample", "-c", "zstd:level=40"), "above the maximum"),
        (("sample", "-c", "gzip", "--top-p", "2"), "top-p"),
        (("compress", "missing.txt", "-o", "x.gzp"), "no such file"),
    ],
)
def test_bad_input_is_one_line_exit_2(args: tuple[str, ...], fragment: str, tmp_path: Path) -> None:
    assert_one_line_error(genzip(*args, cwd=tmp_path), fragment)


def test_empty_input_to_score(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert_one_line_error(genzip("score", str(empty)), "empty input")


def test_corrupt_container_leaves_no_output(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gzp"
    bad.write_bytes(b"GZPK\x01garbage that is not a container")
    out = tmp_path / "out.bin"
    assert_one_line_error(genzip("decompress", str(bad), "-o", str(out)), "container")
    assert not out.exists() and list(tmp_path.iterdir()) == [bad]


def test_stdin_and_stdout(tmp_path: Path) -> None:
    packed = tmp_path / "p.gzp"
    assert (
        genzip("compress", "-", "-o", str(packed), "-c", "zlib", "-j", "1", stdin=b"hello hello").returncode
        == 0
    )
    assert genzip("decompress", str(packed), "-o", "-").stdout == b"hello hello"
