"""Redaction of secrets in everything the harness writes (reports, logs, matrices).

``redact(text)`` replaces credentials with ``<redacted>`` while keeping the name of
the key, header or parameter that held them, so a reader still sees what was there::

    >>> redact("https://acct.blob.core.windows.net/c?sv=2021-08-06&sig=abc%2Bdef")
    'https://acct.blob.core.windows.net/c?sv=2021-08-06&sig=<redacted>'

What is recognised:

* exact values registered with :func:`register_secret` (client secrets, account keys
  the scenarios created ...), also in their URL-encoded and HTML-escaped forms;
* JWTs (``eyJ...`` base64url parts, also truncated ones) and ``Bearer eyJ...``;
* ``Authorization: Bearer <anything>`` header values;
* ``access_token`` / ``refresh_token`` / ``id_token`` values (JSON, Python reprs,
  form and query encoding);
* SAS and Cosmos DB signatures: ``sig=...`` (also ``sig%3D...``), which covers
  ``type=aad&ver=1.0&sig=...`` and ``type=master&ver=1.0&sig=...``;
* ``AccountKey=...;`` (and ``SharedAccessKey=``) in connection strings,
  ``SharedKey <account>:<signature>`` authorization values;
* ``client_secret`` / ``clientSecret`` / ``AZURE_CLIENT_SECRET`` values;
* storage ``listKeys`` output: ``"key1"``/``"key2"`` values and ``"value"`` in
  ``{"keyName": ..., "value": ...}`` objects; ``primaryKey``/``secondaryKey``;
* ``x-ms-identity-header`` / ``X-IDENTITY-HEADER`` / ``IDENTITY_HEADER`` values;
* Cosmos DB ``primaryMasterKey``, ``secondaryMasterKey``, ``primaryReadonlyMasterKey``
  and ``secondaryReadonlyMasterKey`` values.

Quotes may be plain (``"``, ``'``), backslash-escaped (``\\"``) or HTML/XML entities
(``&quot;``, ``&#34;``, ``&amp;quot;`` ...), so the same patterns work on the text
of a JUnit XML or pytest-html file. Use :func:`redact_markup` for such files: it
writes ``&lt;redacted&gt;`` so the file stays well-formed.

Ordinary text (GUIDs, resource IDs, URLs without secrets, api-versions, the words
"Bearer token" or "access_token" in prose) is left as it is.
"""
from __future__ import annotations

import html
import logging
import re
import threading
from typing import Any, Callable
from urllib.parse import quote

__all__ = [
    "MASK",
    "MARKUP_MASK",
    "MIN_SECRET_LENGTH",
    "RedactingFilter",
    "clear_secrets",
    "contains_secret",
    "redact",
    "redact_markup",
    "register_secret",
    "registered_secret_count",
]

MASK = "<redacted>"
MARKUP_MASK = "&lt;redacted&gt;"
MIN_SECRET_LENGTH = 8

# A quote: plain, backslash-escaped (JSON inside a repr), or an HTML/XML entity,
# possibly escaped more than once (&amp;quot;).
_Q = r"""(?:\\*["']|&(?:amp;)*(?:quot|apos|\#34|\#39|\#x22|\#x27);)"""
# A secret value: stops at whitespace, quotes, entities (&), backslashes, markup and
# the separators that end a value in JSON, reprs, headers and connection strings.
_V = r"""[^\s"'&\\<>,;{}\[\]()|]+"""
# The start of a key: not in the middle of a word.
_KEY_START = r"(?<![A-Za-z0-9])"


def _kv(keys: str, flags: int = 0) -> re.Pattern[str]:
    """``key: value`` / ``key=value`` / ``"key": "value"`` for the given key names."""
    return re.compile(
        rf"(?P<k>(?:{_Q})?{_KEY_START}(?:{keys})(?:{_Q})?\s*[:=]\s*(?:{_Q})?)(?P<v>{_V})",
        flags,
    )


