"""The secrets of one vault: versions, attributes, soft delete, recovery, backup and restore.

The store lives in the vault's ARM resource (``res["_milab"]["kv"]``), so it is saved with
the emulator's state, moves with the vault into ``deletedVaults`` when the vault is
soft-deleted and comes back when the vault is recovered. Both the data plane
(``service.py``) and the ARM view of secrets (``arm/keyvault.py``) work through these
functions; they raise :class:`KvError` in Key Vault's error shape.

Shapes follow the data-plane REST API (``SecretBundle``, ``SecretItem``,
``DeletedSecretBundle``) as recorded live in azure-sdk-for-python
(``sdk/keyvault/azure-keyvault-secrets/tests/recordings/
test_samples_secrets.pyTestExamplesKeyVaulttest_example_secrets_recover[7.3].json``):
``id`` is ``https://<vault>.vault.azure.net/secrets/<name>/<32 hex version>``, ``attributes``
carry ``enabled``, ``created``, ``updated`` (epoch seconds), ``recoveryLevel`` and, from 7.1,
``recoverableDays``; a deleted secret adds ``recoveryId``, ``deletedDate`` and
``scheduledPurgeDate``.
"""
from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import re
import time
import uuid
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SECRET_NAME = re.compile(r"^[0-9a-zA-Z-]{1,127}$")
VERSION = re.compile(r"^[0-9a-fA-F]{32}$")
MAX_VALUE_BYTES = 25 * 1024  # Key Vault service limits: a secret value is at most 25 KB
MAX_TAGS = 15
DAY = 86400

# Learn, "Azure Key Vault REST API error codes" and the recordings above: 404 SecretNotFound
NOT_FOUND_HELP = "https://go.microsoft.com/fwlink/?linkid=2125182"


class KvError(Exception):
    """A Key Vault error: ``{"error": {"code", "message", "innererror"?}}`` with its status."""

    def __init__(self, status: int, code: str, message: str, inner: str | None = None,
                 headers: dict | None = None):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.inner = status, code, message, inner
        self.headers = headers or {}

    def body(self) -> dict:
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.inner:
            err["innererror"] = {"code": self.inner}
        return {"error": err}


def bad_parameter(message: str) -> KvError:
    return KvError(400, "BadParameter", message)


def now() -> int:
    return int(time.time())


# -- the vault's settings ----------------------------------------------------------------------
def vault_name(vault: dict) -> str:
    return vault["name"]


def base_url(vault: dict) -> str:
    """``https://<vault>.vault.azure.net`` (no trailing slash, as ids are built on it)."""
    return f"https://{vault['name'].lower()}.vault.azure.net"


def props(vault: dict) -> dict:
    return vault.get("properties") or {}


def retention_days(vault: dict) -> int:
    return int(props(vault).get("softDeleteRetentionInDays") or 90)


def purge_protected(vault: dict) -> bool:
    return bool(props(vault).get("enablePurgeProtection"))


def recovery_level(vault: dict) -> str:
    """The ``recoveryLevel`` Key Vault reports for the vault's items (DeletionRecoveryLevel in the
    data-plane spec): soft delete is always on for vaults created today, "Customized" when the
    retention is shorter than 90 days, without "+Purgeable" under purge protection."""
    if props(vault).get("enableSoftDelete") is False:
        return "Purgeable"
    level = "Recoverable" if retention_days(vault) >= 90 else "CustomizedRecoverable"
    return level if purge_protected(vault) else f"{level}+Purgeable"


def soft_delete(vault: dict) -> bool:
    return props(vault).get("enableSoftDelete") is not False


def store(vault: dict) -> dict:
    internal = vault.setdefault("_milab", {})
    kv = internal.setdefault("kv", {})
    kv.setdefault("secrets", {})
    kv.setdefault("deleted", {})
    return kv


def _key(name: str) -> str:
    return name.lower()  # secret names are case-insensitive; the first spelling is kept


