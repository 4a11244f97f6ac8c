"""The Instance Metadata Service's managed-identity token endpoint, as one VM sees it.

Reached only through the emulator's proxy, like ``http://169.254.169.254`` from inside
a VM: the calling VM is known by the proxy credentials of its context, and IMDS answers
for that VM's identities only. The contract follows the "acquire an access token" page:
``Metadata: true`` required, ``api-version`` and ``resource`` required, one of
``client_id`` / ``object_id`` / ``mi_res_id`` (alias ``msi_res_id``) to choose an
identity, requests carrying ``X-Forwarded-For`` refused, tokens cached per identity and
resource until shortly before they expire.

**Token cache staleness.** A managed identity's token carries the ``roles`` (app roles on the
audience's app) and ``groups`` (security groups) the directory had *when it was issued*. Real
IMDS caches it "per resource URI for around 24 hours", and "it is not possible to force a
managed identity's token to be refreshed before its expiry" (Learn, managed identities FAQ and
best-practice recommendations), so an app role or group granted later is not in the token the
VM gets back. The emulator models this with ``Config.imds_token_cache`` (on by default;
``milab serve --no-imds-token-cache`` or ``POST /_milab/config {"imds_token_cache": false}``
issues a fresh token on every request). What a user can do about it, the harness does
(``Target.refresh_identity_token``): wait the cache out (the emulator's control API
``POST /_milab/imds-cache {"vm_id"}`` expires a VM's cached tokens, as the passing day would)
or ask under a resource URI spelling not requested before (the cache is per URI).
"""
from __future__ import annotations

import base64
import json
import time
import uuid
from typing import TYPE_CHECKING

from aiohttp import web

from .arm import identity
from .arm.catalog import resource_type
from .arm.compute import os_type
from .entra import resource_known
from .state import Principal

if TYPE_CHECKING:  # pragma: no cover
    from .server import Emulator

IMDS_HOST = "169.254.169.254"
TOKEN_PATH = "/metadata/identity/oauth2/token"
# api-versions IMDS accepts on the identity endpoint (2018-02-01 and later).
API_VERSIONS = ("2018-02-01", "2018-04-02", "2018-10-01", "2019-02-01", "2019-03-11", "2019-04-30",
                "2019-06-01", "2019-06-04", "2019-08-01", "2019-08-15", "2019-11-01", "2020-06-01",
                "2020-07-15", "2020-09-01", "2020-10-01", "2020-12-01", "2021-01-01", "2021-02-01",
                "2021-03-01", "2021-05-01", "2021-08-01", "2021-10-01", "2021-11-01", "2021-11-15",
                "2021-12-13", "2023-07-01", "2023-11-15", "2024-03-15", "2025-04-07")
TOKEN_LIFETIME = 86399
REFRESH_MARGIN = 300  # a cached token is reused until this close to expiry
# What IMDS answers in the transient failures the token page's error table lists (injected
# through the control API, so clients' retry behaviour can be tested).
FAULTS = {
    400: ("invalid_request", "Injected: the request was refused."),
    404: ("not_found", "IMDS endpoint is updating."),
    410: ("gone", "IMDS endpoint is updating."),
    429: ("too_many_requests", "IMDS throttle limit reached."),
    500: ("unknown", "Failed to retrieve token from the Active directory."),
    503: ("service_unavailable", "The managed identity subsystem is temporarily unavailable."),
}


def _error(status: int, error: str, description: str) -> web.Response:
    return web.Response(status=status, text=json.dumps({"error": error, "error_description": description}),
                        content_type="application/json")


def vm_secret_from_proxy_auth(header: str | None) -> str | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        user, _, secret = base64.b64decode(header[6:].strip()).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return secret if user == "vm" and secret else None


