"""Apply a policy to a verification report: findings → label, action and reasons.

Each check of the report yields findings (an action, maybe a label, a reason in plain
words). The decision's action is the most severe action of all findings; its label is the
most significant label found (see ``LABEL_PRIORITY``); its reasons list every finding, most
severe first, so a newsroom can explain the evidence. A check that could not run is a finding
too, with the policy's ``[errors]`` action: fail closed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from veriframe._text import clean_text
from veriframe.credentials import AI_SOURCE_TYPES
from veriframe.policy.schema import Action, PolicySpec
from veriframe.results import (
    CredentialCheck,
    CredentialState,
    Decision,
    DecisionState,
    DetectionState,
    RecoveredCredentials,
    RecoveryState,
    SignerInfo,
    Verdict,
    VerifyReport,
    WatermarkState,
)

# Labels a decision can carry, most significant first.
LABEL_PRIORITY = (
    "error",  # the verification as a whole could not run
    "tampered",  # credentials fail validation, or a copied / forged recovered manifest
    "ai-generated",  # provenance (credentials, recovered credentials, known mark) declares AI
    "likely-ai",  # detector p_synthetic >= thresholds.likely_ai
    "check-failed",  # one check could not run; the others did
    "possibly-ai",  # detector p_synthetic >= thresholds.possibly_ai
    "watermark-unregistered",  # our mark is present but its manifest is not in the store
    "signed-trusted",  # intact credentials from a trusted signer
    "recovered-credentials",  # manifest removed, recovered through the watermark, matches
    "signed-unknown-signer",  # intact credentials, signer not trusted
    "inconclusive",  # the detector abstained: out of its depth, or a score near a coin flip
    "no-provenance",  # no credentials and no watermark: says nothing about authenticity
)
_RANK = {label: i for i, label in enumerate(LABEL_PRIORITY)}
# A known generator mark counts as provenance when its own p-value is at least this small.
KNOWN_MARK_P = 1e-6


@dataclass(frozen=True)
class Finding:
    """One piece of evidence and what the policy does about it."""

    action: Action
    label: str | None
    reason: str


def _name(signer: SignerInfo | None) -> str:
    if signer is None:
        return "an unnamed signer"
    parts = [p for p in (signer.common_name, signer.organization) if p]
    if not parts:
        return "an unnamed signer"
    text = parts[0] if len(parts) == 1 or parts[0] == parts[1] else f"{parts[0]} ({parts[1]})"
    return f'"{clean_text(text, max_len=120)}"'


def _compared(rec: RecoveredCredentials | None) -> str:
    """What was compared of the content, in words (never more than was checked)."""
    from veriframe.report import compared_words

    return clean_text(compared_words(rec), max_len=400)


def _changes(rec: RecoveredCredentials | None) -> str:
    from veriframe.report import describe_difference

    diffs = rec.differences if rec is not None else ()
    text = "; ".join(describe_difference(d) for d in diffs[:3]) or "see the differences"
    return clean_text(text + (f" and {len(diffs) - 3} more" if len(diffs) > 3 else ""),
                      max_len=400)


def declared_source_types(cred: CredentialCheck | None) -> tuple[str, ...]:
    """Digital source types declared by intact credentials (never by invalid ones)."""
    if cred is None or cred.state not in (CredentialState.TRUSTED, CredentialState.VALID):
        return ()
    found: list[str] = []
    if cred.digital_source_type:
        found.append(cred.digital_source_type)
    for action in cred.actions:
        dst = action.get("digitalSourceType") if isinstance(action, dict) else None
        if isinstance(dst, str) and dst not in found:
            found.append(dst)
    return tuple(found)


def declares_ai(cred: CredentialCheck | None) -> str | None:
    """The AI digital source type that intact credentials declare, or None."""
    for dst in declared_source_types(cred):
        if dst.rstrip("/").rsplit("/", 1)[-1] in AI_SOURCE_TYPES:
            return dst
    return None


class Policy:
    """A loaded, validated policy. Build it with :func:`veriframe.policy.load_policy`."""

    def __init__(self, spec: PolicySpec) -> None:
        self.spec = spec

    def __repr__(self) -> str:
        return f"Policy({self.spec.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Policy) and other.spec == self.spec

    def __hash__(self) -> int:
        return hash(self.spec)

    @property
    def name(self) -> str:
        """The policy's name (``[policy] name``)."""
        return self.spec.name

    def label_for(self, p_synthetic: float | None) -> str | None:
        """The detection label a score earns under this policy's thresholds.

        ``likely-ai``, ``possibly-ai`` or ``below-thresholds``; None without a score.
        """
        if p_synthetic is None:
            return None
        if p_synthetic >= self.spec.thresholds.likely_ai:
            return "likely-ai"
        if p_synthetic >= self.spec.thresholds.possibly_ai:
            return "possibly-ai"
        return "below-thresholds"

    def signer_trusted(self, cred: CredentialCheck) -> bool:
        """Whether ``cred`` counts as trusted here: anchored chain (+ name in [signers])."""
        if cred.state is not CredentialState.TRUSTED:
            return False
        names = {n.casefold() for n in self.spec.trusted_signers}
        if not names:
            return True
        signer = cred.signer
        if signer is None:
            return False
        return any(
            v is not None and v.strip().casefold() in names
            for v in (signer.common_name, signer.organization)
        )

    def error_decision(self, *, code: str, message: str) -> Decision:
        """The fail-closed decision for a file whose verification could not run at all."""
        return self._decide(
            [
                self._error(
                    f"verification could not run: "
                    f"{clean_text(code, max_len=80)}: "
                    f"{clean_text(message, max_len=300)}"
                )
            ],
            whole_error=True,
        )

    def apply(self, report: VerifyReport) -> VerifyReport:
        """``report`` with this policy's decision and the detection label of its thresholds."""
        detection = report.detection
        if detection.state is DetectionState.SCORED:
            label = "inconclusive" if detection.inconclusive else self.label_for(
                detection.p_synthetic)
            detection = replace(detection, label=label)
        report = replace(report, detection=detection)
        return replace(report, decision=self.decide(report))

    def decide(self, report: VerifyReport) -> Decision:
        """Turn ``report`` into a :class:`~veriframe.results.Decision` (state ``decided``)."""
        if report.verdict is Verdict.ERROR or report.error:
            err = report.error
            return self.error_decision(
                code=err.code if err else "error", message=err.message if err else "no detail"
            )
        findings = [*self._credentials(report), *self._watermark(report), *self._detection(report)]
        if not any(f.label for f in findings):
            findings.append(self._error("no check ran on this file (every section is not_checked)"))
        return self._decide(findings, whole_error=False)

    # --- findings ----------------------------------------------------------------------

    def _error(self, reason: str, *, label: str = "check-failed") -> Finding:
        rule = self.spec.errors
        note = (
            "fail closed"
            if rule.action.severity >= Action.REVIEW.severity
            else ("allowed by the policy's allow_errors")
        )
        return Finding(rule.action, label, f"{reason} ({note})")

    def _credentials(self, report: VerifyReport) -> Iterable[Finding]:
        cred = report.credentials
        acts = self.spec.credentials
        state = cred.state
        if state is CredentialState.TRUSTED:
            if self.signer_trusted(cred):
                yield Finding(
                    acts.trusted,
                    "signed-trusted",
                    f"Content Credentials are intact and signed by {_name(cred.signer)}, "
                    "whose certificate chains to a trust anchor",
                )
            else:
                yield Finding(
                    acts.valid,
                    "signed-unknown-signer",
                    f"Content Credentials are intact; the signer {_name(cred.signer)} "
                    "chains to a trust anchor but is not one of this policy's trusted "
                    "signers",
                )
        elif state is CredentialState.VALID:
            yield Finding(
                acts.valid,
                "signed-unknown-signer",
                f"Content Credentials are intact, but the signer {_name(cred.signer)} is "
                "not trusted: anyone can make a certificate with any name",
            )
        elif state is CredentialState.INVALID:
            codes = ", ".join(clean_text(i.code, max_len=80) for i in cred.failures[:5])
            yield Finding(
                acts.invalid,
                "tampered",
                "Content Credentials fail validation"
                + (f" ({codes})" if codes else "")
                + ": the file changed after signing, or the credentials are damaged",
            )
        elif state is CredentialState.ABSENT:
            rec = report.watermark.recovered
            resolved = rec is not None and rec.source == "resolver" and rec.state in (
                RecoveryState.RECOVERED, RecoveryState.EDITED, RecoveryState.MISMATCH)
            if report.watermark.state is not WatermarkState.PRESENT and not resolved:
                yield Finding(
                    acts.absent,
                    "no-provenance",
                    "no Content Credentials and no watermark: most videos carry none, "
                    "so this is not evidence of manipulation or of AI generation",
                )
            else:  # the watermark rules below decide what the recovered provenance is worth
                yield Finding(
                    Action.ALLOW,
                    None,
                    "no Content Credentials embedded in the file; "
                    + ("a resolver pointed to its manifest" if resolved
                       else "a watermark was found"),
                )
        elif state is CredentialState.ERROR:
            yield self._error(
                "the Content Credentials could not be read: "
                + clean_text(cred.error.code if cred.error else "error", max_len=80)
            )
        dst = declares_ai(cred)
        if dst is not None:
            yield Finding(
                acts.declared_ai,
                "ai-generated",
                "the credentials declare AI generation (digital source type "
                f"{clean_text(dst.rsplit('/', 1)[-1], max_len=80)})",
            )

    def _watermark(self, report: VerifyReport) -> Iterable[Finding]:
        wm = report.watermark
        acts = self.spec.watermark
        for mark in wm.known_generator_marks:
            if mark.p_value <= KNOWN_MARK_P:
                yield Finding(
                    self.spec.detection.likely_ai,
                    "ai-generated",
                    f"the known watermark of {clean_text(mark.name, max_len=80)} was "
                    f"found ({mark.matching_bits}/{mark.total_bits} bits, "
                    f"p = {mark.p_value:.1e})",
                )
        if wm.state is WatermarkState.ERROR:
            yield self._error(
                "the watermark check could not run: "
                + clean_text(wm.error.code if wm.error else "error", max_len=80)
            )
            return
        rec = wm.recovered
        if rec is not None and rec.source == "resolver":
            yield from self._resolved(report)
            return
        if wm.state is not WatermarkState.PRESENT:
            return
        pid = clean_text(wm.payload_id or "?", max_len=40)
        p = f", p = {wm.p_value:.1e}" if wm.p_value is not None else ""
        rstate = rec.state if rec is not None else RecoveryState.NOT_FOUND
        if rstate is RecoveryState.RECOVERED:
            rcred = rec.credentials if rec is not None else None
            manifest_gone = report.credentials.state in (
                CredentialState.ABSENT,
                CredentialState.INVALID,
                CredentialState.ERROR,
                CredentialState.NOT_CHECKED,
            )
            label = "recovered-credentials" if manifest_gone else None
            who = _name(rcred.signer) if rcred is not None else "an unnamed signer"
            yield Finding(
                acts.recovered,
                label,
                f"watermark {pid} found{p}; its manifest, signed by {who}, was "
                f"recovered from the store; {_compared(rec)}",
            )
            if rcred is not None and self.signer_trusted(rcred):
                yield Finding(
                    self.spec.credentials.trusted,
                    None,
                    f"the recovered manifest's signer {who} is trusted",
                )
            else:
                yield Finding(
                    self.spec.credentials.valid,
                    None,
                    f"the recovered manifest's signer {who} is not trusted: anyone "
                    "can make a certificate with any name",
                )
            dst = declares_ai(rcred)
            if dst is not None:
                yield Finding(
                    self.spec.credentials.declared_ai,
                    "ai-generated",
                    "the recovered credentials declare AI generation (digital source "
                    f"type {clean_text(dst.rsplit('/', 1)[-1], max_len=80)})",
                )
        elif rstate is RecoveryState.EDITED:
            yield Finding(
                acts.mismatch,
                "tampered",
                f"watermark {pid} found{p}; its manifest is genuine, but this clip was "
                f"changed after signing: {_changes(rec)}",
            )
        elif rstate is RecoveryState.MISMATCH:
            yield Finding(
                acts.mismatch,
                "tampered",
                f"watermark {pid} found{p}, but the manifest it points to was made for "
                "different content: the mark was copied or the content altered",
            )
        elif rstate is RecoveryState.INVALID:
            yield Finding(
                acts.invalid,
                "tampered",
                f"watermark {pid} found{p}, but the recovered manifest fails signature validation",
            )
        elif rstate is RecoveryState.ERROR:
            yield self._error(f"watermark {pid} found, but recovering its manifest failed")
        else:
            yield Finding(
                acts.not_found,
                "watermark-unregistered",
                f"a veriframe watermark ({pid}{p}) is present, but no manifest for it "
                "is in the store: its origin cannot be confirmed",
            )

    def _resolved(self, report: VerifyReport) -> Iterable[Finding]:
        """Findings for credentials a soft-binding resolver pointed to (validated here)."""
        rec = report.watermark.recovered
        assert rec is not None
        acts = self.spec.watermark
        where = clean_text(rec.resolver or "a resolver", max_len=200)
        how = f" by its {clean_text(rec.match_kind, max_len=20)}" if rec.match_kind else ""
        rcred = rec.credentials
        who = _name(rcred.signer) if rcred is not None else "an unnamed signer"
        if rec.state is RecoveryState.EDITED:
            yield Finding(acts.mismatch, "tampered",
                          f"the resolver {where} matched this clip{how} to a manifest signed by "
                          f"{who}; this clip was changed after signing: {_changes(rec)}")
            return
        if rec.state is RecoveryState.MISMATCH:
            yield Finding(acts.mismatch, "tampered",
                          f"the resolver {where} matched this clip{how} to a manifest signed by "
                          f"{who} for different content: the clip is not what was signed, or "
                          "its mark was copied")
            return
        if rec.state is not RecoveryState.RECOVERED:
            return
        yield Finding(acts.recovered, "recovered-credentials",
                      f"no Content Credentials in the file; the resolver {where} found its "
                      f"manifest{how}, signed by {who}; the signature was validated here; "
                      f"{_compared(rec)}")
        trusted = rcred is not None and self.signer_trusted(rcred)
        yield Finding(self.spec.credentials.trusted if trusted else self.spec.credentials.valid,
                      None, f"the recovered manifest's signer {who} is "
                      + ("trusted" if trusted else "not trusted: anyone can make a certificate "
                         "with any name"))
        dst = declares_ai(rcred)
        if dst is not None:
            yield Finding(self.spec.credentials.declared_ai, "ai-generated",
                          "the recovered credentials declare AI generation (digital source "
                          f"type {clean_text(dst.rsplit('/', 1)[-1], max_len=80)})")

    def _detection(self, report: VerifyReport) -> Iterable[Finding]:
        det = report.detection
        if det.state is DetectionState.ERROR:
            yield self._error(
                "the detector could not run: "
                + clean_text(det.error.code if det.error else "error", max_len=80)
            )
            return
        if det.state is not DetectionState.SCORED or det.p_synthetic is None:
            return
        p = det.p_synthetic
        th = self.spec.thresholds
        label = self.label_for(p)
        top = sorted(
            (s for s in det.signals if s.p_synthetic is not None),
            key=lambda s: -abs((s.p_synthetic or 0.5) - 0.5) * s.weight,
        )[:3]
        evidence = ", ".join(f"{clean_text(s.name, max_len=60)} {s.p_synthetic:.2f}" for s in top)
        model = f" ({clean_text(det.model, max_len=60)})" if det.model else ""
        tail = f"; strongest signals: {evidence}" if evidence else ""
        if det.inconclusive:
            yield Finding(
                self.spec.detection.inconclusive,
                "inconclusive",
                f"the detector{model} is inconclusive (p_synthetic = {p:.2f} not used): "
                f"{clean_text(det.inconclusive, max_len=300)}",
            )
            return
        if label == "likely-ai":
            yield Finding(
                self.spec.detection.likely_ai,
                "likely-ai",
                f"the detector{model} estimates p_synthetic = {p:.2f}, at or above "
                f"{th.likely_ai:.2f} (likely AI){tail}; a detector score is an "
                "estimate, not proof",
            )
        elif label == "possibly-ai":
            yield Finding(
                self.spec.detection.possibly_ai,
                "possibly-ai",
                f"the detector{model} estimates p_synthetic = {p:.2f}, at or above "
                f"{th.possibly_ai:.2f} (possibly AI){tail}; a detector score is an "
                "estimate, not proof",
            )
        else:
            yield Finding(
                Action.ALLOW,
                None,
                f"the detector{model} estimates p_synthetic = {p:.2f}, below "
                f"{th.possibly_ai:.2f}; a low score does not prove a clip is real",
            )

    # --- combine -----------------------------------------------------------------------

    def _decide(self, findings: list[Finding], *, whole_error: bool) -> Decision:
        action = max((f.action for f in findings), key=lambda a: a.severity)
        labels = [f.label for f in findings if f.label]
        label: str | None
        if whole_error:
            label = "error"
        else:
            label = min(labels, key=lambda lab: _RANK.get(lab, len(_RANK))) if labels else None
        ordered = sorted(findings, key=lambda f: -f.action.severity)
        reasons = tuple(f"[{f.action.value}] {f.reason}" for f in ordered)
        return Decision(
            state=DecisionState.DECIDED,
            policy=self.spec.name,
            label=label,
            action=action.value,
            reasons=reasons,
        )
