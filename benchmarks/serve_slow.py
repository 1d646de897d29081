"""Slow uploads against the verify service: the probe's pattern of issue #24.

Starts ``veriframe serve`` (default settings) on 127.0.0.1; 20 connections announce a 1 MB
upload and send one byte every 2 s, from one address (127.0.0.3) or from twenty
(127.0.0.10-29: loopback has them all); a second later a normal client at 127.0.0.2 posts an
ordinary clip, retrying after ``Retry-After`` on 429/503. Everything is bounded to 60 s.
Prints, per pattern, how the slow uploads were answered and when the normal one was served.

    python benchmarks/serve_slow.py
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO)]


async def trickle(url: str, *, source: str, interval_s: float, until: float) -> bytes:
    """One slow upload: headers announcing 1 MB, then a byte every ``interval_s`` from
    ``source``. Returns the first bytes of the answer (b"" if none came by ``until``)."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port), local_addr=(source, 0))
    writer.write((f"POST /v1/verify HTTP/1.1\r\nHost: {host}:{port}\r\n"
                  "Content-Length: 1000000\r\n"
                  "Content-Type: multipart/form-data; boundary=vfb0undary\r\n\r\n"
                  '--vfb0undary\r\nContent-Disposition: form-data; name="file"; '
                  'filename="slow.mp4"\r\n\r\n').encode())
    try:
        while time.monotonic() < until:
            await writer.drain()
            try:
                return await asyncio.wait_for(reader.read(4096), timeout=interval_s)
            except asyncio.TimeoutError:
                writer.write(b"\x00")
        return b""
    except (ConnectionError, OSError):
        return b"(connection closed)"
    finally:
        writer.close()


def status_of(answer: bytes) -> int | None:
    """The HTTP status of a raw answer (None: no answer)."""
    head = answer.split(b"\r\n", 1)[0].split()
    return int(head[1]) if len(head) > 1 and head[1].isdigit() else None


async def normal_upload(url: str, path: Path, *, source: str,
                        until: float) -> tuple[int, int, float]:
    """Post ``path`` from ``source``, retrying after ``Retry-After`` on 429/503 until
    ``until``. Returns (final status, tries, seconds).

    A server that turns an upload away before reading its body closes the connection after
    its answer; while the client is still sending, the reset can reach it before the answer
    does (a read error). That try counts as turned away: the client waits a second and tries
    again, as a browser or an SDK would."""
    transport = httpx.AsyncHTTPTransport(local_address=source)
    body = path.read_bytes()
    tries = 0
    t0 = time.monotonic()
    async with httpx.AsyncClient(transport=transport, timeout=60) as http:
        while True:
            tries += 1
            try:
                response = await http.post(f"{url}/v1/verify",
                                           files={"file": (path.name, body, "video/mp4")})
            except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError):
                if time.monotonic() > until:
                    raise
                await asyncio.sleep(1.0)
                continue
            if response.status_code not in (429, 503) or time.monotonic() > until:
                return response.status_code, tries, time.monotonic() - t0
            await asyncio.sleep(float(response.headers.get("retry-after", "1")))


async def probe_pattern(url: str, clip: Path, *, spread: bool, seconds: float = 60.0
                        ) -> tuple[list[int | None], tuple[int, int, float], float]:
    """The slow uploads' statuses, the normal upload's (status, tries, seconds), and the
    seconds until every slow upload was answered."""
    start = time.monotonic()
    until = start + seconds
    slow = [asyncio.create_task(trickle(
        url, source=f"127.0.0.{10 + i}" if spread else "127.0.0.3", interval_s=2.0,
        until=until)) for i in range(20)]
    await asyncio.sleep(1.0)  # every slow upload has started
    normal = await normal_upload(url, clip, source="127.0.0.2", until=until)
    answers = await asyncio.gather(*slow)
    return [status_of(a) for a in answers], normal, time.monotonic() - start


def main() -> None:
    from benchmarks._loopback import exit_on_sigterm
    from benchmarks.serve_bombs import make_home, ordinary_clip, service

    exit_on_sigterm()

    rows = ["| slow uploads from | their answers | normal upload | tries | served after s "
            "| all slow answered after s |", "|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        home = make_home(Path(tmp))
        clip = ordinary_clip(Path(tmp), width=320, height=240, seconds=1)
        for spread in (False, True):
            with service(home) as svc:
                statuses, (status, tries, took), total = asyncio.run(
                    probe_pattern(svc.url, clip, spread=spread))
            counts = ", ".join(f"{s or 'none'}: {n}" for s, n in sorted(
                Counter(statuses).items(), key=lambda kv: kv[0] or 0))
            rows.append(f"| {'20 addresses' if spread else 'one address'} | {counts} | "
                        f"{status} | {tries} | {took:.1f} | {total:.1f} |")
            print(rows[-1], file=sys.stderr)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
