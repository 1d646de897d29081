"""The policy schema: what a policy TOML file may say, checked with precise errors.

A policy turns a :class:`~veriframe.results.VerifyReport` into a
:class:`~veriframe.results.Decision`. Its file has these sections, all required except
``[signers]``::

    [policy]
    name = "platform"
    description = "Label AI content, hold tampered content for review."
    # allow_tampered = true   # explicit opt-in before any tampering finding may be "allow"
    # resolvers = ["https://resolver.example.org/v1"]   # soft-binding resolvers verify asks

    [thresholds]            # on the detector's p_synthetic, each in [0, 1]
    likely_ai = 0.85        # p >= likely_ai   -> label "likely-ai"
    possibly_ai = 0.6       # p >= possibly_ai -> label "possibly-ai"

    [credentials]           # action for each state of the file's own C2PA credentials
    trusted = "allow"       # intact, signer chains to a trust anchor (and is in [signers])
    valid = "allow"         # intact, signer unknown: NOT the same as trusted
    invalid = "review"      # tampered or malformed
    absent = "allow"        # no credentials: not evidence of anything by itself
    declared_ai = "label"   # intact credentials declare AI generation (digitalSourceType)

    [watermark]             # when the manifest is gone but our watermark is found
    recovered = "label"     # manifest recovered from the store and it matches this content
    mismatch = "review"     # recovered manifest is for other content: a copied watermark
    invalid = "review"      # recovered manifest's signature fails
    not_found = "review"    # our mark is present but its id is not in the store

    [detection]             # action when the detector's score reaches a threshold
    likely_ai = "label"
    possibly_ai = "allow"
    # inconclusive = "allow" # optional (default allow): the detector abstained because the
    #                        # clip is out of its depth or its score sits in its uncertain band

    [errors]                # a check (or the whole verification) could not run
    action = "review"       # fail closed: review or block ...
    # allow_errors = true   # ... unless this explicit opt-in is set

    [signers]               # optional: narrow "trusted" to these names/organisations
    trusted = ["Example Newsroom"]

Actions are ``allow < label < review < block``; the most severe action of every finding
wins. Names in ``[signers]`` are matched only against signers whose chain already ends in a
trust anchor: a self-made certificate can carry any name, so a name alone never makes a file
trusted.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from veriframe.errors import PolicyError

SCHEMA_POLICY = "veriframe.policy/1"


class Action(str, enum.Enum):
    """What to do with a file, from least to most severe."""

    ALLOW = "allow"
    LABEL = "label"
    REVIEW = "review"
    BLOCK = "block"

    @property
    def severity(self) -> int:
        """Position in ``allow < label < review < block``."""
        return _SEVERITY[self]


_SEVERITY = {Action.ALLOW: 0, Action.LABEL: 1, Action.REVIEW: 2, Action.BLOCK: 3}

# Section -> key -> kind. Kinds: "action", "prob", "str", "bool", "names".
_SECTIONS: dict[str, dict[str, str]] = {
    "policy": {"name": "str", "description": "str", "allow_tampered": "bool",
               "resolvers": "names"},
    "thresholds": {"likely_ai": "prob", "possibly_ai": "prob"},
    "credentials": {
        "trusted": "action",
        "valid": "action",
        "invalid": "action",
        "absent": "action",
        "declared_ai": "action",
    },
    "watermark": {
        "recovered": "action",
        "mismatch": "action",
        "invalid": "action",
        "not_found": "action",
    },
    "detection": {"likely_ai": "action", "possibly_ai": "action", "inconclusive": "action"},
    "errors": {"action": "action", "allow_errors": "bool"},
    "signers": {"trusted": "names"},
}
_OPTIONAL_SECTIONS = {"signers"}
_OPTIONAL_KEYS = {
    ("policy", "description"),
    ("policy", "allow_tampered"),
    ("policy", "resolvers"),
    ("errors", "allow_errors"),
    ("detection", "inconclusive"),
}
_KIND_WORDS = {
    "action": "one of " + ", ".join(f'"{a.value}"' for a in Action),
    "prob": "a number in [0, 1]",
    "str": "a string",
    "bool": "true or false",
    "names": "a list of strings",
}
# Findings that mean "this file is not what its provenance says".
_TAMPER_KEYS = (("credentials", "invalid"), ("watermark", "mismatch"), ("watermark", "invalid"))


@dataclass(frozen=True)
class Thresholds:
    """Detector thresholds on ``p_synthetic`` (labels are derived from them)."""

    likely_ai: float
    possibly_ai: float


@dataclass(frozen=True)
class CredentialActions:
    """Action for each state of the file's own credentials."""

    trusted: Action
    valid: Action
    invalid: Action
    absent: Action
    declared_ai: Action


