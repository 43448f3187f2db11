"""`mix:A+B+...`: exact weight updates, the coding contract, round trips and the nested spec grammar."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import genzip
from genzip import mixing
from genzip.cli import app
from genzip.corpus import text
from genzip.errors import SpecError
from genzip.registry import canonical_spec, parse_spec

from .conftest import assert_batched_equals_stepping

PARTS = "ppm:order=3,memory=1m+order:k=1,memory=1m"
TEXT = text(1500, offset=20000)


def rows(seed: int) -> np.ndarray:
    r = np.random.default_rng(seed).random((2, 256)) + 0.01
    return r / r.sum(axis=1, keepdims=True)


def test_bayes_update_by_hand() -> None:
    probs = rows(1)
    w = np.array([0.25, 0.75])
    out = np.empty(256)
    mixing._mix_row(probs, w.copy(), True, out)
    np.testing.assert_allclose(out, 0.25 * probs[0] + 0.75 * probs[1], rtol=1e-14)
    mixing._learn_row(probs, out, w, True, 0.1, 7)
    posterior = np.array([0.25 * probs[0, 7], 0.75 * probs[1, 7]])
    np.testing.assert_allclose(w, 0.9 * posterior / posterior.sum() + 0.05, rtol=1e-14)


def test_geometric_update_by_hand() -> None:
    probs = rows(2)
    w = np.array([0.5, 1.2])
    out = np.empty(256)
    mixing._mix_row(probs, w.copy(), False, out)
    expected = probs[0] ** 0.5 * probs[1] ** 1.2
    np.testing.assert_allclose(out, expected / expected.sum(), rtol=1e-12)
    mixing._learn_row(probs, out, w, False, 0.05, 9)
    gradient = np.log(probs[:, 9]) - (out * np.log(probs)).sum(axis=1)
    np.testing.assert_allclose(w, np.array([0.5, 1.2]) + 0.05 * gradient, rtol=1e-12)


def test_hierarchical_weights_by_hand() -> None:
    """Geometric: the shared row plus the previous byte's class row predicts; one gradient moves both."""
    probs = np.stack([rows(3), rows(4)])
    symbols = np.array([5, 200])
    weights = mixing.initial_weights(2, 2, False)
    out = np.empty((2, 256))
    mixing._mix_block(probs, symbols, weights, False, 0.1, 2, ord("a"), out)
    shared, letter = np.full(2, 0.6), np.zeros(2)  # the previous byte "a" is a letter (class 1)
    expected = probs[0, 0] ** 0.6 * probs[0, 1] ** 0.6
    np.testing.assert_allclose(out[0], expected / expected.sum(), rtol=1e-12)
    gradient = np.log(probs[0, :, 5]) - (out[0] * np.log(probs[0])).sum(axis=1)
    shared, letter = shared + 0.1 * gradient, letter + 0.1 * gradient
    w = shared + np.zeros(2)  # byte 5 is a control byte (class 0): its row is still 0
    expected = probs[1, 0] ** w[0] * probs[1, 1] ** w[1]
    np.testing.assert_allclose(out[1], expected / expected.sum(), rtol=1e-12)
    np.testing.assert_allclose(
        weights[0],
        shared + 0.1 * (np.log(probs[1, :, 200]) - (out[1] * np.log(probs[1])).sum(axis=1)),
        rtol=1e-12,
    )
    np.testing.assert_allclose(weights[2], letter, rtol=1e-12)


@pytest.mark.parametrize(
    "options",
    ["", "method=bayes+", "select=byte-class,rate=0.05+", "select=none+", "method=bayes,select=none+"],
)
def test_round_trip_and_contract(options: str) -> None:
    spec = f"mix:{options}{PARTS}"
    assert genzip.decompress(genzip.compress(TEXT, spec)) == TEXT
    with genzip.predictor(spec) as p:
        out = assert_batched_equals_stepping(
            p, np.frombuffer(TEXT[:300], np.uint8).astype(np.int64), TEXT[500:700]
        )
    assert np.all(out > 0)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-12)


