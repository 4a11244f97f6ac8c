"""Microsoft.Sql: logical servers, databases, firewall rules and the Microsoft Entra admin.

* ``servers``: create is long-running (202 with ``Azure-AsyncOperation``
  ``.../locations/{l}/serverAzureAsyncOperation/{id}`` and ``Location``
  ``.../serverOperationResults/{id}``, as ``Servers_CreateOrUpdate`` lists 200, 201 and 202);
  ``fullyQualifiedDomainName`` ``<server>.database.windows.net``, ``kind`` ``v12.0``, ``state``
  ``Ready`` (azure-rest-api-specs ``Microsoft.Sql/stable/2021-11-01/examples/ServerCreate.json``);
  ``administratorLoginPassword`` is taken on create and update and never returned; a server can
  have managed identities (its "server identity"), and ``properties.administrators`` sets the
  Entra admin on create. The ``master`` database exists with every server.
* ``servers/databases``: create long-running as well; deleting one drops its data.
* ``servers/firewallRules``: ``startIpAddress``..``endIpAddress``; ``0.0.0.0``-``0.0.0.0`` is the
  portal's "Allow Azure services and resources to access this server".
* ``servers/administrators/ActiveDirectory``: ``administratorType`` ``ActiveDirectory``, ``login``,
  ``sid`` (object id of a user or group, client id of an application), ``tenantId``
  (``AdministratorCreateOrUpdate.json``).
* ``servers/azureADOnlyAuthentications/Default``: ``azureADOnlyAuthentication``; SQL logins are
  refused while it is true.

The data plane (TDS on port 1433) is :mod:`milab.cloud.sql`; the front door authorizes each call
with its real action (``Microsoft.Sql/servers/administrators/write`` ...), so SQL Server
Contributor manages servers but cannot switch Entra-only authentication, and no role grants data
access: only the Entra admin and database users log in.
"""
from __future__ import annotations

import ipaddress
import re
import uuid

from .base import INTERNAL, Call, ResourceType, now_iso
from .errors import ArmError

SERVER_TYPE = "Microsoft.Sql/servers"
API_VERSIONS = (
    "2014-04-01", "2015-05-01-preview", "2017-03-01-preview", "2017-10-01-preview", "2018-06-01-preview",
    "2019-06-01-preview", "2020-02-02-preview", "2020-08-01-preview", "2020-11-01-preview", "2021-02-01-preview",
    "2021-05-01-preview", "2021-08-01-preview", "2021-11-01", "2021-11-01-preview", "2022-02-01-preview",
    "2022-05-01-preview", "2022-08-01-preview", "2022-11-01-preview", "2023-02-01-preview", "2023-05-01-preview",
    "2023-08-01", "2023-08-01-preview", "2024-05-01-preview", "2024-11-01-preview", "2025-01-01",
    "2025-02-01-preview",
)
_SERVER_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _bad(code: str, message: str) -> ArmError:
    return ArmError(400, code, message)


def _async(call: Call, res: dict, kind: str) -> None:
    """Answer 202 and let the SDKs poll: the operation is done by the first poll."""
    op_id = str(uuid.uuid4())
    loc = res.get("location") or "westus"
    base = f"{call.base_url}/subscriptions/{call.state.subscription_id}/providers/Microsoft.Sql/locations/{loc}"
    call.emu.operations[op_id] = {"status": "Succeeded", "startTime": now_iso(), "endTime": now_iso(),
                                  "result": None, "caller": call.caller_oid,
                                  "location": f"{base}/{kind}OperationResults/{op_id}?api-version={call.api_version}"}
    call.headers.update({"Azure-AsyncOperation": f"{base}/{kind}AzureAsyncOperation/{op_id}?api-version="
                                                 f"{call.api_version}",
                         "Location": f"{base}/{kind}OperationResults/{op_id}?api-version={call.api_version}",
                         "Retry-After": "1"})


