"""Entra ID (login.microsoftonline.com): OpenID metadata, JWKS, instance discovery and
the v2.0 (and v1) client-credentials token endpoints for the operator service principal.

Errors use Entra's shape: ``{"error", "error_description", "error_codes", "timestamp",
"trace_id", "correlation_id"}`` with the AADSTS codes the real service sends.
"""
from __future__ import annotations

import datetime as dt
import hmac
import json
import re
import unicodedata
import uuid
from typing import TYPE_CHECKING

from aiohttp import web

from .bodies import FORM_MAX_BODY, BodyError, media_type, parse_form, read_limited

if TYPE_CHECKING:  # pragma: no cover
    from .server import Emulator

LOGIN = "https://login.microsoftonline.com"

# App ID URIs of the resources tokens can be issued for (the "resource principals" of the tenant).
_RESOURCE_PATTERNS = [
    r"https://management\.azure\.com/?",
    r"https://management\.core\.windows\.net/?",
    r"https://storage\.azure\.com/?",
    r"https://[a-z0-9]{3,24}\.(blob|queue|table|file|dfs)\.core\.windows\.net/?",
    r"https://vault\.azure\.net/?",
    r"https://cosmos\.azure\.com/?",
    r"https://[a-z0-9-]{3,44}\.documents\.azure\.com(:443)?/?",
    r"https://database\.windows\.net/?",
    r"https://graph\.microsoft\.com/?",
    r"https://graph\.windows\.net/?",
    r"https://datalake\.azure\.net/?",
    r"https://ossrdbms-aad\.database\.windows\.net/?",
    r"https://eventhubs\.azure\.net/?",
    r"https://servicebus\.azure\.net/?",
]
_RESOURCE_RE = re.compile("(" + "|".join(_RESOURCE_PATTERNS) + ")", re.I)


def resource_known(resource: str) -> bool:
    """Is this the App ID URI of a resource principal in the tenant? The whole string must match:
    a resource with whitespace or a control character anywhere (``https://management.azure.com/%0A``)
    names no principal, so no token is ever issued with such an audience."""
    resource = resource or ""
    if any(c.isspace() or unicodedata.category(c)[0] == "C" for c in resource):
        return False
    return _RESOURCE_RE.fullmatch(resource) is not None


def _guid(value: str | None) -> str | None:
    try:
        return str(uuid.UUID(value)) if value else None
    except ValueError:
        return None


def error_body(status: int, error: str, code: int, description: str, correlation_id: str | None = None,
               headers: dict | None = None) -> web.Response:
    """Entra's error shape, as recorded from login.microsoftonline.com: the description carries the
    same trace and correlation ids as the body's fields, separated by CRLF, and ``error_uri`` points at
    the code's page, e.g. {"error":"invalid_client","error_description":"AADSTS7000215: Invalid client
    secret is provided.\r\nTrace ID: 3b3c...\r\nCorrelation ID: 5ad5...\r\nTimestamp: 2020-04-09
    17:28:46Z","error_codes":[7000215],"timestamp":"2020-04-09 17:28:46Z","trace_id":"3b3c...",
    "correlation_id":"5ad5...","error_uri":"https://login.microsoftonline.com/error?code=7000215"}
    (AKS troubleshooting on Learn; MicrosoftDocs/azure-docs#43780 for AADSTS900144). The correlation
    id is the client's ``client-request-id`` when it sent a GUID, as Entra echoes it."""
    trace = str(uuid.uuid4())
    correlation = correlation_id or str(uuid.uuid4())
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    body = {"error": error,
            "error_description": f"AADSTS{code}: {description}\r\nTrace ID: {trace}\r\nCorrelation ID: "
                                 f"{correlation}\r\nTimestamp: {now}",
            "error_codes": [code], "timestamp": now, "trace_id": trace, "correlation_id": correlation,
            "error_uri": f"{LOGIN}/error?code={code}"}
    return web.json_response(body, status=status, headers=headers)


