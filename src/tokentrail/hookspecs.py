"""The hooks a tokentrail plugin can implement, and the shapes of what it registers.

Built-in adapters, pricing, detectors and renderers use these same hooks; see docs/hooks/.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pluggy

from tokentrail.model import Price, Request, Session, SessionRef

hookspec = pluggy.HookspecMarker("tokentrail")
hookimpl = pluggy.HookimplMarker("tokentrail")


@runtime_checkable
class Adapter(Protocol):
    """Reads one agent's logs: a cheap listing first, then one session at a time."""

    name: str

    def discover(self, repo: Path | None) -> Iterable[SessionRef]:
        """List candidate sessions; with `repo`, only those that may have run inside it."""

    def parse(self, ref: SessionRef) -> Session:
        """Stream one session (and its subagent files) into the normalized model."""


@runtime_checkable
class Detector(Protocol):
    """Turns a session into findings (waste with evidence)."""

    name: str

    def detect(self, session: Session, context: Mapping[str, Any]) -> Iterable[Any]:
        """Yield findings for one session."""


@runtime_checkable
class Renderer(Protocol):
    """Turns a JSON-able document (`doc["kind"]` says which) into text."""

    name: str

    def render(self, doc: Mapping[str, Any]) -> str:
        """Return the rendered text."""


@hookspec
def register_adapters(register: Callable[[Adapter], None]) -> None:
    """Register log adapters, one per agent format."""


@hookspec
def register_detectors(register: Callable[[Detector], None]) -> None:
    """Register waste detectors."""


@hookspec
def register_renderers(register: Callable[[Renderer], None]) -> None:
    """Register output renderers (json, markdown, ...)."""


@hookspec(firstresult=True)
def price_request(request: Request, config: Mapping[str, Any]) -> Price | None:
    """Price one request; return None to let the next plugin try. The first answer wins."""
