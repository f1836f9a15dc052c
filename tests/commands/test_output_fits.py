"""What a newcomer sees in an 80-column terminal: every line of `report`, `sessions`,
`session`, `check`, `lessons` and `demo` fits, on the demo repository; the demo reads the
same whatever folder it is built in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_inprocess import invoke, run_ok
from tokentrail.demo.repo import Demo, build_demo
from tokentrail.pipeline import build_receipt

COMMANDS = [
    ("report",),
    ("report", "--from-notes"),
    ("sessions",),
    ("session", "93e48598"),
    ("check", "--budget", "2", "--commit-budget", "0.25"),
    ("lessons",),
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    return build_demo(tmp_path_factory.mktemp("fits") / "a-folder-with-a-long-name" / "demo")


@pytest.fixture
def in_demo(demo: Demo, monkeypatch: pytest.MonkeyPatch) -> Demo:
    for name, value in demo.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(demo.repo)
    return demo


def lines_over(text: str, width: int) -> list[str]:
    return [line for line in text.splitlines() if len(line) > width]


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
@pytest.mark.parametrize("width", [80, 60])
def test_no_line_is_wider_than_the_terminal(
    in_demo: Demo, args: tuple[str, ...], width: int
) -> None:
    if args[0] == "report" and "--from-notes" in args:
        run_ok("note", "--range", f"{in_demo.base}..{in_demo.branch}", "--quiet")
    result = invoke(*args, env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip()
    assert lines_over(result.stdout, width) == []
    assert lines_over(result.stderr, width) == []


def test_demo_fits_80_columns(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # `demo` points the adapters at its own logs: let the test put the variables back
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "none"))
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "none"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    result = run_ok("demo", env={"COLUMNS": "80"})
    assert "Branch feature/retry-logic" in result.stdout
    assert lines_over(result.stdout, 80) == []


def test_a_wide_terminal_gets_every_column(in_demo: Demo) -> None:
    out = run_ok("report", env={"COLUMNS": "200"}).stdout
    assert "INPUT  CACHE RD  CACHE WR  OUTPUT" in out
    assert "Retry failed requests with exponential backoff" in out
    narrow = run_ok("report", env={"COLUMNS": "80"}).stdout
    assert "COST" in narrow and "…" in narrow  # subjects shortened, cost kept


def test_figures_read_the_same_in_the_terminal_and_in_markdown(in_demo: Demo) -> None:
    text = run_ok("report", env={"COLUMNS": "200"}).stdout
    markdown = run_ok("report", "--markdown").stdout
    for figure in ("<$0.01", "90%", "5.3k", "$0.58", "~$0.60"):
        assert figure in text and figure in markdown, figure
    for stale in ("$0.0002", "0.9 ", "5299", "50 %"):
        assert stale not in text and stale not in markdown, stale


def test_session_shows_the_commits_the_agent_made(in_demo: Demo) -> None:
    out = run_ok("session", "93e48598").stdout
    assert f"commits the agent made: {in_demo.agent_commit[:7]} on feature/retry-logic" in out


def _report(demo: Demo, monkeypatch: pytest.MonkeyPatch) -> str:
    for name, value in demo.env().items():
        monkeypatch.setenv(name, value)
    doc = build_receipt(demo.repo, demo.base)
    text = json.dumps({k: doc[k] for k in ("totals", "commits", "findings", "carry")})
    return text.replace(str(demo.root), "ROOT")


def test_the_demo_is_the_same_in_any_folder(
    demo: Demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Token counts once depended on the length of the folder path (it is in tool
    arguments and results): the writers size them as if in one fixed folder."""
    longer = build_demo(tmp_path / ("much-longer-" * 6) / "demo")
    assert len(str(longer.root)) > len(str(demo.root)) + 40
    assert _report(longer, monkeypatch) == _report(demo, monkeypatch)
