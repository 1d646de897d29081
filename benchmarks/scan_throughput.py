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


def run_scan(folder: Path, out: Path, *, workers: int, detector: str, frames: int) -> dict:
    cmd = [sys.executable, "-m", "veriframe._cli", "scan", str(folder), "--out", str(out),
           "--workers", str(workers), "--detector", detector, "--frames", str(frames),
           "--overwrite"]
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{REPO}"}
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
    args = ap.parse_args()
    if args.clips < 1:
        raise SystemExit("--clips must be at least 1")

    tmp = Path(tempfile.mkdtemp(prefix="vf-scanbench-"))
    folder = args.dir or tmp / "clips"
    t0 = time.perf_counter()
    paths = make_clips(folder, count=args.clips, source=args.source)
    print(f"{len(paths)} clips ({args.source}) ready in {time.perf_counter() - t0:.1f} s; "
          f"{os.cpu_count()} CPUs; detector={args.detector}; frames={args.frames}")
    home = tmp / "home"
    os.environ.setdefault("VERIFRAME_HOME", str(home))

    header = (f"{'workers':>7} | {'scan files/s':>12} | {'s/file':>7} | {'peak RSS MiB':>12} | "
              f"{'errors':>6} | {'decode files/s':>14} | {'scan/decode':>11}")
    print(header)
    print("-" * len(header))
    for w in args.workers:
        scan = run_scan(folder, tmp / f"scan_{w}.jsonl", workers=w, detector=args.detector,
                        frames=args.frames)
        decode_s = run_decode(paths, workers=w, frames=args.frames)
        rate = scan["rows"] / scan["elapsed"]
        print(f"{w:>7} | {rate:>12.2f} | {scan['elapsed'] / scan['rows']:>7.3f} | "
              f"{scan['peak'] / 2**20:>12.0f} | {scan['errors']:>6} | "
              f"{len(paths) / decode_s:>14.2f} | {scan['elapsed'] / decode_s:>11.2f}")
    print("scan times include process start-up and per-file hashing, C2PA reading, watermark "
          "search and detection; decode is sample_frames alone in warmed workers.")


if __name__ == "__main__":
    main()
