"""lzma:exact=true: the information content of a raw LZMA2 stream, decoded again."""

from __future__ import annotations

import lzma
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import genzip
import genzip.corpus
from genzip.coder import read_header
from genzip.compressors.lzma_bits import COST_SCALE, context_costs, literal_lengths, raw_lzma2_cost
from genzip.registry import build

TEXT = genzip.corpus.text(3000, offset=20000)


def raw(data: bytes, preset: int = 9) -> bytes:
    return lzma.compress(data, format=lzma.FORMAT_RAW, filters=[{"id": lzma.FILTER_LZMA2, "preset": preset}])


class ReferenceDecoder:
    """A plain-Python LZMA decoder written straight from the specification, that sums -log2 p of each
    decision in floats: the reference the compiled decoder's exact integers are checked against."""

    def __init__(self, payload: bytes, lc: int, lp: int, pb: int) -> None:
        self.data, self.at = payload, 5
        self.range, self.code = 0xFFFFFFFF, int.from_bytes(payload[1:5], "big")
        self.lc, self.lp, self.pb = lc, lp, pb
        self.probs: dict[tuple[object, ...], int] = {}
        self.bits = 0.0

    def bit(self, *key: object) -> int:
        p = self.probs.get(key, 1024)
        bound = (self.range >> 11) * p
        if self.code < bound:
            self.range, bit, self.probs[key] = bound, 0, p + ((2048 - p) >> 5)
            self.bits -= math.log2(p / 2048)
        else:
            self.range, self.code, bit = self.range - bound, self.code - bound, 1
            self.bits -= math.log2(1 - p / 2048)
            self.probs[key] = p - (p >> 5)
        self.normalise()
        return bit

    def direct(self, count: int) -> int:
        value = 0
        for _ in range(count):
            self.range >>= 1
            bit = int(self.code >= self.range)
            self.code -= self.range * bit
            value = (value << 1) | bit
            self.bits += 1
            self.normalise()
        return value

    def normalise(self) -> None:
        if self.range < 1 << 24:
            self.range, self.code = self.range << 8, ((self.code << 8) | self.data[self.at]) & 0xFFFFFFFF
            self.at += 1

    def tree(self, name: object, count: int) -> int:
        m = 1
        for _ in range(count):
            m = (m << 1) | self.bit(name, m)
        return m - (1 << count)

    def reverse(self, name: object, count: int) -> int:
        m, value = 1, 0
        for k in range(count):
            bit = self.bit(name, m)
            m, value = (m << 1) | bit, value | (bit << k)
        return value

    def length(self, name: str, pos_state: int) -> int:
        if not self.bit(name, "choice"):
            return self.tree((name, "low", pos_state), 3)
        if not self.bit(name, "choice2"):
            return 8 + self.tree((name, "mid", pos_state), 3)
        return 16 + self.tree((name, "high"), 8)

    def decode(self, size: int) -> bytes:
        out = bytearray()
        state, reps = 0, [0, 0, 0, 0]
        while len(out) < size:
            pos_state = len(out) & ((1 << self.pb) - 1)
            if not self.bit("match", state, pos_state):
                prev = out[-1] if out else 0
                lit = ((len(out) & ((1 << self.lp) - 1)) << self.lc) + (prev >> (8 - self.lc))
                symbol = 1
                if state >= 7:
                    match = out[-reps[0] - 1]
                    while symbol < 0x100:
                        match_bit = (match >> 7) & 1
                        match <<= 1
                        bit = self.bit("lit", lit, 1 + match_bit, symbol)
                        symbol = (symbol << 1) | bit
                        if bit != match_bit:
                            break
                while symbol < 0x100:
                    symbol = (symbol << 1) | self.bit("lit", lit, 0, symbol)
                out.append(symbol - 0x100)
                state = 0 if state < 4 else state - 3 if state < 10 else state - 6
                continue
            if self.bit("rep", state):
                if not self.bit("g0", state):
                    if not self.bit("long", state, pos_state):
                        out.append(out[-reps[0] - 1])
                        state = 9 if state < 7 else 11
                        continue
                elif not self.bit("g1", state):
                    reps[:2] = [reps[1], reps[0]]
                elif not self.bit("g2", state):
                    reps[:3] = [reps[2], reps[0], reps[1]]
                else:
                    reps = [reps[3], reps[0], reps[1], reps[2]]
                n = self.length("replen", pos_state)
                state = 8 if state < 7 else 11
            else:
                n = self.length("len", pos_state)
                slot = self.tree(("slot", min(n, 3)), 6)
                dist = slot
                if slot >= 4:
                    count = (slot >> 1) - 1
                    dist = (2 | (slot & 1)) << count
                    if slot < 14:
                        dist += self.reverse(("spec", dist - slot), count)
                    else:
                        dist += (self.direct(count - 4) << 4) + self.reverse("align", 4)
                reps = [dist, *reps[:3]]
                state = 7 if state < 7 else 10
            for _ in range(n + 2):
                out.append(out[-reps[0] - 1])
        return bytes(out)