def _gateway(call: Call):
    return call.emu.data_planes.get(".database.windows.net")


def _complex(password: str) -> bool:
    """Azure SQL's policy: 8 to 128 characters of at least three of upper, lower, digits, symbols."""
    classes = sum(bool(re.search(p, password)) for p in (r"[A-Z]", r"[a-z]", r"[0-9]", r"[^A-Za-z0-9]"))
    return 8 <= len(password) <= 128 and classes >= 3


def _check_admin(call: Call, props: dict) -> dict:
    if not isinstance(props, dict):
        raise _bad("InvalidParameterValue", "The administrator properties must be an object.")
    sid, login = props.get("sid"), props.get("login")
    if not isinstance(login, str) or not login.strip():
        raise _bad("InvalidParameterValue", "Invalid value given for parameter Login. Specify a valid parameter value.")
    if not isinstance(sid, str) or not _GUID.match(sid):
        raise _bad("InvalidParameterValue", "Invalid value given for parameter Sid. Specify a valid parameter value.")
    tenant = props.get("tenantId") or call.state.tenant_id
    if str(tenant).lower() != call.state.tenant_id.lower():
        # the admin must come from the server's tenant (the subscription's)
        raise _bad("InvalidParameterValue", f"Invalid value given for parameter TenantId. The tenant '{tenant}' is not "
                                            f"the tenant of the subscription.")
    out = {"administratorType": "ActiveDirectory", "login": login, "sid": sid.lower(), "tenantId": str(tenant)}
    if props.get("principalType"):
        out["principalType"] = props["principalType"]
    return out


