"""The `text` renderer: what every command prints on a terminal, one function per document
kind; a kind it does not know is printed as JSON.

Every line fits the terminal (`term.width()`: the terminal's width, `COLUMNS`, or 80 when
the output is not a terminal): tables shorten ids, subjects and paths and then drop their
least important columns, prose wraps. Every figure is formatted by `tokentrail.fmt`, as in
the Markdown and HTML renderers. Every table cell goes through
`escape.plain` (redacted, one line, control and bidi characters made visible) before
widths are measured, so a `\r` in a cwd or an escape sequence in a branch name can neither
rewrite rows nor break the alignment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, ClassVar

from tokentrail import fmt, term
from tokentrail.escape import plain
from tokentrail.hookspecs import Renderer, hookimpl
from tokentrail.term import Column, wrap, wrap_lines

# the figures, as every renderer formats them (kept here for plugins that import them)
tokens = fmt.tokens
money = fmt.cost
output = fmt.output

_WIDTH: ContextVar[int | None] = ContextVar("tokentrail_text_width", default=None)


def width() -> int | None:
    """The width the document being rendered must fit (None: no limit)."""
    return _WIDTH.get()


@contextmanager
def _rendering_at(limit: int | None) -> Iterator[None]:
    token = _WIDTH.set(limit)
    try:
        yield
    finally:
        _WIDTH.reset(token)


def table(
    headers: Sequence[Column | str], rows: Sequence[Sequence[str]], right: set[int] | None = None
) -> str:
    """A table fitted to the width being rendered (plain string headers never give way);
    every cell escaped (`escape.plain`) before widths are measured."""
    cells = [[plain(c) for c in row] for row in rows]
    return term.table(headers, cells, right or set(), limit=width())


def para(text: str, indent: str = "", first: str = "") -> str:
    """A paragraph wrapped to the width being rendered: `first` starts its first line,
    `indent` the lines it continues on."""
    return wrap(text, width(), indent, first)


def lines(text: str) -> str:
    """Lines of `text` that are too long wrapped, continuing indented."""
    return wrap_lines(text, width())


TOKEN_KINDS = ("INPUT", "CACHE RD", "CACHE WR", "OUTPUT")
# How the token columns give way on a narrow terminal: uncached input goes first (it is
# small next to cache reads), then cache writes, reads, output; TOKENS (their sum) stands
# in once one of them is gone, and COST always stays.
TOKEN_COLUMNS = (
    Column("REQ", right=True, keep=60),
    Column("INPUT", right=True, keep=20),
    Column("CACHE RD", right=True, keep=40),
    Column("CACHE WR", right=True, keep=30),
    Column("OUTPUT", right=True, keep=50),
    Column("TOKENS", right=True, keep=55, instead_of=TOKEN_KINDS),
    Column("COST", right=True),
)


def token_cells(row: Mapping[str, Any]) -> list[str]:
    """REQ, the token kinds, TOKENS (shown only when a kind column was dropped) and COST."""
    total = row.get("total_tokens")
    if total is None:
        total = sum(
            int(row.get(k) or 0)
            for k in ("input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens")
        )
    return [
        str(row["requests"]),
        tokens(row["input_tokens"]),
        tokens(row["cache_read_tokens"]),
        tokens(row["cache_write_tokens"]),
        output(row),
        ("≥" if row.get("output_lower_bound_requests") else "") + tokens(total),
        money(row),
    ]


def _short(text: str | None, width: int) -> str:
    text = text or "-"
    return text if len(text) <= width else "…" + text[-(width - 1) :]


def _sessions(doc: Mapping[str, Any]) -> str:
    ranked_by_waste = doc.get("sort") == "waste"
    rows = [
        [
            r["agent"],
            r["id"][:8],
            (r["start"] or "-")[:16].replace("T", " "),
            _short(r["cwd"], 40),
            _short(",".join(r["branches"]), 24),
            *token_cells(r),
            *([fmt.money(r.get("wasted_usd") or 0)] if ranked_by_waste else []),
        ]
        for r in doc["sessions"]
    ]
    if not rows and doc.get("filters"):
        return _emptied(doc)
    if not rows:
        places = "\n".join(
            f"  {plain(p['agent'])}: {plain(p['path'])}{'' if p['exists'] else ' (missing)'}"
            for p in doc.get("searched", [])
        )
        return (
            "No agent sessions found. Looked in:\n"
            + places
            + "\n"
            + para(
                "If your logs live elsewhere, set CLAUDE_CONFIG_DIR, CODEX_HOME, "
                "GEMINI_CLI_HOME, OPENCODE_DATA_DIR or PI_AGENT_DIR (docs/agents/); "
                "or run `tokentrail demo` to see a report on generated data."
            )
        )
    headers = (
        Column("AGENT"),
        Column("ID"),
        Column("START (UTC)", keep=52),
        Column("CWD", shrink=12, cut="start", keep=80),
        Column("BRANCH", shrink=8, keep=45),
        *TOKEN_COLUMNS,
        *([Column("WASTE", right=True)] if ranked_by_waste else []),
    )
    t = doc["totals"]
    shown = f"{len(rows)} of " if len(rows) < t["sessions"] else ""
    ranked = f", ranked by {doc['sort']}" if doc.get("sort") else ""
    foot = "\n" + para(
        f"{shown}{t['sessions']} session(s){ranked}; all {t['sessions']}: {t['requests']} "
        f"requests, {money(t)} (API-equivalent, {doc['pricing']})"
    )
    kept = doc.get("kept_after_deletion")
    if kept:
        foot += (
            f"\n{kept} session(s) kept after their logs were deleted (from tokentrail's "
            "index; `history: {keep_deleted: false}` in .tokentrail.yml drops them)"
        )
    if t.get("output_lower_bound_requests"):
        foot += "\n" + para(
            f"≥: {t['output_lower_bound_requests']} request(s) logged a placeholder "
            "output count; output and its cost are lower bounds."
        )
    out = table(headers, rows) + foot
    if ranked_by_waste:
        causes = [
            f"  {r['id'][:8]}: {r['likely_cause']}"
            for r in doc["sessions"]
            if r.get("likely_cause")
        ]
        out += "\nLikely causes:\n" + "\n".join(causes)
    return out


def _emptied(doc: Mapping[str, Any]) -> str:
    """No session matched: say which filter left nothing, not where logs could live."""
    f = doc["filters"]
    given = ", ".join(f"{flag} {value}" for flag, value in f["given"].items())
    out = [para(f"No agent sessions match {given}.")]
    if f.get("reason"):
        out.append(para(f["reason"], "  ", "  "))
    if f.get("unfiltered") is not None:
        out.append(
            para(
                f"Without these filters this machine has {f['unfiltered']} session file(s); "
                "run `tokentrail doctor` to see where logs are read from.",
                "  ",
                "  ",
            )
        )
    return "\n".join(out)


def evidence_text(item: Mapping[str, Any]) -> str:
    """One piece of a finding's evidence on one line: turn, tool, target, other facts."""
    bits = []
    if item.get("turn") is not None:
        bits.append(f"turn {item['turn']}")
    if item.get("tool"):
        bits.append(str(item["tool"]))
    for key in ("command", "file", "target"):
        if item.get(key):
            bits.append(_cut(str(item[key]), 70))
            break
    for key, value in item.items():
        if key in ("turn", "tool", "command", "file", "target", "kind") or value in (None, ""):
            continue
        if isinstance(value, int) and not isinstance(value, bool):
            bits.append(f"{key.replace('_', ' ')}: {value:,}")
        elif not isinstance(value, (dict, list)):
            bits.append(f"{key.replace('_', ' ')}: {_cut(str(value), 70)}")
    return ", ".join(bits)


