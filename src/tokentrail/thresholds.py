"""Detector thresholds: each detector declares its own (default and reason), built-in or not,
and a user overrides any of them in `.tokentrail.yml`:

    thresholds:
      noisy_min_tokens: 12000

Unknown names and values of the wrong type are rejected with a clear message, so a typo
never silently leaves the default in force.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tokentrail.errors import TokentrailError


@dataclass(frozen=True, slots=True)
class Threshold:
    """One knob of a detector: its default (an int default means whole numbers only) and
    why it is set there (docs/detectors.md prints the reasons)."""

    default: float
    reason: str

    @property
    def whole(self) -> bool:
        return isinstance(self.default, int) and not isinstance(self.default, bool)


class Thresholds:
    """Threshold values by name, read as attributes (`th.reread_min_tokens`) or items."""

    def __init__(self, values: Mapping[str, float]) -> None:
        self._values = dict(values)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"no threshold named {name!r}") from None

    def __getitem__(self, name: str) -> float:
        return self._values[name]

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def as_dict(self) -> dict[str, float]:
        return dict(self._values)


def declared(detectors: Iterable[object]) -> dict[str, Threshold]:
    """Every threshold the detectors declare (a detector's optional `thresholds` mapping);
    the first declaration of a name wins."""
    out: dict[str, Threshold] = {}
    for detector in detectors:
        for name, threshold in (getattr(detector, "thresholds", None) or {}).items():
            if isinstance(threshold, Threshold):
                out.setdefault(str(name), threshold)
    return out


def load_thresholds(config: Mapping[str, Any], known: Mapping[str, Threshold]) -> Thresholds:
    """Declared defaults overridden by `thresholds:` in the config; bad entries raise."""
    values: dict[str, float] = {name: t.default for name, t in known.items()}
    raw = config.get("thresholds")
    where = config.get("_path", ".tokentrail.yml")
    if raw is None:
        return Thresholds(values)
    if not isinstance(raw, Mapping):
        raise TokentrailError("config_invalid", f"{where}: `thresholds` must map name -> number")
    unknown = sorted(str(k) for k in set(raw) - set(known))
    if unknown:
        raise TokentrailError(
            "config_invalid",
            f"{where}: unknown thresholds {unknown}; allowed: {', '.join(sorted(known))}",
        )
    for name, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise TokentrailError(
                "config_invalid", f"{where}: thresholds.{name} must be a number >= 0"
            )
        if known[name].whole and float(value) != int(value):
            raise TokentrailError(
                "config_invalid", f"{where}: thresholds.{name} must be a whole number"
            )
        values[name] = int(value) if known[name].whole else float(value)
    return Thresholds(values)
