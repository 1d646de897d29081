"""Scan output: ``veriframe.scan/1`` rows, appended one flushed JSON line at a time."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any


def read_done_paths(out: Path) -> set[str]:
    """Paths already recorded in a JSONL output; a torn last line (a crash) is cut off."""
    import json

    done: set[str] = set()
    if not out.exists():
        return done
    good_end = 0
    with out.open("rb") as fh:
        offset = 0
        for line in fh:
            offset += len(line)
            if not line.endswith(b"\n"):
                break  # torn write: drop it below
            try:
                row = json.loads(line)
            except ValueError:
                good_end = offset  # a damaged line in the middle: keep the bytes, skip it
                continue
            if isinstance(row, dict) and isinstance(row.get("path"), str):
                done.add(row["path"])
            good_end = offset
    if good_end < out.stat().st_size:
        with out.open("r+b") as fh:
            fh.truncate(good_end)
    return done


class JsonlWriter:
    """Append rows to a JSONL file, one flushed line per row, so a crash loses nothing."""

    def __init__(self, path: Path, *, append: bool) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = path.open("a" if append else "w", encoding="utf-8")

    def write(self, row: dict[str, Any]) -> None:
        """Write one row and flush it to the OS."""
        from veriframe.report import dumps_row

        self._fh.write(dumps_row(row) + "\n")
        self._fh.flush()

    def close(self) -> None:
        """Flush to disk and close."""
        with contextlib.suppress(OSError):
            os.fsync(self._fh.fileno())
        self._fh.close()

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


