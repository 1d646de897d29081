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

4. Times publishing (``POST /manifests``): ``--publish`` distinct, validly signed manifest
   stores (minted with the load home's identity), ``--publish-clients`` at once.

Each phase runs once per ``--backends`` entry, side by side in one table: ``sqlite`` (one
``resolver serve`` process on the SQLite file) and ``postgresql`` (a private PostgreSQL
server started here with initdb, filled with the same synthetic rows, and ``--replicas``
``resolver serve`` processes on it; the clients are spread over the replicas as a load
balancer would).

With ``--pin`` (default) the servers (the resolver processes and PostgreSQL) run on CPU 0 and
the load generator on CPU 1, so the two do not fight for one core; both share the machine
otherwise.

    python benchmarks/resolver_load.py --records 1000000 --clients 50 --seconds 20
    python benchmarks/resolver_load.py --records 100000 --seconds 10 --content-runs 3
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
from typing import Any

import numpy as np
from _loopback import (  # benchmarks/ is on sys.path when run as a script
    exit_on_sigterm,
    wait_until_healthy,
)

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
    from veriframe.credentials import init_keys
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


def fill_pg(url: str, records: int, *, batch: int = 20_000) -> list[tuple[str, str]]:
    """The same synthetic rows as :func:`fill`, into a PostgreSQL store (COPY)."""
    import psycopg

    from veriframe.credentials.store import BAND_BITS, BANDS, ManifestStore

    ManifestStore(url).count()  # runs the migrations
    rng = np.random.default_rng(7)
    blob = secrets.token_bytes(512)
    sample: list[tuple[str, str]] = []
    mask = (1 << BAND_BITS) - 1
    t0 = time.perf_counter()
    with psycopg.connect(url) as conn:
        next_id = int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM manifests").fetchone()[0])
        for start in range(0, records, batch):
            n = min(batch, records - start)
            payloads = rng.integers(0, 2**63, size=n, dtype=np.int64)
            fps = rng.integers(0, 256, size=(n, 8 * 144), dtype=np.uint8)
            with conn.cursor() as cur:
                with cur.copy("COPY manifests (id, payload_id, manifest_label, manifest_store, "
                              "fmt, key_id, signer, created_at, fingerprint, owner) "
                              "FROM STDIN") as cp:
                    bands = []
                    for i in range(n):
                        next_id += 1
                        pid = f"{int(payloads[i]) | (1 << 56):016x}"
                        label = f"urn:c2pa:{uuid.UUID(int=int(rng.integers(0, 2**63)) << 64 | i)}"
                        fp_bytes = fps[i].tobytes()
                        cp.write_row((next_id, pid, label, blob, "video/mp4", "0" * 16,
                                      "load test", "2026-01-01", "p2:" + fp_bytes.hex(),
                                      "load test"))
                        keys = set()
                        for f in range(8):
                            coarse = int.from_bytes(fp_bytes[f * 72:f * 72 + 8], "big")
                            for b in range(BANDS):
                                keys.add((b, (coarse >> (b * BAND_BITS)) & mask))
                        bands += [(b, v, next_id) for b, v in keys]
                        if len(sample) < 20_000 and i % 7 == 0:
                            sample.append((pid, label))
                with cur.copy("COPY fingerprint_bands (band, value, record) FROM STDIN") as cp:
                    for row in bands:
                        cp.write_row(row)
            conn.commit()
            done = start + n
            if done % 200_000 == 0 or done == records:
                print(f"  {done:,} rows ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
        conn.execute("SELECT setval('manifests_id_seq', %s)", (next_id,))
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    return sample


def start_server(home: Path, port: int, *, workers: int, pin: bool,
                 store: str | None = None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "VERIFRAME_HOME": str(home),
           "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{REPO}"}
    env.pop("VERIFRAME_STORE", None)
    cmd = [sys.executable, "-m", "veriframe._cli", "resolver", "serve", "--host", "127.0.0.1",
           "--port", str(port), "--workers", str(workers), "--rate", "0"]
    if store is not None:
        cmd += ["--store", store]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if pin and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(proc.pid, {0})
        os.sched_setaffinity(0, {1})
    return wait_until_healthy(proc, port, seconds=60, what="the resolver")


async def drive(urls: list[str], paths: list[str], *, clients: int, seconds: float,
                max_requests: int) -> tuple[list[float], int, float]:
    """``clients`` keep-alive HTTP/1.1 connections GET random ``paths`` for ``seconds``
    (client ``i`` talks to ``urls[i % len(urls)]``: the replicas share the clients).

    A minimal client on raw asyncio streams (status line, headers, Content-Length body): a
    full HTTP library costs the load generator more CPU per request than the server spends.
    """
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds
    budget = [max_requests]

    async def client(url: str) -> None:
        nonlocal errors
        host, port = url.removeprefix("http://").split(":")
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
    await asyncio.gather(*[client(urls[i % len(urls)]) for i in range(clients)])
    return latencies, errors, time.perf_counter() - t0


def report(store: str, name: str, lat: list[float], errors: int, wall: float) -> str:
    ms = sorted(x * 1000 for x in lat)
    p50 = ms[len(ms) // 2]
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    row = (f"| {store} | {name} | {len(ms):,} | {len(ms) / wall:,.0f} | {p50:.1f} | {p99:.1f} "
           f"| {errors} |")
    print(row, flush=True)
    return row


async def publish_all(urls: list[str], token: str, bodies: list[bytes], *,
                      clients: int) -> tuple[list[float], int, float]:
    """POST every body once to ``/manifests`` with ``clients`` at a time."""
    import httpx

    latencies: list[float] = []
    errors = 0
    queue = list(enumerate(bodies))

    async def client(url: str) -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=url, timeout=60, headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/c2pa"}) as http:
            while queue:
                _, body = queue.pop()
                t0 = time.perf_counter()
                reply = await http.post("/manifests", content=body)
                latencies.append(time.perf_counter() - t0)
                errors += reply.status_code != 201

    t0 = time.perf_counter()
    await asyncio.gather(*[client(urls[i % len(urls)]) for i in range(clients)])
    return latencies, errors, time.perf_counter() - t0


def pin_postgres(cluster: Any) -> None:
    """Put the PostgreSQL server (and the backends it forks from now on) on CPU 0."""
    pid_file = Path(cluster.data) / "postmaster.pid"
    pid = int(pid_file.read_text().split()[0])
    for task in Path(f"/proc/{pid}/task").iterdir():
        os.sched_setaffinity(int(task.name), {0})
    for child in Path("/proc").iterdir():  # its helper processes, already forked
        if child.name.isdigit():
            try:
                stat = (child / "stat").read_text().split()
            except OSError:
                continue
            if int(stat[3]) == pid:
                os.sched_setaffinity(int(child.name), {0})


def stop_all(servers: list[subprocess.Popen[bytes]]) -> None:
    for server in servers:
        server.send_signal(signal.SIGINT)
    for server in servers:
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def run_backend(backend: str, urls: list[str], sample: list[tuple[str, str]], *, label: str,
                excerpt: Path, token: str, minted: list[bytes],
                args: argparse.Namespace) -> tuple[list[str], str]:
    """Every phase against ``urls``; the table rows and the byContent line."""
    import httpx

    from veriframe.softbinding import WATERMARK_ALG, encode_payload

    def query(payload: str) -> str:
        return "/matches/byBinding?" + urllib.parse.urlencode(
            {"alg": WATERMARK_ALG, "value": encode_payload(payload)})

    name = f"{backend} ({len(urls)} {'replicas' if len(urls) > 1 else 'process'})"
    known = [query(p) for p, _ in sample]
    unknown = [query(secrets.token_hex(8)) for _ in range(2000)]
    fetch = [f"/manifests/{urllib.parse.quote(lab, safe='')}" for _, lab in sample]
    asyncio.run(drive(urls, known[:200], clients=4, seconds=2, max_requests=2000))  # warm
    rows = []
    for phase, paths in (("byBinding (known ids)", known),
                         ("byBinding (unknown ids)", unknown),
                         ("GET /manifests/{id}", fetch)):
        lat, errors, wall = asyncio.run(drive(urls, paths, clients=args.clients,
                                              seconds=args.seconds,
                                              max_requests=args.max_requests))
        rows.append(report(name, phase, lat, errors, wall))
    lat, errors, wall = asyncio.run(publish_all(urls, token, minted,
                                                clients=args.publish_clients))
    rows.append(report(name, f"POST /manifests ({args.publish_clients} clients)", lat, errors,
                       wall))
    body = excerpt.read_bytes()
    times, found = [], 0
    for _ in range(args.content_runs):
        t0 = time.perf_counter()
        r = httpx.post(f"{urls[0]}/matches/byContent", content=body, timeout=120,
                       headers={"Content-Type": "video/mp4"})
        times.append(time.perf_counter() - t0)
        found += r.status_code == 200 and any(
            m["manifestId"] == label for m in r.json().get("matches", []))
    line = (f"{name}: byContent, 10 s 1280x720 excerpt ({len(body) / 1e6:.1f} MB, CRF 28): "
            f"median {statistics.median(times):.2f} s (min {min(times):.2f}, max "
            f"{max(times):.2f}) over {len(times)} runs; the signed manifest found in "
            f"{found}/{len(times)}")
    print(line, flush=True)
    return rows, line


def main() -> None:
    exit_on_sigterm()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--max-requests", type=int, default=500_000)
    ap.add_argument("--workers", type=int, default=1, help="SQLite: resolver processes")
    ap.add_argument("--replicas", type=int, default=2, help="PostgreSQL: resolver replicas")
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--content-runs", type=int, default=5)
    ap.add_argument("--publish", type=int, default=300, help="manifests published per store")
    ap.add_argument("--publish-clients", type=int, default=8)
    ap.add_argument("--no-pin", dest="pin", action="store_false")
    ap.add_argument("--work", type=Path, default=None, help="keep the store here (reused)")
    args = ap.parse_args()

    from tests.clipgen import make_clip
    from tests.services.minting import mint_manifests
    from veriframe.credentials import ManifestStore
    from veriframe.resolver.tokens import add_token, list_tokens, revoke_token

    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
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
    if any(t.name == "load-bench" for t in list_tokens(home)):
        revoke_token(home, name="load-bench")
    token = add_token(home, name="load-bench")
    tiny = make_clip(work / "tiny.mp4", seconds=1.5, width=160, height=96, fps=12, seed=5)
    minted = mint_manifests(home, PASSPHRASE, tiny, args.publish, work / "minted")
    print(f"\nstore: {args.records:,} records (SQLite {size_gb:.2f} GB on disk, filled in "
          f"{float(fill_s):.0f} s); {args.clients} clients, {args.seconds:g} s per phase, "
          f"SQLite resolver processes {args.workers}, PostgreSQL replicas {args.replicas}, "
          f"pinned {args.pin}; {os.cpu_count()} CPUs\n", flush=True)
    header = ["| store | phase | requests | req/s | p50 ms | p99 ms | errors |",
              "|---|---|---|---|---|---|---|"]
    print("\n".join(header), flush=True)
    rows: list[str] = []
    content: list[str] = []
    for backend in backends:
        servers: list[subprocess.Popen[bytes]] = []
        cluster = None
        try:
            if backend == "sqlite":
                port = free_port()
                servers.append(start_server(home, port, workers=args.workers, pin=args.pin))
                urls = [f"http://127.0.0.1:{port}"]
                backend_sample = sample
            elif backend == "postgresql":
                from tests.pg import Cluster

                cluster = Cluster()
                if args.pin and hasattr(os, "sched_setaffinity"):
                    pin_postgres(cluster)
                url = cluster.new_database()
                t0 = time.perf_counter()
                backend_sample = fill_pg(url, args.records)
                real = ManifestStore(store).get_by_label(label)
                assert real is not None
                pg = ManifestStore(url)
                pg.put(real)
                pg.close()  # type: ignore[attr-defined]
                print(f"  PostgreSQL filled in {time.perf_counter() - t0:.0f} s",
                      file=sys.stderr)
                ports = [free_port() for _ in range(args.replicas)]
                for p in ports:
                    servers.append(start_server(home, p, workers=1, pin=args.pin, store=url))
                urls = [f"http://127.0.0.1:{p}" for p in ports]
            else:
                raise SystemExit(f"unknown backend {backend}")
            got_rows, line = run_backend(backend, urls, backend_sample, label=label,
                                         excerpt=excerpt, token=token, minted=minted,
                                         args=args)
            rows += got_rows
            content.append(line)
        finally:
            stop_all(servers)
            if cluster is not None:
                cluster.close()
    print("\n" + "\n".join(header + rows))
    print("\n" + "\n".join(content))


if __name__ == "__main__":
    main()
