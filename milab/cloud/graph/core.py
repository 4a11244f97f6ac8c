"""What Microsoft Graph and Azure AD Graph share: the directory behind them, token checks,
application-permission authorization, request routing, bodies and the operations themselves.

Each API (``msgraph.py``, ``aadgraph.py``) is a :class:`DirectoryApi` that supplies its host,
accepted audiences, route table, URL prefix, the shapes of its objects and its error body; the
operations (list and get service principals, groups, members, app role assignments,
getMemberGroups ...) run once, here, on ``emu.directory``.

Authorization is Graph's: an app-only token is allowed an operation when its ``roles`` claim
holds one of the operation's permission sets (a ``X.ReadWrite.All`` permission includes
``X.Read.All``); the token's roles are what was granted *when it was issued*, so a grant made
after a cached token was handed out does not count until the client gets a new token. The
operator and the tenant's admin user are Global Administrators (checked in the directory at
request time), which lets them do everything, as a tenant admin can. Anything else is 403
``Authorization_RequestDenied`` in the API's own body. ``Config.permissive_graph`` skips the
permission check (only so the project's tests can show the denials fail without it).
"""
from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable

from aiohttp import web

from ..bodies import BodyError, parse_json, read_limited
from ..directory import DirectoryError, DirObject
from ..tokens import TokenError, bearer
from .odata import FilterError, Properties, compile_filter

if TYPE_CHECKING:  # pragma: no cover
    from ..server import Emulator

log = logging.getLogger("milab.graph")

MAX_BODY = 1024 * 1024
MAX_TOP = 999
DEFAULT_PAGE = 100

Permissions = tuple[tuple[str, ...], ...]  # alternatives, each a set of permissions all needed


