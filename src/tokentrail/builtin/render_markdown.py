"""The `markdown` renderer: the branch receipt as a PR comment, step summary or terminal text.

Dollar figures are always labelled API-equivalent (subscription plans pay a flat fee) and
"estimated" when some requests are unpriced or output is a lower bound. Every string taken
from a log or from git goes through `escape.text` / `escape.code` (which redact first);
only ids, totals, paths and command names are shown, never prompts or tool output.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tokentrail import __version__, fmt
from tokentrail.escape import code, text
from tokentrail.fmt import cost as money
from tokentrail.fmt import output, tokens
from tokentrail.hookspecs import Renderer, hookimpl
from tokentrail.markdown import Document, Section, bold, mermaid_label

AGENT_NAMES = {"claude-code": "Claude Code", "codex": "Codex"}
EVIDENCE_TARGETS = ("command", "file", "target", "what", "path")
# section weights: the lowest go first when a comment must shrink
HEADLINE, COMMITS, FINDINGS, LESSONS, CHARTS, DETAILS = 1000, 500, 400, 300, 100, 50


def is_estimate(row: Mapping[str, Any]) -> bool:
    return bool(row.get("unpriced_requests") or row.get("output_lower_bound_requests"))


def cost_label(row: Mapping[str, Any]) -> str:
    """`$1.23 API-equivalent`, with `estimated` when part of the figure is a guess."""
    label = "API-equivalent, estimated" if is_estimate(row) else "API-equivalent"
    return f"{money(row)} {label}"


def usd(value: float | None) -> str:
    return fmt.money(value)


def _agent(name: object) -> str:
    return AGENT_NAMES.get(str(name), text(name, 30))


def _by_agent(sessions: Sequence[Mapping[str, Any]]) -> str:
    counts = Counter(str(s.get("agent")) for s in sessions)
    return ", ".join(f"{n} {_agent(a)}" for a, n in sorted(counts.items()))


def _relative(value: str, repo: str) -> str:
    """Paths under the repo shown relative to it: the machine's own layout stays home."""
    if repo and value.startswith(repo.rstrip("/") + "/"):
        return value[len(repo.rstrip("/")) + 1 :]
    return value


def _short_id(value: object) -> str:
    return code(str(value)[:8])


def receipt_document(doc: Mapping[str, Any], where_full: str = "") -> Document:
    """The branch receipt as sections, most important first."""
    out = Document(where_full=where_full)
    _headline(out.section("the headline", HEADLINE), doc)
    _commits(out.section("the per-commit table", COMMITS), doc)
    _findings(out.section("the waste table", FINDINGS), doc)
    _lessons(out.section("the lessons", LESSONS), doc)
    _charts(out.section("the charts", CHARTS), doc)
    _details(out.section("the details", DETAILS), doc)
    footer = out.section("footer", HEADLINE)
    footer.para(
        f"<sub>tokentrail {text(__version__)} · API-equivalent: what these tokens would cost "
        "at API list prices; subscription plans pay a flat fee. Only ids, totals, paths and "
        "command names are shown; secrets are redacted.</sub>"
    )
    return out


def render_receipt(doc: Mapping[str, Any], limit: int | None = None, where_full: str = "") -> str:
    """The receipt as Markdown, with our hidden marker; shortened to `limit` characters."""
    return receipt_document(doc, where_full).render(limit)


