"""The one model of Cosmos DB databases and containers, shared by ARM and the data plane.

A SQL database or container is an ARM resource in ``emu.state.resources``
(``.../databaseAccounts/{a}/sqlDatabases/{d}[/containers/{c}]``) whose
``properties.resource`` holds what the data plane serves as its document (``id``, ``_rid``,
``_etag``, ``_ts``, the partition key definition ...). Whichever side creates one (the RP's
``PUT``, or the data plane's ``POST /dbs`` with a key), the other sees the same object; deleting
it on either side deletes its items.
"""
from __future__ import annotations

import base64
import itertools
import os
import time

ACCOUNT_TYPE = "Microsoft.DocumentDB/databaseAccounts"
DATABASE_TYPE = "Microsoft.DocumentDB/databaseAccounts/sqlDatabases"
CONTAINER_TYPE = "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers"
INTERNAL = "_milab"
SUFFIX = ".documents.azure.com"

# A container created without a partition key definition (002's management program does this)
# gets the system key path /_partitionKey, the property that page's items carry.
DEFAULT_PARTITION_KEY = {"paths": ["/_partitionKey"], "kind": "Hash", "version": 2}
DEFAULT_INDEXING_POLICY = {"indexingMode": "consistent", "automatic": True, "includedPaths": [{"path": "/*"}],
                           "excludedPaths": [{"path": "/\"_etag\"/?"}]}

_etags = itertools.count(int(time.time()) % 100000 * 1000)
_INVALID_ID_CHARS = set("/\\?#")


def now() -> int:
    return int(time.time())


def new_etag() -> str:
    """An ETag in Cosmos's shape (``"00006700-0000-0000-0000-5a8271e90000"``)."""
    return f'"{next(_etags) & 0xffffffff:08x}-0000-0000-0000-{now():08x}0000"'


def rid(parent: str | None, size: int) -> str:
    """A resource id: the parent's bytes followed by ``size`` new bytes, base64 (Cosmos's form)."""
    head = base64.b64decode(parent) if parent else b""
    return base64.b64encode(head + os.urandom(size)).decode()


def invalid_id(value) -> str | None:
    """Why ``value`` cannot be a resource id, or None."""
    if not isinstance(value, str) or not value:
        return "The input content is invalid because the required properties - 'id; ' - are missing"
    if len(value) > 255:
        return "The id of a resource cannot be longer than 255 characters."
    if any(c in _INVALID_ID_CHARS for c in value) or value != value.rstrip():
        return "The input name '" + value + "' is invalid. Ensure to provide a unique non-empty string less than " \
                                            "'255' characters without '/', '\\\\', '?' or '#' characters."
    return None


def display_location(loc: str) -> str:
    names = {"westus": "West US", "westus2": "West US 2", "eastus": "East US", "eastus2": "East US 2",
             "centralus": "Central US", "northeurope": "North Europe", "westeurope": "West Europe",
             "southcentralus": "South Central US"}
    return names.get(str(loc).replace(" ", "").lower(), str(loc))


def account_host(name: str) -> str:
    return f"{name}{SUFFIX}"


def account_endpoint(name: str) -> str:
    return f"https://{account_host(name)}:443/"


# -- databases -------------------------------------------------------------------------------------
def database_resource(account: dict, db_id: str, location: str | None = None) -> dict:
    """A new ``sqlDatabases`` resource of ``account`` (not yet stored)."""
    r = rid(None, 4)
    res = {"id": f"{account['id']}/sqlDatabases/{db_id}", "name": db_id, "type": DATABASE_TYPE,
           "properties": {"resource": {"id": db_id, "_rid": r, "_self": f"dbs/{r}/", "_etag": new_etag(),
                                       "_colls": "colls/", "_users": "users/", "_ts": now()}},
           INTERNAL: {"created": now()}}
    if location or account.get("location"):
        res["location"] = location or account.get("location")
    res["tags"] = {}
    return res


