"""The plugin manager: built-ins first, then third-party entry points, each isolated.

A third-party plugin that fails to import or raises inside a hook is recorded in
`problems` and skipped; it never breaks a run.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

import pluggy

from tokentrail import hookspecs
from tokentrail.errors import TokentrailError
from tokentrail.hookspecs import Adapter, Detector, Renderer

BUILTIN_PLUGINS = (
    "tokentrail.builtin.claude_code",
    "tokentrail.builtin.codex",
    "tokentrail.builtin.gemini",
    "tokentrail.builtin.opencode",
    "tokentrail.builtin.pi",
    "tokentrail.builtin.local_store",
    "tokentrail.builtin.price_overrides",
    "tokentrail.builtin.price_genai",
    "tokentrail.builtin.render_json",
    "tokentrail.builtin.render_text",
    "tokentrail.builtin.render_markdown",
    "tokentrail.builtin.render_html",
    "tokentrail.builtin.detectors.retry_loop",
    "tokentrail.builtin.detectors.reread",
    "tokentrail.builtin.detectors.noisy_output",
    "tokentrail.builtin.detectors.generated_read",
    "tokentrail.builtin.detectors.edit_cascade",
    "tokentrail.builtin.detectors.error_churn",
    "tokentrail.builtin.detectors.broad_exploration",
    "tokentrail.builtin.detectors.cache_rewrite",
    "tokentrail.builtin.detectors.model_rightsizing",
    "tokentrail.builtin.detectors.context_bloat",
)
ENTRY_POINT_GROUP = "tokentrail"

T = TypeVar("T")


@dataclass
class PluginProblem:
    plugin: str
    stage: str  # "load" or the hook name
    message: str


class TokentrailPluginManager(pluggy.PluginManager):
    def __init__(self) -> None:
        super().__init__("tokentrail")
        self.add_hookspecs(hookspecs)
        self.problems: list[PluginProblem] = []
        self.versions: dict[str, str] = {}
        self._disabled: set[str] = set()

    def collect(self, hook_name: str, kind: type[T]) -> list[tuple[str, T]]:
        """Call a `register_*` hook plugin by plugin, so one failure cannot hide the rest."""
        found: list[tuple[str, T]] = []
        for impl in getattr(self.hook, hook_name).get_hookimpls():
            items: list[Any] = []
            try:
                impl.function(*[{"register": items.append}[a] for a in impl.argnames])
            except Exception as exc:  # a plugin's bug must not stop the run
                self.report(impl.plugin_name, hook_name, exc)
                continue
            for item in items:
                if isinstance(item, kind):
                    found.append((impl.plugin_name, item))
                else:
                    self.add_problem(
                        PluginProblem(
                            impl.plugin_name,
                            hook_name,
                            f"registered a {type(item).__name__} "
                            f"{getattr(item, 'name', '')!r}, which is not a {kind.__name__}",
                        )
                    )
        return found

    def adapters(self) -> list[tuple[str, Adapter]]:
        """Every registered log adapter with the plugin that registered it."""
        return self.collect("register_adapters", Adapter)  # type: ignore[type-abstract]

    def detectors(self) -> list[tuple[str, Detector]]:
        """Every registered waste detector with the plugin that registered it."""
        return self.collect("register_detectors", Detector)  # type: ignore[type-abstract]

    def renderers(self) -> list[Renderer]:
        """Every registered renderer, built-ins first (registration order)."""
        found = self.collect("register_renderers", Renderer)  # type: ignore[type-abstract]
        return [renderer for _, renderer in found]

    def renderer(self, name: str, kind: str | None = None) -> Renderer:
        """The renderer for format `name` and document `kind`: the last one registered
        under that name that accepts the kind, so a plugin can take over a built-in
        format for every kind or for the kinds it declares."""
        found = self.renderers()
        for renderer in reversed(found):
            kinds = getattr(renderer, "kinds", None)
            if renderer.name == name and (kind is None or not kinds or kind in kinds):
                return renderer
        names = sorted({r.name for r in found})
        raise TokentrailError(
            "unknown_format", f"no renderer named {name!r}; available: {', '.join(names)}"
        )

    def first_result(self, hook_name: str, kind: type[T], **kwargs: Any) -> tuple[str, T] | None:
        """pluggy's firstresult call order, but a plugin that raises or answers with the
        wrong type is reported once and left out for the rest of the run."""
        return self.first_result_caller(hook_name, kind)(**kwargs)

    def first_result_caller(
        self, hook_name: str, kind: type[T]
    ) -> Callable[..., tuple[str, T] | None]:
        """`first_result` with the hook's implementations looked up once (a hot path:
        pricing calls it for every request)."""
        impls = list(reversed(getattr(self.hook, hook_name).get_hookimpls()))

        def call(**kwargs: Any) -> tuple[str, T] | None:
            for impl in impls:
                if impl.plugin_name in self._disabled:
                    continue
                try:
                    result = impl.function(*[kwargs[a] for a in impl.argnames])
                    if result is not None and not isinstance(result, kind):
                        raise TypeError(f"returned {type(result).__name__}, not {kind.__name__}")
                except Exception as exc:
                    self.report(impl.plugin_name, hook_name, exc)
                    self._disabled.add(impl.plugin_name)
                    continue
                if result is not None:
                    return impl.plugin_name, result
            return None

        return call

    def report(self, plugin: str, stage: str, exc: BaseException) -> None:
        text = " ".join(str(exc).split())  # one line: it becomes one warning line
        self.add_problem(PluginProblem(plugin, stage, f"{type(exc).__name__}: {text}"))

    def add_problem(self, problem: PluginProblem) -> None:
        """Record a failure once: `register_*` hooks run several times in one command."""
        if problem not in self.problems:
            self.problems.append(problem)


def _normal(name: str) -> str:
    """Distribution names compare like pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _allowed_third_party() -> set[str] | None:
    """TOKENTRAIL_PLUGINS="a,b" loads only those entry points (or distributions); "" loads
    none."""
    raw = os.environ.get("TOKENTRAIL_PLUGINS")
    if raw is None:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}


