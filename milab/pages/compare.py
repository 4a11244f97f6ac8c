"""Comparing what a step printed with the output its page shows.

JSON is compared structurally: every key the page shows must be there, nested the same way and
with the same JSON type; values that are fixed by the service (``token_type: Bearer``,
``type: SystemAssigned``, ``provisioningState: Succeeded``, ``contentLength: 21``) must be equal;
values that differ per run (GUIDs, names the harness chose, locations, times, keys, tokens,
secrets, URLs that embed them) are ignored. Keys the command prints beyond the page's are
allowed (pages abbreviate). Text is compared by line shape: each line the page shows must
appear, in order, once GUIDs, numbers, times and long opaque strings are made wildcards.
"""
from __future__ import annotations

import json
import re
from typing import Any

from ..docs.facts import JsonProblem, parse_doc_json
from .bind import json_values

_GUIDISH = re.compile(r"^[0-9a-zA-Z]{4,12}(-[0-9a-zA-Z]{3,12}){2,5}$")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}|^\d{9,11}$|^\d{1,2}/\d{1,2}/\d{4}")
_VARYING_KEYS = re.compile(
    r"(?i)(^|_)(id|ids|name|location|etag|date|time|created|updated|modified|on|at|before|expires|expiry|token|"
    r"key|keys|value|secret|sig|signature|sas|url|uri|endpoint|tenant|principal|client|object|version|"
    r"requestid|correlation|tags|resourcegroup|subscription|host|computername|vmid|md5|range|length)$|"
    r"(Id|Ids|Name|Url|Uri|Time|Date|On|Key|Token|Endpoint)$|^(expires_in|ext_expires_in|not_before|"
    r"expires_on|refresh_token|lastModified|contentRange|creationTime|timeCreated|clientSecretUrl|"
    r"principalDisplayName|resourceDisplayName|scope|assignee|condition|description)$")
_FIXED_STRING = re.compile(r"^[A-Za-z][A-Za-z0-9 ,._/:+-]{0,80}$")


def _is_placeholderish(v: str) -> bool:
    return "<" in v or ">" in v or "..." in v or "\u2026" in v or v.strip() == ""


def _fixed(key: str, value: Any) -> bool:
    """Is this value fixed by the service (compare it), or does it vary per run (ignore it)?"""
    if _VARYING_KEYS.search(key or ""):
        return False
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, (int, float)):
        return True
    if isinstance(value, str):
        if _is_placeholderish(value) or _GUIDISH.match(value) or _TIME.search(value):
            return False
        if value.startswith(("http://", "https://", "/subscriptions/", "/")):
            return value.startswith(("https://management.azure.com", "https://storage.azure.com",
                                     "https://vault.azure.net", "https://graph")) and "/subscriptions/" not in value
        return bool(_FIXED_STRING.match(value))
    return False


