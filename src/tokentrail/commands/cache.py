"""`tokentrail cache info|clear`: where the index is, how big, what it holds; drop it."""

from __future__ import annotations

from typing import Any

import click

from tokentrail.cache import index_path
from tokentrail.commands.common import emit, handle_errors, json_option
from tokentrail.errors import TokentrailError


@click.group(name="cache")
def cache_group() -> None:
    """The index of parsed sessions in the user cache dir."""


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


@cache_group.command(name="info")
@json_option
@handle_errors
def info(as_json: bool) -> None:
    """Location, size and entries of the index."""
    from tokentrail.index import Index

    path = index_path()
    if path is None:
        raise TokentrailError(
            "cache_disabled", "TOKENTRAIL_NO_CACHE is set: runs use a temporary index"
        )
    doc: dict[str, Any] = {"kind": "cache_info", "exists": path.exists()}
    if path.exists():
        index = Index(path)
        try:
            doc.update(index.info())
        finally:
            index.close()
    else:
        doc.update(path=str(path), bytes=0, sessions=0)
    if as_json:
        emit(doc, True)
        return
    click.echo(f"index: {doc['path']}{'' if doc['exists'] else ' (not created yet)'}")
    if doc["exists"]:
        click.echo(f"size: {_size(doc['bytes'])}")
        click.echo(
            f"entries: {doc['sessions']} session(s) "
            f"({doc['sessions_kept_after_deletion']} kept after their logs were deleted), "
            f"{doc['requests']} request row(s), {doc['detector_results']} stored "
            f"detector result(s)"
        )


@cache_group.command(name="clear")
@json_option
@handle_errors
def clear(as_json: bool) -> None:
    """Delete the index. Sessions whose logs are gone are forgotten with it."""
    from tokentrail.index import clear as clear_index
    from tokentrail.quick import forget

    removed = clear_index()
    forget()  # remembered check answers rest on the index too
    if as_json:
        emit({"kind": "cache_clear", "removed": removed}, True)
        return
    if removed:
        for path in removed:
            click.echo(f"removed {path}")
    else:
        click.echo("nothing to remove")
