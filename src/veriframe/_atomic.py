"""Atomic writes: a temporary file beside the target, renamed over it only on success."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_output(dst: str | os.PathLike[str], *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``dst``; rename it onto ``dst`` if the block succeeds.

    On any exception the temporary file is removed and ``dst`` is left as it was, so a
    failed write never leaves a partial output behind. The suffix defaults to ``dst``'s so
    that tools which pick a format from the extension still work on the temporary path.
    """
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{dst.stem}.", suffix=suffix if suffix is not None else dst.suffix, dir=dst.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if not tmp.exists() or tmp.stat().st_size == 0:
            raise OSError(f"nothing was written to {dst}")
        os.replace(tmp, dst)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def write_bytes_atomic(dst: str | os.PathLike[str], data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``dst`` atomically with permission ``mode``."""
    with atomic_output(dst) as tmp:
        tmp.write_bytes(data)
        os.chmod(tmp, mode)


def same_file(src: Path, dst: Path) -> bool:
    """True when writing ``dst`` would replace ``src`` (the same path, or a link to it)."""
    try:
        same = dst.exists() and os.path.samefile(src, dst)
    except OSError:
        same = False
    return same or src.resolve() == dst.resolve()
