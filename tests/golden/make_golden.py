"""Regenerate the golden containers: `python tests/golden/make_golden.py` from the repository root.

One small container per predictor family and coding mode, written by this
genzip, next to its original and a manifest saying how it was made. The test
suite decodes every one, compares it to its original, and re-encodes the
original to the same bytes. Rerun this only when the format version changes
(and keep the old files: the tests keep reading them). `v1-order-chunked` was
written by format 1 (genzip/coder.py of main at 7abee2c: 900 bytes of Moby-Dick from
offset 30000, order, chunks of 400) and cannot be regenerated.
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
