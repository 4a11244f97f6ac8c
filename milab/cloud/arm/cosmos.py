"""Microsoft.DocumentDB: Cosmos DB accounts, their keys and identity, SQL databases and containers,
and Cosmos's own data-plane role definitions and assignments.

* ``databaseAccounts``: create/update answer 200 with the finished account (``provisioningState``
  ``Succeeded``), the only status ``DatabaseAccounts_CreateOrUpdate`` lists, which
  azure-mgmt-cosmosdb's poller (and so ``az cosmosdb create``) accepts at once; delete answers 204
  (the spec lists 202 and 204). ``documentEndpoint`` is the account's own host
  ``https://<account>.documents.azure.com:443/``, served by :mod:`milab.cloud.cosmos`.
  Identity uses the shared model (:mod:`.identity`) spelt the Cosmos way,
  ``SystemAssigned,UserAssigned`` without a space (seed 000's ``az cosmosdb identity show``).
* Keys, each authorized by the front door with its real action: ``listKeys``
  (``.../listKeys/action``: DocumentDB Account Contributor has it, Cosmos DB Account Reader Role
  does not), ``readonlykeys`` as POST (``.../readonlykeys/action``, the 2019 and 2022 pages) and GET
  (``.../readonlykeys/read``, ``az cosmosdb keys list --type read-only-keys``), ``listConnectionStrings``
  and ``regenerateKey`` (``keyKind`` primary, secondary, primaryReadonly, secondaryReadonly; the
  old key stops working at once). Bodies as in the spec's examples
  (``CosmosDBDatabaseAccountListKeys.json`` ...).
* ``disableLocalAuth``: the data plane refuses every key while it is true.
* ``sqlDatabases`` and ``sqlDatabases/containers``: the objects the data plane serves
  (:mod:`milab.cloud.cosmos.model`).
* ``sqlRoleDefinitions`` (the two built-ins exist on every account and cannot be changed; custom
  ones need ``assignableScopes`` within the account and no ``notDataActions``) and
  ``sqlRoleAssignments`` (the role definition and the scope must belong to the account, the scope
  is ``/``, ``/dbs/{db}``, ``/dbs/{db}/colls/{coll}`` or those below the account's resource id,
  the principal must exist in the tenant).
"""
from __future__ import annotations

import base64
import os
import re
import uuid
from typing import Any

from ..cosmos import model, rbac
from ..cosmos.model import ACCOUNT_TYPE, CONTAINER_TYPE, DATABASE_TYPE
from . import identity
from .base import INTERNAL, Call, ResourceType, now_iso
from .errors import ArmError

COSMOS_STYLE = identity.IdentityStyle(both="SystemAssigned,UserAssigned")

ACCOUNT_API_VERSIONS = (
    "2014-04-01", "2015-04-01", "2015-04-08", "2015-11-06", "2016-03-19", "2016-03-31", "2019-08-01",
    "2019-12-12", "2020-03-01", "2020-04-01", "2020-06-01-preview", "2020-09-01", "2021-01-15", "2021-03-15",
    "2021-04-01-preview", "2021-04-15", "2021-05-15", "2021-06-15", "2021-10-15", "2022-05-15", "2022-08-15",
    "2022-11-15", "2023-03-15", "2023-04-15", "2023-09-15", "2023-11-15", "2024-05-15", "2024-08-15",
    "2024-11-15", "2025-04-15", "2025-10-15", "2026-03-15",
)
SQL_API_VERSIONS = tuple(v for v in ACCOUNT_API_VERSIONS if v >= "2019-08-01")
ROLE_API_VERSIONS = tuple(v for v in ACCOUNT_API_VERSIONS if v >= "2020-06-01-preview")

_ACCOUNT_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,42}[a-z0-9])$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
KEY_KINDS = {"primary": "primaryMasterKey", "secondary": "secondaryMasterKey",
             "primaryreadonly": "primaryReadonlyMasterKey", "secondaryreadonly": "secondaryReadonlyMasterKey"}