def carried_what(group: Mapping[str, Any]) -> str:
    """What a carry group holds, by the tools that put it in: `3× Read, 2× Edit`."""
    tools = group.get("tools") or ({group["tool"]: 1} if group.get("tool") else {})
    return ", ".join(f"{n}× {tool}" for tool, n in tools.items())


def _postmortem(doc: Mapping[str, Any]) -> list[str]:
    parts = []
    if doc.get("likely_cause"):
        parts.append(para(f"Likely cause: {doc['likely_cause']}", "  "))
    waste = doc.get("waste") or {}
    findings = doc.get("findings") or []
    if findings:
        share = waste.get("share")
        of_bill = f", {fmt.percent(share)} of the bill" if share is not None else ""
        lines = [
            f"Waste found: {fmt.money(waste.get('wasted_usd', 0))}{of_bill} "
            "(each token counted once)"
        ]
        for f in findings:
            lines.append(
                para(
                    f"{fmt.money(f['wasted_usd']):>7}  {tokens(f['wasted_tokens']):>6}  "
                    f"{f['detector']}: {f['title']}",
                    " " * 19,
                    "  ",
                )
            )
            lines += [
                para(evidence_text(e), " " * 21, " " * 19) for e in (f.get("evidence") or [])[:3]
            ]
        parts.append("\n".join(lines))
    else:
        parts.append("Waste found: none (no detector fired on this session)")
    carry = doc.get("carry") or {}
    groups = carry.get("top_groups") or []
    if groups:
        rows = [
            [
                _short(str(g.get("what") or "-"), 50),
                carried_what(g),
                tokens(g.get("largest_tokens")),
                str(g.get("carried_requests", 0)),
                tokens(g.get("carry_tokens")),
                fmt.money(float(g.get("carry_usd") or 0)),
            ]
            for g in groups
        ]
        head = para(
            f"What burned context: tool output carried {tokens(carry.get('carried_tokens'))} "
            f"tokens, {fmt.money(float(carry.get('carried_usd') or 0))} "
            f"({fmt.percent(float(carry.get('carried_share') or 0))} of billed tokens); "
            "largest:"
        )
        headers = (
            Column("FILE / COMMAND", shrink=16, cut="start"),
            Column("PUT IN BY", shrink=10, keep=40),
            Column("SIZE", right=True),
            Column("× REQ", right=True),
            Column("CARRIED", right=True),
            Column("USD", right=True),
        )
        parts.append(head + "\n" + table(headers, rows))
    if doc.get("lessons"):
        parts.append(
            "Lessons for the next run:\n"
            + "\n".join(
                para(
                    f"{lesson['text']} (saves {fmt.saving(lesson.get('saved_usd', 0))})",
                    "    ",
                    "  - ",
                )
                for lesson in doc["lessons"][:5]
            )
        )
    return parts


