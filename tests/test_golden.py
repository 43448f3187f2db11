"""Golden containers: every committed container decodes to its original, and this version re-encodes it bit for bit.

The files are written by `tests/golden/make_golden.py`; `v1-*` ones come from
format 1 and stay readable forever.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import genzip
from genzip.container import FORMAT_VERSION, encode, read_header
from genzip.predictor import RuntimeOptions
from genzip.registry import build

GOLDEN = Path(__file__).parent / "golden"
MANIFEST = json.loads((GOLDEN / "manifest.json").read_text())


def test_every_family_and_mode_has_a_golden_container() -> None:
    current = [m for m in MANIFEST.values() if m["version"] == FORMAT_VERSION]
    families = {m["spec"].partition(":")[0] for m in current}
    assert {"gzip", "order", "ppm", "ctw", "bytelm"} <= families
    assert any(m["chunk_size"] is None for m in current) and any(m["batch_size"] for m in current)
    assert any(m["version"] < FORMAT_VERSION for m in MANIFEST.values())
    assert all((GOLDEN / f"{name}.gzpk").stat().st_size < 4096 for name in MANIFEST)


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_golden_decodes_to_its_original(name: str) -> None:
    blob = (GOLDEN / f"{name}.gzpk").read_bytes()
    header, _ = read_header(blob)
    assert header.spec == MANIFEST[name]["spec"] and blob[4] == MANIFEST[name]["version"]
    assert genzip.decompress(blob, jobs=1, device="cpu") == (GOLDEN / f"{name}.orig").read_bytes()


@pytest.mark.parametrize("name", sorted(n for n, m in MANIFEST.items() if m["version"] == FORMAT_VERSION))
def test_golden_is_what_this_version_writes(name: str) -> None:
    entry = MANIFEST[name]
    with build(entry["spec"], RuntimeOptions(jobs=1, device="cpu"), stored=True) as predictor:
        blob = encode(
            (GOLDEN / f"{name}.orig").read_bytes(),
            predictor,
            entry["chunk_size"],
            batch_size=entry["batch_size"],
        )
    assert blob == (GOLDEN / f"{name}.gzpk").read_bytes()
