"""The ARM front door: authentication, api-version, routing, RBAC and ARM's response shapes.

Every request is authenticated with the shared token validator, then authorized with
the action ARM would check (``<type>/read|write|delete`` or ``<type>/<name>/action``)
at the addressed scope, *before* existence is looked at, as ARM does.
"""
from __future__ import annotations

import base64
import json
import logging
import uuid
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..authorization import required_action
from ..bodies import ARM_MAX_BODY, BodyError, parse_json, read_limited
from ..tokens import TokenError, bearer
from . import authorization as authz
from . import identity, providers
from .base import Call, ResourceType, check_envelope, invalid_content
from .catalog import PROVIDER_ACTIONS, TYPES, resource_type
from .deployments import Deployments, is_deployments_path, parse_jsonc
from .errors import ArmError
from .filters import Filter, resource_groups_filter, resources_filter
from .ids import parse, valid_api_version_syntax
from .resources import RESOURCES_API_VERSIONS, ResourceGroup

if TYPE_CHECKING:  # pragma: no cover
    from ..server import Emulator

log = logging.getLogger("milab.arm")

ARM_AUDIENCES = ("https://management.azure.com/", "https://management.azure.com",
                 "https://management.core.windows.net/", "https://management.core.windows.net")

_TOKEN_ERRORS = {
    "missing": ("AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing."),
    "malformed": ("InvalidAuthenticationToken", "The access token is invalid."),
    "signature": ("InvalidAuthenticationToken", "The access token is invalid."),
    "issuer": ("InvalidAuthenticationTokenTenant", None),
    "tenant": ("InvalidAuthenticationTokenTenant", None),
    "audience": ("InvalidAuthenticationTokenAudience", None),
    "expired": ("ExpiredAuthenticationToken", None),
    "not_yet_valid": ("InvalidAuthenticationToken", None),
}


# The methods ARM routes; anything else (OPTIONS, TRACE, PROPFIND, ...) is refused at the door.
ARM_METHODS = ("GET", "HEAD", "PUT", "PATCH", "DELETE", "POST")


def method_not_allowed(method: str, where: str, allow: str = "GET, HEAD, PUT, PATCH, DELETE") -> ArmError:
    """405 in ARM's envelope, as ARM relays it from a provider: {"error": {"code": "MethodNotAllowed",
    "message": "The HTTP method 'POST' is not supported on the resource '<url>'."}}
    (recorded in Azure/azure-powershell#9709)."""
    return ArmError(405, "MethodNotAllowed", f"The HTTP method '{method}' is not supported on the resource "
                                             f"'{where}'.", {"Allow": allow})


def _json(status: int, body: Any, headers: dict | None = None) -> web.Response:
    h = {"x-ms-request-id": str(uuid.uuid4()), "x-ms-correlation-request-id": str(uuid.uuid4())}
    h.update(headers or {})
    if body is None:
        return web.Response(status=status, headers=h)
    return web.Response(status=status, text=json.dumps(body), content_type="application/json", headers=h)


def error_response(e: ArmError) -> web.Response:
    return _json(e.status, e.body(), e.headers)


