"""`report --html FILE`: a standalone page whose tables are real <table> elements."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from tests.builtin.test_render_markdown import hostile_repo
from tests.gitrepo import feature_branch
from tests.hostile import SECRET


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.tables: list[list[int]] = []  # cells per row, per table

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append(0)
        elif tag in ("td", "th"):
            self.tables[-1][-1] += 1


def test_report_html_is_a_standalone_page_with_real_tables(tmp_path: Path) -> None:
    f = feature_branch(tmp_path)
    target = tmp_path / "out" / "report.html"
    target.parent.mkdir()
    text = f.env.run(f.repo.path, "report", "--html", str(target)).stdout
    assert "Branch feat" in text  # the terminal report still prints
    page = target.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page and "<script" not in page
    tags = Tags()
    tags.feed(page)
    assert tags.tags.count("table") >= 2 and "thead" in tags.tags and "details" in tags.tags
    assert f.c1[:7] in page and "API-equivalent" in page


def test_hostile_strings_stay_text_in_html(tmp_path: Path) -> None:
    h = hostile_repo(tmp_path)
    target = tmp_path / "r.html"
    h.env.run(h.repo.path, "report", "--base", "main", "--html", str(target))
    page = target.read_text()
    tags = Tags()
    tags.feed(page)
    assert not {"script", "img", "b", "a"} & set(tags.tags)
    assert SECRET not in page and "pw@" not in page
    # every row of a table has as many cells as its header (pipes did not split cells)
    assert len(tags.tables) >= 3
    for rows in tags.tables:
        assert len(rows) >= 2 and len(set(rows)) == 1, rows
    assert "&lt;script&gt;" in page


def test_unwritable_html_target_is_a_clear_error(tmp_path: Path) -> None:
    f = feature_branch(tmp_path)
    proc = f.env.run(
        f.repo.path, "report", "--html", str(tmp_path / "missing" / "r.html"), check=False
    )
    assert proc.returncode == 1 and "cannot write" in proc.stderr and "Traceback" not in proc.stderr