def _session(doc: Mapping[str, Any]) -> str:
    s = doc["session"]
    limit = width() or 10_000
    cwd = s["cwd"] or "-"
    head = [
        f"{plain(s['agent'])} session {plain(s['id'])}",
        f"  cwd: {_short(plain(cwd), max(limit - 7, 12))}",
        para(f"branch: {', '.join(s['branches']) or '-'}", "    ", "  "),
        f"  {s['start'] or '?'} → {s['end'] or '?'}",
        para(
            f"{s['requests']} requests, {doc['tool_calls']} tool calls "
            f"({doc['tool_errors']} failed), {doc['prompts']} prompts, "
            f"{doc['compactions']} compactions; total {money(s)} (API-equivalent)",
            "    ",
            "  ",
        ),
    ]
    theirs, ours = s.get("agent_cost_usd"), s.get("cost_usd_same_requests")
    if theirs is not None and (ours is None or abs(theirs - ours) > max(0.005, 0.01 * theirs)):
        head.append(
            para(
                # four decimals, on purpose: two figures a cent apart must not read the same
                f"the agent's own cost: ${theirs:,.4f} for {s['agent_cost_requests']} "
                f"requests (tokentrail: {'unpriced' if ours is None else f'${ours:,.4f}'})",
                "    ",
                "  ",
            )
        )
    commits = doc.get("agent_commits") or []
    if commits:
        made = ", ".join(
            str(c.get("sha") or "?")[:7] + (f" on {c['branch']}" if c.get("branch") else "")
            for c in commits
        )
        head.append(para(f"commits the agent made: {made}", "    ", "  "))
    else:
        head.append("  commits the agent made: none in the log")
    head.extend(_agent_facts(doc))
    parts = ["\n".join(head), *_postmortem(doc)]
    for title, key in (("By model", "model"), ("By subagent", "subagent"), ("By file", "file")):
        rows = [[str(r[key]), *token_cells(r)] for r in doc[f"by_{key}"]]
        first = Column(key.upper(), shrink=16, cut="start" if key == "file" else "end")
        parts.append(f"{title}:\n" + table((first, *TOKEN_COLUMNS), rows))
    return "\n\n".join(parts)


def _window_name(minutes: int | None) -> str:
    names = {300: "5-hour", 10080: "weekly"}
    return names.get(minutes or 0, f"{minutes}-minute" if minutes else "")