def _headline(s: Section, doc: Mapping[str, Any]) -> None:
    t = doc["totals"]
    sessions = doc.get("sessions") or []
    commits = doc.get("commits") or []
    branch = code(doc.get("branch") or "detached HEAD", 80)
    s.heading(3, f"tokentrail receipt for {branch}")
    missing = int(doc.get("commits_without_note") or 0)
    parts = [
        bold(("at least " if missing else "") + cost_label(t)),
        f"{tokens(t.get('total_tokens'))} tokens "
        f"({tokens(t.get('cache_read_tokens'))} cache reads)",
        f"{t.get('requests', 0)} requests",
        f"{len(sessions)} session(s)" + (f" ({_by_agent(sessions)})" if sessions else ""),
        f"{len(commits)} commit(s)",
    ]
    pending = doc.get("pending") or {}
    if pending.get("requests"):
        parts.append(f"{usd(pending.get('cost_usd'))} pending (not yet committed)")
    s.para(" · ".join(parts))
    quota = fmt.rate_limit_share(doc)
    if quota:
        s.para(text(quota[0].upper() + quota[1:], 300) + ".")
    verdict = doc.get("budget") or {}
    branch_budget = verdict.get("branch_total") or {}
    if branch_budget.get("budget_usd") is not None:
        limit = usd(float(branch_budget["budget_usd"]))
        if branch_budget.get("over"):
            s.para(f"**Over budget:** {money(t)} against a budget of {limit}.")
        elif missing:
            s.para(
                f"**Budget not verified:** {money(t)} counted against a budget of {limit}, "
                "but some commits have no receipt."
            )
        else:
            s.para(f"Within budget: {money(t)} of {limit}.")
    unpriced = verdict.get("unpriced") or {}
    if unpriced.get("requests") and branch_budget.get("budget_usd") is not None:
        counted = "; they count as over budget (`unpriced: fail`)" if unpriced.get("over") else ""
        s.para(
            f"{'**Over budget:** ' if unpriced.get('over') else ''}The budget compares the "
            f"priced part only: {unpriced['requests']} of {unpriced.get('of', '?')} requests "
            f"used a model without a known price{counted}."
        )
    notes = []
    if t.get("unpriced_requests"):
        notes.append(f"{t['unpriced_requests']} request(s) used a model without a known price")
    if t.get("output_lower_bound_requests"):
        notes.append(
            f"{t['output_lower_bound_requests']} request(s) logged only a lower bound for output"
        )
    skipped = sum((doc.get("note_lines_skipped") or {}).values())
    if skipped:
        notes.append(f"{skipped} note line(s) could not be read and are left out")
    if doc.get("unattributed_sessions"):
        notes.append(
            f"{doc['unattributed_sessions']} session(s) hold work no commit of this branch contains"
        )
    if notes:
        s.para("_Estimated: " + "; ".join(notes) + "._")
    if missing:
        s.para(_missing_receipts(doc, missing, len(commits)))
    base = doc.get("baseline") or {}
    if base.get("median_pr_cost_usd") is not None:
        s.para(
            f"This PR: {usd(base.get('pr_cost_usd'))}; this repository's median PR: "
            f"{usd(base['median_pr_cost_usd'])} (over {int(base.get('prs') or 0)} PRs, "
            "API-equivalent)."
        )
    if doc.get("likely_cause"):
        s.para(f"**Likely cause:** {text(doc['likely_cause'], 400)}")


def _missing_receipts(doc: Mapping[str, Any], missing: int, commits: int) -> str:
    """Missing receipts are said and named, never read as $0."""
    shas = [str(sha) for sha in doc.get("commits_missing_note") or []]
    named = ", ".join(code(sha[:7]) for sha in shas[:10])
    if len(shas) > 10:
        named += f" and {len(shas) - 10} more"
    return (
        f"**Receipts missing:** {missing} of {commits} commits have no receipt"
        + (f" ({named})" if named else "")
        + " — push notes with `tokentrail notes push`. The figures above cover only the "
        "commits that have one."
    )


def _commit_sessions(c: Mapping[str, Any]) -> str:
    rows = c.get("sessions") or []
    return ", ".join(f"{_agent(r.get('agent'))} ({text(r.get('link', '?'), 10)})" for r in rows)


def _commits(s: Section, doc: Mapping[str, Any]) -> None:
    commits = doc.get("commits") or []
    pending = doc.get("pending") or {}
    s.heading(4, "Commits")
    if not commits and not pending.get("requests"):
        s.para("No commits beyond the base and no agent work found for this branch.")
        return
    rows = [
        [
            code(str(c.get("sha", ""))[:7]),
            text(c.get("subject") or "", 60),
            _commit_sessions(c) or "none",
            str(c.get("requests", 0)),
            tokens(c.get("total_tokens")),
            output(c),
            money(c),
        ]
        for c in commits
    ]
    if pending.get("requests"):
        rows.append(
            [
                "_pending_",
                "_work after the last commit_",
                _commit_sessions(pending),
                str(pending.get("requests", 0)),
                tokens(pending.get("total_tokens")),
                output(pending),
                money(pending),
            ]
        )
    t = doc["totals"]
    rows.append(
        [
            bold("total"),
            "",
            "",
            bold(str(t.get("requests", 0))),
            bold(tokens(t.get("total_tokens"))),
            bold(output(t)),
            bold(money(t)),
        ]
    )
    s.table(
        ("Commit", "Subject", "Sessions", "Requests", "Tokens", "Output", "Cost"), rows, "lllrrrr"
    )


