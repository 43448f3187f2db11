"""Spec strings: parsing, validation, canonical form, lazy imports."""

from __future__ import annotations

import subprocess
import sys

import pytest

import genzip
from genzip.errors import SpecError
from genzip.registry import ENTRIES, parse_spec


def test_defaults_filled_in_canonical_spec() -> None:
    p = genzip.predictor("zstd:level=3", jobs=1)
    assert p.spec.startswith("zstd:level=3,context=2048")
    assert genzip.predictor(p.spec, jobs=1).spec == p.spec


def test_suffixes_and_case() -> None:
    _, values = parse_spec("PPMD:memory=32m,order=4")
    assert values["memory"] == 32 << 20 and values["order"] == 4


@pytest.mark.parametrize(
    "spec, message",
    [
        ("", "empty"),
        ("nosuch", "unknown predictor"),
        ("zstd:level=99", "above the maximum"),
        ("zstd:level=abc", "not a valid int"),
        ("zstd:speed=3", "unknown parameter"),
        ("gzip:9", "expected key=value"),
        ("gzip:context=-1", "below the minimum"),
    ],
)
def test_bad_specs(spec: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        genzip.predictor(spec)


def test_every_entry_builds_from_its_defaults_or_says_why() -> None:
    for name, entry in ENTRIES.items():
        if any(p.positional and p.default is None for p in entry.params):
            with pytest.raises(SpecError):
                parse_spec(name)
        else:
            _, values = parse_spec(name)
            assert set(values) == {p.name for p in entry.params}


def test_import_does_not_load_torch() -> None:
    code = "import sys, genzip, genzip.cli, genzip.registry; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_a_stored_spec_gets_legacy_values_for_parameters_it_predates() -> None:
    from dataclasses import replace

    from genzip.registry import Entry, Param, canonical_spec, register

    base = ENTRIES["order"]
    newer = Param("smoothing", str, "new", "added later", choices=("old", "new"), legacy="old")
    register(replace(base, name="order-test", params=(*base.params, newer)))
    try:
        written_before = "order-test:k=2,alpha=0.5,memory=1m"
        assert parse_spec(written_before)[1]["smoothing"] == "new"  # a user's spec: today's default
        entry, values = parse_spec(written_before, stored=True)
        assert values["smoothing"] == "old"  # a container's spec: what it meant when written
        assert parse_spec("order-test:k=2,smoothing=new", stored=True)[1]["smoothing"] == "new"
        mixed = parse_spec("mix:order-test:k=2+order:k=1", stored=True)[1]["components"][0]
        assert mixed.endswith("smoothing=old")
        assert canonical_spec(entry, values).endswith(",smoothing=old")
        assert isinstance(entry, Entry)
    finally:
        del ENTRIES["order-test"]
