"""The Cosmos DB for NoSQL data plane at ``https://<account>.documents.azure.com``.

Served by the emulator itself (registered in ``emu.data_planes`` by host suffix), so that
azure-cosmos (sync and async), ``@azure/cosmos`` and the pages' REST calls run unchanged (a
namespaced guest also reaches every account's host by name, for ``@azure/cosmos``, which takes no
proxy: :meth:`CosmosGateway.guest_endpoints`):

* ``GET /``: the account document, whose endpoints name the account's own host (the SDK
  switches to the endpoint it names);
* databases, containers (with partition key definitions) and their partition key ranges
  (one range, ``0`` covering ``""``-``"FF"``, with the ``If-None-Match`` / 304 refresh the SDK
  makes); these are the ARM ``sqlDatabases``/``containers`` resources (:mod:`.model`);
* items: create, upsert (``x-ms-documentdb-is-upsert``), read, replace, patch, delete, read feed,
  with the ``x-ms-documentdb-partitionkey`` header, ETags and ``If-Match``/``If-None-Match``,
  ``_rid``/``_self``/``_etag``/``_attachments``/``_ts``, session tokens and continuation tokens;
* queries (:mod:`.query`), including the 400 / substatus 1004 answer to cross-partition queries
  the gateway cannot serve and the query-plan exchange the SDK starts after it.

Authorization, both ways, before anything is looked up:

* **keys** (``type=master``): the HMAC over verb, resource type, link and ``x-ms-date`` is checked
  against the account's primary and secondary keys, and for reads also its read-only keys; a
  read-only key cannot write. A wrong signature is 401 with the string the server signed (as
  Cosmos answers: azure-sdk-for-rust issue #831); a date more than 15 minutes away is 403
  (azure-cosmos-db-python-getting-started issue #18); ``disableLocalAuth`` refuses every key with
  401 "Local Authorization is disabled" (the message azure-cosmos raises, TWL300-AI-Apps issue 19;
  "Unauthorized (401); Substatus: 0" in the .NET SDK's report of it, azure-cosmosdb-ads-extension
  issue 120), not the 403 the issue expected.
* **Entra tokens** (``type=aad``): the shared validator with Cosmos's audiences (the account URL,
  ``<account>.sql.cosmos.azure.com``, ``<account>.sqlx.cosmos.azure.com``, ``https://cosmos.azure.com``;
  the list Cosmos prints for a token "intended for" another, azure-sdk-for-java issue #42800), then
  the data action of the operation through ``sqlRoleAssignments`` (:mod:`.rbac`): 403 substatus
  5301 naming the principal, the action and the resource (azure-cosmos-dotnet-v3 issue #2891).
  Metadata writes (databases, containers) with a token are 403 substatus 5300 "cannot be
  authorized by AAD token in data plane" (dotnet/efcore issue #32197): they go through ARM.

Errors have Cosmos's shape, ``{"code": ..., "message": "...\\r\\nActivityId: ..."}``, with the
``x-ms-substatus`` and ``x-ms-activity-id`` headers (Learn: "HTTP Status Codes for Azure Cosmos DB").

``Config.permissive_cosmos`` (``milab serve --permissive-cosmos``) authorizes every request,
with any credential or none; it exists only for the test that shows every Cosmos denial
check fails without these checks.
"""
from __future__ import annotations

import base64
import copy
import datetime as dt
import email.utils
import functools
import json
import logging
import random
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..guests import GuestEndpoint, endpoint_address
from ..tokens import TokenError
from . import auth, model, query, rbac
from .model import ACCOUNT_TYPE, CONTAINER_TYPE, DATABASE_TYPE, INTERNAL, SUFFIX

if TYPE_CHECKING:  # pragma: no cover
    from ..server import Emulator

log = logging.getLogger("milab.cosmos")

COMMON = "Microsoft.Azure.Documents.Common/2.14.0"
CLOCK_SKEW = dt.timedelta(minutes=15)
DEFAULT_PAGE = 100
MAX_REQUEST = 2 * 1024 * 1024 + 64 * 1024  # an item may be 2 MB; a request a little more
SERIALIZED_ITEMS, SERIALIZED_MAX = 4096, 16 * 1024  # point reads keep at most 64 MiB of items' JSON
PK_RANGE = {"id": "0", "minInclusive": "", "maxExclusive": "FF", "ridPrefix": 0, "throughputFraction": 1,
            "status": "online", "parents": []}
KEY_NAMES = ("primaryMasterKey", "secondaryMasterKey", "primaryReadonlyMasterKey", "secondaryReadonlyMasterKey")
TSG_UNAUTHORIZED = "For more info: https://aka.ms/cosmosdb-tsg-unauthorized."