def evidence_line(item: Mapping[str, Any], repo: str = "") -> str:
    """One piece of evidence: turn, tool, what it touched (as code), other small facts."""
    bits = []
    if item.get("turn") is not None:
        bits.append(f"turn {text(item['turn'], 10)}")
    if item.get("tool"):
        bits.append(text(item["tool"], 30))
    for key in EVIDENCE_TARGETS:
        if item.get(key):
            bits.append(code(_relative(str(item[key]), repo), 80))
            break
    for key, value in item.items():
        if key in ("turn", "tool", "kind", *EVIDENCE_TARGETS) or isinstance(value, (dict, list)):
            continue  # a re-write's `kind` is in its title already
        if value is None or value == "":
            continue
        shown = f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else value
        bits.append(f"{text(key.replace('_', ' '), 30)} {text(shown, 60)}")
    return " ".join(bits)


def _findings(s: Section, doc: Mapping[str, Any]) -> None:
    findings = doc.get("findings") or []
    if not findings:
        s.heading(4, "Waste")
        s.para("No waste found by the detectors.")
        return
    wasted = (doc.get("waste") or {}).get("wasted_usd")
    s.heading(4, f"Waste found: about {usd(wasted)} (estimated, each token counted once)")
    repo = str(doc.get("repo") or "")
    one_session = doc.get("kind") == "session"  # a postmortem: no session column
    rows = []
    for f in findings:
        evidence = [evidence_line(e, repo) for e in (f.get("evidence") or [])[:3]]
        more = len(f.get("evidence") or []) - len(evidence)
        if more > 0:
            evidence.append(f"+{more} more")
        rows.append(
            [
                text(f.get("detector", "?"), 40),
                text(f.get("title", ""), 120),
                "; ".join(evidence),
                *([] if one_session else [_short_id(f.get("session", ""))]),
                tokens(f.get("wasted_tokens")),
                usd(f.get("wasted_usd")),
                fmt.confidence(float(f.get("confidence") or 0)),
            ]
        )
    headers = (
        "Cause",
        "What happened",
        "Evidence",
        "Session",
        "Tokens",
        "Est. waste",
        "Confidence",
    )
    if one_session:
        s.table(headers[:3] + headers[4:], rows, "lllrrr")
    else:
        s.table(headers, rows, "llllrrr")


def _lessons(s: Section, doc: Mapping[str, Any]) -> None:
    lessons = doc.get("lessons") or []
    if not lessons:
        return
    s.heading(4, "Lessons for the next run")
    s.bullets(
        [
            f"{text(lesson.get('text', ''), 300)} — saves "
            f"{fmt.saving(lesson.get('saved_usd'))} (seen {int(lesson.get('count') or 1)}×)"
            for lesson in lessons[:10]
        ],
        numbered=True,
    )


def _charts(s: Section, doc: Mapping[str, Any]) -> None:
    bars = [
        (str(c.get("sha", ""))[:7], float(c.get("cost_usd") or 0)) for c in doc.get("commits") or []
    ]
    pending = doc.get("pending") or {}
    if pending.get("requests"):
        bars.append(("pending", float(pending.get("cost_usd") or 0)))
    causes = {
        mermaid_label(d.get("detector", "?")): float(d.get("wasted_usd") or 0)
        for d in (doc.get("waste") or {}).get("by_detector") or []
    }
    if not bars and not causes:
        return
    box = s.details("Charts: cost per commit, waste by cause")
    if bars:
        labels = ", ".join(f'"{mermaid_label(b[0])}"' for b in bars)
        values = ", ".join(f"{b[1]:.4f}" for b in bars)
        box.mermaid(
            "xychart-beta\n"
            '    title "Cost per commit (USD, API-equivalent)"\n'
            f"    x-axis [{labels}]\n"
            '    y-axis "USD"\n'
            f"    bar [{values}]"
        )
    if causes:
        slices = "\n".join(f'    "{k}" : {v:.4f}' for k, v in causes.items())
        box.mermaid(f"pie showData\n    title Estimated waste by cause (USD)\n{slices}")


