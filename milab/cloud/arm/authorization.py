"""Microsoft.Authorization: role definitions (the built-in roles) and role assignments at any scope."""
from __future__ import annotations

import re
import uuid

from ..authorization import by_id, by_name, role_definition_id, scope_contains, to_arm
from ..authorization.roles import BUILTIN_ROLES
from .base import Call, invalid_content, now_iso
from .errors import ArmError

ROLE_ASSIGNMENT_API_VERSIONS = (
    "2014-07-01-preview", "2015-06-01", "2015-07-01", "2017-09-01", "2017-10-01-preview", "2018-01-01-preview",
    "2018-09-01-preview", "2018-12-01-preview", "2019-08-01-preview", "2020-03-01-preview",
    "2020-04-01-preview", "2020-08-01-preview", "2020-10-01", "2020-10-01-preview", "2021-03-01-preview",
    "2022-01-01-preview", "2022-04-01", "2022-05-01-preview",
)
ROLE_DEFINITION_API_VERSIONS = ROLE_ASSIGNMENT_API_VERSIONS

_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
RA_TYPE = "Microsoft.Authorization/roleAssignments"
RD_TYPE = "Microsoft.Authorization/roleDefinitions"


def _scope_exists(call: Call, scope: str) -> bool:
    s = scope.rstrip("/")
    if s in ("", "/"):
        return True
    if s.lower() == f"/subscriptions/{call.state.subscription_id}".lower():
        return True
    return call.state.get(s) is not None


def _render_definition(call: Call, role: dict, scope: str) -> dict:
    sub = call.state.subscription_id if scope.lower().startswith("/subscriptions/") else None
    return to_arm(role, sub)


# -- role definitions ------------------------------------------------------------------------
def get_definition(call: Call, guid: str) -> dict:
    role = by_id(guid)
    if role is None:
        raise ArmError(404, "RoleDefinitionDoesNotExist", f"The specified role definition with ID '{guid}' "
                                                          f"does not exist.")
    return _render_definition(call, role, call.ref.scope)


def list_definitions(call: Call) -> dict:
    flt = call.query.get("$filter", "")
    roles = BUILTIN_ROLES
    m = re.match(r"^\s*roleName\s+eq\s+'(.*)'\s*$", flt, re.I)
    if m:
        role = by_name(m.group(1))
        roles = [role] if role else []
    elif re.match(r"^\s*type\s+eq\s+'BuiltInRole'\s*$", flt, re.I) or not flt:
        roles = BUILTIN_ROLES
    else:
        raise ArmError(400, "InvalidFilter", f"The filter '{flt}' is not supported. Supported filters are "
                                             f"roleName eq '{{name}}' and type eq 'BuiltInRole'.")
    return {"value": [_render_definition(call, r, call.ref.scope) for r in roles]}


# -- role assignments ------------------------------------------------------------------------
def _ra_id(scope: str, name: str) -> str:
    return f"{scope.rstrip('/')}/providers/{RA_TYPE}/{name}" if scope.rstrip("/") else f"/providers/{RA_TYPE}/{name}"


def render_assignment(call: Call, ra: dict) -> dict:
    return {k: v for k, v in ra.items() if not k.startswith("_")}


# The first roleAssignments api-version that can carry roles with data actions.
DATA_ACTIONS_FROM = "2018-01-01-preview"


def _older_version(a: str, b: str) -> bool:
    """Is api-version ``a`` older than ``b``? (dates first; a preview precedes its release)."""
    return (a[:10], a[10:] == "") < (b[:10], b[10:] == "")