def check_name(name: str) -> None:
    if not SECRET_NAME.match(name or ""):
        # the service's answer for a name outside 1-127 of 0-9, a-z, A-Z and '-'
        raise bad_parameter(f"The request URI contains an invalid name: {name}")


# -- attributes ---------------------------------------------------------------------------------
def _int_date(body: dict, key: str) -> int | None:
    v = body.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise bad_parameter(f"Property attributes.{key} must be a NumericDate (seconds since the epoch).")
    return int(v)


def _attributes_in(body: Any) -> dict:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise bad_parameter("Property attributes must be an object.")
    out: dict[str, Any] = {}
    if "enabled" in body and body["enabled"] is not None:
        if not isinstance(body["enabled"], bool):
            raise bad_parameter("Property attributes.enabled must be a boolean.")
        out["enabled"] = body["enabled"]
    for k in ("nbf", "exp"):
        if k in body:
            out[k] = _int_date(body, k)
    return out


def _tags_in(tags: Any) -> dict | None:
    if tags is None:
        return None
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise bad_parameter("Property tags must be an object of string values.")
    if len(tags) > MAX_TAGS:
        raise bad_parameter(f"A secret can have at most {MAX_TAGS} tags.")
    return dict(tags)


def attributes(vault: dict, ver: dict, api_version: str) -> dict:
    a = ver["attributes"]
    out: dict[str, Any] = {"enabled": a.get("enabled", True)}
    for k in ("nbf", "exp"):
        if a.get(k) is not None:
            out[k] = a[k]
    out["created"] = a["created"]
    out["updated"] = a["updated"]
    out["recoveryLevel"] = recovery_level(vault)
    if soft_delete(vault) and not api_version.startswith(("2015", "2016", "7.0")):
        out["recoverableDays"] = retention_days(vault)  # from api-version 7.1
    return out


# -- rendering -----------------------------------------------------------------------------------
def secret_id(vault: dict, secret: dict, version: str | None = None) -> str:
    sid = f"{base_url(vault)}/secrets/{secret['name']}"
    return f"{sid}/{version}" if version else sid


def bundle(vault: dict, secret: dict, version: str, api_version: str, *, value: bool = True) -> dict:
    """SecretBundle: what set, get, update, recover and restore answer (update, recover and
    restore without the value)."""
    ver = secret["versions"][version]
    out: dict[str, Any] = {}
    if value:
        out["value"] = ver["value"]
    if ver.get("contentType") is not None:
        out["contentType"] = ver["contentType"]
    out["id"] = secret_id(vault, secret, version)
    out["attributes"] = attributes(vault, ver, api_version)
    if ver.get("tags"):
        out["tags"] = dict(ver["tags"])
    return out


def item(vault: dict, secret: dict, version: str, api_version: str, *, versioned: bool) -> dict:
    """SecretItem: an entry of a list (no value)."""
    ver = secret["versions"][version]
    out: dict[str, Any] = {"id": secret_id(vault, secret, version if versioned else None),
                           "attributes": attributes(vault, ver, api_version)}
    if ver.get("tags"):
        out["tags"] = dict(ver["tags"])
    if ver.get("contentType") is not None:
        out["contentType"] = ver["contentType"]
    return out


def deleted_bundle(vault: dict, rec: dict, api_version: str, *, as_item: bool = False) -> dict:
    secret = rec["secret"]
    head = {"recoveryId": f"{base_url(vault)}/deletedsecrets/{secret['name']}",
            "deletedDate": rec["deletedDate"], "scheduledPurgeDate": rec["scheduledPurgeDate"]}
    body = item(vault, secret, secret["latest"], api_version, versioned=not as_item) if as_item else \
        bundle(vault, secret, secret["latest"], api_version, value=False)
    return {**head, **body}


# -- lookups ---------------------------------------------------------------------------------------
def expire(vault: dict, at: int | None = None) -> None:
    """Deleted secrets past their scheduled purge date are gone, as Key Vault purges them."""
    at = now() if at is None else at
    kv = store(vault)
    for k, rec in list(kv["deleted"].items()):
        if rec["scheduledPurgeDate"] <= at:
            del kv["deleted"][k]


