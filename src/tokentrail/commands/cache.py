"""`tokentrail cache info|clear`: where the index is, how big, what it holds; drop it."""

from __future__ import annotations

from typing import Any

import click

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
    from tokentrail.index import facts

    found = facts()
    if found is None:
        raise TokentrailError(
            "cache_disabled", "TOKENTRAIL_NO_CACHE is set: runs use a temporary index"
        )
    doc: dict[str, Any] = {"kind": "cache_info", **found}
    emit(doc, as_json, fmt)


@cache_group.command(name="clear")
@output_options
@handle_errors
def clear(as_json: bool, fmt: str | None) -> None:
    """Delete the index. Sessions whose logs are gone are forgotten with it."""
    from tokentrail.index import clear as clear_index

    emit({"kind": "cache_clear", "removed": clear_index()}, as_json, fmt)
