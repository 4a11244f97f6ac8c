"""Microsoft Graph v1.0 at ``https://graph.microsoft.com``: the directory's service principals,
groups, users and app role assignments, as the Graph reference documents them.

Operations: ``servicePrincipals`` (list with ``$filter`` on ``appId``, ``displayName``,
``startswith(displayName,...)``, ``servicePrincipalNames/any(...)``; get by id or by
``servicePrincipals(appId='...')``), ``servicePrincipals/{id}/appRoleAssignments`` and
``appRoleAssignedTo`` (create, list, delete), ``getMemberGroups`` / ``getMemberObjects`` /
``checkMemberGroups`` on service principals, groups, users and directory objects, ``groups``
(create, list, get, delete, ``members``, ``members/$ref`` add and ``members/{id}/$ref``
remove), ``users``, ``directoryObjects/{id}`` and ``directoryObjects/getByIds`` (what
``az role assignment create --assignee <objectId>`` asks to learn the principal's type).

Tokens: audience ``https://graph.microsoft.com`` (with or without the slash) or the app id
``00000003-0000-0000-c000-000000000000``; any other is 401 ``InvalidAuthenticationToken``
"Access token validation failure. Invalid audience.". Permissions per operation are the
reference's "Permissions" tables for application permissions (see ``core.py`` for how they are
checked). Errors: ``{"error": {"code", "message", "innerError": {"date", "request-id",
"client-request-id"}}}``, e.g. 403 ``Authorization_RequestDenied`` "Insufficient privileges to
complete the operation." (as Graph answers, quoted verbatim in many client issues).
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

HOST = "graph.microsoft.com"
BASE = f"https://{HOST}/v1.0"
CONTENT_TYPE = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"

# Application permissions per operation (the v1.0 reference's tables; "X.ReadWrite.All" includes
# "X.Read.All").
READ_APPS = (("Application.Read.All",), ("Directory.Read.All",))
READ_ASSIGNMENTS = (("Application.Read.All",), ("Directory.Read.All",), ("AppRoleAssignment.ReadWrite.All",))
WRITE_ASSIGNMENTS = (("AppRoleAssignment.ReadWrite.All",),)
READ_GROUPS = (("GroupMember.Read.All",), ("Group.Read.All",), ("Directory.Read.All",))
CREATE_GROUPS = (("Group.Create",), ("Group.ReadWrite.All",), ("Directory.ReadWrite.All",))
DELETE_GROUPS = (("Group.ReadWrite.All",),)
WRITE_MEMBERS = (("GroupMember.ReadWrite.All",), ("Group.ReadWrite.All",), ("Directory.ReadWrite.All",))
READ_USERS = (("User.Read.All",), ("Directory.Read.All",))
READ_DIRECTORY = (("Directory.Read.All",),)
# getMemberGroups / getMemberObjects / checkMemberGroups, by the kind of object asked about
MEMBER_OF = {
    "servicePrincipal": (("Application.Read.All", "GroupMember.Read.All"), ("Application.Read.All", "Group.Read.All"),
                         ("Directory.Read.All",)),
    "user": (("User.Read.All", "GroupMember.Read.All"), ("User.Read.All", "Group.Read.All"), ("Directory.Read.All",)),
    "group": READ_GROUPS,
    "directoryObject": READ_DIRECTORY,
}
_COLLECTIONS = ("servicePrincipals", "users", "groups", "directoryObjects")

_TOKEN_MESSAGES = {
    "missing": "Access token is empty.",
    "audience": "Access token validation failure. Invalid audience.",
    "expired": "Lifetime validation failed, the token is expired.",
    "not_yet_valid": "Lifetime validation failed, the token is not yet valid.",
    "issuer": "Access token validation failure. Invalid issuer.",
    "tenant": "Access token validation failure. Invalid issuer.",
}

ROUTES = compile_routes([
    ("GET", "servicePrincipals", "list_sps"),
    ("GET", "servicePrincipals/{id}", "get_sp"),
    ("GET", "servicePrincipals(appId='{appId}')", "get_sp_by_app_id"),
    ("GET", "servicePrincipals/{id}/appRoleAssignments", "list_assignments"),
    ("POST", "servicePrincipals/{id}/appRoleAssignments", "create_assignment"),
    ("DELETE", "servicePrincipals/{id}/appRoleAssignments/{aid}", "delete_assignment"),
    ("GET", "servicePrincipals/{id}/appRoleAssignedTo", "list_assigned_to"),
    ("POST", "servicePrincipals/{id}/appRoleAssignedTo", "create_assigned_to"),
    ("DELETE", "servicePrincipals/{id}/appRoleAssignedTo/{aid}", "delete_assignment"),
    *[("POST", f"{c}/{{id}}/{fn}", fn) for c in _COLLECTIONS for fn in
      ("getMemberGroups", "getMemberObjects", "checkMemberGroups")],
    ("POST", "directoryObjects/getByIds", "get_by_ids"),
    ("GET", "directoryObjects/{id}", "get_directory_object"),
    ("GET", "groups", "list_groups"),
    ("POST", "groups", "create_group"),
    ("GET", "groups/{id}", "get_group"),
    ("DELETE", "groups/{id}", "delete_group"),
    ("GET", "groups/{id}/members", "list_members"),
    ("POST", "groups/{id}/members/$ref", "add_member"),
    ("DELETE", "groups/{id}/members/{member}/$ref", "remove_member"),
    ("GET", "users", "list_users"),
    ("GET", "users/{id}", "get_user"),
])


class MicrosoftGraph(DirectoryApi):
    host = HOST
    audiences = tuple(a for a in apps.MICROSOFT_GRAPH.audiences)
    routes = ROUTES
    PERMS = {"read_sps": READ_APPS, "read_assignments": READ_ASSIGNMENTS, "write_assignments": WRITE_ASSIGNMENTS,
             "read_groups": READ_GROUPS, "create_groups": CREATE_GROUPS, "delete_groups": DELETE_GROUPS,
             "write_members": WRITE_MEMBERS, "read_users": READ_USERS, "read_directory": READ_DIRECTORY}
    KEYS = {"role_id": "appRoleId", "member_ref": "@odata.id", "by_ids": "ids"}

    def member_of_permissions(self, kind: str):
        return MEMBER_OF[kind]

    def fragment(self, collection: str, entity: bool = False, owner: str = "") -> str:
        """``@odata.context`` after ``$metadata#``: ``servicePrincipals``, ``groups/$entity``,
        ``servicePrincipals('<id>')/appRoleAssignments/$entity`` ..."""
        base = f"servicePrincipals('{owner}')/{collection}" if collection.startswith("appRole") else collection
        return base + ("/$entity" if entity else "")

    # -- shapes -------------------------------------------------------------------------------------
    def split(self, request: web.Request) -> str:
        version, _, rest = request.path.lstrip("/").partition("/")
        if version != "v1.0":
            raise ApiError(400, "BadRequest", f"Invalid version: {version}")
        return rest.rstrip("/")

    def _headers(self, request: web.Request) -> dict:
        client = request.headers.get("client-request-id") or str(uuid.uuid4())
        return {"request-id": str(uuid.uuid4()), "client-request-id": client, "OData-Version": "4.0",
                "Cache-Control": "no-cache", "Strict-Transport-Security": "max-age=31536000"}

    def respond(self, status: int, payload: Any, request: web.Request, headers: dict | None = None) -> web.Response:
        h = self._headers(request)
        h.update(headers or {})
        if payload is None:
            return web.Response(status=status, headers=h)
        h["Content-Type"] = CONTENT_TYPE
        return web.Response(status=status, text=json.dumps(payload), headers=h)

    def error(self, e: ApiError, request: web.Request) -> web.Response:
        h = self._headers(request)
        h.update(e.headers)
        h["Content-Type"] = "application/json"
        body = {"error": {"code": e.code, "message": e.message, "innerError": {
            "date": now(), "request-id": h["request-id"], "client-request-id": h["client-request-id"]}}}
        return web.Response(status=e.status, text=json.dumps(body), headers=h)

    def token_error(self, e: TokenError) -> ApiError:
        return ApiError(401, "InvalidAuthenticationToken", _TOKEN_MESSAGES.get(e.reason, "Access token validation "
                                                                                         "failure."),
                        {"WWW-Authenticate": f'Bearer realm="", authorization_uri="https://login.microsoftonline.com/'
                                            f'common/oauth2/authorize", client_id="{apps.GRAPH_APP_ID}"'})

    # -- rendering ------------------------------------------------------------------------------------
    def render(self, o: DirObject, typed: bool = False) -> dict:
        if o.type == "servicePrincipal":
            doc = self.render_sp(o)
        elif o.type == "group":
            doc = self.render_group(o.doc or {})
        else:
            doc = self.render_user(o.doc or {})
        if typed:
            doc = {"@odata.type": f"#microsoft.graph.{o.type}", **doc}
        return doc

    def render_sp(self, o: DirObject) -> dict:
        p = o.principal
        app = apps.by_app_id(p.app_id) if p.kind == "first-party" else None
        managed = service_principal_type(p) == "ManagedIdentity"
        owner = apps.MICROSOFT_TENANT if (app is not None or managed) else self.emu.state.tenant_id
        return {
            "id": p.object_id, "deletedDateTime": None, "accountEnabled": True,
            "alternativeNames": alternative_names(p), "appDisplayName": None if managed else p.display_name,
            "appDescription": None, "appId": p.app_id, "applicationTemplateId": None,
            "appOwnerOrganizationId": owner, "appRoleAssignmentRequired": False, "createdDateTime": None,
            "description": None, "disabledByMicrosoftStatus": None, "displayName": p.display_name,
            "homepage": None, "loginUrl": None, "logoutUrl": None, "notes": None, "notificationEmailAddresses": [],
            "preferredSingleSignOnMode": None, "preferredTokenSigningKeyThumbprint": None, "replyUrls": [],
            "servicePrincipalNames": service_principal_names(p), "servicePrincipalType": service_principal_type(p),
            "signInAudience": None if managed else ("AzureADMultipleOrgs" if app else "AzureADMyOrg"),
            "tags": [], "tokenEncryptionKeyId": None,
            "info": {"logoUrl": None, "marketingUrl": None, "privacyStatementUrl": None, "supportUrl": None,
                     "termsOfServiceUrl": None},
            "samlSingleSignOnSettings": None, "addIns": [],
            "appRoles": [r.graph() for r in (app.app_roles if app else ())],
            "keyCredentials": [], "oauth2PermissionScopes": [], "passwordCredentials": [],
            "resourceSpecificApplicationPermissions": [], "verifiedPublisher": {
                "displayName": None, "verifiedPublisherId": None, "addedDateTime": None}}

    @staticmethod
    def render_group(g: dict) -> dict:
        return {"id": g["id"], "deletedDateTime": None, "classification": None, "createdDateTime": g["createdDateTime"],
                "creationOptions": [], "description": g.get("description"), "displayName": g["displayName"],
                "expirationDateTime": None, "groupTypes": g.get("groupTypes") or [], "isAssignableToRole": None,
                "mail": None, "mailEnabled": g["mailEnabled"], "mailNickname": g["mailNickname"],
                "membershipRule": None, "membershipRuleProcessingState": None, "onPremisesDomainName": None,
                "onPremisesLastSyncDateTime": None, "onPremisesNetBiosName": None,
                "onPremisesSamAccountName": None, "onPremisesSecurityIdentifier": None,
                "onPremisesSyncEnabled": None, "preferredDataLocation": None, "preferredLanguage": None,
                "proxyAddresses": [], "renewedDateTime": g["createdDateTime"], "resourceBehaviorOptions": [],
                "resourceProvisioningOptions": [], "securityEnabled": g["securityEnabled"],
                "securityIdentifier": None, "theme": None, "visibility": None,
                "onPremisesProvisioningErrors": [], "serviceProvisioningErrors": []}

    @staticmethod
    def render_user(u: dict) -> dict:
        return {"businessPhones": [], "displayName": u.get("displayName"), "givenName": u.get("givenName"),
                "jobTitle": None, "mail": u.get("mail"), "mobilePhone": None, "officeLocation": None,
                "preferredLanguage": None, "surname": u.get("surname"),
                "userPrincipalName": u.get("userPrincipalName"), "id": u["id"]}

    def render_assignment(self, a: dict) -> dict:
        principal_name, resource_name = self.assignment_names(a)
        return {"id": a["id"], "deletedDateTime": None, "appRoleId": a["appRoleId"],
                "createdDateTime": a["createdDateTime"], "principalDisplayName": principal_name,
                "principalId": a["principalId"], "principalType": a["principalType"],
                "resourceDisplayName": resource_name, "resourceId": a["resourceId"]}

    def collection(self, req: Request, context: str, items: list, render) -> tuple[int, dict]:
        page, next_offset = self.page(req, items)
        doc: dict = {"@odata.context": f"{BASE}/$metadata#{context}"}
        if req.query.get("$count", "").lower() == "true":
            doc["@odata.count"] = len(items)
        if next_offset is not None:
            q = {k: v for k, v in req.query.items() if k != "$skiptoken"}
            q["$skiptoken"] = f"X{next_offset}"
            from urllib.parse import urlencode
            doc["@odata.nextLink"] = f"{BASE}/{req.http.path.split('/', 2)[-1]}?{urlencode(q, safe='$')}"
        doc["value"] = [self.select(req, render(i)) for i in page]
        return 200, doc

    @staticmethod
    def select(req: Request, doc: dict) -> dict:
        sel = req.query.get("$select")
        if not sel:
            return doc
        keep = {s.strip().lower() for s in sel.split(",") if s.strip()}
        return {k: v for k, v in doc.items() if k.lower() in keep or k in ("id", "@odata.type")}

    def entity(self, req: Request, context: str, doc: dict, status: int = 200) -> tuple[int, dict]:
        return status, {"@odata.context": f"{BASE}/$metadata#{context}", **self.select(req, doc)}

    def strings(self, req: Request, values: list[str]) -> tuple[int, dict]:
        return 200, {"@odata.context": f"{BASE}/$metadata#Collection(Edm.String)", "value": values}