@dataclass(frozen=True)
class WatermarkActions:
    """Action for each outcome of recovering a manifest through the watermark."""

    recovered: Action
    mismatch: Action
    invalid: Action
    not_found: Action


@dataclass(frozen=True)
class DetectionActions:
    """Action when the detector's score reaches a threshold, or when it abstains."""

    likely_ai: Action
    possibly_ai: Action
    inconclusive: Action = Action.ALLOW


@dataclass(frozen=True)
class ErrorRule:
    """What to do when a check could not run (fail closed unless ``allow_errors``)."""

    action: Action
    allow_errors: bool = False


@dataclass(frozen=True)
class PolicySpec:
    """A validated policy file, section by section."""

    name: str
    description: str
    thresholds: Thresholds
    credentials: CredentialActions
    watermark: WatermarkActions
    detection: DetectionActions
    errors: ErrorRule
    trusted_signers: tuple[str, ...] = ()
    allow_tampered: bool = False
    source: str | None = None  # the file it came from, for messages
    resolvers: tuple[str, ...] = ()  # soft-binding resolvers verify asks (base URLs)


def _where(source: str | None) -> str:
    return f" in {source}" if source else ""


def _check_value(section: str, key: str, kind: str, value: Any, source: str | None) -> Any:
    """Return ``value`` converted to its kind, or raise a precise :class:`PolicyError`."""
    where = f"[{section}] {key}{_where(source)}"
    wrong = PolicyError(
        "policy.type",
        f"{where} must be {_KIND_WORDS[kind]}, not {type(value).__name__} {value!r}",
        f"write e.g. {key} = {_example(kind)}",
    )
    if kind == "action":
        if not isinstance(value, str):
            raise wrong
        try:
            return Action(value.strip().lower())
        except ValueError:
            raise PolicyError(
                "policy.value",
                f"{where} is {value!r}, which is not an action",
                f"use {_KIND_WORDS['action']}",
            ) from None
    if kind == "prob":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong
        number = float(value)
        if not math.isfinite(number) or not 0.0 <= number <= 1.0:
            raise PolicyError(
                "policy.range",
                f"{where} is {value!r}, outside [0, 1]",
                "scores are probabilities: use a value between 0 and 1",
            )
        return number
    if kind == "str":
        if not isinstance(value, str):
            raise wrong
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise wrong
        return value
    if kind == "names":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise wrong
        names = tuple(v.strip() for v in value)
        if any(not n for n in names):
            raise PolicyError("policy.value", f"{where} contains an empty name",
                              "remove the empty string from the list")
        return names
    raise AssertionError(f"unknown kind {kind}")  # pragma: no cover


def _example(kind: str) -> str:
    return {"action": '"review"', "prob": "0.8", "str": '"text"', "bool": "true",
            "names": '["Example Newsroom"]'}[kind]


