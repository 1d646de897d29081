"""veriframe: provenance for AI video.

Every video veriframe generates or signs carries an invisible watermark and a signed C2PA
manifest; anyone can verify a clip: credentials, watermark (with manifest recovery),
detector, policy. The public API::

    from veriframe import sign_video, Verifier, Settings, Detector, Moderator

    verifier = Verifier(Settings(policy="newsroom"))   # built once: keys, trust, detector
    report = verifier.verify("clip.mp4").report

Heavy parts (the detector, moderation, generation) are imported on first use, so
``import veriframe`` stays light and never imports torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from veriframe._version import __version__
from veriframe.errors import VeriframeError
from veriframe.results import (
    CredentialCheck,
    CredentialState,
    Decision,
    DetectionCheck,
    SignResult,
    Verdict,
    VerifyReport,
    WatermarkCheck,
    WatermarkState,
)

if TYPE_CHECKING:
    from veriframe.credentials import ManifestSpec, SigningIdentity
    from veriframe.detect import Detector
    from veriframe.generators.pipeline import ProvenancePipeline
    from veriframe.moderation import Moderator
    from veriframe.policy import Policy, load_policy
    from veriframe.settings import Settings
    from veriframe.signing import sign_video
    from veriframe.verification import Verification, Verifier, verify

_LAZY = {
    "sign_video": "veriframe.signing",
    "verify": "veriframe.verification",
    "Verifier": "veriframe.verification",
    "Detector": "veriframe.detect",
    "Moderator": "veriframe.moderation",
    "ProvenancePipeline": "veriframe.generators.pipeline",
    "load_policy": "veriframe.policy",
    "Policy": "veriframe.policy",
    "Settings": "veriframe.settings",
    "ManifestSpec": "veriframe.credentials",
    "SigningIdentity": "veriframe.credentials",
    "Verification": "veriframe.verification",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'veriframe' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
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
    "VeriframeError",
    "VerifyReport",
    "WatermarkCheck",
    "WatermarkState",
    "__version__",
    "load_policy",
    "sign_video",
    "verify",
]
