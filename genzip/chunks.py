"""Cutting data into independent chunks: the one helper and its default size."""

from __future__ import annotations

from .errors import InputError

#: The paper's chunk size: every text, image and audio input is cut into 2048-byte
#: chunks, and the compressors' and language models' default context is this long.
DEFAULT_CHUNK_BYTES = 2048


def split_chunks(data: bytes, chunk_size: int | None) -> list[bytes]:
    """Independent chunks of `chunk_size` bytes (the last may be shorter), or ``[data]`` when None.

    An empty input is one empty chunk, so every input has at least one chunk.

    >>> [len(c) for c in split_chunks(bytes(5000), DEFAULT_CHUNK_BYTES)]
    [2048, 2048, 904]
    >>> split_chunks(b"abc", None)
    [b'abc']
    """
    if chunk_size is not None and chunk_size <= 0:
        raise InputError(f"chunk size must be positive, got {chunk_size}")
    if chunk_size is None or not data:
        return [bytes(data)]
    return [bytes(data[i : i + chunk_size]) for i in range(0, len(data), chunk_size)]
