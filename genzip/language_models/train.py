"""Train a bytelm (the paper's byte transformer) on byte files: `genzip train`.

The data is the concatenation of the given files; the last `holdout` fraction
(10% by default) is held out for evaluation. Each step draws `batch` random
windows of `seq_len` bytes, each read after the begin-of-sequence id (exactly
how a stream starts when coding), and minimises cross-entropy with AdamW
under a linear warmup + cosine schedule.

Reproducible: the batch of step i depends only on (seed, i), the weights
start from `torch.manual_seed(seed)`, and checkpoints hold the optimizer
state, so on CPU with a fixed thread count the same command gives the same
weights, and a resumed run continues where the saved one stopped.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError
from .bytelm import BOS, SIZES, ByteTransformer, parameter_count
from .bytelm_checkpoints import load_model, read_checkpoint, save_checkpoint
from .devices import resolve_device


@dataclass(frozen=True)
class TrainSettings:
    """Everything one training run needs (the CLI's options)."""

    size: str = "200k"
    data: tuple[Path, ...] = ()
    steps: int = 1000
    device: str = "auto"
    batch: int = 32
    lr: float = 3e-3
    seq_len: int = 512
    eval_every: int = 250
    eval_bytes: int = 32768  # held-out bytes for the periodic eval (the final eval reads all of it)
    warmup: int = 100
    holdout: float = 0.1
    out: Path | None = None
    resume: Path | None = None
    export: Path | None = None  # weights-only copy (no optimizer state) written at the end
    seed: int = 0


@dataclass
class TrainResult:
    step: int
    train_loss: float  # bits per byte of the last batch
    eval_bits_per_byte: float  # on the whole held-out split
    seconds: float
    parameters: int


def load_data(files: tuple[Path, ...], holdout: float) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate the files and split off the last `holdout` fraction: (train, eval) uint8 arrays."""
    if not files:
        raise InputError("train: no --data files given")
    parts = []
    for f in files:
        try:
            parts.append(Path(f).read_bytes())
        except OSError as exc:
            raise InputError(f"train: cannot read {f} ({exc.strerror or exc.__class__.__name__})") from None
    data = np.frombuffer(b"".join(parts), dtype=np.uint8)
    split = round(len(data) * (1 - holdout))
    return data[:split], data[split:]


def batch_at(
    data: np.ndarray, step: int, seed: int, batch: int, seq_len: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs (BOS + bytes) and targets (the bytes), shape (batch, seq_len), for training step `step`."""
    rng = np.random.default_rng([seed, step])
    starts = rng.integers(0, len(data) - seq_len + 1, size=batch)
    targets = np.stack([data[s : s + seq_len] for s in starts]).astype(np.int64)
    inputs = np.concatenate([np.full((batch, 1), BOS), targets[:, :-1]], axis=1)
    return torch.from_numpy(inputs), torch.from_numpy(targets)


@torch.no_grad()
def evaluate(
    model: ByteTransformer, data: np.ndarray, seq_len: int, device: torch.device, batch: int = 16
) -> float:
    """Bits per byte over consecutive non-overlapping windows of `seq_len` bytes, each started by BOS."""
    model.eval()
    total_bits, total = 0.0, 0
    windows = [data[i : i + seq_len] for i in range(0, len(data), seq_len)]
    for start in range(0, len(windows), batch):
        group = windows[start : start + batch]
        for length in sorted({len(w) for w in group}):  # the last window may be short
            same = [w for w in group if len(w) == length]
            targets = torch.from_numpy(np.stack(same).astype(np.int64)).to(device)
            inputs = torch.cat([torch.full((len(same), 1), BOS, device=device), targets[:, :-1]], dim=1)
            logits = model(inputs).float()
            loss = F.cross_entropy(logits.reshape(-1, 256), targets.reshape(-1), reduction="sum")
            total_bits += float(loss) / math.log(2)
            total += targets.numel()
    model.train()
    return total_bits / max(total, 1)


def learning_rate(step: int, settings: TrainSettings) -> float:
    """Linear warmup, then cosine decay to 10% of the peak at `settings.steps`."""
    warmup = min(settings.warmup, max(settings.steps // 10, 1))
    if step < warmup:
        return settings.lr * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, settings.steps - warmup))
    return settings.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def train(
    settings: TrainSettings, log: Callable[[str], None] | None = None, show_progress: bool = True
) -> TrainResult:
    """Run (or resume) training; save to `settings.out` every eval and at the end."""
    log = log or (lambda message: print(message, file=sys.stderr))
    if settings.size not in SIZES:
        raise InputError(f"train: unknown size {settings.size!r} ({', '.join(SIZES)})")
    if settings.steps < 1 or settings.batch < 1 or settings.seq_len < 2:
        raise InputError("train: --steps and --batch must be >= 1 and --seq-len >= 2")
    if settings.seq_len > SIZES[settings.size].context:
        raise InputError(f"train: --seq-len exceeds the model context {SIZES[settings.size].context}")
    train_data, eval_data = load_data(settings.data, settings.holdout)
    if len(train_data) < settings.seq_len or len(eval_data) == 0:
        raise InputError(f"train: need at least {settings.seq_len} training bytes and some held-out bytes")
    device = resolve_device(settings.device)
    torch.manual_seed(settings.seed)
    start_step = 0
    if settings.resume is not None:
        state = read_checkpoint(settings.resume)
        if state["size"] != settings.size:
            raise InputError(
                f"train: {settings.resume} holds a size={state['size']} model, not {settings.size}"
            )
        if "optimizer" not in state:
            raise InputError(
                f"train: {settings.resume} has no optimizer state (a weights-only export); cannot resume"
            )
        model = load_model(state)
        start_step = int(state["step"])
    else:
        model = ByteTransformer(SIZES[settings.size])
    model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, betas=(0.9, 0.99), weight_decay=0.01)
    if settings.resume is not None:
        optimizer.load_state_dict(state["optimizer"])
    parameters = parameter_count(model)
    log(
        f"bytelm {settings.size}: {parameters:,} parameters, {len(train_data):,} training bytes, "
        f"{len(eval_data):,} held out, device {device.type}, steps {start_step}->{settings.steps}"
    )

    def save(step: int, eval_bpb: float | None) -> None:
        if settings.out is not None:
            save_checkpoint(
                settings.out,
                model,
                settings.size,
                step=step,
                optimizer=optimizer.state_dict(),
                eval_bits_per_byte=eval_bpb,
                seq_len=settings.seq_len,
                seed=settings.seed,
            )

    began = time.perf_counter()
    loss_bits = float("nan")
    eval_bpb: float | None = None
    with _progress(settings.steps, start_step, show_progress) as advance:
        for step in range(start_step, settings.steps):
            inputs, targets = batch_at(train_data, step, settings.seed, settings.batch, settings.seq_len)
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(step, settings)
            logits = model(inputs.to(device))
            loss = F.cross_entropy(logits.reshape(-1, 256).float(), targets.to(device).reshape(-1))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            loss_bits = float(loss.detach()) / math.log(2)
            done = step + 1
            if done % settings.eval_every == 0 and done < settings.steps:
                eval_bpb = evaluate(model, eval_data[: settings.eval_bytes], settings.seq_len, device)
                log(
                    f"step {done}: train {loss_bits:.3f} bits/byte, held-out {eval_bpb:.3f} bits/byte "
                    f"(first {min(settings.eval_bytes, len(eval_data)):,} bytes), {time.perf_counter() - began:.0f} s"
                )
                save(done, eval_bpb)
            advance(loss_bits, eval_bpb)
    final = evaluate(model, eval_data, settings.seq_len, device)
    seconds = time.perf_counter() - began
    log(
        f"done: step {settings.steps}, train {loss_bits:.3f} bits/byte, held-out {final:.4f} bits/byte "
        f"(all {len(eval_data):,} bytes), {seconds:.0f} s"
    )
    save(settings.steps, final)
    if settings.export is not None:
        save_checkpoint(
            settings.export,
            model,
            settings.size,
            step=settings.steps,
            eval_bits_per_byte=final,
            seq_len=settings.seq_len,
            seed=settings.seed,
        )
    return TrainResult(settings.steps, loss_bits, final, seconds, parameters)


class _progress:
    """A rich progress bar showing the latest train loss and held-out bits/byte (silent off a terminal)."""

    def __init__(self, total: int, start: int, enabled: bool):
        self.total, self.start, self.enabled = total, start, enabled and sys.stderr.isatty()

    def __enter__(self) -> Callable[[float, float | None], None]:
        if not self.enabled:
            return lambda loss, bpb: None
        from rich.progress import Progress

        from ..progress import bar_columns

        self.bar = Progress(
            *bar_columns("train {task.fields[stats]}"),
            transient=True,
        )
        self.bar.__enter__()
        task = self.bar.add_task("train", total=self.total, completed=self.start, stats="")

        def advance(loss: float, bpb: float | None) -> None:
            held = "" if bpb is None else f", held-out {bpb:.3f}"
            self.bar.update(task, advance=1, stats=f"loss {loss:.3f} b/B{held}")

        return advance

    def __exit__(self, *exc: Any) -> None:
        if self.enabled:
            self.bar.__exit__(*exc)