def new_key() -> str:
    return base64.b64encode(os.urandom(64)).decode()


def _gateway(call: Call):
    return call.emu.data_planes.get(model.SUFFIX)


def _account_of(call: Call) -> dict:
    ref = call.ref
    account_id = f"{ref.scope.rstrip('/')}/providers/{ref.namespace}/{ref.types[0]}/{ref.names[0]}"
    acct = call.state.get(account_id)
    if acct is None:
        raise ArmError(404, "ParentResourceNotFound",
                       f"Can not perform requested operation on nested resource. Parent resource "
                       f"'{ref.names[0]}' not found.")
    return acct


def _drop_items(self, call: Call, existing: dict) -> None:
    """Deleting an account, database or container deletes the items the data plane holds below it."""
    gw = _gateway(call)
    if gw is not None:
        gw.drop(existing["id"])


def _with_tags(existing: dict, body: dict) -> dict:
    res = dict(existing)
    if "tags" in body:
        res["tags"] = body.get("tags") or {}
    return res


def _bad(message: str, code: str = "BadRequest") -> ArmError:
    return ArmError(400, code, message)


# -- keys -------------------------------------------------------------------------------------------
def _keys(res: dict) -> dict:
    return res[INTERNAL]["keys"]


def list_keys(call: Call, res: dict) -> tuple[int, Any]:
    keys = _keys(res)
    return 200, {k: keys[k] for k in KEY_KINDS.values()}


def read_only_keys(call: Call, res: dict) -> tuple[int, Any]:
    keys = _keys(res)
    return 200, {k: keys[k] for k in ("primaryReadonlyMasterKey", "secondaryReadonlyMasterKey")}


def list_connection_strings(call: Call, res: dict) -> tuple[int, Any]:
    keys = _keys(res)
    endpoint = model.account_endpoint(res["name"])
    out = []
    for kind, key_name, label in (("Primary", "primaryMasterKey", "Primary SQL Connection String"),
                                  ("Secondary", "secondaryMasterKey", "Secondary SQL Connection String"),
                                  ("PrimaryReadonly", "primaryReadonlyMasterKey",
                                   "Primary Read-Only SQL Connection String"),
                                  ("SecondaryReadonly", "secondaryReadonlyMasterKey",
                                   "Secondary Read-Only SQL Connection String")):
        out.append({"connectionString": f"AccountEndpoint={endpoint};AccountKey={keys[key_name]};",
                    "description": label, "keyKind": kind, "type": "Sql"})
    return 200, {"connectionStrings": out}


def regenerate_key(call: Call, res: dict) -> tuple[int, Any]:
    body = call.body if isinstance(call.body, dict) else {}
    kind = str(body.get("keyKind") or "")
    field = KEY_KINDS.get(kind.lower())
    if field is None:
        raise _bad(f"The key kind '{kind}' is invalid. Valid values are primary, secondary, primaryReadonly and "
                   f"secondaryReadonly.")
    _keys(res)[field] = new_key()
    res["properties"].setdefault("keysMetadata", {})[field] = {"generationTime": now_iso()}
    call.state.put(res)
    return 200, None