def test_mixture_beats_its_parts() -> None:
    data = np.frombuffer(text(6000, offset=30000), np.uint8)
    cost = {}
    for spec in ("ppm:order=3,memory=1m", "order:k=1,memory=1m", f"mix:{PARTS}"):
        with genzip.predictor(spec) as p:
            cost[spec] = p.score(data).sum()
    assert cost[f"mix:{PARTS}"] < min(cost["ppm:order=3,memory=1m"], cost["order:k=1,memory=1m"])


def test_fork_is_independent() -> None:
    with genzip.predictor(f"mix:{PARTS}") as p:
        p.reset(TEXT[:200])
        before = p.distribution()
        twin = p.fork()
        twin.observe(ord("q"))
        assert np.array_equal(p.distribution(), before)
        p.observe(ord("q"))
        assert np.array_equal(p.distribution(), twin.distribution())


def test_cli_round_trip_and_listing(tmp_path: Path) -> None:
    source, packed, unpacked = tmp_path / "in.txt", tmp_path / "in.gz", tmp_path / "out.txt"
    source.write_bytes(TEXT[:400])
    runner = CliRunner()
    assert (
        runner.invoke(app, ["compress", str(source), "-o", str(packed), "-c", f"mix:{PARTS}"]).exit_code == 0
    )
    assert runner.invoke(app, ["decompress", str(packed), "-o", str(unpacked)]).exit_code == 0
    assert unpacked.read_bytes() == source.read_bytes()
    listing = runner.invoke(app, ["list"])
    assert "mix" in listing.output and "A+B" in listing.output


COMPONENTS = st.sampled_from(["ppm", "ctw", "cm", "order", "gzip", "zstd"])
OPTIONS = st.fixed_dictionaries(
    {},
    optional={
        "method": st.sampled_from(["geometric", "bayes"]),
        "rate": st.floats(0, 1).map(lambda r: round(r, 3)),
        "select": st.sampled_from(["none", "byte-class", "hierarchical"]),
    },
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(COMPONENTS, min_size=2, max_size=4), OPTIONS, st.lists(st.integers(1, 5), min_size=4, max_size=4)
)
def test_nested_spec_canonical_round_trip(
    names: list[str], options: dict[str, object], levels: list[int]
) -> None:
    parts = []
    for name, level in zip(names, levels[: len(names)], strict=True):
        own = {
            "ppm": f"order={level}",
            "ctw": f"depth={level}",
            "order": f"k={level}",
            "gzip": f"level={level}",
            "zstd": f"level={level}",
            "cm": "memory=16m",
        }[name]
        parts.append(f"{name}:{own}" if level % 2 else name)
    head = ",".join(f"{k}={v}" for k, v in options.items())
    spec = "mix:" + (head + "+" if head else "") + "+".join(parts)
    entry, values = parse_spec(spec)
    canonical = canonical_spec(entry, values)
    assert canonical_spec(*parse_spec(canonical)) == canonical
    assert len(values["components"]) == len(names)
    for name, component in zip(names, values["components"], strict=True):
        assert component == canonical_spec(*parse_spec(component)) and component.startswith(name + ":")
    for key, value in options.items():
        assert values[key] == value


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("mix:ppm", "A\\+B"),
        ("mix:", "A\\+B"),
        ("mix:ppm++ctw", "A\\+B"),
        ("mix:mix:ppm+ctw+order", "nested"),
        ("mix:method=nope+ppm+ctw", "method"),
        ("mix:ppm:order=99+ctw", "order"),
        ("mix:ppm+nothing", "unknown predictor"),
    ],
)
def test_bad_nested_specs(spec: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_spec(spec)


@pytest.mark.parametrize(
    ("options", "method", "select", "rate"),
    [
        ("", "geometric", "hierarchical", 0.002),
        ("method=bayes,select=byte-class,rate=0.01+", "bayes", "byte-class", 0.01),
    ],
)
def test_mix_rows_is_what_the_predictor_codes(options: str, method: str, select: str, rate: float) -> None:
    data = np.frombuffer(TEXT[:400], np.uint8).astype(np.int64)
    parts = PARTS.split("+")
    rows = []
    for spec in parts:
        with genzip.predictor(spec) as p:
            rows.append(p.distributions(data))
    with genzip.predictor(f"mix:{options}{PARTS}") as mixture:
        expected = mixture.distributions(data)
    assert np.array_equal(mixing.mix_rows(np.stack(rows, axis=1), data, method, select, rate), expected)
