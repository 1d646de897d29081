"""Check videos with a running verify service (``veriframe serve``) over HTTP.

    python examples/verify_service_client.py clip.mp4 other.mov --url http://127.0.0.1:8080
    VERIFRAME_SERVE_TOKEN=... python examples/verify_service_client.py clip.mp4 --policy strict

What a pipeline in any language does: one multipart POST per file to ``/v1/verify``, read the
``veriframe.verify/1.2`` JSON, act on ``verdict`` and ``decision.action``; on 503 (busy) or
429 (over this client's rate or share) wait for ``Retry-After`` and try again; any other
error is ``{"error": {"code", "message", "hint"}}``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import httpx


def check(client: httpx.Client, path: Path, *, policy: str | None, tries: int = 5) -> dict:
    """The verify document for ``path``, waiting out a busy service."""
    data = {"policy": policy} if policy else {}
    for _ in range(tries):
        with path.open("rb") as fh:
            response = client.post("/v1/verify", files={"file": (path.name, fh)}, data=data)
        if response.status_code in (429, 503):
            time.sleep(float(response.headers.get("Retry-After", "5")))
            continue
        if response.status_code != 200:
            error = response.json()["error"]
            raise SystemExit(f"{path.name}: error[{error['code']}] {error['message']}")
        return response.json()
    raise SystemExit(f"{path.name}: the service stayed busy")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", type=Path, nargs="+")
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--policy", default=None, help="a policy name (default: the service's)")
    args = ap.parse_args()
    token = os.environ.get("VERIFRAME_SERVE_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(base_url=args.url, headers=headers, timeout=600) as client:
        for path in args.files:
            doc = check(client, path, policy=args.policy)
            decision = doc["decision"]
            signer = (doc["credentials"].get("signer") or {}).get("common_name") or "-"
            print(f"{doc['verdict']:<10} {decision.get('action') or '-':<7} "
                  f"{decision.get('label') or '-':<20} signer {signer!r}  {path.name!r}",
                  file=sys.stdout)


if __name__ == "__main__":
    main()
