"""`.tokentrail.yml`: found by walking up from the working directory, validated on load.

A bad value in `prices`, `budget` or `thresholds` is an error (it would change a figure). A
key tokentrail does not know, or a `notes` value of the wrong type, is a warning naming the
key, the file and the closest known key — a typo (`budgets:`, `notes: {psuh: true}`) is
never silently ignored — and an error under `--strict`.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

from tokentrail.budget import validate_budget
from tokentrail.errors import TokentrailError

CONFIG_NAME = ".tokentrail.yml"
PRICE_FIELDS = ("input", "cache_read", "cache_write_5m", "cache_write_1h", "output")
# every top-level key, and the keys of the sections checked here (prices, budget and
# thresholds are checked by their own validators)
SECTIONS = ("prices", "budget", "notes", "thresholds", "plan")
API_PLAN = "api"  # paying per token: the API-equivalent dollars are the bill
NOTES_KEYS: dict[str, type] = {"ref": str, "push": bool}
WARNINGS_KEY = "_warnings"


def find_config(start: Path | None = None) -> Path | None:
    explicit = os.environ.get("TOKENTRAIL_CONFIG")
    if explicit:
        return Path(explicit)
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
    return None


def _unknown(path: Path, key: str, known: tuple[str, ...] | list[str], prefix: str = "") -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f"did you mean `{prefix}{close[0]}`?" if close else "known: " + ", ".join(known)
    return f"{path}: unknown key `{prefix}{key}` (ignored); {hint}"


def config_problems(path: Path, data: dict[str, Any]) -> list[str]:
    """Keys tokentrail does not know and `notes` values of the wrong type, one message
    each, naming the file, the key and the closest known key."""
    problems = [_unknown(path, str(k), SECTIONS) for k in data if k not in SECTIONS]
    notes = data.get("notes")
    if notes is None:
        return problems
    if not isinstance(notes, dict):
        problems.append(f"{path}: `notes` must be a mapping with {', '.join(NOTES_KEYS)}")
        return problems
    for key, value in notes.items():
        wanted = NOTES_KEYS.get(str(key))
        if wanted is None:
            problems.append(_unknown(path, str(key), list(NOTES_KEYS), "notes."))
        elif not isinstance(value, wanted):
            kind = "true or false" if wanted is bool else "a string"
            problems.append(f"{path}: notes.{key} must be {kind}, not {value!r} (ignored)")
    return problems


def config_warnings(path: Path | None = None) -> list[str]:
    """The config's problems that are warnings, or none when it cannot be read (the
    command that reads it says that)."""
    try:
        return list(load_config(path).get(WARNINGS_KEY) or [])
    except TokentrailError:
        return []


def load_config(path: Path | None = None, *, strict: bool = False) -> dict[str, Any]:
    """Read and validate the config; an empty dict when there is none. Unknown keys are
    listed under `_warnings`, or raise `config_invalid` when `strict`."""
    path = path or find_config()
    if path is None:
        return {}
    import yaml  # only when there is a config file to read

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TokentrailError("config_unreadable", f"cannot read {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise TokentrailError("config_invalid", f"{path} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise TokentrailError("config_invalid", f"{path}: the top level must be a mapping")
    data["prices"] = _validate_prices(path, data.get("prices") or {})
    if "budget" in data:
        data["budget"] = validate_budget(str(path), data["budget"])
    if "plan" in data:
        plan = data["plan"]
        if not isinstance(plan, str) or not plan.strip():
            raise TokentrailError(
                "config_invalid",
                f"{path}: `plan` must be `api` or the name of a subscription plan, not {plan!r}",
            )
        data["plan"] = plan.strip()
    problems = config_problems(path, data)
    if strict and problems:
        raise TokentrailError("config_invalid", "; ".join(problems))
    data["_path"] = str(path)
    data[WARNINGS_KEY] = problems
    return data


def plan_of(config: dict[str, Any]) -> str:
    """`plan` from the config: `api` (the default) or a subscription plan's name, under
    which receipts also show the share of the agent's weekly rate limit where logs carry it."""
    plan = config.get("plan")
    return plan if isinstance(plan, str) and plan else API_PLAN


def _validate_prices(path: Path, prices: Any) -> dict[str, dict[str, float]]:
    """Per model: USD per million tokens for each token kind. `input` and `output` are
    required; cache prices default to what the Anthropic ratios give (read 0.1x,
    5m write 1.25x, 1h write 2x input) so a half-filled entry never prices at $0."""
    if not isinstance(prices, dict):
        raise TokentrailError("config_invalid", f"{path}: `prices` must map model -> prices")
    out: dict[str, dict[str, float]] = {}
    for model, entry in prices.items():
        if not isinstance(entry, dict):
            raise TokentrailError("config_invalid", f"{path}: prices.{model} must be a mapping")
        unknown = set(entry) - set(PRICE_FIELDS)
        if unknown:
            raise TokentrailError(
                "config_invalid",
                f"{path}: prices.{model} has unknown keys {sorted(unknown)}; "
                f"allowed: {', '.join(PRICE_FIELDS)}",
            )
        values: dict[str, float] = {}
        for key in PRICE_FIELDS:
            if key not in entry:
                continue
            value = entry[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise TokentrailError(
                    "config_invalid", f"{path}: prices.{model}.{key} must be a number >= 0"
                )
            values[key] = float(value)
        if "input" not in values or "output" not in values:
            raise TokentrailError(
                "config_invalid", f"{path}: prices.{model} needs at least `input` and `output`"
            )
        base = values["input"]
        values.setdefault("cache_read", base * 0.1)
        values.setdefault("cache_write_5m", base * 1.25)
        values.setdefault("cache_write_1h", base * 2)
        out[str(model)] = values
    return out
