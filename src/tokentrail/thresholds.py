"""Every detector threshold in one place, with its default and the reason for it.

Override any of them in `.tokentrail.yml`:

    thresholds:
      noisy_min_tokens: 12000

Unknown names and values of the wrong type are rejected with a clear message, the same
way `prices:` is validated, so a typo never silently leaves the default in force.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from tokentrail.errors import TokentrailError

# name -> (default, reason). The reasons are printed by docs/detectors.md.
DEFAULTS: dict[str, tuple[float, str]] = {
    "retry_min_failures": (
        2,
        "the same call failing twice with nothing in between is already a loop: the second "
        "failure brought no new evidence",
    ),
    "reread_min_tokens": (
        500,
        "a duplicate smaller than a screenful costs cents; below this the finding is noise",
    ),
    "reread_same_size_ratio": (
        0.1,
        "two reads of one file count as the same copy only when their sizes differ by at most "
        "this share (Read with offset/limit reads different parts)",
    ),
    "noisy_min_tokens": (
        8000,
        "a command or search result above ~8k tokens (~23k characters) is a full log, not an "
        "answer; real corpus results of useful commands stay well below it",
    ),
    "noisy_keep_tokens": (
        2000,
        "what a truncated result (`| tail -80`, `head -100`) would have kept; only the carry "
        "beyond it is counted",
    ),
    "generated_min_tokens": (
        300,
        "reading a few lines of a lockfile to check a version is fine; whole files are not",
    ),
    "edit_cascade_min_failures": (
        3,
        "one failed edit (stale old_string) is normal; a third failure on one file means the "
        "agent is editing blind instead of re-reading the file once",
    ),
    "error_churn_min_run": (
        3,
        "three consecutive calls failing with the same error class means the approach, not "
        "the arguments, is wrong",
    ),
    "broad_min_unused_files": (
        25,
        "reading up to ~25 files a session never edits is ordinary orientation",
    ),
    "broad_unused_share": (
        0.8,
        "only when at least this share of all files read is never edited is it exploration "
        "rather than work",
    ),
    "rewrite_min_tokens": (
        20000,
        "re-writing a small context costs little; below ~20k tokens it is not worth a finding",
    ),
    "rewrite_ratio": (
        0.8,
        "a cache write of at least 80% of the previous request's context means the cached "
        "prefix was lost and sent again at the write price",
    ),
    "rightsize_max_output": (
        300,
        "a call that writes under ~300 tokens and uses no tools is a lookup or a yes/no "
        "answer a smaller model gives as well",
    ),
    "rightsize_min_requests": (
        3,
        "one short premium call is not a pattern; three in one thread are",
    ),
    "bloat_jump_tokens": (
        20000,
        "a jump of ~20k tokens that no tool result explains is a pasted file, an attachment "
        "or a re-injected instruction file",
    ),
    "bloat_base_tokens": (
        45000,
        "Claude Code's own system prompt and tools are ~15-25k tokens; a first request above "
        "45k carries oversized instruction files or MCP tool schemas",
    ),
}


@dataclass(frozen=True, slots=True)
class Thresholds:
    retry_min_failures: int = 2
    reread_min_tokens: int = 500
    reread_same_size_ratio: float = 0.1
    noisy_min_tokens: int = 8000
    noisy_keep_tokens: int = 2000
    generated_min_tokens: int = 300
    edit_cascade_min_failures: int = 3
    error_churn_min_run: int = 3
    broad_min_unused_files: int = 25
    broad_unused_share: float = 0.8
    rewrite_min_tokens: int = 20000
    rewrite_ratio: float = 0.8
    rightsize_max_output: int = 300
    rightsize_min_requests: int = 3
    bloat_jump_tokens: int = 20000
    bloat_base_tokens: int = 45000


def load_thresholds(config: Mapping[str, Any]) -> Thresholds:
    """Defaults overridden by `thresholds:` in the config; bad entries raise a clear error."""
    raw = config.get("thresholds")
    where = config.get("_path", ".tokentrail.yml")
    if raw is None:
        return Thresholds()
    if not isinstance(raw, Mapping):
        raise TokentrailError("config_invalid", f"{where}: `thresholds` must map name -> number")
    known = {f.name: f for f in fields(Thresholds)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise TokentrailError(
            "config_invalid",
            f"{where}: unknown thresholds {unknown}; allowed: {', '.join(sorted(known))}",
        )
    values: dict[str, Any] = {}
    for name, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise TokentrailError(
                "config_invalid", f"{where}: thresholds.{name} must be a number >= 0"
            )
        is_int = isinstance(DEFAULTS[name][0], int) and known[name].type in (int, "int")
        if is_int and float(value) != int(value):
            raise TokentrailError(
                "config_invalid", f"{where}: thresholds.{name} must be a whole number"
            )
        values[name] = int(value) if is_int else float(value)
    return Thresholds(**values)