class Server(ResourceType):
    type = SERVER_TYPE
    api_versions = API_VERSIONS
    created_status = 202
    deleted_status = 200

    def validate(self, call: Call, body: dict, existing: dict | None) -> None:
        name = call.ref.name or ""
        if existing is None and not _SERVER_NAME.match(name):
            raise _bad("InvalidServerName", "Invalid server name. Server names can only be made up of lowercase letters "
                                            "'a'-'z', the numbers 0-9 and the hyphen, cannot start or end with a hyphen "
                                            "and must be at most 63 characters long.")
        super().validate(call, body, existing)
        if existing is None:
            for r in call.state.resources.values():
                if r.get("type") == SERVER_TYPE and r.get("name") == name:
                    raise ArmError(409, "ServerNameAlreadyExists", f"The specified server name '{name}' is already in "
                                                                   f"use. Choose a different server name.")
        props = body.get("properties") or {}
        if not isinstance(props, dict):
            raise _bad("InvalidRequestContent", "The 'properties' of a server must be an object.")
        admins = props.get("administrators")
        entra_only = isinstance(admins, dict) and admins.get("azureADOnlyAuthentication") is True
        password = props.get("administratorLoginPassword")
        if existing is None and not entra_only:
            if not props.get("administratorLogin"):
                raise _bad("InvalidParameterValue", "Invalid value given for parameter Login. Specify a valid "
                                                    "parameter value.")
            if not isinstance(password, str) or not password:
                raise _bad("InvalidParameterValue", "Invalid value given for parameter Password. Specify a valid "
                                                    "parameter value.")
        if password is not None and (not isinstance(password, str) or not _complex(password)):
            raise _bad("PasswordNotComplex", "Password validation failed. The password does not meet policy "
                                             "requirements because it is not complex enough.")
        if admins is not None:
            _check_admin(call, admins)

    def _props(self, call: Call, body: dict, existing: dict | None, res: dict) -> None:
        props = dict((existing or {}).get("properties") or {})
        given = body.get("properties") or {}
        for k in ("administratorLogin", "version", "minimalTlsVersion", "publicNetworkAccess",
                  "restrictOutboundNetworkAccess", "primaryUserAssignedIdentityId"):
            if k in given:
                props[k] = given[k]
        props.setdefault("version", "12.0")
        props.setdefault("publicNetworkAccess", "Enabled")
        props.setdefault("restrictOutboundNetworkAccess", "Disabled")
        props.update({"state": "Ready", "fullyQualifiedDomainName": f"{res['name']}.database.windows.net"})
        props.pop("administratorLoginPassword", None)
        props.pop("provisioningState", None)
        res["properties"] = props
        res["kind"] = "v12.0"
        if isinstance(given.get("administratorLoginPassword"), str):
            res[INTERNAL]["password"] = given["administratorLoginPassword"]

    def create(self, call: Call, rid: str, body: dict) -> dict:
        res = super().create(call, rid, body)
        self._props(call, body, None, res)
        admins = (body.get("properties") or {}).get("administrators")
        if isinstance(admins, dict):
            _store_admin(call, rid, _check_admin(call, admins))
            if admins.get("azureADOnlyAuthentication") is not None:
                _store_aad_only(call, rid, bool(admins["azureADOnlyAuthentication"]))
        master = {"id": f"{rid}/databases/master", "name": "master", "type": DATABASE_TYPE,
                  "location": res.get("location"), "kind": "v12.0,system",
                  "sku": {"name": "System", "tier": "System", "capacity": 0},
                  "properties": _database_props("master", res.get("location"), system=True),
                  INTERNAL: {"created": now_iso()}}
        call.state.put(master)
        _async(call, res, "server")
        sql = _gateway(call)
        if sql is not None:
            sql.server_created(res["name"])
        return res

    def on_delete(self, call: Call, existing: dict) -> None:
        sql = _gateway(call)
        if sql is not None:
            sql.server_deleted(existing["name"])

    def replace(self, call: Call, existing: dict, body: dict) -> dict:
        res = super().replace(call, existing, body)
        self._props(call, body, existing, res)
        return res

    def patch(self, call: Call, existing: dict, body: dict) -> dict:
        given = (body or {}).get("properties") if isinstance(body, dict) else None
        if isinstance(given, dict) and "administratorLoginPassword" in given:
            password = given["administratorLoginPassword"]
            if not isinstance(password, str) or not _complex(password):
                raise _bad("PasswordNotComplex", "Password validation failed. The password does not meet policy "
                                                 "requirements because it is not complex enough.")
        res = super().patch(call, existing, body)
        self._props(call, {"properties": given or {}}, existing, res)
        return res

    def render(self, call: Call, res: dict) -> dict:
        out = super().render(call, res)
        props = dict(out.get("properties") or {})
        admin = call.state.get(f"{res['id']}/administrators/ActiveDirectory")
        if admin:
            a = admin["properties"]
            only = call.state.get(f"{res['id']}/azureADOnlyAuthentications/Default")
            props["administrators"] = {"administratorType": "ActiveDirectory", "principalType": a.get(
                "principalType", "User"), "login": a["login"], "sid": a["sid"], "tenantId": a["tenantId"],
                "azureADOnlyAuthentication": bool(((only or {}).get("properties") or {}).get(
                    "azureADOnlyAuthentication"))}
        out["properties"] = props
        return out


DATABASE_TYPE = "Microsoft.Sql/servers/databases"


def _database_props(name: str, location: str | None, system: bool = False) -> dict:
    return {"collation": "SQL_Latin1_General_CP1_CI_AS", "maxSizeBytes": 34359738368 if not system else 32212254720,
            "status": "Online", "databaseId": str(uuid.uuid4()), "creationDate": now_iso(),
            "currentServiceObjectiveName": "System0" if system else "GP_S_Gen5_2",
            "requestedServiceObjectiveName": "System0" if system else "GP_S_Gen5_2",
            "defaultSecondaryLocation": location or "westus", "catalogCollation": "SQL_Latin1_General_CP1_CI_AS",
            "zoneRedundant": False, "readScale": "Disabled", "currentBackupStorageRedundancy": "Geo",
            "requestedBackupStorageRedundancy": "Geo", "isLedgerOn": False}