# (hint, pattern) pairs applied in order: group "k" is kept, "v" is masked. A pattern
# only runs when its lower-case hint occurs in the text (cheap on large report files).
_KV_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    # Authorization: Bearer <anything>
    ("authorization", re.compile(
        rf"(?P<k>(?:{_Q})?{_KEY_START}Authorization(?:{_Q})?\s*[:=]\s*(?:{_Q})?\s*Bearer\s+)(?P<v>{_V})",
        re.IGNORECASE)),
    # Bearer eyJ... (also truncated, e.g. "Bearer eyJ0eXAi...")
    ("bearer", re.compile(r"(?P<k>(?<![A-Za-z0-9])Bearer\s+)(?P<v>eyJ[A-Za-z0-9_\-.]*)")),
    # OAuth token values
    ("_token", _kv(r"access_token|refresh_token|id_token")),
    # client secrets
    ("secret", _kv(r"(?:AZURE_)?client_?secret", re.IGNORECASE)),
    # managed identity endpoint secret header (App Service / Functions / Arc)
    ("identity", _kv(r"x-ms-identity-header|x-identity-header|(?:MSI_)?IDENTITY_HEADER",
                     re.IGNORECASE)),
    ("msi_secret", _kv(r"MSI_SECRET", re.IGNORECASE)),
    # Cosmos DB account keys, storage/service bus style keys
    ("key", _kv(r"primaryMasterKey|secondaryMasterKey|primaryReadonlyMasterKey|"
                r"secondaryReadonlyMasterKey|primaryKey|secondaryKey|key1|key2")),
    # connection strings
    ("key=", re.compile(r"(?P<k>(?<![A-Za-z0-9])(?:AccountKey|SharedAccessKey)=)(?P<v>[^;\s\"'&\\<>]+)",
                        re.IGNORECASE)),
    # SharedKey <account>:<signature> (storage REST authorization)
    ("sharedkey", re.compile(
        r"(?P<k>(?<![A-Za-z0-9])SharedKey(?:Lite)?\s+[A-Za-z0-9.\-_]+:)(?P<v>[A-Za-z0-9+/=%]+)")),
    # SAS / Cosmos signatures: sig=... up to & or a quote or whitespace
    ("sig=", re.compile(r"(?P<k>(?<![A-Za-z0-9_])sig=)(?P<v>[^&\s\"'\\<>]+)")),
    # ... and URL-encoded: type%3Dmaster%26ver%3D1.0%26sig%3D...
    ("sig%3d", re.compile(
        r"(?P<k>(?:(?<![A-Za-z0-9_])|(?<=%26)|(?<=%3[fF]))sig%3[dD])(?P<v>(?:(?!%26)[^&\s\"'\\<>])+)")),
]

# {"keyName": "key1", "value": "..."} (storage listKeys): mask "value" inside objects
# that have a keyName.
_KEYNAME_OBJECT = re.compile(r"\{[^{}]*?keyName[^{}]*\}")
_VALUE_IN_OBJECT = _kv("value")

# JWTs: three base64url parts, the first starting eyJ; also truncated ones
# (a long eyJ... header alone, header.payload, or pytest's 'eyJ...tail').
_JWT = re.compile(r"(?<![A-Za-z0-9_\-])eyJ[A-Za-z0-9_\-]{8,}[A-Za-z0-9_\-.\u2026]*")

_lock = threading.Lock()
_secrets: set[str] = set()
_secret_re: re.Pattern[str] | None = None


def register_secret(value: Any) -> None:
    """Redact this exact value wherever it appears from now on.

    Values shorter than :data:`MIN_SECRET_LENGTH` characters (and non-strings,
    ``None``, empty strings) are ignored: masking them would mangle ordinary text.
    The URL-encoded and HTML-escaped forms of the value are registered as well.
    Safe to call from several threads.
    """
    global _secret_re
    if not isinstance(value, str):
        return
    value = value.strip()
    if len(value) < MIN_SECRET_LENGTH:
        return
    forms = {value, quote(value, safe=""), html.escape(value, quote=True)}
    with _lock:
        if forms <= _secrets:
            return
        _secrets.update(forms)
        _secret_re = None


