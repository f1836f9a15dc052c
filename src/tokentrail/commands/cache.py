"""`tokentrail cache info|clear`: where the index is, how big, what it holds; drop it."""

from __future__ import annotations

from typing import Any

import click

from tokentrail.cache import index_path
from tokentrail.commands.common import emit, handle_errors, output_options
from tokentrail.errors import TokentrailError


@click.group(name="cache")
def cache_group() -> None:
    """The index of parsed sessions in the user cache dir."""


@cache_group.command(name="info")
@output_options
@handle_errors
def info(as_json: bool, fmt: str | None) -> None:
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
    emit(doc, as_json, fmt)


@cache_group.command(name="clear")
@output_options
@handle_errors
def clear(as_json: bool, fmt: str | None) -> None:
    """Delete the index. Sessions whose logs are gone are forgotten with it."""
    from tokentrail.index import clear as clear_index

    emit({"kind": "cache_clear", "removed": clear_index()}, as_json, fmt)
