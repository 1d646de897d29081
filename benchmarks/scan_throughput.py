"""Throughput and peak memory of ``veriframe scan`` against merely decoding the same frames.

    python benchmarks/scan_throughput.py                 # 100 generated clips, 1 and 2 workers
    python benchmarks/scan_throughput.py --clips 200 --source shared --detector none

For each worker count it runs ``veriframe scan`` as a subprocess (a fresh output file, no
resume) and samples the memory of the whole process tree (parent + workers) from /proc every
50 ms; the baseline decodes exactly what verify decodes (``media.sample_frames`` with the same
frame count) in the same number of processes, without any check. It prints one table:
files/s, seconds per file, peak RSS of the tree, and scan time over decode time.

Clips: ``--source gen`` makes distinct short clips with tests/clipgen (320x240, 2 s, 12 fps);
``--source shared`` cycles through ../shared/clips/**.mp4 (links, so each path is a new row).

``--keys`` makes a watermark key in the scan's home, so that the mark search runs on every
clip (as ``benchmarks/speed.py``'s scan does; without a key in ``VERIFRAME_HOME`` it does not).
``--without`` then runs the scan once per configuration, one after another for each worker
count: ``-`` is the whole search, ``long-side,scale-scan`` leaves those hypothesis families out
in the scan's processes (``benchmarks/_search_families.py``, loaded by a ``sitecustomize.py``
on their path; the library always searches every family).

    python benchmarks/scan_throughput.py --keys --workers 2 --without - long-side scale-scan \
        long-side,scale-scan
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "src"))
PASSPHRASE = "scan benchmark passphrase"

from benchmarks import _search_families  # noqa: E402


def make_clips(folder: Path, *, count: int, source: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    if source == "shared":
        pool = sorted((REPO.parent / "shared" / "clips").rglob("*.mp4"))
        if not pool:
            raise SystemExit("no clips under ../shared/clips; use --source gen")
        for i in range(count):
            dst = folder / f"{i:05d}_{pool[i % len(pool)].name}"
            if not dst.exists():
                os.symlink(pool[i % len(pool)], dst)
            paths.append(dst)
        return paths
    from tests.clipgen import make_clip

    for i in range(count):
        dst = folder / f"clip_{i:05d}.mp4"
        if not dst.exists():
            make_clip(dst, seconds=2.0, width=320, height=240, fps=12, seed=i)
        paths.append(dst)
    return paths


def _tree_rss(root: int) -> int:
    """Sum of VmRSS (bytes) of ``root`` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read().rsplit(b")", 1)[1].split()
            children.setdefault(int(stat[1]), []).append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, []))
        try:
            with open(f"/proc/{pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            continue
    return total


def leaving_out(families: tuple[str, ...], folder: Path) -> list[str]:
    """PYTHONPATH entries that make every process of a scan leave ``families`` out."""
    if not families:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(
        "from benchmarks import _search_families\n"
        f"_search_families.leave_out({list(families)!r})\n")
    return [str(folder)]


def run_scan(folder: Path, out: Path, *, workers: int, detector: str, frames: int,
             path_first: list[str] | None = None) -> dict:
    cmd = [sys.executable, "-m", "veriframe._cli", "scan", str(folder), "--out", str(out),
           "--workers", str(workers), "--detector", detector, "--frames", str(frames),
           "--overwrite"]
    entries = [*(path_first or []), str(REPO / "src"), str(REPO)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(entries)}
    peak = 0
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _tree_rss(proc.pid))
            stop.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    elapsed = time.perf_counter() - start
    stop.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"scan failed ({proc.returncode}):\n{err.decode(errors='replace')}")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    errors = sum(1 for r in rows if r["state"] == "error")
    return {"elapsed": elapsed, "rows": len(rows), "errors": errors, "peak": peak}


def _decode(path: str, frames: int) -> int:
    from veriframe.media import sample_frames

    return len(sample_frames(path, count=frames).rgb)


def _decode_star(args: tuple[str, int]) -> int:
    return _decode(*args)


def run_decode(paths: list[Path], *, workers: int, frames: int) -> float:
    """Wall time to decode the same samples in ``workers`` processes (spawned, warmed)."""
    ctx = multiprocessing.get_context("spawn")
    jobs = [(str(p), frames) for p in paths]
    with ctx.Pool(workers) as pool:
        pool.map(_decode_star, jobs[:workers])  # start and import in every worker first
        start = time.perf_counter()
        pool.map(_decode_star, jobs, chunksize=1)
        return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=100)
    ap.add_argument("--source", choices=("gen", "shared"), default="gen")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--detector", default="default", help="detector name, or 'none'")
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--dir", type=Path, default=None, help="keep clips here between runs")
    ap.add_argument("--keys", action="store_true",
                    help="make a watermark key in the scan's home (the mark search runs)")
    ap.add_argument("--without", nargs="+", default=["-"],
                    help="search configurations to compare: '-' (the whole search) or "
                    f"comma-separated families of {', '.join(_search_families.FAMILIES)}")
    args = ap.parse_args()
    if args.clips < 1:
        raise SystemExit("--clips must be at least 1")
    try:
        configs = [_search_families.parse(c) for c in args.without]
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    if any(configs) and not args.keys:
        raise SystemExit("--without needs --keys: without a key the mark search does not run")

    tmp = Path(tempfile.mkdtemp(prefix="vf-scanbench-"))
    folder = args.dir or tmp / "clips"
    t0 = time.perf_counter()
    paths = make_clips(folder, count=args.clips, source=args.source)
    print(f"{len(paths)} clips ({args.source}) ready in {time.perf_counter() - t0:.1f} s; "
          f"{os.cpu_count()} CPUs; detector={args.detector}; frames={args.frames}")
    home = tmp / "home"
    if args.keys:
        from veriframe.credentials import init_keys

        os.environ["VERIFRAME_HOME"] = str(home)
        os.environ["VERIFRAME_KEY_PASSPHRASE"] = PASSPHRASE
        init_keys(org="Scan Benchmark", passphrase=PASSPHRASE, home=home)
        print(f"watermark key made in {home}: the mark search runs on every clip")
    os.environ.setdefault("VERIFRAME_HOME", str(home))

    header = (f"{'workers':>7} | {'search without':>20} | {'scan files/s':>12} | {'s/file':>7} | "
              f"{'peak RSS MiB':>12} | {'errors':>6} | {'decode files/s':>14} | "
              f"{'scan/decode':>11}")
    print(header)
    print("-" * len(header))
    for w in args.workers:
        decode_s = run_decode(paths, workers=w, frames=args.frames)
        for i, families in enumerate(configs):
            scan = run_scan(folder, tmp / f"scan_{w}_{i}.jsonl", workers=w,
                            detector=args.detector, frames=args.frames,
                            path_first=leaving_out(families, tmp / f"without_{i}"))
            rate = scan["rows"] / scan["elapsed"]
            label = ",".join(families) or "- (whole search)"
            print(f"{w:>7} | {label:>20} | {rate:>12.2f} | "
                  f"{scan['elapsed'] / scan['rows']:>7.3f} | {scan['peak'] / 2**20:>12.0f} | "
                  f"{scan['errors']:>6} | {len(paths) / decode_s:>14.2f} | "
                  f"{scan['elapsed'] / decode_s:>11.2f}")
    print("scan times include process start-up and per-file hashing, C2PA reading, watermark "
          "search and detection; decode is sample_frames alone in warmed workers.")


if __name__ == "__main__":
    main()