class DatabaseAccount(ResourceType):
    type = ACCOUNT_TYPE
    api_versions = ACCOUNT_API_VERSIONS
    identity_style = COSMOS_STYLE
    created_status = 200  # DatabaseAccounts_CreateOrUpdate lists 200 only
    deleted_status = 204  # DatabaseAccounts_Delete lists 202 and 204
    actions = {"listKeys": list_keys, "readonlykeys": read_only_keys, "listConnectionStrings":
               list_connection_strings, "regenerateKey": regenerate_key}
    read_actions = {"readonlykeys": read_only_keys}  # GET .../readonlykeys

    def validate(self, call: Call, body: dict, existing: dict | None) -> None:
        name = call.ref.name or ""
        if existing is None and not _ACCOUNT_NAME.match(name):
            raise _bad(f"Database account name '{name}' is invalid. The name can only contain lowercase letters, "
                       f"numbers, and the hyphen (-) character, and must be between 3 and 44 characters long.",
                       "InvalidResourceName")
        super().validate(call, body, existing)
        if existing is None:
            for r in call.state.resources.values():
                if r.get("type") == ACCOUNT_TYPE and r.get("name") == name:
                    raise ArmError(409, "Conflict", f"Database account name '{name}' already exists. Account names "
                                                    f"are global: choose another name.")
        props = body.get("properties")
        if not isinstance(props, dict):
            raise _bad("The 'properties' of a database account are required.")
        if str(props.get("databaseAccountOfferType", "")) != "Standard":
            raise _bad("The property 'databaseAccountOfferType' is required and must be 'Standard'.")
        if not props.get("locations"):
            raise _bad("The property 'locations' is required: a list of at least one location with a "
                       "'locationName'.")
        self._check(props)

    def _locations(self, name: str, locs: list) -> list[dict]:
        out = []
        for i, loc in enumerate(sorted(locs, key=lambda x: x.get("failoverPriority", 0))):
            short = str(loc["locationName"]).replace(" ", "").lower()
            out.append({"id": f"{name}-{short}", "locationName": model.display_location(short),
                        "documentEndpoint": model.account_endpoint(name), "provisioningState": "Succeeded",
                        "failoverPriority": int(loc.get("failoverPriority", i)),
                        "isZoneRedundant": bool(loc.get("isZoneRedundant", False))})
        return out

    def _check(self, body_props: dict) -> None:
        """Types of the properties the emulator acts on (PUT and PATCH alike)."""
        for k in ("disableLocalAuth", "disableKeyBasedMetadataWriteAccess", "enableAutomaticFailover",
                  "enableMultipleWriteLocations", "enableFreeTier", "isVirtualNetworkFilterEnabled"):
            if k in body_props and not isinstance(body_props[k], bool):
                raise _bad(f"The property '{k}' must be a boolean.")
        cp = body_props.get("consistencyPolicy")
        if cp is not None and not (isinstance(cp, dict) and cp.get("defaultConsistencyLevel") in (
                "Eventual", "Session", "BoundedStaleness", "Strong", "ConsistentPrefix")):
            raise _bad("The property 'consistencyPolicy.defaultConsistencyLevel' must be one of Eventual, Session, "
                       "BoundedStaleness, Strong or ConsistentPrefix.")
        locs = body_props.get("locations")
        if locs is not None and (not isinstance(locs, list) or not all(
                isinstance(x, dict) and isinstance(x.get("locationName"), str) and x["locationName"].strip()
                and isinstance(x.get("failoverPriority", 0), int) for x in locs)):
            raise _bad("The property 'locations' must list locations with a 'locationName' and an integer "
                       "'failoverPriority'.")

    def _properties(self, name: str, body_props: dict, existing: dict | None) -> dict:
        self._check(body_props)
        props = dict((existing or {}).get("properties") or {})
        locs = self._locations(name, body_props.get("locations") or []) if body_props.get("locations") else \
            props.get("locations") or []
        props.update({
            "provisioningState": "Succeeded", "documentEndpoint": model.account_endpoint(name),
            "databaseAccountOfferType": "Standard",
            "consistencyPolicy": body_props.get("consistencyPolicy") or props.get("consistencyPolicy") or
            {"defaultConsistencyLevel": "Session", "maxIntervalInSeconds": 5, "maxStalenessPrefix": 100},
            "locations": locs, "writeLocations": locs[:1], "readLocations": locs,
            "failoverPolicies": [{"id": x["id"], "locationName": x["locationName"],
                                  "failoverPriority": x["failoverPriority"]} for x in locs],
        })
        for k, default in (("disableLocalAuth", False), ("disableKeyBasedMetadataWriteAccess", False),
                           ("publicNetworkAccess", "Enabled"), ("enableAutomaticFailover", False),
                           ("enableMultipleWriteLocations", False), ("capabilities", []), ("ipRules", []),
                           ("isVirtualNetworkFilterEnabled", False), ("virtualNetworkRules", []),
                           ("enableFreeTier", False), ("enableAnalyticalStorage", False), ("cors", []),
                           ("minimalTlsVersion", "Tls12"), ("networkAclBypass", "None")):
            if k in body_props:
                props[k] = body_props[k]
            else:
                props.setdefault(k, default)
        return props

    def create(self, call: Call, rid: str, body: dict) -> dict:
        res = super().create(call, rid, body)
        name = call.ref.name
        res["kind"] = body.get("kind") or "GlobalDocumentDB"
        res["properties"] = self._properties(name, body["properties"], None)
        generated = now_iso()
        res["properties"].update({"instanceId": str(uuid.uuid4()), "createMode": "Default",
                                  "apiProperties": {},
                                  "backupPolicy": {"type": "Periodic", "periodicModeProperties": {
                                      "backupIntervalInMinutes": 240, "backupRetentionIntervalInHours": 8,
                                      "backupStorageRedundancy": "Geo"}},
                                  "keysMetadata": {k: {"generationTime": generated} for k in KEY_KINDS.values()}})
        res[INTERNAL]["keys"] = {k: new_key() for k in KEY_KINDS.values()}
        for guid in rbac.BUILTIN:  # the built-in data-plane role definitions every account has
            d = rbac.builtin_definition(rid, guid)
            d[INTERNAL] = {"builtin": True}
            call.state.put(d)
        return res

    def replace(self, call: Call, existing: dict, body: dict) -> dict:
        res = _with_tags(existing, body)
        res[INTERNAL] = dict(existing.get(INTERNAL) or {})
        res["properties"] = self._properties(existing["name"], body.get("properties") or {}, existing)
        self.apply_identity(call, res, body, merge=False)
        return res

    def patch(self, call: Call, existing: dict, body: dict) -> dict:
        if not isinstance(body, dict):
            raise _bad("The request content was invalid: a JSON object is required.", "InvalidRequestContent")
        res = _with_tags(existing, body)
        res[INTERNAL] = dict(existing.get(INTERNAL) or {})
        if isinstance(body.get("properties"), dict):
            res["properties"] = self._properties(existing["name"], body["properties"], existing)
        self.apply_identity(call, res, body, merge=True)
        return res

    def render(self, call: Call, res: dict) -> dict:
        out = super().render(call, res)
        out.setdefault("tags", {})
        return out

    on_delete = _drop_items