def _details(s: Section, doc: Mapping[str, Any]) -> None:
    box = s.details("Details: sessions, pricing, notes")
    sessions = doc.get("sessions") or []
    if sessions:
        rows = [
            [
                _agent(r.get("agent")),
                _short_id(r.get("id", "")),
                text(r.get("link", "?"), 10),
                ", ".join(
                    f"{code(m, 40)} ×{n}" for m, n in sorted((r.get("models") or {}).items())
                ),
                str(r.get("requests", 0)),
                tokens(r.get("total_tokens")),
                money(r),
            ]
            for r in sessions
        ]
        box.table(
            ("Agent", "Session", "Link", "Models", "Requests", "Tokens", "Cost"), rows, "lllllrr"
        )
        box.para(
            "_Link: exact = the agent's own `git commit` names the commit; strong = the log's "
            "branch and folder match; window = only the time between commits._"
        )
    pricing = doc.get("pricing")
    pricing_text = ", ".join(map(str, pricing)) if isinstance(pricing, list) else str(pricing)
    base_ref = str(doc.get("base_ref") or "")
    named = f" (base {code(base_ref, 60)})" if base_ref and base_ref != doc.get("base") else ""
    facts = [
        f"Range: {code(str(doc.get('base') or '')[:7])}..{code(str(doc.get('head') or '')[:7])}"
        + named,
        f"Source: {'git notes' if doc.get('source') == 'notes' else 'local agent logs'}",
        f"Pricing: {text(pricing_text or 'no pricing recorded', 200)}",
    ]
    if doc.get("notes_ref"):
        facts.append(f"Notes ref: {code(doc['notes_ref'], 80)}")
    if doc.get("commits_without_note"):
        facts.append(f"Commits without a note: {int(doc['commits_without_note'])}")
    carry = doc.get("carry") or {}
    if carry.get("billed_tokens"):
        facts.append(
            f"Tool output carried in context: {tokens(carry.get('carried_tokens'))} tokens "
            f"({fmt.percent(float(carry.get('carried_share') or 0))} of billed, "
            f"{usd(carry.get('carried_usd'))})"
        )
    for warning in doc.get("warnings") or []:
        facts.append(f"Warning: {text(warning, 300)}")
    box.bullets(facts)


# --- one session: the postmortem -----------------------------------------------------------


def session_document(doc: Mapping[str, Any], heading: bool = True) -> Document:
    """One session's postmortem as sections: the headline and likely cause, the waste with
    its evidence, what burned context, the lessons, then usage by model and subagent.
    `heading=False` leaves out the title and summary line (a page that has its own)."""
    out = Document()
    s = doc["session"]
    head = out.section("the headline", HEADLINE)
    if heading:
        head.heading(
            3, f"tokentrail postmortem of {_agent(s.get('agent'))} session {code(s['id'], 80)}"
        )
        head.para(
            " · ".join(
                [
                    bold(cost_label(s)),
                    f"{s.get('requests', 0)} requests",
                    f"{int(doc.get('tool_calls') or 0)} tool calls "
                    f"({int(doc.get('tool_errors') or 0)} failed)",
                    f"{int(doc.get('compactions') or 0)} compaction(s)",
                    f"{text(str(s.get('start') or '?')[:16].replace('T', ' '))} → "
                    f"{text(str(s.get('end') or '?')[:16].replace('T', ' '))} UTC",
                ]
            )
        )
    branches = ", ".join(code(b, 60) for b in s.get("branches") or [])
    if branches:
        head.para(f"Branch: {branches}")
    if doc.get("likely_cause"):
        head.para(f"**Likely cause:** {text(doc['likely_cause'], 500)}")
    _findings(out.section("the waste table", FINDINGS), doc)
    _carried(out.section("what burned context", FINDINGS), doc)
    _lessons(out.section("the lessons", LESSONS), doc)
    _usage(out.section("the details", DETAILS), doc)
    out.section("footer", HEADLINE).para(
        f"<sub>tokentrail {text(__version__)} · API-equivalent: what these tokens would cost "
        "at API list prices. Only ids, totals, paths and command names are shown; secrets "
        "are redacted.</sub>"
    )
    return out


