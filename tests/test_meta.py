"""Tests about the project itself: every hook, command, option and error code documented;
built-ins reached only through the public hooks; commands kept thin."""

from __future__ import annotations

import ast
import functools
import importlib
import re
import runpy
from pathlib import Path

import pluggy

from tokentrail import hookspecs
from tokentrail.plugins import BUILTIN_PLUGINS, get_plugin_manager

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "tokentrail"
DOCS = ROOT / "docs"


@functools.cache  # parsed once for the tests below, which only read the trees
def _modules() -> dict[str, ast.Module]:
    return {
        str(path.relative_to(SRC)): ast.parse(path.read_text(encoding="utf-8"))
        for path in sorted(SRC.rglob("*.py"))
    }


def _imports(tree: ast.Module) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_every_hook_has_a_docs_page() -> None:
    marker = pluggy.HookspecMarker("tokentrail")
    hooks = [
        name
        for name in dir(hookspecs)
        if hasattr(getattr(hookspecs, name), marker.project_name + "_spec")
    ]
    assert hooks, "no hookspecs found"
    for name in hooks:
        page = DOCS / "hooks" / f"{name}.md"
        assert page.is_file(), f"hook {name} has no docs/hooks/{name}.md"
        assert name in page.read_text(encoding="utf-8")


def test_every_command_and_option_is_in_the_cli_reference() -> None:
    generate = runpy.run_path(str(DOCS / "generate.py"))
    assert generate["stale"](("docs/cli.md",)) == [], "run `python docs/generate.py`"


def test_readme_and_action_examples_are_the_tools_own_output() -> None:
    """The README's demo report, note, PR comment and check output and docs/action.md's
    comment are generated from the demo (deterministic, 80 columns): none can drift."""
    generate = runpy.run_path(str(DOCS / "generate.py"))
    blocks = set(generate["BLOCKS"])
    assert {("README.md", n) for n in ("demo", "notes", "comment", "check")} <= blocks
    assert ("docs/action.md", "comment") in blocks
    assert generate["stale"](("README.md", "docs/action.md")) == [], "run `python docs/generate.py`"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    demo = readme.split("<!-- generated:demo -->")[1].split("<!-- /generated:demo -->")[0]
    assert "$ tokentrail demo" in demo and "Branch feature/retry-logic" in demo
    assert max(len(line) for line in demo.splitlines() if not line.startswith("```")) <= 80
    comment = readme.split("<!-- generated:comment -->")[1]
    assert "Source: git notes" in comment.split("<!-- /generated:comment -->")[0]


def _error_codes() -> dict[str, str]:
    """Every `error.code` the code can emit: first arguments of TokentrailError(...), as
    string constants or names assigned string constants in the same module."""
    codes: dict[str, str] = {}
    for rel, tree in _modules().items():
        assigned: dict[str, list[str]] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                strings = [
                    c.value
                    for c in ast.walk(node.value)
                    if isinstance(c, ast.Constant) and isinstance(c.value, str)
                ]
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        assigned.setdefault(target.id, []).extend(strings)
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call) and getattr(node.func, "id", "") == "TokentrailError"
            ):
                continue
            if not node.args:
                continue
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                codes.setdefault(first.value, rel)
            elif isinstance(first, ast.Name):
                for value in assigned.get(first.id, []):
                    if re.fullmatch(r"[a-z]+(?:_[a-z]+)*", value):
                        codes.setdefault(value, rel)
    return codes


def test_every_error_code_is_documented() -> None:
    codes = _error_codes()
    assert {"not_a_repo", "budget_invalid", "github_rate_limited", "unknown_format"} <= set(codes)
    docs = "\n".join(p.read_text(encoding="utf-8") for p in DOCS.rglob("*.md"))
    missing = sorted(
        f"{code} ({where})" for code, where in codes.items() if f"`{code}`" not in docs
    )
    assert missing == [], f"error codes missing from docs/: {missing}"
    assert "`internal_error`" in docs


def test_every_builtin_is_registered_through_the_public_hooks() -> None:
    pm = get_plugin_manager()
    for name in BUILTIN_PLUGINS:
        module = importlib.import_module(name)
        callers = pm.get_hookcallers(module) or []
        assert callers, f"{name} implements no tokentrail hook"
        assert all(c.has_spec() for c in callers)
    registered = {type(a).__module__ for _, a in pm.adapters()}
    registered |= {type(d).__module__ for _, d in pm.detectors()}
    registered |= {type(r).__module__ for r in pm.renderers()}
    pricers = {"tokentrail.builtin.price_genai", "tokentrail.builtin.price_overrides"}
    assert set(BUILTIN_PLUGINS) - pricers <= registered


def test_core_modules_reach_builtins_only_through_hooks() -> None:
    for rel, tree in _modules().items():
        if rel == "plugins.py" or rel.startswith(("builtin/", "demo/")):
            continue
        bad = sorted(i for i in _imports(tree) if i.startswith("tokentrail.builtin"))
        assert bad == [], f"{rel} imports {bad}"


def test_commands_do_not_import_each_other() -> None:
    for rel, tree in _modules().items():
        if not rel.startswith("commands/"):
            continue
        others = {
            i
            for i in _imports(tree)
            if i.startswith("tokentrail.commands.")
            and not i.startswith("tokentrail.commands.common")
        }
        assert others == set(), f"{rel} imports {sorted(others)}"
