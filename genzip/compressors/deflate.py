"""gzip and zlib as code-length predictors, with bit-exact deflate lengths through the system zlib (ctypes).

Python's `zlib` module hides the bits deflate holds back after a block flush,
so whole-byte lengths are all it can give. The C library can say more:
`deflate(strm, Z_BLOCK)` completes the current block without byte alignment,
and `deflatePending(strm, &bytes, &bits)` reports the bytes and bits generated
but not yet handed out. Together with `total_out` that is the exact length of
the stream in bits, up to the end of the last completed block. `deflateCopy`
lets the context be compressed once and each candidate continuation be tried
on a copy of that state.

With the same level/window/memLevel as `zlib.compressobj`, the blocks are the
ones `Z_FINISH` would write (only the BFINAL bit differs), so
``compressed_size(data) == ceil(bits(data) / 8) + trailer`` (4 bytes of adler32
for zlib framing, 8 of crc32+size for gzip framing); the tests check that.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import zlib
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from ..adapter import CodeLengthPredictor
from ..errors import GenzipError
from ..predictor import RuntimeOptions

Z_NO_FLUSH = 0
Z_BLOCK = 5
Z_OK = 0
Z_BUF_ERROR = -5
Z_DEFLATED = 8
Z_DEFAULT_STRATEGY = 0
MEM_LEVEL = 8  # what zlib.compressobj uses by default (DEF_MEM_LEVEL)


class DeflateUnavailable(GenzipError):
    """The system zlib cannot be loaded through ctypes, so bit-exact deflate lengths are unavailable."""


class _ZStream(ctypes.Structure):
    _fields_ = [
        ("next_in", ctypes.c_void_p),
        ("avail_in", ctypes.c_uint),
        ("total_in", ctypes.c_ulong),
        ("next_out", ctypes.c_void_p),
        ("avail_out", ctypes.c_uint),
        ("total_out", ctypes.c_ulong),
        ("msg", ctypes.c_char_p),
        ("state", ctypes.c_void_p),
        ("zalloc", ctypes.c_void_p),
        ("zfree", ctypes.c_void_p),
        ("opaque", ctypes.c_void_p),
        ("data_type", ctypes.c_int),
        ("adler", ctypes.c_ulong),
        ("reserved", ctypes.c_ulong),
    ]


def _candidate_paths() -> list[str]:
    """The libz Python's own zlib module links first (same code), then the system's."""
    paths: list[str] = []
    module_file = getattr(zlib, "__file__", None)
    if module_file:
        try:
            import subprocess

            out = subprocess.run(["ldd", module_file], capture_output=True, text=True, timeout=5).stdout
            for line in out.splitlines():
                if "libz.so" in line and "=>" in line:
                    paths.append(line.split("=>")[1].split("(")[0].strip())
        except (OSError, subprocess.SubprocessError):
            pass
    found = ctypes.util.find_library("z")
    if found:
        paths.append(found)
    paths.append("libz.so.1")
    return paths


@lru_cache(maxsize=1)
def libz() -> ctypes.CDLL:
    """The loaded zlib with the prototypes this module uses; raises DeflateUnavailable."""
    errors = []
    for path in _candidate_paths():
        try:
            lib = ctypes.CDLL(path)
            lib.deflatePending  # noqa: B018 - zlib >= 1.2.5.1 has it
        except (OSError, AttributeError) as exc:
            errors.append(f"{path}: {exc}")
            continue
        ptr = ctypes.POINTER(_ZStream)
        lib.zlibVersion.restype = ctypes.c_char_p
        lib.deflateInit2_.argtypes = [
            ptr,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_int,
        ]
        lib.deflate.argtypes = [ptr, ctypes.c_int]
        lib.deflateCopy.argtypes = [ptr, ptr]
        lib.deflateEnd.argtypes = [ptr]
        lib.deflatePending.argtypes = [ptr, ctypes.POINTER(ctypes.c_uint), ctypes.POINTER(ctypes.c_int)]
        return lib
    raise DeflateUnavailable(
        "bit-exact deflate lengths need the system zlib (libz.so with deflatePending) through ctypes; "
        f"none could be loaded ({'; '.join(errors) or 'no libz found'}); use resolution=bytes"
    )


class ExactDeflate:
    """One deflate stream (a level and window bits as in `zlib.compressobj`) measured in bits."""

    def __init__(self, level: int, wbits: int) -> None:
        self.lib = libz()
        self.level = level
        self.wbits = wbits
        self._out = ctypes.create_string_buffer(1 << 17)
        self._pending = ctypes.c_uint()
        self._bits = ctypes.c_int()

    def _init(self, strm: _ZStream) -> None:
        version = self.lib.zlibVersion()
        rc = self.lib.deflateInit2_(
            ctypes.byref(strm),
            self.level,
            Z_DEFLATED,
            self.wbits,
            MEM_LEVEL,
            Z_DEFAULT_STRATEGY,
            version,
            ctypes.sizeof(_ZStream),
        )
        if rc != Z_OK:
            raise DeflateUnavailable(f"deflateInit2 failed with code {rc}")

    def _feed(self, strm: _ZStream, data: bytes, flush: int) -> None:
        """Run deflate on `data`; output goes to a scratch buffer, only the counts matter."""
        buf = ctypes.create_string_buffer(data, len(data)) if data else None
        strm.next_in = ctypes.addressof(buf) if buf is not None else None
        strm.avail_in = len(data)
        while True:
            strm.next_out = ctypes.addressof(self._out)
            strm.avail_out = len(self._out)
            rc = self.lib.deflate(ctypes.byref(strm), flush)
            if rc not in (Z_OK, Z_BUF_ERROR):
                raise GenzipError(f"zlib deflate failed with code {rc}")
            if strm.avail_in == 0 and strm.avail_out != 0:
                return

    def _bits_after_block(self, strm: _ZStream) -> int:
        self.lib.deflatePending(ctypes.byref(strm), ctypes.byref(self._pending), ctypes.byref(self._bits))
        return 8 * (strm.total_out + self._pending.value) + self._bits.value

    def bits(self, data: bytes) -> int:
        """Exact bits of the stream (header included) after `data` and a Z_BLOCK flush."""
        strm = _ZStream()
        self._init(strm)
        try:
            self._feed(strm, data, Z_BLOCK)
            return self._bits_after_block(strm)
        finally:
            self.lib.deflateEnd(ctypes.byref(strm))

    def continuation_bits(self, context: bytes, continuations: Sequence[bytes]) -> np.ndarray:
        """Exact bits of context + c for every c; the context is compressed once and its state copied."""
        base = _ZStream()
        self._init(base)
        out = np.empty(len(continuations), dtype=np.int64)
        try:
            self._feed(base, context, Z_NO_FLUSH)
            copy = _ZStream()
            for i, c in enumerate(continuations):
                rc = self.lib.deflateCopy(ctypes.byref(copy), ctypes.byref(base))
                if rc != Z_OK:
                    raise GenzipError(f"zlib deflateCopy failed with code {rc}")
                try:
                    self._feed(copy, c, Z_BLOCK)
                    out[i] = self._bits_after_block(copy)
                finally:
                    self.lib.deflateEnd(ctypes.byref(copy))
        finally:
            self.lib.deflateEnd(ctypes.byref(base))
        return out


class _DeflatePredictor(CodeLengthPredictor):
    """Deflate at a zlib level; the context is compressed once and its state copied."""

    WBITS = 15
    BITS_MEANING = "exact bits: deflatePending after a Z_BLOCK flush (system libz via ctypes)"

    def __init__(self, options: RuntimeOptions, level: int, **adapter: Any) -> None:
        super().__init__(options, **adapter)
        self.level = level
        self._exact: Any = None

    def _compressobj(self) -> Any:
        return zlib.compressobj(self.level, zlib.DEFLATED, self.WBITS)

    def compressed_size(self, data: bytes) -> int:
        c = self._compressobj()
        return len(c.compress(data)) + len(c.flush())

    def byte_lengths(self, context: bytes, continuations: Sequence[bytes]) -> np.ndarray:
        base = self._compressobj()
        head = len(base.compress(context))
        out = np.empty(len(continuations), dtype=np.int64)
        for i, tail in enumerate(continuations):
            c = base.copy()
            out[i] = 8 * (head + len(c.compress(tail)) + len(c.flush()))
        return out

    def bit_lengths(self, context: bytes, continuations: Sequence[bytes]) -> np.ndarray:
        if self._exact is None:
            self._exact = ExactDeflate(self.level, self.WBITS)
        return self._exact.continuation_bits(context, continuations)

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_exact"] = None
        return state


class GzipPredictor(_DeflatePredictor):
    """gzip framing (wbits 31, mtime 0): what `gzip.compress(data, level, mtime=0)` writes."""

    WBITS = 31


class ZlibPredictor(_DeflatePredictor):
    """zlib framing: what `zlib.compress(data, level)` writes."""
