"""Keys that tell a rewrite's sites apart, stable across steps of one model.

A finding's key is what the draft, presets and the CLI use to switch one site off, so
two sites must never share one. Keys come from name scopes, which two sites can share
(two ``fused_batch_norm`` calls in one ``variable_scope``); the later ones then get
``#2``, ``#3`` in graph order, which does not change between steps of one model.
"""

from __future__ import annotations

import dataclasses

from app.core.rewrite.base import Finding


def unique_keys(findings: list[Finding]) -> list[Finding]:
    seen: dict[str, int] = {}
    result = []
    for finding in findings:
        count = seen.get(finding.key, 0) + 1
        seen[finding.key] = count
        if count > 1:
            finding = dataclasses.replace(finding, key=f"{finding.key}#{count}")
        result.append(finding)
    return result