def _agent_facts(doc: Mapping[str, Any]) -> list[str]:
    """What the agent said about itself: its own cost, linked PRs, rate-limit usage."""
    lines = []
    cost = doc.get("agent_cost")  # the agent's running total (its line is above)
    if cost and cost.get("outside_transcript_usd") is not None:
        outside = cost["outside_transcript_usd"]
        sign = "-" if outside < 0 else ""
        line = f"  usage outside the transcript: {sign}{money({'cost_usd': abs(outside)})}"
        if cost.get("unknown_models"):
            line += " (the agent could not price some models: a lower bound)"
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
    out = table(
        (
            Column("PLUGIN", shrink=16),
            Column("VERSION"),
            Column("KIND"),
            Column("HOOKS", shrink=12),
        ),
        rows,
    )
    for p in doc["problems"]:
        out += "\n" + para(f"FAILED {p['plugin']} ({p['stage']}): {p['message']}", "  ", "")
    return out


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _pricing_label(doc: Mapping[str, Any]) -> str:
    pricing = doc.get("pricing")
    if isinstance(pricing, list):
        return ", ".join(pricing) or "no pricing recorded"
    return str(pricing)


def _report(doc: Mapping[str, Any]) -> str:
    t = doc["totals"]
    base = str(doc["base"])[:7]
    head = [
        para(
            f"Branch {doc['branch'] or '(detached)'}  base {doc['base_ref']} ({base})  "
            f"head {str(doc['head'])[:7]}",
            "  ",
        ),
        para(
            f"Total: {t['requests']} requests, {money(t)} API-equivalent ({_pricing_label(doc)})",
            "  ",
        ),
        para(
            f"input {tokens(t['input_tokens'])}, cache read {tokens(t['cache_read_tokens'])}, "
            f"cache write {tokens(t['cache_write_tokens'])}, output {output(t)}",
            "    ",
            "  ",
        ),
    ]
    quota = fmt.rate_limit_share(doc)
    if quota:
        head.append(para(quota, "    ", "  "))
    if t.get("unpriced_requests"):
        head.append(
            para(
                f"{t['unpriced_requests']} request(s) used a model without a known price: "
                "shown as unpriced, not as $0",
                "    ",
                "  ",
            )
        )
    if doc.get("source") == "notes":
        head.append(
            para(
                f"from notes ({doc.get('notes_ref')}); "
                f"{doc.get('commits_without_note', 0)} commit(s) without a receipt",
                "    ",
                "  ",
            )
        )
    for line in _attribution_notes(doc):
        head.append(f"  {line}")
    if doc.get("likely_cause"):
        head.append(para(f"Likely cause: {doc['likely_cause']}", "  "))
    parts = ["\n".join(head)]
    if doc["commits"]:
        rows = [
            [c["sha"][:7], c.get("subject") or "", str(len(c["sessions"])), *token_cells(c)]
            for c in doc["commits"]
        ]
        headers = (
            Column("COMMIT"),
            Column("SUBJECT", shrink=12, keep=90),
            Column("SESS", right=True, keep=35),
            *TOKEN_COLUMNS,
        )
        parts.append(table(headers, [[r[0], _cut(r[1], 60), *r[2:]] for r in rows]))
    else:
        parts.append("No commits beyond the base yet: everything below is pending.")
    p = doc["pending"]
    parts.append(
        para(
            f"Pending (next commit): {p['requests']} requests, {money(p)}, "
            f"{len(p['sessions'])} session(s)",
            "  ",
        )
    )
    if doc["sessions"]:
        rows = [[s["agent"], str(s["id"])[:8], s["link"], *token_cells(s)] for s in doc["sessions"]]
        headers = (Column("AGENT"), Column("ID"), Column("LINK", keep=58), *TOKEN_COLUMNS)
        parts.append("Sessions:\n" + table(headers, rows))
    else:
        parts.append("No agent sessions found for this branch.")
    if doc.get("findings"):
        rows = [
            [
                f["detector"],
                f["title"],
                str(f.get("session") or "")[:8],
                tokens(f["wasted_tokens"]),
                fmt.money(f["wasted_usd"]),
                fmt.confidence(f["confidence"]),
            ]
            for f in doc["findings"][:10]
        ]
        more = len(doc["findings"]) - len(rows)
        waste_headers = (
            Column("DETECTOR", shrink=10),
            Column("WHAT", shrink=16),
            Column("SESSION", keep=40),
            Column("TOKENS", right=True, keep=50),
            Column("USD", right=True),
            Column("CONF", right=True, keep=30),
        )
        parts.append(
            "Waste found (each token counted once):\n"
            + table(waste_headers, [[r[0], _cut(r[1], 80), *r[2:]] for r in rows])
            + (f"\n... and {more} more (--json)" if more > 0 else "")
        )
    if doc.get("lessons"):
        parts.append(
            "Lessons for the next run:\n"
            + "\n".join(
                para(
                    f"{lesson['text']} (saves {fmt.saving(lesson.get('saved_usd'))})",
                    "    ",
                    "  - ",
                )
                for lesson in doc["lessons"][:5]
            )
        )
    return "\n\n".join(parts)


