"""The `text` renderer: aligned tables for a terminal.

Every cell and every log or git value goes through `escape.plain` (redacted, one line,
control and bidi characters made visible) before widths are measured, so a `\r` in a cwd
or an escape sequence in a branch name can neither rewrite rows nor break the alignment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from tokentrail.escape import plain
from tokentrail.hookspecs import Renderer, hookimpl


def tokens(n: int | None) -> str:
    if n is None:
        return "-"
    for size, suffix in ((1_000_000_000, "G"), (1_000_000, "M"), (10_000, "k")):
        if n >= size:
            return f"{n / size:.1f}{suffix}" if size != 10_000 else f"{n / 1000:.0f}k"
    return str(n)


def money(row: Mapping[str, Any]) -> str:
    """`$1.23`, `$1.23 + 4 unpriced`, or `unpriced` — never a silent $0 for unknown models."""
    cost, unpriced = row.get("cost_usd"), row.get("unpriced_requests", 0)
    if cost is None:
        return "unpriced" if unpriced else "-"
    text = f"${cost:,.2f}" if cost >= 0.01 or cost == 0 else f"${cost:.4f}"
    return f"{text} + {unpriced} unpriced" if unpriced else text


def output(row: Mapping[str, Any]) -> str:
    """Output tokens, marked `≥` when the log kept placeholders for some calls."""
    mark = "≥" if row.get("output_lower_bound_requests") else ""
    return mark + tokens(row.get("output_tokens"))


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> str:
    headers = [plain(h) for h in headers]
    rows = [[plain(c) for c in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


TOKEN_HEADERS = ("REQ", "INPUT", "CACHE RD", "CACHE WR", "OUTPUT", "COST")


def token_cells(row: Mapping[str, Any]) -> list[str]:
    return [
        str(row["requests"]),
        tokens(row["input_tokens"]),
        tokens(row["cache_read_tokens"]),
        tokens(row["cache_write_tokens"]),
        output(row),
        money(row),
    ]


def _short(text: str | None, width: int) -> str:
    text = text or "-"
    return text if len(text) <= width else "…" + text[-(width - 1) :]


def _sessions(doc: Mapping[str, Any]) -> str:
    rows = [
        [
            r["agent"],
            r["id"][:8],
            (r["start"] or "-")[:16].replace("T", " "),
            _short(r["cwd"], 40),
            _short(",".join(r["branches"]), 24),
            *token_cells(r),
        ]
        for r in doc["sessions"]
    ]
    if not rows:
        places = "\n".join(
            f"  {plain(p['agent'])}: {plain(p['path'])}{'' if p['exists'] else ' (missing)'}"
            for p in doc.get("searched", [])
        )
        return (
            "No agent sessions found. Looked in:\n"
            + places
            + "\nSet CLAUDE_CONFIG_DIR or CODEX_HOME if your logs live elsewhere, "
            "or run `tokentrail demo` to see a report on generated data."
        )
    headers = ("AGENT", "ID", "START (UTC)", "CWD", "BRANCH", *TOKEN_HEADERS)
    t = doc["totals"]
    foot = (
        f"\n{t['sessions']} session(s), {t['requests']} requests, {money(t)} "
        f"(API-equivalent, {doc['pricing']})"
    )
    if t.get("output_lower_bound_requests"):
        foot += (
            f"\n≥: {t['output_lower_bound_requests']} request(s) logged a placeholder "
            "output count; output and its cost are lower bounds."
        )
    return table(headers, rows, set(range(5, 11))) + foot


def _session(doc: Mapping[str, Any]) -> str:
    s = doc["session"]
    head = [
        f"{plain(s['agent'])} session {plain(s['id'])}",
        f"  cwd: {plain(s['cwd'] or '-')}   branch: {plain(', '.join(s['branches']) or '-')}",
        f"  {s['start'] or '?'} → {s['end'] or '?'}",
        f"  {s['requests']} requests, {doc['tool_calls']} tool calls "
        f"({doc['tool_errors']} failed), {doc['prompts']} prompts, "
        f"{doc['compactions']} compactions; total {money(s)} (API-equivalent)",
    ]
    head.extend(_agent_facts(doc))
    parts = ["\n".join(head)]
    for title, key in (("By model", "model"), ("By subagent", "subagent"), ("By file", "file")):
        rows = [[_short(str(r[key]), 60), *token_cells(r)] for r in doc[f"by_{key}"]]
        parts.append(f"{title}:\n" + table((key.upper(), *TOKEN_HEADERS), rows, set(range(1, 7))))
    return "\n\n".join(parts)


def _window_name(minutes: int | None) -> str:
    names = {300: "5-hour", 10080: "weekly"}
    return names.get(minutes or 0, f"{minutes}-minute" if minutes else "")


def _agent_facts(doc: Mapping[str, Any]) -> list[str]:
    """What the agent said about itself: its own cost, linked PRs, rate-limit usage."""
    lines = []
    cost = doc.get("agent_cost")
    if cost:
        line = f"  agent's own cost: {money({'cost_usd': cost['total_usd']})}"
        if cost.get("unknown_models"):
            line += " (it could not price some models: a lower bound)"
        if cost.get("outside_transcript_usd") is not None:
            outside = cost["outside_transcript_usd"]
            sign = "-" if outside < 0 else ""
            line += (
                f"; priced transcript {money({'cost_usd': cost['transcript_usd']})}, "
                f"usage outside the transcript {sign}{money({'cost_usd': abs(outside)})}"
            )
        lines.append(line)
    for link in doc.get("pr_links") or []:
        where = f"{link['repository']}#{link['number']}" if link.get("number") else "PR"
        lines.append(f"  linked {plain(where)}: {plain(link['url'])}")
    limits = doc.get("rate_limits") or {}
    shown = []
    for window in (limits.get("primary"), limits.get("secondary")):
        if window:
            text = f"{_window_name(window.get('window_minutes'))} window".strip()
            text += f" {window['used_percent']:g}% used"
            if window.get("resets_at"):
                text += f" (resets {plain(window['resets_at'])})"
            shown.append(text)
    if shown:
        lines.append("  rate limits: " + ", ".join(shown))
    return lines


def _plugins(doc: Mapping[str, Any]) -> str:
    rows = [
        [
            p["name"],
            p["version"] or "?",
            "built-in" if p["builtin"] else "third-party",
            ", ".join(p["hooks"]),
        ]
        for p in doc["plugins"]
    ]
    out = table(("PLUGIN", "VERSION", "KIND", "HOOKS"), rows, set())
    for p in doc["problems"]:
        out += f"\nFAILED {plain(p['plugin'])} ({plain(p['stage'])}): {plain(p['message'])}"
    return out


class TextRenderer:
    name = "text"
    kinds: ClassVar[dict[str, Callable[[Mapping[str, Any]], str]]] = {
        "sessions": _sessions,
        "session": _session,
        "plugins": _plugins,
    }

    def render(self, doc: Mapping[str, Any]) -> str:
        kind = self.kinds.get(str(doc.get("kind")))
        if kind is None:
            from tokentrail.builtin.render_json import JsonRenderer

            return JsonRenderer().render(doc)
        return kind(doc)


@hookimpl
def register_renderers(register: Callable[[Renderer], None]) -> None:
    register(TextRenderer())