class CosmosError(Exception):
    def __init__(self, status: int, code: str, message: str, substatus: int = 0, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.substatus = status, code, message, substatus
        self.headers = headers or {}
        self.body: dict = {}  # more members of the error body (after code and message)


def _codes(status: int) -> str:
    return {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
            409: "Conflict", 412: "PreconditionFailed", 413: "RequestEntityTooLarge"}.get(status, "BadRequest")


def error(status: int, message: str, substatus: int = 0, code: str | None = None, **headers) -> CosmosError:
    return CosmosError(status, code or _codes(status), message, substatus, headers)


def not_found() -> CosmosError:
    return error(404, "Entity with the specified id does not exist in the system. More info: "
                      "https://aka.ms/cosmosdb-tsg-not-found")


def _aad_audiences(account: str) -> tuple[str, ...]:
    return (f"https://{account}{SUFFIX}", f"https://{account}.sql.cosmos.azure.com",
            f"https://{account}.sqlx.cosmos.azure.com", "https://cosmos.azure.com")


_TOKEN_MESSAGES = {
    "missing": "Required Header authorization is missing. Ensure a valid Authorization token is passed.",
    "malformed": "The authorization token is not a valid AAD token: it could not be parsed.",
    "signature": "Failed to validate the AAD token: its signature is not valid.",
    "issuer": "Failed to validate the AAD token: the issuer is not the tenant of this database account.",
    "tenant": "Failed to validate the AAD token: the tenant is not the tenant of this database account.",
    "expired": "Failed to validate the AAD token: the token has expired.",
    "not_yet_valid": "Failed to validate the AAD token: the token is not yet valid.",
}


class Principal:
    """Who a request runs as: a key (``key`` kind) or an Entra principal (``oid``)."""

    def __init__(self, kind: str, oid: str = "", read_only: bool = False):
        self.kind, self.oid, self.read_only = kind, oid, read_only


class Items:
    """A container's items by (partition key JSON, id), and by logical partition: a query that names
    its partition key reads that partition only, as Cosmos routes it to one."""

    def __init__(self):
        self._all: dict[tuple[str, str], dict] = {}
        self._partitions: dict[str, dict[str, dict]] = {}

    def get(self, key: tuple[str, str]) -> dict | None:
        return self._all.get(key)

    def __setitem__(self, key: tuple[str, str], item: dict) -> None:
        self._all[key] = item
        self._partitions.setdefault(key[0], {})[key[1]] = item

    def __delitem__(self, key: tuple[str, str]) -> None:
        del self._all[key]
        part = self._partitions[key[0]]
        del part[key[1]]
        if not part:
            del self._partitions[key[0]]

    def items(self) -> list[tuple[tuple[str, str], dict]]:
        return list(self._all.items())

    def partition(self, pk: str) -> list[tuple[tuple[str, str], dict]]:
        return [((pk, i), d) for i, d in (self._partitions.get(pk) or {}).items()]


class CosmosGateway:
    """The data plane at ``*.documents.azure.com`` (registered in ``emu.data_planes``)."""

    def __init__(self, emu: "Emulator"):
        self.emu = emu
        # items by container resource id (lower case)
        self.items: dict[str, Items] = {}
        self._lsn: dict[str, int] = {}
        self._accounts: dict[str, str] = {}  # account name -> lower-case resource id
        self._serialized: dict[tuple, tuple[dict, bytes]] = {}  # (_rid, _etag) -> (the item, its JSON)
        emu.data_planes[SUFFIX] = self
        emu.guests.add_endpoints(self.guest_endpoints)

    @property
    def permissive(self) -> bool:
        return bool(getattr(self.emu.config, "permissive_cosmos", False))

    def guest_endpoints(self) -> list[GuestEndpoint]:
        """Every account's host on port 443 inside a namespaced guest (``127.2.x.y``, by its name in the
        guest's ``/etc/hosts``), served by the emulator's HTTPS: ``@azure/cosmos`` (Node.js) takes no
        proxy from the environment and connects to the account's name itself, as it would in a VM."""
        names = sorted(r["name"].lower() for r in self.emu.state.resources.values() if r.get("type") == ACCOUNT_TYPE)
        return [GuestEndpoint(f"{name}{SUFFIX}", endpoint_address(2, i), 443,
                              serve=self.emu.serve_https_on) for i, name in enumerate(names)]

    # -- the model ---------------------------------------------------------------------------------
    def account_resource(self, name: str) -> dict | None:
        state = self.emu.state
        key = self._accounts.get(name)
        if key is not None:
            res = state.resources.get(key)
            if res is not None and res.get("name") == name:
                return res
        for k, r in state.resources.items():
            if r.get("type") == ACCOUNT_TYPE and r.get("name") == name:
                self._accounts[name] = k
                return r
        return None

    def drop(self, resource_id: str) -> None:
        """Forget the items of a container, or of every container below a database or account."""
        prefix = resource_id.rstrip("/").lower()
        for key in [k for k in self.items if k == prefix or k.startswith(prefix + "/")]:
            del self.items[key]
            self._lsn.pop(key, None)

    def _database(self, account: dict, db: str) -> dict | None:
        return self.emu.state.get(f"{account['id']}/sqlDatabases/{db}")

    def _container(self, account: dict, db: str, coll: str) -> dict | None:
        return self.emu.state.get(f"{account['id']}/sqlDatabases/{db}/containers/{coll}")

    def _store(self, container: dict) -> Items:
        key = container["id"].lower()
        store = self.items.get(key)
        if store is None:
            store = self.items[key] = Items()
        return store

    def _next_lsn(self, container: dict) -> int:
        key = container["id"].lower()
        self._lsn[key] = self._lsn.get(key, 0) + 1
        return self._lsn[key]

    # -- entry point -------------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        activity = _activity_id()
        host = (request.url.host or request.host or "").split(":")[0].lower()
        name = host[: -len(SUFFIX)] if host.endswith(SUFFIX) else ""
        try:
            account = self.account_resource(name) if name and "." not in name else None
            if account is None:
                raise error(404, f"The database account '{name}' does not exist in the emulated subscription "
                                 f"(a real client would fail to resolve {host}).")
            target = auth.target_of(request.path)
            principal = self.authenticate(request, account, target)
            if (request.content_length or 0) > MAX_REQUEST:
                raise error(413, "Request size is too large.")
            raw = await request.content.read(MAX_REQUEST + 1) if request.can_read_body else b""
            if len(raw) > MAX_REQUEST:
                raise error(413, "Request size is too large.")
            return self.route(request, account, target, principal, raw, activity)
        except CosmosError as e:
            return self._error_response(e, activity)
        except query.QueryError as e:
            return self._error_response(error(400, "Message: " + e.errors_json()), activity)

    def _error_response(self, e: CosmosError, activity: str) -> web.Response:
        body = {"code": e.code, "message": f"{e.message}\r\nActivityId: {activity}, {COMMON}", **e.body}
        headers = {"x-ms-activity-id": activity, "x-ms-request-charge": "0", "x-ms-gatewayversion": "2.0.0"}
        if e.substatus:
            headers["x-ms-substatus"] = str(e.substatus)
        headers.update(e.headers)
        return web.Response(status=e.status, text=json.dumps(body), content_type="application/json",
                            headers=headers)

    # -- authentication ------------------------------------------------------------------------------
    def authenticate(self, request: web.Request, account: dict, target: auth.Target) -> Principal:
        if self.permissive:
            return Principal("permissive")
        header = request.headers.get("Authorization", "")
        if not header:
            raise error(401, _TOKEN_MESSAGES["missing"])
        try:
            cred = auth.parse_authorization(header)
        except auth.MalformedAuthorization as e:
            raise error(401, f"The authorization header is invalid: {e}. {TSG_UNAUTHORIZED}") from None
        if cred.kind == "aad":
            try:
                claims = self.emu.tokens.validate(cred.sig, _aad_audiences(account["name"]))
            except TokenError as e:
                if e.reason == "audience":
                    accepted = ", ".join(_aad_audiences(account["name"]))
                    raise error(401, f"Provided AAD token is intended for [{e.claims.get('aud')}]. This database "
                                     f"account accepts tokens intended for [{accepted}].", 5008) from None
                raise error(401, _TOKEN_MESSAGES.get(e.reason, e.message)) from None
            return Principal("aad", str(claims.get("oid", "")))
        props = account.get("properties") or {}
        if props.get("disableLocalAuth"):
            raise error(401, "Local Authorization is disabled. Use an AAD token to authorize all requests.")
        if cred.kind != "master":
            raise error(401, f"The input authorization token can't serve the request. Resource tokens are not "
                             f"issued by this account. {TSG_UNAUTHORIZED}")
        date = request.headers.get("x-ms-date") or request.headers.get("Date") or ""
        when = _parse_date(date)
        if when is None:
            raise error(401, f"The input authorization token can't serve the request. The request has no valid "
                             f"'x-ms-date' header. {TSG_UNAUTHORIZED}")
        now = dt.datetime.now(dt.timezone.utc)
        if abs(now - when) > CLOCK_SKEW:
            fmt = "%a, %d %b %Y %H:%M:%S GMT"
            raise error(403, f"The authorization token is not valid at the current time. Please create another "
                             f"token and retry (token start time: {when.strftime(fmt)}, token expiry time: "
                             f"{(when + CLOCK_SKEW).strftime(fmt)}, current server time: {now.strftime(fmt)}).")
        keys = (account.get(INTERNAL) or {}).get("keys") or {}
        verb = request.method
        for kind in KEY_NAMES[:2]:
            if keys.get(kind) and auth.signature_matches(keys[kind], cred, verb, target, date):
                return Principal("key")
        if _is_read(request, target):
            for kind in KEY_NAMES[2:]:
                if keys.get(kind) and auth.signature_matches(keys[kind], cred, verb, target, date):
                    return Principal("key", read_only=True)
        signed = auth.string_to_sign(verb, target.resource_type, target.link, date)
        raise error(401, f"The input authorization token can't serve the request. The wrong key is being used or the "
                         f"expected payload is not built as per the protocol. {TSG_UNAUTHORIZED} Server used the "
                         f"following payload to sign: '{signed}'")

    def authorize(self, request: web.Request, account: dict, principal: Principal, action: str,
                  resource: str) -> None:
        """Entra principals need ``action`` on ``resource`` (``/``, ``/dbs/d``, ``/dbs/d/colls/c``)."""
        if principal.kind != "aad":
            return
        if action == "metadata-write":
            raise error(403, f"Request blocked by Auth {account['name']} : The given request "
                             f"[{request.method} {request.path}] cannot be authorized by AAD token in data plane. "
                             f"Learn more: https://aka.ms/cosmos-native-rbac.", 5300)
        if not rbac.allowed(self.emu.state, account, principal.oid, action, resource):
            log.info("denied %s on %s for %s", action, resource, principal.oid)
            raise error(403, f"Request blocked by Auth {account['name']} : Request is blocked because principal "
                             f"[{principal.oid}] does not have required RBAC permissions to perform action "
                             f"[{action}] on resource [{resource}]. Learn more: https://aka.ms/cosmos-native-rbac.",
                        5301)

    # -- routing -------------------------------------------------------------------------------------
    def route(self, request: web.Request, account: dict, target: auth.Target, principal: Principal, raw: bytes,
              activity: str) -> web.Response:
        segs = list(target.segments)
        method = request.method
        n = len(segs)
        if n == 0:
            if method != "GET":
                raise error(405, f"The request method {method} is not supported on the database account.")
            self.authorize(request, account, principal, rbac.READ_METADATA, "/")
            return self._ok(self.account_document(account), activity)
        if segs[0] == "offers":
            self.authorize(request, account, principal, rbac.READ_METADATA, "/")
            return self._ok({"_rid": "", "Offers": [], "_count": 0}, activity)
        if segs[0] != "dbs" or (n > 2 and segs[2] != "colls") or n > 6 or \
                (n > 4 and segs[4] not in ("docs", "pkranges")):
            raise error(400, f"The resource path '{request.path}' is not supported by the emulated Cosmos DB "
                             f"(databases, containers, partition key ranges and items are).")
        if n == 1:
            return self.databases(request, account, principal, raw, activity)
        if n == 2:
            return self.database(request, account, principal, segs[1], activity)
        db = self._database(account, segs[1])
        if db is None and n < 5:  # authorized as the operation would be, before existence
            read = method == "GET" or _is_query(request)
            scope = f"/dbs/{segs[1]}" + (f"/colls/{segs[3]}" if n == 4 else "")
            self.authorize(request, account, principal, rbac.READ_METADATA if read else "metadata-write", scope)
            raise not_found()
        if n == 3:
            return self.containers(request, account, principal, db, raw, activity)
        if n == 4:
            return self.container(request, account, principal, db, segs[3], raw, activity)
        scope = f"/dbs/{segs[1]}/colls/{segs[3]}"
        container = self._container(account, segs[1], segs[3]) if db is not None else None
        if segs[4] == "pkranges":
            self.authorize(request, account, principal, rbac.READ_METADATA, scope)
            if container is None:
                raise not_found()
            return self.pkranges(request, container, activity)
        if n == 5:
            return self.documents(request, account, principal, container, scope, raw, activity)
        return self.document(request, account, principal, container, scope, segs[5], raw, activity)

    # -- responses ---------------------------------------------------------------------------------------
    def _ok(self, body: Any, activity: str, status: int = 200, headers: dict | None = None) -> web.Response:
        h = {"x-ms-activity-id": activity, "x-ms-request-charge": "1", "x-ms-gatewayversion": "2.0.0",
             "x-ms-serviceversion": "version=2.14.0.0", "x-ms-schemaversion": "1.18"}
        if isinstance(body, dict) and body.get("_etag"):
            h["etag"] = body["_etag"]
        h.update(headers or {})
        if body is None:
            return web.Response(status=status, headers=h)
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return web.Response(status=status, body=data, content_type="application/json", charset="utf-8", headers=h)

    def _item_json(self, item: dict) -> bytes:
        """A stored item as the bytes of its JSON, kept while that very dict is the item's version: a
        write stores a new dict with a new ``_etag`` and never changes a stored one in place."""
        key = (item.get("_rid"), item.get("_etag"))
        kept = self._serialized.get(key)
        if kept is not None and kept[0] is item:
            return kept[1]
        data = json.dumps(item).encode()
        if len(data) <= SERIALIZED_MAX:
            if len(self._serialized) >= SERIALIZED_ITEMS:
                self._serialized.pop(next(iter(self._serialized)))  # the oldest
            self._serialized[key] = (item, data)
        return data

    def account_document(self, account: dict) -> dict:
        name = account["name"]
        loc = model.display_location(account.get("location", "westus"))
        endpoint = model.account_endpoint(name)
        consistency = (account.get("properties") or {}).get("consistencyPolicy") or {}
        config = {"maxSqlQueryInputLength": 262144, "maxJoinsPerSqlQuery": 5, "maxLogicalAndPerSqlQuery": 500,
                  "maxLogicalOrPerSqlQuery": 500, "maxUdfRefPerSqlQuery": 10, "maxInExpressionItemsCount": 16000,
                  "queryMaxInMemorySortDocumentCount": 500, "maxQueryRequestTimeoutFraction": 0.9,
                  "sqlAllowNonFiniteNumbers": False, "sqlAllowAggregateFunctions": True,
                  "sqlAllowSubQuery": True, "sqlAllowScalarSubQuery": True, "allowNewKeywords": True,
                  "sqlAllowLike": True, "sqlAllowGroupByClause": True, "maxSpatialQueryCells": 12,
                  "spatialMaxGeometryPointCount": 256, "sqlDisableOptimizationFlags": 0,
                  "sqlAllowTop": True, "enableSpatialIndexing": True}
        return {"_self": "", "id": name, "_rid": model.account_host(name), "media": "//media/",
                "addresses": "//addresses/", "_dbs": "//dbs/",
                "writableLocations": [{"name": loc, "databaseAccountEndpoint": endpoint}],
                "readableLocations": [{"name": loc, "databaseAccountEndpoint": endpoint}],
                "enableMultipleWriteLocations": False, "continuousBackupEnabled": False,
                "enableNRegionSynchronousCommit": False, "enablePerPartitionFailoverBehavior": False,
                "userReplicationPolicy": {"asyncReplication": False, "minReplicaSetSize": 3, "maxReplicasetSize": 4},
                "userConsistencyPolicy": {"defaultConsistencyLevel":
                                          consistency.get("defaultConsistencyLevel", "Session")},
                "systemReplicationPolicy": {"minReplicaSetSize": 3, "maxReplicasetSize": 4},
                "readPolicy": {"primaryReadCoefficient": 1, "secondaryReadCoefficient": 1},
                "queryEngineConfiguration": json.dumps(config)}

    # -- databases -------------------------------------------------------------------------------------
    def databases(self, request, account, principal, raw, activity):
        if request.method == "GET":
            self.authorize(request, account, principal, rbac.READ_METADATA, "/")
            dbs = [model.database_document(r) for r in self._children(account["id"], DATABASE_TYPE)]
            return self._feed(request, "Databases", "", dbs, activity)
        if request.method == "POST":
            self.authorize(request, account, principal, "metadata-write", "/")
            self._writable(principal)
            if _is_query(request):  # a query over databases: SELECT * FROM root r WHERE r.id = @id
                dbs = [model.database_document(r) for r in self._children(account["id"], DATABASE_TYPE)]
                return self._query_feed(request, raw, "Databases", "", dbs, activity)
            body = _json_object(raw)
            why = model.invalid_id(body.get("id"))
            if why:
                raise error(400, why)
            if self._database(account, body["id"]) is not None:
                raise error(409, "Entity with the specified id already exists in the system.")
            res = self.emu.state.put(model.database_resource(account, body["id"]))
            self.emu.state.save()
            return self._ok(model.database_document(res), activity, 201)
        raise error(405, f"The request method {request.method} is not supported on the database feed.")

    def database(self, request, account, principal, db_id, activity):
        res = self._database(account, db_id)
        if request.method == "GET":
            self.authorize(request, account, principal, rbac.READ_METADATA, f"/dbs/{db_id}")
            if res is None:
                raise not_found()
            return self._ok(model.database_document(res), activity)
        if request.method == "DELETE":
            self.authorize(request, account, principal, "metadata-write", f"/dbs/{db_id}")
            self._writable(principal)
            if res is None:
                raise not_found()
            self._delete_tree(res)
            return self._ok(None, activity, 204)
        raise error(405, f"The request method {request.method} is not supported on a database.")

    def _children(self, parent_id: str, type_name: str) -> list[dict]:
        prefix = parent_id.lower() + "/"
        depth = parent_id.count("/") + 2
        return [r for k, r in self.emu.state.resources.items()
                if k.startswith(prefix) and r.get("type") == type_name and r["id"].count("/") == depth]

    def _delete_tree(self, res: dict) -> None:
        state = self.emu.state
        for child in state.children(res["id"]):
            state.delete(child["id"])
        state.delete(res["id"])
        self.drop(res["id"])
        state.save()

    def _writable(self, principal: Principal) -> None:
        if principal.read_only:  # a read-only key's signature is only ever checked for reads
            raise error(401, f"The input authorization token can't serve the request. The wrong key is being used "
                             f"or the expected payload is not built as per the protocol. {TSG_UNAUTHORIZED}")

    # -- containers --------------------------------------------------------------------------------------
    def containers(self, request, account, principal, db, raw, activity):
        scope = f"/dbs/{db['name']}"
        db_rid = db["properties"]["resource"]["_rid"]
        if request.method == "GET":
            self.authorize(request, account, principal, rbac.READ_METADATA, scope)
            colls = [model.container_document(r) for r in self._children(db["id"], CONTAINER_TYPE)]
            return self._feed(request, "DocumentCollections", db_rid, colls, activity)
        if request.method == "POST":
            if _is_query(request):
                self.authorize(request, account, principal, rbac.READ_METADATA, scope)
                colls = [model.container_document(r) for r in self._children(db["id"], CONTAINER_TYPE)]
                return self._query_feed(request, raw, "DocumentCollections", db_rid, colls, activity)
            self.authorize(request, account, principal, "metadata-write", scope)
            self._writable(principal)
            body = _json_object(raw)
            if model.invalid_id(body.get("id")) is None and self._container(account, db["name"], body["id"]):
                raise error(409, "Entity with the specified id already exists in the system.")
            try:
                res = model.container_resource(db, body)
            except model.DefinitionError as e:
                raise error(400, str(e)) from None
            self.emu.state.put(res)
            self.emu.state.save()
            return self._ok(model.container_document(res), activity, 201)
        raise error(405, f"The request method {request.method} is not supported on the container feed.")

    def container(self, request, account, principal, db, coll, raw, activity):
        res = self._container(account, db["name"], coll)
        scope = f"/dbs/{db['name']}/colls/{coll}"
        if request.method == "GET":
            self.authorize(request, account, principal, rbac.READ_METADATA, scope)
            if res is None:
                raise not_found()
            return self._ok(model.container_document(res), activity)
        if request.method in ("DELETE", "PUT"):
            self.authorize(request, account, principal, "metadata-write", scope)
            self._writable(principal)
            if res is None:
                raise not_found()
            if request.method == "DELETE":
                self._delete_tree(res)
                return self._ok(None, activity, 204)
            body = _json_object(raw)
            doc = res["properties"]["resource"]
            if body.get("id") != coll:
                raise error(400, "The id in the request body must be the id of the container in the URL.")
            if body.get("partitionKey") not in (None, doc["partitionKey"]) and \
                    model.partition_key_definition(body.get("partitionKey")) != doc["partitionKey"]:
                raise error(400, "The partition key of a container cannot be changed.")
            for k in ("indexingPolicy", "defaultTtl", "conflictResolutionPolicy", "computedProperties"):
                if k in body:
                    doc[k] = body[k]
            doc["_etag"], doc["_ts"] = model.new_etag(), model.now()
            self.emu.state.put(res)
            self.emu.state.save()
            return self._ok(model.container_document(res), activity)
        raise error(405, f"The request method {request.method} is not supported on a container.")

    def pkranges(self, request, container, activity):
        doc = container["properties"]["resource"]
        etag = f'"{doc["_rid"]}-pkranges"'
        if request.headers.get("If-None-Match") == etag:
            return self._ok(None, activity, 304, {"etag": etag})
        rng = dict(PK_RANGE, _rid=doc["_rid"], _self=f"{doc['_self']}pkranges/{doc['_rid']}/", _etag=etag,
                   _ts=doc["_ts"], _lsn=1)
        body = {"_rid": doc["_rid"], "PartitionKeyRanges": [rng], "_count": 1}
        return self._ok(body, activity, headers={"etag": etag, "x-ms-item-count": "1"})

    # -- items: feeds and queries -----------------------------------------------------------------------
    def documents(self, request, account, principal, container, scope, raw, activity):
        method = request.method
        if method == "POST" and (_is_query(request) or request.headers.get("x-ms-cosmos-is-query-plan-request")):
            self.authorize(request, account, principal, rbac.EXECUTE_QUERY, scope)
            if container is None:
                raise not_found()
            return self.run_query(request, container, raw, activity)
        if method == "GET":
            incremental = request.headers.get("A-IM", "").lower() == "incremental feed"
            self.authorize(request, account, principal, rbac.READ_CHANGE_FEED if incremental else rbac.EXECUTE_QUERY,
                           scope)
            if container is None:
                raise not_found()
            docs = self._docs_in_scope(request, container)
            rid = container["properties"]["resource"]["_rid"]
            return self._feed(request, "Documents", rid, [d for _, d in docs], activity)
        if method == "POST":
            upsert = _flag(request.headers.get("x-ms-documentdb-is-upsert"))
            self.authorize(request, account, principal, rbac.item_action("upsert" if upsert else "create"), scope)
            self._writable(principal)
            if container is None:
                raise not_found()
            return self.create_item(request, container, raw, upsert, activity)
        raise error(405, f"The request method {method} is not supported on the item feed.")

    def _docs_in_scope(self, request, container) -> list[tuple[tuple[str, str], dict]]:
        store = self._store(container)
        pk = request.headers.get("x-ms-documentdb-partitionkey")
        if pk is None:
            return store.items()
        return store.partition(_header_pk_key(pk, container))

    def run_query(self, request, container, raw, activity):
        body = _json_object(raw)
        text = body.get("query")
        if not isinstance(text, str):
            raise error(400, "The query body must be a JSON object with a 'query' string.")
        params = query.parameters(body)
        q = query.parse(text)
        if _flag(request.headers.get("x-ms-cosmos-is-query-plan-request")):
            return self._ok(query.query_plan(q, params), activity)
        has_pk = request.headers.get("x-ms-documentdb-partitionkey") is not None
        has_range = request.headers.get("x-ms-documentdb-partitionkeyrangeid") is not None
        if not has_pk and not has_range and q.needs_plan:
            # the gateway does not merge partitions' results itself (ORDER BY, aggregates, TOP ...):
            # the SDK asks for the query plan and runs the rewritten query on each partition key range
            e = error(400, "The provided cross partition query can not be directly served by the gateway. This is "
                           "a first chance (internal) exception that all newer clients will know how to handle "
                           "gracefully. This exception is traced, but unless you see it bubble up as an exception "
                           "(which only happens on older SDK clients), then you can safely ignore this message.",
                      1004)
            # with the query plan as a JSON string in additionalErrorInfo: @azure/cosmos fetches the plan
            # only for an error that has one (QueryIterator.needsQueryPlan), and the Java SDK builds its
            # PartitionedQueryExecutionInfo from that string (CosmosError.getPartitionedQueryExecutionInfo)
            e.body["additionalErrorInfo"] = json.dumps(query.query_plan(q, params), separators=(",", ":"))
            raise e
        docs = [d for _, d in self._docs_in_scope(request, container)]
        results = query.execute(q, docs, params)
        rid = container["properties"]["resource"]["_rid"]
        # SELECT * answers the stored items themselves, whose JSON is kept
        return self._page(request, "Documents", rid, results, activity, stored=q.kind == "star")

    def _query_feed(self, request, raw, key, rid, docs, activity):
        body = _json_object(raw)
        q = query.parse(str(body.get("query") or ""))
        return self._page(request, key, rid, query.execute(q, docs, query.parameters(body)), activity)

    def _feed(self, request, key, rid, docs, activity):
        return self._page(request, key, rid, docs, activity)

    def _page(self, request, key, rid, results, activity, stored=False):
        size = _page_size(request.headers.get("x-ms-max-item-count"))
        start = _continuation_offset(request.headers.get("x-ms-continuation"))
        page = results[start:start + size]
        headers = {"x-ms-item-count": str(len(page))}
        if key == "Documents":
            headers["x-ms-documentdb-partitionkeyrangeid"] = PK_RANGE["id"]
        if start + size < len(results):
            token = base64.b64encode(str(start + size).encode()).decode()
            headers["x-ms-continuation"] = json.dumps({"token": token, "range": {"min": "", "max": "FF"}})
        if stored:
            data = b"".join((b'{"_rid": ', json.dumps(rid).encode(), b', "', key.encode(), b'": [',
                             b", ".join(self._item_json(d) for d in page), b'], "_count": ',
                             str(len(page)).encode(), b"}"))
            return self._ok(data, activity, headers=headers)
        return self._ok({"_rid": rid, key: page, "_count": len(page)}, activity, headers=headers)

    # -- items: one item ----------------------------------------------------------------------------------
    def _item_key(self, request, container, item_id: str) -> tuple[str, str]:
        header = request.headers.get("x-ms-documentdb-partitionkey")
        if header is None:
            raise error(400, "PartitionKey value must be supplied for this operation.")
        return _header_pk_key(header, container), item_id

    def _system(self, container, item: dict, item_rid: str | None = None) -> dict:
        doc = container["properties"]["resource"]
        rid = item_rid or model.rid(doc["_rid"], 8)
        item["_rid"] = rid
        item["_self"] = f"{doc['_self']}docs/{rid}/"
        item["_etag"] = model.new_etag()
        item["_attachments"] = "attachments/"
        item["_ts"] = model.now()
        return item

    def _write_headers(self, container, item: dict | None = None) -> dict:
        lsn = self._next_lsn(container)
        doc = container["properties"]["resource"]
        h = {"x-ms-session-token": f"0:-1#{lsn}", "lsn": str(lsn), "x-ms-global-Committed-lsn": str(lsn),
             "x-ms-alt-content-path": _alt_path(container), "x-ms-content-path": doc["_rid"],
             "x-ms-documentdb-partitionkeyrangeid": PK_RANGE["id"]}
        if item is not None:
            h["etag"] = item["_etag"]
        return h

    def create_item(self, request, container, raw, upsert, activity):
        body = _json_object(raw)
        why = model.invalid_id(body.get("id"))
        if why:
            raise error(400, why)
        extracted = model.pk_of_item(container, body)
        header = request.headers.get("x-ms-documentdb-partitionkey")
        if header is None:
            raise error(400, "PartitionKey value must be supplied for this operation.")
        if _header_pk_key(header, container) != _pk_key(extracted):
            raise error(400, "PartitionKey extracted from document doesn't match the one specified in the header. "
                             "Learn more: https://aka.ms/CosmosDB/sql/errors/wrong-pk-value", 1001)
        store = self._store(container)
        key = (_pk_key(extracted), body["id"])
        existing = store.get(key)
        if existing is not None and not upsert:
            raise error(409, "Entity with the specified id already exists in the system.")
        if existing is not None:
            _check_if_match(request, existing)
        item = self._system(container, _user_properties(body), existing["_rid"] if existing else None)
        store[key] = item
        return self._ok(item, activity, 200 if existing is not None else 201, self._write_headers(container, item))

    def document(self, request, account, principal, container, scope, item_id, raw, activity):
        method = request.method
        verb = {"GET": "read", "HEAD": "read", "PUT": "replace", "PATCH": "replace", "DELETE": "delete"}.get(method)
        if verb is None:
            raise error(405, f"The request method {method} is not supported on an item.")
        self.authorize(request, account, principal, rbac.item_action(verb), scope)
        if verb != "read":
            self._writable(principal)
        if container is None:
            raise not_found()
        key = self._item_key(request, container, item_id)
        store = self._store(container)
        existing = store.get(key)
        if existing is None:
            raise not_found()
        if method in ("GET", "HEAD"):
            if request.headers.get("If-None-Match") == existing["_etag"]:
                return self._ok(None, activity, 304, {"etag": existing["_etag"]})
            lsn = self._lsn.get(container["id"].lower(), 0)
            # the range id matters: azure-cosmos drops its whole routing-map cache when a response names a
            # partition key range it does not know (or none). Cosmos answers a read with the session token
            # and the alternate content path too (a recorded point read in the public
            # azure-cosmosdb-hackathon README carries x-ms-session-token and x-ms-alt-content-path), so
            # a Session client keeps and sends tokens for reads as well
            return self._ok(self._item_json(existing), activity, headers={
                "etag": existing["_etag"], "x-ms-session-token": f"0:-1#{lsn}", "lsn": str(lsn),
                "x-ms-alt-content-path": _alt_path(container),
                "x-ms-content-path": container["properties"]["resource"]["_rid"],
                "x-ms-documentdb-partitionkeyrangeid": PK_RANGE["id"]})
        _check_if_match(request, existing)
        if method == "DELETE":
            del store[key]
            return self._ok(None, activity, 204, self._write_headers(container))
        if method == "PATCH":
            # ``{"operations": [...], "condition": ...}``, or the bare list of operations @azure/cosmos
            # sends when given one (its PatchRequestBody is either)
            new = self._patched(existing, _json_object(raw, lists_as="operations"))
        else:
            new = _json_object(raw)
            if new.get("id") != item_id:
                raise error(400, "The id of the item in the request body must be the id in the URL.")
        if _pk_key(model.pk_of_item(container, new)) != key[0]:
            raise error(400, "PartitionKey extracted from document doesn't match the one specified in the header. "
                             "Learn more: https://aka.ms/CosmosDB/sql/errors/wrong-pk-value", 1001)
        item = self._system(container, _user_properties(new), existing["_rid"])
        store[key] = item
        return self._ok(item, activity, 200, self._write_headers(container, item))

    def _patched(self, existing: dict, body: dict) -> dict:
        ops = body.get("operations")
        if not isinstance(ops, list) or not ops or len(ops) > 10:
            raise error(400, "The patch request must have between 1 and 10 operations.")
        cond = body.get("condition")
        if cond is not None:
            if not isinstance(cond, str):
                raise error(400, "The patch condition must be a string ('from c where ...').")
            q = query.parse("SELECT * " + cond)
            if not query.execute(q, [existing], {}):
                raise error(412, "Operation cannot be performed because one of the specified precondition is not met.")
        doc = copy.deepcopy(_user_properties(existing))
        for op in ops:
            if not isinstance(op, dict):
                raise error(400, f"The patch operation {json.dumps(op)[:200]} is not an object with 'op' and 'path'.")
            try:
                _apply_patch(doc, op)
            except (KeyError, IndexError, TypeError, ValueError) as e:
                raise error(400, f"The patch operation {json.dumps(op)[:200]} cannot be applied: {e}") from None
        if doc.get("id") != existing.get("id"):
            raise error(400, "The id of an item cannot be changed by a patch.")
        return doc

    async def close(self) -> None:
        self.items.clear()


# -- helpers ------------------------------------------------------------------------------------------
SYSTEM_PROPERTIES = ("_rid", "_self", "_etag", "_attachments", "_ts")


def _user_properties(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k not in SYSTEM_PROPERTIES}


def _alt_path(container: dict) -> str:
    parts = container["id"].split("/")
    return f"dbs/{parts[-3]}/colls/{parts[-1]}"


@functools.lru_cache(maxsize=64)  # clients sign many requests in the same second
def _parse_date(value: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def _flag(value: str | None) -> bool:
    return str(value or "").strip().lower() == "true"


def _is_query(request) -> bool:
    return _flag(request.headers.get("x-ms-documentdb-isquery")) or \
        request.headers.get("Content-Type", "").split(";")[0].strip().lower() == "application/query+json"


def _is_read(request, target: auth.Target) -> bool:
    if request.method in ("GET", "HEAD"):
        return True
    return request.method == "POST" and (_is_query(request) or
                                         _flag(request.headers.get("x-ms-cosmos-is-query-plan-request")))


def _json_object(raw: bytes, lists_as: str | None = None) -> dict:
    """The JSON object of a request body (a list too, as ``{lists_as: [...]}``, when ``lists_as`` is
    given), or Cosmos's 400 for an invalid payload."""
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        body = None
    if lists_as and isinstance(body, list):
        return {lists_as: body}
    if not isinstance(body, dict):
        raise error(400, 'Message: {"Errors":["The request payload is invalid. Ensure to provide a valid request '
                         'payload."]}')
    return body


def _parse_pk_value(header: str, paths: int) -> list:
    try:
        value = json.loads(header)
    except ValueError:
        value = None
    if not isinstance(value, list) or len(value) != paths:
        raise error(400, f"Partition key provided either doesn't correspond to definition in the collection or "
                         f"doesn't match partition key field values specified in the document: {header[:100]}", 1001)
    return value


def _pk_key(values: list) -> str:
    return json.dumps(values, separators=(",", ":"), sort_keys=True)


def _header_pk_key(header: str, container: dict) -> str:
    """The store key of the partition key an ``x-ms-documentdb-partitionkey`` header names."""
    return _pk_key_of(header, len(container["properties"]["resource"]["partitionKey"]["paths"]))


@functools.lru_cache(maxsize=1024)  # a client names the same partition keys again and again
def _pk_key_of(header: str, paths: int) -> str:
    return _pk_key(_parse_pk_value(header, paths))


def _activity_id() -> str:
    """A random (version 4) GUID, as Cosmos's ``x-ms-activity-id`` is. It only tells requests apart, so
    it comes from the non-cryptographic generator: cheaper than ``str(uuid4())``, which reads the
    kernel's random source and builds a UUID object on every request."""
    n = (_ACTIVITY.getrandbits(128) & ~(0xf000 << 64) & ~(0xc000 << 48)) | (0x4000 << 64) | (0x8000 << 48)
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_ACTIVITY = random.Random()


def _page_size(header: str | None) -> int:
    try:
        n = int(header) if header not in (None, "") else DEFAULT_PAGE
    except ValueError:
        raise error(400, f"Invalid value '{header}' for the header x-ms-max-item-count.") from None
    return DEFAULT_PAGE if n <= 0 else min(n, 10000)


def _continuation_offset(header: str | None) -> int:
    if not header:
        return 0
    try:
        token = json.loads(header)["token"]
        n = int(base64.b64decode(token).decode())
        if n < 0:
            raise ValueError
        return n
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise error(400, "Invalid Continuation Token") from None


def _check_if_match(request, existing: dict) -> None:
    want = request.headers.get("If-Match")
    if want and want != "*" and want != existing.get("_etag"):
        raise error(412, "Operation cannot be performed because one of the specified precondition is not met.")


def _pointer(path: str) -> list[str]:
    if not isinstance(path, str) or not path.startswith("/") or path == "/":
        raise ValueError(f"the path {path!r} is not a JSON pointer to a property")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc, parts: list[str], create: bool = False):
    cur = doc
    for p in parts[:-1]:
        if isinstance(cur, list):
            cur = cur[int(p)]
        elif isinstance(cur, dict):
            if p not in cur:
                if not create:
                    raise KeyError(f"the path segment '{p}' does not exist")
                cur[p] = {}
            cur = cur[p]
        else:
            raise ValueError(f"the path segment '{p}' is below a value that is neither an object nor an array")
    if not isinstance(cur, (dict, list)):
        raise ValueError(f"the property '{parts[-1]}' is below a value that is neither an object nor an array")
    return cur


def _apply_patch(doc: dict, op: dict) -> None:
    kind = op.get("op")
    parts = _pointer(op.get("path"))
    parent = _parent(doc, parts, create=kind in ("add", "set"))
    last = parts[-1]
    if kind in ("add", "set"):
        if isinstance(parent, list):
            idx = len(parent) if last == "-" else int(last)
            if kind == "add":
                parent.insert(idx, op["value"])
            else:
                parent[idx] = op["value"]
        else:
            parent[last] = op["value"]
    elif kind == "replace":
        if isinstance(parent, list):
            parent[int(last)] = op["value"]
        else:
            if last not in parent:
                raise KeyError(f"the property '{last}' does not exist")
            parent[last] = op["value"]
    elif kind == "remove":
        if isinstance(parent, list):
            del parent[int(last)]
        else:
            del parent[last]
    elif kind == "incr":
        value = op["value"]
        cur = parent.get(last, 0) if isinstance(parent, dict) else parent[int(last)]
        if not query._num(cur) or not query._num(value):
            raise ValueError("incr needs a number")
        if isinstance(parent, dict):
            parent[last] = cur + value
        else:
            parent[int(last)] = cur + value
    elif kind == "move":
        src = _pointer(op.get("from"))
        sp = _parent(doc, src)
        value = sp.pop(src[-1]) if isinstance(sp, dict) else sp.pop(int(src[-1]))
        parent = _parent(doc, parts, create=True)
        parent[last] = value
    else:
        raise ValueError(f"the operation type {kind!r} is not one of add, set, replace, remove, incr, move")
