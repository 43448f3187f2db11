"""The GZPK container: one self-describing format for every predictor.

`header` is the strict schema of what a container may declare, `format` its
records and the readers that check them, `coding` the range coding with a
predictor's distributions, `encoding` and `decoding` compression and
decompression as streams, chunk by chunk, within `Limits`.
"""

from __future__ import annotations

from .coding import ENCODE_BLOCK
from .decoding import check_fingerprint, decode, decode_stream
from .encoding import DEFAULT_BATCH, EncodeStats, encode, encode_stream
from .format import FORMAT_VERSION, MAGIC, READABLE_VERSIONS, read_header
from .header import DEFAULT_MAX_MODEL_MEMORY, DEFAULT_MAX_OUTPUT, Limits, StreamHeader, WholeHeader

__all__ = [
    "DEFAULT_BATCH",
    "DEFAULT_MAX_MODEL_MEMORY",
    "DEFAULT_MAX_OUTPUT",
    "ENCODE_BLOCK",
    "FORMAT_VERSION",
    "MAGIC",
    "READABLE_VERSIONS",
    "EncodeStats",
    "Limits",
    "StreamHeader",
    "WholeHeader",
    "check_fingerprint",
    "decode",
    "decode_stream",
    "encode",
    "encode_stream",
    "read_header",
]