class _Child(ResourceType):
    location_required = False
    identity_style = None
    api_versions = SQL_API_VERSIONS
    created_status = 200  # the spec's CreateUpdate operations list 200 and 202
    deleted_status = 204  # the spec's Delete operations list 202 and 204


def _resource_body(call: Call, body: dict) -> dict:
    props = body.get("properties")
    resource = props.get("resource") if isinstance(props, dict) else None
    if not isinstance(resource, dict):
        raise _bad("The property 'properties.resource' is required.")
    if resource.get("id") != call.ref.name:
        raise _bad(f"The resource id '{resource.get('id')}' in the request body must be the name in the URL, "
                   f"'{call.ref.name}'.")
    return resource


class SqlDatabase(_Child):
    type = DATABASE_TYPE

    def validate(self, call: Call, body: dict, existing: dict | None) -> None:
        super().validate(call, body, existing)
        resource = _resource_body(call, body)
        why = model.invalid_id(resource.get("id"))
        if why:
            raise _bad(why)

    def create(self, call: Call, rid: str, body: dict) -> dict:
        res = model.database_resource(_account_of(call), call.ref.name, body.get("location"))
        if "tags" in body:
            res["tags"] = body.get("tags") or {}
        return res

    def replace(self, call: Call, existing: dict, body: dict) -> dict:
        return _with_tags(existing, body)

    def patch(self, call: Call, existing: dict, body: dict) -> dict:
        raise ArmError(405, "MethodNotAllowed", "SQL databases are updated with PUT (createUpdateSqlDatabase).")

    on_delete = _drop_items


