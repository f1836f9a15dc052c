"""One branch, end to end from logs: scope → discover → parse → attribute → price → detect.

`report`, `note`, `lessons` and `check` all need the same run; this is the one place it is
wired, so they cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tokentrail import catalog as catalog_mod
from tokentrail.attribute import Attribution, attribute
from tokentrail.detect import Analysis, analyze
from tokentrail.escape import cut, flat
from tokentrail.plugins import TokentrailPluginManager
from tokentrail.scope import Scope

# What a finding carries into notes and PR comments: no claims, evidence kept short.
NOTE_FINDING_KEYS = (
    "id",
    "detector",
    "title",
    "wasted_tokens",
    "wasted_usd",
    "confidence",
    "measured",
    "lesson",
    "evidence",
)


@dataclass
class BranchRun:
    scope: Scope
    catalog: catalog_mod.Catalog
    attribution: Attribution
    analysis: Analysis


def run_branch(
    scope: Scope, pm: TokentrailPluginManager, config: Mapping[str, Any], *, detect: bool = True
) -> BranchRun:
    catalog = catalog_mod.load(pm, catalog_mod.SessionFilter(repo=scope.root), config)
    attribution = attribute(scope, catalog.sessions)
    sessions = [part.session for part in attribution.sessions]
    analysis = analyze(sessions, pm, config) if detect else Analysis()
    return BranchRun(scope, catalog, attribution, analysis)


def _clean(value: Any) -> Any:
    """Strings redacted, stripped of control, bidi and zero-width characters and shortened,
    recursively: this leaves the machine."""
    if isinstance(value, str):
        return cut(flat(value), 200)
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    return value


def portable_finding(finding: Mapping[str, Any]) -> dict[str, Any]:
    """A finding as notes and comments carry it."""
    return {k: _clean(finding.get(k)) for k in NOTE_FINDING_KEYS}


def findings_by_session(analysis: Analysis) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for finding in analysis.findings:
        out.setdefault(finding.session, []).append(portable_finding(finding.to_dict()))
    return out
