"""Many distinct, validly signed manifest stores, fast: the C2PA signature over one small MP4
with a fresh payload id each time (no watermark pass). For publishing loops in the replica
tests and the load benchmark; the resolver accepts them as it would a real signer's."""

from __future__ import annotations

from pathlib import Path


def mint_manifests(home: Path, passphrase: str, src: Path, count: int, work: Path) -> list[bytes]:
    """``count`` manifest stores signed with ``home``'s identity, each naming its watermark
    key and a fresh payload id."""
    from veriframe import watermark
    from veriframe.credentials.keys import load_identity
    from veriframe.credentials.manifest import ManifestSpec, SoftBinding, build_manifest
    from veriframe.credentials.sign import sign_mp4

    identity = load_identity(home=home, passphrase=passphrase)
    key = watermark.WatermarkKey(identity.watermark_key)
    work.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(count):
        payload = watermark.Payload.new()
        soft = SoftBinding(payload_id=payload.hex, key_id=key.key_id, frame_start=0,
                           frame_end=18, duration_s=1.5)
        manifest = build_manifest(ManifestSpec(title=f"minted {i}", model="m",
                                               soft_binding=soft))
        out.append(sign_mp4(src, work / f"minted-{i}.mp4", manifest=manifest,
                            identity=identity))
    return out
