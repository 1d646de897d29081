"""Among a resolver's matches, the one that explains the most of the clip is reported.

Two manifests can both pass the content comparison: the full clip's, and one of a shorter
clip of the same scene (the fingerprints resolve cells and half-second segments, not grain).
The report must name the manifest whose comparison covered more of what was received."""

from __future__ import annotations

from veriframe.recovery import _best, _Outcome
from veriframe.results import RecoveredCredentials, RecoveryState, ResolverAttempt, ResolverState


def _outcome(label: str, state: ResolverState, compared_s: float, coverage: float,
             distance: float) -> _Outcome:
    rec = RecoveredCredentials(
        state=RecoveryState.RECOVERED if state is ResolverState.RECOVERED else RecoveryState.EDITED,
        source="resolver", manifest_id=label, comparison="segments", compared_s=compared_s,
        received_s=3.0, frame_coverage=coverage)
    attempt = ResolverAttempt(url="http://127.0.0.1:1", state=state, detail="",
                              manifest_id=label, fingerprint_distance=distance)
    return _Outcome(attempt, rec)


def test_the_manifest_covering_more_of_the_clip_wins_a_tie() -> None:
    shorter = _outcome("urn:short", ResolverState.RECOVERED, 2.0, 1.0, 0.05)
    whole = _outcome("urn:whole", ResolverState.RECOVERED, 3.0, 1.0, 0.09)
    for order in ([shorter, whole], [whole, shorter]):
        best = _best(order)
        assert best is not None and best.attempt.manifest_id == "urn:whole"


def test_state_comes_first_then_distance() -> None:
    edited = _outcome("urn:edited", ResolverState.EDITED, 3.0, 1.0, 0.01)
    recovered = _outcome("urn:ok", ResolverState.RECOVERED, 1.0, 0.5, 0.2)
    best = _best([edited, recovered])
    assert best is not None and best.attempt.manifest_id == "urn:ok"
    near = _outcome("urn:near", ResolverState.RECOVERED, 3.0, 1.0, 0.02)
    far = _outcome("urn:far", ResolverState.RECOVERED, 3.0, 1.0, 0.2)
    best = _best([far, near])
    assert best is not None and best.attempt.manifest_id == "urn:near"
    assert _best([]) is None
