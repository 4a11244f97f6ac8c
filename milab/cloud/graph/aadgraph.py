"""Azure AD Graph 1.6 at ``https://graph.windows.net`` (retired; the 2019 Graph tutorials use it).

The same directory as Microsoft Graph under ``/{tenant id | myorganization | domain}/...`` with
``api-version=1.6``: ``servicePrincipals`` (list with ``$filter``, get), their
``appRoleAssignments`` (list, create with the page's ``{"id", "principalId", "resourceId"}``,
delete) and ``appRoleAssignedTo``, ``getMemberGroups`` / ``getMemberObjects`` /
``checkMemberGroups``, ``groups`` with ``$links/members``, ``users``, ``directoryObjects`` and
``getObjectsByObjectIds``. Shapes are the service's OData v3 "minimal metadata" JSON as the
pages and the Azure CLI's AAD Graph recordings show them: ``odata.metadata``
(``https://graph.windows.net/<tenant>/$metadata#directoryObjects``), ``odata.type``
(``Microsoft.DirectoryServices.ServicePrincipal``), ``objectType`` and ``objectId``.

Tokens: audience ``https://graph.windows.net`` (the page requests it without the slash; the
Linux page's operator token has it) or ``00000002-0000-0000-c000-000000000000``. Errors:
``{"odata.error": {"code", "message": {"lang": "en", "value"}, "requestId", "date"}}``, e.g.
401 ``Authentication_MissingOrMalformed`` "Access Token missing or malformed.", 401
``Authentication_ExpiredToken``, 403 ``Authorization_RequestDenied`` "Insufficient privileges to
complete the operation." (quoted verbatim in azure-graphrbac failures, e.g. terraform-provider-
azuread issues and Microsoft's KB 3004133).
"""
from __future__ import annotations

import json
import uuid
from typing import Any

from aiohttp import web

from ..directory import DirObject, apps
from ..tokens import TokenError
from .core import (ApiError, DirectoryApi, Request, alternative_names, compile_routes, now,
                   service_principal_names, service_principal_type)

HOST = "graph.windows.net"
API_VERSIONS = ("1.6", "1.5", "2013-11-08", "2013-04-05")
CONTENT_TYPE = "application/json; odata=minimalmetadata; streaming=true; charset=utf-8"
ODATA_TYPE = {"servicePrincipal": "Microsoft.DirectoryServices.ServicePrincipal",
              "group": "Microsoft.DirectoryServices.Group", "user": "Microsoft.DirectoryServices.User"}

# Azure AD Graph's application permissions: Directory.Read.All reads everything, the
# ReadWrite permissions write.
READ = (("Directory.Read.All",), ("Application.ReadWrite.All",))
READ_DIRECTORY = (("Directory.Read.All",),)
WRITE_DIRECTORY = (("Directory.ReadWrite.All",),)
WRITE_ASSIGNMENTS = (("Directory.ReadWrite.All",), ("Application.ReadWrite.All",))

_TOKEN_ERRORS = {
    "expired": ("Authentication_ExpiredToken", "Your access token has expired. Please renew it before submitting "
                                               "the request."),
}
_MISSING = ("Authentication_MissingOrMalformed", "Access Token missing or malformed.")

_OBJECTS = ("servicePrincipals", "users", "groups", "directoryObjects")
ROUTES = compile_routes([
    ("GET", "servicePrincipals", "list_sps"),
    ("GET", "servicePrincipals/{id}", "get_sp"),
    ("GET", "servicePrincipalsByAppId/{appId}", "get_sp_by_app_id"),
    ("GET", "servicePrincipals/{id}/appRoleAssignments", "list_assignments"),
    ("POST", "servicePrincipals/{id}/appRoleAssignments", "create_assignment"),
    ("DELETE", "servicePrincipals/{id}/appRoleAssignments/{aid}", "delete_assignment"),
    ("GET", "servicePrincipals/{id}/appRoleAssignedTo", "list_assigned_to"),
    *[("POST", f"{c}/{{id}}/{fn}", fn) for c in _OBJECTS for fn in
      ("getMemberGroups", "getMemberObjects", "checkMemberGroups")],
    ("POST", "getObjectsByObjectIds", "get_by_ids"),
    ("GET", "directoryObjects/{id}", "get_directory_object"),
    ("GET", "groups", "list_groups"),
    ("POST", "groups", "create_group"),
    ("GET", "groups/{id}", "get_group"),
    ("DELETE", "groups/{id}", "delete_group"),
    ("GET", "groups/{id}/members", "list_members"),
    ("POST", "groups/{id}/$links/members", "add_member"),
    ("DELETE", "groups/{id}/$links/members/{member}", "remove_member"),
    ("GET", "users", "list_users"),
    ("GET", "users/{id}", "get_user"),
])


