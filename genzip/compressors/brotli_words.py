"""Continuations from brotli's static dictionary, for the adapter's lookahead (``brotli:words=true``).

Much of what brotli gains on short text it gains from its built-in dictionary of
13,504 words (RFC 7932, Appendix A): a whole word costs one reference. The
adapter's own continuations are copied from the context, so it never asks
brotli about a word the context lacks, and the first bytes of such a word look
as dear as literals. When the context ends in a partial lowercase word (2 to 11
letters after a non-letter), this proposes the dictionary's completions of it,
each with the space that follows, most frequent first (the dictionary lists the
words of each length in order of frequency): brotli's lengths then price them.

`brotli_dictionary.bin` is the dictionary as shipped inside the Brotli 1.2.1 wheel's
extension module, byte for byte; its SHA-256 is the one RFC 7932 gives, checked on load.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from ..errors import GenzipError

DICTIONARY = Path(__file__).with_name("brotli_dictionary.bin")
#: RFC 7932, Appendix A
SHA256 = "20e42eb1b511c21806d4d227d07e5dd06877d8ce7b3a817f378f313653f35c70"
#: log2 of the number of words of each length (RFC 7932, section 8: NDBITS)
NDBITS = (0, 0, 0, 0, 10, 10, 11, 11, 10, 10, 10, 10, 10, 9, 9, 8, 7, 7, 8, 7, 7, 6, 6, 5, 5)
#: partial words completed: this many letters at least, at most
SHORTEST_PART, LONGEST_PART = 2, 11
#: completions proposed per position, at most
MAX_WORDS = 16

_LOWER = frozenset(b"abcdefghijklmnopqrstuvwxyz")
_LETTERS = _LOWER | frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")


@lru_cache(maxsize=1)
def words() -> tuple[tuple[int, bytes], ...]:
    """Every dictionary word with its rank within its length (0 = most frequent), by length then rank."""
    data = DICTIONARY.read_bytes()
    if hashlib.sha256(data).hexdigest() != SHA256:
        raise GenzipError(f"{DICTIONARY} is not RFC 7932's brotli dictionary (SHA-256 differs)")
    out = []
    offset = 0
    for length, bits in enumerate(NDBITS):
        for rank in range(1 << bits if bits else 0):
            out.append((rank, data[offset : offset + length]))
            offset += length
    return tuple(out)


@lru_cache(maxsize=1)
def _by_prefix() -> dict[bytes, list[bytes]]:
    """Lowercase prefix (SHORTEST_PART..LONGEST_PART letters) -> the longer words starting with it, best first."""
    table: dict[bytes, list[tuple[int, int, bytes]]] = {}
    for rank, word in words():
        for k in range(SHORTEST_PART, min(len(word) - 1, LONGEST_PART) + 1):
            table.setdefault(word[:k], []).append((rank, len(word), word))
    return {prefix: [w for _, _, w in sorted(found)] for prefix, found in table.items()}


def word_continuations(context: bytes, limit: int = MAX_WORDS) -> list[bytes]:
    """Completions (with the space after) of the partial word `context` ends in, most frequent first."""
    tail = context[-(LONGEST_PART + 1) :]
    part = len(tail)
    while part and tail[part - 1] in _LOWER:
        part -= 1
    letters = len(tail) - part
    if letters < SHORTEST_PART or letters > LONGEST_PART or (part and tail[part - 1] in _LETTERS):
        return []  # not a partial lowercase word: too short, too long, or part of a longer one
    return [w[letters:] + b" " for w in _by_prefix().get(tail[part:], [])[:limit]]
