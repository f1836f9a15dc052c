"""The hooks a tokentrail plugin can implement, and the shapes of what it registers.

Built-in adapters, pricing, detectors and renderers use these same hooks; see docs/hooks/.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import pluggy

from tokentrail.model import Price, Request, Session, SessionRef

if TYPE_CHECKING:
    from tokentrail.detect import DetectContext

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

    def detect(self, session: Session, context: DetectContext) -> Iterable[Any]:
        """Yield findings (Finding objects or plain mappings) for one session. A detector
        may also declare `thresholds: dict[str, Threshold]` that users can set in
        `.tokentrail.yml` like the built-ins'."""


@runtime_checkable
class Renderer(Protocol):
    """Turns a JSON-able document (`doc["kind"]` says which) into text. A renderer may
    declare `kinds` (a collection of document kinds) to take over a format for those kinds
    only; for other kinds the format's earlier renderer answers."""

    name: str

    def render(self, doc: Mapping[str, Any]) -> str:
        """Return the rendered text."""


@runtime_checkable
class FittingRenderer(Protocol):
    """A renderer that can shorten its output to a size limit by leaving out its least
    important parts (the PR comment has a 65,536-character limit); `note` says where the
    full output is."""

    name: str

    def render(self, doc: Mapping[str, Any]) -> str: ...

    def render_within(self, doc: Mapping[str, Any], limit: int, note: str = "") -> str:
        """Return the rendered text, at most `limit` characters long."""


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
