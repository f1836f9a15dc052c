"""The `json` renderer: the document as it is (schema_version at the root)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from tokentrail.hookspecs import Renderer, hookimpl


class JsonRenderer:
    name = "json"

    def render(self, doc: Mapping[str, Any]) -> str:
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()


@hookimpl
def register_renderers(register: Callable[[Renderer], None]) -> None:
    register(JsonRenderer())
