"""Decompression bombs against the verify service: its resident memory while it answers each.

Starts ``veriframe serve`` (the real command, default settings: ``--concurrency 2``, the
default decode budget) on 127.0.0.1 with a fresh newsroom home, warms it with one ordinary
clip, then posts each bomb of :mod:`benchmarks.bombs` to ``POST /v1/verify``, alone and two
at once, while a sampler reads the service's resident memory every 10 ms (and its kernel
high-water mark, reset before each row). A watchdog kills the service above ``--kill-mb``, so
a regression cannot take the machine with it. Ordinary clips (1080p, and two at once) are
measured the same way, to show what the budget lets through. Prints a Markdown table.

    python benchmarks/serve_bombs.py --bombs /tmp/bombs            # bombs made there once
    python benchmarks/serve_bombs.py --bombs /tmp/bombs --kinds hevc-8k growing
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO)]

from benchmarks import bombs  # noqa: E402
from benchmarks._loopback import exit_on_sigterm  # noqa: E402

PASSPHRASE = "bomb test passphrase"


def rss_kb(pid: int, key: str = "VmRSS") -> int:
    """A ``/proc/<pid>/status`` memory field, in KB (0 when the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name == key:
                return int(value.split()[0])
    except OSError:
        pass
    return 0


def reset_peak(pid: int) -> None:
    """Reset the kernel's peak-RSS mark of ``pid`` (VmHWM), where the kernel allows it."""
    with suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")


class Sampler:
    """Samples a process's RSS every ``interval_s`` in a thread; kills it above ``kill_kb``."""

    def __init__(self, pid: int, *, interval_s: float = 0.01, kill_kb: int = 0) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self.kill_kb = kill_kb
        self.peak_kb = 0
        self.killed = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            now = rss_kb(self.pid)
            self.peak_kb = max(self.peak_kb, now)
            if self.kill_kb and now > self.kill_kb and not self.killed:
                self.killed = True
                os.kill(self.pid, signal.SIGKILL)
            time.sleep(self.interval_s)

    def __enter__(self) -> Sampler:
        reset_peak(self.pid)
        self.peak_kb = rss_kb(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        # The kernel's mark catches a peak between two samples.
        self.peak_kb = max(self.peak_kb, rss_kb(self.pid, "VmHWM"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Service:
    proc: subprocess.Popen[bytes]
    url: str

    @property
    def pid(self) -> int:
        return self.proc.pid


def make_home(root: Path) -> Path:
    from veriframe.credentials import init_keys

    home = root / "home"
    init_keys(org="Bomb Test Desk", passphrase=PASSPHRASE, home=home)
    return home


@contextmanager
def service(home: Path, *, args: tuple[str, ...] = (), start_s: float = 120) -> Iterator[Service]:
    """``veriframe serve`` on 127.0.0.1 with ``home``, until the block ends."""
    import httpx

    port = free_port()
    env = {**os.environ, "VERIFRAME_HOME": str(home),
           "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{REPO}"}
    for name in list(env):
        if name.startswith("VERIFRAME_") and name != "VERIFRAME_HOME":
            env.pop(name)  # the default settings, whatever this shell has
    cmd = [sys.executable, "-m", "veriframe._cli", "serve", "--host", "127.0.0.1",
           "--port", str(port), *args]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_s
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode()[-2000:] if proc.stderr else ""
                raise RuntimeError(f"the service did not start: {err}")
            time.sleep(0.2)
        yield Service(proc, url)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Row:
    name: str
    size_bytes: int
    copies: int
    answers: list[str]
    seconds: float
    peak_mb: float
    baseline_mb: float
    killed: bool


def post(url: str, path: Path, *, timeout: float = 120) -> str:
    """``status code`` of one upload to ``POST /v1/verify``."""
    import httpx

    with path.open("rb") as fh:
        r = httpx.post(f"{url}/v1/verify", files={"file": (path.name, fh, "video/mp4")},
                       timeout=timeout)
    try:
        code = r.json()["error"]["code"] if r.status_code != 200 else r.json()["verdict"]
    except (ValueError, KeyError, TypeError):
        code = "?"
    return f"{r.status_code} {code}"


def measure(svc: Service, name: str, path: Path, *, copies: int, kill_kb: int) -> Row:
    """Post ``copies`` of ``path`` at once; the service's peak RSS while it answers them."""
    baseline = rss_kb(svc.pid) / 1024
    t0 = time.perf_counter()
    with Sampler(svc.pid, kill_kb=kill_kb) as sampler, ThreadPoolExecutor(copies) as pool:
        answers = list(pool.map(lambda _: _safe_post(svc.url, path), range(copies)))
    return Row(name, path.stat().st_size, copies, answers, time.perf_counter() - t0,
               sampler.peak_kb / 1024, baseline, sampler.killed)


def _safe_post(url: str, path: Path) -> str:
    import httpx

    try:
        return post(url, path)
    except httpx.HTTPError as exc:
        return f"no answer ({type(exc).__name__})"


def ordinary_clip(folder: Path, *, width: int, height: int, seconds: float) -> Path:
    from tests.clipgen import make_clip

    path = folder / f"ordinary-{width}x{height}.mp4"
    if not path.exists():
        make_clip(path, seconds=seconds, width=width, height=height, fps=24)
    return path


def largest_admitted(folder: Path) -> Path:
    """The largest sample the default budget admits (320 MiB a check): 32 textured frames of
    2080x1170 MJPEG (an intra codec: the decoder holds no references), so the memory that
    the checks use beyond the decoded pictures shows."""
    import av
    import numpy as np

    path = folder / "largest-admitted-mjpeg.mov"
    if path.exists():
        return path
    width, height = 2080, 1170
    yy, xx = np.mgrid[0:height, 0:width]
    rng = np.random.default_rng(0)
    with av.open(str(path), "w", format="mov") as out:
        stream = out.add_stream("mjpeg", rate=8)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuvj420p"
        for i in range(32):
            img = (128 + 60 * np.sin((xx + 9 * i) / 23.0) * np.cos(yy / 17.0)
                   + rng.normal(0, 12, (height, width)))
            rgb = np.repeat(np.clip(img, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
            frame = av.VideoFrame.from_ndarray(rgb, "rgb24").reformat(format="yuvj420p")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def table(rows: list[Row]) -> str:
    out = ["| upload | file | at once | answers | s | service RSS before MB | peak MB |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        answers = ", ".join(sorted(set(r.answers)))
        if r.killed:
            answers += " (service killed by the watchdog)"
        out.append(f"| {r.name} | {r.size_bytes / 1024:,.0f} KB | {r.copies} | {answers} | "
                   f"{r.seconds:.1f} | {r.baseline_mb:.0f} | {r.peak_mb:.0f} |")
    return "\n".join(out)


def main() -> None:
    exit_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bombs", type=Path, default=Path(tempfile.gettempdir()) / "vf-bombs")
    parser.add_argument("--kinds", nargs="*", default=list(bombs.KINDS))
    parser.add_argument("--kill-mb", type=int, default=4000,
                        help="kill the service above this resident size (a watchdog)")
    parser.add_argument("--no-ordinary", action="store_true")
    parser.add_argument("serve_args", nargs="*", help="more `veriframe serve` options")
    args = parser.parse_args()
    args.bombs.mkdir(parents=True, exist_ok=True)
    files: list[tuple[str, Path]] = []
    for kind in args.kinds:
        made = bombs.make(kind, args.bombs)
        if isinstance(made, Path):
            files.append((kind, made))
        else:
            print(f"skipped {kind}: {made}", file=sys.stderr)
    if not args.no_ordinary:
        files.append(("ordinary 1080p 4 s",
                      ordinary_clip(args.bombs, width=1920, height=1080, seconds=4)))
        files.append(("largest sample admitted: 32 x 2080x1170 MJPEG",
                      largest_admitted(args.bombs)))
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        home = make_home(Path(tmp))
        warm = ordinary_clip(args.bombs, width=320, height=240, seconds=1)
        with service(home, args=tuple(args.serve_args)) as svc:
            print(f"started: {rss_kb(svc.pid) / 1024:.0f} MB", file=sys.stderr)
            post(svc.url, warm)
            for name, path in files:
                for copies in (1, 2):
                    row = measure(svc, name, path, copies=copies, kill_kb=args.kill_mb * 1024)
                    rows.append(row)
                    print(table([row]).splitlines()[-1], file=sys.stderr)
                    if row.killed:
                        raise SystemExit(table(rows))
    print(table(rows))


if __name__ == "__main__":
    main()
