"""Writing files so that a failed run never leaves a partial one.

One way to do it, used everywhere genzip writes a result: write beside the
target under a hidden temporary name, then rename over the target. A rename
within one folder is atomic, so a reader sees the old file or the new one,
never half of either.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: Path | str, *, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it over `path`.

    For writers that want a file name rather than bytes (``np.savez``,
    ``torch.save``, ``fig.savefig``, ``save_pretrained`` with ``directory=True``).
    On any exception the temporary file or folder is removed and `path` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if directory:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent))
    else:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part" + path.suffix, dir=path.parent)
        os.close(fd)
        tmp = Path(name)
    try:
        yield tmp
        tmp.replace(path)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: Path | str, data: bytes) -> None:
    """Write `data` to `path` atomically (see `atomic_path`).

    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "out.bin"
    >>> atomic_write(target, b"whole")
    >>> target.read_bytes(), sorted(p.name for p in target.parent.iterdir())
    (b'whole', ['out.bin'])
    """
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