def database_document(res: dict) -> dict:
    return dict(res["properties"]["resource"])


# -- containers ------------------------------------------------------------------------------------
class DefinitionError(ValueError):
    pass


def partition_key_definition(raw) -> dict:
    if raw is None:
        return dict(DEFAULT_PARTITION_KEY)
    if not isinstance(raw, dict) or not isinstance(raw.get("paths"), list) or not raw["paths"]:
        raise DefinitionError("The partition key definition must have a non-empty 'paths' array.")
    paths = raw["paths"]
    kind = raw.get("kind") or ("MultiHash" if len(paths) > 1 else "Hash")
    if kind not in ("Hash", "MultiHash", "Range"):
        raise DefinitionError(f"The partition key kind '{kind}' is not supported.")
    if len(paths) > 1 and kind != "MultiHash" or len(paths) > 3:
        raise DefinitionError("A partition key with more than one path must be of kind 'MultiHash' and have at "
                              "most 3 paths.")
    for p in paths:
        if not isinstance(p, str) or not p.startswith("/") or p == "/" or "//" in p:
            raise DefinitionError(f"The partition key path '{p}' is invalid; it must start with '/' and name a "
                                  f"property, e.g. '/pk'.")
    out = {"paths": list(paths), "kind": kind}
    out["version"] = raw.get("version", 2)
    return out


def container_resource(database: dict, definition: dict, location: str | None = None) -> dict:
    """A new ``containers`` resource below ``database`` from a container definition
    (``{"id", "partitionKey", "indexingPolicy", "defaultTtl", ...}``)."""
    cid = definition.get("id")
    why = invalid_id(cid)
    if why:
        raise DefinitionError(why)
    pk = partition_key_definition(definition.get("partitionKey"))
    db_rid = database["properties"]["resource"]["_rid"]
    r = rid(db_rid, 4)
    doc = {"id": cid, "indexingPolicy": definition.get("indexingPolicy") or dict(DEFAULT_INDEXING_POLICY),
           "partitionKey": pk,
           "conflictResolutionPolicy": definition.get("conflictResolutionPolicy")
           or {"mode": "LastWriterWins", "conflictResolutionPath": "/_ts", "conflictResolutionProcedure": ""},
           "geospatialConfig": {"type": "Geography"},
           "_rid": r, "_ts": now(), "_self": f"dbs/{db_rid}/colls/{r}/", "_etag": new_etag(),
           "_docs": "docs/", "_sprocs": "sprocs/", "_triggers": "triggers/", "_udfs": "udfs/",
           "_conflicts": "conflicts/"}
    for k in ("defaultTtl", "uniqueKeyPolicy", "analyticalStorageTtl", "computedProperties"):
        if k in definition:
            doc[k] = definition[k]
    res = {"id": f"{database['id']}/containers/{cid}", "name": cid, "type": CONTAINER_TYPE,
           "properties": {"resource": doc}, "tags": {}, INTERNAL: {"created": now()}}
    if location or database.get("location"):
        res["location"] = location or database.get("location")
    return res


def container_document(res: dict) -> dict:
    return dict(res["properties"]["resource"])


# -- items -----------------------------------------------------------------------------------------
MISSING = object()


def pk_value(doc: dict, path: str):
    """The value at a partition key path of an item (MISSING when absent)."""
    cur = doc
    for part in path.strip("/").split("/"):
        part = part.strip('"')
        if not isinstance(cur, dict) or part not in cur:
            return MISSING
        cur = cur[part]
    return cur


def pk_of_item(container: dict, doc: dict) -> list:
    """The item's partition key, in the header's JSON form (``["v"]``; ``[{}]`` for undefined)."""
    out = []
    for path in container["properties"]["resource"]["partitionKey"]["paths"]:
        v = pk_value(doc, path)
        out.append({} if v is MISSING else v)
    return out
