"""Verify service load: concurrent clients posting small clips over loopback.

1. A temporary newsroom home makes ``--clips`` small clips (``--seconds`` s at ``--size``) and
   signs every other one, so both the signed and the unsigned paths run.
2. In process: each clip through one ``Verifier`` + ``render_json`` in this process, one after
   another, ``--rounds`` times (the work ``POST /v1/verify`` does, detector loaded once):
   per-file latency and files per second.
3. ``veriframe serve`` (the real command: uvicorn, ``--concurrency C``, a queue that holds every
   client) on 127.0.0.1; one client posts as many clips as the in-process run checked (the
   per-request cost of HTTP, multipart and the temporary folder), then ``--clients``
   keep-alive clients post random clips until ``--requests`` answers or ``--max-seconds``:
   throughput and p50/p99 per request, statuses, and whether each answer's verdict is the
   in-process one.
4. Overload: a server with ``--concurrency 1 --queue 2``; ``--burst`` clients post at once;
   then as many announce a 400 MB upload and send only its first bytes. The queue refuses what
   it cannot hold with 503 (``Retry-After``) at once, without reading the announced bodies; the
   server's resident memory is printed before and after, and its peak.

With ``--pin`` (default) the server and the in-process run use CPU 0 and the clients CPU 1, so
the comparison is one core against one core (one BLAS thread each); both share the machine
otherwise.

    python benchmarks/serve_load.py --clients 8 --requests 80
    python benchmarks/serve_load.py --clips 4 --clients 4 --requests 24 --rounds 2   # quick
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _loopback import (  # benchmarks/ is on sys.path when run as a script
    exit_on_sigterm,
    wait_until_healthy,
)

# One BLAS/OpenMP thread here and in the service (it inherits the environment): on a pinned core,
# a library that starts a thread per machine core only makes them wait on each other.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

PASSPHRASE = "serve load benchmark"


def make_clips(work: Path, home: Path, *, n: int, seconds: float, size: tuple[int, int]
               ) -> list[Path]:
    """``n`` small clips; every other one signed in ``home``."""
    from tests.clipgen import make_clip
    from veriframe.credentials import init_keys
    from veriframe.signing import sign_video

    init_keys(org="Load Test Desk", passphrase=PASSPHRASE, home=home)
    clips = []
    for i in range(n):
        src = make_clip(work / f"src-{i}.mp4", seconds=seconds, width=size[0], height=size[1],
                        fps=15, seed=100 + i)
        if i % 2 == 0:
            out = work / f"signed-{i}.mp4"
            sign_video(src, output=out, model="load", home=home, passphrase=PASSPHRASE)
            clips.append(out)
        else:
            clips.append(src)
    return clips


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def in_process(clips: list[Path], home: Path, rounds: int) -> tuple[list[float], dict[str, str]]:
    """Latency of verify + JSON per file in this process; each clip's verdict."""
    from veriframe.report import render_json
    from veriframe.settings import Settings
    from veriframe.verification import Verifier

    verifier = Verifier(Settings(home=home, policy="newsroom"))
    verdicts: dict[str, str] = {}
    times: list[float] = []
    verifier.verify(clips[0])  # warm
    for _ in range(rounds):
        for clip in clips:
            t0 = time.perf_counter()
            report = verifier.verify(clip).report
            render_json(report)
            times.append(time.perf_counter() - t0)
            verdicts[clip.name] = report.verdict.value
    return times, verdicts


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(home: Path, port: int, *, args: list[str], pin: bool) -> subprocess.Popen[bytes]:
    env = {**os.environ, "VERIFRAME_HOME": str(home),
           "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{REPO}"}
    env.pop("VERIFRAME_SERVE_TOKEN", None)
    cmd = [sys.executable, "-m", "veriframe._cli", "serve", "--host", "127.0.0.1",
           "--port", str(port), *args]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if pin and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(proc.pid, {0})
    return wait_until_healthy(proc, port, seconds=120, what="the service")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in KB (Linux)."""
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


async def drive(url: str, bodies: dict[str, bytes], *, clients: int, requests: int,
                max_seconds: float) -> tuple[list[float], dict[int, int], list[tuple[str, str]],
                                              float]:
    """``clients`` keep-alive clients post random clips until ``requests`` answers."""
    import httpx

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    verdicts: list[tuple[str, str]] = []
    budget = [requests]
    stop_at = time.perf_counter() + max_seconds
    names = sorted(bodies)

    async def client() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=300,
                                     limits=httpx.Limits(max_connections=1)) as http:
            while budget[0] > 0 and time.perf_counter() < stop_at:
                budget[0] -= 1
                name = random.choice(names)
                t0 = time.perf_counter()
                r = await http.post("/v1/verify",
                                    files={"file": (name, bodies[name], "video/mp4")})
                latencies.append(time.perf_counter() - t0)
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                if r.status_code == 200:
                    verdicts.append((name, r.json()["verdict"]))

    t0 = time.perf_counter()
    await asyncio.gather(*[client() for _ in range(clients)])
    return latencies, statuses, verdicts, time.perf_counter() - t0


async def overload(url: str, body: bytes, *, burst: int, announce_only: bool
                   ) -> list[tuple[int, float, str | None]]:
    """``burst`` clients at once: full uploads of ``body``, or (``announce_only``) clients that
    announce a 400 MB upload, send its first bytes and wait 5 s for an answer."""
    import httpx

    host, port = url.removeprefix("http://").split(":")

    async def post() -> tuple[int, float, str | None]:
        async with httpx.AsyncClient(timeout=300) as http:
            t0 = time.perf_counter()
            r = await http.post(f"{url}/v1/verify", files={"file": ("clip.mp4", body)})
            return r.status_code, time.perf_counter() - t0, r.headers.get("retry-after")

    async def announce() -> tuple[int, float, str | None]:
        t0 = time.perf_counter()
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write((f"POST /v1/verify HTTP/1.1\r\nHost: {host}\r\nContent-Length: "
                      f"{400 * 1024 * 1024}\r\nContent-Type: multipart/form-data; "
                      "boundary=b\r\n\r\n--b\r\n").encode())
        await writer.drain()
        try:
            head = await asyncio.wait_for(reader.read(4096), timeout=5)
        except asyncio.TimeoutError:
            head = b""  # admitted: its place waits for a body that never comes
        finally:
            writer.close()
        status = int(head.split(b" ")[1]) if head.startswith(b"HTTP/1.1 ") else 0
        retry = next((line.split(b":", 1)[1].strip().decode() for line in head.split(b"\r\n")
                      if line.lower().startswith(b"retry-after:")), None)
        return status, time.perf_counter() - t0, retry

    one = announce if announce_only else post
    return list(await asyncio.gather(*[one() for _ in range(burst)]))


def table_row(name: str, lat: list[float], wall: float, extra: str) -> str:
    ms = [x * 1000 for x in lat]
    return (f"| {name} | {len(ms)} | {len(ms) / wall:.2f} | {pct(ms, 0.5):.0f} | "
            f"{pct(ms, 0.99):.0f} | {extra} |")


def main() -> None:
    exit_on_sigterm()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=2.0, help="clip length")
    ap.add_argument("--size", default="320x240", help="clip WxH")
    ap.add_argument("--rounds", type=int, default=3, help="in-process passes over the clips")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=80)
    ap.add_argument("--max-seconds", type=float, default=300.0)
    ap.add_argument("--concurrency", type=int, default=2, help="checks at once in the service")
    ap.add_argument("--workers", type=int, default=1, help="service processes")
    ap.add_argument("--burst", type=int, default=16)
    ap.add_argument("--no-pin", dest="pin", action="store_false")
    args = ap.parse_args()
    width, height = (int(v) for v in args.size.split("x"))

    with tempfile.TemporaryDirectory(prefix="veriframe-serve-load-") as tmp:
        work = Path(tmp)
        home = work / "home"
        print(f"making {args.clips} clips ({args.seconds:g} s, {args.size})…", file=sys.stderr)
        clips = make_clips(work, home, n=args.clips, seconds=args.seconds, size=(width, height))
        bodies = {c.name: c.read_bytes() for c in clips}
        mean_kb = sum(map(len, bodies.values())) / len(bodies) / 1024
        pinned = args.pin and hasattr(os, "sched_setaffinity")
        if pinned:
            os.sched_setaffinity(0, {0})
        base, verdicts = in_process(clips, home, args.rounds)
        if pinned:
            os.sched_setaffinity(0, {1})

        port = free_port()
        server = start_server(home, port, pin=pinned, args=[
            "--concurrency", str(args.concurrency), "--queue", str(args.clients + 4),
            "--workers", str(args.workers)])
        url = f"http://127.0.0.1:{port}"
        try:
            asyncio.run(drive(url, bodies, clients=2, requests=4, max_seconds=120))  # warm
            one = asyncio.run(drive(url, bodies, clients=1, requests=len(base),
                                    max_seconds=args.max_seconds))
            lat, statuses, got, wall = asyncio.run(drive(
                url, bodies, clients=args.clients, requests=args.requests,
                max_seconds=args.max_seconds))
        finally:
            stop(server)
        got = got + one[2]
        same = sum(verdicts[name] == verdict for name, verdict in got)

        print(f"\n{len(clips)} clips of {args.seconds:g} s at {args.size} (mean "
              f"{mean_kb:.0f} KB, {sum(v == 'signed' for v in verdicts.values())} signed), "
              f"policy newsroom, detector on, 32 sampled frames; pinned {pinned}; service "
              f"--concurrency {args.concurrency} --workers {args.workers}\n")
        print("| run | requests | files/s | p50 ms | p99 ms | notes |")
        print("|---|---|---|---|---|---|")
        print(table_row("verify in one process, one at a time", base, sum(base),
                        f"{args.rounds} rounds"))
        print(table_row("POST /v1/verify, 1 client", one[0], one[3],
                        "statuses " + ", ".join(f"{k}: {v}" for k, v in sorted(one[1].items()))))
        print(table_row(f"POST /v1/verify, {args.clients} clients", lat, wall,
                        "statuses " + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items()))
                        + f"; verdicts as in process: {same}/{len(got)} answers"))

        port = free_port()
        server = start_server(home, port, pin=pinned,
                              args=["--concurrency", "1", "--queue", "2"])
        url = f"http://127.0.0.1:{port}"
        body = bodies[clips[0].name]
        try:
            before = memory_kb(server.pid)
            phases = {
                f"{args.burst} uploads of {len(body) / 1024:.0f} KB at once":
                    asyncio.run(overload(url, body, burst=args.burst, announce_only=False)),
                f"{args.burst} clients announcing 400 MB, sending 5 bytes":
                    asyncio.run(overload(url, body, burst=args.burst, announce_only=True)),
            }
            after = memory_kb(server.pid)
        finally:
            stop(server)

    print("\nOverload: a service with --concurrency 1 --queue 2 (3 places).\n")
    print("| burst | answers | 503 with Retry-After | 503 p50 / max ms | 200 p50 / max ms |")
    print("|---|---|---|---|---|")
    for name, rows in phases.items():
        counts: dict[int, int] = {}
        for status, _, _ in rows:
            counts[status] = counts.get(status, 0) + 1
        answers = ", ".join(f"{'held, body awaited' if k == 0 else k}: {v}"
                            for k, v in sorted(counts.items()))
        refused = [t * 1000 for s, t, _ in rows if s == 503]
        served = [t * 1000 for s, t, _ in rows if s == 200]
        with_retry = sum(1 for s, _, r in rows if s == 503 and r)

        def span(ms: list[float]) -> str:
            return f"{pct(ms, 0.5):.0f} / {max(ms):.0f}" if ms else "-"

        print(f"| {name} | {answers} | {with_retry}/{len(refused)} | {span(refused)} | "
              f"{span(served)} |")
    print(f"\nservice memory: RSS {before.get('VmRSS', 0) / 1024:.0f} MB before the bursts, "
          f"{after.get('VmRSS', 0) / 1024:.0f} MB after, peak {after.get('VmHWM', 0) / 1024:.0f}"
          " MB: the announced 400 MB bodies were never read")

if __name__ == "__main__":
    main()
