"""`tokentrail plugins`: what is loaded, which hooks each plugin implements, and failures."""

from __future__ import annotations

from typing import Any

import click

from tokentrail.commands.common import emit, handle_errors, output_options
from tokentrail.plugins import BUILTIN_PLUGINS, get_plugin_manager


@click.command(name="plugins")
@output_options
@handle_errors
def plugins_command(as_json: bool, fmt: str | None) -> None:
    """List plugins, their hooks and versions, and any that failed to load."""
    from tokentrail import __version__

    pm = get_plugin_manager()
    # Registration hooks only run when something needs what they register; run them here
    # too, so a plugin that fails inside one shows up in the listing, not only later.
    pm.adapters()
    pm.detectors()
    pm.renderers()
    rows: list[dict[str, Any]] = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        hooks = sorted(impl.name for impl in pm.get_hookcallers(plugin) or [])
        builtin = name in BUILTIN_PLUGINS
        rows.append(
            {
                "name": name,
                "builtin": builtin,
                "version": __version__ if builtin else pm.versions.get(name),
                "hooks": hooks,
            }
        )
    problems = [{"plugin": p.plugin, "stage": p.stage, "message": p.message} for p in pm.problems]
    emit({"kind": "plugins", "plugins": rows, "problems": problems}, as_json, fmt)
