"""Better compressor predictors: exact code lengths, calibration and lookahead stay exact and decodable."""

from __future__ import annotations

import bz2
import math
import zlib

import numpy as np
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import genzip
import genzip.corpus
from genzip.adapter import CodeLengthPredictor
from genzip.adapter.calibration import Calibrator
from genzip.adapter.evidence import ABSENT, probabilities_from_lengths, weights_from_units
from genzip.adapter.plan import continuation_candidates
from genzip.cli import app
from genzip.coder import read_header
from genzip.compressors import deflate
from genzip.compressors.bitstreams import bz2_bits, zstd_bits
from genzip.errors import GenzipError, SpecError

from .conftest import assert_batched_equals_stepping

TEXT = genzip.corpus.text(3000, offset=7000)
CONTEXTS = {
    "empty": b"",
    "text": TEXT[:2048],
    "binary": bytes(np.random.default_rng(0).integers(0, 256, 700, dtype=np.uint8)),
    "run": b"a" * 600,
    "alphabet": bytes(range(256)) * 3,
}
TAILS = [bytes([b]) for b in range(256)] + [b"", b"the whale", TEXT[2048:2064]]


def adapter(spec: str) -> CodeLengthPredictor:
    """A compressor predictor built from `spec`, in this process, typed as the adapter it is."""
    predictor = genzip.predictor(spec, jobs=1)
    assert isinstance(predictor, CodeLengthPredictor)
    return predictor


#: the adapter with exact lengths and none of the other options (the default before they became it)
EXACT = "adapter=paper,resolution=bits"


def exact(spec: str) -> str:
    """`spec` on top of EXACT (its own options override it)."""
    name, _, options = spec.partition(":")
    return f"{name}:{EXACT}" + (f",{options}" if options else "")


@pytest.mark.parametrize("wbits,trailer", [(31, 8), (15, 4)])
@pytest.mark.parametrize("name", sorted(CONTEXTS))
def test_exact_deflate_bits_round_up_to_the_librarys_bytes(wbits: int, trailer: int, name: str) -> None:
    """Z_FINISH writes the same blocks as Z_BLOCK, byte-padded, plus the trailer (empty input: no block)."""
    context = CONTEXTS[name]
    bits = deflate.ExactDeflate(9, wbits).continuation_bits(context, TAILS)
    for tail, b in zip(TAILS, bits.tolist(), strict=True):
        if not context + tail:
            continue
        c = zlib.compressobj(9, zlib.DEFLATED, wbits)
        size = len(c.compress(context + tail) + c.flush())
        assert size == math.ceil(b / 8) + trailer


@pytest.mark.parametrize("level", [1, 6, 9])
def test_exact_deflate_bits_match_pythons_block_flush(level: int) -> None:
    """Python's zlib hands out exactly the whole bytes of the same Z_BLOCK stream; fewer than 8 bits stay held."""
    exact = deflate.ExactDeflate(level, 15)
    for data in (TEXT[:1], TEXT[:500], TEXT, CONTEXTS["binary"]):
        c = zlib.compressobj(level, zlib.DEFLATED, 15)
        emitted = len(c.compress(data) + c.flush(zlib.Z_BLOCK))
        assert emitted == exact.bits(data) // 8
        assert exact.bits(data) == exact.continuation_bits(data[:100], [data[100:]])[0]


def test_missing_libz_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    deflate.libz.cache_clear()
    monkeypatch.setattr(deflate, "_candidate_paths", lambda: ["/nonexistent/libz.so"])
    try:
        with pytest.raises(deflate.DeflateUnavailable, match="resolution=bytes"):
            deflate.ExactDeflate(9, 15)
        assert issubclass(deflate.DeflateUnavailable, GenzipError)
    finally:
        deflate.libz.cache_clear()


@pytest.mark.parametrize("name", sorted(CONTEXTS))
def test_bz2_bits_strip_only_the_final_zero_padding(name: str) -> None:
    for tail in (b"", b"x", b"\x00" * 9):
        stream = bz2.compress(CONTEXTS[name] + tail, 9)
        bits = bz2_bits(stream)
        pad = 8 * len(stream) - bits
        assert 0 <= pad <= 7
        value = int.from_bytes(stream, "big")
        assert value & ((1 << pad) - 1) == 0  # the stripped bits are zero ...
        assert (value >> (pad + 32)) & (
            (1 << 48) - 1
        ) == 0x177245385090  # ... and follow the end marker + CRC


