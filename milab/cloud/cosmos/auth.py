"""Cosmos DB request authorization: master-key signatures and Entra (AAD) token headers.

The ``Authorization`` header is URL-encoded ``type=<master|resource|aad>&ver=1.0&sig=<...>``.

* **master** (a primary/secondary key or a read-only key): ``sig`` is the base64 HMAC-SHA256,
  keyed with the base64-decoded key, of ``verb\\nresourcetype\\nresourcelink\\nx-ms-date\\n\\n``
  with the verb, resource type and date lower-cased and the name-based link kept as it is
  (the "Access control on Cosmos DB resources" REST page; azure-cosmos ``auth.py``).
* **aad**: ``sig`` is the Entra access token itself (azure-cosmos ``_auth_policy.py`` sends
  ``type=aad&ver=1.0&sig=<jwt>``).

:func:`master_key_authorization` is the signing side, for the harness and the tests.
"""
from __future__ import annotations

import base64
import binascii
import email.utils
import functools
import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import quote, unquote

# the resource types of the name-based path segments (feeds end with one of these)
RESOURCE_TYPES = {"dbs", "colls", "docs", "users", "permissions", "sprocs", "triggers", "udfs", "conflicts",
                  "pkranges", "offers", "attachments", "partitionkeyranges", "clientencryptionkeys", "schemas"}


@dataclass(frozen=True)
class Target:
    """What a request path addresses, as the signature covers it."""
    resource_type: str  # "" for the account, else dbs | colls | docs | pkranges | ...
    link: str  # the name-based resource link ("dbs/d/colls/c" ...)
    segments: tuple[str, ...]  # decoded path segments
    is_feed: bool  # a feed (POST to create, GET to list) rather than one resource


# The pure functions below are memoised (bounded): a client sends the same few paths and, within a
# second, the same signed headers again and again, and an AAD header carries a whole token to decode.
@functools.lru_cache(maxsize=1024)
def target_of(path: str) -> Target:
    segs = tuple(unquote(s) for s in path.strip("/").split("/") if s != "")
    if not segs:
        return Target("", "", (), False)
    if len(segs) % 2 == 1:  # .../dbs/d/colls -> a feed of colls under dbs/d
        return Target(segs[-1].lower(), "/".join(segs[:-1]), segs, True)
    return Target(segs[-2].lower(), "/".join(segs), segs, False)


def string_to_sign(verb: str, resource_type: str, link: str, date: str) -> str:
    return f"{verb.lower()}\n{resource_type.lower()}\n{link}\n{date.lower()}\n\n"


@functools.lru_cache(maxsize=256)
def _key_bytes(key: str) -> bytes:
    return base64.b64decode(key)


@functools.lru_cache(maxsize=1024)
def _digest(key: str, verb: str, resource_type: str, link: str, date: str) -> bytes:
    text = string_to_sign(verb, resource_type, link, date).encode()
    return hmac.new(_key_bytes(key), text, hashlib.sha256).digest()


def signature(key: str, verb: str, resource_type: str, link: str, date: str) -> str:
    return base64.b64encode(_digest(key, verb, resource_type, link, date)).decode()


def master_key_authorization(key: str, verb: str, path: str, date: str | None = None) -> tuple[str, str]:
    """``(Authorization header value, x-ms-date)`` for a request to ``path`` signed with ``key``."""
    date = date or email.utils.formatdate(usegmt=True)
    t = target_of(path)
    sig = signature(key, verb, t.resource_type, t.link, date)
    return quote(f"type=master&ver=1.0&sig={sig}", safe=""), date


@dataclass(frozen=True)
class Credential:
    kind: str  # master | resource | aad
    version: str
    sig: str


class MalformedAuthorization(ValueError):
    pass


@functools.lru_cache(maxsize=1024)
def parse_authorization(header: str) -> Credential:
    """The parts of an ``Authorization`` header; raises :class:`MalformedAuthorization`."""
    text = unquote(header.strip())
    fields = {}
    for part in text.split("&", 2):  # the signature of an AAD token may not contain '&'; a key's may not either
        k, sep, v = part.partition("=")
        if not sep:
            raise MalformedAuthorization("the authorization header is not of the form type=...&ver=...&sig=...")
        fields[k.strip().lower()] = v
    kind = fields.get("type", "").lower()
    if kind not in ("master", "resource", "aad") or "sig" not in fields or not fields["sig"]:
        raise MalformedAuthorization("the authorization header is not of the form type=...&ver=...&sig=...")
    return Credential(kind, fields.get("ver", ""), fields["sig"])


def signature_matches(key: str, cred: Credential, verb: str, target: Target, date: str) -> bool:
    try:
        expected = _digest(key, verb, target.resource_type, target.link, date)
        given = base64.b64decode(cred.sig, validate=False)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(expected, given)

