"""The Key Vault data plane at ``https://<vault>.vault.azure.net``: secrets.

Every request goes through, in Key Vault's order:

1. **The vault**: the host names a vault of the emulated subscription (a soft-deleted vault
   has no endpoint; a real client would fail to resolve its name, the emulator answers 404).
2. **The challenge and the token**: no bearer token answers 401 ``Unauthorized`` with
   ``WWW-Authenticate: Bearer authorization="https://login.windows.net/<tenant>",
   resource="https://vault.azure.net"``, which the SDKs' challenge policy reads before sending
   a token (recorded live: azure-sdk-for-python keyvault secrets recordings, 2022, and
   Azure/azure-sdk-for-python#27266 for the expired-token answer). Tokens go through the
   shared validator with Key Vault's audiences: ``https://vault.azure.net`` (Learn, "Azure Key
   Vault REST API error codes": the resource is that, *with no trailing slash*; a slashed
   audience is refused with AKV10022, as go-autorest#525 records) or Key Vault's application
   id (the v2 token form, listed in the AKV10022 message of argocd-vault-plugin#621).
3. **api-version**: the data-plane versions of the spec and of azure-keyvault-secrets.
4. **Authorization**: access policies or Azure RBAC, chosen by the vault (``access.py``).
5. **The operation** (``secrets.py``).

Answers are JSON ``{"error": {"code", "message", "innererror"?}}`` with Key Vault's headers.
``Config.enforce_rbac`` off (``--no-rbac``) authorizes everything in both models and
``--no-token-checks`` accepts any well-formed token: they exist only so the project's tests
can show that every Key Vault denial check fails without them.
"""
from __future__ import annotations

import json
import logging
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from aiohttp import web

from ..tokens import TokenError, bearer
from . import secrets as S
from .access import OPS, Operation, access_denied, forbidden_by_rbac, policy_permits
from .secrets import KvError

if TYPE_CHECKING:  # pragma: no cover
    from ..server import Emulator

log = logging.getLogger("milab.keyvault")

SUFFIX = ".vault.azure.net"
VAULT_TYPE = "Microsoft.KeyVault/vaults"
KEY_VAULT_RESOURCE = "https://vault.azure.net"
KEY_VAULT_APP_ID = "cfa8b339-82a2-471a-a3c9-0fc0be7a4093"
KV_AUDIENCES = (KEY_VAULT_RESOURCE, KEY_VAULT_APP_ID)

#: data-plane api-versions: the spec's stable versions, their previews, and azure-keyvault-secrets 4.12's
API_VERSIONS = frozenset({
    "2015-06-01", "2016-10-01", "7.0", "7.1", "7.2", "7.3-preview", "7.3", "7.4-preview.1", "7.4",
    "7.5-preview.1", "7.5", "7.6-preview.1", "7.6-preview.2", "7.6", "2025-07-01", "2026-04-01",
})
LATEST_API_VERSION = "2026-04-01"
SERVICE_VERSION = "1.9.2795.1"
PAGE_SIZE = 25

# What Key Vault says for each token failure (recorded where a recording exists; see above and
# Azure/azure-sdk-for-net sdk/keyvault/TROUBLESHOOTING.md for AKV10032).
_TOKEN_MESSAGES = {
    "missing": "AKV10000: Request is missing a Bearer or PoP token.",
    "malformed": "AKV10000: Request is missing a Bearer or PoP token.",
    "signature": "AKV10046: Unable to resolve the key used for signature validation.",
    "expired": "[TokenExpired] Error validating token: 'S2S12086'.",
    "not_yet_valid": "[TokenNotYetValid] Error validating token: the token is not yet valid.",
}


def _error(e: KvError, request: web.Request | None = None, vault: dict | None = None) -> web.Response:
    return _json(e.status, e.body(), request, vault, e.headers)


def _json(status: int, body: Any, request: web.Request | None, vault: dict | None,
          extra: dict | None = None) -> web.Response:
    headers = {"Cache-Control": "no-cache", "Pragma": "no-cache", "Expires": "-1",
               "x-ms-request-id": str(uuid.uuid4()), "x-ms-keyvault-service-version": SERVICE_VERSION,
               "X-Content-Type-Options": "nosniff", "Strict-Transport-Security": "max-age=31536000;includeSubDomains"}
    if vault is not None:
        headers["x-ms-keyvault-region"] = vault.get("location", "westus")
    if request is not None and request.headers.get("x-ms-client-request-id"):
        headers["x-ms-client-request-id"] = request.headers["x-ms-client-request-id"]
    headers.update(extra or {})
    if body is None:
        return web.Response(status=status, headers=headers)
    return web.Response(status=status, text=json.dumps(body), content_type="application/json", charset="utf-8",
                        headers=headers)


