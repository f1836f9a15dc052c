"""The plugin manager: built-ins first, then third-party entry points, each isolated.

A third-party plugin that fails to import, raises inside a hook (even `SystemExit`), runs
past its time limit, prints to stdout or answers with a non-finite number is recorded in
`problems` and its contribution dropped; it never breaks a run, corrupts `--json` or
decides a commit.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import math
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache, partial
from types import FrameType
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
TIMEOUT_ENV = "TOKENTRAIL_PLUGIN_TIMEOUT"
DEFAULT_TIMEOUT = 30.0  # seconds per hook call of a third-party plugin
PRINTED = "wrote to stdout (discarded: plugins must not print; use warnings or stderr)"

T = TypeVar("T")


class PluginTimeout(BaseException):
    """Raised inside a plugin call that ran past its time limit. A BaseException, so a
    plugin's own `except Exception` cannot swallow it (and it is raised again every 0.1 s
    until the call gives up)."""


def plugin_timeout() -> float:
    """Seconds a third-party hook call may take (`TOKENTRAIL_PLUGIN_TIMEOUT`, 0 = none)."""
    raw = os.environ.get(TIMEOUT_ENV)
    try:
        value = float(raw) if raw else DEFAULT_TIMEOUT
    except ValueError:
        return DEFAULT_TIMEOUT
    return value if math.isfinite(value) and value > 0 else 0.0


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    raise PluginTimeout


_deadline_active = False


@contextlib.contextmanager
def contained(third_party: bool) -> Iterator[io.StringIO]:
    """Around one plugin call: what it prints on stdout goes into the yielded buffer, not
    into our output; a third party's call also gets a time limit (SIGALRM, main thread
    only; nested calls share the outer deadline)."""
    global _deadline_active
    captured = io.StringIO()
    if not third_party:
        yield captured
        return
    limit = plugin_timeout()
    armed = (
        limit > 0
        and not _deadline_active
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    previous: Any = None
    if armed:
        previous = signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, limit, 0.1)
        _deadline_active = True
    try:
        with contextlib.redirect_stdout(captured):
            yield captured
    finally:
        if armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
            _deadline_active = False


def describe_failure(exc: BaseException) -> str:
    """One line for a plugin's failure (it becomes one warning line)."""
    if isinstance(exc, PluginTimeout):
        return f"took longer than {plugin_timeout():g} s (disabled for this run)"
    if isinstance(exc, SystemExit):
        return f"called sys.exit({exc.code!r}) (ignored: a plugin cannot end the run)"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _ran(function: Callable[..., Any], args: list[Any]) -> bool:
    function(*args)
    return True


def _boxed(check: Callable[[Any], Any], function: Callable[..., Any], args: list[Any]) -> list[Any]:
    """The checked answer in a list, so a None answer differs from a failed call."""
    return [check(function(*args))]


def is_number(value: Any) -> bool:
    """A finite int or float (bool excluded): what a price or a waste figure must be."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


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
        self._disabled: set[str] = set()  # timed out: out of the run for every hook
        self._off: dict[str, set[str]] = {}  # hook -> plugins whose answer to it failed

    def is_builtin(self, plugin: str) -> bool:
        return plugin in BUILTIN_PLUGINS

    def guard(self, plugin: str, stage: str, call: Callable[[], T]) -> T | None:
        """Run one call into plugin code: stdout kept out of ours, a time limit for third
        parties, and any failure (even SystemExit) reported instead of raised. None when it
        failed. A plugin that ran past its time limit is left out of the rest of the run."""
        if plugin in self._disabled:
            return None
        third_party = not self.is_builtin(plugin)
        try:
            with contained(third_party) as printed:
                result = call()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # a plugin must not end the run, whatever it raises
            self.report(plugin, stage, exc)
            if isinstance(exc, PluginTimeout):
                self._disabled.add(plugin)
            return None
        if printed.getvalue():
            self.add_problem(PluginProblem(plugin, stage, PRINTED))
        return result

    def collect(self, hook_name: str, kind: type[T]) -> list[tuple[str, T]]:
        """Call a `register_*` hook plugin by plugin, so one failure cannot hide the rest."""
        found: list[tuple[str, T]] = []
        for impl in getattr(self.hook, hook_name).get_hookimpls():
            items: list[Any] = []
            args = [{"register": items.append}[a] for a in impl.argnames]
            done = self.guard(impl.plugin_name, hook_name, partial(_ran, impl.function, args))
            if done is None:
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
        return self.renderer_of(name, kind)[1]

    def renderer_of(self, name: str, kind: str | None = None) -> tuple[str, Renderer]:
        """`renderer`, with the plugin that registered it (so its call can be contained)."""
        found = self.collect("register_renderers", Renderer)  # type: ignore[type-abstract]
        for plugin, renderer in reversed(found):
            kinds = getattr(renderer, "kinds", None)
            if renderer.name == name and (kind is None or not kinds or kind in kinds):
                return plugin, renderer
        names = sorted({r.name for _, r in found})
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

        def valid(result: Any) -> Any:
            if result is not None and not isinstance(result, kind):
                raise TypeError(f"returned {type(result).__name__}, not {kind.__name__}")
            cost = getattr(result, "cost_usd", 0.0)
            if result is not None and not (is_number(cost) and cost >= 0):
                raise ValueError(f"returned a cost of {cost!r} (not a finite number >= 0)")
            return result

        off = self._off.setdefault(hook_name, set())  # plugins whose answer failed once
        builtin = {i.plugin_name for i in impls if self.is_builtin(i.plugin_name)}

        def call(**kwargs: Any) -> tuple[str, T] | None:
            for impl in impls:
                name = impl.plugin_name
                if name in self._disabled or name in off:
                    continue
                args = [kwargs[a] for a in impl.argnames]
                if name in builtin:  # ours: no containment cost on the hot path
                    try:
                        result = impl.function(*args)
                        if result is None:
                            continue
                        result = valid(result)
                    except Exception as exc:  # one bad request, not a broken plugin
                        self.report(name, hook_name, exc)
                        continue
                else:
                    boxed = self.guard(name, hook_name, partial(_boxed, valid, impl.function, args))
                    if boxed is None:
                        off.add(name)  # reported once, left out for the rest of the run
                        continue
                    result = boxed[0]
                if result is not None:
                    return name, result
            return None

        return call

    def report(self, plugin: str, stage: str, exc: BaseException) -> None:
        self.add_problem(PluginProblem(plugin, stage, describe_failure(exc)))

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

    from importlib.metadata import entry_points  # scanning is what the memo saves

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
            with contained(True) as printed:
                plugin = ep.load()
            if printed.getvalue():
                pm.add_problem(PluginProblem(ep.name, "load", PRINTED))
            pm.register(plugin, name=ep.name)
            problem = _unusable(pm, plugin)
            if problem:
                raise pluggy.PluginValidationError(plugin, problem)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # a plugin must not end the run, whatever it raises
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