class ArmService:
    def __init__(self, emu: "Emulator"):
        self.emu = emu
        self.deployments = Deployments(self)  # Microsoft.Resources/deployments (deployments.py)

    # -- authentication ---------------------------------------------------------------------
    def authenticate(self, request: web.Request) -> dict:
        header = request.headers.get("Authorization")
        token = bearer(header)
        tid = self.emu.state.tenant_id
        challenge = {"WWW-Authenticate": f'Bearer authorization_uri="https://login.windows.net/{tid}", '
                                         f'error="invalid_token", error_description="The authentication failed."'}
        if header and token is None:
            raise ArmError(401, "AuthenticationFailed",
                           "Authentication failed. The 'Authorization' header is provided in an invalid format.",
                           challenge)
        if token is not None and not token.isascii():  # a JWT is ASCII; other bytes are no token at all
            raise ArmError(401, "InvalidAuthenticationToken", "The access token is invalid.", challenge)
        try:
            return self.emu.tokens.validate(token, ARM_AUDIENCES)
        except TokenError as e:
            code, message = _TOKEN_ERRORS[e.reason]
            if e.reason in ("issuer", "tenant"):
                message = (f"The access token is from the wrong issuer '{e.claims.get('iss')}'. It must match the "
                           f"tenant 'https://sts.windows.net/{tid}/' associated with this subscription. Please use "
                           f"the authority (URL) 'https://login.windows.net/{tid}' to get the token.")
            raise ArmError(401, code, message or e.message, challenge) from None

    # -- entry point --------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.Response:
        if request.path.rstrip("/").lower() == "/metadata/endpoints":  # the cloud's endpoints: no token
            return _json(200, providers.metadata_endpoints(request.query.get("api-version")))
        try:
            # ARM authenticates before it looks at anything else, the body included: an
            # unauthenticated request is a 401 whatever it carries.
            claims = self.authenticate(request)
            api_version = request.query.get("api-version")
            ref = parse(request.path)
            if not api_version:
                raise ArmError(400, "MissingApiVersionParameter",
                               "The api-version query parameter (?api-version=) is required for all requests.")
            if not valid_api_version_syntax(api_version):
                raise ArmError(400, "InvalidApiVersionParameter",
                               f"The api-version '{api_version}' is invalid. The supported versions are "
                               f"'{','.join(RESOURCES_API_VERSIONS[-5:])}'.")
            method = request.method.upper()
            if method not in ARM_METHODS:
                raise method_not_allowed(method, str(request.url))
            body = await self.read_body(request, jsonc=is_deployments_path(ref)) \
                if method in ("PUT", "PATCH", "POST") else None
            call = Call(self.emu, method, ref, api_version, dict(request.query), body, claims)
            status, out = self.route(call)
            if method in ("PUT", "PATCH", "DELETE", "POST"):
                self.emu.state.save()
            return _json(status, out, call.headers)
        except ArmError as e:
            return error_response(e)

    @staticmethod
    async def read_body(request: web.Request, jsonc: bool = False) -> Any:
        """The one JSON body reader of ARM: bounded in size and depth, and never an exception
        other than ARM's own errors, whatever the bytes are. ``jsonc``: a deployment body may be
        JSON with comments and an unquoted ``template`` key, as `az deployment group create` sends it."""
        try:
            raw = await read_limited(request, ARM_MAX_BODY)
            try:
                return parse_json(raw)
            except BodyError as e:
                if not (jsonc and e.reason == "invalid_json"):
                    raise
                return parse_jsonc(raw)
        except BodyError as e:
            if e.reason == "too_large":
                # Azure: "Code=RequestContentTooLarge; Message=The request content size exceeds the
                # maximum size of 4 MB." (Azure/ALZ-Bicep#833, Azure/avdaccelerator#632)
                raise ArmError(413, "RequestContentTooLarge",
                               "The request content size exceeds the maximum size of 4 MB.") from None
            raise invalid_content(e.message) from None

    # -- routing ------------------------------------------------------------------------------
    def route(self, call: Call) -> tuple[int, Any]:
        ref = call.ref
        answered = providers.route(call)  # providers, locations, name checks, the image catalogue
        if answered is not None:
            return answered
        if ref.subscription is None:
            if ref.tail == "subscriptions" and call.method == "GET":
                return 200, self.list_subscriptions(call)
            if ref.namespace and ref.namespace.lower() == "microsoft.authorization":
                return self.authorization(call)
            raise ArmError(404, "NotFound", f"The resource path '{ref.path}' is not supported.")
        if ref.subscription.lower() != call.state.subscription_id.lower():
            raise ArmError(404, "SubscriptionNotFound", f"The subscription '{ref.subscription}' could not be found.")
        at_subscription = ref.scope.lower() == f"/subscriptions/{ref.subscription}".lower()
        if ref.namespace and not ref.types and at_subscription:
            return self.provider(call)  # /subscriptions/{s}/providers/{namespace}
        if ref.namespace and at_subscription and ref.tail == "" and len(ref.types) == 1 and \
                ref.types[0].lower() in ("register", "unregister"):
            return self.register_provider(call)
        if ref.namespace and ref.namespace.lower() == "microsoft.authorization":
            return self.authorization(call)
        if ref.namespace and len(ref.types) >= 2 and ref.types[0].lower() == "locations" and \
                ref.types[-1].lower().endswith(("operations", "operationresults", "operationstatuses",
                                                "asyncoperations", "azureasyncoperation")):
            return self.operation(call)
        if ref.namespace is None:
            if ref.resource_group is None:
                if ref.tail is None:
                    return self.subscription(call)
                if ref.operation is not None:
                    return self.operation_result(call)
                if ref.tail.lower() == "resourcegroups":
                    return self.list_type(call, "Microsoft.Resources/subscriptions/resourceGroups", ref.scope,
                                          self._filtered(call, self._resource_groups(call), resource_groups_filter))
                if ref.tail.lower() == "resources":
                    return self.list_type(call, None, ref.scope, self._filtered(
                        call, self._all_resources(call, ref.scope), resources_filter))
                if ref.tail.lower() == "providers":
                    if call.method != "GET":
                        raise method_not_allowed(call.method, self._url(call), "GET")
                    return 200, {"value": [self._provider_doc(call, ns) for ns in self._namespaces()]}
                raise ArmError(404, "NotFound", f"The resource path '{ref.path}' is not supported.")
            if ref.tail is None:
                return self.resource(call, TYPES["microsoft.resources/subscriptions/resourcegroups"], ref.scope)
            if ref.tail.lower() == "resources":
                if call.method != "GET":
                    raise method_not_allowed(call.method, self._url(call), "GET")
                self._require_group(call)
                return self.list_type(call, None, ref.scope, self._filtered(
                    call, self._all_resources(call, ref.scope), resources_filter))
            raise ArmError(404, "NotFound", f"The resource path '{ref.path}' is not supported.")
        if is_deployments_path(ref):
            return self.deployments.route(call)
        provider_action = PROVIDER_ACTIONS.get(ref.type.lower()) if not ref.names and call.method == "POST" else None
        if provider_action is not None:  # e.g. Microsoft.Web/checknameavailability
            call.authorize(f"{ref.type}/read", ref.scope)
            return provider_action(call)
        rt = resource_type(ref.type)
        if ref.tail is not None:
            self._check_api_version(call, rt)
            view = {k.lower(): v for k, v in getattr(rt, "views", {}).items()}.get(ref.tail.lower())
            if call.method == "GET" and view is not None:  # a GET-only view of one resource (instanceView)
                call.authorize(f"{rt.type}/read", ref.id)
                existing = call.state.get(ref.id)
                if existing is None:
                    raise self._not_found(call, ref.id)
                return 200, view(call, existing)
            if call.method == "GET":
                read_action = {k.lower(): v for k, v in getattr(rt, "read_actions", {}).items()}.get(ref.tail.lower())
                if read_action is not None:  # a GET operation on a resource (Cosmos's GET .../readonlykeys)
                    call.authorize(f"{rt.type}/{ref.tail}/read", ref.id)
                    existing = call.state.get(ref.id)
                    if existing is None:
                        raise self._not_found(call, ref.id)
                    return read_action(call, existing)
                child_type = f"{ref.type}/{ref.tail}" if ref.tail else ref.type
                return self._list_children(call, child_type)
            if call.method == "POST" and ref.tail:
                return self.action(call, rt, ref.tail)
            raise method_not_allowed(call.method, self._url(call), "GET, POST" if ref.tail else "GET")
        return self.resource(call, rt, ref.id)

    @staticmethod
    def _url(call: Call) -> str:
        return f"{call.base_url}{call.ref.path}?api-version={call.api_version}"

    # -- providers ----------------------------------------------------------------------------
    def _namespaces(self) -> list[str]:
        names = {rt.type.split("/", 1)[0] for rt in TYPES.values() if not rt.type.startswith("Microsoft.Resources/")}
        return sorted(names | {authz.RA_TYPE.split("/", 1)[0]})

    def _provider_doc(self, call: Call, namespace: str) -> dict:
        """A resource provider as ``GET /subscriptions/{s}/providers/{namespace}`` describes it
        (shape of the specs' GetProvider example): the types and api-versions the emulator accepts."""
        types = [(rt.type, rt.api_versions) for rt in TYPES.values()]
        types += [(authz.RA_TYPE, authz.ROLE_ASSIGNMENT_API_VERSIONS),
                  (authz.RD_TYPE, authz.ROLE_DEFINITION_API_VERSIONS)]
        canonical = next((t.split("/", 1)[0] for t, _ in types if t.split("/", 1)[0].lower() == namespace.lower()),
                         namespace)
        resource_types = [{"resourceType": t.split("/", 1)[1], "locations": [],
                           "apiVersions": sorted(versions or (), reverse=True)}
                          for t, versions in types if t.split("/", 1)[0].lower() == namespace.lower()]
        return {"id": f"/subscriptions/{call.state.subscription_id}/providers/{canonical}", "namespace": canonical,
                "registrationState": "Registered", "registrationPolicy": "RegistrationRequired",
                "resourceTypes": resource_types}

    def provider(self, call: Call) -> tuple[int, Any]:
        if call.method != "GET":
            raise method_not_allowed(call.method, self._url(call), "GET")
        if not self._sees_subscription(call):
            call.authorize("Microsoft.Resources/subscriptions/providers/read", call.ref.scope)
        return 200, self._provider_doc(call, call.ref.namespace)

    def register_provider(self, call: Call) -> tuple[int, Any]:
        """``POST /subscriptions/{s}/providers/{namespace}/register``: every namespace is registered."""
        if call.method != "POST":
            raise method_not_allowed(call.method, self._url(call), "POST")
        call.authorize(f"{call.ref.namespace}/{call.ref.types[0].lower()}/action", call.ref.scope)
        return 200, self._provider_doc(call, call.ref.namespace)

    def _filtered(self, call: Call, items: list[dict], make_filter) -> list[dict]:
        flt = call.query.get("$filter")
        if flt is None:
            return items
        f: Filter = make_filter(flt)
        out = [r for r in items if f.predicate(r)]
        if f.by_tag_value and make_filter is resources_filter:
            # "when resources are filtered by tag name and value, the original tags for each resource
            # will not be returned in the results" (Resources_List, $filter)
            out = [{k: v for k, v in r.items() if k != "tags"} for r in out]
        return out

    def _check_api_version(self, call: Call, rt: ResourceType) -> None:
        if rt.api_versions is None or call.api_version in rt.api_versions:
            return
        if rt.type.startswith("Microsoft.Resources/"):
            raise ArmError(400, "InvalidApiVersionParameter",
                           f"The api-version '{call.api_version}' is invalid. The supported versions are "
                           f"'{','.join(rt.api_versions)}'.")
        namespace, _, type_name = rt.type.partition("/")
        raise ArmError(400, "NoRegisteredProviderFound",
                       f"No registered resource provider found for location 'westus' and API version "
                       f"'{call.api_version}' for type '{type_name}'. The supported api-versions are "
                       f"'{', '.join(rt.api_versions)}'.")

    # -- subscriptions and groups -----------------------------------------------------------
    def _sees_subscription(self, call: Call) -> bool:
        """A caller sees the subscription when any of its role assignments lies in or above it."""
        if not self.emu.config.enforce_rbac:
            return True
        sub_scope = f"/subscriptions/{call.state.subscription_id}"
        ids = {i.lower() for i in self.emu.directory.principal_ids(call.caller_oid)}  # its groups' count too
        return any(authz.scope_contains(sub_scope, a.scope) or authz.scope_contains(a.scope, sub_scope)
                   for a in call.state.assignments() if a.principal_id.lower() in ids)

    def list_subscriptions(self, call: Call) -> dict:
        visible = self._sees_subscription(call)
        doc = TYPES["microsoft.resources/subscriptions"].document(call)
        return {"value": [doc] if visible else [], "count": {"type": "Total", "value": 1 if visible else 0}}

    def subscription(self, call: Call) -> tuple[int, Any]:
        if call.method != "GET":
            raise ArmError(405, "MethodNotAllowed", f"The HTTP method '{call.method}' is not supported here.")
        if not self._sees_subscription(call):
            call.authorize("Microsoft.Resources/subscriptions/read", call.ref.scope)
        return 200, TYPES["microsoft.resources/subscriptions"].document(call)

    def _resource_groups(self, call: Call) -> list[dict]:
        return [r for r in call.state.resources.values()
                if r["type"] == "Microsoft.Resources/subscriptions/resourceGroups"]

    def _all_resources(self, call: Call, scope: str) -> list[dict]:
        """The generic listing: top-level resources only (one type and name after the provider),
        as Resources_List returns them; child resources are listed by their parents."""
        def top_level(r: dict) -> bool:
            after = r["id"].lower().rsplit("/providers/", 1)
            return len(after) == 2 and len(after[1].split("/")) == 3
        return [r for r in call.state.children(scope)
                if r["type"] != "Microsoft.Resources/subscriptions/resourceGroups" and top_level(r)
                and not r["type"].startswith("Microsoft.Resources/deployments")]  # deployments are not resources

    def _require_group(self, call: Call) -> dict:
        ref = call.ref
        rg = call.state.get(f"/subscriptions/{ref.subscription}/resourceGroups/{ref.resource_group}")
        if rg is None:
            raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{ref.resource_group}' could not be found.")
        return rg

    def list_type(self, call: Call, type_name: str | None, scope: str, items: list[dict]) -> tuple[int, dict]:
        if call.method != "GET":
            raise ArmError(405, "MethodNotAllowed", f"The HTTP method '{call.method}' is not supported here.")
        # ARM lists what the caller may read; a caller who may read nothing there is refused
        out = [resource_type(r["type"]).render(call, r) for r in items
               if call.can(f"{type_name or r['type']}/read", r["id"])]
        if not out:
            call.authorize(f"{type_name or 'Microsoft.Resources/subscriptions/resourceGroups/resources'}/read",
                           scope)
        return 200, {"value": out}

    def _list_children(self, call: Call, child_type: str) -> tuple[int, dict]:
        ref = call.ref
        if ref.resource_group:
            self._require_group(call)
        parent = ref.id if ref.names else ref.scope
        if ref.names and call.state.get(parent) is None:
            raise self._not_found(call, parent)
        items = [r for r in call.state.children(parent) if r["type"].lower() == child_type.lower()]
        if ref.names:  # nested children: only the direct children of this resource
            items = [r for r in items if r["id"].rsplit("/", 2)[0].lower() == parent.lower()]
        return self.list_type(call, child_type, parent, items)

    # -- one resource --------------------------------------------------------------------------
    def _not_found(self, call: Call, rid: str) -> ArmError:
        ref = call.ref
        if ref.namespace is None and ref.resource_group:
            return ArmError(404, "ResourceGroupNotFound", f"Resource group '{ref.resource_group}' could not be found.")
        if ref.resource_group and call.state.get(
                f"/subscriptions/{ref.subscription}/resourceGroups/{ref.resource_group}") is None:
            return ArmError(404, "ResourceGroupNotFound", f"Resource group '{ref.resource_group}' could not be found.")
        if len(ref.names) > 1 and call.state.get(rid.rsplit("/", 2)[0]) is None:
            return ArmError(404, "ParentResourceNotFound",
                            f"Can not perform requested operation on nested resource. Parent resource "
                            f"'{'/'.join(ref.names[:-1])}' not found.")
        # A resource outside any group: ARM says "under resource group '<null>'" (the same text its
        # deployments report for subscription-scoped references).
        group = ref.resource_group if ref.resource_group is not None else "<null>"
        return ArmError(404, "ResourceNotFound",
                        f"The Resource '{ref.type}/{'/'.join(ref.names)}' under resource group "
                        f"'{group}' was not found. For more details please go to "
                        f"https://aka.ms/ARMResourceNotFoundFix")

    def resource(self, call: Call, rt: ResourceType, rid: str) -> tuple[int, Any]:
        method = call.method
        type_name = rt.type
        self._check_api_version(call, rt)
        if method not in ("GET", "HEAD", "PUT", "PATCH", "DELETE"):
            raise method_not_allowed(method, self._url(call))  # a POST needs an action after the name
        if method == "HEAD":
            call.authorize(f"{type_name}/read", rid)
            return (204 if call.state.get(rid) else 404), None
        call.authorize(required_action(method, type_name), rid)
        existing = call.state.get(rid)
        if method == "GET":
            if existing is None:
                raise self._not_found(call, rid)
            return 200, rt.render(call, existing)
        if method == "DELETE":
            if isinstance(rt, ResourceGroup):
                return self._delete_group(call, existing)
            if existing is None:
                if call.ref.resource_group and call.ref.namespace:
                    self._require_group(call)
                return 204, None
            self._delete(call, existing)
            return getattr(rt, "deleted_status", 200), None
        if method in ("PUT", "PATCH"):
            check_envelope(call.body)
            if call.ref.namespace:
                if call.ref.resource_group:
                    self._require_group(call)
                if len(call.ref.names) > 1 and call.state.get(rid.rsplit("/", 2)[0]) is None:
                    raise self._not_found(call, rid)
            body = call.body if call.body is not None else {}
            if method == "PATCH":
                if existing is None:
                    raise self._not_found(call, rid)
                res = rt.patch(call, existing, body)
                call.state.put(res)
                self._after_write(call, rt, res)
                return 200, rt.render(call, res)
            rt.validate(call, body, existing)
            res = rt.replace(call, existing, body) if existing else rt.create(call, rid, body)
            call.state.put(res)
            self._after_write(call, rt, res)
            return (200 if existing else getattr(rt, "created_status", 201)), rt.render(call, res)
        raise method_not_allowed(method, self._url(call))

    def _delete_group(self, call: Call, existing: dict | None) -> tuple[int, None]:
        """Deleting a group is one of ARM's own jobs: 404 ResourceGroupNotFound when there is no such
        group; otherwise 202 with a Location to poll, ``.../operationresults/<job>``, which answers 202
        while the job runs and 200 with no body when it is done (recorded: azure-sdk-for-js
        recordings of ``DELETE /subscriptions/{s}/resourcegroups/myjstest`` at 2021-04-01, and
        azure-xplat-cli recordings at 2016-09-01). The job id is what ARM encodes in it:
        ``{"jobId":"RESOURCEGROUPDELETIONJOB-<GROUP>-<LOCATION>","jobLocation":"<location>"}``."""
        if existing is None:
            raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{call.ref.resource_group}' could "
                                                         f"not be found.")
        location = existing.get("location") or "westus"
        job = {"jobId": f"RESOURCEGROUPDELETIONJOB-{existing['name'].upper()}-{location.upper()}",
               "jobLocation": location}
        token = base64.urlsafe_b64encode(json.dumps(job, separators=(",", ":")).encode()).decode().rstrip("=")
        self._delete(call, existing)  # the emulator finishes the job at once; the first poll says so
        self.emu.operations[token] = {"caller": call.caller_oid, "status": "Succeeded", "kind": "group-delete"}
        call.headers.update({
            "Location": f"{call.base_url}/subscriptions/{call.state.subscription_id}/operationresults/{token}"
                        f"?api-version={call.api_version}",
            "Retry-After": "0"})
        return 202, None

    def operation_result(self, call: Call) -> tuple[int, None]:
        """``GET /subscriptions/{s}/operationresults/{job}``: 202 (with Location) while ARM's job runs,
        200 when done; a job that is not the caller's is not found."""
        if call.method != "GET":
            raise method_not_allowed(call.method, self._url(call), "GET")
        op = self.emu.operations.get(call.ref.operation or "")
        if op is None or op.get("kind") != "group-delete" or op["caller"] != call.caller_oid:
            raise ArmError(404, "NotFound", f"The operation '{call.ref.operation}' was not found.")
        return 200, None

    @staticmethod
    def _after_write(call: Call, rt: ResourceType, res: dict) -> None:
        """A type's follow-up once the resource is stored (a scale set makes or removes instances)."""
        hook = getattr(rt, "after_write", None)
        if hook is not None:
            hook(call, res)

    def _delete(self, call: Call, existing: dict) -> None:
        for child in sorted(call.state.children(existing["id"]), key=lambda r: -len(r["id"])):
            resource_type(child["type"]).on_delete(call, child)
            identity.on_delete(call, child)
            call.state.delete(child["id"])
        resource_type(existing["type"]).on_delete(call, existing)
        identity.on_delete(call, existing)
        call.state.delete(existing["id"])
        authz.delete_assignments_below(call, existing["id"])

    def action(self, call: Call, rt: ResourceType, name: str) -> tuple[int, Any]:
        rid = call.ref.id
        call.authorize(f"{rt.type}/{name}/action", rid)
        existing = call.state.get(rid)
        if existing is None:
            raise self._not_found(call, rid)
        handler = {k.lower(): v for k, v in rt.actions.items()}.get(name.lower())
        if handler is None:
            raise ArmError(404, "InvalidResourceType" if not rt.actions else "NotFound",
                           f"The action '{name}' is not supported on resource type '{rt.type}'.")
        return handler(call, existing)

    # -- long-running operations -----------------------------------------------------------------
    def operation(self, call: Call) -> tuple[int, Any]:
        op_id = call.ref.names[-1]
        op = self.emu.operations.get(op_id)
        if op is None:
            raise ArmError(404, "NotFound", f"The operation '{op_id}' was not found.")
        if op["caller"] != call.caller_oid:
            call.authorize(f"{call.ref.namespace}/locations/operations/read", call.ref.scope)
        done = op["status"] != "InProgress"
        if call.query.get("monitor") == "true":
            if not done:
                call.headers.update({"Retry-After": "1", "Location": op["location"]})
                return 202, None
            return 200, op["result"]
        body = {"name": op_id, "status": op["status"], "startTime": op["startTime"]}
        if done:
            body["endTime"] = op.get("endTime")
            if op.get("result") is not None:
                body["properties"] = {"output": op["result"]}
            if op.get("error"):
                body["error"] = op["error"]
        else:
            call.headers["Retry-After"] = "1"
        return 200, body

    # -- Microsoft.Authorization ----------------------------------------------------------------
    def authorization(self, call: Call) -> tuple[int, Any]:
        ref = call.ref
        kind = ref.types[0].lower() if ref.types else ""
        versions = authz.ROLE_ASSIGNMENT_API_VERSIONS
        if call.api_version not in versions:
            raise ArmError(400, "NoRegisteredProviderFound",
                           f"No registered resource provider found for API version '{call.api_version}' for type "
                           f"'{ref.types[0] if ref.types else ''}'. The supported api-versions are "
                           f"'{', '.join(versions)}'.")
        if ref.scope.lower().startswith("/subscriptions/") and \
                ref.scope.split("/")[2].lower() != call.state.subscription_id.lower():
            raise ArmError(404, "SubscriptionNotFound", f"The subscription '{ref.scope.split('/')[2]}' could not "
                                                        f"be found.")
        if kind == "roledefinitions":
            call.authorize(f"{authz.RD_TYPE}/read", ref.scope)
            if call.method != "GET":
                raise ArmError(405, "MethodNotAllowed", "Custom role definitions are not supported by the emulator.")
            if ref.names:
                return 200, authz.get_definition(call, ref.names[0])
            return 200, authz.list_definitions(call)
        if kind == "roleassignments":
            if not ref.names:
                if call.method != "GET":
                    raise ArmError(405, "MethodNotAllowed", f"The HTTP method '{call.method}' is not supported.")
                return 200, authz.list_assignments(call)
            name = ref.names[0]
            if call.method == "PUT":
                return authz.put_assignment(call, name, call.body)
            if call.method == "GET":
                return 200, authz.get_assignment(call, name)
            if call.method == "DELETE":
                return authz.delete_assignment(call, name)
            raise ArmError(405, "MethodNotAllowed", f"The HTTP method '{call.method}' is not supported.")
        raise ArmError(400, "InvalidResourceType",
                       f"The resource type '{'/'.join(ref.types)}' could not be found in the namespace "
                       f"'Microsoft.Authorization' for api version '{call.api_version}'.")