def put_assignment(call: Call, name: str, body) -> tuple[int, dict]:
    scope = call.ref.scope
    call.authorize(f"{RA_TYPE}/write", scope)
    if not _GUID.match(name):
        raise ArmError(400, "InvalidRoleAssignmentId",
                       f"The role assignment ID '{name}' is not valid. The role assignment ID must be a GUID.")
    props = body.get("properties") if isinstance(body, dict) else None
    if not isinstance(props, dict):
        raise invalid_content("Expected an object for 'properties'. Path 'properties'")
    for field in ("roleDefinitionId", "principalId", "principalType", "condition", "conditionVersion",
                  "description"):
        if props.get(field) is not None and not isinstance(props[field], str):
            raise invalid_content(f"Expected a string for '{field}'. Path 'properties.{field}'")
    rd_id = props.get("roleDefinitionId")
    pid = props.get("principalId")
    if not rd_id or not pid:
        raise ArmError(400, "MissingRequiredProperty" if not rd_id else "InvalidPrincipalId",
                       "The role assignment needs 'properties.roleDefinitionId' and 'properties.principalId'.")
    role = by_id(rd_id)
    if role is None:
        raise ArmError(400, "RoleDefinitionDoesNotExist",
                       f"The specified role definition with ID '{rd_id.rsplit('/', 1)[-1]}' does not exist.")
    if (role.get("dataActions") or role.get("notDataActions")) and _older_version(call.api_version, DATA_ACTIONS_FROM):
        # Azure's answer to a data-action role through an old api-version (2015-07-01 and 2017-09-01 are
        # both in docs templates); the text, "operations" included, is the service's.
        raise ArmError(400, "UnsupportedApiVersionForRoleDefinitionHasDataActions",
                       f"Assignments to roles with DataActions and NotDataActions are not supported on API "
                       f"version '{call.api_version}'. The minimum required API version for this operations "
                       f"is '{DATA_ACTIONS_FROM}'.")
    if not _scope_exists(call, scope):
        raise ArmError(404, "InvalidScope" if "/resourcegroups/" not in scope.lower() else "ResourceNotFound",
                       f"The scope '{scope}' is not valid for the role assignment: no resource exists there.")
    principal = call.emu.directory.object(pid)  # a service principal, user or group of the tenant
    if principal is None:
        raise ArmError(400, "PrincipalNotFound",
                       f"Principal {pid.replace('-', '')} does not exist in the directory "
                       f"{call.state.tenant_id}. Check that you have the correct principal ID.")
    rid = _ra_id(scope, name)
    for other in call.state.role_assignments.values():
        op = other["properties"]
        same_grant = (op["principalId"].lower() == pid.lower()
                      and op["roleDefinitionId"].rsplit("/", 1)[-1].lower() == role["name"].lower())
        if other["name"].lower() == name.lower():
            # A role assignment's name is unique in the tenant and its grant cannot change: the same name
            # with another principal, role or scope is an update Azure refuses ("Tenant ID, application
            # ID, principal ID, and scope are not allowed to be updated.", 400; Learn, "Troubleshoot Azure
            # RBAC", ARM template role assignment returns BadRequest status).
            if same_grant and op["scope"].lower() == (scope.rstrip("/") or "/").lower():
                return 201, render_assignment(call, other)
            raise ArmError(400, "RoleAssignmentUpdateNotPermitted",
                           "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.")
    for other in call.state.role_assignments.values():
        op = other["properties"]
        if (op["principalId"].lower() == pid.lower() and op["scope"].lower() == scope.rstrip("/").lower()
                and op["roleDefinitionId"].rsplit("/", 1)[-1].lower() == role["name"].lower()):
            # 409 naming the assignment that holds the grant, as 32 hex digits, which tools parse:
            # "The role assignment already exists. The ID of the existing role assignment is
            # 716c4d159bc8476da3c16ccb70082517." (recorded in Terraform/Bicep failure reports)
            raise ArmError(409, "RoleAssignmentExists",
                           f"The role assignment already exists. The ID of the existing role assignment is "
                           f"{other['name'].replace('-', '').lower()}.")
    sub = call.state.subscription_id
    ra = {"id": rid, "name": name, "type": RA_TYPE,
          "properties": {"roleDefinitionId": role_definition_id(role, sub), "principalId": pid,
                         "principalType": props.get("principalType") or "ServicePrincipal",
                         "scope": scope.rstrip("/") or "/", "condition": props.get("condition"),
                         "conditionVersion": props.get("conditionVersion"),
                         "createdOn": now_iso(), "updatedOn": now_iso(),
                         "createdBy": call.caller_oid, "updatedBy": call.caller_oid,
                         "delegatedManagedIdentityResourceId": None, "description": props.get("description")}}
    call.state.role_assignments[rid.lower()] = ra
    return 201, render_assignment(call, ra)


def get_assignment(call: Call, name: str) -> dict:
    rid = _ra_id(call.ref.scope, name)
    call.authorize(f"{RA_TYPE}/read", call.ref.scope)
    ra = call.state.role_assignments.get(rid.lower())
    if ra is None:
        raise ArmError(404, "RoleAssignmentNotFound", f"The role assignment '{name}' is not found.")
    return render_assignment(call, ra)


def delete_assignment(call: Call, name: str) -> tuple[int, dict | None]:
    rid = _ra_id(call.ref.scope, name)
    call.authorize(f"{RA_TYPE}/delete", call.ref.scope)
    ra = call.state.role_assignments.pop(rid.lower(), None)
    if ra is None:
        return 204, None
    return 200, render_assignment(call, ra)


def list_assignments(call: Call) -> dict:
    scope = call.ref.scope
    call.authorize(f"{RA_TYPE}/read", scope)
    flt = call.query.get("$filter", "").strip()
    at_scope_only = False
    principal = None
    if flt:
        m_p = re.match(r"^principalId\s+eq\s+'([^']+)'$", flt, re.I)
        m_a = re.match(r"^assignedTo\('([^']+)'\)$", flt, re.I)
        if flt.lower() == "atscope()":
            at_scope_only = True
        elif m_p or m_a:
            principal = (m_p or m_a).group(1).lower()
        else:
            raise ArmError(400, "UnsupportedQuery", f"The filter '{flt}' is not supported.")
    out = []
    for ra in call.state.role_assignments.values():
        p = ra["properties"]
        above_or_at = scope_contains(p["scope"], scope)
        below = scope_contains(scope, p["scope"])
        if at_scope_only and not above_or_at:
            continue
        if not (above_or_at or below):
            continue
        if principal and p["principalId"].lower() != principal:
            continue
        out.append(render_assignment(call, ra))
    return {"value": out}


def delete_assignments_below(call: Call, scope: str) -> None:
    for k, ra in list(call.state.role_assignments.items()):
        if scope_contains(scope, ra["properties"]["scope"]):
            del call.state.role_assignments[k]


def new_assignment_name() -> str:
    return str(uuid.uuid4())
