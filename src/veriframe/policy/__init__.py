"""Policies: TOML files that turn a verification report into a decision.

``load_policy("platform")`` loads a shipped policy (``policies/*.toml``) or a file path;
``Policy.decide(report)`` returns a :class:`~veriframe.results.Decision`. The file format is
described in :mod:`veriframe.policy.schema`.
"""

from __future__ import annotations

from veriframe.policy.decision import AI_SOURCE_TYPES, LABEL_PRIORITY, Policy, declares_ai
from veriframe.policy.load import load_policy, policy_path, shipped_policies
from veriframe.policy.schema import SCHEMA_POLICY, Action, PolicySpec, parse_policy

__all__ = [
    "AI_SOURCE_TYPES",
    "LABEL_PRIORITY",
    "SCHEMA_POLICY",
    "Action",
    "Policy",
    "PolicySpec",
    "declares_ai",
    "load_policy",
    "parse_policy",
    "policy_path",
    "shipped_policies",
]
