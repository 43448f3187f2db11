"""The coder's former home, kept so that `genzip.coder.encode/decode/read_header` keep working.

Everything lives in `genzip.container` (schema, records, range coding, streamed encoding and decoding).
"""

from __future__ import annotations

from .container import DEFAULT_BATCH, ENCODE_BLOCK, FORMAT_VERSION, MAGIC, decode, encode, read_header

__all__ = ["DEFAULT_BATCH", "ENCODE_BLOCK", "FORMAT_VERSION", "MAGIC", "decode", "encode", "read_header"]
