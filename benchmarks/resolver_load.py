"""Resolver load: a store of many manifests, the real service, many clients over loopback.

1. Fills a manifest store with ``--records`` synthetic rows (random payload ids, manifest ids
   and p2 fingerprints, 512-byte stand-in manifest blobs: the lookups, indexes and the
   fingerprint band index are real, the manifests are not) plus one really signed 10 s 720p
   clip, whose stripped, re-encoded copy is the byContent query.
2. Starts ``veriframe resolver serve`` (the real command, uvicorn) on 127.0.0.1, with the
   per-client rate limit off (every client here has the same address).
3. Drives it with ``--clients`` concurrent keep-alive clients (asyncio + httpx) for
   ``--seconds`` per phase, bounded: byBinding lookups (existing and unknown payload ids) and
   manifest fetches; prints throughput and p50/p99 latency; then times byContent on the
   10 s 720p excerpt (median of ``--content-runs``).

With ``--pin`` (default) the server runs on CPU 0 and the load generator on CPU 1, so the two
do not fight for one core; both share the machine otherwise.

    python benchmarks/resolver_load.py --records 1000000 --clients 50 --seconds 20
    python benchmarks/resolver_load.py --records 20000 --seconds 5     # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from pathlib import Path

import numpy as np
from _loopback import wait_until_healthy  # benchmarks/ is on sys.path when run as a script

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

PASSPHRASE = "resolver load benchmark"


def fill(store_path: Path, records: int, *, batch: int = 20_000) -> list[tuple[str, str]]:
    """Bulk-insert synthetic rows (with their fingerprint bands); return some (payload, label)."""
    from veriframe.credentials.store import BAND_BITS, BANDS, ManifestStore

    ManifestStore(store_path).count()  # creates nothing; the real record below made the schema
    conn = sqlite3.connect(store_path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = OFF")
    rng = np.random.default_rng(7)
    blob = secrets.token_bytes(512)
    sample: list[tuple[str, str]] = []
    mask = (1 << BAND_BITS) - 1
    t0 = time.perf_counter()
    next_id = int(conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM manifests").fetchone()[0])
    for start in range(0, records, batch):
        n = min(batch, records - start)
        payloads = rng.integers(0, 2**63, size=n, dtype=np.int64)
        fps = rng.integers(0, 256, size=(n, 8 * 144), dtype=np.uint8)
        rows, bands = [], []
        for i in range(n):
            next_id += 1
            pid = f"{int(payloads[i]) | (1 << 56):016x}"
            label = f"urn:c2pa:{uuid.UUID(int=int(rng.integers(0, 2**63)) << 64 | i)}"
            fp_bytes = fps[i].tobytes()
            rows.append((next_id, pid, label, blob, "video/mp4", "0" * 16, "load test",
                         "2026-01-01", None, "p2:" + fp_bytes.hex(), None))
            keys = set()
            for f in range(8):
                coarse = int.from_bytes(fp_bytes[f * 72:f * 72 + 8], "big")
                for b in range(BANDS):
                    keys.add((b, (coarse >> (b * BAND_BITS)) & mask))
            bands += [(b, v, next_id) for b, v in keys]
            if len(sample) < 20_000 and i % 7 == 0:
                sample.append((pid, label))
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO manifests (rowid, payload_id, manifest_label, "
                         "manifest_store, fmt, key_id, signer, created_at, content_sha256, "
                         "fingerprint, title) VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
        conn.executemany("INSERT OR IGNORE INTO fingerprint_bands (band, value, record) "
                         "VALUES (?,?,?)", bands)
        conn.execute("COMMIT")
        done = start + n
        if done % 200_000 == 0 or done == records:
            print(f"  {done:,} rows ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return sample


def make_signed_excerpt(work: Path, home: Path) -> tuple[Path, str]:
    """A signed 10 s 720p clip in ``home``'s store; its stripped CRF 28 copy (the query)."""
    from tests.clipgen import make_clip
    from veriframe import media
    from veriframe.credentials.keys import init_keys
    from veriframe.signing import sign_video

    if not (home / "keys").exists():  # a rerun with the same --work keeps its keys
        init_keys(org="Load Test", passphrase=PASSPHRASE, home=home)
    src = make_clip(work / "src.mp4", seconds=10, width=1280, height=720, fps=30)
    signed = work / "signed.mp4"
    result = sign_video(src, output=signed, model="load", home=home, passphrase=PASSPHRASE,
                        overwrite=True)
    excerpt = work / "excerpt.mp4"
    media.transcode(signed, excerpt, codec="libx264", crf=28)
    return excerpt, str(result.manifest_label)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(home: Path, port: int, *, workers: int, pin: bool) -> subprocess.Popen[bytes]:
    env = {**os.environ, "VERIFRAME_HOME": str(home),
           "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{REPO}"}
    cmd = [sys.executable, "-m", "veriframe._cli", "resolver", "serve", "--host", "127.0.0.1",
           "--port", str(port), "--workers", str(workers), "--rate", "0"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if pin and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(proc.pid, {0})
        os.sched_setaffinity(0, {1})
    return wait_until_healthy(proc, port, seconds=60, what="the resolver")


async def drive(url: str, paths: list[str], *, clients: int, seconds: float,
                max_requests: int) -> tuple[list[float], int, float]:
    """``clients`` keep-alive HTTP/1.1 connections GET random ``paths`` for ``seconds``.

    A minimal client on raw asyncio streams (status line, headers, Content-Length body): a
    full HTTP library costs the load generator more CPU per request than the server spends.
    """
    host, port = url.removeprefix("http://").split(":")
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds
    budget = [max_requests]

    async def client() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while time.perf_counter() < stop and budget[0] > 0:
                budget[0] -= 1
                path = random.choice(paths)
                t0 = time.perf_counter()
                writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - t0)
                errors += status not in (200, 404)
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*[client() for _ in range(clients)])
    return latencies, errors, time.perf_counter() - t0