def find(vault: dict, name: str) -> dict | None:
    return store(vault)["secrets"].get(_key(name))


def find_deleted(vault: dict, name: str) -> dict | None:
    expire(vault)
    return store(vault)["deleted"].get(_key(name))


def not_found(name: str, version: str | None = None) -> KvError:
    what = f"{name}/{version}" if version else name
    # recorded: 404 SecretNotFound, "A secret with (name/id) <name> was not found in this key vault. ..."
    return KvError(404, "SecretNotFound", f"A secret with (name/id) {what} was not found in this key vault. If you "
                                          f"recently deleted this secret you may be able to recover it using the "
                                          f"correct recovery command. For help resolving this issue, please see "
                                          f"{NOT_FOUND_HELP}")


def deleted_not_found(name: str) -> KvError:
    return KvError(404, "SecretNotFound", f"Deleted Secret not found: {name}")  # recorded (7.3)


def get(vault: dict, name: str, version: str | None = None) -> tuple[dict, str]:
    """The secret and the version asked for (the latest when ``version`` is empty)."""
    secret = find(vault, name)
    if secret is None:
        raise not_found(name, version)
    if not version:
        return secret, secret["latest"]
    v = version.lower()
    if v not in secret["versions"]:
        raise not_found(name, version)
    return secret, v


def latest_names(vault: dict) -> list[dict]:
    return sorted(store(vault)["secrets"].values(), key=lambda s: s["name"].lower())


# -- writes ------------------------------------------------------------------------------------------
def _conflict_if_deleted(vault: dict, name: str) -> None:
    if find_deleted(vault, name) is not None:
        # Learn (azure-keyvault-secrets troubleshooting): 409 Conflict, inner ObjectIsDeletedButRecoverable
        raise KvError(409, "Conflict", f"Secret {name} is currently in a deleted but recoverable state, and its name "
                                       f"cannot be reused; in this state, the secret can only be recovered or purged.",
                      "ObjectIsDeletedButRecoverable")


def set_secret(vault: dict, name: str, body: Any) -> tuple[dict, str]:
    """A new version (the first creates the secret). ``body`` is SecretSetParameters."""
    check_name(name)
    if not isinstance(body, dict):
        raise bad_parameter("The request body must be a JSON object with a 'value'.")
    value = body.get("value")
    if not isinstance(value, str):
        raise bad_parameter("Property value is required and must be a string.")
    if len(value.encode()) > MAX_VALUE_BYTES:
        raise bad_parameter(f"The secret value exceeds the maximum size of {MAX_VALUE_BYTES} bytes.")
    content_type = body.get("contentType")
    if content_type is not None and not isinstance(content_type, str):
        raise bad_parameter("Property contentType must be a string.")
    attrs = _attributes_in(body.get("attributes"))
    tags = _tags_in(body.get("tags"))
    _conflict_if_deleted(vault, name)
    kv = store(vault)
    secret = kv["secrets"].get(_key(name))
    if secret is None:
        secret = {"name": name, "versions": {}, "order": [], "latest": None}
        kv["secrets"][_key(name)] = secret
    t = now()
    version = uuid.uuid4().hex
    secret["versions"][version] = {
        "value": value, "contentType": content_type, "tags": tags or {},
        "attributes": {"enabled": attrs.get("enabled", True), "nbf": attrs.get("nbf"), "exp": attrs.get("exp"),
                       "created": t, "updated": t}}
    secret["order"].append(version)
    secret["latest"] = version
    return secret, version


