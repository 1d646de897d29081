"""Speed of verify, sign, startup and scan, each side by side with its floor, in one run.

On a 10 s 1280x720 30 fps H.264 + AAC clip (made here), with interleaved repeats (A, B, A, B,
...) so both sides of a row meet the same machine load, medians over ``--repeats``:

- verify, detector on, watermark keys present: ``veriframe verify --json`` against a full
  decode, ``ffmpeg -i clip -f null -``, of the unsigned clip and of its signed copy (whose
  own manifest is intact: its hash of the bytes vouches for the content);
- verify of the signed copy remuxed without its manifest (a stripped copy: verify recovers
  the manifest from the store and compares every frame with the signed fingerprints);
- verify with no keys (an empty home): the same;
- startup: ``veriframe --help`` against ``python -c pass``;
- sign (wall and CPU): ``veriframe sign`` against
  ``ffmpeg -c:v libx264 -preset medium -crf 18 -c:a copy``;

then ``veriframe scan`` files/s on ``--scan-files`` small clips with 1 and 2 workers (keys on).
The floors use the ``ffmpeg`` command when it is installed, else the same work through PyAV
(said in the output). Every command runs as a fresh process, as a user would run it.

    python benchmarks/speed.py                  # the full table (several minutes)
    python benchmarks/speed.py --repeats 3 --scan-files 20
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "src"))
PASSPHRASE = "speed benchmark passphrase"
PY = sys.executable


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "VERIFRAME_HOME": str(home), "VERIFRAME_KEY_PASSPHRASE": PASSPHRASE,
            "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{REPO}", "NO_COLOR": "1"}


def run(cmd: list[str], env: dict[str, str], *, ok: tuple[int, ...] = (0,)) -> tuple[float, float]:
    """Run ``cmd``; return (wall seconds, CPU seconds of the child and its children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in ok:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: "
                         f"{proc.stderr.decode(errors='replace')[-1500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def side_by_side(a: Callable[[], tuple[float, float]], b: Callable[[], tuple[float, float]],
                 repeats: int) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """Interleave ``a`` and ``b`` ``repeats`` times (after one warm-up of each)."""
    a(), b()
    ra, rb = [], []
    for _ in range(repeats):
        ra.append(a())
        rb.append(b())
    return ra, rb


def med(rows: list[tuple[float, float]], i: int = 0) -> float:
    return statistics.median(r[i] for r in rows)


def decode_floor(clip: Path) -> tuple[list[str], str]:
    if shutil.which("ffmpeg"):
        return ["ffmpeg", "-v", "error", "-i", str(clip), "-f", "null", "-"], "ffmpeg -f null"
    code = ("import av,sys\nwith av.open(sys.argv[1]) as c:\n s=c.streams.video[0]\n"
            " s.codec_context.thread_type='AUTO'\n for f in c.decode(s): pass\n")
    return [PY, "-c", code, str(clip)], "PyAV full decode (no ffmpeg installed)"


