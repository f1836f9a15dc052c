"""Lessons: deduplicated and ranked by money saved; the marked block in AGENTS.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from tokentrail.errors import TokentrailError
from tokentrail.lessons import BEGIN, END, build_lessons, write_block
from tokentrail.model import Finding


def _f(lesson: str, usd: float, session: str = "s1", detector: str = "d") -> Finding:
    return Finding(detector, "t", session, [], 100, usd, 0.5, True, lesson)


def test_same_rule_from_many_findings_is_one_lesson_ranked_by_money() -> None:
    lessons = build_lessons(
        [
            _f("Never read `yarn.lock` whole; grep it.", 0.5, "s1", "generated_read"),
            _f("Never  read `yarn.lock` whole; grep it.", 0.7, "s2", "generated_read"),
            _f("Run `pytest` with its output trimmed.", 1.0, "s1", "noisy_output"),
            _f("", 9.0),
        ]
    )
    assert [x.text for x in lessons] == [
        "Never read `yarn.lock` whole; grep it.",
        "Run `pytest` with its output trimmed.",
    ]
    top = lessons[0]
    assert top.count == 2 and top.sessions == ["s1", "s2"]
    assert top.saved_usd == pytest.approx(1.2)
    assert len(top.id) == 10 and top.id != lessons[1].id


def test_a_rule_that_would_have_saved_nothing_is_not_offered() -> None:
    lessons = build_lessons(
        [
            _f("Never re-run a failing call unchanged.", 0.002, "s1", "retry_loop"),
            _f("Never re-run a failing call unchanged.", 0.002, "s2", "retry_loop"),
            _f("Read only the lines you need.", 0.08, "s1", "reread"),
        ]
    )
    assert [x.text for x in lessons] == ["Read only the lines you need."]


def test_block_is_appended_then_updated_in_place_touching_nothing_else(tmp_path: Path) -> None:
    path = tmp_path / "AGENTS.md"
    path.write_text("# Agents\n\nUse tabs.\n", encoding="utf-8")
    assert write_block(path, ["Rule one."])
    first = path.read_text(encoding="utf-8")
    assert first.startswith("# Agents\n\nUse tabs.\n\n" + BEGIN)
    assert "- Rule one." in first and first.endswith(END + "\n")
    path.write_text(first + "\n## Mine\nKeep me.\n", encoding="utf-8")
    assert write_block(path, ["Rule two.", "Rule one."])
    second = path.read_text(encoding="utf-8")
    assert second.count(BEGIN) == 1 and "- Rule two.\n- Rule one." in second
    assert second.startswith("# Agents\n\nUse tabs.\n\n") and second.endswith("Keep me.\n")
    assert not write_block(path, ["Rule two.", "Rule one."])


def test_new_file_and_broken_markers(tmp_path: Path) -> None:
    path = tmp_path / "CLAUDE.md"
    assert write_block(path, [])
    assert "No wasteful patterns found yet." in path.read_text(encoding="utf-8")
    broken = tmp_path / "B.md"
    broken.write_text(f"x\n{END}\n", encoding="utf-8")
    with pytest.raises(TokentrailError, match="without its partner"):
        write_block(broken, [])
    twice = tmp_path / "T.md"
    twice.write_text(f"{BEGIN}\n{END}\n{BEGIN}\n{END}\n", encoding="utf-8")
    with pytest.raises(TokentrailError, match="2 tokentrail lesson blocks"):
        write_block(twice, [])
