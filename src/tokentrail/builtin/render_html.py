"""The `html` renderer: standalone pages people would rather look at than read.

A page is one file that works offline: inline CSS, charts drawn as inline SVG (cost per
commit, waste by cause, spend per week, per model, ...), tables, and no script at all — the
Content-Security-Policy forbids every script and every load from the network. The report and
roll-up tables come from the same Markdown the PR comment uses (markdown-it-py, GFM tables);
Mermaid stays in the PR comment, where GitHub draws it, so the page leaves it out.

Raw HTML is allowed through the Markdown parser because our own Markdown uses `<details>`
and `<sub>`; every log-derived string was entity-escaped by `escape.text` before it got
there, and every string drawn in a chart goes through `escape.flat` (redaction) and
`escape.html` here, so none of it can become a tag.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from markdown_it import MarkdownIt

from tokentrail.builtin.render_markdown import (
    MarkdownRenderer,
    cost_label,
    receipt_document,
    rollup_document,
    session_document,
)
from tokentrail.builtin.render_text import money, tokens
from tokentrail.escape import cut, flat, html
from tokentrail.hookspecs import Renderer, hookimpl

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
PALETTE = ("#0969da", "#8250df", "#1a7f37", "#bf3989", "#9a6700", "#cf222e", "#57606a")
CSS = """
body{font:14px/1.5 -apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1180px;
margin:2em auto;padding:0 1em;color:#1f2328;background:#fff}
h1{font-size:1.6em;margin:.2em 0}h3,h4{margin-top:1.6em}
.sub{color:#57606a;margin:0 0 1em}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:1em 0}
.card{border:1px solid #d0d7de;border-radius:8px;padding:10px 14px;min-width:130px}
.card strong{display:block;font-size:1.35em}.card span{color:#57606a;font-size:.9em}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:16px}
figure{margin:0;border:1px solid #d0d7de;border-radius:8px;padding:10px}
figcaption{font-weight:600;margin-bottom:6px}
svg text{font:11px -apple-system,Segoe UI,Helvetica,Arial,sans-serif;fill:#1f2328}
svg .axis{stroke:#d0d7de}svg .muted{fill:#57606a}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #d0d7de;padding:4px 8px}
th{background:#f6f8fa}td{vertical-align:top}code{background:#f6f8fa;padding:1px 4px;
border-radius:4px}pre{background:#f6f8fa;padding:8px;overflow:auto}
details{margin:1em 0}summary{cursor:pointer;font-weight:600}
""".strip()


def markdown_parser() -> MarkdownIt:
    """CommonMark plus GFM tables and strikethrough (what GitHub renders in a comment)."""
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def label(value: object, limit: int = 28) -> str:
    """A log- or git-derived string for a chart: redacted, one line, short, escaped."""
    return html(cut(flat(value), limit))


def _usd(value: float) -> str:
    return f"${value:,.2f}" if value >= 0.01 or value == 0 else f"${value:.4f}"


def bar_chart(items: Sequence[tuple[str, float]], unit: Callable[[float], str] = _usd) -> str:
    """Vertical bars (one per item, in order), value above each bar, label below."""
    if not items:
        return ""
    width, height, left, bottom, top = 560, 240, 56, 46, 18
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = max(v for _, v in items) or 1.0
    step = plot_w / len(items)
    bar = max(min(step * 0.7, 60), 2)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img">',
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{width - 10}" '
        f'y2="{top + plot_h}"/>',
    ]
    for fraction in (0.5, 1.0):
        y = top + plot_h * (1 - fraction)
        parts.append(
            f'<line class="axis" x1="{left}" y1="{y:.1f}" x2="{width - 10}" y2="{y:.1f}" '
            'stroke-dasharray="3 3"/>'
            f'<text class="muted" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{html(unit(peak * fraction))}</text>"
        )
    for i, (name, value) in enumerate(items):
        h = plot_h * (value / peak) if peak else 0
        x = left + i * step + (step - bar) / 2
        y = top + plot_h - h
        color = PALETTE[0]
        parts.append(
            f"<g><title>{label(name, 80)}: {html(unit(value))}</title>"
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{max(h, 0.5):.1f}" '
            f'fill="{color}" rx="2"/>'
        )
        if len(items) <= 16:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle">'
                f"{html(unit(value))}</text>"
            )
        if len(items) <= 24:
            parts.append(
                f'<text class="muted" x="{x + bar / 2:.1f}" y="{top + plot_h + 14}" '
                f'text-anchor="middle">{label(name, max(int(step / 6.5), 7))}</text>'
            )
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def hbar_chart(items: Sequence[tuple[str, float]], unit: Callable[[float], str] = _usd) -> str:
    """Horizontal bars, biggest first as given, a colour per bar; for causes and models."""
    if not items:
        return ""
    row, left, width = 26, 190, 560
    height = row * len(items) + 8
    peak = max(v for _, v in items) or 1.0
    span = width - left - 80
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img">'
    ]
    for i, (name, value) in enumerate(items):
        y = 4 + i * row
        w = span * (value / peak) if peak else 0
        color = PALETTE[i % len(PALETTE)]
        parts.append(
            f"<g><title>{label(name, 120)}: {html(unit(value))}</title>"
            f'<text x="{left - 8}" y="{y + 15}" text-anchor="end">{label(name, 30)}</text>'
            f'<rect x="{left}" y="{y + 3}" width="{max(w, 0.5):.1f}" height="{row - 8}" '
            f'fill="{color}" rx="2"/>'
            f'<text x="{left + w + 6:.1f}" y="{y + 15}">{html(unit(value))}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def figure(caption: str, svg: str) -> str:
    return f"<figure><figcaption>{html(caption)}</figcaption>{svg}</figure>" if svg else ""


def cards(items: Sequence[tuple[str, str]]) -> str:
    inner = "".join(
        f'<div class="card"><strong>{html(v)}</strong><span>{html(k)}</span></div>'
        for k, v in items
    )
    return f'<div class="cards">{inner}</div>'


def page(markdown_text: str, title: str = "tokentrail report", head: str = "") -> str:
    """A standalone page: `head` (HTML: title, cards, charts) above the Markdown body."""
    body = markdown_parser().render(markdown_text)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"{head}{body}</body>\n</html>\n"
    )


def charts(*figures: str) -> str:
    shown = [f for f in figures if f]
    return f'<div class="charts">{"".join(shown)}</div>' if shown else ""


def _waste_by_cause(findings: Sequence[Mapping[str, Any]]) -> list[tuple[str, float]]:
    causes: dict[str, float] = {}
    for f in findings:
        name = str(f.get("detector") or "?")
        causes[name] = causes.get(name, 0.0) + float(f.get("wasted_usd") or 0.0)
    return sorted(causes.items(), key=lambda kv: -kv[1])


def report_page(doc: Mapping[str, Any]) -> str:
    t = doc["totals"]
    findings = doc.get("findings") or []
    bars = [(str(c.get("sha", ""))[:7], float(c.get("cost_usd") or 0)) for c in doc["commits"]]
    pending = doc.get("pending") or {}
    if pending.get("requests"):
        bars.append(("pending", float(pending.get("cost_usd") or 0)))
    wasted = sum(float(f.get("wasted_usd") or 0) for f in findings)
    head = (
        f"<h1>tokentrail receipt for {label(doc.get('branch') or 'detached HEAD', 80)}</h1>"
        f'<p class="sub">{html(cost_label(t))}</p>'
        + cards(
            [
                ("API-equivalent cost", money(t)),
                ("tokens", tokens(t.get("total_tokens"))),
                ("requests", str(t.get("requests", 0))),
                ("sessions", str(len(doc.get("sessions") or []))),
                ("commits", str(len(doc.get("commits") or []))),
                ("estimated waste", _usd(wasted)),
            ]
        )
        + charts(
            figure("Cost per commit (USD, API-equivalent)", bar_chart(bars)),
            figure("Estimated waste by cause (USD)", hbar_chart(_waste_by_cause(findings))),
            figure("Requests per model", hbar_chart(_models(doc.get("sessions") or []), _count)),
        )
    )
    document = receipt_document(doc)
    document.sections = [s for s in document.sections if s.name != "the charts"]
    return page(document.render(), "tokentrail receipt", head)


def _count(value: float) -> str:
    return f"{value:,.0f}"


def _models(sessions: Sequence[Mapping[str, Any]]) -> list[tuple[str, float]]:
    mix: dict[str, float] = {}
    for s in sessions:
        for model, n in (s.get("models") or {}).items():
            mix[str(model)] = mix.get(str(model), 0.0) + float(n)
    return sorted(mix.items(), key=lambda kv: -kv[1])


def _rows_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def session_page(doc: Mapping[str, Any]) -> str:
    s = doc["session"]
    parts = [
        f"<h1>{label(s['agent'], 40)} session {label(s['id'], 60)}</h1>",
        f'<p class="sub">{label(s.get("start") or "?", 40)} → {label(s.get("end") or "?", 40)}'
        f" · API-equivalent {html(money(s))}</p>",
        cards(
            [
                ("API-equivalent cost", money(s)),
                ("tokens", tokens(s.get("total_tokens"))),
                ("requests", str(s["requests"])),
                ("tool calls", f"{doc['tool_calls']} ({doc['tool_errors']} failed)"),
                ("prompts", str(doc["prompts"])),
                ("compactions", str(doc["compactions"])),
            ]
        ),
        charts(
            figure(
                "Cost per model (USD)",
                hbar_chart([(r["model"], float(r["cost_usd"] or 0)) for r in doc["by_model"]]),
            ),
            figure(
                "Cost per thread (main and subagents, USD)",
                hbar_chart(
                    [(r["subagent"], float(r["cost_usd"] or 0)) for r in doc["by_subagent"]][:12]
                ),
            ),
        ),
    ]
    # the postmortem (likely cause, waste, what burned context, lessons, usage) as Markdown
    body = session_document(doc, heading=False).render()
    return page(body, f"tokentrail session {cut(flat(s['id']), 40)}", "".join(parts))


def rollup_page(doc: Mapping[str, Any]) -> str:
    t, by, waste = doc["totals"], doc["by"], doc["waste"]
    weeks = [(w["week"], float(w.get("cost_usd") or 0)) for w in by["week"]]
    head = (
        "<h1>Agent work across the team</h1>"
        f'<p class="sub">{html(cost_label(t))} · from git notes</p>'
        + cards(
            [
                ("API-equivalent cost", money(t)),
                ("repositories", str(t["repos"])),
                ("authors", str(t["authors"])),
                ("PRs", str(t["prs"])),
                ("sessions", str(t["sessions"])),
                ("estimated waste", _usd(float(waste["wasted_usd"]))),
            ]
        )
        + charts(
            figure("Spend per week (USD, API-equivalent)", bar_chart(weeks)),
            figure(
                "Cost per repository (USD)",
                hbar_chart([(g["repo"], float(g["cost_usd"] or 0)) for g in by["repo"]][:12]),
            ),
            figure(
                "Cost per model (USD)",
                hbar_chart([(g["model"], float(g["cost_usd"] or 0)) for g in by["model"]][:10]),
            ),
            figure(
                "Estimated waste by cause (USD)",
                hbar_chart([(c["cause"], float(c["wasted_usd"])) for c in waste["by_cause"]]),
            ),
        )
    )
    return page(rollup_document(doc).render(), "tokentrail team roll-up", head)


class HtmlRenderer:
    name = "html"
    pages: dict[str, Callable[[Mapping[str, Any]], str]] = {  # noqa: RUF012
        "report": report_page,
        "session": session_page,
        "rollup": rollup_page,
    }

    def render(self, doc: Mapping[str, Any]) -> str:
        build = self.pages.get(str(doc.get("kind")))
        return build(doc) if build else page(MarkdownRenderer().render(doc))


@hookimpl
def register_renderers(register: Callable[[Renderer], None]) -> None:
    register(HtmlRenderer())
