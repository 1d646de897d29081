"""Multi-ingredient files made for the tests: a three-level chain, and one ingredient tampered.

``camera.mp4`` (a capture) is the ingredient of ``interview.mp4``, which is the ingredient of
``final.mp4``. ``tampered.mp4`` is ``final.mp4`` with one byte changed inside the copy of
``interview.mp4``'s manifest that travels in it (a letter of its software agent's name): the
file's own manifest is untouched, so c2pa-rs reports the failure only in ``ingredientDeltas``,
the case veriframe 0.1 called valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tests.clipgen import make_clip
from veriframe.credentials.keys import SigningIdentity
from veriframe.credentials.manifest import ManifestSpec, build_manifest
from veriframe.credentials.sign import sign_mp4

CAPTURE = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"
EDIT = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeCapture"
MARKER = b"InterviewCutterQ7"  # occurs once in final.mp4: in interview.mp4's manifest


@dataclass(frozen=True)
class ChainFiles:
    """The files of one chain."""

    camera: Path
    interview: Path
    final: Path
    tampered: Path


def make_chain(folder: Path, identity: SigningIdentity) -> ChainFiles:
    """Sign the three-level chain and its tampered copy into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    raw = [make_clip(folder / f"raw{i}.mp4", seconds=1.0, width=160, height=120, fps=8,
                     seed=i + 1) for i in range(3)]
    camera, interview, final = (folder / "camera.mp4", folder / "interview.mp4",
                                folder / "final.mp4")
    sign_mp4(raw[0], camera, identity=identity, manifest=build_manifest(ManifestSpec(
        title="camera.mp4", digital_source_type=CAPTURE, model="FieldCam")))
    sign_mp4(raw[1], interview, identity=identity, ingredients=[camera],
             manifest=build_manifest(ManifestSpec(
                 title="interview.mp4", digital_source_type=EDIT,
                 model=MARKER.decode("ascii"))))
    sign_mp4(raw[2], final, identity=identity, ingredients=[interview],
             manifest=build_manifest(ManifestSpec(title="final.mp4", digital_source_type=EDIT,
                                                  model="NewsroomEditor")))
    data = bytearray(final.read_bytes())
    assert data.count(MARKER) == 1, "the marker must occur once, in the ingredient's manifest"
    data[data.index(MARKER) + len(MARKER) - 1] ^= 0x01
    tampered = folder / "tampered.mp4"
    tampered.write_bytes(bytes(data))
    return ChainFiles(camera, interview, final, tampered)
