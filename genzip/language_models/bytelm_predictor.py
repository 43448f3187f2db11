"""`bytelm`: the byte transformer (`bytelm.ByteTransformer`) as a byte-level predictor.

Coding needs bit-identical floats in encoder and decoder, so `distributions()`
is the same KV-cached single-step path as `distribution()`/`observe()` (the
base class loop over `engines.TokenStreams`, ring window); `score()` uses a
batched teacher-forced forward pass instead (fast, equal to stepping up to
float rounding, never used for coding).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..chunks import DEFAULT_CHUNK_BYTES
from ..errors import InputError, SpecError
from ..predictor import RuntimeOptions, SequencePredictor, normalise
from .bytelm import BOS, SIZES, ByteEngine, ByteTransformer, parameter_count
from .bytelm_checkpoints import load_model, parameters_blake2b, read_checkpoint, shipped_checkpoint
from .devices import resolve_device, resolve_dtype, torch_threads
from .engines import TokenStreams


def byte_probabilities(logits: torch.Tensor) -> np.ndarray:
    """Softmax in float64, floored and renormalised: (..., 256) float64."""
    return normalise(torch.softmax(logits.double(), dim=-1).cpu().numpy())


def make_deterministic(device: torch.device) -> None:
    """On CUDA, ask torch for deterministic kernels (cuBLAS needs its workspace setting first).

    CPU stepping is deterministic already: the same ops in the same order on one thread.
    """
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)


def build_model(size: str | None, checkpoint: str | None, init: str) -> ByteTransformer:
    """The model a spec asks for: seeded random weights, a given checkpoint, or the shipped one."""
    if init == "random":
        if checkpoint is not None:
            raise SpecError("bytelm: init=random and checkpoint= exclude each other")
        with torch.random.fork_rng(devices=[]):  # seeded weights, the caller's RNG untouched
            torch.manual_seed(0)
            return ByteTransformer(SIZES[size or "200k"])
    wanted = size or "200k"
    path = Path(checkpoint) if checkpoint else shipped_checkpoint(wanted)
    if checkpoint is None and not path.is_file():
        raise SpecError(
            f"bytelm: no checkpoint is shipped for size={wanted}; train one with "
            f"'genzip train --size {wanted} --out CKPT' and pass checkpoint=CKPT, or use init=random"
        )
    state = read_checkpoint(path)
    if size is not None and state["size"] != size:
        raise SpecError(f"bytelm: {path} holds a size={state['size']} model, not size={size}")
    return load_model(state)


class BytelmPredictor(SequencePredictor):
    """`bytelm[:size=200k|800k|3.2m,checkpoint=PATH,init=trained|random,context=N]`.

    Loads `checkpoint`, else the checkpoint shipped for `size` (200k when no
    size is given); a size without a shipped checkpoint is a SpecError unless
    `init=random` asks for random weights (seeded, for experiments).
    `context` is the sliding window (at most the model's 2048).
    """

    def __init__(
        self,
        options: RuntimeOptions,
        size: str | None = None,
        checkpoint: str | None = None,
        init: str = "trained",
        context: int = DEFAULT_CHUNK_BYTES,
    ):
        self.options = options
        model = build_model(size, checkpoint, init)
        if context > model.config.context:
            raise SpecError(f"bytelm: context={context} exceeds the model's {model.config.context}")
        self.weights = parameters_blake2b(model)
        self.n_parameters = parameter_count(model)
        self.device = resolve_device(options.device)
        self.dtype = resolve_dtype(options.dtype)
        make_deterministic(self.device)
        model.set_context(context)  # the window is a property of the stepping path
        self.config = model.config
        self.model = model.to(self.device, self.dtype).eval()
        self.engine = ByteEngine(self.model, self.device)
        self.history: list[int] = []
        self.streams: TokenStreams | None = None
        self.reset(b"")

    # stepping -----------------------------------------------------------------

    def _open(self, count: int, prefix: list[int]) -> TokenStreams:
        return TokenStreams(self.engine, count, prefix, None, byte_probabilities)

    def _live(self) -> TokenStreams:
        """The stepping stream, rebuilt from the last window of history if `score()` skipped it."""
        if self.streams is None:
            self.streams = self._open(1, self.history[-self.config.context :])
        return self.streams

    def _remember(self, ids: list[int]) -> None:
        self.history.extend(ids)
        if len(self.history) > 2 * self.config.context:  # only the window is ever re-read
            del self.history[: -self.config.context]

    def reset(self, context: bytes = b"") -> None:
        self.history = []
        self._remember([BOS, *bytes(context)])
        self.streams = self._open(1, list(self.history))

    def distribution(self) -> np.ndarray:
        return self._live().distributions()[0]

    def observe(self, symbol: int) -> None:
        if not 0 <= int(symbol) < 256:
            raise InputError(f"bytelm: symbol {symbol} is not a byte")
        self._live().observe(np.array([int(symbol)]))
        self._remember([int(symbol)])

    def fork(self) -> BytelmPredictor:
        twin = object.__new__(BytelmPredictor)
        twin.__dict__.update(self.__dict__)
        twin.streams = None if self.streams is None else self.streams.clone()
        twin.history = list(self.history)
        return twin

    def open_streams(self, count: int) -> TokenStreams:
        if count < 1:
            raise InputError(f"bytelm: need at least one stream, got {count}")
        return self._open(count, [BOS])

    # scoring -------------------------------------------------------------------

    def score(self, symbols: np.ndarray) -> np.ndarray:
        """Per-byte bits from teacher-forced forward passes over sliding windows (not bit-exact).

        Runs on `--jobs` torch threads (default 1: on a shared 2-core machine two
        threads were 6-8x slower than one).

        Each window holds at most `context` ids: the first starts at the current
        history (BOS + observed bytes), every later one re-reads the previous
        `context // 2` ids as history and scores the ones after them. Afterwards
        the predictor is conditioned on what it scored: exactly the stepping
        state when everything fits in the window, else the last `context` ids
        replayed (lazily, only if the predictor is used again).
        """
        with torch_threads(self.options.jobs or 1), torch.inference_mode():
            bits = self._score(np.asarray(symbols, dtype=np.int64))
        self.history.extend(np.asarray(symbols, dtype=np.int64).tolist())
        del self.history[: -self.config.context]
        self.streams = None
        return bits

    def _score(self, symbols: np.ndarray) -> np.ndarray:
        C = self.config.context
        history = self.history[-(C - 1) :]
        ids = torch.tensor([*history, *symbols.tolist()], dtype=torch.long, device=self.device)
        bits = np.empty(len(symbols), dtype=np.float64)
        first = len(history)  # ids index of the next symbol to score
        while first < len(ids):
            keep = min(first, C // 2) if first - len(history) > 0 else first
            window = ids[first - keep : min(first - keep + C + 1, len(ids))]
            logits = self.model(window[None, :-1])[0, keep - 1 :]
            targets = window[keep:]
            lp = torch.log_softmax(logits.double(), dim=-1).gather(1, targets[:, None])[:, 0]
            done = first - len(history)
            bits[done : done + len(targets)] = (-lp / math.log(2)).cpu().numpy()
            first += len(targets)
        return bits

    # identity ------------------------------------------------------------------

    def fingerprint(self) -> dict[str, Any]:
        return {
            "weights": self.weights,
            "dtype": str(self.dtype).removeprefix("torch."),
            "device": self.device.type,
            "torch": torch.__version__,
            "context": self.config.context,
        }

    def model_size_bytes(self) -> int:
        return 2 * self.n_parameters

    def close(self) -> None:
        self.streams = None
