"""Regenerate the golden containers: `python tests/golden/make_golden.py` from the repository root.

One small container per predictor family and coding mode, written by this
genzip, next to its original and a manifest saying how it was made. The test
suite decodes every one, compares it to its original, and re-encodes the
original to the same bytes. Rerun this only when the format version changes
or a case is added, and keep the files already committed (restore them with git
if a default has changed since: they test that old headers still read as they
were written; `v2-gzip-whole` and `v2-ppm-whole` predate recalibration). `v1-order-chunked` was
written by format 1 (genzip/coder.py of main at 7abee2c: 900 bytes of Moby-Dick from
offset 30000, order, chunks of 400) and cannot be regenerated; nor can `v2-lzma-before-exact`,
written by main at df9ed62 (lzma before `exact` and `literals`: 250 bytes of Moby-Dick from offset 25000,
whole), which keeps the old lzma lengths decoding and re-encoding as they were.
"""

from __future__ import annotations

import json
from pathlib import Path

import genzip
import genzip.corpus
from genzip.container import FORMAT_VERSION, encode

HERE = Path(__file__).resolve().parent
#: name, spec, chunk size, batch size, corpus offset, length
CASES = [
    ("gzip-whole", "gzip", None, None, 5000, 300),
    ("order-chunked", "order", 512, None, 9000, 1500),
    ("order-empty", "order", 256, None, 0, 0),
    ("ppm-whole", "ppm", None, None, 12000, 1000),
    ("ctw-chunked", "ctw", 256, None, 15000, 700),
    ("bytelm-batched", "bytelm", 128, 2, 20000, 330),
    ("lzma-whole", "lzma", None, None, 25000, 250),
]


def main() -> None:
    manifest = json.loads((HERE / "manifest.json").read_text()) if (HERE / "manifest.json").exists() else {}
    for name, spec, chunk, batch, offset, length in CASES:
        data = genzip.corpus.text(length, offset=offset) if length else b""
        with genzip.predictor(spec, jobs=1, device="cpu") as predictor:
            blob = encode(data, predictor, chunk_size=chunk, batch_size=batch)
            canonical = predictor.spec
        stem = f"v{FORMAT_VERSION}-{name}"
        (HERE / f"{stem}.gzpk").write_bytes(blob)
        (HERE / f"{stem}.orig").write_bytes(data)
        manifest[stem] = {
            "spec": canonical,
            "chunk_size": chunk,
            "batch_size": batch,
            "version": FORMAT_VERSION,
        }
        print(f"{stem}: {len(data)} -> {len(blob)} bytes ({canonical})")
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