class Database(ResourceType):
    type = DATABASE_TYPE
    api_versions = API_VERSIONS
    created_status = 202
    identity_style = None

    def validate(self, call: Call, body: dict, existing: dict | None) -> None:
        name = call.ref.name or ""
        if existing is None and (not name or len(name) > 128 or any(c in name for c in "<>*%&:\\/?")):
            raise _bad("InvalidDatabaseName", f"The database name '{name}' is not valid.")
        if (name.lower() == "master") and existing is None:
            raise _bad("DatabaseAlreadyExists", "The database 'master' already exists. Choose a different database "
                                                "name.")
        super().validate(call, body, existing)

    def create(self, call: Call, rid: str, body: dict) -> dict:
        res = super().create(call, rid, body)
        server = call.state.get(rid.rsplit("/databases/", 1)[0]) or {}
        res.setdefault("location", server.get("location"))
        res["kind"] = "v12.0,user,vcore,serverless"
        res.setdefault("sku", {"name": "GP_S_Gen5", "tier": "GeneralPurpose", "family": "Gen5", "capacity": 2})
        props = _database_props(res["name"], res.get("location"))
        for k in ("collation", "maxSizeBytes", "zoneRedundant"):
            if k in (body.get("properties") or {}):
                props[k] = body["properties"][k]
        res["properties"] = props
        _async(call, res, "database")
        return res

    def replace(self, call: Call, existing: dict, body: dict) -> dict:
        return self.retag(existing, body)

    def on_delete(self, call: Call, existing: dict) -> None:
        if existing.get("name", "").lower() == "master" and call.method == "DELETE" and \
                call.ref.id.lower() == existing["id"].lower():
            raise _bad("CannotDropSystemDatabase", "The system database 'master' cannot be dropped.")
        sql = _gateway(call)
        if sql is not None:
            sql.drop_database(existing)


class FirewallRule(ResourceType):
    type = "Microsoft.Sql/servers/firewallRules"
    api_versions = API_VERSIONS
    location_required = False
    identity_style = None

    def validate(self, call: Call, body: dict, existing: dict | None) -> None:
        super().validate(call, body, existing)
        props = body.get("properties") or {}
        for k in ("startIpAddress", "endIpAddress"):
            try:
                ipaddress.IPv4Address(str(props.get(k)))
            except ValueError:
                raise _bad("FirewallRuleInvalidIpAddress" if k in props else "InvalidParameterValue",
                           f"Invalid value given for parameter {k[0].upper() + k[1:]}. Specify a valid parameter "
                           f"value.") from None
        if ipaddress.IPv4Address(props["startIpAddress"]) > ipaddress.IPv4Address(props["endIpAddress"]):
            raise _bad("FirewallRuleStartIpAddressGreaterThanEndIpAddress",
                       "The firewall rule's start IP address must not be greater than its end IP address.")

    def document(self, call: Call, rid: str, body: dict) -> dict:
        props = body.get("properties") or {}
        return {"id": rid, "name": rid.rsplit("/", 1)[-1], "type": self.type,
                "properties": {"startIpAddress": props["startIpAddress"], "endIpAddress": props["endIpAddress"]}}


def _store_admin(call: Call, server_id: str, props: dict) -> dict:
    res = {"id": f"{server_id}/administrators/ActiveDirectory", "name": "ActiveDirectory",
           "type": "Microsoft.Sql/servers/administrators", "properties": props, INTERNAL: {"created": now_iso()}}
    call.state.put(res)
    return res


def _store_aad_only(call: Call, server_id: str, value: bool) -> dict:
    res = {"id": f"{server_id}/azureADOnlyAuthentications/Default", "name": "Default",
           "type": "Microsoft.Sql/servers/azureADOnlyAuthentications",
           "properties": {"azureADOnlyAuthentication": value}, INTERNAL: {"created": now_iso()}}
    call.state.put(res)
    return res


