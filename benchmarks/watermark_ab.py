"""Two versions of the mark search on the same samples: do they decide the same?

Runs ``watermark_robustness.py`` (same arguments) with every ``veriframe.watermark.detect``
call made twice: by this checkout's search and by the ``search.py`` of another version (a file,
or a commit of this repository read with ``git show``), loaded beside it under another name
(it shares this checkout's keys, pattern, payload decoding and statistics, so it isolates
changes to the search itself). Every sample (marked and clean, every attack) is searched by
both; any difference in state, payload, alignment or bit agreement, or a p-value that differs
by more than ``--p-rel`` relative, is printed. At the end: how many calls, how many
differed, and the CPU time of each search (one process, clips one after another).

    python benchmarks/watermark_ab.py --base-commit HEAD~3 --clips 2 --removals mean_x4
    python benchmarks/watermark_ab.py --base-file /tmp/search.py --clips 4 --geometric -
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))


class _InProcess:
    """A stand-in for the benchmark's process pool: clips one after another, in this process
    (so both searches are timed alike and every call is counted here)."""

    def __init__(self, *_: Any) -> None:
        pass

    def __enter__(self) -> _InProcess:
        return self

    def __exit__(self, *_: Any) -> None:
        pass

    def map(self, fn: Any, items: Any) -> Any:
        return map(fn, items)


def _load(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location("veriframe_base_search", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], add_help=True)
    base = ap.add_mutually_exclusive_group(required=True)
    base.add_argument("--base-file", type=Path, help="the other version's search.py")
    base.add_argument("--base-commit", help="a commit of this repository")
    ap.add_argument("--p-rel", type=float, default=1e-4, help="p-value tolerance (relative)")
    args, rest = ap.parse_known_args()

    import watermark_robustness as bench

    import veriframe.watermark as wm

    with tempfile.TemporaryDirectory(prefix="wm-ab") as tmp:
        path = args.base_file
        if path is None:
            path = Path(tmp) / "search.py"
            path.write_bytes(subprocess.run(
                ["git", "-C", str(REPO), "show",
                 f"{args.base_commit}:src/veriframe/watermark/search.py"],
                check=True, capture_output=True).stdout)
        other = _load(path)
    ours = wm.detect
    stats = {"calls": 0, "differ": 0, "present": 0, "cpu_ours": 0.0, "cpu_base": 0.0}

    def both(sample: Any, *, keys: Any, **kw: Any) -> Any:
        t = time.process_time()
        a = ours(sample, keys=keys, **kw)
        stats["cpu_ours"] += time.process_time() - t
        t = time.process_time()
        b = other.detect(sample, keys=keys, **kw)
        stats["cpu_base"] += time.process_time() - t
        stats["calls"] += 1
        stats["present"] += a.state.value == "present"
        rel = abs(a.p_value - b.p_value) / max(b.p_value, 1e-300)
        if (a.state, a.payload_id, a.alignment, a.bit_accuracy) != (
                b.state, b.payload_id, b.alignment, b.bit_accuracy) or rel > args.p_rel:
            stats["differ"] += 1
            print(f"DIFFERS: base {b.state.value} p={b.p_value:.4g} {b.alignment} | ours "
                  f"{a.state.value} p={a.p_value:.4g} {a.alignment}", flush=True)
        return a

    wm.detect = both  # the benchmark imports it from the package when a clip runs
    bench.ProcessPoolExecutor = _InProcess  # type: ignore[assignment,misc]
    try:
        code = bench.main(rest)
    finally:
        print(f"\nA/B: {stats['calls']} searches, {stats['present']} found a mark, "
              f"{stats['differ']} differed; CPU ours {stats['cpu_ours']:.1f} s, "
              f"base {stats['cpu_base']:.1f} s")
    return 1 if stats["differ"] else code


if __name__ == "__main__":
    raise SystemExit(main())
