"""Per-chunk results on disk, so an interrupted run resumes and a repeated one recomputes nothing.

One small .npz per (predictor identity, mode, chunk bytes); every engine reads
and writes the same entries, so a run started on one engine resumes on another.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..files import atomic_path
from .results import ChunkScore

#: bumped when the cached per-chunk format or meaning changes
CACHE_VERSION = 1


def cache_key(identity: str, chunk: bytes, native_only: bool) -> str:
    """The entry's name: a hash of the format version, the predictor's identity, the mode and the bytes."""
    h = hashlib.sha256()
    h.update(f"v{CACHE_VERSION}|{identity}|native_only={native_only}|".encode())
    h.update(chunk)
    return h.hexdigest()


class ChunkCache:
    """A directory of per-chunk results (or nothing at all when `directory` is None); writes are atomic."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = Path(directory) if directory is not None else None
        if self.directory is not None:
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise InputError(f"cannot use cache directory {self.directory}: {exc.strerror}") from None

    def get(self, key: str) -> ChunkScore | None:
        """The stored result, or None when absent or unreadable (then it is simply recomputed)."""
        if self.directory is None:
            return None
        try:
            with np.load(self.directory / f"{key}.npz") as z:
                has_bits = bool(z["has_bits"])
                return ChunkScore(
                    int(z["n_bytes"]),
                    float(z["total_bits"]) if has_bits else None,
                    np.array(z["byte_bits"]) if has_bits else None,
                    int(z["native_bytes"]) if z["native_bytes"] >= 0 else None,
                )
        except (FileNotFoundError, OSError, KeyError, ValueError):
            return None

    def put(self, key: str, value: ChunkScore) -> None:
        if self.directory is None:
            return
        with atomic_path(self.directory / f"{key}.npz") as tmp, tmp.open("wb") as f:
            np.savez(
                f,
                n_bytes=value.n_bytes,
                has_bits=value.total_bits is not None,
                total_bits=value.total_bits if value.total_bits is not None else 0.0,
                byte_bits=value.byte_bits if value.byte_bits is not None else np.zeros(0),
                native_bytes=-1 if value.native_bytes is None else value.native_bytes,
            )
