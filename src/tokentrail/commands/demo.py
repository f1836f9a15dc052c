"""`tokentrail demo`: real output on a generated repo and logs (no local logs needed)."""

from __future__ import annotations

import click


@click.command()
def demo() -> None:
    """Generate a small repo with agent logs in a temp dir and report on it."""
    raise click.ClickException("demo: not built yet")