class AzureAdGraph(DirectoryApi):
    host = HOST
    audiences = tuple(a for a in apps.AZURE_AD_GRAPH.audiences)
    routes = ROUTES
    PERMS = {"read_sps": READ, "read_assignments": READ, "write_assignments": WRITE_ASSIGNMENTS,
             "read_groups": READ_DIRECTORY, "create_groups": WRITE_DIRECTORY, "delete_groups": WRITE_DIRECTORY,
             "write_members": WRITE_DIRECTORY, "read_users": READ_DIRECTORY, "read_directory": READ_DIRECTORY}
    KEYS = {"role_id": "id", "member_ref": "url", "by_ids": "objectIds"}  # the pages' and azure-graphrbac's

    def member_of_permissions(self, kind: str):
        return READ_DIRECTORY

    def fragment(self, collection: str, entity: bool = False, owner: str = "") -> str:
        """``odata.metadata`` after ``$metadata#``: every object is a ``directoryObjects`` entity,
        assignments ``directoryObjects/Microsoft.DirectoryServices.AppRoleAssignment``."""
        base = "directoryObjects" + ("/Microsoft.DirectoryServices.AppRoleAssignment"
                                     if collection.startswith("appRole") else "")
        return base + ("/@Element" if entity else "")

    # -- shapes -------------------------------------------------------------------------------------
    def split(self, request: web.Request) -> str:
        tenant, _, rest = request.path.lstrip("/").partition("/")
        if tenant.lower() not in ("myorganization", self.emu.state.tenant_id.lower(), self.directory.domain.lower()):
            raise ApiError(400, "Request_BadRequest", "Invalid domain name in the request url.")
        version = request.query.get("api-version")
        if version not in API_VERSIONS:
            raise ApiError(400, "Request_BadRequest", "The specified api-version is invalid. The value must exactly "
                                                      "match a supported version.")
        request["milab_tenant"] = tenant
        return rest.rstrip("/")

    def metadata(self, req: Request, fragment: str) -> str:
        tenant = req.http.get("milab_tenant") or "myorganization"
        return f"https://{HOST}/{tenant}/$metadata#{fragment}"

    def _headers(self) -> dict:
        return {"request-id": str(uuid.uuid4()), "DataServiceVersion": "3.0;", "x-ms-dirapi-data-contract-version":
                "1.6", "Cache-Control": "no-cache", "Strict-Transport-Security": "max-age=31536000; includeSubDomains"}

    def respond(self, status: int, payload: Any, request: web.Request, headers: dict | None = None) -> web.Response:
        h = self._headers()
        h.update(headers or {})
        if payload is None:
            return web.Response(status=status, headers=h)
        h["Content-Type"] = CONTENT_TYPE
        return web.Response(status=status, text=json.dumps(payload), headers=h)

    def error(self, e: ApiError, request: web.Request) -> web.Response:
        h = self._headers()
        h.update(e.headers)
        h["Content-Type"] = CONTENT_TYPE
        body = {"odata.error": {"code": e.code, "message": {"lang": "en", "value": e.message},
                                "requestId": h["request-id"], "date": now()}}
        return web.Response(status=e.status, text=json.dumps(body), headers=h)

    def token_error(self, e: TokenError) -> ApiError:
        code, message = _TOKEN_ERRORS.get(e.reason, _MISSING)
        tid = self.emu.state.tenant_id
        return ApiError(401, code, message, {"WWW-Authenticate": f'Bearer authorization_uri="https://login.windows.net/'
                                                                 f'{tid}/oauth2/authorize", error="invalid_token", '
                                                                 f'error_description="{message}"'})

    # Azure AD Graph names a missing segment and an unsupported method in its own words
    def no_segment(self, path: str) -> ApiError:
        segment = next((s for s in path.split("/") if s), path)
        return ApiError(400, "Request_BadRequest", f"Unsupported segment type. ODataQuery: {segment}")

    # -- rendering ------------------------------------------------------------------------------------
    def render(self, o: DirObject, typed: bool = True) -> dict:  # every AAD Graph object says its odata.type
        head = {"odata.type": ODATA_TYPE[o.type], "objectType": o.type[0].upper() + o.type[1:], "objectId": o.id,
                "deletionTimestamp": None}
        if o.type == "servicePrincipal":
            return {**head, **self.render_sp(o)}
        d = o.doc or {}
        if o.type == "group":
            return {**head, "description": d.get("description"), "dirSyncEnabled": None,
                    "displayName": d["displayName"], "lastDirSyncTime": None, "mail": None,
                    "mailNickname": d["mailNickname"], "mailEnabled": d["mailEnabled"], "onPremisesDomainName": None,
                    "onPremisesNetBiosName": None, "onPremisesSamAccountName": None,
                    "onPremisesSecurityIdentifier": None, "provisioningErrors": [], "proxyAddresses": [],
                    "securityEnabled": d["securityEnabled"]}
        return {**head, "accountEnabled": d.get("accountEnabled", True), "displayName": d.get("displayName"),
                "givenName": d.get("givenName"), "mail": d.get("mail"), "mailNickname": d.get("mailNickname"),
                "otherMails": [], "surname": d.get("surname"), "userPrincipalName": d.get("userPrincipalName"),
                "userType": d.get("userType", "Member")}

    def render_sp(self, o: DirObject) -> dict:
        p = o.principal
        app = apps.by_app_id(p.app_id) if p.kind == "first-party" else None
        managed = service_principal_type(p) == "ManagedIdentity"
        roles = [{k: v for k, v in r.graph().items() if k != "origin"} for r in (app.app_roles if app else ())]
        return {"accountEnabled": True, "addIns": [], "alternativeNames": alternative_names(p),
                "appDisplayName": None if managed else p.display_name, "appId": p.app_id,
                "applicationTemplateId": None,
                "appOwnerTenantId": apps.MICROSOFT_TENANT if (app or managed) else self.emu.state.tenant_id,
                "appRoleAssignmentRequired": False, "appRoles": roles, "displayName": p.display_name,
                "errorUrl": None, "homepage": None, "informationalUrls": None, "keyCredentials": [],
                "logoutUrl": None, "notificationEmailAddresses": [], "oauth2Permissions": [],
                "passwordCredentials": [], "preferredSingleSignOnMode": None,
                "preferredTokenSigningKeyEndDateTime": None, "preferredTokenSigningKeyThumbprint": None,
                "publisherName": "Microsoft Services" if app else None, "replyUrls": [], "samlMetadataUrl": None,
                "samlSingleSignOnSettings": None, "servicePrincipalNames": service_principal_names(p),
                "servicePrincipalType": service_principal_type(p), "signInAudience": None, "tags": [],
                "tokenEncryptionKeyId": None}

    def render_assignment(self, a: dict) -> dict:
        principal_name, resource_name = self.assignment_names(a)
        return {"odata.type": "Microsoft.DirectoryServices.AppRoleAssignment", "objectType": "AppRoleAssignment",
                "objectId": a["id"], "deletionTimestamp": None, "creationTimestamp": a["createdDateTime"],
                "id": a["appRoleId"], "principalDisplayName": principal_name, "principalId": a["principalId"],
                "principalType": a["principalType"], "resourceDisplayName": resource_name,
                "resourceId": a["resourceId"]}

    def collection(self, req: Request, fragment: str, items: list, render) -> tuple[int, dict]:
        page, next_offset = self.page(req, items)
        doc: dict = {"odata.metadata": self.metadata(req, fragment), "value": [render(i) for i in page]}
        if next_offset is not None:
            doc["odata.nextLink"] = f"{req.http.path.split('/', 2)[-1]}?$skiptoken=X{next_offset}"
        return 200, doc

    def entity(self, req: Request, fragment: str, doc: dict, status: int = 200) -> tuple[int, dict]:
        return status, {"odata.metadata": self.metadata(req, fragment), **doc}

    def strings(self, req: Request, values: list[str]) -> tuple[int, dict]:
        return 200, {"odata.metadata": self.metadata(req, "Collection(Edm.String)"), "value": values}
