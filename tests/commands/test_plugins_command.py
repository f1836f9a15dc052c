"""`tokentrail plugins` with a real third-party package installed (tests/fake_plugin)."""

from __future__ import annotations

import importlib
import json
from typing import Any

import pytest

import tokentrail
from tests.cli_run import tokentrail as run
from tests.cli_run import tokentrail_json
from tokentrail.plugins import BUILTIN_PLUGINS

FAKE_HOOKS = ["price_request", "register_adapters", "register_detectors", "register_renderers"]
# What tests/fake_plugin/pyproject.toml declares, and what each one must end up as.
LOADED = {"fake", "broken_register", "misbehaving"}
LOAD_FAILURES = {
    "broken_import": "ImportError: tokentrail-fake-plugin: broken_import needs a module",
    "half_loaded": "are declared in the hookimpl but can not be found in the hookspec",
    "wrapper": "price_request: hook wrappers are not supported",
    "misspelt": "implements register_adapter, which is not a tokentrail hook",
}


def hooks_of(module_name: str) -> list[str]:
    """The hooks a module implements, read from pluggy's own markers."""
    module = importlib.import_module(module_name)
    return sorted(n for n in dir(module) if hasattr(getattr(module, n), "tokentrail_impl"))


def third_party(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in doc["plugins"] if not p["builtin"]}


def problems(doc: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p["plugin"], p["stage"]) for p in doc["problems"]]


def test_json_lists_builtins_the_fake_plugin_and_every_failure(plugin_env: dict[str, str]) -> None:
    proc = run("plugins", "--json", env=plugin_env)
    assert proc.returncode == 0
    doc = json.loads(proc.stdout)
    assert doc["schema_version"] == 1
    assert doc["tool_version"] == tokentrail.__version__
    assert doc["kind"] == "plugins"

    builtins = {p["name"]: p for p in doc["plugins"] if p["builtin"]}
    assert set(builtins) == set(BUILTIN_PLUGINS)
    for name, row in builtins.items():
        assert row["version"] == tokentrail.__version__
        assert row["hooks"] == hooks_of(name) != []

    loaded = third_party(doc)
    assert set(loaded) == LOADED
    assert loaded["fake"] == {
        "name": "fake",
        "builtin": False,
        "version": "1.2.3",
        "hooks": FAKE_HOOKS,
    }
    assert loaded["broken_register"]["hooks"] == ["register_adapters"]

    # Each failure once (register_* hooks run several times a command), with its stage.
    assert sorted(problems(doc)) == sorted(
        [(name, "load") for name in LOAD_FAILURES] + [("broken_register", "register_adapters")]
    )
    by_plugin = {p["plugin"]: p["message"] for p in doc["problems"]}
    for name, text in LOAD_FAILURES.items():
        assert text in by_plugin[name]
        assert "\n" not in by_plugin[name]
    assert by_plugin["broken_register"] == "RuntimeError: fake plugin bug in register_adapters"


def test_text_output_shows_versions_and_failures(plugin_env: dict[str, str]) -> None:
    proc = run("plugins", env={**plugin_env, "COLUMNS": "200"})  # the whole hooks column
    assert proc.returncode == 0
    fake_row = next(line for line in proc.stdout.splitlines() if line.startswith("fake "))
    assert "1.2.3" in fake_row and "third-party" in fake_row
    assert ", ".join(FAKE_HOOKS) in fake_row
    for name in LOAD_FAILURES:
        assert f"FAILED {name} (load): " in proc.stdout
    assert (
        "FAILED broken_register (register_adapters): RuntimeError: fake plugin bug" in proc.stdout
    )
    assert "Traceback" not in proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("setting", "loaded", "failed"),
    [
        ("fake", {"fake"}, set()),
        (" fake , broken_import ", {"fake"}, {"broken_import"}),
        ("", set(), set()),
        # a distribution name selects all its entry points, compared as pip compares names
        ("Tokentrail_Fake.Plugin", LOADED, {*LOAD_FAILURES, "broken_register"}),
    ],
)
def test_tokentrail_plugins_selects_what_loads(
    plugin_env: dict[str, str], setting: str, loaded: set[str], failed: set[str]
) -> None:
    doc = tokentrail_json("plugins", env={**plugin_env, "TOKENTRAIL_PLUGINS": setting})
    assert set(third_party(doc)) == loaded
    assert {name for name, _ in problems(doc)} == failed
    assert {p["name"] for p in doc["plugins"] if p["builtin"]} == set(BUILTIN_PLUGINS)


def test_unset_loads_every_installed_plugin(plugin_env: dict[str, str]) -> None:
    assert "TOKENTRAIL_PLUGINS" not in plugin_env
    doc = tokentrail_json("plugins", env=plugin_env)
    assert set(third_party(doc)) | {name for name, _ in problems(doc)} == {
        *LOADED,
        *LOAD_FAILURES,
    }


def test_a_name_that_matches_nothing_is_reported(plugin_env: dict[str, str]) -> None:
    doc = tokentrail_json("plugins", env={**plugin_env, "TOKENTRAIL_PLUGINS": "fake,fak"})
    assert set(third_party(doc)) == {"fake"}
    assert doc["problems"] == [
        {
            "plugin": "fak",
            "stage": "load",
            "message": "named in TOKENTRAIL_PLUGINS but not installed",
        }
    ]


def test_the_shared_environment_does_not_see_the_fake_plugin(plugin_env: dict[str, str]) -> None:
    """The package is installed in a private folder only: without it on the path, nothing."""
    env = {k: v for k, v in plugin_env.items() if k != "PYTHONPATH"}
    doc = tokentrail_json("plugins", env=env)
    assert third_party(doc) == {}
    assert doc["problems"] == []
