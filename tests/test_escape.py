"""escape: log strings become inert Markdown (parsed back with markdown-it-py)."""

from __future__ import annotations

from tests.hostile import COMMAND, PATH, SECRET, check_markdown, parser
from tokentrail.escape import cell, code, text


def test_text_is_inert_and_redacted() -> None:
    raw = f"<script>alert(1)</script> @octocat fixes #12 and GH-7 **b** [x](http://e) {SECRET}"
    out = text(raw)
    check_markdown(f"Before: {out}", SECRET)
    html = parser().render(out)
    assert "&lt;script&gt;" in html and "<strong>" not in html and "<a " not in html
    assert "[REDACTED]" in html


def test_text_flattens_lines_and_cuts() -> None:
    out = text("one\ntwo\r\n\n# three", limit=10)
    assert "\n" not in out and out.endswith("…")
    assert text("# heading").startswith("\\#")
    assert text("- item").startswith("\\-")


def test_code_span_survives_backticks_and_pipes_in_a_table() -> None:
    for raw in ("a`b", "``x``", "`lead", "trail`", PATH, COMMAND):
        span = code(raw)
        md = f"| h |\n|---|\n| {cell(span)} |\n"
        check_markdown(md, SECRET)
        tokens = parser().parse(md)
        inline = next(t for t in tokens if t.type == "inline" and t.map and t.map[0] == 2)
        codes = [c.content for c in inline.children or [] if c.type == "code_inline"]
        assert len(codes) == 1, (raw, span, codes)
        assert codes[0] == " ".join(code_raw.split()) if (code_raw := raw) != COMMAND else True


def test_code_keeps_path_exactly_and_redacts_command() -> None:
    md = f"| h |\n|---|\n| {cell(code(PATH))} |\n"
    inline = [t for t in parser().parse(md) if t.type == "inline"][-1]
    assert [c.content for c in inline.children or [] if c.type == "code_inline"] == [PATH]
    redacted = code(COMMAND)
    assert SECRET not in redacted and "pw@" not in redacted and "[REDACTED]" in redacted


def test_empty_code_and_cell() -> None:
    assert code("") == ""
    assert cell("a|b\nc") == "a\\|b c"
