"""The real data shipped with genzip (see SOURCES.md): paths resolved inside the package."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).parent
MOBY_DICK = ROOT / "text" / "moby-dick.txt"
#: the second text: tune on one of the two, report on the other too
JARGON = ROOT / "text" / "jargon.txt"
TEXTS = {"moby-dick": MOBY_DICK, "jargon": JARGON}
IMAGES = sorted((ROOT / "image").glob("*.jpg"))
AUDIO = sorted((ROOT / "audio").glob("*.wav"))


def text(n_bytes: int | None = None, offset: int = 0, name: str = "moby-dick") -> bytes:
    """Bytes of a shipped text (`TEXTS`: moby-dick or jargon), from `offset` (all of it when n_bytes is None)."""
    data = TEXTS[name].read_bytes()
    return data[offset : None if n_bytes is None else offset + n_bytes]


#: where the default conditioning text starts in Moby-Dick (well past the front matter)
DEFAULT_PROMPT_OFFSET = 200_000


def default_prompt(n_bytes: int = 1500) -> bytes:
    """About `n_bytes` of Moby-Dick, from a paragraph's start to a word's end: what a compressor or
    context model continues when it is given no prompt (it knows nothing but what it is shown)."""
    window = text(n_bytes, offset=DEFAULT_PROMPT_OFFSET)
    return window[window.index(b"\n\n") + 2 : window.rindex(b" ") + 1]
