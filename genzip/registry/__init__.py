"""The predictor registry: spec strings in, predictors out.

A spec is ``name`` or ``name:key=value,key=value``; an entry may declare one
positional parameter (``hf:/path/to/model``). A *nested* entry (``mix``) takes
whole specs as components, separated by ``+``, optionally after its own
options: ``mix:ppm:order=6+ctw:depth=8`` or ``mix:method=bayes+ppm+ctw`` (the
first segment is the options when its text before any ``:`` contains ``=``,
which no predictor name does). Every entry names the class that
implements it as ``"module:Class"`` so that listing and parsing specs never
imports heavy libraries (torch is only imported when a model is built).

Adding a predictor = one module with the class + one `Entry` in `entries.py`.
"""

from __future__ import annotations

from typing import Any

from ..errors import SpecError
from ..predictor import RuntimeOptions, SequencePredictor
from .entries import ENTRIES, PAPER_FORMULA, PRESET
from .params import NO_LEGACY, Entry, Kind, Param

__all__ = [
    "ENTRIES",
    "PAPER_FORMULA",
    "PRESET",
    "Entry",
    "Kind",
    "Param",
    "build",
    "canonical_spec",
    "parse_spec",
    "register",
]


def register(entry: Entry) -> None:
    """Add or replace a registry entry (for plugins and tests)."""
    ENTRIES[entry.name] = entry


def parse_spec(spec: str, *, stored: bool = False) -> tuple[Entry, dict[str, Any]]:
    """Split a spec string into its entry and validated parameters (defaults filled in).

    `stored=True` reads a spec an earlier genzip wrote (a container header, which spells every
    parameter it knew): a parameter it does not name takes its `legacy` value, so a model that
    gained an option keeps decoding what it wrote before.

    >>> entry, values = parse_spec("PPMD:order=4,memory=32m")
    >>> entry.name, values["order"], values["memory"] == 32 << 20
    ('ppmd', 4, True)
    """
    spec = spec.strip()
    if not spec:
        raise SpecError("empty predictor spec; try 'genzip list'")
    name, _, rest = spec.partition(":")
    entry = ENTRIES.get(name.strip().lower())
    if entry is None:
        known = ", ".join(sorted(ENTRIES))
        raise SpecError(f"unknown predictor {name!r}; known: {known}")
    values: dict[str, Any] = {}
    if entry.nested:
        rest, values["components"] = _split_components(entry, rest, stored)
    by_name = {p.name: p for p in entry.params}
    positional = next((p for p in entry.params if p.positional), None)
    preset: str | None = None
    if rest:
        for item in rest.split(","):
            if not item:
                continue
            key, eq, raw = item.partition("=")
            if not eq:
                if positional is None or positional.name in values:
                    raise SpecError(f"{entry.name}: expected key=value, got {item!r}")
                key, raw = positional.name, item
            key = key.strip().lower()
            if key == PRESET and entry.presets:
                preset = raw.strip().lower()
                if preset not in entry.presets:
                    raise SpecError(
                        f"{entry.name}: {PRESET}={preset} is not one of {', '.join(entry.presets)}"
                    )
                continue
            param = by_name.get(key)
            if param is None:
                known = ", ".join(by_name) or "none"
                raise SpecError(f"{entry.name}: unknown parameter {key!r} (parameters: {known})")
            values[key] = param.parse(raw.strip(), entry.name)
    for key, value in entry.presets.get(preset or "", {}).items():
        values.setdefault(key, value)
    for param in entry.params:
        if param.name not in values:
            if param.default is None and param.positional:
                raise SpecError(
                    f"{entry.name}: missing {param.name} (spec {entry.name}:{param.name.upper()})"
                )
            stored_value = param.legacy if stored else NO_LEGACY
            values[param.name] = param.default if stored_value is NO_LEGACY else stored_value
    return entry, values


def _split_components(entry: Entry, rest: str, stored: bool) -> tuple[str, tuple[str, ...]]:
    """A nested spec's own options (or "") and its components' canonical specs."""
    segments = [s.strip() for s in rest.split("+")]
    options = segments.pop(0) if segments and "=" in segments[0].partition(":")[0] else ""
    if len(segments) < 2 or not all(segments):
        raise SpecError(
            f"{entry.name}: expected {entry.name}:A+B[+...] (components separated by '+'), got {rest!r}"
        )
    components = []
    for segment in segments:
        inner = ENTRIES.get(segment.partition(":")[0].strip().lower())
        if inner is not None and inner.nested:
            raise SpecError(f"{entry.name}: components cannot be nested specs themselves ({segment!r})")
        components.append(canonical_spec(*parse_spec(segment, stored=stored)))
    return options, tuple(components)


def canonical_spec(entry: Entry, values: dict[str, Any], *, stored: bool = False) -> str:
    """The spec string with every parameter spelled out, in declaration order.

    `stored=True` leaves out each parameter at its `legacy` value (in components too): what a
    container header records, read back by `parse_spec(stored=True)` to the same values.
    """
    parts = []
    for p in entry.params:
        v = values[p.name]
        if v is None or (entry.nested and p.positional) or (stored and v == p.legacy):
            continue
        if isinstance(v, bool):
            v = "true" if v else "false"
        parts.append(f"{p.name}={v}")
    if entry.nested:
        components = [stored_spec(c) if stored else c for c in values["components"]]
        return entry.name + ":" + "+".join([",".join(parts)] * bool(parts) + components)
    return entry.name + (":" + ",".join(parts) if parts else "")


def stored_spec(spec: str) -> str:
    """A predictor's canonical spec as its container header records it (`canonical_spec(stored=True)`).

    A model coded with the behaviour it had before it gained an option is thus recorded exactly as
    it was then, so this genzip rewrites old containers bit for bit and older ones still read it.
    A spec the registry does not know (a predictor built by hand) is recorded as it is.
    """
    if spec.partition(":")[0].strip().lower() not in ENTRIES:
        return spec
    return canonical_spec(*parse_spec(spec), stored=True)


def build(spec: str, options: RuntimeOptions | None = None, *, stored: bool = False) -> SequencePredictor:
    """Build the predictor a spec string describes (`stored`: as `parse_spec` reads a stored spec)."""
    entry, values = parse_spec(spec, stored=stored)
    cls = entry.load_class()
    options = options or RuntimeOptions()
    canonical = canonical_spec(entry, values)
    if entry.nested:
        values = {**values, "components": [build(c, options) for c in values["components"]]}
    predictor = cls(options=options, **values)
    predictor.spec = canonical
    return predictor