class KeyVaultService:
    """The data plane at ``*.vault.azure.net`` (registered in ``emu.data_planes``)."""

    def __init__(self, emu: "Emulator"):
        self.emu = emu
        self._ids: dict[str, str] = {}  # vault name (lower case) -> resource id, checked on each use
        emu.data_planes[SUFFIX] = self

    # -- vaults -------------------------------------------------------------------------------
    def vault(self, name: str) -> dict | None:
        key = name.lower()
        rid = self._ids.get(key)
        if rid:
            res = self.emu.state.get(rid)
            if res is not None and res.get("type") == VAULT_TYPE and res["name"].lower() == key:
                return res
        for res in self.emu.state.resources.values():
            if res.get("type") == VAULT_TYPE and res.get("name", "").lower() == key:
                self._ids[key] = res["id"]
                return res
        return None

    def backup_key(self) -> bytes:
        return self.emu.tokens.key.pem()

    # -- principals ---------------------------------------------------------------------------
    def principals_of(self, claims: dict) -> set[str]:
        """The caller's object id and the groups it is a member of (the token's ``groups`` claim;
        the directory model adds memberships it knows when it lands)."""
        ids = {claims.get("oid", "")}
        ids.update(g for g in (claims.get("groups") or []) if isinstance(g, str))
        groups_of = getattr(self.emu.state, "groups_of", None)
        if callable(groups_of):
            ids.update(groups_of(claims.get("oid", "")))
        return {i for i in ids if i}

    # -- entry point ----------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        host = (request.url.host or request.host or "").split(":")[0].lower()
        name = host[: -len(SUFFIX)] if host.endswith(SUFFIX) else ""
        vault = self.vault(name) if name and "." not in name else None
        if vault is None:
            return _error(KvError(404, "VaultNotFound",
                                  f"No key vault named '{name}' exists in the emulated subscription (a real client "
                                  f"would fail to resolve {host})."), request)
        try:
            claims = self.authenticate(request, vault)
            version = request.query.get("api-version")
            if not version:
                raise S.bad_parameter("The request is missing the required api-version query parameter.")
            if version not in API_VERSIONS:
                raise S.bad_parameter(f"The specified version ({version}) is not recognized. Consider using the "
                                      f"latest supported version ({LATEST_API_VERSION}).")
            op_key, args = self.route(request.method.upper(), request.raw_path.partition("?")[0])
            op = OPS[op_key]
            body = await self._body(request) if request.method.upper() in ("PUT", "PATCH", "POST") else None
            self.authorize(vault, claims, op, args.get("name"))
            status, out = getattr(self, f"op_{op_key}")(vault, version, body, request=request, **args)
            if op.mutates:
                self.sync_arm(vault, args.get("name") or (out or {}).get("id", "").split("/secrets/")[-1].split("/")[0])
                self.emu.state.save()
            return _json(status, out, request, vault)
        except KvError as e:
            return _error(e, request, vault)

    async def _body(self, request: web.Request) -> Any:
        raw = await request.read()
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise S.bad_parameter("The request body is not valid JSON.") from None

    # -- authentication ---------------------------------------------------------------------------
    def challenge(self, vault: dict) -> dict:
        tenant = S.props(vault).get("tenantId") or self.emu.state.tenant_id
        return {"WWW-Authenticate": f'Bearer authorization="https://login.windows.net/{tenant}", '
                                    f'resource="{KEY_VAULT_RESOURCE}"'}

    def authenticate(self, request: web.Request, vault: dict) -> dict:
        token = bearer(request.headers.get("Authorization"))
        tenant = S.props(vault).get("tenantId") or self.emu.state.tenant_id
        try:
            return self.emu.tokens.validate(token, KV_AUDIENCES, tenant_id=tenant)
        except TokenError as e:
            if e.reason == "audience":
                msg = (f"AKV10022: Invalid audience. Expected {KEY_VAULT_RESOURCE} or {KEY_VAULT_APP_ID}, "
                       f"found: {e.claims.get('aud')}.")
            elif e.reason in ("issuer", "tenant"):
                msg = (f"AKV10032: Invalid issuer. Expected one of https://sts.windows.net/{tenant}/, "
                       f"found {e.claims.get('iss')}.")
            else:
                msg = _TOKEN_MESSAGES.get(e.reason, e.message)
            raise KvError(401, "Unauthorized", msg, headers=self.challenge(vault)) from None

    # -- routing ------------------------------------------------------------------------------------
    @staticmethod
    def route(method: str, raw_path: str) -> tuple[str, dict]:
        segs = [unquote(s) for s in raw_path.split("/")]
        segs = [s for s in segs[1:]]  # keep empty segments: "/secrets/name/" is the latest version
        while segs and segs[0] == "":
            segs.pop(0)  # "//secrets/..." (Learn's example request) is the same path
        if segs and segs[-1] == "" and len(segs) > 2:
            segs.pop()
        head = segs[0].lower() if segs else ""
        n = len(segs)
        if head == "secrets":
            if n == 1 and method == "GET":
                return "list", {}
            if n == 2 and segs[1].lower() == "restore" and method == "POST":
                return "restore", {}
            if n == 2 and segs[1] == "" and method == "GET":
                return "list", {}
            if n == 2:
                if method == "PUT":
                    return "set", {"name": segs[1]}
                if method == "GET":
                    return "get", {"name": segs[1], "secret_version": None}
                if method == "DELETE":
                    return "delete", {"name": segs[1]}
                if method == "PATCH":
                    return "update", {"name": segs[1], "secret_version": None}
            if n == 3:
                tail = segs[2]
                if tail.lower() == "versions" and method == "GET":
                    return "versions", {"name": segs[1]}
                if tail.lower() == "backup" and method == "POST":
                    return "backup", {"name": segs[1]}
                if method == "GET":
                    return "get", {"name": segs[1], "secret_version": tail or None}
                if method == "PATCH":
                    return "update", {"name": segs[1], "secret_version": tail or None}
        if head == "deletedsecrets":
            if n == 1 or (n == 2 and segs[1] == ""):
                if method == "GET":
                    return "list_deleted", {}
            elif n == 2:
                if method == "GET":
                    return "get_deleted", {"name": segs[1]}
                if method == "DELETE":
                    return "purge", {"name": segs[1]}
            elif n == 3 and segs[2].lower() == "recover" and method == "POST":
                return "recover", {"name": segs[1]}
        if head in ("keys", "certificates", "deletedkeys", "deletedcertificates", "storage"):
            raise KvError(501, "NotImplemented", f"The emulated Key Vault serves secrets only; '{raw_path}' is a "
                                                 f"{head} operation.")
        raise KvError(405 if head in ("secrets", "deletedsecrets") else 404,
                      "BadParameter" if head in ("secrets", "deletedsecrets") else "NotFound",
                      f"The operation {method} {raw_path} is not supported.")

    # -- authorization -----------------------------------------------------------------------------
    def authorize(self, vault: dict, claims: dict, op: Operation, name: str | None) -> None:
        if not self.emu.config.enforce_rbac:
            return  # --no-rbac: only to show that every denial check can fail
        if S.props(vault).get("enableRbacAuthorization"):
            scope = f"{vault['id']}/secrets/{name}" if name else vault["id"]
            if not self.emu.allowed(claims.get("oid", ""), op.data_action, scope, data_action=True):
                log.info("RBAC denied %s (%s) on %s for %s", op.name, op.data_action, scope, claims.get("oid"))
                raise forbidden_by_rbac(vault, claims, op, scope)
            return
        policies = S.props(vault).get("accessPolicies") or []
        if not policy_permits(policies, claims.get("tid", ""), self.principals_of(claims), claims.get("appid"),
                              "secrets", op.permission):
            log.info("access policy denied %s (%s) for %s", op.name, op.permission, claims.get("oid"))
            raise access_denied(vault, claims, op)

    # -- the ARM view of secrets ----------------------------------------------------------------------
    def sync_arm(self, vault: dict, name: str | None) -> None:
        """Keep ``<vault id>/secrets/<name>`` (Microsoft.KeyVault/vaults/secrets, what ARM lists and
        what a secret-scope role assignment needs) in step with the data plane."""
        if not name:
            return
        secret = S.find(vault, name)
        rid = f"{vault['id']}/secrets/{secret['name'] if secret else name}"
        if secret is None:
            self.emu.state.delete(rid)
        elif self.emu.state.get(rid) is None:
            self.emu.state.put({"id": rid, "name": secret["name"], "type": f"{VAULT_TYPE}/secrets",
                                "properties": {}, "_milab": {}})

    # -- operations -------------------------------------------------------------------------------------
    def op_set(self, vault, version, body, *, name, request):
        secret, v = S.set_secret(vault, name, body)
        return 200, S.bundle(vault, secret, v, version)

    def op_get(self, vault, version, body, *, name, secret_version, request):
        S.check_name(name)
        secret, v = S.get(vault, name, secret_version)
        if not secret["versions"][v]["attributes"].get("enabled", True):
            # Key Vault refuses the value of a disabled secret (403 Forbidden, inner SecretDisabled);
            # a secret outside its nbf/exp window is still returned (Learn, "About Azure Key Vault
            # secrets": get works for not-yet-valid and expired secrets)
            raise KvError(403, "Forbidden", "Operation get is not allowed on a disabled secret.", "SecretDisabled")
        return 200, S.bundle(vault, secret, v, version)

    def op_update(self, vault, version, body, *, name, secret_version, request):
        S.check_name(name)
        secret, v = S.update(vault, name, secret_version, body)
        return 200, S.bundle(vault, secret, v, version, value=False)

    def op_delete(self, vault, version, body, *, name, request):
        rec = S.delete(vault, name)
        return 200, S.deleted_bundle(vault, rec, version)

    @staticmethod
    def _page(vault: dict, request: web.Request, items: list[dict], path: str, version: str) -> dict:
        try:
            size = max(1, min(PAGE_SIZE, int(request.query.get("maxresults") or PAGE_SIZE)))
            start = max(0, int(request.query.get("$skiptoken") or 0))
        except ValueError:
            raise S.bad_parameter("maxresults and $skiptoken must be integers.") from None
        chunk = items[start:start + size]
        more = start + size < len(items)
        next_link = (f"{S.base_url(vault)}{path}?api-version={quote(version)}&$skiptoken={start + size}"
                     f"&maxresults={size}") if more else None
        return {"value": chunk, "nextLink": next_link}

    def op_list(self, vault, version, body, *, request):
        items = [S.item(vault, s, s["latest"], version, versioned=False) for s in S.latest_names(vault)]
        return 200, self._page(vault, request, items, "/secrets", version)

    def op_versions(self, vault, version, body, *, name, request):
        S.check_name(name)
        secret, _ = S.get(vault, name)
        items = [S.item(vault, secret, v, version, versioned=True) for v in secret["order"]]
        return 200, self._page(vault, request, items, f"/secrets/{quote(secret['name'])}/versions", version)

    def op_backup(self, vault, version, body, *, name, request):
        return 200, {"value": S.backup(vault, name, self.backup_key())}

    def op_restore(self, vault, version, body, *, request):
        secret, v = S.restore(vault, body, self.backup_key())
        return 200, S.bundle(vault, secret, v, version, value=False)

    def op_get_deleted(self, vault, version, body, *, name, request):
        rec = S.find_deleted(vault, name)
        if rec is None:
            raise S.deleted_not_found(name)
        return 200, S.deleted_bundle(vault, rec, version)

    def op_list_deleted(self, vault, version, body, *, request):
        S.expire(vault)
        recs = sorted(S.store(vault)["deleted"].values(), key=lambda r: r["secret"]["name"].lower())
        items = [S.deleted_bundle(vault, r, version, as_item=True) for r in recs]
        return 200, self._page(vault, request, items, "/deletedsecrets", version)

    def op_recover(self, vault, version, body, *, name, request):
        secret, v = S.recover(vault, name)
        return 200, S.bundle(vault, secret, v, version, value=False)

    def op_purge(self, vault, version, body, *, name, request):
        S.purge(vault, name)
        return 204, None

    async def close(self) -> None:
        """Nothing to stop: the vaults live in the emulator's state."""
