"""Two resolver replicas (real ``veriframe resolver serve`` processes) on one PostgreSQL.

Both serve the same records; a replica killed with ``kill -9`` in the middle of a bounded
publish loop loses no acknowledged record while the other keeps answering (the loop fails
over to it); the killed replica restarts and serves what was published meanwhile; a restart
of the database itself is survived by both (they reconnect). Skips, saying why, where
PostgreSQL is not installed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.clipgen import make_clip
from tests.services.conftest import PASSPHRASE, Signed
from tests.services.minting import mint_manifests
from tests.services.test_resolver_trust import resolver_home
from veriframe.softbinding import WATERMARK_ALG, encode_payload

REPO = Path(__file__).resolve().parents[2]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Replica:
    home: Path
    store: str
    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Replica:
        env = {**os.environ, "VERIFRAME_HOME": str(self.home),
               "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{REPO}"}
        env.pop("VERIFRAME_STORE", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "veriframe._cli", "resolver", "serve", "--host",
             "127.0.0.1", "--port", str(self.port), "--rate", "0", "--store", self.store],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise AssertionError(err[-2000:])
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        raise AssertionError("the replica did not start")

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@dataclass(frozen=True)
class Pair:
    a: Replica
    b: Replica
    token: str
    minted: list[bytes]


@pytest.fixture(scope="module")
def pair(signed_set: Signed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    from veriframe.resolver.tokens import add_token

    root = tmp_path_factory.mktemp("replicas")
    home, store = resolver_home(signed_set, root, "postgresql")
    token = add_token(home, name="render-01")
    src = make_clip(root / "tiny.mp4", seconds=1.5, width=160, height=96, fps=12, seed=81)
    minted = mint_manifests(home, PASSPHRASE, src, 60, root / "minted")
    a = Replica(home, store, _port()).start()
    b = Replica(home, store, _port()).start()
    try:
        yield Pair(a, b, token, minted)
    finally:
        a.stop()
        b.stop()


def _publish(url: str, token: str, body: bytes) -> httpx.Response:
    return httpx.post(f"{url}/manifests", content=body, timeout=10, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/c2pa"})


def test_two_replicas_serve_the_same_records(pair: Pair, signed_set: Signed) -> None:
    query = {"alg": WATERMARK_ALG, "value": encode_payload(signed_set.payload_id)}
    answers = [httpx.get(f"{r.url}/matches/byBinding", params=query).json()
               for r in (pair.a, pair.b)]
    assert answers[0] == answers[1] and answers[0]["matches"]
    reply = _publish(pair.a.url, pair.token, pair.minted[0])
    assert reply.status_code == 201
    manifest_id = reply.json()["manifestId"]
    got = httpx.get(f"{pair.b.url}/manifests/{manifest_id}")
    assert got.status_code == 200 and got.content == pair.minted[0]
    # A conflicting publish on one replica is refused by the other one too.
    assert _publish(pair.b.url, pair.token, pair.minted[0]).status_code == 201  # idempotent
    health = httpx.get(f"{pair.b.url}/health").json()
    assert health["store"] == "postgresql"


def test_kill9_during_publishing_loses_no_acknowledged_record(pair: Pair) -> None:
    bodies = pair.minted[1:41]
    acknowledged: dict[int, str] = {}
    served_during: list[int] = []
    stop = threading.Event()

    def watch_b() -> None:  # the other replica keeps answering all along
        while not stop.is_set():
            try:
                served_during.append(httpx.get(f"{pair.b.url}/services/status",
                                               timeout=5).status_code)
            except httpx.HTTPError:
                served_during.append(0)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch_b)
    watcher.start()
    killer = threading.Timer(0.4, pair.a.kill9)
    killer.start()
    target = pair.a.url
    failovers = 0
    try:
        for i, body in enumerate(bodies):
            for _attempt in range(3):
                try:
                    reply = _publish(target, pair.token, body)
                except httpx.HTTPError:
                    target, failovers = pair.b.url, failovers + 1  # fail over, then retry
                    continue
                assert reply.status_code == 201, reply.text
                acknowledged[i] = reply.json()["manifestId"]
                break
            time.sleep(0.02)  # bounded: 40 manifests, paced so the kill lands mid-loop
    finally:
        killer.join()
        stop.set()
        watcher.join()
    assert failovers >= 1 and pair.a.proc is not None and pair.a.proc.returncode == -9
    assert len(acknowledged) == len(bodies)
    for i, manifest_id in acknowledged.items():
        got = httpx.get(f"{pair.b.url}/manifests/{manifest_id}")
        assert got.status_code == 200 and got.content == bodies[i], i
    assert served_during and all(code == 200 for code in served_during)
    # The killed replica restarts and serves what was published while it was down.
    pair.a.start()
    for manifest_id in acknowledged.values():
        assert httpx.get(f"{pair.a.url}/manifests/{manifest_id}").status_code == 200


def test_both_replicas_survive_a_database_restart(pair: Pair) -> None:
    from tests.pg import cluster

    reply = _publish(pair.a.url, pair.token, pair.minted[50])
    assert reply.status_code == 201
    manifest_id = reply.json()["manifestId"]
    pg = cluster()
    pg.stop(mode="immediate")  # as a crash would: recovery replays the WAL
    down = httpx.get(f"{pair.b.url}/services/status", timeout=30).json()
    assert down["status"] == "degraded"
    pg.start()
    for replica in (pair.a, pair.b):
        got = httpx.get(f"{replica.url}/manifests/{manifest_id}", timeout=30)
        assert got.status_code == 200 and got.content == pair.minted[50]
        assert httpx.get(f"{replica.url}/services/status").json()["status"] == "ok"
    assert _publish(pair.b.url, pair.token, pair.minted[51]).status_code == 201