ROLLUP_TABLES = {
    "repo": ("By repository", "Repository"),
    "author": ("By author", "Author"),
    "agent": ("By agent", "Agent"),
    "model": ("By model", "Model"),
    "week": ("By week", "Week"),
    "pr": ("Top PRs and branches", "PR / branch"),
}
ROLLUP_ROWS = 10


def _rollup_label(kind: str, row: Mapping[str, Any]) -> str:
    if kind == "pr":
        return f"{text(row['repo'], 60)} {text(row['label'], 80)}"
    if kind == "agent":
        return _agent(row["agent"])
    if kind == "model":
        return code(row["model"], 80)
    if kind == "week":
        return f"{text(row['week'])} ({text(row.get('week_start') or '?')})"
    return text(row.get(kind) or "-", 80)


def rollup_document(doc: Mapping[str, Any]) -> Document:
    """The roll-up as a digest a lead pastes into a weekly note."""
    out = Document()
    t, waste = doc["totals"], doc["waste"]
    head = out.section("headline", HEADLINE)
    window = " ".join(
        f"{word} {text(str(doc[word])[:10])}" for word in ("since", "until") if doc.get(word)
    )
    head.heading(3, "Agent work across the team" + (f" ({window})" if window else ""))
    cost = float(t.get("cost_usd") or 0.0)
    share = f" ({fmt.share(waste['wasted_usd'], cost)} of the bill)" if cost else ""
    head.para(
        " · ".join(
            [
                bold(cost_label(t)),
                f"{t['repos']} repositories",
                f"{t['authors']} author(s)",
                f"{t['prs']} PR(s)",
                f"{t['sessions']} session(s)",
                f"{t['requests']} requests",
                f"waste found {usd(waste['wasted_usd'])}{share}",
            ]
        )
    )
    body = out.section("breakdowns", COMMITS)
    for kind in doc.get("show") or ROLLUP_TABLES:
        title, header = ROLLUP_TABLES[kind]
        items = doc["by"][kind]
        shown = items if kind == "week" else items[:ROLLUP_ROWS]
        body.heading(4, title)
        table = body.table(
            (header, "Requests", "Tokens", "Cost", "Sessions", "Waste"),
            [
                [
                    _rollup_label(kind, r),
                    str(r["requests"]),
                    tokens(r.get("total_tokens")),
                    money(r),
                    str(r["sessions"]),
                    usd(r.get("wasted_usd")) if "wasted_usd" in r else "-",
                ]
                for r in shown
            ],
            "lrrrrr",
        )
        if len(items) > len(shown):
            table.more = f"_… and {len(items) - len(shown)} more (`--json`)._"
    extra = out.section("waste", FINDINGS)
    if waste["by_cause"]:
        extra.heading(4, "Waste by cause (estimated)")
        extra.table(
            ("Cause", "Findings", "Tokens", "Est. waste"),
            [
                [
                    text(c["cause"], 40),
                    str(c["findings"]),
                    tokens(c["wasted_tokens"]),
                    usd(c["wasted_usd"]),
                ]
                for c in waste["by_cause"]
            ],
            "lrrr",
        )
    extra.heading(4, "Outliers")
    if doc["outliers"]:
        extra.table(
            ("PR", "Cost", "Commits", "Per commit", "Repo median", "Ratio"),
            [
                [
                    f"{text(o['repo'], 60)} {text(o['label'], 80)}",
                    money(o),
                    str(o["commits"]),
                    usd(o["cost_per_commit_usd"]),
                    usd(o["repo_median_per_commit_usd"]),
                    f"{o['ratio']:.1f}×",
                ]
                for o in doc["outliers"]
            ],
            "lrrrrr",
        )
    else:
        extra.para(f"None: no PR at {text(doc['outlier_rule'])}.")
    lessons = out.section("lessons", LESSONS)
    if doc["lessons"]:
        lessons.heading(4, "Lessons seen across the team")
        lessons.bullets(
            [
                f"{text(lesson['text'], 300)} — saves {fmt.saving(lesson['saved_usd'])} "
                f"(seen {lesson['count']}× in {', '.join(text(r, 60) for r in lesson['repos'])})"
                for lesson in doc["lessons"][:10]
            ]
        )
    if doc["lesson_effects"]:
        lessons.heading(4, "Did the lessons in AGENTS.md / CLAUDE.md work?")
        lessons.table(
            ("Repository", "Lesson", "Landed", "Findings/week before", "after"),
            [
                [
                    text(e["repo"], 60),
                    text(e["lesson"], 200),
                    text(str(e["landed"])[:10]),
                    f"{e['before']['per_week']:.2f} ({e['before']['findings']} in "
                    f"{e['before']['weeks']} wk)",
                    f"{e['after']['per_week']:.2f} ({e['after']['findings']} in "
                    f"{e['after']['weeks']} wk)",
                ]
                for e in doc["lesson_effects"]
            ],
            "lllrr",
        )
    foot = out.section("footer", HEADLINE)
    notes = [text(w, 300) for w in doc.get("warnings") or []]
    foot.para(
        f"<sub>tokentrail {text(__version__)} · from git notes ({code(doc['notes_ref'], 80)}) · "
        "API-equivalent: what these tokens would cost at API list prices."
        + "".join(f" Warning: {n}." for n in notes)
        + "</sub>"
    )
    return out