def _attribution_notes(doc: Mapping[str, Any]) -> list[str]:
    """What the receipt could not count, said rather than hidden."""
    out = []
    if doc.get("unattributed_sessions"):
        out.append(
            f"{doc['unattributed_sessions']} session(s) in this repository hold work no commit "
            "of the branch contains (not attributed)"
        )
    skipped = doc.get("note_lines_skipped") or {}
    if skipped:
        reasons = ", ".join(f"{n} {why.replace('_', ' ')}" for why, n in skipped.items())
        out.append(f"note lines not read: {reasons}")
    if doc.get("duplicate_note_lines"):
        out.append(f"{doc['duplicate_note_lines']} copied note line(s) counted once")
    return out


def _commit_receipt(doc: Mapping[str, Any]) -> str:
    head = "\n".join(
        [
            para(
                f"Commit {doc['sha'][:7]}: {len(doc['sessions'])} session(s), "
                f"{doc['requests']} requests, {money(doc)} API-equivalent",
                "  ",
            ),
            para(
                f"input {tokens(doc['input_tokens'])}, cache read "
                f"{tokens(doc['cache_read_tokens'])}, cache write "
                f"{tokens(doc['cache_write_tokens'])}, output {output(doc)}",
                "  ",
                "  ",
            ),
        ]
    )
    rows = [
        [
            s["agent"],
            str(s["id"])[:8],
            s["link"],
            ", ".join(s.get("models") or {}) or "-",
            *token_cells(s),
        ]
        for s in doc["sessions"]
    ]
    headers = (
        Column("AGENT"),
        Column("ID"),
        Column("LINK", keep=58),
        Column("MODELS", shrink=10, keep=45),
        *TOKEN_COLUMNS,
    )
    return head + "\n\n" + table(headers, rows)


CHECK_PREFIX = "tokentrail: "


def _check(doc: Mapping[str, Any]) -> str:
    """One `tokentrail: …` line per verdict line (what a hook prints); a line too long for
    the terminal continues indented under the prefix."""
    out = list(doc["lines"])
    if doc["status"] == "over_budget":
        if doc.get("blocked"):
            out.append("over budget: refused (--strict); `git commit --no-verify` skips the hook")
        else:
            out.append("over budget (warning only; add --strict to enforce)")
    indent = " " * (len(CHECK_PREFIX) + 2)
    return "\n".join(para(line, indent, CHECK_PREFIX) for line in out)


def _note(doc: Mapping[str, Any]) -> str:
    out = []
    for r in doc["commits"]:
        short = r["sha"][:7]
        if r["status"] == "written":
            out.append(
                f"{short}: wrote {r['written']} session(s); the note holds {r['in_note']} "
                f"({doc['ref']})"
            )
        elif r["status"] == "carried":
            out.append(
                f"{short}: a copy of {str(r.get('original'))[:7]}: carried its receipt "
                f"({r['written']} session(s))"
            )
        elif r["status"] == "no_sessions":
            out.append(f"{short}: no agent work went into this commit (its receipt says so)")
        else:
            out.append(f"{short}: not on branch {doc['branch']} beyond its base; skipped")
    return "\n".join(out)


_NOTES_STATUS = {
    "notes_fetch": {
        "absent": "{remote} has no {ref} yet; nothing fetched",
        "created": "fetched {ref} from {remote}",
        "merged": "fetched {ref} from {remote} and merged it into yours",
    },
    "notes_push": {
        "nothing": "no local {ref} yet; nothing to push (run `tokentrail note` first)",
        "pushed": "pushed {ref} to {remote}",
    },
}


def _notes_status(doc: Mapping[str, Any]) -> str:
    return _NOTES_STATUS[str(doc["kind"])][str(doc["status"])].format(**doc)


def _notes_carry(doc: Mapping[str, Any]) -> str:
    return (
        f"carried notes of {doc['commits_with_notes']} of {doc['commits']} commit(s) onto "
        f"{doc['onto'][:7]}; its note holds {doc['sessions_in_note']} session line(s)"
    )


def _hooks(doc: Mapping[str, Any]) -> str:
    lines = [f"{hook['hook']}: {hook['status']} ({hook['path']})" for hook in doc["hooks"]]
    if doc["kind"] == "install":
        lines.append(f"notes.rewriteRef {doc['rewrite_ref']}: {doc['rewrite_ref_status']}")
    else:
        lines.append(f"notes.rewriteRef: {doc['rewrite_ref_status']}")
    return "\n".join(lines)


