"""A plugin that cannot even be imported: tokentrail must report it and carry on."""

from __future__ import annotations

raise ImportError("tokentrail-fake-plugin: broken_import needs a module that is not installed")