class SqlContainer(_Child):
    type = CONTAINER_TYPE

    def validate(self, call: Call, body: dict, existing: dict | None) -> None:
        super().validate(call, body, existing)
        resource = _resource_body(call, body)
        try:
            pk = model.partition_key_definition(resource.get("partitionKey"))
        except model.DefinitionError as e:
            raise _bad(str(e)) from None
        if existing is not None and "partitionKey" in resource and \
                pk != existing["properties"]["resource"]["partitionKey"]:
            raise _bad("The partition key of a container cannot be changed.")

    def create(self, call: Call, rid: str, body: dict) -> dict:
        db = call.state.get(rid.rsplit("/", 2)[0])
        try:
            res = model.container_resource(db, body["properties"]["resource"], body.get("location"))
        except model.DefinitionError as e:
            raise _bad(str(e)) from None
        if "tags" in body:
            res["tags"] = body.get("tags") or {}
        return res

    def replace(self, call: Call, existing: dict, body: dict) -> dict:
        res = _with_tags(existing, body)
        doc = dict(existing["properties"]["resource"])
        new = body["properties"]["resource"]
        for k in ("indexingPolicy", "defaultTtl", "uniqueKeyPolicy", "conflictResolutionPolicy",
                  "computedProperties"):
            if k in new:
                doc[k] = new[k]
        doc["_etag"], doc["_ts"] = model.new_etag(), model.now()
        res["properties"] = {"resource": doc}
        return res

    def patch(self, call: Call, existing: dict, body: dict) -> dict:
        raise ArmError(405, "MethodNotAllowed", "SQL containers are updated with PUT (createUpdateSqlContainer).")

    on_delete = _drop_items


# -- data-plane RBAC resources -------------------------------------------------------------------------
def _guid_name(call: Call, what: str) -> None:
    if not _GUID.match(call.ref.name or ""):
        raise _bad(f"The {what} id '{call.ref.name}' is invalid: it must be a GUID.")


def _full_scope(account_id: str, scope) -> str:
    rel = rbac.relative_scope(account_id, scope)
    if rel is None:
        raise _bad(rbac.scope_error(scope))
    return account_id if rel == "/" else account_id + rel


class SqlRoleDefinition(_Child):
    type = rbac.ROLE_DEFINITION_TYPE
    api_versions = ROLE_API_VERSIONS
    deleted_status = 200

    def validate(self, call: Call, body: dict, existing: dict | None) -> None:
        super().validate(call, body, existing)
        _guid_name(call, "role definition")
        if call.ref.name.lower() in rbac.BUILTIN:
            raise _bad(f"The built-in role definition '{call.ref.name}' cannot be created or changed.")
        account = _account_of(call)
        props = body.get("properties")
        if not isinstance(props, dict) or not str(props.get("roleName") or "").strip():
            raise _bad("The property 'properties.roleName' is required.")
        if props.get("type", "CustomRole") != "CustomRole":
            raise _bad("Only role definitions of type 'CustomRole' can be created.")
        scopes = props.get("assignableScopes")
        if not isinstance(scopes, list) or not scopes:
            raise _bad("The property 'properties.assignableScopes' must list at least one scope.")
        for s in scopes:
            _full_scope(account["id"], s)
        perms = props.get("permissions")
        if not isinstance(perms, list) or not perms:
            raise _bad("The property 'properties.permissions' must list at least one permission.")
        for p in perms:
            if not isinstance(p, dict) or not isinstance(p.get("dataActions"), list) or not p["dataActions"]:
                raise _bad("Each permission must have a non-empty 'dataActions' list.")
            if p.get("notDataActions"):
                raise _bad("'notDataActions' are not supported by Azure Cosmos DB role definitions; list the allowed "
                           "'dataActions' only.")
            for a in p["dataActions"]:
                if not isinstance(a, str) or not a.lower().startswith(rbac.NS.lower() + "/"):
                    raise _bad(f"The data action '{a}' is not a Microsoft.DocumentDB/databaseAccounts data action.")

    def create(self, call: Call, rid: str, body: dict) -> dict:
        account = _account_of(call)
        props = body["properties"]
        return {"id": rid, "name": call.ref.name, "type": self.type,
                "properties": {"roleName": props["roleName"], "type": "CustomRole",
                               "assignableScopes": [_full_scope(account["id"], s) for s in props["assignableScopes"]],
                               "permissions": [{"dataActions": list(p["dataActions"]), "notDataActions": []}
                                               for p in props["permissions"]]},
                INTERNAL: {"created": now_iso()}}

    def replace(self, call: Call, existing: dict, body: dict) -> dict:
        return self.create(call, existing["id"], body)

    def patch(self, call: Call, existing: dict, body: dict) -> dict:
        raise ArmError(405, "MethodNotAllowed", "Role definitions are updated with PUT.")

    def on_delete(self, call: Call, existing: dict) -> None:
        if (existing.get(INTERNAL) or {}).get("builtin") and call.ref.type.lower() == self.type.lower():
            raise _bad(f"The built-in role definition '{existing['name']}' cannot be deleted.")