def _carried(s: Section, doc: Mapping[str, Any]) -> None:
    carry = doc.get("carry") or {}
    groups = carry.get("top_groups") or []
    if not groups:
        return
    s.heading(
        4,
        f"What burned context: {tokens(carry.get('carried_tokens'))} tokens of tool output "
        f"carried, {usd(carry.get('carried_usd'))} "
        f"({float(carry.get('carried_share') or 0):.0%} of billed tokens)",
    )
    rows = []
    for g in groups:
        tools = g.get("tools") or {}
        rows.append(
            [
                code(str(g.get("what") or "?"), 80),
                text(", ".join(f"{n}× {t}" for t, n in tools.items()), 80),
                tokens(g.get("largest_tokens")),
                str(int(g.get("carried_requests") or 0)),
                tokens(g.get("carry_tokens")),
                usd(g.get("carry_usd")),
            ]
        )
    s.table(
        ("File or command", "Put in by", "Largest copy", "Re-sent", "Tokens carried", "Cost"),
        rows,
        "llrrrr",
    )


def _usage(s: Section, doc: Mapping[str, Any]) -> None:
    box = s.details("Details: by model and by subagent")
    for key, title in (("model", "Model"), ("subagent", "Subagent")):
        rows = [
            [
                code(str(r.get(key)), 60),
                str(r.get("requests", 0)),
                tokens(r.get("cache_read_tokens")),
                tokens(r.get("cache_write_tokens")),
                output(r),
                money(r),
            ]
            for r in doc.get(f"by_{key}") or []
        ]
        if rows:
            box.table(
                (title, "Requests", "Cache reads", "Cache writes", "Output", "Cost"), rows, "lrrrrr"
            )


def render_other(doc: Mapping[str, Any]) -> str:
    """Documents other than the receipt: the text renderer's output in a code block."""
    from tokentrail.builtin.render_text import TextRenderer

    body = TextRenderer().render(doc)
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{body}\n{fence}\n"


class MarkdownRenderer:
    name = "markdown"

    def render(self, doc: Mapping[str, Any]) -> str:
        if doc.get("kind") == "report":
            return render_receipt(doc)
        if doc.get("kind") == "session":
            return session_document(doc).render()
        if doc.get("kind") == "rollup":
            return rollup_document(doc).render()
        return render_other(doc)

    def render_within(self, doc: Mapping[str, Any], limit: int, note: str = "") -> str:
        if doc.get("kind") == "report":
            return render_receipt(doc, limit, note)
        if doc.get("kind") == "session":
            return session_document(doc).render(limit)
        return render_other(doc)[:limit]


@hookimpl
def register_renderers(register: Callable[[Renderer], None]) -> None:
    register(MarkdownRenderer())
