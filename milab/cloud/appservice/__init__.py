"""App Service's managed-identity token endpoint, as the code of one site sees it.

The site's code finds it in ``IDENTITY_ENDPOINT`` with ``IDENTITY_HEADER`` (api-version
2019-08-01: header ``X-IDENTITY-HEADER``, query ``resource``, optional ``client_id`` /
``principal_id`` / ``mi_res_id``, answer with ``expires_on`` in epoch seconds and
``client_id``), or in the older ``MSI_ENDPOINT`` with ``MSI_SECRET`` (2017-09-01: header
``secret``, optional ``clientid``, ``expires_on`` as ``MM/DD/YYYY HH:MM:SS +00:00``) - the
request and answer shapes of Microsoft's "Managed identities for App Service" reference and
of azure-identity's ``AppServiceCredential`` / ``AzureMLCredential`` (which parses the 2017
date format). The calling site is known by its guest context's proxy credentials, like IMDS.

Unlike IMDS, App Service does not default to a lone user-assigned identity: without a
selector and without a system-assigned identity the answer is 400 "Unable to load the proper
Managed Identity." in the service's own error shape ``{"statusCode", "message",
"correlationId"}`` (the message users report from App Service and Container Apps).
"""
from __future__ import annotations

import hmac
import json
import time
import uuid
from typing import TYPE_CHECKING

from aiohttp import web

from ..arm import identity
from ..arm.base import INTERNAL
from ..arm.web import TOKEN_HOST, Site
from ..entra import resource_known
from ..imds import vm_secret_from_proxy_auth

if TYPE_CHECKING:  # pragma: no cover
    from ..server import Emulator

TOKEN_PATH = "/msi/token"
API_2019, API_2017 = "2019-08-01", "2017-09-01"


def _error(status: int, message: str) -> web.Response:
    return web.Response(status=status, content_type="application/json", text=json.dumps(
        {"statusCode": status, "message": message, "correlationId": str(uuid.uuid4())}))


class AppServiceTokens:
    """The data plane at ``IDENTITY_ENDPOINT``'s host (registered in ``emu.data_planes``)."""

    def __init__(self, emu: "Emulator"):
        self.emu = emu
        emu.data_planes[TOKEN_HOST] = self

    async def close(self) -> None:
        pass

    async def handle(self, request: web.Request) -> web.Response:
        state = self.emu.state
        site = state.vm_for_secret(vm_secret_from_proxy_auth(request.headers.get("Proxy-Authorization")) or "")
        if site is None or site["type"].lower() != Site.type.lower():
            return _error(403, "The App Service token endpoint answers only code running in an emulated site.")
        if request.path.rstrip("/").lower() != TOKEN_PATH:
            return _error(404, f"The path '{request.path}' does not exist.")
        if request.method != "GET":
            return _error(405, f"The HTTP method '{request.method}' is not allowed; use GET.")
        q = request.query
        expected = (site.get(INTERNAL) or {}).get("identity_header", "")
        if "X-IDENTITY-HEADER" in request.headers:
            version, given = API_2019, request.headers["X-IDENTITY-HEADER"]
            selectors = {k: q[k] for k in ("client_id", "principal_id", "object_id", "mi_res_id") if q.get(k)}
        elif "secret" in request.headers:
            version, given = API_2017, request.headers["secret"]
            selectors = {"client_id": q["clientid"]} if q.get("clientid") else {}
        else:
            return _error(401, "The request has no X-IDENTITY-HEADER (or, for api-version 2017-09-01, secret) "
                               "header.")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return _error(401, "The X-IDENTITY-HEADER (secret) header does not match this site's IDENTITY_HEADER.")
        if q.get("api-version") != version:
            return _error(400, f"The api-version '{q.get('api-version')}' is not valid with this header; use "
                               f"{version}.")
        resource = q.get("resource")
        if not resource:
            return _error(400, "The 'resource' query parameter is required.")
        if len(selectors) > 1:
            return _error(400, "Only one of client_id, principal_id or mi_res_id may be given.")
        system, users = identity.principals(state, site)
        if selectors:
            (kind, value), = selectors.items()
            value = value.lower()
            principal = next((p for p in ([system] if system else []) + users if value in (
                {"client_id": p.app_id, "principal_id": p.object_id, "object_id": p.object_id,
                 "mi_res_id": p.mi_resource_id or ""}[kind].lower(),)), None)
        else:
            principal = system
        if principal is None:
            return _error(400, "Unable to load the proper Managed Identity.")
        if not resource_known(resource):
            return _error(400, f"AADSTS500011: The resource principal named {resource} was not found in the tenant "
                               f"named {state.tenant_id}.")
        token, claims = self.emu.imds.token_for(principal, resource)
        if version == API_2017:
            expires = time.strftime("%m/%d/%Y %H:%M:%S +00:00", time.gmtime(claims["exp"]))
            body = {"access_token": token, "expires_on": expires, "resource": resource, "token_type": "Bearer"}
        else:
            body = {"access_token": token, "expires_on": str(claims["exp"]), "resource": resource,
                    "token_type": "Bearer", "client_id": principal.app_id}
        return web.Response(text=json.dumps(body), content_type="application/json")
