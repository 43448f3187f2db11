"""The two ways of turning per-chunk scores into Table 1's rates.

* ``genzip`` (default): every predictor sees the bytes as they are; every
  chunk's compressed size is counted in full.
* ``paper``: what `evaluate_compressor_chunked` in google-deepmind/
  language_modeling_is_compression does. A classical compressor's header is
  counted once over all chunks (the size of compressing one zero byte is taken
  off every chunk but one). Language models, trained on ASCII, see right-shifted
  bytes (x >> 1) for images, audio and random data, and text with the most
  significant bit cleared on non-ASCII bytes; the rate is then rescaled by the
  bits kept, 8n / (8n - masked bits). Context models are coded as they are.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np

from ..registry import Kind


class Protocol(StrEnum):
    GENZIP = "genzip"
    PAPER = "paper"


def parse_protocol(raw: str) -> Protocol:
    from ..errors import InputError

    try:
        return Protocol(raw.strip().lower())
    except ValueError:
        raise InputError(f"unknown protocol {raw!r}; use genzip or paper") from None


def right_shift(chunk: bytes) -> tuple[bytes, int]:
    """Every byte halved (x >> 1), so 7 bits are left; one bit per byte is lost."""
    data = np.frombuffer(chunk, dtype=np.uint8)
    return (data >> 1).astype(np.uint8).tobytes(), len(data)


def mask_non_ascii(chunk: bytes) -> tuple[bytes, int]:
    """Non-ASCII bytes get their most significant bit cleared; one bit lost per such byte."""
    data = np.frombuffer(chunk, dtype=np.uint8)
    return (data & 0x7F).astype(np.uint8).tobytes(), int(np.count_nonzero(data >= 0x80))


def model_view(protocol: Protocol, kind: Kind, modality: str, chunk: bytes) -> tuple[bytes, int]:
    """The bytes a predictor of this kind scores under the protocol, and how many input bits it lost."""
    if protocol is Protocol.GENZIP or kind is not Kind.LANGUAGE_MODEL:
        return chunk, 0
    return mask_non_ascii(chunk) if modality == "text" else right_shift(chunk)


def counts_header_once(protocol: Protocol, kind: Kind) -> bool:
    """Whether a predictor's own compressed size has its header counted once over all chunks."""
    return protocol is Protocol.PAPER and kind is Kind.COMPRESSOR