def encode_floor(clip: Path, out: Path) -> tuple[list[str], str]:
    if shutil.which("ffmpeg"):
        return (["ffmpeg", "-v", "error", "-y", "-i", str(clip), "-c:v", "libx264", "-preset",
                 "medium", "-crf", "18", "-c:a", "copy", str(out)],
                "ffmpeg libx264 medium CRF 18")
    code = ("import sys\nfrom veriframe.media import rewrite_video\n"
            "rewrite_video(sys.argv[1], sys.argv[2], transform=lambda i, y: y, crf=18)\n")
    return [PY, "-c", code, str(clip), str(out)], "PyAV re-encode, medium CRF 18 (no ffmpeg)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--scan-files", type=int, default=100)
    ap.add_argument("--skip-sign", action="store_true")
    args = ap.parse_args()

    from tests.clipgen import make_clip
    from veriframe import media
    from veriframe.credentials import init_keys

    work = Path(tempfile.mkdtemp(prefix="veriframe-speed-"))
    home, empty = work / "home", work / "empty-home"
    init_keys(org="Speed Benchmark", passphrase=PASSPHRASE, home=home)
    clip = make_clip(work / "clip.mp4", seconds=10, width=1280, height=720, fps=30)
    vf = [PY, "-m", "veriframe._cli"]
    rows: list[str] = []

    def row(name: str, ours: list[tuple[float, float]], floor: list[tuple[float, float]],
            floor_name: str, *, cpu: bool = False) -> None:
        line = (f"| {name} | {med(ours):.2f} s | {floor_name}: {med(floor):.2f} s | "
                f"{med(ours) / med(floor):.2f}x |")
        if cpu:
            line += f" CPU {med(ours, 1):.1f} s vs {med(floor, 1):.1f} s = " \
                    f"{med(ours, 1) / med(floor, 1):.2f}x |"
        rows.append(line)
        print(line, flush=True)

    print(f"clip: {clip.stat().st_size / 1e6:.1f} MB, 10 s 1280x720 30 fps H.264 + AAC; "
          f"{args.repeats} interleaved repeats; {os.cpu_count()} CPUs\n")
    print("| step | veriframe (median) | floor (median) | ratio |")
    print("|---|---|---|---|")

    def verify_row(name: str, path: Path, env_home: Path) -> None:
        """``verify --json`` of ``path`` against a full decode of it, side by side."""
        floor_cmd, floor_name = decode_floor(path)
        ours, floor = side_by_side(
            lambda: run([*vf, "verify", str(path), "--json"], _env(env_home), ok=(0, 2, 3)),
            lambda: run(floor_cmd, _env(env_home)), args.repeats)
        row(name, ours, floor, floor_name)

    verify_row("verify --json, unsigned clip (detector on, watermark keys present)", clip, home)
    signed = work / "signed-once.mp4"
    run([*vf, "sign", str(clip), "-o", str(signed)], _env(home))
    verify_row("verify --json, signed clip (its own manifest intact: mark found, not compared)",
               signed, home)
    stripped = work / "stripped.mp4"
    media.remux(signed, stripped)  # the manifest dropped, the pictures untouched
    verify_row("verify --json, the signed clip stripped (manifest recovered, every frame "
               "compared)", stripped, home)
    verify_row("verify --json (no keys)", clip, empty)
    helps, bare = side_by_side(lambda: run([*vf, "--help"], _env(home)),
                               lambda: run([PY, "-c", "pass"], _env(home)), args.repeats)
    row("veriframe --help", helps, bare, "python -c pass")
    if not args.skip_sign:
        out_sign, out_ff = work / "signed.mp4", work / "ffmpeg.mp4"
        enc_cmd, enc_name = encode_floor(clip, out_ff)
        signs, encodes = side_by_side(
            lambda: run([*vf, "sign", str(clip), "-o", str(out_sign), "--force"], _env(home)),
            lambda: run(enc_cmd, _env(home)), max(1, args.repeats // 2 + 1))
        row("sign (wall; CPU after)", signs, encodes, enc_name, cpu=True)

    folder = work / "scan"
    folder.mkdir()
    for i in range(args.scan_files):
        make_clip(folder / f"c{i:03d}.mp4", seconds=2.0, width=320, height=240, fps=12, seed=i)
    print(f"\nscan of {args.scan_files} clips of 2 s 320x240 (keys present, platform policy):")
    for workers in (1, 2):
        out = work / f"scan-{workers}.jsonl"
        walls = []
        for _ in range(max(1, args.repeats // 2)):
            wall, _ = run([*vf, "scan", str(folder), "--out", str(out), "--overwrite",
                           "--workers", str(workers)], _env(home))
            walls.append(wall)
        w = statistics.median(walls)
        print(f"| scan, {workers} worker(s) | {w:.1f} s | {args.scan_files / w:.2f} files/s |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
