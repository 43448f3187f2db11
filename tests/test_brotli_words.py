"""brotli:words=true: its static dictionary's completions of a partial word as lookahead continuations."""

from __future__ import annotations

from pathlib import Path

import brotli
import pytest

import genzip
import genzip.corpus
from genzip.coder import read_header
from genzip.compressors import brotli_words
from genzip.compressors.brotli_words import MAX_WORDS, word_continuations, words
from genzip.errors import GenzipError
from genzip.registry import build

TEXT = genzip.corpus.text(400, offset=12000)


def test_the_shipped_dictionary_is_rfc_7932s() -> None:
    listed = words()
    assert len(listed) == 13504  # RFC 7932 section 8: sum of 2^NDBITS over lengths 4..24
    assert listed[0] == (0, b"time") and listed[1] == (1, b"down")  # the dictionary's first bytes
    assert {len(w) for _, w in listed} == set(range(4, 25))


def test_a_dictionary_word_is_one_cheap_reference_for_brotli() -> None:
    """Why the completions help: brotli codes a word its dictionary holds in fewer bits than one it lacks."""
    assert len(brotli.compress(b"xq computer science qx")) < len(brotli.compress(b"xq cqmpuzer sxiefce qx"))


def test_completions_are_dictionary_words_most_frequent_first() -> None:
    found = word_continuations(b"the ship's comp")
    vocabulary = {w for _, w in words()}
    assert 0 < len(found) <= MAX_WORDS
    assert all(c.endswith(b" ") and b"comp" + c[:-1] in vocabulary for c in found)
    rank = {w: r for r, w in words()}
    ranks = [rank[b"comp" + c[:-1]] for c in found]
    assert ranks == sorted(ranks)


@pytest.mark.parametrize(
    "context",
    [b"", b"a", b"the c", b"the Comp", b"the COMP", b"x" * 12, b"the comp ", b"the comp2", b"zzzzqqqq"],
)
def test_no_completions_without_a_partial_lowercase_word_the_dictionary_knows(context: bytes) -> None:
    assert word_continuations(context) == []


def test_the_plan_measures_the_completions_only_with_words_and_lookahead() -> None:
    context = TEXT[:200] + b" the comp"
    extra = set(word_continuations(context))
    with_words = build("brotli:context=256", genzip.RuntimeOptions(jobs=1))
    without = build("brotli:context=256,words=false", genzip.RuntimeOptions(jobs=1))
    paper = build("brotli:adapter=paper", genzip.RuntimeOptions(jobs=1))
    assert extra <= set(with_words.plan(context).continuations)
    assert not extra & set(without.plan(context).continuations)
    assert paper.plan(context).continuations == []


def test_brotli_with_words_round_trips_and_old_headers_mean_without() -> None:
    data = b"the compass and the computer " + TEXT[:12]
    with genzip.predictor("brotli:context=48,quality=5", jobs=2) as predictor:
        blob = genzip.compress(data, predictor)
    assert genzip.decompress(blob, jobs=1) == data
    assert "words=true" in read_header(blob)[0].spec  # spelled out: not the legacy value
    old = genzip.compress(data, genzip.predictor("brotli:context=48,quality=5,words=false", jobs=1))
    assert "words" not in read_header(old)[0].spec  # what a header from before `words` says
    assert genzip.decompress(old, jobs=1) == data


def test_a_tampered_dictionary_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "brotli_dictionary.bin"
    fake.write_bytes(brotli_words.DICTIONARY.read_bytes()[:-1] + b"!")
    monkeypatch.setattr(brotli_words, "DICTIONARY", fake)
    words.cache_clear()
    try:
        with pytest.raises(GenzipError, match="SHA-256"):
            words()
    finally:
        words.cache_clear()
