"""CPU time per resolver lookup through the ASGI app in this process (no network, no load
generator): what one answer costs the service, which latency under a loaded machine hides.

Uses a store made by ``resolver_load.py --work DIR`` (its home and its sample of ids):

    python benchmarks/resolver_load.py --backends sqlite --records 20000 --work /tmp/rl
    python benchmarks/resolver_asgi_cost.py --work /tmp/rl --records 20000
    python benchmarks/resolver_asgi_cost.py --work /tmp/rl-old --records 20000 --repo /tmp/old
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--records", type=int, required=True)
    ap.add_argument("--repo", type=Path, default=Path(__file__).resolve().parents[1],
                    help="the source tree to measure (another checkout for a before/after)")
    ap.add_argument("--requests", type=int, default=2000)
    args = ap.parse_args()
    sys.path.insert(0, str(args.repo / "src"))
    from veriframe.resolver import ResolverConfig, create_app
    from veriframe.settings import Settings
    from veriframe.softbinding import WATERMARK_ALG, encode_payload

    lines = (args.work / f"filled-{args.records}").read_text().splitlines()
    sample = [line.split() for line in lines if not line.startswith("#")][:args.requests]
    app = create_app(ResolverConfig(settings=Settings(home=args.work / "home"), rate=0))

    async def call(path: str, query: str) -> int:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
                 "query_string": query.encode(), "root_path": "",
                 "headers": [(b"host", b"127.0.0.1")], "client": ("127.0.0.1", 5000),
                 "server": ("127.0.0.1", 80), "state": {}}
        status = 0

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(scope, receive, send)
        return status

    def binding(payload: str, label: str) -> tuple[str, str]:
        return "/matches/byBinding", urllib.parse.urlencode(
            {"alg": WATERMARK_ALG, "value": encode_payload(payload)})

    def manifest(payload: str, label: str) -> tuple[str, str]:
        return "/manifests/" + label, ""

    async def run() -> None:
        async with app.router.lifespan_context(app):
            for name, make in (("GET /matches/byBinding (known ids)", binding),
                               ("GET /manifests/{id}", manifest)):
                for payload, label in sample[:200]:
                    await call(*make(payload, label))
                best = []
                for _ in range(3):
                    t0 = time.process_time()
                    for payload, label in sample:
                        assert await call(*make(payload, label)) == 200
                    best.append((time.process_time() - t0) / len(sample) * 1e6)
                print(f"| {args.repo.name} | {name} | {min(best):.0f} |")

    print("| source | request | CPU us per request (best of 3) |\n|---|---|---|")
    asyncio.run(run())


if __name__ == "__main__":
    main()