def _unusable(pm: TokentrailPluginManager, plugin: object) -> str | None:
    """What pluggy accepts but tokentrail cannot run: our calls bypass pluggy's wrapper
    machinery, and a misspelt hook name would otherwise be silently ignored."""
    for caller in pm.get_hookcallers(plugin) or []:
        if not caller.has_spec():
            return f"implements {caller.name}, which is not a tokentrail hook"
        for impl in caller.get_hookimpls():
            if impl.plugin is plugin and (impl.hookwrapper or impl.wrapper):
                return f"{caller.name}: hook wrappers are not supported"
    return None


@dataclass(frozen=True)
class Found:
    """A `tokentrail` entry point of an installed distribution."""

    name: str
    value: str  # "module:attribute"
    dist: str | None
    version: str | None

    def load(self) -> Any:
        from importlib.metadata import EntryPoint

        return EntryPoint(self.name, self.value, ENTRY_POINT_GROUP).load()


def _site_state() -> str:
    """The import path and when each of its folders last changed: installing or removing
    a distribution changes its folder, so the same state means the same entry points."""
    parts = []
    for entry in sys.path:
        try:
            parts.append(f"{entry}\0{os.stat(entry or '.').st_mtime_ns}")
        except OSError:
            parts.append(f"{entry}\0-")
    return "\n".join(parts)


def find_entry_points() -> list[Found]:
    """Installed plugins. Scanning every distribution's metadata costs a hook run more than
    its own work, so the result is kept in the index for as long as the import path's
    folders are unchanged."""
    import sqlite3

    import orjson

    from tokentrail.cache import index_path
    from tokentrail.index import Index, IndexCorrupt

    key, index = _site_state(), None
    path = index_path()
    try:
        index = Index(path) if path is not None else None
        stored = index.memo("entry_points", key) if index is not None else None
        if stored is not None:
            return [Found(*item) for item in orjson.loads(stored)]
    except (OSError, sqlite3.Error, IndexCorrupt, ValueError, TypeError):
        stored = None
    from importlib.metadata import entry_points

    found = [
        Found(
            ep.name,
            ep.value,
            ep.dist.name if ep.dist else None,
            ep.dist.version if ep.dist else None,
        )
        for ep in entry_points(group=ENTRY_POINT_GROUP)
    ]
    try:
        if index is not None:
            index.put_memo(
                "entry_points",
                key,
                orjson.dumps([[f.name, f.value, f.dist, f.version] for f in found]),
            )
    except (OSError, sqlite3.Error):
        pass
    finally:
        if index is not None:
            index.close()
    return found


@cache
def get_plugin_manager() -> TokentrailPluginManager:
    pm = TokentrailPluginManager()
    for module_name in BUILTIN_PLUGINS:
        pm.register(importlib.import_module(module_name), name=module_name)
    allowed = _allowed_third_party()
    if allowed is not None and not allowed:
        return pm  # TOKENTRAIL_PLUGINS="": built-ins only, nothing to look for
    wanted = {_normal(name) for name in allowed or ()}
    missing = set(wanted)
    for ep in find_entry_points():
        names = {_normal(ep.name), _normal(ep.dist) if ep.dist else ""}
        if allowed is not None and not names & wanted:
            continue
        missing -= names
        plugin: object = None
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
            problem = _unusable(pm, plugin)
            if problem:
                raise pluggy.PluginValidationError(plugin, problem)
        except (Exception, SystemExit) as exc:  # a plugin must not end the run
            # pluggy keeps the hooks it registered before one that failed validation
            if plugin is not None and pm.get_plugin(ep.name) is plugin:
                pm.unregister(name=ep.name)
            pm.report(ep.name, "load", exc)
            continue
        if ep.version is not None:
            pm.versions[ep.name] = ep.version
    for name in sorted(missing):
        pm.add_problem(PluginProblem(name, "load", "named in TOKENTRAIL_PLUGINS but not installed"))
    return pm
