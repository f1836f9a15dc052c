"""The `text` renderer: what every command prints on a terminal, one function per document
kind; a kind it does not know is printed as JSON.

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
    ranked_by_waste = doc.get("sort") == "waste"
    rows = [
        [
            r["agent"],
            r["id"][:8],
            (r["start"] or "-")[:16].replace("T", " "),
            _short(r["cwd"], 40),
            _short(",".join(r["branches"]), 24),
            *token_cells(r),
            *([f"${r.get('wasted_usd') or 0:,.2f}"] if ranked_by_waste else []),
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
            + "\nIf your logs live elsewhere, set CLAUDE_CONFIG_DIR, CODEX_HOME, "
            "GEMINI_CLI_HOME, OPENCODE_DATA_DIR or PI_AGENT_DIR (docs/agents/); "
            "or run `tokentrail demo` to see a report on generated data."
        )
    waste_header = ("WASTE",) if ranked_by_waste else ()
    headers: tuple[str, ...] = ("AGENT", "ID", "START (UTC)", "CWD", "BRANCH", *TOKEN_HEADERS)
    headers += waste_header
    t = doc["totals"]
    shown = f"{len(rows)} of " if len(rows) < t["sessions"] else ""
    ranked = f", ranked by {doc['sort']}" if doc.get("sort") else ""
    foot = (
        f"\n{shown}{t['sessions']} session(s){ranked}; all {t['sessions']}: {t['requests']} "
        f"requests, {money(t)} (API-equivalent, {doc['pricing']})"
    )
    if t.get("output_lower_bound_requests"):
        foot += (
            f"\n≥: {t['output_lower_bound_requests']} request(s) logged a placeholder "
            "output count; output and its cost are lower bounds."
        )
    out = table(headers, rows, set(range(5, len(headers)))) + foot
    if ranked_by_waste:
        causes = [
            f"  {r['id'][:8]}: {r['likely_cause']}"
            for r in doc["sessions"]
            if r.get("likely_cause")
        ]
        out += "\nLikely causes:\n" + "\n".join(causes)
    return out


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
        parts.append(f"Likely cause: {doc['likely_cause']}")
    waste = doc.get("waste") or {}
    findings = doc.get("findings") or []
    if findings:
        share = waste.get("share")
        of_bill = f", {share:.0%} of the bill" if share is not None else ""
        lines = [
            f"Waste found: ${waste.get('wasted_usd', 0):.2f}{of_bill} (each token counted once)"
        ]
        for f in findings:
            lines.append(
                f"  {'$' + format(f['wasted_usd'], '.2f'):>7}  {tokens(f['wasted_tokens']):>6}  "
                f"{f['detector']}: {f['title']}"
            )
            lines += [f"{'':19}{evidence_text(e)}" for e in (f.get("evidence") or [])[:3]]
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
                f"${float(g.get('carry_usd') or 0):.2f}",
            ]
            for g in groups
        ]
        head = (
            f"What burned context: tool output carried {tokens(carry.get('carried_tokens'))} "
            f"tokens, ${float(carry.get('carried_usd') or 0):.2f} "
            f"({float(carry.get('carried_share') or 0):.0%} of billed tokens); largest:"
        )
        headers = ("FILE / COMMAND", "PUT IN BY", "SIZE", "× REQ", "CARRIED", "USD")
        parts.append(head + "\n" + table(headers, rows, {2, 3, 4, 5}))
    if doc.get("lessons"):
        parts.append(
            "Lessons for the next run:\n"
            + "\n".join(
                f"  - {lesson['text']} (saves ~${lesson.get('saved_usd', 0):.2f})"
                for lesson in doc["lessons"][:5]
            )
        )
    return parts


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
    theirs, ours = s.get("agent_cost_usd"), s.get("cost_usd_same_requests")
    if theirs is not None and (ours is None or abs(theirs - ours) > max(0.005, 0.01 * theirs)):
        head.append(
            f"  the agent's own cost: ${theirs:,.4f} for {s['agent_cost_requests']} requests "
            f"(tokentrail: {'unpriced' if ours is None else f'${ours:,.4f}'})"
        )
    head.extend(_agent_facts(doc))
    parts = ["\n".join(head), *_postmortem(doc)]
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
    out = table(("PLUGIN", "VERSION", "KIND", "HOOKS"), rows, set())
    for p in doc["problems"]:
        out += f"\nFAILED {plain(p['plugin'])} ({plain(p['stage'])}): {plain(p['message'])}"
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
        f"Branch {doc['branch'] or '(detached)'}  base {doc['base_ref']} ({base})  "
        f"head {str(doc['head'])[:7]}",
        f"Total: {t['requests']} requests, {money(t)} API-equivalent ({_pricing_label(doc)})",
        f"  input {tokens(t['input_tokens'])}, cache read {tokens(t['cache_read_tokens'])}, "
        f"cache write {tokens(t['cache_write_tokens'])}, output {output(t)}",
    ]
    if doc.get("source") == "notes":
        head.append(
            f"  from notes ({doc.get('notes_ref')}); "
            f"{doc.get('commits_without_note', 0)} commit(s) without a receipt"
        )
    for line in _attribution_notes(doc):
        head.append(f"  {line}")
    if doc.get("likely_cause"):
        head.append(f"Likely cause: {doc['likely_cause']}")
    parts = ["\n".join(head)]
    if doc["commits"]:
        rows = [
            [
                c["sha"][:7],
                _cut(c.get("subject") or "", 40),
                str(len(c["sessions"])),
                *token_cells(c),
            ]
            for c in doc["commits"]
        ]
        parts.append(table(("COMMIT", "SUBJECT", "SESS", *TOKEN_HEADERS), rows, set(range(2, 9))))
    else:
        parts.append("No commits beyond the base yet: everything below is pending.")
    p = doc["pending"]
    parts.append(
        f"Pending (next commit): {p['requests']} requests, {money(p)}, "
        f"{len(p['sessions'])} session(s)"
    )
    if doc["sessions"]:
        rows = [[s["agent"], str(s["id"])[:8], s["link"], *token_cells(s)] for s in doc["sessions"]]
        parts.append(
            "Sessions:\n" + table(("AGENT", "ID", "LINK", *TOKEN_HEADERS), rows, set(range(3, 9)))
        )
    else:
        parts.append("No agent sessions found for this branch.")
    if doc.get("findings"):
        rows = [
            [
                f["detector"],
                _cut(f["title"], 60),
                str(f.get("session") or "")[:8],
                tokens(f["wasted_tokens"]),
                f"${f['wasted_usd']:.2f}",
                f"{f['confidence']:.1f}",
            ]
            for f in doc["findings"][:10]
        ]
        more = len(doc["findings"]) - len(rows)
        parts.append(
            "Waste found (each token counted once):\n"
            + table(("DETECTOR", "WHAT", "SESSION", "TOKENS", "USD", "CONF"), rows, {3, 4, 5})
            + (f"\n... and {more} more (--json)" if more > 0 else "")
        )
    if doc.get("lessons"):
        parts.append(
            "Lessons for the next run:\n"
            + "\n".join(
                f"  - {lesson['text']} (saves ~${lesson.get('saved_usd', 0):.2f})"
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
    head = (
        f"Commit {doc['sha'][:7]}: {len(doc['sessions'])} session(s), {doc['requests']} "
        f"requests, {money(doc)} API-equivalent\n"
        f"  input {tokens(doc['input_tokens'])}, cache read {tokens(doc['cache_read_tokens'])}, "
        f"cache write {tokens(doc['cache_write_tokens'])}, output {output(doc)}"
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
    headers = ("AGENT", "ID", "LINK", "MODELS", *TOKEN_HEADERS)
    return head + "\n\n" + table(headers, rows, set(range(4, 10)))


CHECK_PREFIX = "tokentrail: "


def _check(doc: Mapping[str, Any]) -> str:
    lines = list(doc["lines"])
    if doc["status"] == "over_budget":
        if doc.get("blocked"):
            lines.append("over budget: refused (--strict); `git commit --no-verify` skips the hook")
        else:
            lines.append("over budget (warning only; add --strict to enforce)")
    return "\n".join(CHECK_PREFIX + line for line in lines)


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
    lines = [f"Lessons from {doc['sessions']} session(s) on {where} (API-equivalent $):"]
    if not doc["lessons"]:
        lines.append("  no wasteful patterns found")
    for n, lesson in enumerate(doc["lessons"], 1):
        lines.append(f"{n:>3}. {lesson['text']}")
        lines.append(f"     saves ~${lesson['saved_usd']:.2f} ({lesson['count']} finding(s))")
    if doc["sessions"]:
        lines.append(f"Likely cause: {doc['likely_cause']}")
    if "written" in doc:
        state = "updated" if doc["written"]["changed"] else "already up to date"
        lines.append(f"{doc['written']['path']}: lessons block {state}")
    return "\n".join(lines)


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
    return f"{(part or 0) / whole:.0%}" if whole else "-"


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
        f"  waste found: ${waste['wasted_usd']:,.2f} in {waste['findings']} finding(s) "
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
                    [str(r["sessions"]), str(r["commits"]), f"${r['wasted_usd']:,.2f}"]
                    if extra
                    else [str(r["sessions"])]
                ),
            ]
            for r in shown
        ]
        headers = (header, *TOKEN_HEADERS, "SESS", *(("COMMITS", "WASTE") if extra else ()))
        more = len(items) - len(shown)
        parts.append(
            f"{title}:\n"
            + table(headers, rows, set(range(1, len(headers))))
            + (f"\n... and {more} more (--json)" if more > 0 else "")
        )
    if waste["by_cause"]:
        rows = [
            [c["cause"], str(c["findings"]), tokens(c["wasted_tokens"]), f"${c['wasted_usd']:,.2f}"]
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
                f"${o['cost_per_commit_usd']:,.2f}",
                f"${o['repo_median_per_commit_usd']:,.2f}",
                f"{o['ratio']:.1f}x",
            ]
            for o in doc["outliers"]
        ]
        parts.append(
            f"Outliers ({doc['outlier_rule']}):\n"
            + table(
                ("PR", "COST", "COMMITS", "PER COMMIT", "REPO MEDIAN", "RATIO"),
                rows,
                {1, 2, 3, 4, 5},
            )
        )
    else:
        parts.append("Outliers: none (" + doc["outlier_rule"] + ")")
    if doc["lessons"]:
        parts.append(
            "Lessons seen across the team:\n"
            + "\n".join(
                f"  - {lesson['text']} (saves ~${lesson['saved_usd']:.2f}; seen "
                f"{lesson['count']}x in {', '.join(lesson['repos'])})"
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
            + table(("REPO", "LESSON", "LANDED", "BEFORE/WK", "AFTER/WK"), rows, {3, 4})
        )
    for warning in doc.get("warnings") or []:
        parts.append(f"warning: {warning}")
    return "\n\n".join(parts)


def _export(doc: Mapping[str, Any]) -> str:
    lines = [f"Exported from {doc['source']} to {doc['out']} ({doc['format']}):"]
    for name, table in doc["tables"].items():
        lines.append(f"  {name}: {table['rows']} row(s) in {table['file']}")
    for name, why in doc["not_filled"].items():
        lines.append(f"  {name}: not written ({why})")
    if doc.get("posted"):
        lines.append(f"  posted to {doc['posted']['url']} (HTTP {doc['posted']['status']})")
    return "\n".join(lines)


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
        "error": _error,
    }

    def render(self, doc: Mapping[str, Any]) -> str:
        kind = self.layouts.get(str(doc.get("kind")))
        if kind is None:
            from tokentrail.builtin.render_json import JsonRenderer

            return JsonRenderer().render(doc)
        return kind(doc)


@hookimpl
def register_renderers(register: Callable[[Renderer], None]) -> None:
    register(TextRenderer())