def clear_secrets() -> None:
    """Forget every registered secret (for tests)."""
    global _secret_re
    with _lock:
        _secrets.clear()
        _secret_re = None


def registered_secret_count() -> int:
    with _lock:
        return len(_secrets)


def _secret_pattern() -> re.Pattern[str] | None:
    global _secret_re
    with _lock:
        if _secret_re is None and _secrets:
            alternatives = sorted(_secrets, key=len, reverse=True)
            _secret_re = re.compile("|".join(re.escape(s) for s in alternatives))
        return _secret_re


def _redact(text: str, mask: str) -> str:
    pattern = _secret_pattern()
    if pattern is not None:
        text = pattern.sub(mask, text)

    def keep_key(m: re.Match[str]) -> str:
        return m.group("k") + mask

    lowered = text.lower()
    for hint, kv in _KV_PATTERNS:
        if hint in lowered:
            text = kv.sub(keep_key, text)

    if "keyName" in text:
        text = _KEYNAME_OBJECT.sub(lambda m: _VALUE_IN_OBJECT.sub(keep_key, m.group(0)), text)

    if "eyJ" in text:
        text = _JWT.sub(mask, text)
    return text


def redact(text: str) -> str:
    """Return ``text`` with secrets replaced by ``<redacted>``.

    Non-string input is converted with ``str()``; ``None`` gives ``""``.
    Idempotent: ``redact(redact(t)) == redact(t)``.
    """
    if text is None:
        return ""
    if not isinstance(text, str):
        text = str(text)
    if not text:
        return text
    return _redact(text, MASK)


def redact_data(data: Any, redactor: Callable[[str], str] | None = None) -> Any:
    """Redact every string in JSON-like data (lists, dicts, scalars) with ``redactor``
    (default :func:`redact`); other values pass unchanged."""
    fn = redactor or redact
    if isinstance(data, str):
        return fn(data)
    if isinstance(data, list):
        return [redact_data(v, fn) for v in data]
    if isinstance(data, dict):
        return {k: redact_data(v, fn) for k, v in data.items()}
    return data


def redact_markup(text: str) -> str:
    """Like :func:`redact` but masks with ``&lt;redacted&gt;``, for XML/HTML files."""
    if not text:
        return text or ""
    return _redact(text, MARKUP_MASK)


def contains_secret(text: str) -> bool:
    """True if :func:`redact` would change ``text``."""
    return bool(text) and redact(text) != text


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the message, args and traceback text of records.

    Add it to handlers (``handler.addFilter(RedactingFilter())``): a filter on a
    handler sees every record the handler emits, also those propagated from child
    loggers. The record is changed in place (``msg`` becomes the redacted, fully
    formatted message and ``args`` is emptied) and always let through.
    """

    def __init__(self, name: str = "", redactor: Callable[[str], str] = redact) -> None:
        super().__init__(name)
        self._redact = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            try:
                message = record.getMessage()
            except Exception:  # bad format args: redact the parts separately
                record.msg = self._redact(str(record.msg))
                if isinstance(record.args, tuple):
                    record.args = tuple(self._redact(a) if isinstance(a, str) else a
                                        for a in record.args)
                elif isinstance(record.args, dict):
                    record.args = {k: self._redact(v) if isinstance(v, str) else v
                                   for k, v in record.args.items()}
            else:
                clean = self._redact(message)
                if clean != message:
                    record.msg = clean
                    record.args = ()
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = self._redact(record.exc_text)
            if record.stack_info:
                record.stack_info = self._redact(record.stack_info)
        except Exception:  # never break logging
            pass
        return True