def test_zstd_bits_remove_between_one_and_eight_bits_per_bitstream() -> None:
    compressor = zstandard.ZstdCompressor(level=19)
    frame = compressor.compress(TEXT)  # one compressed block: 4 Huffman literal streams + the sequence stream
    removed = 8 * len(frame) - zstd_bits(frame)
    assert 5 <= removed <= 40
    random = compressor.compress(CONTEXTS["binary"])  # incompressible: a raw block, nothing to remove
    assert zstd_bits(random) == 8 * len(random)


def test_bytes_resolution_is_the_papers_formula_bit_for_bit() -> None:
    for spec in ("gzip:adapter=paper", "zstd:level=3,adapter=paper"):
        p = adapter(spec)
        p.reset(TEXT[:300])
        assert np.array_equal(p.distribution(), probabilities_from_lengths(p.candidate_lengths(TEXT[:300])))


def test_bits_resolution_uses_exact_lengths() -> None:
    p = genzip.predictor(exact("gzip"), jobs=1)
    p.reset(TEXT[:500])
    lengths = deflate.ExactDeflate(9, 31).continuation_bits(TEXT[:500], [bytes([b]) for b in range(256)])
    assert np.array_equal(p.distribution(), probabilities_from_lengths(lengths))


@pytest.mark.parametrize(
    "spec",
    [
        exact("gzip:lookahead=16"),
        exact("gzip:calibrate=true"),
        exact("gzip:lookahead=8,calibrate=true,context=256"),
        "zlib:adapter=paper,lookahead=8",
        exact("zstd:level=3,lookahead=8,calibrate=true"),
        exact("bz2:lookahead=4"),
        exact("lzma:preset=6,calibrate=true"),
        exact("ppmd:order=4,dither=3"),
        "zlib:adapter=paper,dither=2,lookahead=6,calibrate=true",
        exact("zstd:level=3,candidates=seen"),
        "gzip:candidates=seen,lookahead=8,dither=2,calibrate=true",
    ],
)
def test_adapter_option_combinations_round_trip(spec: str) -> None:
    data = TEXT[2100:2160] + bytes([0, 255, 7]) + TEXT[2100:2120]
    blob = genzip.compress(data, genzip.predictor(spec, jobs=2))
    assert genzip.decompress(blob, jobs=1) == data


@settings(max_examples=8, deadline=None)
@given(st.binary(max_size=40) | st.text(alphabet="ab \n", max_size=50).map(str.encode))
def test_lookahead_calibrated_gzip_round_trips_any_bytes(data: bytes) -> None:
    predictor = genzip.predictor("gzip:lookahead=8,context=128", jobs=1)
    assert genzip.decompress(genzip.compress(data, predictor), jobs=1) == data


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize(
    "spec",
    [
        exact("gzip:lookahead=16,calibrate=true"),
        exact("zstd:level=3,lookahead=8"),
        "zlib:adapter=paper,dither=3",
        "bz2:lookahead=8,dither=2",
    ],
)
def test_distributions_bit_identical_to_stepping(spec: str, jobs: int) -> None:
    data = np.frombuffer(TEXT[2048:2078], dtype=np.uint8).astype(np.int64)
    predictor = genzip.predictor(spec, jobs=jobs)
    assert_batched_equals_stepping(predictor, data, TEXT[:2048])
    predictor.close()


def test_fork_carries_the_calibration_state() -> None:
    p = genzip.predictor(exact("zlib:calibrate=true,context=64"), jobs=1)
    p.reset(b"")
    for b in b"abracadabra":
        p.distribution()
        p.observe(b)
    twin = p.fork()
    assert np.array_equal(twin.distribution(), p.distribution())
    twin.observe(ord("x"))
    assert not np.array_equal(twin.distribution(), p.distribution())


