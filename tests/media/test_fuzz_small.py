"""A short mutation run: damaged files give a VeriframeError or frames, never another exception."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from veriframe.errors import VeriframeError
from veriframe.media import probe, rewrite_video, sample_frames


def _mutate(data: bytes, rng: random.Random) -> bytes:
    d = bytearray(data)
    for _ in range(rng.randint(1, 20)):
        op = rng.random()
        i = rng.randrange(len(d))
        if op < 0.6:
            d[i] = rng.randrange(256)
        elif op < 0.8:
            del d[i : i + rng.randint(1, 500)]
        else:
            d[i:i] = rng.randbytes(rng.randint(1, 16))
    return bytes(d)


@pytest.mark.parametrize("name", ["mp4", "webm", "avi", "gif"])
def test_mutated_inputs_never_escape(clips: dict[str, Path], tmp_path: Path, name):
    rng = random.Random(name)
    seed = clips[name].read_bytes()
    out_dir = tmp_path / "out"
    for k in range(15):
        p = tmp_path / f"m{k}{clips[name].suffix}"
        p.write_bytes(_mutate(seed, rng))
        try:
            probe(p)
            s = sample_frames(p, count=4)
            assert 0 < len(s) <= 4
            if k % 5 == 0:
                rewrite_video(p, out_dir / "o.mp4", transform=lambda i, y: y, preset="ultrafast")
        except VeriframeError as e:
            assert e.code.startswith("media.")
            assert not out_dir.exists() or not any(
                x.name.startswith(".") for x in out_dir.iterdir()
            )
