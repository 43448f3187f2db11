"""Exact bit lengths from compressed streams: what whole-byte sizes hide.

* bzip2: the stream ends with a 48-bit end-of-stream magic, the 32-bit stream CRC
  and 0..7 zero bits of padding; the padding is not counted.
* zstd: every Huffman literal stream and every sequence stream ends with a 1-bit
  marker followed by zero padding to a byte; those bits are subtracted.
"""

from __future__ import annotations

#: bzip2's end-of-stream magic (48 bits), followed by the 32-bit stream CRC and zero padding
_BZ2_EOS = 0x177245385090


def bz2_bits(stream: bytes) -> int:
    """Exact bit length of a bzip2 stream: its byte length minus the zero padding after the final CRC.

    The padding (0..7 bits) is found by locating the end-of-stream magic in the
    last 11 bytes; a stream without it counts in whole bytes.
    """
    tail = int.from_bytes(stream[-11:], "big")
    for pad in range(8):
        if (tail >> (pad + 32)) & ((1 << 48) - 1) == _BZ2_EOS and tail & ((1 << pad) - 1) == 0:
            return 8 * len(stream) - pad
    return 8 * len(stream)


def _bitstream_padding(last: int) -> int:
    """Bits of a zstd bitstream's last byte that carry no data: the end marker and the zeros above it."""
    return 9 - last.bit_length() if last else 0


def zstd_bits(frame: bytes) -> int:
    """Bit length of a zstd frame without the padding of its entropy-coded bitstreams.

    Every Huffman literal stream and every sequence stream ends with a 1-bit
    marker followed by zero padding to a byte; those bits are subtracted. FSE
    table headers keep their byte granularity. Anything unexpected counts in
    whole bytes (the result stays a deterministic function of the frame).
    """
    total = 8 * len(frame)
    try:
        fhd = frame[4]
        single = (fhd >> 5) & 1
        pos = 5 + (0 if single else 1) + (0, 1, 2, 4)[fhd & 3] + ((1 if single else 0), 2, 4, 8)[fhd >> 6]
        padding = 0
        while True:
            header = int.from_bytes(frame[pos : pos + 3], "little")
            last, kind, size = header & 1, (header >> 1) & 3, header >> 3
            body = frame[pos + 3 : pos + 3 + size]
            if kind == 2:
                padding += _zstd_block_padding(body)
            pos += 3 + (1 if kind == 1 else size)
            if last:
                return total - padding
    except IndexError:
        return total


def _zstd_block_padding(body: bytes) -> int:
    """Padding bits of the literal streams and the sequence stream of one compressed block."""
    padding = 0
    lit_type, size_format = body[0] & 3, (body[0] >> 2) & 3
    if lit_type in (0, 1):  # raw or RLE literals: header of 1, 2 or 3 bytes
        head = (1, 2, 1, 3)[size_format]
        regenerated = int.from_bytes(body[:head], "little") >> (4 if head > 1 else 3)
        end = head + (regenerated if lit_type == 0 else 1)
    else:
        head = (3, 3, 4, 5)[size_format]
        bits = (10, 10, 14, 18)[size_format]
        value = int.from_bytes(body[:head], "little")
        compressed = (value >> (4 + bits)) & ((1 << bits) - 1)
        literals = body[head : head + compressed]
        start = 0
        if lit_type == 2:  # Huffman tree description first
            tree = literals[0]
            start = 1 + (tree if tree < 128 else (tree - 127 + 1) // 2)
        if size_format == 0:
            padding += _bitstream_padding(literals[-1])
        else:
            sizes = [int.from_bytes(literals[start + 2 * k : start + 2 * k + 2], "little") for k in range(3)]
            cursor = start + 6
            for s in sizes:
                cursor += s
                padding += _bitstream_padding(literals[cursor - 1])
            padding += _bitstream_padding(literals[-1])
        end = head + compressed
    if body[end] != 0:  # at least one sequence: the block ends with the sequence bitstream
        padding += _bitstream_padding(body[-1])
    return padding