@pytest.mark.parametrize("context", [TEXT[:2048], b"abcdefghij" * 5 + b"abcde", b"", b"z"])
def test_lookahead_distribution_is_proper(context: bytes) -> None:
    p = genzip.predictor(exact("gzip:lookahead=16"), jobs=1)
    p.reset(context)
    probs = p.distribution()
    assert probs.dtype == np.float64 and probs.shape == (256,)
    assert (probs > 0).all() and abs(probs.sum() - 1) < 1e-12


def test_lookahead_predicts_the_continuation_of_a_long_match() -> None:
    context = TEXT[:1500] + TEXT[200:260]  # the last 60 bytes repeat earlier text
    nxt = TEXT[260]
    plain, look = (
        genzip.predictor(exact("gzip"), jobs=1),
        genzip.predictor(exact("gzip:lookahead=16"), jobs=1),
    )
    plain.reset(context)
    look.reset(context)
    assert look.distribution()[nxt] > max(0.5, plain.distribution()[nxt])


def test_candidates_rank_by_match_length_then_age_not_byte_value() -> None:
    # "Q" is followed by "z" (older) and "a" (newer); "xQ" matches 2 bytes and is followed by "m"
    context = b"1Qz2Qa3xQm4xQ"
    assert [c[0] for c in continuation_candidates(context, 3)] == [ord("m"), ord("z"), ord("a")]
    # equal costs give exactly equal probabilities, whatever the byte values
    probs = weights_from_units(np.zeros(256, dtype=np.int64))
    assert (probs == probs[0]).all()


def test_calibration_costs_at_most_the_mixture_bound() -> None:
    """A Bayesian mixture is never more than log2(#experts) bits behind its best expert (here T=1, no mixing)."""
    data = bytes(np.random.default_rng(1).integers(0, 256, 60, dtype=np.uint8))
    plain = genzip.score(data, genzip.predictor(exact("zlib:context=256"), jobs=1)).total_bits
    calibrated = genzip.score(
        data, genzip.predictor(exact("zlib:context=256,calibrate=true"), jobs=1)
    ).total_bits
    experts = Calibrator(lookahead=False).size
    assert calibrated <= plain + math.log2(experts) + 1e-9
    assert calibrated < plain - 5  # on random bytes the flatter experts win


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 200), st.booleans(), st.integers(0, 2**32 - 1))
def test_the_calibrators_block_pass_is_its_byte_by_byte_pass(n: int, lookahead: bool, seed: int) -> None:
    """mix_sequence computes experts for blocks of positions; the bits are those of mix and update in turn."""
    rng = np.random.default_rng(seed)
    evidence = rng.integers(0, 40 * 64, (n, 2, 256))
    evidence[:, 1][rng.random((n, 256)) < 0.9] = ABSENT
    symbols = rng.integers(0, 256, n)
    blocked, stepped = Calibrator(lookahead), Calibrator(lookahead)
    rows = blocked.mix_sequence(evidence, symbols)
    for i, s in enumerate(symbols.tolist()):
        experts = stepped.experts(evidence[i])
        assert np.array_equal(rows[i], stepped.mix(experts))
        stepped.update(experts, s)
    assert np.array_equal(blocked.losses, stepped.losses)


def test_sampling_with_lookahead_is_deterministic() -> None:
    prompt = TEXT[:1024]
    p = genzip.predictor(exact("gzip:lookahead=16"), jobs=1)
    first = genzip.sample(p, prompt, n=24, seed=3, temperature=0.7)
    assert first == genzip.sample(p, prompt, n=24, seed=3, temperature=0.7)
    assert len(first) == 24


def test_cli_sample_with_lookahead_is_reproducible_and_rejects_other_predictors() -> None:
    runner = CliRunner()
    args = [
        "sample",
        "-c",
        "gzip",
        "--lookahead",
        "16",
        "--prompt",
        "Call me Ishmael.",
        "-n",
        "12",
        "--seed",
        "0",
        "-j",
        "1",
    ]
    ok = runner.invoke(app, args)
    assert ok.exit_code == 0, ok.output
    assert ok.stdout_bytes == runner.invoke(app, args).stdout_bytes
    bad = runner.invoke(app, ["sample", "-c", "ctw", "--lookahead", "16", "-n", "3"])
    assert isinstance(bad.exception, SpecError)


