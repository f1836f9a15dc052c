"""Every real Claude Code and Codex file in the corpus gives MANIFEST.md's deduplicated sums,
read through the public CLI's --json output."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.cli_run import CORPUS, claude_config_from_corpus, isolated_env, tokentrail_json

ROW = re.compile(r"^\| `(?P<path>[^`]+)` \| (?P<rest>.*)\|$")


def manifest_rows() -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    claude: dict[str, list[str]] = {}
    codex: dict[str, list[str]] = {}
    text = (CORPUS / "MANIFEST.md").read_text(encoding="utf-8")
    sums = text.split("## Expected token sums", 1)[1]
    for line in sums.splitlines():
        match = ROW.match(line)
        if not match:
            continue
        cells = [c.strip() for c in match["rest"].split("|")]
        (claude if match["path"].startswith("claude-code/") else codex)[match["path"]] = cells
    return claude, codex


CLAUDE_ROWS, CODEX_ROWS = manifest_rows()


def codex_home_from_corpus(tmp: Path) -> Path:
    """CODEX_HOME/sessions with every corpus rollout linked under a rollout-*.jsonl name."""
    day = tmp / "codex" / "sessions" / "2026" / "01" / "01"
    day.mkdir(parents=True)
    for rel in CODEX_ROWS:
        (day / f"rollout-{rel.replace('/', '__')}").symlink_to(CORPUS / rel)
    return tmp / "codex"


@pytest.fixture(scope="module")
def per_file(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Corpus-relative file path -> the CLI's figures for that file."""
    tmp = tmp_path_factory.mktemp("corpus")
    env = isolated_env(
        tmp / "home",
        CLAUDE_CONFIG_DIR=claude_config_from_corpus(tmp),
        CODEX_HOME=codex_home_from_corpus(tmp),
    )
    listing = tokentrail_json("sessions", env=env)
    details = [tokentrail_json("session", s["id"], env=env) for s in listing["sessions"]]
    out: dict[str, dict[str, Any]] = {}
    corpus = str(CORPUS.resolve())
    for detail in details:
        for row in detail["by_file"]:
            out[os.path.relpath(os.path.realpath(row["file"]), corpus)] = row
    return out


def test_manifest_was_read() -> None:
    assert len(CLAUDE_ROWS) >= 30 and len(CODEX_ROWS) >= 10


@pytest.mark.parametrize("rel", sorted(CLAUDE_ROWS))
def test_claude_code_file_sums(per_file: dict[str, dict[str, Any]], rel: str) -> None:
    calls, inp, out, cache_creation, cache_read, web = CLAUDE_ROWS[rel][:6]
    if calls == "0":
        assert rel not in per_file or per_file[rel]["requests"] == 0
        return
    split = re.match(r"(\d+) \((\d+)/(\d+)\)", cache_creation)
    assert split
    got = per_file[rel]
    assert got["requests"] == int(calls)
    assert got["input_tokens"] == int(inp)
    assert got["output_tokens"] == int(out)
    assert got["cache_write_tokens"] == int(split[1])
    assert got["cache_write_1h_tokens"] == int(split[3])
    assert got["cache_read_tokens"] == int(cache_read)
    assert got["web_search_requests"] == int(web)


@pytest.mark.parametrize("rel", sorted(CODEX_ROWS))
def test_codex_file_sums(per_file: dict[str, dict[str, Any]], rel: str) -> None:
    inp, cached, out, reasoning, total = (int(x) for x in CODEX_ROWS[rel][1].split(" / "))
    if total == 0:
        assert rel not in per_file or per_file[rel]["requests"] == 0
        return
    got = per_file[rel]
    # Codex input_tokens include the cached part; ours are split into uncached + cache read.
    assert got["input_tokens"] + got["cache_read_tokens"] == inp
    assert got["cache_read_tokens"] == cached
    assert got["output_tokens"] == out
    assert got["reasoning_tokens"] == reasoning
    assert got["cache_write_tokens"] == 0
