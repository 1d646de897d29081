"""Hand-built verification reports for policy, report and moderation tests."""

from __future__ import annotations

from veriframe.results import (
    CredentialCheck,
    CredentialState,
    DetectionCheck,
    FileInfo,
    FrameScore,
    Issue,
    KnownMark,
    RecoveredCredentials,
    Signal,
    SignerInfo,
    Verdict,
    VerifyReport,
    WatermarkCheck,
    WatermarkState,
)

AI = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
CAPTURE = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"
HOSTILE = "evil\x1b[2J\x1b]0;pwned\x07<script>alert(1)</script>\u202e\r\nfake: trusted"


def _file(name: str = "clip.mp4") -> FileInfo:
    return FileInfo(path=f"/data/{name}", size_bytes=12345, sha256="ab" * 32,
                    media={"width": 640, "height": 360, "fps": 15.0, "duration": 2.0,
                           "video_codec": "h264", "audio_codec": "aac", "container": "mp4"})


def signer(name: str = "Example Newsroom", org: str | None = None) -> SignerInfo:
    return SignerInfo(common_name=name, organization=org or name, issuer="Example Root CA",
                      serial_number="01", algorithm="es256", signed_at="2025-01-02T03:04:05Z")


def intact(state: CredentialState = CredentialState.VALID, *, source: str = AI,
           name: str = "Example Newsroom", title: str = "clip.mp4") -> CredentialCheck:
    return CredentialCheck(
        state=state,
        successes=("claimSignature.validated", "assertion.bmffHash.match"),
        signer=signer(name),
        claim_generator="veriframe/0.1.0",
        title=title,
        format="video/mp4",
        digital_source_type=source,
        actions=({"action": "c2pa.created", "digitalSourceType": source,
                  "softwareAgent": {"name": "Wan2.1-I2V-14B-480P", "version": "2.1"},
                  "parameters": {"seed": 42, "effect": "squish", "steps": 30}},),
        ingredients=({"title": "input.png", "format": "image/png",
                      "relationship": "inputTo"},),
        manifest_label="urn:c2pa:1234",
        manifest={"assertions": [{"label": "c2pa.actions.v2"}]},
    )


def scored(p: float) -> DetectionCheck:
    return DetectionCheck(
        state="scored", p_synthetic=p, model="default-1",
        signals=(Signal(name="fps_pattern", kind="metadata", value=16.0, p_synthetic=0.8,
                        weight=0.5, detail="16 fps, 81 frames"),
                 Signal(name="noise_residual", kind="forensic", value=0.31, p_synthetic=p,
                        weight=1.0)),
        frame_scores=tuple(FrameScore(index=i * 4, timestamp=i * 0.25, p_synthetic=min(1.0, p +
                                      0.05 * (i % 3))) for i in range(8)),
    )


def report(kind: str) -> VerifyReport:
    """A report of one kind: trusted, valid, tampered, absent, recovered, mismatch,
    not_found, high, possible, error, cred_error, det_error, trusted_capture."""
    absent = CredentialCheck(state=CredentialState.ABSENT)
    no_wm = WatermarkCheck(state=WatermarkState.ABSENT, frames_used=16)
    low = scored(0.1)
    if kind == "trusted":
        return VerifyReport(_file(), Verdict.SIGNED, intact(CredentialState.TRUSTED), no_wm, low)
    if kind == "trusted_capture":
        return VerifyReport(_file(), Verdict.SIGNED,
                            intact(CredentialState.TRUSTED, source=CAPTURE), no_wm, low)
    if kind == "valid":
        return VerifyReport(_file(), Verdict.SIGNED, intact(CredentialState.VALID, source=CAPTURE),
                            no_wm, low)
    if kind == "tampered":
        cred = CredentialCheck(state=CredentialState.INVALID,
                               failures=(Issue("assertion.bmffHash.mismatch"),))
        return VerifyReport(_file(), Verdict.TAMPERED, cred, no_wm, low)
    if kind == "absent":
        return VerifyReport(_file(), Verdict.UNSIGNED, absent, no_wm, low)
    if kind in ("recovered", "mismatch", "not_found"):
        rec_cred = intact(CredentialState.VALID)
        rec = RecoveredCredentials(state=kind, store="/tmp/store.sqlite",
                                   credentials=rec_cred if kind != "not_found" else None,
                                   fingerprint_distance=0.02 if kind == "recovered" else 0.4,
                                   detail=f"{kind} detail")
        wm = WatermarkCheck(state=WatermarkState.PRESENT, payload_id="00112233aabbccdd",
                            version=1, p_value=1e-12, threshold=1e-6, bit_accuracy=0.97,
                            frames_used=16, recovered=rec)
        verdict = {"recovered": Verdict.RECOVERED, "mismatch": Verdict.TAMPERED,
                   "not_found": Verdict.UNSIGNED}[kind]
        return VerifyReport(_file(), verdict, absent, wm, low)
    if kind == "high":
        return VerifyReport(_file(), Verdict.UNSIGNED, absent, no_wm, scored(0.95))
    if kind == "possible":
        return VerifyReport(_file(), Verdict.UNSIGNED, absent, no_wm, scored(0.65))
    if kind == "known_mark":
        wm = WatermarkCheck(state=WatermarkState.ABSENT, known_generator_marks=(
            KnownMark(name="Stability SDXL/SVD", method="dwtDct", matching_bits=47,
                      total_bits=48, p_value=1.7e-13, frames=8),))
        return VerifyReport(_file(), Verdict.UNSIGNED, absent, wm, low)
    if kind == "error":
        return VerifyReport(_file(), Verdict.ERROR,
                            CredentialCheck(state=CredentialState.ERROR),
                            error={"code": "media.unreadable", "message": "not a video",
                                   "hint": "check the file"})
    if kind == "cred_error":
        cred = CredentialCheck(state=CredentialState.ERROR,
                               error={"code": "credentials.unreadable", "message": "bad box"})
        return VerifyReport(_file(), Verdict.UNSIGNED, cred, no_wm, low)
    if kind == "det_error":
        det = DetectionCheck(state="error", error={"code": "detector.missing",
                                                   "message": "no model"})
        return VerifyReport(_file(), Verdict.UNSIGNED, absent, no_wm, det)
    if kind == "nothing":
        return VerifyReport(_file(), Verdict.UNSIGNED)
    raise ValueError(kind)


def hostile_report() -> VerifyReport:
    """Intact credentials whose attacker-controlled strings try to attack the renderer."""
    cred = intact(CredentialState.VALID, name=HOSTILE, title=HOSTILE)
    cred = CredentialCheck(**{**cred.__dict__, "claim_generator": HOSTILE,
                              "actions": ({"action": "c2pa.created", "softwareAgent": HOSTILE,
                                           "parameters": {"prompt": HOSTILE}},),
                              "ingredients": ({"title": HOSTILE, "format": "image/png",
                                               "relationship": "inputTo"},)})
    return VerifyReport(FileInfo(path=f"/data/{HOSTILE}.mp4", size_bytes=1), Verdict.SIGNED,
                        cred, WatermarkCheck(state=WatermarkState.ABSENT), scored(0.2))