def reference_bits(stream: bytes) -> tuple[bytes, float]:
    """Decode a raw LZMA2 stream of one LZMA chunk (or stored chunks) with the reference decoder."""
    out, bits, at = b"", 0.0, 0
    while stream[at]:
        control = stream[at]
        if control < 0x80:
            size = int.from_bytes(stream[at + 1 : at + 3], "big") + 1
            out, bits, at = out + stream[at + 3 : at + 3 + size], bits + 8 * (3 + size), at + 3 + size
            continue
        assert control >= 0xE0, "the reference handles one LZMA chunk with its properties"
        size = ((control & 0x1F) << 16) + int.from_bytes(stream[at + 1 : at + 3], "big") + 1
        packed = int.from_bytes(stream[at + 3 : at + 5], "big") + 1
        d = stream[at + 5]
        decoder = ReferenceDecoder(stream[at + 6 : at + 6 + packed] + bytes(8), d % 9, d // 9 % 5, d // 45)
        out += decoder.decode(size)
        bits += 48 + decoder.bits
        at += 6 + packed
    return out, bits + 8


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, len(TEXT) - 1),
    st.integers(1, 600),
    st.sampled_from([0, 3, 6, 9]),
    st.binary(max_size=40),
)
def test_the_exact_cost_matches_a_reference_decoder(start: int, n: int, preset: int, noise: bytes) -> None:
    data = TEXT[start : start + n] + noise
    stream = raw(data, preset)
    decoded, bits = reference_bits(stream)
    assert decoded == data
    # each of the table's costs is rounded by at most 2^-17 bit, and a byte takes at most ~30 decisions
    assert raw_lzma2_cost(stream, data) / COST_SCALE == pytest.approx(bits, abs=30 * len(data) / 2**17)


def test_the_cost_is_the_stream_less_its_range_coder_flush() -> None:
    """An LZMA chunk costs its bytes less the 4-5 flush bytes (plus the fraction of the last one);
    a stored chunk exactly its bytes."""
    for data in (TEXT, TEXT[:300], bytes(5000)):
        stream = raw(data)
        slack = 8 * len(stream) - raw_lzma2_cost(stream, data) / COST_SCALE
        assert 24 <= slack < 48
    noise = np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes()
    assert raw_lzma2_cost(raw(noise), noise) == 8 * COST_SCALE * len(raw(noise))


def test_streams_of_many_chunks_are_summed() -> None:
    """Over 64 KiB of output LZMA2 starts new chunks (and stores incompressible ones)."""
    noise = np.random.default_rng(1).integers(0, 256, 70000, dtype=np.uint8).tobytes()
    data = genzip.corpus.text(250_000) + noise + genzip.corpus.text(20000, offset=300_000)
    stream = raw(data)
    slack = 8 * len(stream) - raw_lzma2_cost(stream, data) / COST_SCALE
    assert 0 < slack < 48 * 8


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 255), st.integers(1, 40))
def test_a_damaged_or_cut_stream_is_refused_never_misread(where: int, flip: int, cut: int) -> None:
    data = TEXT[:1500]
    stream = bytearray(raw(data))
    stream[where % len(stream)] ^= flip
    for candidate in (bytes(stream), bytes(stream[:-cut])):
        try:
            cost = raw_lzma2_cost(candidate, data)
        except ValueError as error:
            assert "does not decode" in str(error)
        else:  # a change that still decodes to the data (in the flush bytes) has a cost of its own
            assert 0 < cost <= 8 * COST_SCALE * len(candidate)