def parse_policy(data: Mapping[str, Any], *, source: str | None = None) -> PolicySpec:
    """Validate the parsed TOML ``data`` and build a :class:`PolicySpec`.

    Raises :class:`PolicyError` with codes ``policy.permissive`` (empty, or allows tampered
    or failed files without an explicit opt-in), ``policy.unknown-key``, ``policy.missing``,
    ``policy.type``, ``policy.range``, ``policy.value``.
    """
    if not data:
        raise PolicyError(
            "policy.permissive",
            f"the policy{_where(source)} is empty: it would decide nothing and allow everything",
            "start from a shipped policy: veriframe policy show platform",
        )
    values: dict[str, dict[str, Any]] = {}
    for section, body in data.items():
        if section not in _SECTIONS:
            raise PolicyError(
                "policy.unknown-key",
                f"unknown section [{section}]{_where(source)}",
                "known sections: " + ", ".join(f"[{s}]" for s in _SECTIONS),
            )
        if not isinstance(body, Mapping):
            raise PolicyError(
                "policy.type",
                f"{section}{_where(source)} must be a table ([{section}]), "
                f"not {type(body).__name__}",
                f"write it as a section: [{section}]",
            )
        known = _SECTIONS[section]
        checked: dict[str, Any] = {}
        for key, value in body.items():
            if key not in known:
                raise PolicyError(
                    "policy.unknown-key",
                    f"unknown key {key!r} in [{section}]{_where(source)}",
                    f"keys allowed in [{section}]: " + ", ".join(known),
                )
            checked[key] = _check_value(section, key, known[key], value, source)
        values[section] = checked
    for section, known in _SECTIONS.items():
        if section not in values:
            if section in _OPTIONAL_SECTIONS:
                continue
            raise PolicyError(
                "policy.missing",
                f"the policy{_where(source)} has no [{section}] section",
                f"every policy states [{section}] explicitly: nothing is left to a default",
            )
        for key in known:
            if key not in values[section] and (section, key) not in _OPTIONAL_KEYS and (
                section not in _OPTIONAL_SECTIONS
            ):
                raise PolicyError(
                    "policy.missing",
                    f"[{section}] lacks {key!r}{_where(source)}",
                    f"add {key} = {_example(known[key])} to [{section}]",
                )

    th = values["thresholds"]
    if th["possibly_ai"] > th["likely_ai"]:
        raise PolicyError(
            "policy.range",
            f"[thresholds] possibly_ai ({th['possibly_ai']}) is above likely_ai "
            f"({th['likely_ai']}){_where(source)}",
            "possibly_ai must be at most likely_ai",
        )
    name = values["policy"]["name"].strip()
    if not name:
        raise PolicyError("policy.value", f"[policy] name is empty{_where(source)}",
                          'give the policy a name, e.g. name = "my-platform"')
    spec = PolicySpec(
        name=name,
        description=values["policy"].get("description", ""),
        thresholds=Thresholds(**th),
        credentials=CredentialActions(**values["credentials"]),
        watermark=WatermarkActions(**values["watermark"]),
        detection=DetectionActions(**values["detection"]),
        errors=ErrorRule(**values["errors"]),
        trusted_signers=values.get("signers", {}).get("trusted", ()),
        allow_tampered=values["policy"].get("allow_tampered", False),
        source=source,
        resolvers=values["policy"].get("resolvers", ()),
    )
    _refuse_permissive(spec, values)
    return spec


def _refuse_permissive(spec: PolicySpec, values: Mapping[str, Mapping[str, Any]]) -> None:
    """Refuse policies that let tampered or unchecked files through by accident."""
    where = _where(spec.source)
    if spec.errors.action is Action.ALLOW and not spec.errors.allow_errors:
        raise PolicyError(
            "policy.permissive",
            f"[errors] action = \"allow\"{where} lets files that could not be checked through",
            "use \"review\" or \"block\", or set allow_errors = true in [errors] if you mean it",
        )
    if not spec.allow_tampered:
        for section, key in _TAMPER_KEYS:
            if values[section][key] is Action.ALLOW:
                raise PolicyError(
                    "policy.permissive",
                    f"[{section}] {key} = \"allow\"{where} lets tampered content through",
                    "use \"label\", \"review\" or \"block\", or set allow_tampered = true in "
                    "[policy] if you mean it",
                )
    actions = [v for sec in values.values() for v in sec.values() if isinstance(v, Action)]
    if all(a is Action.ALLOW for a in actions):
        raise PolicyError(
            "policy.permissive",
            f"every action{where} is \"allow\": the policy would never label, review or block",
            "set at least one finding (e.g. [credentials] declared_ai) to \"label\"",
        )