def _lessons(doc: Mapping[str, Any]) -> str:
    where = "all sessions" if doc["scope"].get("all") else f"branch {doc['scope']['branch']}"
    out = [para(f"Lessons from {doc['sessions']} session(s) on {where} (API-equivalent $):")]
    if not doc["lessons"]:
        out.append("  no wasteful patterns found")
    for n, lesson in enumerate(doc["lessons"], 1):
        out.append(para(lesson["text"], "     ", f"{n:>3}. "))
        out.append(f"     saves {fmt.saving(lesson['saved_usd'])} ({lesson['count']} finding(s))")
    if doc["sessions"]:
        out.append(para(f"Likely cause: {doc['likely_cause']}", "  "))
    if "written" in doc:
        state = "updated" if doc["written"]["changed"] else "already up to date"
        out.append(para(f"{doc['written']['path']}: lessons block {state}", "  "))
    return "\n".join(out)


ROLLUP_TITLES = {
    "repo": ("By repository", "REPO"),
    "author": ("By author", "AUTHOR"),
    "agent": ("By agent", "AGENT"),
    "model": ("By model (sessions that mixed models stay together)", "MODEL"),
    "week": ("By week", "WEEK"),
    "pr": ("By PR / branch", "PR"),
}
ROLLUP_ROWS = 15


def rollup_key(kind: str, row: Mapping[str, Any]) -> str:
    """The label of a breakdown row (a PR is `repo #N`, a branch `repo branch`)."""
    if kind == "pr":
        return f"{row['repo']} {row['label']}"
    if kind == "week":
        return f"{row['week']} ({row['week_start']})" if row.get("week_start") else row["week"]
    return str(row.get(kind) or "-")


def percent(part: float | None, whole: float | None) -> str:
    return fmt.share(part, whole) if whole else "-"


def _rollup(doc: Mapping[str, Any]) -> str:
    t = doc["totals"]
    waste = doc["waste"]
    window = " ".join(
        f"{word} {str(doc[key])[:10]}"
        for word, key in (("since", "since"), ("until", "until"))
        if doc.get(key)
    )
    head = [
        f"Team roll-up: {t['repos']} repositories, {t['authors']} author(s), {t['prs']} PR(s), "
        f"{t['sessions']} session(s), {t['commits']} commit(s)"
        + (f" — {window}" if window else ""),
        f"Total: {t['requests']} requests, {money(t)} API-equivalent "
        f"(from notes {doc['notes_ref']}; {', '.join(doc['pricing']) or 'no pricing recorded'})",
        f"  input {tokens(t['input_tokens'])}, cache read {tokens(t['cache_read_tokens'])}, "
        f"cache write {tokens(t['cache_write_tokens'])}, output {output(t)}",
        f"  waste found: {fmt.money(waste['wasted_usd'])} in {waste['findings']} finding(s) "
        f"({percent(waste['wasted_usd'], t['cost_usd'])} of the bill)",
    ]
    parts = ["\n".join(head)]
    for kind in doc.get("show") or ROLLUP_TITLES:
        title, header = ROLLUP_TITLES[kind]
        items = doc["by"][kind]
        shown = items[:ROLLUP_ROWS] if kind != "week" else items
        extra = kind != "model"
        rows = [
            [
                _short(rollup_key(kind, r), 48),
                *token_cells(r),
                *(
                    [str(r["sessions"]), str(r["commits"]), fmt.money(r["wasted_usd"])]
                    if extra
                    else [str(r["sessions"])]
                ),
            ]
            for r in shown
        ]
        headers = (
            Column(header, shrink=14),
            *TOKEN_COLUMNS,
            Column("SESS", right=True, keep=35),
            *(
                (Column("COMMITS", right=True, keep=25), Column("WASTE", right=True, keep=58))
                if extra
                else ()
            ),
        )
        more = len(items) - len(shown)
        parts.append(
            f"{title}:\n"
            + table(headers, rows)
            + (f"\n... and {more} more (--json)" if more > 0 else "")
        )
    if waste["by_cause"]:
        rows = [
            [c["cause"], str(c["findings"]), tokens(c["wasted_tokens"]), fmt.money(c["wasted_usd"])]
            for c in waste["by_cause"]
        ]
        parts.append(
            "Waste by cause (estimated):\n"
            + table(("CAUSE", "FINDINGS", "TOKENS", "USD"), rows, {1, 2, 3})
        )
    if doc["outliers"]:
        rows = [
            [
                _short(f"{o['repo']} {o['label']}", 48),
                money(o),
                str(o["commits"]),
                fmt.money(o["cost_per_commit_usd"]),
                fmt.money(o["repo_median_per_commit_usd"]),
                f"{o['ratio']:.1f}x",
            ]
            for o in doc["outliers"]
        ]
        parts.append(
            f"Outliers ({doc['outlier_rule']}):\n"
            + table(
                (
                    Column("PR", shrink=14),
                    Column("COST", right=True),
                    Column("COMMITS", right=True, keep=30),
                    Column("PER COMMIT", right=True, keep=40),
                    Column("REPO MEDIAN", right=True, keep=40),
                    Column("RATIO", right=True),
                ),
                rows,
            )
        )
    else:
        parts.append("Outliers: none (" + doc["outlier_rule"] + ")")
    if doc["lessons"]:
        parts.append(
            "Lessons seen across the team:\n"
            + "\n".join(
                para(
                    f"{lesson['text']} (saves {fmt.saving(lesson['saved_usd'])}; seen "
                    f"{lesson['count']}x in {', '.join(lesson['repos'])})",
                    "    ",
                    "  - ",
                )
                for lesson in doc["lessons"][:10]
            )
        )
    if doc["lesson_effects"]:
        rows = [
            [
                e["repo"],
                _cut(e["lesson"], 50),
                str(e["landed"])[:10],
                f"{e['before']['per_week']:.2f} ({e['before']['findings']})",
                f"{e['after']['per_week']:.2f} ({e['after']['findings']})",
            ]
            for e in doc["lesson_effects"]
        ]
        parts.append(
            "Lessons in AGENTS.md/CLAUDE.md — findings per week before and after they landed:\n"
            + table(
                (
                    Column("REPO", shrink=10),
                    Column("LESSON", shrink=16),
                    Column("LANDED", keep=40),
                    Column("BEFORE/WK", right=True),
                    Column("AFTER/WK", right=True),
                ),
                rows,
            )
        )
    for warning in doc.get("warnings") or []:
        parts.append(f"warning: {warning}")
    return lines("\n\n".join(parts))