class EntraService:
    def __init__(self, emu: "Emulator"):
        self.emu = emu

    @property
    def tenant(self) -> str:
        return self.emu.state.tenant_id

    def _tenant_ok(self, tenant: str) -> bool:
        return tenant.lower() in (self.tenant.lower(), "organizations", "common")

    async def handle(self, request: web.Request) -> web.Response:
        parts = [p for p in request.path.split("/") if p]
        if not parts:
            return web.json_response({"error": "invalid_request", "error_description": "No tenant in the path."},
                                     status=400)
        tenant = parts[0]
        rest = "/".join(parts[1:])
        if tenant == "common" and rest == "discovery/instance":
            return self.instance_discovery(request)
        if not self._tenant_ok(tenant):
            return error_body(400, "invalid_request", 90002,
                              f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID "
                              f"and are signing into the correct cloud.")
        if rest in ("v2.0/.well-known/openid-configuration", ".well-known/openid-configuration"):
            return self.openid_configuration(rest.startswith("v2.0"))
        if rest in ("discovery/v2.0/keys", "discovery/keys"):
            return web.json_response(self.emu.tokens.jwks())
        if rest in ("oauth2/v2.0/token", "oauth2/token"):
            correlation = _guid(request.headers.get("client-request-id"))
            headers = {"client-request-id": correlation} if correlation else None
            try:
                if request.method != "POST":
                    raise EntraError(405, "invalid_request", 900561, "The endpoint only accepts POST requests.")
                form = await self.read_form(request)
                return self.token(tenant, form, v2=rest.startswith("oauth2/v2.0"), headers=headers)
            except EntraError as e:
                return error_body(e.status, e.error, e.code, e.description, correlation, headers)
        return error_body(404, "invalid_request", 900439, f"The path '/{tenant}/{rest}' is not an Entra endpoint.")

    @staticmethod
    async def read_form(request: web.Request) -> dict[str, str]:
        """The token endpoint reads only a form body. Anything else (JSON, multipart with or
        without a boundary, a truncated body) has no parameters for it, so Entra answers as for
        a form without them: 400 AADSTS900144 "The request body must contain the following
        parameter: 'grant_type'." (recorded with Content-Type: application/json in
        microsoftgraph/microsoft-graph-docs#20272). Bytes are UTF-8 whatever the charset says."""
        try:
            raw = await read_limited(request, FORM_MAX_BODY)
        except BodyError:
            raise EntraError(413, "invalid_request", 900144, "The request body is too large.") from None
        if media_type(request) != "application/x-www-form-urlencoded":
            return {}
        return parse_form(raw)

    def openid_configuration(self, v2: bool) -> web.Response:
        t = self.tenant
        base = f"{LOGIN}/{t}"
        doc = {
            "token_endpoint": f"{base}/oauth2/v2.0/token" if v2 else f"{base}/oauth2/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{base}/discovery/v2.0/keys" if v2 else f"{base}/discovery/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{LOGIN}/{t}/v2.0" if v2 else f"https://sts.windows.net/{t}/",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize" if v2 else f"{base}/oauth2/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "tenant_region_scope": "NA",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
        }
        return web.json_response(doc)

    def instance_discovery(self, request: web.Request) -> web.Response:
        return web.json_response({
            "tenant_discovery_endpoint": f"{LOGIN}/{{tenant}}/v2.0/.well-known/openid-configuration",
            "api-version": "1.1",
            "metadata": [{"preferred_network": "login.microsoftonline.com", "preferred_cache": "login.windows.net",
                          "aliases": ["login.microsoftonline.com", "login.windows.net", "login.microsoft.com",
                                      "sts.windows.net"]}]})

    def token(self, tenant: str, form: dict, v2: bool, headers: dict | None = None) -> web.Response:
        grant = form.get("grant_type")
        if not grant:
            raise EntraError(400, "invalid_request", 900144,
                             "The request body must contain the following parameter: 'grant_type'.")
        if grant != "client_credentials":
            raise EntraError(400, "unsupported_grant_type", 70003,
                             f"The app requested an unsupported grant type '{grant}'. The emulator issues "
                             f"tokens to service principals with client credentials only.")
        client_id = form.get("client_id", "")
        if not client_id:
            raise EntraError(400, "invalid_request", 900144,
                             "The request body must contain the following parameter: 'client_id'.")
        if v2:
            scopes = [x for x in form.get("scope", "").split(" ") if x]  # space-delimited (RFC 6749 3.3)
            if not scopes:
                raise EntraError(400, "invalid_request", 900144,
                                 "The request body must contain the following parameter: 'scope'.")
            if len(scopes) > 1 or not scopes[0].endswith("/.default"):
                raise EntraError(400, "invalid_scope", 1002012,
                                 f"The provided value for scope {form.get('scope')} is not valid. Client credential "
                                 f"flows must have a scope value with /.default suffixed to the resource "
                                 f"identifier (application ID URI).")
            resource = scopes[0][: -len("/.default")]
        else:
            resource = form.get("resource", "")
            if not resource:
                raise EntraError(400, "invalid_request", 900144,
                                 "The request body must contain the following parameter: 'resource'.")
        principal = self.emu.state.principal_by_app_id(client_id)
        if principal is None or principal.secret is None:
            raise EntraError(400, "unauthorized_client", 700016,
                             f"Application with identifier '{client_id}' was not found in the directory "
                             f"'{self.tenant}'.")
        secret = form.get("client_secret", "")
        if not hmac.compare_digest(secret.encode(), principal.secret.encode()):
            raise EntraError(401, "invalid_client", 7000215,
                             "Invalid client secret provided. Ensure the secret being sent in the request is "
                             f"the client secret value, not the client secret ID, for a secret added to app "
                             f"'{client_id}'.")
        if not resource_known(resource):
            raise EntraError(400, "invalid_resource", 500011,
                             f"The resource principal named {resource} was not found in the tenant named "
                             f"{self.tenant}. This can happen if the application has not been installed by the "
                             f"administrator of the tenant or consented to by any user in the tenant. You might "
                             f"have sent your authentication request to the wrong tenant.")
        # app roles the principal holds on the resource's app, as of now (Entra issues a fresh token)
        extra = self.emu.directory.token_claims(principal.object_id, resource, managed_identity=False)
        if principal.app_roles:
            extra["roles"] = sorted(set(extra.get("roles", [])) | set(principal.app_roles))
        token, claims = self.emu.tokens.issue(audience=resource, oid=principal.object_id,
                                              appid=principal.app_id, lifetime=3599, extra=extra or None)
        if v2:
            body = {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token}
        else:
            # The v1 endpoint answers with strings: {"token_type":"Bearer","expires_in":"3599",
            # "ext_expires_in":"3599","expires_on":"1604722734","not_before":"1604718834",
            # "resource":"https://management.azure.com/","access_token":"..."} (recorded v1 client-credentials
            # responses quoted in public docs and code, e.g. the Office 365 Management API samples)
            body = {"token_type": "Bearer", "expires_in": "3599", "ext_expires_in": "3599",
                    "expires_on": str(claims["exp"]), "not_before": str(claims["nbf"]), "resource": resource,
                    "access_token": token}
        return web.Response(text=json.dumps(body), content_type="application/json", headers=headers)


class EntraError(Exception):
    """An answer of the token endpoint in Entra's error shape (see :func:`error_body`)."""

    def __init__(self, status: int, error: str, code: int, description: str):
        super().__init__(f"AADSTS{code}: {description}")
        self.status, self.error, self.code, self.description = status, error, code, description
