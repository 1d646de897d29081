"""The public API: exactly what ``__all__`` lists, importable, and light (no torch)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import veriframe

EXPECTED = {
    "CredentialCheck",
    "CredentialState",
    "Decision",
    "DetectionCheck",
    "Detector",
    "ManifestSpec",
    "Moderator",
    "Policy",
    "ProvenancePipeline",
    "Settings",
    "SignResult",
    "SigningIdentity",
    "Verdict",
    "Verification",
    "Verifier",
    "VerifyReport",
    "VeriframeError",
    "WatermarkCheck",
    "WatermarkState",
    "__version__",
    "load_policy",
    "sign_video",
    "verify",
}


def test_all_lists_exactly_the_public_api() -> None:
    assert set(veriframe.__all__) == EXPECTED
    for name in veriframe.__all__:
        assert getattr(veriframe, name) is not None


def test_verify_and_detect_paths_do_not_import_torch() -> None:
    code = (
        "import sys, veriframe, veriframe.verification, veriframe.signing, veriframe._cli\n"
        "import veriframe.media, veriframe.watermark, veriframe.detect, veriframe.policy\n"
        "import veriframe.credentials.read, veriframe.credentials.keys, veriframe.report.html\n"
        "import veriframe.generators\n"
        "veriframe.verify; veriframe.Detector; veriframe.Moderator; veriframe.sign_video\n"
        "names = ('torch', 'diffusers', 'transformers', 'ray', 'cv2', 'imwatermark')\n"
        "heavy = sorted(m for m in names if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("package", ["veriframe.credentials", "veriframe.report"])
def test_package_fronts_resolve_every_name_and_load_nothing_first(package: str) -> None:
    # A front lists what other packages and users take from it; importing it alone loads none
    # of the package's modules (each name is imported on first use).
    code = (
        f"import importlib, sys\nfront = importlib.import_module({package!r})\n"
        f"print(sorted(m for m in sys.modules if m.startswith({package + '.'!r})))\n"
        "missing = [n for n in front.__all__ if getattr(front, n, None) is None]\n"
        "print(missing)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["[]", "[]"]
