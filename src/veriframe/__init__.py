"""veriframe: provenance for AI video.

Every generated or signed video carries an invisible watermark and a signed C2PA manifest;
anyone can verify a clip: credentials, watermark (with manifest recovery), detector, policy.
"""

from __future__ import annotations

from veriframe.errors import VeriframeError
from veriframe.results import (
    CredentialCheck,
    Decision,
    DetectionCheck,
    SignResult,
    VerifyReport,
    WatermarkCheck,
)

__version__ = "0.1.0"

__all__ = [
    "CredentialCheck",
    "Decision",
    "DetectionCheck",
    "SignResult",
    "VeriframeError",
    "VerifyReport",
    "WatermarkCheck",
    "__version__",
]