class ApiError(Exception):
    """An answer in the API's error shape."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


@dataclass
class Caller:
    claims: dict
    roles: set[str] = field(default_factory=set)
    admin: bool = False

    @property
    def oid(self) -> str:
        return str(self.claims.get("oid") or "")


@dataclass
class Request:
    """One routed call: the caller, the path parameters, the query and the JSON body."""
    caller: Caller
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    http: web.Request


def _implied(granted: Iterable[str]) -> set[str]:
    """Permissions the granted ones include: ``X.ReadWrite.All`` includes ``X.Read.All``."""
    out = set(granted)
    for p in list(out):
        if ".ReadWrite." in p:
            out.add(p.replace(".ReadWrite.", ".Read."))
    return out


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _guid(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except (ValueError, TypeError, AttributeError):
        return None


def sp_properties(resource: str) -> Properties:
    """What a service principal filters on (the Graph reference's servicePrincipal properties)."""
    p = lambda o: o.principal  # noqa: E731
    return Properties(resource, {
        "id": lambda o: o.id, "objectId": lambda o: o.id, "appId": lambda o: o.app_id,
        "displayName": lambda o: o.display_name, "accountEnabled": lambda o: True,
        "servicePrincipalType": lambda o: service_principal_type(p(o)),
        "appOwnerOrganizationId": lambda o: None, "appOwnerTenantId": lambda o: None,
    }, {"servicePrincipalNames": lambda o: service_principal_names(p(o)), "tags": lambda o: [],
        "alternativeNames": lambda o: alternative_names(p(o))})


def group_properties(resource: str) -> Properties:
    d = lambda o: o.doc or {}  # noqa: E731
    return Properties(resource, {
        "id": lambda o: o.id, "objectId": lambda o: o.id, "displayName": lambda o: o.display_name,
        "mailNickname": lambda o: d(o).get("mailNickname"), "mail": lambda o: None,
        "securityEnabled": lambda o: d(o).get("securityEnabled"), "mailEnabled": lambda o: d(o).get("mailEnabled"),
    }, {"groupTypes": lambda o: d(o).get("groupTypes") or []})


def user_properties(resource: str) -> Properties:
    d = lambda o: o.doc or {}  # noqa: E731
    return Properties(resource, {
        "id": lambda o: o.id, "objectId": lambda o: o.id, "displayName": lambda o: o.display_name,
        "userPrincipalName": lambda o: d(o).get("userPrincipalName"), "mail": lambda o: d(o).get("mail"),
        "mailNickname": lambda o: d(o).get("mailNickname"), "accountEnabled": lambda o: d(o).get("accountEnabled"),
        "userType": lambda o: d(o).get("userType"),
    }, {})


def service_principal_type(p) -> str:
    return "ManagedIdentity" if p is not None and p.kind in ("system-assigned", "user-assigned") else "Application"


def service_principal_names(p) -> list[str]:
    """The names a service principal is known by: its app id, and a first-party app's App ID URIs."""
    from ..directory import apps
    if p is None:
        return []
    app = apps.by_app_id(p.app_id) if p.kind == "first-party" else None
    names = [p.app_id]
    if app is not None:
        names += [u.rstrip("/") for u in app.identifier_uris]
    elif p.mi_resource_id:
        # a managed identity's second name (https://identity.azure.net/<opaque>) in recorded SPs
        names.append(f"https://identity.azure.net/{uuid.uuid5(uuid.NAMESPACE_URL, p.mi_resource_id).hex}=")
    return names


def alternative_names(p) -> list[str]:
    """Managed identities: ``isExplicit=False`` (system-assigned) or ``True`` (user-assigned), then
    the resource id (as Graph lists them for managed identity service principals)."""
    if p is None or not p.mi_resource_id:
        return []
    return [f"isExplicit={'True' if p.kind == 'user-assigned' else 'False'}", p.mi_resource_id]


class DirectoryApi:
    """A directory API served at one host; subclasses give the shapes."""

    host: str = ""
    audiences: tuple[str, ...] = ()
    routes: list[tuple[str, re.Pattern, str]] = []

    def __init__(self, emu: "Emulator"):
        self.emu = emu
        emu.data_planes[self.host] = self

    @property
    def directory(self):
        return self.emu.directory

    @property
    def permissive(self) -> bool:
        return bool(getattr(self.emu.config, "permissive_graph", False))

    async def close(self) -> None:
        pass

    # -- what each API defines ---------------------------------------------------------------------
    def error(self, e: ApiError, request: web.Request) -> web.Response:  # pragma: no cover - interface
        raise NotImplementedError

    def token_error(self, e: TokenError) -> ApiError:  # pragma: no cover - interface
        raise NotImplementedError

    def split(self, request: web.Request) -> str:
        """The path below the API's prefix (version or tenant), or ApiError."""
        raise NotImplementedError  # pragma: no cover - interface

    def respond(self, status: int, payload: Any, request: web.Request, headers: dict | None = None) -> web.Response:
        raise NotImplementedError  # pragma: no cover - interface

    # -- the request ---------------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            caller = self.authenticate(request)
            path = self.split(request)
            handler, params = self.route(request.method.upper(), path)
            body = await self.read_body(request) if request.method.upper() in ("POST", "PATCH", "PUT") else None
            status, payload, *rest = getattr(self, handler)(Request(caller, params, dict(request.query), body,
                                                                     request))
            return self.respond(status, payload, request, rest[0] if rest else None)
        except ApiError as e:
            return self.error(e, request)

    def authenticate(self, request: web.Request) -> Caller:
        token = bearer(request.headers.get("Authorization"))
        try:
            claims = self.emu.tokens.validate(token, self.audiences)
        except TokenError as e:
            raise self.token_error(e) from None
        roles = claims.get("roles")
        return Caller(claims, set(r for r in roles if isinstance(r, str)) if isinstance(roles, list) else set(),
                      admin=self.directory.is_directory_admin(str(claims.get("oid") or "")))

    def route(self, method: str, path: str) -> tuple[str, dict[str, str]]:
        matched_path = False
        for m, pattern, handler in self.routes:
            found = pattern.fullmatch(path)
            if found is None:
                continue
            matched_path = True
            if m == method:
                return handler, {k: v for k, v in found.groupdict().items() if v is not None}
        if matched_path:
            raise self.method_not_allowed(method)
        raise self.no_segment(path)

    def method_not_allowed(self, method: str) -> ApiError:
        return ApiError(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request uri.")

    def no_segment(self, path: str) -> ApiError:
        segment = next((s for s in path.split("/") if s), path)
        return ApiError(400, "BadRequest", f"Resource not found for the segment '{segment}'.")

    async def read_body(self, request: web.Request) -> Any:
        try:
            return parse_json(await read_limited(request, MAX_BODY))
        except BodyError as e:
            if e.reason == "too_large":
                raise ApiError(413, "Request_EntityTooLarge", "The request is too large.") from None
            raise ApiError(400, "Request_BadRequest", "Invalid JSON in the request body: "
                                                      f"{e.message[:200]}") from None

    def authorize(self, req: Request, permissions: Permissions) -> None:
        if self.permissive or req.caller.admin:
            return
        granted = _implied(req.caller.roles)
        if any(set(alt) <= granted for alt in permissions):
            return
        log.info("denied: %s holds %s, needs one of %s", req.caller.oid, sorted(req.caller.roles), permissions)
        raise ApiError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")

    # -- helpers the operations share -------------------------------------------------------------------
    def not_found(self, object_id: str) -> ApiError:
        return ApiError(404, "Request_ResourceNotFound", f"Resource '{object_id}' does not exist or one of its "
                                                         f"queried reference-property objects are not present.")

    def invalid_id(self, object_id: str) -> ApiError:
        return ApiError(400, "Request_BadRequest", f"Invalid object identifier '{object_id}'.")

    def obj(self, object_id: str, types: tuple[str, ...] | None = None) -> DirObject:
        if _guid(object_id) is None:
            raise self.invalid_id(object_id)
        o = self.directory.object(object_id)
        if o is None or (types and o.type not in types):
            raise self.not_found(object_id)
        return o

    def directory_error(self, e: DirectoryError) -> ApiError:
        if e.kind == "not_found":
            return ApiError(404, "Request_ResourceNotFound", e.message)
        return ApiError(400, "Request_BadRequest", e.message)

    def filtered(self, req: Request, objects: list[DirObject], props: Properties) -> list[DirObject]:
        flt = req.query.get("$filter")
        if flt is None:
            return objects
        try:
            pred = compile_filter(flt, props)
        except FilterError as e:
            raise self.filter_error(e) from None
        return [o for o in objects if pred(o)]

    def filter_error(self, e: FilterError) -> ApiError:
        if e.kind == "unsupported":
            return ApiError(400, "Request_UnsupportedQuery", e.message)
        return ApiError(400, "BadRequest", e.message)

    def page(self, req: Request, items: list) -> tuple[list, int | None]:
        """``$top`` and ``$skiptoken``: the page to return and the offset of the next one."""
        top = req.query.get("$top")
        size = DEFAULT_PAGE
        if top is not None:
            if not top.isdigit() or not 1 <= int(top) <= MAX_TOP:
                raise ApiError(400, "Request_BadRequest", f"Invalid page size specified: '{top}'. Must be between "
                                                          f"1 and {MAX_TOP} inclusive.")
            size = int(top)
        start = 0
        token = req.query.get("$skiptoken")
        if token is not None:
            if not token.startswith("X") or not token[1:].isdigit():
                raise ApiError(400, "Request_BadRequest", "Unable to read the $skiptoken; it is not one the "
                                                          "service issued.")
            start = int(token[1:])
        end = start + size
        return items[start:end], (end if end < len(items) else None)

    def body_object(self, req: Request) -> dict:
        if not isinstance(req.body, dict):
            raise ApiError(400, "Request_BadRequest", "The request body must be a JSON object.")
        return req.body

    @staticmethod
    def boolean(value: Any, name: str, default: bool | None = None) -> bool:
        """A boolean parameter; the strings "true"/"false" are read as booleans too (the Windows
        Graph page sends ``{"securityEnabledOnly":"false"}`` and shows it succeed)."""
        if value is None and default is not None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ApiError(400, "Request_BadRequest", f"Invalid value specified for parameter '{name}': expected a "
                                                  f"boolean.")

    # -- the operations ---------------------------------------------------------------------------------
    def all_service_principals(self) -> list[DirObject]:
        return self.directory.objects(("servicePrincipal",))

    def member_groups(self, req: Request, target: DirObject) -> list[str]:
        body = self.body_object(req)
        security_only = self.boolean(body.get("securityEnabledOnly"), "securityEnabledOnly")
        return self.directory.member_groups(target.id, security_only)

    def member_objects(self, req: Request, target: DirObject) -> list[str]:
        body = self.body_object(req)
        security_only = self.boolean(body.get("securityEnabledOnly"), "securityEnabledOnly")
        roles = [] if security_only else [r for r, members in self.emu.state.directory_roles.items()
                                          if target.id in members]
        return self.directory.member_groups(target.id, security_only) + roles

    def check_member_groups(self, req: Request, target: DirObject, key: str) -> list[str]:
        body = self.body_object(req)
        ids = body.get(key)
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids) or len(ids) > 20:
            raise ApiError(400, "Request_BadRequest", f"Invalid value specified for parameter '{key}': a list of "
                                                      f"at most 20 group ids is required.")
        mine = self.directory.groups_of(target.id)
        return [i for i in ids if i.lower() in mine]

    def by_ids(self, ids: Any, types: Any, type_names: dict[str, str]) -> list[DirObject]:
        """getByIds / getObjectsByObjectIds: the objects among ``ids`` (at most 1000) of the types."""
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids) or not 0 < len(ids) <= 1000:
            raise ApiError(400, "Request_BadRequest", "Invalid value specified for parameter 'ids': between 1 and "
                                                      "1000 object ids are required.")
        want = None
        if types is not None:
            if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
                raise ApiError(400, "Request_BadRequest", "Invalid value specified for parameter 'types'.")
            want = {type_names.get(t.lower(), t.lower()) for t in types}
        out = []
        for i in ids:
            o = self.directory.object(i) if _guid(i) else None
            if o is not None and (want is None or o.type in want):
                out.append(o)
        return out

    def make_group(self, req: Request) -> dict:
        body = self.body_object(req)
        for k in ("displayName", "mailNickname"):
            if not isinstance(body.get(k), str):
                raise ApiError(400, "Request_BadRequest", f"Invalid value specified for property '{k}' of resource "
                                                          f"'Group'.")
        try:
            return self.directory.create_group(
                body["displayName"], body["mailNickname"],
                security_enabled=self.boolean(body.get("securityEnabled"), "securityEnabled", True),
                mail_enabled=self.boolean(body.get("mailEnabled"), "mailEnabled", False),
                description=body.get("description") if isinstance(body.get("description"), str) else None,
                group_types=[t for t in body.get("groupTypes") or [] if isinstance(t, str)])
        except DirectoryError as e:
            raise self.directory_error(e) from None

    def add_ref(self, group: DirObject, member_ref: Any) -> None:
        """``member_ref``: the URL of a directory object (``.../directoryObjects/{id}``)."""
        if not isinstance(member_ref, str) or not member_ref:
            raise ApiError(400, "Request_BadRequest", "A reference to the member object is required.")
        member_id = member_ref.rstrip("/").rsplit("/", 1)[-1]
        if "(" in member_id:  # directoryObjects('{id}')
            member_id = member_id.split("(", 1)[1].strip("')\"")
        if _guid(member_id) is None:
            raise self.invalid_id(member_id)
        try:
            self.directory.add_member(group.id, member_id)
        except DirectoryError as e:
            raise self.directory_error(e) from None

    def remove_ref(self, group: DirObject, member_id: str) -> None:
        if _guid(member_id) is None:
            raise self.invalid_id(member_id)
        try:
            self.directory.remove_member(group.id, member_id)
        except DirectoryError as e:
            raise self.directory_error(e) from None

    def drop_group(self, group: DirObject) -> None:
        try:
            self.directory.delete_group(group.id)
        except DirectoryError as e:
            raise self.directory_error(e) from None

    def assign(self, path_object: DirObject, principal_id: Any, resource_id: Any, role_id: Any,
               side: str) -> dict:
        """Create an app role assignment. ``side`` says which end the URL named: ``principal``
        (``.../{principal}/appRoleAssignments``) or ``resource`` (``.../{resource}/appRoleAssignedTo``);
        the body's id for that end must be the URL's object."""
        for name, value in (("principalId", principal_id), ("resourceId", resource_id), ("appRoleId", role_id)):
            if not isinstance(value, str) or _guid(value) is None:
                raise ApiError(400, "Request_BadRequest", f"Invalid value specified for property '{name}' of "
                                                          f"resource 'AppRoleAssignment'.")
        own = principal_id if side == "principal" else resource_id
        if own.lower() != path_object.id:
            raise ApiError(400, "Request_BadRequest", f"The {'principalId' if side == 'principal' else 'resourceId'}"
                                                      f" of the assignment must be the object of the request URL.")
        try:
            return self.directory.assign_app_role(principal_id, resource_id, role_id)
        except DirectoryError as e:
            raise self.directory_error(e) from None

    def unassign(self, path_object: DirObject, assignment_id: str) -> None:
        a = self.emu.state.app_role_assignments.get(assignment_id)
        if a is None or path_object.id not in (a["principalId"], a["resourceId"]):
            raise self.not_found(assignment_id)
        self.directory.remove_app_role_assignment(assignment_id)

    def assignment_names(self, a: dict) -> tuple[str, str]:
        """(principalDisplayName, resourceDisplayName) of an assignment."""
        p = self.directory.object(a["principalId"])
        r = self.directory.object(a["resourceId"])
        return (p.display_name if p else None), (r.display_name if r else None)


    # -- the handlers, one set for both APIs (each names its permissions, body keys and shapes) --------
    PERMS: dict[str, Permissions] = {}
    KEYS = {"role_id": "appRoleId", "member_ref": "@odata.id", "by_ids": "ids"}

    def member_of_permissions(self, kind: str) -> Permissions:  # pragma: no cover - interface
        raise NotImplementedError

    def fragment(self, collection: str, entity: bool = False, owner: str = "") -> str:  # pragma: no cover
        raise NotImplementedError

    def render(self, o: DirObject, typed: bool = False) -> dict:  # pragma: no cover - interface
        raise NotImplementedError

    def render_assignment(self, a: dict) -> dict:  # pragma: no cover - interface
        raise NotImplementedError

    def collection(self, req: Request, fragment: str, items: list, render) -> tuple[int, dict]:
        raise NotImplementedError  # pragma: no cover - interface

    def entity(self, req: Request, fragment: str, doc: dict, status: int = 200) -> tuple[int, dict]:
        raise NotImplementedError  # pragma: no cover - interface

    def strings(self, req: Request, values: list[str]) -> tuple[int, dict]:
        raise NotImplementedError  # pragma: no cover - interface

    def _list(self, req: Request, perm: str, kind: str, props: Properties, collection: str):
        self.authorize(req, self.PERMS[perm])
        items = self.filtered(req, self.directory.objects((kind,)), props)
        return self.collection(req, self.fragment(collection), items, self.render)

    def _get(self, req: Request, o: DirObject, collection: str, typed: bool = False, status: int = 200):
        return self.entity(req, self.fragment(collection, entity=True), self.render(o, typed), status)

    def list_sps(self, req: Request):
        return self._list(req, "read_sps", "servicePrincipal", sp_properties("ServicePrincipal"), "servicePrincipals")

    def get_sp(self, req: Request):
        self.authorize(req, self.PERMS["read_sps"])
        return self._get(req, self.obj(req.params["id"], ("servicePrincipal",)), "servicePrincipals")

    def get_sp_by_app_id(self, req: Request):
        self.authorize(req, self.PERMS["read_sps"])
        p = self.directory.by_app_id(req.params["appId"])
        if p is None:
            raise self.not_found(req.params["appId"])
        return self._get(req, self.directory.object(p.object_id), "servicePrincipals")

    def _assignments(self, req: Request, collection: str, side: str):
        self.authorize(req, self.PERMS["read_assignments"])
        sp = self.obj(req.params["id"], ("servicePrincipal",))
        return self.collection(req, self.fragment(collection, owner=sp.id),
                               self.directory.assignments(**{side: sp.id}), self.render_assignment)

    def list_assignments(self, req: Request):
        return self._assignments(req, "appRoleAssignments", "principal_id")

    def list_assigned_to(self, req: Request):
        return self._assignments(req, "appRoleAssignedTo", "resource_id")

    def _create(self, req: Request, side: str, collection: str):
        self.authorize(req, self.PERMS["write_assignments"])
        sp = self.obj(req.params["id"], ("servicePrincipal",))
        body = self.body_object(req)
        a = self.assign(sp, body.get("principalId"), body.get("resourceId"), body.get(self.KEYS["role_id"]), side)
        return self.entity(req, self.fragment(collection, entity=True, owner=sp.id), self.render_assignment(a), 201)

    def create_assignment(self, req: Request):
        return self._create(req, "principal", "appRoleAssignments")

    def create_assigned_to(self, req: Request):
        return self._create(req, "resource", "appRoleAssignedTo")

    def delete_assignment(self, req: Request):
        self.authorize(req, self.PERMS["write_assignments"])
        self.unassign(self.obj(req.params["id"], ("servicePrincipal",)), req.params["aid"])
        return 204, None

    def _target(self, req: Request) -> DirObject:
        """The object a membership function is asked about, by the collection the URL names."""
        collection = req.http.path.split("/")[2].lower()
        kind = {"serviceprincipals": "servicePrincipal", "users": "user", "groups": "group"}.get(collection,
                                                                                                "directoryObject")
        self.authorize(req, self.member_of_permissions(kind))
        return self.obj(req.params["id"], None if kind == "directoryObject" else (kind,))

    def getMemberGroups(self, req: Request):  # noqa: N802 - the function's name in both APIs
        return self.strings(req, self.member_groups(req, self._target(req)))

    def getMemberObjects(self, req: Request):  # noqa: N802
        return self.strings(req, self.member_objects(req, self._target(req)))

    def checkMemberGroups(self, req: Request):  # noqa: N802
        return self.strings(req, self.check_member_groups(req, self._target(req), "groupIds"))

    def get_by_ids(self, req: Request):
        self.authorize(req, self.PERMS["read_directory"])
        body = self.body_object(req)
        found = self.by_ids(body.get(self.KEYS["by_ids"]), body.get("types"),
                            {"serviceprincipal": "servicePrincipal", "user": "user", "group": "group"})
        return self.collection(req, self.fragment("directoryObjects"), found, lambda o: self.render(o, True))

    def get_directory_object(self, req: Request):
        self.authorize(req, self.PERMS["read_directory"])
        return self._get(req, self.obj(req.params["id"]), "directoryObjects", typed=True)

    def list_groups(self, req: Request):
        return self._list(req, "read_groups", "group", group_properties("Group"), "groups")

    def create_group(self, req: Request):
        self.authorize(req, self.PERMS["create_groups"])
        g = self.make_group(req)
        return self._get(req, self.directory.object(g["id"]), "groups", status=201)

    def get_group(self, req: Request):
        self.authorize(req, self.PERMS["read_groups"])
        return self._get(req, self.obj(req.params["id"], ("group",)), "groups")

    def delete_group(self, req: Request):
        self.authorize(req, self.PERMS["delete_groups"])
        self.drop_group(self.obj(req.params["id"], ("group",)))
        return 204, None

    def list_members(self, req: Request):
        self.authorize(req, self.PERMS["read_groups"])
        g = self.obj(req.params["id"], ("group",))
        return self.collection(req, self.fragment("directoryObjects"), self.directory.members(g.id),
                               lambda o: self.render(o, True))

    def add_member(self, req: Request):
        self.authorize(req, self.PERMS["write_members"])
        self.add_ref(self.obj(req.params["id"], ("group",)), self.body_object(req).get(self.KEYS["member_ref"]))
        return 204, None

    def remove_member(self, req: Request):
        self.authorize(req, self.PERMS["write_members"])
        self.remove_ref(self.obj(req.params["id"], ("group",)), req.params["member"])
        return 204, None

    def list_users(self, req: Request):
        return self._list(req, "read_users", "user", user_properties("User"), "users")

    def get_user(self, req: Request):
        """A user by object id or user principal name."""
        self.authorize(req, self.PERMS["read_users"])
        key = req.params["id"]
        o = self.directory.object(key) or next(
            (u for u in self.directory.objects(("user",))
             if (u.doc or {}).get("userPrincipalName", "").lower() == key.lower()), None)
        if o is None or o.type != "user":
            raise self.not_found(key)
        return self._get(req, o, "users")


def compile_routes(spec: Iterable[tuple[str, str, str]]) -> list[tuple[str, re.Pattern, str]]:
    """Route patterns: ``{name}`` is one path segment; matching ignores case, as Graph's does."""
    out = []
    for method, template, handler in spec:
        parts = re.split(r"\{(\w+)\}", template)  # literal, name, literal, name, ...
        regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^/()']+)" for i, p in enumerate(parts))
        out.append((method, re.compile(regex, re.I), handler))
    return out


Handler = Callable[[Request], tuple]
