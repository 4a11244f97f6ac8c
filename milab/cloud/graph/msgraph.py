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
from .core import (ApiError, DirectoryApi, Request, alternative_names, compile_routes, group_properties, now,
                   service_principal_names, service_principal_type, sp_properties, user_properties)

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
_COLLECTIONS = {"servicePrincipals": "servicePrincipal", "users": "user", "groups": "group",
                "directoryObjects": "directoryObject"}

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

    # -- service principals -----------------------------------------------------------------------------
    def list_sps(self, req: Request):
        self.authorize(req, READ_APPS)
        items = self.filtered(req, self.all_service_principals(), sp_properties("ServicePrincipal"))
        return self.collection(req, "servicePrincipals", items, self.render_sp)

    def get_sp(self, req: Request):
        self.authorize(req, READ_APPS)
        return self.entity(req, "servicePrincipals/$entity", self.render_sp(self.obj(req.params["id"],
                                                                                       ("servicePrincipal",))))

    def get_sp_by_app_id(self, req: Request):
        self.authorize(req, READ_APPS)
        p = self.directory.by_app_id(req.params["appId"])
        if p is None:
            raise self.not_found(f"appId '{req.params['appId']}'")
        return self.entity(req, "servicePrincipals/$entity", self.render_sp(self.directory.object(p.object_id)))

    # -- app role assignments ----------------------------------------------------------------------------
    def list_assignments(self, req: Request):
        self.authorize(req, READ_ASSIGNMENTS)
        sp = self.obj(req.params["id"], ("servicePrincipal",))
        return self.collection(req, f"servicePrincipals('{sp.id}')/appRoleAssignments",
                               self.directory.assignments(principal_id=sp.id), self.render_assignment)

    def list_assigned_to(self, req: Request):
        self.authorize(req, READ_ASSIGNMENTS)
        sp = self.obj(req.params["id"], ("servicePrincipal",))
        return self.collection(req, f"servicePrincipals('{sp.id}')/appRoleAssignedTo",
                               self.directory.assignments(resource_id=sp.id), self.render_assignment)

    def _create(self, req: Request, side: str, nav: str):
        self.authorize(req, WRITE_ASSIGNMENTS)
        sp = self.obj(req.params["id"], ("servicePrincipal",))
        body = self.body_object(req)
        a = self.assign(sp, body.get("principalId"), body.get("resourceId"), body.get("appRoleId"), side)
        return self.entity(req, f"servicePrincipals('{sp.id}')/{nav}/$entity", self.render_assignment(a), 201)

    def create_assignment(self, req: Request):
        return self._create(req, "principal", "appRoleAssignments")

    def create_assigned_to(self, req: Request):
        return self._create(req, "resource", "appRoleAssignedTo")

    def delete_assignment(self, req: Request):
        self.authorize(req, WRITE_ASSIGNMENTS)
        self.unassign(self.obj(req.params["id"], ("servicePrincipal",)), req.params["aid"])
        return 204, None

    # -- membership functions -------------------------------------------------------------------------------
    def _target(self, req: Request) -> DirObject:
        collection = req.http.path.split("/")[2]
        kind = _COLLECTIONS[next(c for c in _COLLECTIONS if c.lower() == collection.lower())]
        self.authorize(req, MEMBER_OF[kind])
        return self.obj(req.params["id"], None if kind == "directoryObject" else (kind,))

    def getMemberGroups(self, req: Request):  # noqa: N802 - the Graph function's name
        target = self._target(req)
        return 200, {"@odata.context": f"{BASE}/$metadata#Collection(Edm.String)",
                     "value": self.member_groups(req, target)}

    def getMemberObjects(self, req: Request):  # noqa: N802
        target = self._target(req)
        return 200, {"@odata.context": f"{BASE}/$metadata#Collection(Edm.String)",
                     "value": self.member_objects(req, target)}

    def checkMemberGroups(self, req: Request):  # noqa: N802
        target = self._target(req)
        return 200, {"@odata.context": f"{BASE}/$metadata#Collection(Edm.String)",
                     "value": self.check_member_groups(req, target, "groupIds")}

    # -- directory objects ----------------------------------------------------------------------------------
    def get_by_ids(self, req: Request):
        self.authorize(req, READ_DIRECTORY)
        body = self.body_object(req)
        found = self.by_ids(body.get("ids"), body.get("types"),
                            {"serviceprincipal": "servicePrincipal", "user": "user", "group": "group"})
        return 200, {"@odata.context": f"{BASE}/$metadata#directoryObjects",
                     "value": [self.render(o, typed=True) for o in found]}

    def get_directory_object(self, req: Request):
        self.authorize(req, READ_DIRECTORY)
        o = self.obj(req.params["id"])
        return self.entity(req, "directoryObjects/$entity", self.render(o, typed=True))

    # -- groups -------------------------------------------------------------------------------------------
    def list_groups(self, req: Request):
        self.authorize(req, READ_GROUPS)
        items = self.filtered(req, self.directory.objects(("group",)), group_properties("Group"))
        return self.collection(req, "groups", items, lambda o: self.render_group(o.doc))

    def create_group(self, req: Request):
        self.authorize(req, CREATE_GROUPS)
        return self.entity(req, "groups/$entity", self.render_group(self.make_group(req)), 201)

    def get_group(self, req: Request):
        self.authorize(req, READ_GROUPS)
        return self.entity(req, "groups/$entity", self.render_group(self.obj(req.params["id"], ("group",)).doc))

    def delete_group(self, req: Request):
        self.authorize(req, DELETE_GROUPS)
        self.drop_group(self.obj(req.params["id"], ("group",)))
        return 204, None

    def list_members(self, req: Request):
        self.authorize(req, READ_GROUPS)
        g = self.obj(req.params["id"], ("group",))
        return self.collection(req, "directoryObjects", self.directory.members(g.id),
                               lambda o: self.render(o, typed=True))

    def add_member(self, req: Request):
        self.authorize(req, WRITE_MEMBERS)
        g = self.obj(req.params["id"], ("group",))
        self.add_ref(g, self.body_object(req).get("@odata.id"))
        return 204, None

    def remove_member(self, req: Request):
        self.authorize(req, WRITE_MEMBERS)
        self.remove_ref(self.obj(req.params["id"], ("group",)), req.params["member"])
        return 204, None

    # -- users ----------------------------------------------------------------------------------------------
    def list_users(self, req: Request):
        self.authorize(req, READ_USERS)
        items = self.filtered(req, self.directory.objects(("user",)), user_properties("User"))
        return self.collection(req, "users", items, lambda o: self.render_user(o.doc))

    def get_user(self, req: Request):
        self.authorize(req, READ_USERS)
        key = req.params["id"]
        o = self.directory.object(key)
        if o is None:
            o = next((u for u in self.directory.objects(("user",))
                      if (u.doc or {}).get("userPrincipalName", "").lower() == key.lower()), None)
        if o is None or o.type != "user":
            raise self.not_found(key)
        return self.entity(req, "users/$entity", self.render_user(o.doc))
