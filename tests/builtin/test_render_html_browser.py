"""The HTML pages in a real headless Chromium: they load with no console error (the CSP
would report any script or network load), and the SVG charts are drawn (screenshots kept
for a person to look at)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser import chromium, load
from tests.teamrepos import Team, cli_run

pytestmark = pytest.mark.skipif(
    chromium() is None and not os.environ.get("CI"),
    reason="chromium is not installed (apt-get install -y chromium); CI must have it",
)


def _check(page: Path, tmp_path: Path, expect: list[str], charts: int) -> None:
    loaded = load(page, tmp_path / f"profile-{page.stem}")
    shot = tmp_path / f"{page.stem}.png"
    shot.write_bytes(loaded.screenshot)
    assert loaded.errors == [], loaded.messages
    assert loaded.screenshot.startswith(b"\x89PNG") and len(loaded.screenshot) > 20_000
    assert loaded.svg_count >= charts and loaded.drawn_bars >= charts
    for words in expect:
        assert words in loaded.text, words


def test_rollup_and_report_pages(team: Team, tmp_path: Path) -> None:
    rollup = tmp_path / "rollup.html"
    cli_run(team.root, "rollup", *map(str, team.repos.values()), "--html", str(rollup))
    _check(rollup, tmp_path, ["Spend per week", "Cost per repository", "Waste by cause"], 4)
    report = tmp_path / "report.html"
    gamma = team.repos["gamma"]
    cli_run(gamma, "report", "--from-notes", "--base", team.bases["gamma"], "--html", str(report))
    _check(report, tmp_path, ["Cost per commit", "Estimated waste by cause", "Commits"], 3)


def test_session_page(team: Team, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(team.root / "claude"))
    monkeypatch.setenv("CODEX_HOME", str(team.root / "codex"))
    sessions = cli_run(team.root, "sessions", "--json")["sessions"]
    claude = next(s for s in sessions if s["agent"] == "claude-code")
    page = tmp_path / "session.html"
    page.write_text(cli_run(team.root, "session", claude["id"], "--format", "html"))
    _check(page, tmp_path, ["Cost per model", "By subagent"], 2)


def test_the_check_catches_a_page_that_loads_from_the_network(tmp_path: Path) -> None:
    """The CSP our pages carry turns any script or remote load into a console error."""
    from tokentrail.builtin.render_html import page

    bad = tmp_path / "bad.html"
    bad.write_text(page("hello").replace("</body>", "<script>console.log(1)</script></body>"))
    loaded = load(bad, tmp_path / "profile")
    assert any("Content Security Policy" in e for e in loaded.errors), loaded.messages
