"""The `json` renderer: the document as it is (schema_version at the root), with every
string redacted and every character a terminal would act on escaped as \\uXXXX."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from tokentrail.escape import json_ready, json_text
from tokentrail.hookspecs import Renderer, hookimpl


class JsonRenderer:
    name = "json"

    def render(self, doc: Mapping[str, Any]) -> str:
        text = orjson.dumps(json_ready(doc), option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
        return json_text(text.decode())


@hookimpl
def register_renderers(register: Callable[[Renderer], None]) -> None:
    register(JsonRenderer())
