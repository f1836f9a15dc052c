"""A small Markdown builder: blocks in sections, so renderers never concatenate strings and
a PR comment can shed its least important parts to fit GitHub's size limit.

Content passed in is Markdown already; strings from logs must go through `escape.text` or
`escape.code` first. Table cells get their `|` escaped and line breaks flattened here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from tokentrail.escape import cell

OPTIONAL = 200  # sections below this weight go first, whole
KEEP = 1000  # sections at or above this weight are never dropped
_MERMAID_UNSAFE = re.compile(r"[^A-Za-z0-9 _.:/+-]")


def bold(md: str) -> str:
    return f"**{md}**" if md else md


def mermaid_label(value: object) -> str:
    """A string safe inside a quoted Mermaid label (and inside the code fence around it)."""
    return _MERMAID_UNSAFE.sub("", " ".join(str(value).split()))[:40] or "?"


@dataclass
class Table:
    headers: Sequence[str]
    rows: list[Sequence[str]]
    align: str = ""  # one of l/r/c per column; default left
    more: str = ""  # a line under the table, e.g. "and 3 more"

    def render(self) -> str:
        n = len(self.headers)
        marks = {"l": "---", "r": "--:", "c": ":-:"}
        align = (self.align + "l" * n)[:n]
        lines = [
            "| " + " | ".join(cell(h) for h in self.headers) + " |",
            "|" + "|".join(marks.get(a, "---") for a in align) + "|",
        ]
        for row in self.rows:
            cells = [cell(c) or " " for c in list(row)[:n]] + [" "] * (n - len(row))
            lines.append("| " + " | ".join(cells) + " |")
        out = "\n".join(lines)
        return f"{out}\n\n{self.more}" if self.more else out

    def shrink(self) -> bool:
        """Keep half the rows (at least one), noting how many were left out."""
        if len(self.rows) <= 1:
            return False
        keep = len(self.rows) // 2
        dropped = len(self.rows) - keep
        self.rows = self.rows[:keep]
        earlier = int(self.more.split()[1]) if self.more.startswith("_… ") else 0
        self.more = f"_… {dropped + earlier} more row(s) left out to fit the comment._"
        return True


@dataclass
class Text:
    md: str

    def render(self) -> str:
        return self.md


@dataclass
class Section:
    """A run of blocks; `weight` orders what goes first when space runs out (low first)."""

    name: str
    weight: int = 100
    blocks: list[Table | Text | Details] = field(default_factory=list)

    def heading(self, level: int, md: str) -> Section:
        self.blocks.append(Text(f"{'#' * max(1, min(level, 6))} {' '.join(md.split())}"))
        return self

    def para(self, md: str) -> Section:
        if md.strip():
            self.blocks.append(Text(md.strip()))
        return self

    def quote(self, md: str) -> Section:
        self.blocks.append(Text("\n".join(f"> {line}" for line in md.strip().splitlines())))
        return self

    def bullets(self, items: Sequence[str], numbered: bool = False) -> Section:
        if items:
            marks = [f"{i}." if numbered else "-" for i in range(1, len(items) + 1)]
            lines = [f"{m} {' '.join(item.split())}" for m, item in zip(marks, items)]
            self.blocks.append(Text("\n".join(lines)))
        return self

    def table(
        self, headers: Sequence[str], rows: Sequence[Sequence[str]], align: str = ""
    ) -> Table:
        t = Table(headers, [list(r) for r in rows], align)
        self.blocks.append(t)
        return t

    def details(self, summary: str, open: bool = False) -> Details:
        d = Details(summary, open)
        self.blocks.append(d)
        return d

    def mermaid(self, source: str) -> Section:
        body = source.replace("`", "'").strip()
        self.blocks.append(Text(f"```mermaid\n{body}\n```"))
        return self

    def comment(self, text: str) -> Section:
        """A hidden HTML comment (ours only: `--` is removed so it cannot end early)."""
        self.blocks.append(Text(f"<!-- {text.replace('--', '')} -->"))
        return self

    def render(self) -> str:
        return "\n\n".join(b.render() for b in self.blocks)

    def tables(self) -> list[Table]:
        found: list[Table] = []
        for b in self.blocks:
            if isinstance(b, Table):
                found.append(b)
            elif isinstance(b, Details):
                found.extend(b.tables())
        return found


class Details(Section):
    """A collapsible `<details>` block; its summary is inline Markdown (escaped by callers)."""

    def __init__(self, summary: str, open: bool = False) -> None:
        super().__init__(summary)
        self.open = open

    def render(self) -> str:
        inner = super().render()
        tag = "<details open>" if self.open else "<details>"
        summary = " ".join(self.name.split())
        return f"{tag}\n<summary>{summary}</summary>\n\n{inner}\n\n</details>"


@dataclass
class Document:
    """Sections in display order; `render(limit)` sheds the lowest-weight ones to fit."""

    sections: list[Section] = field(default_factory=list)
    where_full: str = ""  # where the untruncated report can be read, for the note

    def section(self, name: str, weight: int = 100) -> Section:
        s = Section(name, weight)
        self.sections.append(s)
        return s

    def render(self, limit: int | None = None) -> str:
        full = self._join(self.sections)
        if limit is None or len(full) <= limit:
            return full
        return self.fit(limit)

    def fit(self, limit: int) -> str:
        """Drop the optional sections (weight < OPTIONAL), lowest first; then halve the
        tables that remain, biggest first; then drop the other sections but the headline
        (weight >= KEEP); last resort, a hard cut. A note always says what was left out."""
        kept = list(self.sections)
        dropped: list[str] = []

        def attempt() -> str:
            return self._join([*kept, Section("note").para(_note(dropped, self.where_full))])

        def drop(below: int) -> str:
            out = attempt()
            for victim in sorted(kept, key=lambda s: s.weight):
                if len(out) <= limit or victim.weight >= below:
                    break
                kept.remove(victim)
                dropped.append(victim.name)
                out = attempt()
            return out

        out = drop(OPTIONAL)
        tables = [t for s in kept for t in s.tables()]
        while len(out) > limit and any(t.shrink() for t in sorted(tables, key=_rows)):
            out = attempt()
        if len(out) > limit:
            out = drop(KEEP)
        if len(out) > limit:
            tail = "\n\n" + _note([*dropped, "the end of the report"], self.where_full)
            out = out[: max(limit - len(tail), 0)] + tail
        return out

    @staticmethod
    def _join(sections: Sequence[Section]) -> str:
        return "\n\n".join(r for r in (s.render() for s in sections) if r) + "\n"


def _rows(t: Table) -> int:
    return -len(t.rows)


def _note(dropped: Sequence[str], where_full: str) -> str:
    what = ", ".join(dropped) if dropped else "some table rows"
    more = f" {where_full}" if where_full else ""
    return f"_Shortened to fit GitHub's comment size limit: left out {what}.{more}_"
