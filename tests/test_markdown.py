"""The Markdown builder: tables keep their shape, sections shed in weight order."""

from __future__ import annotations

from tests.hostile import check_markdown, parser
from tokentrail.escape import text
from tokentrail.markdown import Document, mermaid_label


def test_table_escapes_pipes_and_pads_rows() -> None:
    doc = Document()
    s = doc.section("s")
    s.heading(3, "Title\nsplit")
    s.table(("A", "B|C", "D"), [["1|2", "x"], ["`a|b`", "y\nz", "w", "extra"]], "lrc")
    md = doc.render()
    seen = check_markdown(md)
    assert seen == {"tables": 1, "rows": 3}
    assert "### Title split" in md and "|--:|:-:|" in md


def test_details_and_mermaid_and_comment() -> None:
    doc = Document()
    s = doc.section("s")
    s.comment("tokentrail:receipt -- end")
    box = s.details("More")
    box.mermaid('pie\n    "a```b" : 1')
    box.bullets(["one", "two"], numbered=True)
    md = doc.render()
    assert md.startswith("<!-- tokentrail:receipt  end -->")
    assert "```mermaid\npie\n    \"a'''b\" : 1\n```" in md
    html = parser().render(md)
    assert "<details>" in html and "<summary>More</summary>" in html and "<ol>" in html
    assert mermaid_label('x"]\n`;<b>') == "x b" or mermaid_label('x"]\n`;<b>') == "x b"


def test_fit_drops_lowest_weight_first_then_shrinks_tables() -> None:
    doc = Document(where_full="See the summary.")
    doc.section("head", 1000).para("HEAD")
    big = doc.section("big table", 500)
    big.table(("n", "v"), [[str(i), text("x" * 50)] for i in range(400)])
    doc.section("charts", 100).para("C" * 5000)
    doc.section("details", 50).para("D" * 5000)
    full = doc.render()
    assert len(full) > 25_000
    out = doc.render(limit=20_000)
    assert len(out) <= 20_000
    assert "HEAD" in out and "DDDD" not in out and "CCCC" not in out
    assert "left out details, charts" in out and "See the summary." in out
    assert "more row(s) left out" in out
    check_markdown(out)


def test_fit_hard_cut_keeps_the_limit() -> None:
    doc = Document()
    doc.section("head", 1000).para("H" * 10_000)
    out = doc.render(limit=1000)
    assert len(out) <= 1000 and "Shortened" in out