class Administrator(ResourceType):
    type = "Microsoft.Sql/servers/administrators"
    api_versions = API_VERSIONS
    location_required = False
    identity_style = None
    created_status = 202

    def validate(self, call: Call, body: dict, existing: dict | None) -> None:
        if (call.ref.name or "").lower() != "activedirectory":
            raise _bad("InvalidParameterValue", f"Invalid value given for parameter AdministratorName: "
                                                f"'{call.ref.name}'. The only administrator name is ActiveDirectory.")
        super().validate(call, body, existing)
        props = body.get("properties") or {}
        if props.get("administratorType") != "ActiveDirectory":
            raise _bad("InvalidParameterValue", "Invalid value given for parameter AdministratorType. Specify a valid "
                                                "parameter value.")
        _check_admin(call, props)

    def create(self, call: Call, rid: str, body: dict) -> dict:
        res = _store_admin(call, call.ref.id.rsplit("/administrators/", 1)[0], _check_admin(call, body["properties"]))
        _async(call, {"location": (call.state.get(rid.rsplit("/administrators/", 1)[0]) or {}).get("location")},
               "serverAdministrator")
        return res

    def replace(self, call: Call, existing: dict, body: dict) -> dict:
        return _store_admin(call, existing["id"].rsplit("/administrators/", 1)[0],
                            _check_admin(call, body["properties"]))

    def render(self, call: Call, res: dict) -> dict:
        out = super().render(call, res)
        only = call.state.get(res["id"].rsplit("/administrators/", 1)[0] + "/azureADOnlyAuthentications/Default")
        out["properties"] = {**res["properties"], "azureADOnlyAuthentication": bool(
            ((only or {}).get("properties") or {}).get("azureADOnlyAuthentication"))}
        return out

    def on_delete(self, call: Call, existing: dict) -> None:
        only = call.state.get(existing["id"].rsplit("/administrators/", 1)[0] + "/azureADOnlyAuthentications/Default")
        if only and only["properties"].get("azureADOnlyAuthentication") and call.ref.id.lower() == \
                existing["id"].lower():
            # An Entra-only server must keep its Entra admin
            raise _bad("AdministratorDeleteNotAllowedWithAzureADOnlyAuthentication",
                       "The Microsoft Entra admin cannot be removed while Microsoft Entra-only authentication is "
                       "enabled. Disable Microsoft Entra-only authentication first.")


class AzureADOnlyAuthentication(ResourceType):
    type = "Microsoft.Sql/servers/azureADOnlyAuthentications"
    api_versions = tuple(v for v in API_VERSIONS if v >= "2020-02-02-preview")
    location_required = False
    identity_style = None

    def validate(self, call: Call, body: dict, existing: dict | None) -> None:
        if (call.ref.name or "").lower() != "default":
            raise _bad("InvalidParameterValue", f"Invalid value given for parameter AuthenticationName: "
                                                f"'{call.ref.name}'. The only name is Default.")
        super().validate(call, body, existing)
        value = (body.get("properties") or {}).get("azureADOnlyAuthentication")
        if not isinstance(value, bool):
            raise _bad("InvalidParameterValue", "Invalid value given for parameter AzureADOnlyAuthentication. Specify "
                                                "a valid parameter value.")
        server_id = call.ref.id.rsplit("/azureADOnlyAuthentications/", 1)[0]
        if value and call.state.get(f"{server_id}/administrators/ActiveDirectory") is None:
            raise _bad("AzureADOnlyAuthenticationWithoutAdministrator",
                       "Microsoft Entra-only authentication cannot be enabled before a Microsoft Entra admin is set on "
                       "the server.")

    def document(self, call: Call, rid: str, body: dict) -> dict:
        return {"id": rid, "name": "Default", "type": self.type,
                "properties": {"azureADOnlyAuthentication": body["properties"]["azureADOnlyAuthentication"]}}


TYPES = (Server(), Database(), FirewallRule(), Administrator(), AzureADOnlyAuthentication())