class ImdsService:
    def __init__(self, emu: "Emulator"):
        self.emu = emu
        self.cache: dict[tuple[str, str], tuple[str, dict]] = {}
        self.faults: dict[str, list[int]] = {}  # VM id (lower case) -> statuses to answer next
        self.requests: dict[str, int] = {}  # VM id (lower case) -> token requests seen

    def inject(self, vm_id: str, statuses: list[int]) -> None:
        unknown = [s for s in statuses if s not in FAULTS]
        if unknown:
            raise ValueError(f"IMDS faults can be {sorted(FAULTS)}, not {unknown}")
        self.faults.setdefault(vm_id.lower(), []).extend(statuses)

    async def handle(self, request: web.Request) -> web.Response:
        vm = self.emu.state.vm_for_secret(vm_secret_from_proxy_auth(request.headers.get("Proxy-Authorization")) or "")
        if not self.emu.config.imds_checks and vm is not None:
            return self.permissive(request, vm)
        if vm is not None and not getattr(resource_type(vm["type"]), "has_imds", True):
            vm = None  # an App Service sandbox has no IMDS (its code uses IDENTITY_ENDPOINT)
        if vm is None:
            # Off a VM, 169.254.169.254 does not answer at all; say why instead of hanging.
            return _error(403, "not_in_a_vm", "The emulated IMDS answers only requests made from inside an "
                                              "emulated VM (through the proxy credentials of the VM's context).")
        if request.headers.get("X-Forwarded-For") is not None:
            return _error(400, "invalid_request", "Requests carrying an X-Forwarded-For header are rejected: "
                                                  "IMDS must be called directly, not through a proxy.")
        if request.path.rstrip("/") != TOKEN_PATH:
            if request.path.startswith("/metadata/instance"):
                return self.instance(request, vm)
            return _error(404, "not_found", f"The path '{request.path}' does not exist.")
        key = vm["id"].lower()
        self.requests[key] = self.requests.get(key, 0) + 1
        if self.faults.get(key):
            status = self.faults[key].pop(0)
            error, description = FAULTS[status]
            return _error(status, error, description)
        if request.headers.get("Metadata") != "true":
            return _error(400, "bad_request_102", "Required metadata header not specified")
        if request.method != "GET":
            return _error(405, "invalid_request", f"The HTTP method '{request.method}' is not allowed; use GET.")
        q = request.query
        for name in q:
            if len(q.getall(name)) > 1:
                return _error(400, "invalid_request", f"The query parameter '{name}' is given more than once.")
        api_version = q.get("api-version")
        if not api_version:
            return _error(400, "invalid_request", "Required query variable 'api-version' is missing.")
        if api_version not in API_VERSIONS:
            return _error(400, "invalid_request", f"Invalid api-version '{api_version}'. Use 2018-02-01 or a later "
                                                  f"supported version.")
        resource = q.get("resource")
        if not resource:
            return _error(400, "invalid_request", "Required audience parameter 'resource' is missing.")
        selectors = {k: q[k] for k in ("client_id", "object_id", "mi_res_id", "msi_res_id") if q.get(k)}
        if len(selectors) > 1:
            return _error(400, "invalid_request", "Only one of client_id, object_id, mi_res_id or msi_res_id may "
                                                  "be given.")
        principal, err = self.select(vm, selectors)
        if err:
            return err
        if not resource_known(resource):
            return _error(400, "invalid_resource",
                          f"AADSTS500011: The resource principal named {resource} was not found in the tenant "
                          f"named {self.emu.state.tenant_id}. This can happen if the application has not been "
                          f"installed by the administrator of the tenant or consented to by any user in the tenant. "
                          f"You might have sent your authentication request to the wrong tenant.")
        token, claims = self.token_for(principal, resource)
        body = {"access_token": token, "client_id": principal.app_id,
                "expires_in": str(max(0, int(claims["exp"] - time.time()))), "expires_on": str(claims["exp"]),
                "ext_expires_in": str(claims["exp"] - claims["iat"]), "not_before": str(claims["nbf"]),
                "resource": resource, "token_type": "Bearer"}
        return web.Response(text=json.dumps(body), content_type="application/json")

    def permissive(self, request: web.Request, vm: dict) -> web.Response:
        """The IMDS contract switched off (only to prove the token-endpoint checks can fail):
        any request gets a token, for any identity the selector names anywhere."""
        q = request.query
        resource = q.get("resource") or "https://management.azure.com/"
        wanted = {q.get(k, "").lower() for k in ("client_id", "object_id", "mi_res_id", "msi_res_id")} - {""}
        system, users = self.identities(vm)
        candidates = [p for p in self.emu.state.principals.values()
                      if wanted & {p.app_id.lower(), p.object_id.lower(), (p.mi_resource_id or "").lower()}]
        principal = (candidates or [system, *users] or [None])[0] if (candidates or system or users) else None
        if principal is None:
            principal = Principal(object_id=str(uuid.uuid4()), app_id=str(uuid.uuid4()), display_name="anyone",
                                  kind="permissive", mi_resource_id=vm["id"])
        token, claims = self.token_for(principal, resource)
        return web.Response(text=json.dumps({"access_token": token, "client_id": principal.app_id,
                                             "expires_in": "3599", "expires_on": str(claims["exp"]),
                                             "not_before": str(claims["nbf"]), "resource": resource,
                                             "token_type": "Bearer"}), content_type="application/json")

    def identities(self, host: dict) -> tuple[Principal | None, list[Principal]]:
        """The identities of a host resource (VM, scale set, container group, site ...)."""
        return identity.principals(self.emu.state, host)

    def select(self, vm: dict, selectors: dict) -> tuple[Principal | None, web.Response | None]:
        system, users = self.identities(vm)
        everyone = ([system] if system else []) + users
        if not everyone:
            return None, _error(400, "invalid_request", "Identity not found")
        if not selectors:
            if system:
                return system, None
            if len(users) == 1:
                return users[0], None
            return None, _error(400, "invalid_request", "Multiple user assigned identities exist, please specify "
                                                        "the clientId / resourceId of the identity in the token "
                                                        "request")
        (kind, value), = selectors.items()
        value = value.lower()
        for p in everyone:
            if kind == "client_id" and p.app_id.lower() == value:
                return p, None
            if kind == "object_id" and p.object_id.lower() == value:
                return p, None
            if kind in ("mi_res_id", "msi_res_id") and (p.mi_resource_id or "").lower() == value:
                return p, None
        return None, _error(400, "invalid_request", "Identity not found")

    def token_for(self, principal: Principal, resource: str) -> tuple[str, dict]:
        key = (principal.object_id, resource)
        hit = self.cache.get(key)
        if (hit and getattr(self.emu.config, "imds_token_cache", True)
                and hit[1]["exp"] - time.time() > REFRESH_MARGIN and hit[1]["oid"] == principal.object_id):
            return hit
        extra = {"xms_mirid": principal.mi_resource_id,
                 **self.emu.directory.token_claims(principal.object_id, resource, managed_identity=True)}
        if principal.app_roles:
            extra["roles"] = sorted(set(extra.get("roles", [])) | set(principal.app_roles))
        token, claims = self.emu.tokens.issue(
            audience=resource, oid=principal.object_id, appid=principal.app_id, lifetime=TOKEN_LIFETIME,
            extra=extra)
        self.cache[key] = (token, claims)
        return token, claims

    def forget(self, object_id: str) -> int:
        """Drop every cached token of an identity; returns how many there were."""
        keys = [k for k in self.cache if k[0] == object_id]
        for k in keys:
            del self.cache[k]
        return len(keys)

    def expire_cache(self, vm: dict) -> int:
        """The VM's cached tokens expire now, as they would after IMDS's ~24 h (what a user waits for)."""
        system, users = self.identities(vm)
        return sum(self.forget(p.object_id) for p in ([system] if system else []) + users)

    def instance(self, request: web.Request, vm: dict) -> web.Response:
        if request.headers.get("Metadata") != "true":
            return _error(400, "bad_request", "Bad request. Required metadata header not specified")
        if not request.query.get("api-version"):
            return _error(400, "bad_request", "Bad request. api-version was not specified in the request.")
        parts = vm["id"].split("/")  # /subscriptions/{sub}/resourceGroups/{rg}/providers/...
        sub, rg = parts[2], parts[4]
        compute = {"azEnvironment": "AzurePublicCloud", "location": vm.get("location"), "name": vm["name"],
                   "osType": os_type(vm),
                   "resourceGroupName": rg, "resourceId": vm["id"], "subscriptionId": sub,
                   "vmId": vm["properties"].get("vmId"), "tags": ";".join(f"{k}:{v}" for k, v in
                                                                          (vm.get("tags") or {}).items())}
        return web.json_response({"compute": compute, "network": {"interface": []}})