def test_a_stream_of_other_data_is_refused() -> None:
    with pytest.raises(ValueError, match="does not decode"):
        raw_lzma2_cost(raw(TEXT[:500]), TEXT[1:501])
    with pytest.raises(ValueError, match="does not decode"):
        raw_lzma2_cost(raw(TEXT[:500]), TEXT[:500] + b"x")


def test_exact_lengths_are_finer_than_bytes() -> None:
    exact = build("lzma:exact=true,dither=1", genzip.RuntimeOptions(jobs=1))
    whole = build("lzma:exact=false,dither=1", genzip.RuntimeOptions(jobs=1))
    context, items = TEXT[:700], [bytes([b]) for b in b" etaoinshr"]
    fine, coarse = exact.code_lengths(context, items), whole.code_lengths(context, items)
    assert fine.dtype == np.float64 and np.any(fine != np.round(fine))
    assert np.all((coarse - fine >= 24) & (coarse - fine < 48))  # less the flush, as above


def test_lzma_exact_round_trips_and_old_headers_mean_whole_bytes() -> None:
    data = b"the compass and the computer " + TEXT[:40]
    with genzip.predictor("lzma:context=64", jobs=2) as predictor:
        blob = genzip.compress(data, predictor)
    assert genzip.decompress(blob, jobs=1) == data
    spec = read_header(blob)[0].spec
    assert "exact=true" in spec and "literals=model" in spec  # spelled out: not the legacy values
    old = genzip.compress(data, genzip.predictor("lzma:context=64,exact=false,literals=compressed", jobs=1))
    spec = read_header(old)[0].spec
    assert "exact" not in spec and "literals" not in spec  # what a header from before both says
    assert genzip.decompress(old, jobs=1) == data
    rebuilt = build(spec, stored=True)
    assert rebuilt.exact is False and rebuilt.literals == "compressed"  # type: ignore[attr-defined]


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, len(TEXT) - 1),
    st.integers(0, 2100),
    st.lists(st.binary(max_size=20), min_size=1, max_size=12),
)
def test_a_shared_context_is_decoded_once_to_the_same_costs(start: int, n: int, items: list[bytes]) -> None:
    """context_costs resumes each stream where they stop agreeing; the costs are raw_lzma2_cost's."""
    context = TEXT[start : start + n]
    continuations = [*items, TEXT[start + n : start + n + 16]]
    streams = [raw(context + c) for c in continuations]
    expected = [raw_lzma2_cost(s, context + c) for s, c in zip(streams, continuations, strict=True)]
    assert context_costs(context, continuations, streams).tolist() == expected


def test_a_shared_context_stream_of_other_data_is_refused() -> None:
    context = TEXT[:900]
    streams = [raw(context + b"a"), raw(context + b"b")]
    with pytest.raises(ValueError, match="does not decode"):
        context_costs(context, [b"a", b"c"], streams)


def test_a_literal_read_off_the_model_is_what_compressing_it_gives() -> None:
    """lzma:literals=model: the bytes LZMA can only code as a literal get their length from the literal
    coder's state after the context; compressing each of them gives the same bits."""
    from genzip.compressors.xz import match_capable

    lzma_model = build("lzma:literals=model", genzip.RuntimeOptions(jobs=1))
    lzma_compressed = build("lzma:literals=compressed", genzip.RuntimeOptions(jobs=1))
    for context in (TEXT[:1500], genzip.corpus.text(900, offset=70000)):
        singles = [bytes([b]) for b in range(256)]
        read = literal_lengths(context, raw(context))
        assert read is not None
        assert read[0] == raw_lzma2_cost(raw(context), context)  # the context's own length, read on the way
        modelled = ~match_capable(context, read[2])
        assert 200 < modelled.sum() < 256  # most bytes are only ever a literal here
        fast, slow = lzma_model.code_lengths(context, singles), lzma_compressed.code_lengths(context, singles)
        assert np.array_equal(fast[modelled], slow[modelled])
        assert np.array_equal(fast[~modelled], slow[~modelled])  # the rest compressed in both
