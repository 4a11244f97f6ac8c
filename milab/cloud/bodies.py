"""Reading request bodies with limits: the one place the emulated services take bytes from a
client and turn them into JSON or form fields.

Every reader bounds what it accepts (size, and for JSON the nesting depth) and reports a
problem as :class:`BodyError` with a ``reason``; each service maps the reason to its own
error shape. Nothing here raises anything else for hostile input: invalid UTF-8, unknown
charsets, truncated or deeply nested documents all become a ``BodyError``.
"""
from __future__ import annotations

import json
import urllib.parse
from typing import Any

from aiohttp import web

# ARM refuses request bodies over 4 MB: "RequestContentTooLarge: The request content size exceeds
# the maximum size of 4 MB." (recorded in Azure/ALZ-Bicep#833, Azure/avdaccelerator#632; the
# limit is in the ARM RPC's common API details, Azure/azure-resource-manager-rpc#138).
ARM_MAX_BODY = 4 * 1024 * 1024
# Nesting deeper than this is refused. ARM does not document its bound; Json.NET, which ARM
# deserializes with, stops at a MaxDepth of 64 by default. The bound keeps every stored
# resource far below Python's recursion limit, so saving state can never fail on one document.
MAX_JSON_DEPTH = 64
# Token requests are small (a client assertion is a few KB); Entra's own bound is not documented.
FORM_MAX_BODY = 1024 * 1024


class BodyError(Exception):
    """A body the service cannot accept. ``reason``: too_large | invalid_json | too_deep."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


async def read_limited(request: web.Request, limit: int) -> bytes:
    """The whole body, or BodyError('too_large') as soon as it passes ``limit`` bytes
    (announced by Content-Length or seen while reading)."""
    if request.content_length is not None and request.content_length > limit:
        raise BodyError("too_large", f"{request.content_length} bytes")
    if not request.can_read_body:
        return b""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise BodyError("too_large", f"more than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"Unexpected value '{name}'")


def json_depth(value: Any) -> int:
    """Nesting depth of a parsed document, without recursion (1 for a flat object or array)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return deepest


def parse_json(raw: bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """JSON from bytes (UTF-8/16/32 as RFC 8259 allows); None for an empty body."""
    if not raw.strip():
        return None
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        raise BodyError("too_deep", f"The JSON nests more than {max_depth} levels.") from None
    except ValueError as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise BodyError("invalid_json", str(e)) from None
    if json_depth(value) > max_depth:
        raise BodyError("too_deep", f"The JSON nests more than {max_depth} levels.")
    return value


def media_type(request: web.Request) -> str:
    """The Content-Type without parameters, lower-cased ('' when absent)."""
    return request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()


def parse_form(raw: bytes) -> dict[str, str]:
    """application/x-www-form-urlencoded fields (the first of repeated names). The charset
    parameter is not consulted: bytes are read as UTF-8 and what does not decode becomes
    U+FFFD, so a bad byte can only make a field wrong, never the request fail."""
    text = raw.decode("utf-8", errors="replace")
    out: dict[str, str] = {}
    for name, value in urllib.parse.parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="replace"):
        out.setdefault(name, value)
    return out