class SqlRoleAssignment(_Child):
    type = rbac.ROLE_ASSIGNMENT_TYPE
    api_versions = ROLE_API_VERSIONS
    deleted_status = 200

    def validate(self, call: Call, body: dict, existing: dict | None) -> None:
        super().validate(call, body, existing)
        _guid_name(call, "role assignment")
        account = _account_of(call)
        props = body.get("properties")
        if not isinstance(props, dict):
            raise _bad("The property 'properties' is required.")
        rd = str(props.get("roleDefinitionId") or "")
        prefix = account["id"].lower() + "/sqlroledefinitions/"
        # the RP's answer to a role definition it does not know (Azure/bicep issue #7943)
        if not rd.lower().startswith(prefix) or \
                rbac.definition_actions(call.state, account["id"], rd) is None:
            raise _bad(f"The role definition ID '{rd}' is not valid.", "InvalidRoleDefinitionId")
        scope = _full_scope(account["id"], props.get("scope"))
        definition = call.state.get(f"{account['id']}/sqlRoleDefinitions/{rd.rsplit('/', 1)[-1]}")
        assignable = (definition or {}).get("properties", {}).get("assignableScopes") or [account["id"]]
        if not any(rbac.scope_contains(rbac.relative_scope(account["id"], a) or "/x",
                                       rbac.relative_scope(account["id"], scope) or "/") for a in assignable):
            raise _bad(f"The scope '{scope}' is not within the assignable scopes of the role definition '{rd}'.")
        pid = str(props.get("principalId") or "")
        if not _GUID.match(pid):
            raise _bad(f"The provided principal ID [{pid}] is not a valid GUID.")
        if pid.lower() not in {k.lower() for k in call.state.principals}:
            raise _bad(f"The provided principal ID [{pid}] was not found in the AAD tenant(s) "
                       f"[{call.state.tenant_id}].")

    def create(self, call: Call, rid: str, body: dict) -> dict:
        account = _account_of(call)
        props = body["properties"]
        return {"id": rid, "name": call.ref.name, "type": self.type,
                "properties": {"roleDefinitionId": props["roleDefinitionId"],
                               "scope": _full_scope(account["id"], props["scope"]),
                               "principalId": props["principalId"]},
                INTERNAL: {"created": now_iso()}}

    def replace(self, call: Call, existing: dict, body: dict) -> dict:
        return self.create(call, existing["id"], body)

    def patch(self, call: Call, existing: dict, body: dict) -> dict:
        raise ArmError(405, "MethodNotAllowed", "Role assignments are updated with PUT.")


TYPES = (DatabaseAccount(), SqlDatabase(), SqlContainer(), SqlRoleDefinition(), SqlRoleAssignment())
