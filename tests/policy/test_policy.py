"""Policy files: schema errors, refusal of permissive policies, shipped policies' decisions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.policy.factory import HOSTILE, report
from veriframe._cli import main
from veriframe.errors import PolicyError
from veriframe.policy import Action, load_policy, policy_path, shipped_policies

BASE = policy_path("platform").read_text(encoding="utf-8")


def write(tmp_path: Path, text: str, name: str = "p.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def edit(text: str, section: str, key: str, value: str) -> str:
    """Replace ``key = ...`` inside ``[section]`` of a policy text."""
    head, _, rest = text.partition(f"[{section}]")
    new, n = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", rest, count=1)
    assert n == 1, (section, key)
    return head + f"[{section}]" + new


def code_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(PolicyError) as info:
        load_policy(write(tmp_path, text))
    return info.value.code


def test_shipped_policies_load() -> None:
    assert {"newsroom", "platform", "strict"} <= set(shipped_policies())
    for name in ("newsroom", "platform", "strict"):
        pol = load_policy(name)
        assert pol.name == name
        assert pol.spec.description


@pytest.mark.parametrize(
    ("mutate", "code", "words"),
    [
        (lambda t: t + "\n[extra]\nx = 1\n", "policy.unknown-key", "[extra]"),
        (lambda t: t.replace("[thresholds]", "[thresholds]\nlikley_ai = 0.9", 1),
         "policy.unknown-key", "likley_ai"),
        (lambda t: edit(t, "thresholds", "likely_ai", "1.5"), "policy.range", "outside [0, 1]"),
        (lambda t: edit(t, "thresholds", "possibly_ai", "-0.1"), "policy.range", "outside"),
        (lambda t: edit(t, "thresholds", "likely_ai", '"high"'), "policy.type", "a number"),
        (lambda t: edit(t, "thresholds", "likely_ai", "true"), "policy.type", "a number"),
        (lambda t: edit(t, "thresholds", "possibly_ai", "0.9"), "policy.range", "above"),
        (lambda t: edit(t, "credentials", "invalid", '"ban"'), "policy.value", "not an action"),
        (lambda t: edit(t, "credentials", "invalid", "3"), "policy.type", "one of"),
        (lambda t: re.sub(r"(?ms)^\[errors\].*?(?=^\[|\Z)", "", t), "policy.missing",
         "[errors]"),
        (lambda t: re.sub(r"(?m)^absent = .*$", "", t), "policy.missing", "'absent'"),
        (lambda t: t + "\n[signers]\ntrusted = \"Example\"\n", "policy.type", "list of strings"),
        (lambda t: t.replace("[policy]", "[policy", 1), "policy.syntax", "not valid TOML"),
        (lambda t: "", "policy.permissive", "empty"),
        (lambda t: "# only a comment\n", "policy.permissive", "empty"),
        (lambda t: edit(t, "credentials", "invalid", '"allow"'), "policy.permissive",
         "tampered"),
        (lambda t: edit(t, "watermark", "mismatch", '"allow"'), "policy.permissive",
         "tampered"),
        (lambda t: edit(t, "errors", "action", '"allow"'), "policy.permissive",
         "could not be checked"),
    ],
)
def test_schema_errors(tmp_path: Path, mutate, code: str, words: str) -> None:
    with pytest.raises(PolicyError) as info:
        load_policy(write(tmp_path, mutate(BASE)))
    assert info.value.code == code
    assert words in info.value.message
    assert info.value.hint


def test_all_allow_is_refused_even_with_opt_ins(tmp_path: Path) -> None:
    text = re.sub(r'"(label|review|block)"', '"allow"', BASE)
    text = text.replace("[policy]", "[policy]\nallow_tampered = true", 1)
    text = text.replace('[errors]', "[errors]\nallow_errors = true", 1)
    assert code_of(tmp_path, text) == "policy.permissive"


def test_explicit_opt_ins_are_honoured(tmp_path: Path) -> None:
    text = edit(BASE, "errors", "action", '"allow"').replace(
        "[errors]", "[errors]\nallow_errors = true", 1)
    pol = load_policy(write(tmp_path, text))
    assert pol.decide(report("error")).action == "allow"
    text = edit(BASE, "credentials", "invalid", '"allow"').replace(
        "[policy]", "[policy]\nallow_tampered = true", 1)
    pol = load_policy(write(tmp_path, text))
    assert pol.decide(report("tampered")).action == "allow"
    assert pol.decide(report("tampered")).label == "tampered"


def test_not_found(tmp_path: Path) -> None:
    for bad in ("no-such-policy", str(tmp_path / "missing.toml"), str(tmp_path)):
        with pytest.raises(PolicyError) as info:
            load_policy(bad)
        assert info.value.code == "policy.not-found"


# kind -> (label, action) per shipped policy
EXPECTED = {
    "platform": {
        "trusted": ("ai-generated", "label"),
        "trusted_capture": ("signed-trusted", "allow"),
        "valid": ("signed-unknown-signer", "allow"),
        "tampered": ("tampered", "review"),
        "absent": ("no-provenance", "allow"),
        "recovered": ("ai-generated", "label"),
        "mismatch": ("tampered", "review"),
        "not_found": ("watermark-unregistered", "review"),
        "high": ("likely-ai", "label"),
        "possible": ("possibly-ai", "allow"),
        "known_mark": ("ai-generated", "label"),
        "error": ("error", "review"),
        "cred_error": ("check-failed", "review"),
        "det_error": ("check-failed", "review"),
        "nothing": ("check-failed", "review"),
    },
    "newsroom": {
        "trusted": ("ai-generated", "label"),
        "trusted_capture": ("signed-trusted", "allow"),
        "valid": ("signed-unknown-signer", "label"),
        "tampered": ("tampered", "review"),
        "absent": ("no-provenance", "label"),
        "recovered": ("ai-generated", "label"),
        "mismatch": ("tampered", "review"),
        "not_found": ("watermark-unregistered", "label"),
        "high": ("likely-ai", "label"),
        "possible": ("possibly-ai", "label"),
        "error": ("error", "review"),
        "cred_error": ("check-failed", "review"),
    },
    "strict": {
        "trusted": ("ai-generated", "label"),
        "trusted_capture": ("signed-trusted", "allow"),
        "valid": ("signed-unknown-signer", "review"),
        "tampered": ("tampered", "block"),
        "absent": ("no-provenance", "review"),
        "recovered": ("ai-generated", "review"),  # recovered, but the signer is unknown
        "mismatch": ("tampered", "block"),
        "not_found": ("watermark-unregistered", "review"),
        "high": ("likely-ai", "review"),
        "possible": ("possibly-ai", "review"),
        "error": ("error", "block"),
        "det_error": ("check-failed", "block"),
    },
}


@pytest.mark.parametrize(("policy", "kind"),
                         [(p, k) for p, table in EXPECTED.items() for k in table])
def test_shipped_decisions(policy: str, kind: str) -> None:
    decision = load_policy(policy).decide(report(kind))
    assert decision.state == "decided"
    assert decision.policy == policy
    assert (decision.label, decision.action) == EXPECTED[policy][kind]
    assert decision.reasons
    # the decisive reason is listed first, tagged with its action
    assert decision.reasons[0].startswith(f"[{decision.action}]")


@pytest.mark.parametrize("kind", list(EXPECTED["platform"]))
def test_newsroom_never_blocks_and_errors_never_allow(kind: str) -> None:
    assert load_policy("newsroom").decide(report(kind)).action != "block"
    for name in ("newsroom", "platform", "strict"):
        decision = load_policy(name).decide(report(kind))
        if kind in ("error", "cred_error", "det_error", "nothing", "tampered", "mismatch"):
            assert Action(decision.action).severity >= Action.REVIEW.severity, (name, kind)


def test_reasons_explain_evidence() -> None:
    pol = load_policy("newsroom")
    reasons = " ".join(pol.decide(report("tampered")).reasons)
    assert "assertion.bmffHash.mismatch" in reasons
    reasons = " ".join(pol.decide(report("absent")).reasons)
    assert "not evidence" in reasons
    reasons = " ".join(pol.decide(report("high")).reasons)
    assert "0.95" in reasons and "not proof" in reasons
    reasons = " ".join(pol.decide(report("valid")).reasons)
    assert "not trusted" in reasons


def test_signer_list_narrows_trust_and_never_widens_it(tmp_path: Path) -> None:
    text = BASE + '\n[signers]\ntrusted = ["Other Org"]\n'
    pol = load_policy(write(tmp_path, text))
    # anchored, but not on the list: treated as an unknown signer
    assert pol.decide(report("trusted_capture")).label == "signed-unknown-signer"
    text = BASE + '\n[signers]\ntrusted = ["example newsroom"]\n'
    pol = load_policy(write(tmp_path, text))
    assert pol.decide(report("trusted_capture")).label == "signed-trusted"
    # a name alone (no trust anchor) never makes a file trusted
    assert pol.decide(report("valid")).label == "signed-unknown-signer"


def test_label_for_thresholds() -> None:
    pol = load_policy("platform")
    assert pol.label_for(0.85) == "likely-ai"
    assert pol.label_for(0.6) == "possibly-ai"
    assert pol.label_for(0.59) == "below-thresholds"
    assert pol.label_for(None) is None


def test_hostile_text_in_reasons_is_cleaned() -> None:
    from tests.policy.factory import hostile_report

    reasons = " ".join(load_policy("platform").decide(hostile_report()).reasons)
    assert "\x1b" not in reasons and "\r" not in reasons and "\u202e" not in reasons


def test_policy_check_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "check", "platform"]) == 0
    good = write(tmp_path, BASE)
    assert main(["policy", "check", str(good)]) == 0
    assert "is valid" in capsys.readouterr().err
    bad = write(tmp_path, edit(BASE, "thresholds", "likely_ai", "2"), "bad.toml")
    assert main(["policy", "check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "error[policy.range]" in err and "Traceback" not in err
    assert main(["policy", "check", str(write(tmp_path, "", "empty.toml"))]) == 1
    assert "error[policy.permissive]" in capsys.readouterr().err
    assert main(["policy", "check", "--json", str(bad)]) == 1
    assert '"code": "policy.range"' in capsys.readouterr().out
    assert main(["policy", "list"]) == 0
    assert "newsroom" in capsys.readouterr().out
    assert main(["policy", "show", "strict"]) == 0
    assert 'name = "strict"' in capsys.readouterr().out
    assert HOSTILE  # factory import kept for the hostile test above


def test_inconclusive_detector_finding() -> None:
    from dataclasses import replace

    from tests.policy.factory import scored

    base = report("absent")
    unsure = replace(base, detection=replace(
        scored(0.92), inconclusive="looks like animation, a screen recording or a slide"))
    actions = {"newsroom": "label", "platform": "allow", "strict": "review"}
    for name, action in actions.items():
        pol = load_policy(name)
        assert pol.spec.detection.inconclusive.value == action
        decision = pol.decide(unsure)
        # the score is not used: no likely-ai label however high it is
        assert decision.label not in ("likely-ai", "possibly-ai")
        text = " ".join(decision.reasons)
        assert "inconclusive" in text and "screen recording" in text
    # with no provenance at all, the detector's abstention is the label
    assert load_policy("platform").decide(unsure).label == "inconclusive"
    # provenance evidence still outranks it
    trusted = replace(report("trusted_capture"), detection=unsure.detection)
    assert load_policy("platform").decide(trusted).label == "signed-trusted"


def test_policies_without_inconclusive_key_still_load(tmp_path: Path) -> None:
    old = re.sub(r"(?m)^inconclusive = .*$\n", "", BASE)
    assert "inconclusive" not in old
    pol = load_policy(write(tmp_path, old))
    assert pol.spec.detection.inconclusive is Action.ALLOW
    bad = edit(BASE, "detection", "inconclusive", '"maybe"')
    assert code_of(tmp_path, bad) == "policy.value"