def update(vault: dict, name: str, version: str | None, body: Any) -> tuple[dict, str]:
    """UpdateSecret: attributes, content type and tags of one version; the value never changes."""
    if not isinstance(body, dict):
        raise bad_parameter("The request body must be a JSON object.")
    secret, v = get(vault, name, version)
    ver = secret["versions"][v]
    attrs = _attributes_in(body.get("attributes"))
    ver["attributes"].update(attrs)
    if "contentType" in body:
        if body["contentType"] is not None and not isinstance(body["contentType"], str):
            raise bad_parameter("Property contentType must be a string.")
        ver["contentType"] = body["contentType"]
    if "tags" in body:
        ver["tags"] = _tags_in(body["tags"]) or {}
    ver["attributes"]["updated"] = now()
    return secret, v


def delete(vault: dict, name: str) -> dict:
    """DeleteSecret: every version goes; with soft delete the secret waits in ``deletedsecrets``."""
    secret = find(vault, name)
    if secret is None:
        raise not_found(name)
    kv = store(vault)
    del kv["secrets"][_key(name)]
    t = now()
    rec = {"secret": secret, "deletedDate": t, "scheduledPurgeDate": t + retention_days(vault) * DAY}
    if soft_delete(vault):
        kv["deleted"][_key(name)] = rec
    return rec


def recover(vault: dict, name: str) -> tuple[dict, str]:
    rec = find_deleted(vault, name)
    if rec is None:
        raise deleted_not_found(name)
    kv = store(vault)
    del kv["deleted"][_key(name)]
    secret = rec["secret"]
    kv["secrets"][_key(secret["name"])] = secret
    return secret, secret["latest"]


def purge(vault: dict, name: str) -> None:
    rec = find_deleted(vault, name)
    if rec is None:
        raise deleted_not_found(name)
    if purge_protected(vault):
        # recorded (azurerm, 2022): 403 Forbidden for a purge under purge protection
        raise KvError(403, "Forbidden", f"Operation \"purge\" is not allowed because purge protection is enabled for "
                                        f"this vault. Key Vault service will automatically purge it after the "
                                        f"retention period has passed. Vault: {vault_label(vault)}")
    del store(vault)["deleted"][_key(name)]


def vault_label(vault: dict) -> str:
    """``<vault>;location=<region>`` as Key Vault names a vault in its messages."""
    return f"{vault['name']};location={vault.get('location', 'westus')}"


# -- backup and restore --------------------------------------------------------------------------------
_BLOB_PREFIX = b"milab-kv-backup-1:"


def _blob_key(secret_key: bytes) -> bytes:
    return hashlib.sha256(b"milab key vault backup\0" + secret_key).digest()


def backup(vault: dict, name: str, secret_key: bytes) -> str:
    """An opaque blob (AES-GCM under a key only this emulator holds, base64url like Key Vault's):
    it restores into a vault of the same emulated subscription, and nowhere else."""
    secret = find(vault, name)
    if secret is None:
        raise not_found(name)
    plain = _BLOB_PREFIX + json.dumps(secret).encode()
    nonce = os.urandom(12)
    sealed = nonce + AESGCM(_blob_key(secret_key)).encrypt(nonce, plain, None)
    return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()


def restore(vault: dict, body: Any, secret_key: bytes) -> tuple[dict, str]:
    if not isinstance(body, dict) or not isinstance(body.get("value"), str):
        raise bad_parameter("Property value (the backup blob) is required.")
    raw = body["value"]
    try:
        sealed = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        plain = AESGCM(_blob_key(secret_key)).decrypt(sealed[:12], sealed[12:], None)
        if not plain.startswith(_BLOB_PREFIX):
            raise ValueError("unknown blob version")
        secret = json.loads(plain[len(_BLOB_PREFIX):])
    except Exception:  # noqa: BLE001 - any corruption is the same answer
        raise bad_parameter("Backup blob contains invalid or corrupt version.") from None
    name = secret["name"]
    _conflict_if_deleted(vault, name)
    if find(vault, name) is not None:
        raise KvError(409, "Conflict", f"There was a conflict restoring the secret '{name}'. This may happen if a "
                                       f"secret with the same name already exists.")
    store(vault)["secrets"][_key(name)] = copy.deepcopy(secret)
    return secret, secret["latest"]