def _export(doc: Mapping[str, Any]) -> str:
    lines = [f"Exported from {doc['source']} to {doc['out']} ({doc['format']}):"]
    for name, table in doc["tables"].items():
        lines.append(f"  {name}: {table['rows']} row(s) in {table['file']}")
    for name, why in doc["not_filled"].items():
        lines.append(f"  {name}: not written ({why})")
    if doc.get("posted"):
        lines.append(f"  posted to {doc['posted']['url']} (HTTP {doc['posted']['status']})")
    return "\n".join(lines)


def _size(n: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _doctor(doc: Mapping[str, Any]) -> str:
    """Agent logs as a table, then one paragraph per other finding, then what to do."""
    rows = []
    for a in doc["agents"]:
        for i, folder in enumerate(a["folders"] or [{"path": "-", "exists": False}]):
            origin = a["variable"] if a["from_variable"] else "default"
            rows.append(
                [
                    a["agent"] if i == 0 else "",
                    (str(a["sessions"]) if i == 0 else ""),
                    ("-" if a["sessions_in_repo"] is None else str(a["sessions_in_repo"]))
                    if i == 0
                    else "",
                    folder["path"],
                    "found" if folder["exists"] else "missing",
                    origin if i == 0 else "",
                ]
            )
    headers = (
        Column("AGENT"),
        Column("SESSIONS", right=True),
        Column("IN REPO", right=True, keep=50),
        Column("FOLDER", shrink=16, cut="start"),
        Column("STATE"),
        Column("FROM", keep=60, shrink=8),
    )
    parts = ["Agent logs (sessions listed, nothing parsed):\n" + table(headers, rows)]
    c = doc["cache"]
    if not c["enabled"]:
        parts.append("Cache: off (TOKENTRAIL_NO_CACHE)")
    else:
        state = (
            f"{c['entries']} parsed session(s), {_size(c['bytes'])}"
            if c["exists"]
            else "empty (not created yet)"
        )
        parts.append(
            para(
                f"Cache: {c['path']} — {state}; `tokentrail cache clear` or deleting the "
                "folder empties it (TOKENTRAIL_CACHE_DIR moves it)",
                "  ",
            )
        )
    cfg = doc["config"]
    if not cfg["path"]:
        parts.append("Config: no .tokentrail.yml here or above (defaults apply)")
    elif not cfg["valid"]:
        parts.append(para(f"Config: {cfg['path']} — INVALID: {cfg['error']}", "  "))
    elif cfg["problems"]:
        parts.append(
            para(f"Config: {cfg['path']} — {len(cfg['problems'])} warning(s):", "  ")
            + "".join("\n" + para(p, "    ", "  - ") for p in cfg["problems"])
        )
    else:
        parts.append(para(f"Config: {cfg['path']} — valid", "  "))
    repo = doc.get("repo")
    if repo is None:
        parts.append("Repository: not inside a git repository (no hooks or notes to check)")
    else:
        parts.append(para(f"Repository: {repo['root']} (branch {repo['branch'] or '-'})", "  "))
        hooks = doc["hooks"]
        listed = ", ".join(f"{h['hook']} {h['status']}" for h in hooks["hooks"])
        rewrite = "set" if hooks["rewrite_ref"] else "not set"
        text = f"Hooks: {listed}; notes.rewriteRef {rewrite}"
        if hooks["hooks_path"]:
            text += f"; core.hooksPath is {hooks['hooks_path']} (git runs hooks from there)"
        parts.append(para(text, "  "))
        n = doc["notes"]
        here = f"{n['noted_commits']} commit(s) noted here" if n["local"] else "not here yet"
        if n["remote"] is None:
            there = n["remote_error"] or "no remote"
        elif n["on_remote"] is None:
            there = f"{n['remote']}: not asked" + (
                f" ({n['remote_error']})" if n["remote_error"] else " (--no-remote)"
            )
        else:
            there = f"{n['remote']}: {'has them' if n['on_remote'] else 'does not have them'}"
        push = "pushed on git push" if n["push_configured"] else "not pushed on git push"
        parts.append(para(f"Notes: {n['ref']} — {here}; {there}; {push}", "  "))
    for p in doc.get("plugin_problems") or []:
        parts.append(para(f"FAILED plugin {p['plugin']} ({p['stage']}): {p['message']}", "  "))
    if doc["advice"]:
        parts.append("What to do:\n" + "\n".join(para(a, "    ", "  - ") for a in doc["advice"]))
    else:
        parts.append("Nothing to fix.")
    return "\n\n".join(parts)


def _cache_info(doc: Mapping[str, Any]) -> str:
    lines = [f"index: {doc['path']}{'' if doc['exists'] else ' (not created yet)'}"]
    if doc["exists"]:
        lines.append(f"size: {_size(doc['bytes'])}")
        lines.append(
            f"entries: {doc['sessions']} session(s) "
            f"({doc['sessions_kept_after_deletion']} kept after their logs were deleted), "
            f"{doc['requests']} request row(s), {doc['detector_results']} stored "
            "detector result(s)"
        )
    return "\n".join(lines)


def _cache_clear(doc: Mapping[str, Any]) -> str:
    return "\n".join(f"removed {path}" for path in doc["removed"]) or "nothing to remove"


def _error(doc: Mapping[str, Any]) -> str:
    return f"tokentrail: error: {doc['error']['message']}"


class TextRenderer:
    name = "text"
    layouts: ClassVar[dict[str, Callable[[Mapping[str, Any]], str]]] = {
        "report": _report,
        "commit_receipt": _commit_receipt,
        "check": _check,
        "note": _note,
        "notes_fetch": _notes_status,
        "notes_push": _notes_status,
        "notes_carry": _notes_carry,
        "install": _hooks,
        "uninstall": _hooks,
        "lessons": _lessons,
        "sessions": _sessions,
        "session": _session,
        "plugins": _plugins,
        "rollup": _rollup,
        "export": _export,
        "doctor": _doctor,
        "cache_info": _cache_info,
        "cache_clear": _cache_clear,
        "error": _error,
    }

    def __init__(self, width: int | None = None) -> None:
        self.width = width  # None: the terminal's (term.width())

    def render(self, doc: Mapping[str, Any]) -> str:
        kind = self.layouts.get(str(doc.get("kind")))
        if kind is None:
            from tokentrail.builtin.render_json import JsonRenderer

            return JsonRenderer().render(doc)
        limit = self.width or term.width()
        with _rendering_at(limit):
            return wrap_lines(kind(doc), limit)


@hookimpl
def register_renderers(register: Callable[[Renderer], None]) -> None:
    register(TextRenderer())
