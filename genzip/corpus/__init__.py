"""The real data shipped with genzip (see SOURCES.md): paths resolved inside the package."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).parent
MOBY_DICK = ROOT / "text" / "moby-dick.txt"
IMAGES = sorted((ROOT / "image").glob("*.jpg"))
AUDIO = sorted((ROOT / "audio").glob("*.wav"))


def text(n_bytes: int | None = None, offset: int = 0) -> bytes:
    """Bytes of Moby-Dick, starting at `offset` (all of it when n_bytes is None)."""
    data = MOBY_DICK.read_bytes()
    return data[offset : None if n_bytes is None else offset + n_bytes]