def _jtype(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def compare_json(expected: Any, actual: Any, path: str = "$") -> list[str]:
    """Mismatches between the page's JSON (``expected``) and what the step printed (``actual``)."""
    out: list[str] = []
    if isinstance(expected, dict):
        if isinstance(actual, list):  # the page shows one item of a list ("each identity has type ...")
            if not actual:
                return [f"{path} — the page shows an object, the command printed an empty list"]
            for i, item in enumerate(actual):
                out += compare_json(expected, item, f"{path}[{i}]")
            return out
        if not isinstance(actual, dict):
            return [f"{path} — the page shows an object, the command printed {_jtype(actual)}"]
        for k, ev in expected.items():
            if k not in actual:
                near = [a for a in actual if a.lower() == k.lower()]
                hint = f" (it printed '{near[0]}')" if near else ""
                out.append(f"{path}.{k} — the page shows this key, the command's output has none{hint}")
                continue
            out += _compare_value(k, ev, actual[k], f"{path}.{k}")
        return out
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{path} — the page shows an array, the command printed {_jtype(actual)}"]
        if len(actual) < len(expected):
            out.append(f"{path} — the page shows {len(expected)} item(s), the command printed {len(actual)}")
        for i, (ev, av) in enumerate(zip(expected, actual)):
            out += compare_json(ev, av, f"{path}[{i}]") if isinstance(ev, (dict, list)) else \
                _compare_value("", ev, av, f"{path}[{i}]")
        return out
    return _compare_value("", expected, actual, path)


# ARM's who-and-when metadata of a resource: names and times, ignored like GUIDs and times (a page
# written when the CLI's api-version had none shows ``"systemData": null``; Azure now fills it)
_METADATA_KEYS = {"systemData"}


def _compare_value(key: str, ev: Any, av: Any, path: str) -> list[str]:
    if key in _METADATA_KEYS and (ev is None or isinstance(ev, dict)) and (av is None or isinstance(av, dict)):
        return []
    if isinstance(ev, (dict, list)):
        return compare_json(ev, av, path)
    if isinstance(ev, str) and _is_placeholderish(ev):
        return []  # '<SUBSCRIPTION ID>', 'eyJ0eXAi...': any value
    et, at = _jtype(ev), _jtype(av)
    if et != at:
        if et == "null" or at == "null":
            return [f"{path} — the page shows {json.dumps(ev)}, the command printed {json.dumps(av)[:80]}"]
        if {et, at} == {"string", "number"}:
            return [f"{path} — the page shows a {et} ({json.dumps(ev)}), the command printed a {at}"]
        return [f"{path} — the page shows a {et}, the command printed a {at}"]
    if _fixed(key, ev) and ev != av:
        return [f"{path} — the page shows {json.dumps(ev)}, the command printed {json.dumps(av)[:120]}"]
    return []


_SHAPE_SUBS = [
    (re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"), "<guid>"),
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ][\d:.]+Z?|\w{3}, \d{2} \w{3} \d{4} [\d:]+ GMT"), "<time>"),
    (re.compile(r"[A-Za-z0-9+/=_-]{24,}"), "<opaque>"),
    (re.compile(r"\d+(\.\d+)?"), "<n>"),
    (re.compile(r"\s+"), " "),
]


def line_shape(line: str) -> str:
    s = line.strip()
    for pat, rep in _SHAPE_SUBS:
        s = pat.sub(rep, s)
    return s


def _shape_pattern(shape: str) -> re.Pattern:
    """A line shape as a pattern: its wildcards (and the page's own placeholders) match anything."""
    parts = re.split(r"(<[^<>]{1,60}>|\.\.\.|\u2026)", shape)
    return re.compile("".join(".*?" if (p.startswith("<") or p in ("...", "\u2026")) else re.escape(p)
                              for p in parts))


def compare_text(expected: str, actual: str) -> list[str]:
    """Each non-empty line the page shows must appear in the output, in order, by shape."""
    want = [l for l in expected.splitlines() if l.strip()]
    have = [line_shape(l) for l in actual.splitlines() if l.strip()]
    pos = 0
    for i, line in enumerate(want):
        pat = _shape_pattern(line_shape(line))
        hit = next((j for j in range(pos, len(have)) if pat.fullmatch(have[j])), None)
        if hit is None:
            return [f"line {i + 1} of the page's output {line.strip()[:100]!r} is not in what the command printed"]
        pos = hit + 1
    return []


def compare_http(expected_text: str, status: int | None, body: str) -> list[str]:
    """A response the page shows as HTTP (``HTTP/1.1 200 OK``, headers, body): the status code,
    then the body (as JSON when it is)."""
    lines = expected_text.strip().splitlines()
    m = re.match(r"^HTTP/[\d.]+\s+(\d{3})", lines[0].strip()) if lines else None
    out = []
    if m and status is not None and int(m.group(1)) != status:
        out.append(f"the page shows status {m.group(1)}, the request got {status}")
    rest = "\n".join(lines[1:])
    parts = re.split(r"\n\s*\n", rest, maxsplit=1)
    page_body = parts[1] if len(parts) > 1 else ("" if re.match(r"^[\w-]+\s*:", rest.strip()) else rest)
    page_body = page_body.strip()
    if page_body:
        kind = "json" if page_body.lstrip().startswith(("{", "[")) else "text"
        out += compare(page_body, kind, body)
    return out


def compare(expected_text: str, kind: str, stdout: str, status: int | None = None, stderr: str = "") -> list[str]:
    """Compare one output the page shows with what a step printed: JSON with its standard output,
    text with what the reader's terminal shows (standard output and error)."""
    if expected_text.lstrip().startswith("HTTP/") and kind != "json":
        return compare_http(expected_text, status, stdout)
    if kind == "text":
        lines = expected_text.splitlines()
        start = next((i for i, l in enumerate(lines) if l.strip().startswith(("{", "["))), None)
        if start is not None:  # terminal lines (a progress bar), then the JSON the command printed
            try:
                want = parse_doc_json("\n".join(lines[start:]))
            except JsonProblem:
                want = None
            if want is not None:
                head = "\n".join(lines[:start])
                out = compare_text(head, stderr + "\n" + stdout) if head.strip() else []
                got = json_values(stdout)
                return out + (min((compare_json(want, g) for g in got), key=len) if got
                              else ["the page shows JSON, the command printed none"])
        return compare_text(expected_text, stdout + "\n" + stderr)
    if kind == "json":
        try:
            want = parse_doc_json(expected_text)
        except JsonProblem as e:
            return [f"the page's output is not valid JSON ({e.message}); compared by line shape instead"] + \
                compare_text(expected_text, stdout)[:1]
        got = json_values(stdout)
        if not got:
            return ["the page shows JSON, the command printed none"]
        if len(got) == 1:
            return compare_json(want, got[0])
        # several documents printed: the page's output matches one of them
        results = [compare_json(want, g) for g in got]
        best = min(results, key=len)
        return best
    return compare_text(expected_text, stdout)