def report(name: str, lat: list[float], errors: int, wall: float) -> None:
    ms = sorted(x * 1000 for x in lat)
    p50 = ms[len(ms) // 2]
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    print(f"| {name} | {len(ms):,} | {len(ms) / wall:,.0f} | {p50:.1f} | {p99:.1f} | {errors} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--max-requests", type=int, default=500_000)
    ap.add_argument("--workers", type=int, default=1, help="resolver processes")
    ap.add_argument("--content-runs", type=int, default=5)
    ap.add_argument("--no-pin", dest="pin", action="store_false")
    ap.add_argument("--work", type=Path, default=None, help="keep the store here (reused)")
    args = ap.parse_args()

    from veriframe.softbinding import WATERMARK_ALG, encode_payload

    work = args.work or Path(tempfile.mkdtemp(prefix="veriframe-resolver-load-"))
    work.mkdir(parents=True, exist_ok=True)
    home = work / "home"
    store = home / "manifests.sqlite"
    marker = work / f"filled-{args.records}"
    if not marker.exists():
        print(f"signing the 10 s 720p clip and filling {args.records:,} records…",
              file=sys.stderr)
        excerpt, label = make_signed_excerpt(work, home)
        t0 = time.perf_counter()
        sample = fill(store, args.records)
        fill_s = time.perf_counter() - t0
        marker.write_text("\n".join(f"{p} {lab}" for p, lab in sample) + f"\n#{label} {fill_s}")
    lines = marker.read_text().splitlines()
    label, fill_s = lines[-1][1:].split()
    sample = [tuple(line.split()) for line in lines[:-1]]
    excerpt = work / "excerpt.mp4"
    size_gb = sum(p.stat().st_size for p in home.glob("manifests.sqlite*")) / 1e9
    port = free_port()
    server = start_server(home, port, workers=args.workers, pin=args.pin)
    url = f"http://127.0.0.1:{port}"
    try:
        def query(payload: str) -> str:
            return "/matches/byBinding?" + urllib.parse.urlencode(
                {"alg": WATERMARK_ALG, "value": encode_payload(payload)})

        known = [query(p) for p, _ in sample]
        unknown = [query(secrets.token_hex(8)) for _ in range(2000)]
        fetch = [f"/manifests/{urllib.parse.quote(lab, safe='')}" for _, lab in sample]
        print(f"\nstore: {args.records:,} records, {size_gb:.2f} GB on disk, filled in "
              f"{float(fill_s):.0f} s; {args.clients} clients, {args.seconds:g} s per phase, "
              f"resolver workers {args.workers}, pinned {args.pin}\n")
        print("| phase | requests | req/s | p50 ms | p99 ms | errors |")
        print("|---|---|---|---|---|---|")
        asyncio.run(drive(url, known[:200], clients=4, seconds=2, max_requests=2000))  # warm
        for name, paths in (("byBinding (known ids)", known),
                            ("byBinding (unknown ids)", unknown),
                            ("GET /manifests/{id}", fetch)):
            lat, errors, wall = asyncio.run(drive(url, paths, clients=args.clients,
                                                  seconds=args.seconds,
                                                  max_requests=args.max_requests))
            report(name, lat, errors, wall)
        import httpx

        body = excerpt.read_bytes()
        times, found = [], 0
        for _ in range(args.content_runs):
            t0 = time.perf_counter()
            r = httpx.post(f"{url}/matches/byContent", content=body, timeout=120,
                           headers={"Content-Type": "video/mp4"})
            times.append(time.perf_counter() - t0)
            found += r.status_code == 200 and any(
                m["manifestId"] == label for m in r.json().get("matches", []))
        print(f"\nbyContent, 10 s 1280x720 excerpt ({len(body) / 1e6:.1f} MB, CRF 28): median "
              f"{statistics.median(times):.2f} s (min {min(times):.2f}, max {max(times):.2f}) "
              f"over {len(times)} runs; the signed manifest found in {found}/{len(times)}")
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    main()
