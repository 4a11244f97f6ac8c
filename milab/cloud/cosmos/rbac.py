"""Cosmos DB's own (data-plane) role-based access control: ``sqlRoleDefinitions`` and
``sqlRoleAssignments``, separate from Azure RBAC.

An Entra-authenticated data-plane request needs a ``sqlRoleAssignment`` of the caller whose
scope contains the addressed resource (``/``, ``/dbs/{db}`` or ``/dbs/{db}/colls/{coll}``,
stored in the full form ``{account id}/dbs/...``) and whose role definition has the request's
data action. An ARM Owner has none of these unless assigned. Cosmos ignores ``notDataActions``
(the "data plane actions reference" page: any action not listed as an allowed ``dataAction`` is
excluded), so the RP refuses definitions that use it.

Built-in definitions (the "Configure role-based access control with Microsoft Entra ID" page):
``...0001`` Cosmos DB Built-in Data Reader and ``...0002`` Cosmos DB Built-in Data Contributor.
"""
from __future__ import annotations

from ..authorization.rbac import action_matches
from .model import ACCOUNT_TYPE

ROLE_DEFINITION_TYPE = f"{ACCOUNT_TYPE}/sqlRoleDefinitions"
ROLE_ASSIGNMENT_TYPE = f"{ACCOUNT_TYPE}/sqlRoleAssignments"
NS = "Microsoft.DocumentDB/databaseAccounts"

READ_METADATA = f"{NS}/readMetadata"
EXECUTE_QUERY = f"{NS}/sqlDatabases/containers/executeQuery"
READ_CHANGE_FEED = f"{NS}/sqlDatabases/containers/readChangeFeed"


def item_action(verb: str) -> str:
    return f"{NS}/sqlDatabases/containers/items/{verb}"


BUILTIN = {
    "00000000-0000-0000-0000-000000000001": {
        "roleName": "Cosmos DB Built-in Data Reader",
        "dataActions": [READ_METADATA, EXECUTE_QUERY, READ_CHANGE_FEED, item_action("read")],
    },
    "00000000-0000-0000-0000-000000000002": {
        "roleName": "Cosmos DB Built-in Data Contributor",
        "dataActions": [READ_METADATA, f"{NS}/sqlDatabases/containers/*", item_action("*")],
    },
}


def builtin_definition(account_id: str, guid: str) -> dict:
    b = BUILTIN[guid]
    return {"id": f"{account_id}/sqlRoleDefinitions/{guid}", "name": guid, "type": ROLE_DEFINITION_TYPE,
            "properties": {"roleName": b["roleName"], "type": "BuiltInRole", "assignableScopes": [account_id],
                           "permissions": [{"dataActions": list(b["dataActions"]), "notDataActions": []}]}}


def relative_scope(account_id: str, scope: str) -> str | None:
    """``/``, ``/dbs/{d}`` or ``/dbs/{d}/colls/{c}`` for a scope in either accepted form
    (relative, or prefixed with the account's resource id); None when it is neither.

    The RP's own error for a doubled prefix (azure-databases-docs PR #63):
    "Expected path segment [dbs] at position [0] but found [subscriptions]"."""
    if not isinstance(scope, str) or not scope.startswith("/"):
        return None
    rel = scope
    if scope.lower().startswith(account_id.lower()):
        rel = scope[len(account_id):] or "/"
    segs = [s for s in rel.split("/") if s]
    if not segs:
        return "/"
    if segs[0] != "dbs" or len(segs) not in (2, 4) or (len(segs) == 4 and segs[2] != "colls"):
        return None
    return "/" + "/".join(segs)


def scope_error(scope) -> str:
    segs = [s for s in str(scope).split("/") if s]
    found = segs[0] if segs else ""
    return (f"Failed to parse the incoming request payload. Could not parse property [scope] with value [{scope}]: "
            f"Expected path segment [dbs] at position [0] but found [{found}].")


def scope_contains(outer: str, inner: str) -> bool:
    a = [s for s in outer.split("/") if s]
    b = [s for s in inner.split("/") if s]
    return len(a) <= len(b) and b[:len(a)] == a


def definition_actions(state, account_id: str, role_definition_id: str) -> list[str] | None:
    guid = role_definition_id.rstrip("/").rsplit("/", 1)[-1]
    if guid in BUILTIN:
        return list(BUILTIN[guid]["dataActions"])
    res = state.get(f"{account_id}/sqlRoleDefinitions/{guid}")
    if res is None:
        return None
    out = []
    for perm in res["properties"].get("permissions") or []:
        out += list(perm.get("dataActions") or [])
    return out


def allowed(state, account: dict, principal_id: str, action: str, resource_path: str) -> bool:
    """May ``principal_id`` perform the data ``action`` on ``resource_path`` (``/dbs/d/colls/c``)?"""
    account_id = account["id"]
    prefix = account_id.lower() + "/sqlroleassignments/"
    for key, ra in state.resources.items():
        if not key.startswith(prefix):
            continue
        props = ra.get("properties") or {}
        if str(props.get("principalId", "")).lower() != principal_id.lower():
            continue
        rel = relative_scope(account_id, props.get("scope", ""))
        if rel is None:
            continue
        # metadata reads are allowed on the path down to the assigned scope too (an assignment on one
        # container lets the SDK read the account and the database on its way there)
        if not scope_contains(rel, resource_path) and not (action == READ_METADATA and
                                                          scope_contains(resource_path, rel)):
            continue
        actions = definition_actions(state, account_id, props.get("roleDefinitionId", ""))
        if actions and any(action_matches(p, action) for p in actions):
            return True
    return False