def test_dither_averages_lengths_of_shifted_contexts() -> None:
    """dither=D: each byte's cost is the mean over D contexts (3 bytes shorter each) of l(x_d.b) - l(x_d)."""
    context = TEXT[:400]
    p = genzip.predictor("zlib:adapter=paper,dither=3", jobs=1)
    p.reset(context)
    plain = adapter("zlib:adapter=paper")
    relative = np.sum(
        [
            plain.candidate_lengths(context[3 * d :]) - 8 * plain.compressed_size(context[3 * d :])
            for d in range(3)
        ],
        axis=0,
    )
    units = (relative * 64) // 3
    expected = 2.0 ** (-(units - units.min()) / 64)
    np.testing.assert_allclose(p.distribution(), expected / expected.sum(), rtol=1e-12)


@pytest.mark.parametrize("context", [TEXT[:300], b"", bytes(range(256))])
def test_seen_candidates_measure_the_context_bytes_and_one_stand_in(context: bytes) -> None:
    """candidates=seen: bytes in the context keep their own length; the others all take the lowest absent byte's."""
    seen = adapter(exact("zlib:candidates=seen"))
    seen.reset(context)
    lengths = adapter(exact("zlib")).bit_lengths(context, [bytes([b]) for b in range(256)])
    present = np.zeros(256, dtype=bool)
    present[list(context)] = True
    if not present.all():
        lengths[~present] = lengths[np.flatnonzero(~present)[0]]
    assert np.array_equal(seen.distribution(), probabilities_from_lengths(lengths))
    assert len(seen.plan(context).items) == present.sum() + (not present.all())


@pytest.mark.parametrize(
    "spec",
    [
        "gzip:resolution=exact",
        "gzip:lookahead=257",
        "zstd:lookahead=-2",
        "ppmd:dither=0",
        "bz2:dither=65",
        "gzip:candidates=some",
    ],
)
def test_bad_adapter_options_are_spec_errors(spec: str) -> None:
    with pytest.raises(SpecError):
        genzip.predictor(spec, jobs=1)


def test_lookahead_below_two_is_the_papers_horizon_one() -> None:
    """lookahead=1 is accepted by the registry (0..256) and scores single bytes only, like lookahead=0."""
    off, one = (
        genzip.predictor("gzip:lookahead=0", jobs=1),
        genzip.predictor("gzip:lookahead=1", jobs=1),
    )
    symbols = np.frombuffer(TEXT[300:320], dtype=np.uint8).astype(np.int64)
    for p in (off, one):
        p.reset(TEXT[:300])
    assert np.array_equal(off.distributions(symbols), one.distributions(symbols))


def test_default_spec_is_the_best_adapter_and_the_paper_formula_is_one_preset() -> None:
    """No options give calibrated, dithered, lookahead lengths over the seen bytes; adapter=paper spells out the
    paper's formula in the canonical spec, and explicit options override the preset."""
    assert genzip.predictor("gzip", jobs=1).spec == (
        "gzip:level=9,context=2048,resolution=bits,calibrate=true,recalibrate=true,lookahead=16,dither=4,"
        "candidates=seen"
    )
    assert genzip.predictor("gzip:adapter=paper", jobs=1).spec == (
        "gzip:level=9,context=2048,resolution=bytes,calibrate=false,recalibrate=false,lookahead=0,dither=1,"
        "candidates=all"
    )
    assert "lookahead=8,dither=1" in genzip.predictor("zlib:lookahead=8,adapter=paper", jobs=1).spec
    with pytest.raises(SpecError, match="adapter=best"):
        genzip.predictor("gzip:adapter=best", jobs=1)


def test_container_written_with_an_explicit_full_spec_decodes_with_it() -> None:
    """A header names every option (but those at the behaviour before they existed), so the defaults changing
    leaves old containers decodable bit for bit: this spec is what a header written before `recalibrate`
    existed says."""
    old_default = (
        "zlib:level=9,context=2048,resolution=bits,calibrate=false,lookahead=0,dither=1,candidates=all"
    )
    data = TEXT[:80]
    blob = genzip.compress(data, genzip.predictor(old_default + ",recalibrate=false", jobs=1))
    assert read_header(blob)[0].spec == old_default
    assert genzip.decompress(blob, jobs=1) == data
    assert blob == genzip.compress(data, genzip.predictor("zlib:adapter=paper,resolution=bits", jobs=1))
