"""Data Lake Storage Gen2: the DFS endpoint ``https://<account>.dfs.core.windows.net`` of
hierarchical-namespace storage accounts (``properties.isHnsEnabled: true``), on the Blob engine.

Operations (Data Lake Storage Gen2 REST, ``specification/storage/data-plane/Azure.Storage.Files.
DataLake``): filesystems (``?resource=account`` list, ``?resource=filesystem`` create, delete,
get properties, list paths with ``recursive``/``directory``/``maxResults``/``continuation``), paths
(create ``?resource=file|directory`` with ``x-ms-permissions``/``x-ms-umask``/``x-ms-acl``, rename
with ``x-ms-rename-source``, ``PATCH ?action=append&position=``, ``?action=flush&position=``,
``?action=setAccessControl`` / ``setAccessControlRecursive`` / ``setProperties``, read with
``Range``, ``HEAD`` with ``?action=getStatus`` / ``getAccessControl``, delete with
``recursive``). Shapes follow the service's recorded answers (azure-sdk-for-js datalake
recordings): ``{"paths": [{"name", "isDirectory": "true", "contentLength": "0", "owner",
"group", "permissions": "rwxr-x---", "etag", "lastModified", "creationTime"}]}``, errors as
``{"error": {"code", "message"}}`` with ``x-ms-error-code``.

The namespace and its ACLs (:mod:`.tree`, :mod:`.posix`) are kept in the account's stored
resource; the bytes are blobs of the container in the Blob engine (Azurite), written on flush,
so ``azure-storage-file-datalake`` — which creates filesystems and downloads files through the
Blob endpoint — sees the same data. Directories are also marker blobs with
``hdi_isfolder=true`` metadata, as the Blob endpoint of a hierarchical account lists them.

Authentication: bearer tokens through the Blob gateway's token path (the shared validator,
Storage's audiences, the account's blob and dfs URLs), and Shared Key, verified here with the
account keys (a Shared Key caller is a super-user, as in Azure). SAS is not emulated on this
endpoint (403 with that reason).

Authorization, as "Access control model in Azure Data Lake Storage" documents it: **Azure RBAC
first** — when a role grants the operation's data action at the container or above, ACLs are not
consulted; otherwise the **POSIX ACLs** decide for the token's ``oid`` and its groups, with the
execute bit on every directory above the item; ``Storage Blob Data Owner``
(``.../blobs/runAsSuperUser/action``) is a super-user; only an item's owner or a super-user sets
its ACL. A refusal is 403 ``AuthorizationPermissionMismatch`` "This request is not authorized to
perform this operation using this permission.", whichever check refused. The same ACLs decide
Blob endpoint requests on the account that RBAC alone refuses (:meth:`blob_acl_permits`).
``Config.permissive_datalake`` skips the ACL checks (only to prove the denials can fail).
"""
from __future__ import annotations

import datetime as dt
import email.utils
import hmac
import json
import logging
import uuid
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote, unquote

import aiohttp
from aiohttp import web

from ..bodies import BodyError, read_limited
from ..storage import actions
from ..storage.gateway import MIN_OAUTH_VERSION, MSG_AUTH_FAILED, MSG_AUTH_INFO, MSG_PERMISSION, STORAGE_AUDIENCES
from ..storage.signing import query_has_sas, shared_key_authorization
from ..tokens import TokenError
from .posix import EXECUTE, READ, WRITE, AclError, parse_acl, parse_mode
from .tree import DIRECTORY, FILE, Caller, PathError, Tree, normalise, now_ms, parent_of

if TYPE_CHECKING:  # pragma: no cover
    from ..server import Emulator

log = logging.getLogger("milab.datalake")

SUFFIX = ".dfs.core.windows.net"
BLOB_SUFFIX = ".blob.core.windows.net"
SUPERUSER = "$superuser"
ROOT_MODE = 0o750  # a new filesystem's root directory: rwxr-x---
DEFAULT_UMASK = 0o027  # Path Create: "The default umask is 0027"
MAX_BODY = 100 * 1024 * 1024
ENGINE_VERSION = "2021-08-06"
BLOBS = actions.BLOBS
RUN_AS_SUPERUSER = f"{BLOBS}/runAsSuperUser/action"
MODIFY_PERMISSIONS = f"{BLOBS}/modifyPermissions/action"
_TOKEN_DETAIL = {"audience": "Audience validation failed. Audience did not match.",
                 "expired": "Lifetime validation failed. The token is expired.",
                 "signature": "Signature validation failed.", "issuer": "Issuer validation failed. Issuer did not match.",
                 "tenant": "Issuer validation failed. Issuer did not match."}


class DfsError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def _filetime(ms: int) -> str:
    return str(ms * 10000 + 116444736000000000)


def _http_date(ms: int) -> str:
    return email.utils.formatdate(ms / 1000, usegmt=True)


def _etag() -> str:
    return f'"0x8D{uuid.uuid4().hex[:13].upper()}"'


class DataLakeStoreGen2:
    """The DFS endpoint of every hierarchical-namespace account (``.dfs.core.windows.net``)."""

    def __init__(self, emu: "Emulator"):
        self.emu = emu
        self.pending: dict[tuple[str, str, str], dict[int, bytes]] = {}  # uncommitted appends by position
        emu.data_planes[SUFFIX] = self

    @property
    def gateway(self):
        return self.emu.blob

    @property
    def permissive(self) -> bool:
        return bool(getattr(self.emu.config, "permissive_datalake", False))

    async def close(self) -> None:  # the Blob gateway owns the session to Azurite
        return None

    # -- the Blob engine ---------------------------------------------------------------------------
    async def engine(self, res: dict, method: str, raw: str, headers: dict | None = None, body: bytes = b"",
                     ) -> tuple[int, dict, bytes]:
        """A Shared Key request of the emulator itself to the account's blobs, through the Blob gateway."""
        from ..storage.gateway import Refused
        try:
            return await self.gateway.engine_request(res, method, raw, headers, body, version=ENGINE_VERSION)
        except Refused:
            raise DfsError(503, "ServerBusy", "The blob engine for this account is not running.") from None
        except aiohttp.ClientError as e:
            raise DfsError(503, "ServerBusy", f"The blob engine did not answer: {e}") from None

    @staticmethod
    def blob_path(fs: str, path: str) -> str:
        return f"/{quote(fs)}/{quote(path.lstrip('/'))}"

    # -- filesystems --------------------------------------------------------------------------------
    def trees(self, res: dict) -> dict:
        return res.setdefault("_milab", {}).setdefault("dfs", {})

    async def tree(self, res: dict, fs: str, *, must_exist: bool = True) -> Tree | None:
        """The filesystem's namespace; one made by the Blob endpoint or ARM (a container without a
        namespace yet) gets its root directory now, owned by ``$superuser``."""
        status, _, _ = await self.engine(res, "GET", f"/{quote(fs)}?restype=container")
        trees = self.trees(res)
        if status == 404:
            trees.pop(fs, None)
            if must_exist:
                raise DfsError(404, "FilesystemNotFound", "The specified filesystem does not exist.")
            return None
        if fs not in trees:
            trees[fs] = Tree.new(SUPERUSER, SUPERUSER, ROOT_MODE).doc
        return Tree(trees[fs])

    # -- entry point ---------------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        rid = str(uuid.uuid4())
        try:
            return await self._handle(request, rid)
        except DfsError as e:
            return self.error(e, rid, request)

    def error(self, e: DfsError, rid: str, request: web.Request) -> web.Response:
        now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
        h = {**self._headers(rid, request), "x-ms-error-code": e.code, **e.headers}
        if request.method == "HEAD":
            return web.Response(status=e.status, headers=h)
        body = {"error": {"code": e.code, "message": f"{e.message}\nRequestId:{rid}\nTime:{now}"}}
        return web.Response(status=e.status, text=json.dumps(body), content_type="application/json", headers=h)

    def _headers(self, rid: str, request: web.Request) -> dict:
        return {"x-ms-request-id": rid, "x-ms-version": request.headers.get("x-ms-version") or ENGINE_VERSION,
                "Server": "Windows-Azure-HDFS/1.0 Microsoft-HTTPAPI/2.0"}

    async def _handle(self, request: web.Request, rid: str) -> web.StreamResponse:
        host = (request.url.host or request.host or "").split(":")[0].lower()
        name = host[: -len(SUFFIX)] if host.endswith(SUFFIX) else ""
        res = self.gateway.account_resource(name) if name and "." not in name else None
        if res is None:
            raise DfsError(404, "AccountNotFound" if name else "InvalidUri",
                           f"The storage account '{name}' does not exist in the emulated subscription (a real client "
                           f"would fail to resolve {host}).")
        if not (res.get("properties") or {}).get("isHnsEnabled"):
            raise DfsError(409, "HierarchicalNamespaceNotEnabled", "This operation is only supported on a hierarchical "
                                                                   "namespace account.")
        raw = request.raw_path
        raw_path, _, query = raw.partition("?")
        q = {k.lower(): v for k, v in parse_qsl(query, keep_blank_values=True)}
        try:
            body = await read_limited(request, MAX_BODY)
        except BodyError:
            raise DfsError(413, "RequestBodyTooLarge", "The request body is too large.") from None
        principal = self.authenticate(request, res, raw, body)
        parts = unquote(raw_path).lstrip("/").split("/", 1)
        fs = parts[0]
        try:
            path = normalise(parts[1] if len(parts) > 1 else "")
        except PathError as e:
            raise DfsError(400, "InvalidResourceName", str(e)) from None
        op = _Request(self, request, rid, res, fs, path, q, body, principal)
        if not fs:
            return await op.account_level()
        if path == "/" and (q.get("resource") == "filesystem" or request.method == "GET"):
            return await op.filesystem()
        return await op.path_operation()

    # -- authentication ------------------------------------------------------------------------------
    def authenticate(self, request: web.Request, res: dict, raw: str, body: bytes) -> dict:
        """``{"kind": "shared_key"}`` or ``{"kind": "bearer", "claims": ...}``, or DfsError."""
        authz = request.headers.get("Authorization", "")
        scheme, _, value = authz.partition(" ")
        account = res["name"]
        if scheme.lower() == "bearer":
            version = request.headers.get("x-ms-version", "")
            if not version or version < MIN_OAUTH_VERSION:
                raise DfsError(403, "AuthenticationFailed", f"{MSG_AUTH_FAILED} Authentication scheme Bearer is not "
                                                            f"supported in this version.")
            audiences = STORAGE_AUDIENCES + tuple(f"https://{account}{s}{slash}" for s in (BLOB_SUFFIX, SUFFIX)
                                                  for slash in ("", "/"))
            try:
                claims = self.emu.tokens.validate(value.strip(), audiences)
            except TokenError as e:
                raise DfsError(401, "InvalidAuthenticationInfo",
                               f"{MSG_AUTH_INFO} {_TOKEN_DETAIL.get(e.reason, e.message)}",
                               {"WWW-Authenticate": self.gateway._challenge()}) from None
            return {"kind": "bearer", "claims": claims}
        if scheme == "SharedKey":
            keys = res["_milab"]["keys"]
            h = dict(request.headers)
            for key in (keys["key1"], keys["key2"]):
                expected = shared_key_authorization(request.method, raw, h, account, key)
                if hmac.compare_digest(expected.encode(), authz.encode()):
                    return {"kind": "shared_key"}
            raise DfsError(403, "AuthenticationFailed", f"{MSG_AUTH_FAILED} The MAC signature found in the HTTP "
                                                        f"request is not the same as any computed signature.")
        if query_has_sas(raw.partition("?")[2]):
            raise DfsError(403, "AuthenticationFailed", f"{MSG_AUTH_FAILED} The emulated DFS endpoint accepts OAuth "
                                                        f"and Shared Key; SAS is not emulated here.")
        raise DfsError(401, "NoAuthenticationInformation", MSG_AUTH_INFO,
                       {"WWW-Authenticate": self.gateway._challenge()})

    # -- authorization -------------------------------------------------------------------------------
    def container_scope(self, res: dict, fs: str) -> str:
        return f"{res['id']}/blobServices/default/containers/{fs}"

    def rbac(self, principal: dict, res: dict, fs: str, data_action: str) -> bool:
        if principal["kind"] == "shared_key":
            return True
        scope = self.container_scope(res, fs) if fs else res["id"]
        return self.emu.allowed(principal["claims"].get("oid", ""), data_action, scope, data_action=True)

    def caller(self, principal: dict, res: dict, fs: str) -> Caller:
        if principal["kind"] == "shared_key":
            return Caller(SUPERUSER, set(), superuser=True)
        claims = principal["claims"]
        oid = str(claims.get("oid") or "")
        ids = self.emu.directory.caller_ids(claims)
        superuser = self.permissive or self.rbac(principal, res, fs, RUN_AS_SUPERUSER)
        return Caller(oid, ids - {oid}, superuser=superuser)

    def blob_acl_permits(self, claims: dict, res: dict, method: str, path: str, query: str) -> bool:
        """A Blob endpoint request on a hierarchical account that RBAC refused: do the ACLs allow it?
        (Read blob: r on the file; write: w on it or -wx on its parent to create; delete: -wx on
        the parent; list: r-x on the container root.) Synchronous: it reads the stored namespace."""
        if not (res.get("properties") or {}).get("isHnsEnabled"):
            return False
        container, blob = actions.split_path(path)
        trees = self.trees(res)
        if not container or container not in trees:
            return False
        tree = Tree(trees[container])
        caller = self.caller({"kind": "bearer", "claims": claims}, res, container)
        if caller.superuser:
            return True
        method = method.upper()
        if blob is None:
            return method in ("GET", "HEAD") and "comp=list" in query.lower() and \
                tree.allowed(caller, "/", READ | EXECUTE)
        try:
            p = normalise(blob)
        except PathError:
            return False
        if method in ("GET", "HEAD"):
            return tree.node(p) is not None and tree.allowed(caller, p, READ)
        if method == "DELETE":
            return tree.allowed(caller, p, WRITE | EXECUTE, on_parent=True)
        if method == "PUT":
            if tree.node(p) is not None:
                return tree.allowed(caller, p, WRITE)
            return tree.is_dir(parent_of(p)) and tree.allowed(caller, p, WRITE | EXECUTE, on_parent=True)
        return False


class _Request:
    """One DFS request on one account."""

    def __init__(self, plane: DataLakeStoreGen2, request: web.Request, rid: str, res: dict, fs: str, path: str,
                 q: dict, body: bytes, principal: dict):
        self.plane, self.request, self.rid, self.res, self.fs, self.path = plane, request, rid, res, fs, path
        self.q, self.body, self.principal = q, body, principal
        self.method = request.method.upper()

    # -- answers --------------------------------------------------------------------------------------
    def headers(self, extra: dict | None = None) -> dict:
        return {**self.plane._headers(self.rid, self.request), **(extra or {})}

    def json(self, doc: dict, status: int = 200, extra: dict | None = None) -> web.Response:
        return web.Response(status=status, text=json.dumps(doc), content_type="application/json",
                            charset="utf-8", headers=self.headers(extra))

    def empty(self, status: int, extra: dict | None = None) -> web.Response:
        return web.Response(status=status, headers=self.headers({"Content-Length": "0", **(extra or {})}))

    def denied(self) -> DfsError:
        log.info("DFS %s %s/%s denied", self.method, self.fs, self.path)
        return DfsError(403, "AuthorizationPermissionMismatch", MSG_PERMISSION)

    def authorize(self, data_action: str, acl_ok) -> None:
        """RBAC first; when no role grants the data action, the ACLs (``acl_ok(caller)``)."""
        if self.plane.rbac(self.principal, self.res, self.fs, data_action):
            return
        caller = self.plane.caller(self.principal, self.res, self.fs)
        if not acl_ok(caller):
            raise self.denied()

    def creator(self) -> str:
        return SUPERUSER if self.principal["kind"] == "shared_key" else str(self.principal["claims"].get("oid"))

    def save(self) -> None:
        self.plane.emu.state.save()

    def item_headers(self, tree: Tree, path: str) -> dict:
        node = tree.node(path)
        item = tree.item(path)
        h = {"x-ms-owner": item.owner, "x-ms-group": item.group, "x-ms-permissions": item.symbolic(),
             "x-ms-resource-type": "directory" if node["type"] == DIRECTORY else "file",
             "ETag": node.get("etag") or _etag(), "Last-Modified": _http_date(node.get("mtime", now_ms())),
             "x-ms-creation-time": _http_date(node.get("ctime", node.get("mtime", now_ms())))}
        if node["type"] == FILE:
            h["Content-Length"] = str(node.get("length", 0))
        return h

    # -- account -------------------------------------------------------------------------------------------
    async def account_level(self) -> web.Response:
        if self.method != "GET" or self.q.get("resource") != "account":
            raise DfsError(400, "InvalidQueryParameterValue", "Value for one of the query parameters specified in the "
                                                              "request URI is invalid: resource must be 'account'.")
        if not self.plane.rbac(self.principal, self.res, "", f"{BLOBS}/read"):
            raise self.denied()
        import re
        status, _, data = await self.plane.engine(self.res, "GET", "/?comp=list")
        names = [unquote(n.decode()) for n in re.findall(rb"<Container><Name>([^<]+)</Name>", data)]
        prefix = self.q.get("prefix") or ""
        now = now_ms()
        return self.json({"filesystems": [{"name": n, "lastModified": _http_date(now), "etag": _etag()}
                                          for n in names if n.startswith(prefix)]})

    # -- filesystems ---------------------------------------------------------------------------------------
    async def filesystem(self) -> web.Response:
        containers = actions.CONTAINERS
        if self.method == "PUT":
            self.authorize_control(f"{containers}/write")
            status, _, _ = await self.plane.engine(self.res, "PUT", f"/{quote(self.fs)}?restype=container")
            if status == 409:
                raise DfsError(409, "FilesystemAlreadyExists", "The specified filesystem already exists.")
            if status >= 400:
                raise DfsError(400, "InvalidResourceName", f"The filesystem name '{self.fs}' is not valid.")
            owner = self.creator()
            self.plane.trees(self.res)[self.fs] = Tree.new(owner, SUPERUSER, ROOT_MODE).doc
            self.save()
            return self.empty(201, {"ETag": _etag(), "Last-Modified": _http_date(now_ms()),
                                    "x-ms-namespace-enabled": "true"})
        if self.method == "DELETE":
            self.authorize_control(f"{containers}/delete")
            await self.plane.tree(self.res, self.fs)
            await self.plane.engine(self.res, "DELETE", f"/{quote(self.fs)}?restype=container")
            self.plane.trees(self.res).pop(self.fs, None)
            self.save()
            return self.empty(202)
        tree = await self.plane.tree(self.res, self.fs)
        if self.method == "HEAD":
            self.authorize(f"{BLOBS}/read", lambda c: True)
            return self.empty(200, {"ETag": tree.node("/").get("etag") or _etag(), "x-ms-namespace-enabled": "true",
                                    "Last-Modified": _http_date(tree.node("/").get("mtime", now_ms()))})
        if self.method == "GET":
            return self.list_paths(tree)
        if self.method == "PATCH":
            self.authorize_control(f"{containers}/write")
            return self.empty(200, {"ETag": _etag()})
        raise DfsError(405, "UnsupportedHttpVerb", f"The resource doesn't support the specified HTTP verb "
                                                   f"{self.method}.")

    def authorize_control(self, action: str) -> None:
        """Filesystem create and delete are authorized as the Blob endpoint's container operations."""
        if self.principal["kind"] == "shared_key":
            return
        scope = self.plane.container_scope(self.res, self.fs)
        if not self.plane.emu.allowed(self.principal["claims"].get("oid", ""), action, scope):
            raise self.denied()

    def list_paths(self, tree: Tree) -> web.Response:
        recursive = self.q.get("recursive")
        if recursive not in ("true", "false"):
            raise DfsError(400, "InvalidQueryParameterValue", "Value for one of the query parameters specified in the "
                                                              "request URI is invalid: recursive must be true or "
                                                              "false.")
        try:
            directory = normalise(self.q.get("directory") or "")
        except PathError as e:
            raise DfsError(400, "InvalidQueryParameterValue", str(e)) from None
        self.authorize(f"{BLOBS}/read", lambda c: tree.allowed(c, directory, READ | EXECUTE))
        node = tree.node(directory)
        if node is None:
            raise DfsError(404, "PathNotFound", "The specified path does not exist.")
        if recursive == "true":
            paths = sorted(tree.descendants(directory))
        else:
            paths = tree.children(directory)
        try:
            size = int(self.q.get("maxresults") or 5000)
            start = int(self.q.get("continuation") or 0)
        except ValueError:
            raise DfsError(400, "InvalidQueryParameterValue", "maxResults and continuation must be numbers.") from None
        if not 1 <= size <= 5000:
            raise DfsError(400, "OutOfRangeQueryParameterValue", "maxResults must be between 1 and 5000.")
        page = paths[start:start + size]
        extra = {"x-ms-continuation": str(start + size)} if start + size < len(paths) else {}
        out = []
        for p in page:
            n = tree.node(p)
            item = tree.item(p)
            entry = {"contentLength": str(n.get("length", 0)), "creationTime": _filetime(n.get("ctime", n["mtime"])),
                     "etag": (n.get("etag") or _etag()).strip('"'), "expiryTime": "0", "group": item.group,
                     "lastModified": _http_date(n["mtime"]), "name": p.lstrip("/"), "owner": item.owner,
                     "permissions": item.symbolic()}
            if n["type"] == DIRECTORY:
                entry["isDirectory"] = "true"
            out.append(dict(sorted(entry.items())))
        return self.json({"paths": out}, extra=extra)

    # -- paths ------------------------------------------------------------------------------------------------
    async def path_operation(self) -> web.StreamResponse:
        tree = await self.plane.tree(self.res, self.fs)
        if self.method == "PUT":
            if self.request.headers.get("x-ms-rename-source"):
                return await self.rename(tree)
            return await self.create(tree)
        if self.method == "PATCH":
            action = self.q.get("action", "")
            handler = {"append": self.append, "flush": self.flush, "setaccesscontrol": self.set_access_control,
                       "setaccesscontrolrecursive": self.set_access_control_recursive,
                       "setproperties": self.set_properties}.get(action.lower())
            if handler is None:
                raise DfsError(400, "InvalidQueryParameterValue", f"Value for one of the query parameters specified in "
                                                                  f"the request URI is invalid: action '{action}'.")
            return await handler(tree)
        if self.method == "GET":
            return await self.read(tree)
        if self.method == "HEAD":
            return self.properties(tree)
        if self.method == "DELETE":
            return await self.delete(tree)
        raise DfsError(405, "UnsupportedHttpVerb", f"The resource doesn't support the specified HTTP verb "
                                                   f"{self.method}.")

    def existing(self, tree: Tree, path: str | None = None) -> dict:
        node = tree.node(path or self.path)
        if node is None:
            raise DfsError(404, "PathNotFound", "The specified path does not exist.")
        return node

    def _base(self, tree: Tree, path: str) -> str:
        p = parent_of(path)
        while p != "/" and tree.node(p) is None:
            p = parent_of(p)
        return p

    async def _marker(self, path: str) -> None:
        await self.plane.engine(self.res, "PUT", self.plane.blob_path(self.fs, path),
                                {"x-ms-blob-type": "BlockBlob", "x-ms-meta-hdi_isfolder": "true"})

    async def create(self, tree: Tree) -> web.Response:
        kind = (self.q.get("resource") or "").lower()
        if kind not in ("file", "directory"):
            raise DfsError(400, "InvalidQueryParameterValue", "Value for one of the query parameters specified in the "
                                                              "request URI is invalid: resource must be 'file' or "
                                                              "'directory'.")
        if self.path == "/":
            raise DfsError(400, "InvalidResourceName", "A path is required.")
        h = self.request.headers
        try:
            mode = parse_mode(h["x-ms-permissions"]) if h.get("x-ms-permissions") else None
            umask = parse_mode(h["x-ms-umask"]) if h.get("x-ms-umask") else DEFAULT_UMASK
            acl = parse_acl(h["x-ms-acl"]) if h.get("x-ms-acl") else None
        except AclError as e:
            raise DfsError(400, "InvalidInput", f"One of the request inputs is not valid: {e}") from None
        base = self._base(tree, self.path)
        if tree.node(base)["type"] == FILE:
            raise DfsError(409, "PathConflict", "The specified path, or an element of the path, exists and its "
                                                "resource type is invalid for this operation.")
        existing = tree.node(self.path)
        if existing is not None:
            if h.get("If-None-Match") == "*":
                raise DfsError(409, "PathAlreadyExists", "The specified path already exists.")
            if (existing["type"] == DIRECTORY) != (kind == "directory"):
                raise DfsError(409, "PathConflict", "The specified path, or an element of the path, exists and its "
                                                    "resource type is invalid for this operation.")
            self.authorize(f"{BLOBS}/write", lambda c: tree.allowed(c, self.path, WRITE))
        else:
            self.authorize(f"{BLOBS}/write", lambda c: tree.allowed(c, base, WRITE | EXECUTE))
        creator = self.creator()
        for made in tree.mkdirs(parent_of(self.path), creator, umask=umask):
            await self._marker(made)
        if existing is None:
            existing = tree.add(self.path, DIRECTORY if kind == "directory" else FILE, creator, mode=mode,
                                umask=umask)
            existing["ctime"] = existing["mtime"]
        if acl is not None:
            item = tree.item(self.path)
            try:
                item.set_acl(acl)
            except AclError as e:
                raise DfsError(400, "InvalidInput", f"One of the request inputs is not valid: {e}") from None
            tree.save_item(self.path, item)
        existing.update({"etag": _etag(), "mtime": now_ms()})
        if kind == "directory":
            await self._marker(self.path)
        else:
            existing["length"] = 0
            self.plane.pending.pop(self._key(), None)
            await self.plane.engine(self.res, "PUT", self.plane.blob_path(self.fs, self.path),
                                    {"x-ms-blob-type": "BlockBlob"})
        self.save()
        return self.empty(201, {"ETag": existing["etag"], "Last-Modified": _http_date(existing["mtime"]),
                                "x-ms-request-server-encrypted": "true"})

    def _key(self) -> tuple[str, str, str]:
        return (self.res["name"], self.fs, self.path)

    def _position(self) -> int:
        value = self.q.get("position")
        if value is None or not value.isdigit():
            raise DfsError(400, "InvalidQueryParameterValue", "Value for one of the query parameters specified in the "
                                                              "request URI is invalid: position.")
        return int(value)

    async def append(self, tree: Tree) -> web.Response:
        position = self._position()
        self.authorize(f"{BLOBS}/write", lambda c: tree.allowed(c, self.path, WRITE))
        node = self.existing(tree)
        if node["type"] != FILE:
            raise DfsError(409, "PathConflict", "The specified path, or an element of the path, exists and its "
                                                "resource type is invalid for this operation.")
        if position < node.get("length", 0):
            raise DfsError(400, "InvalidFlushPosition", "The uploaded data is not contiguous or the position query "
                                                        "parameter value is not equal to the length of the file after "
                                                        "appending the uploaded data.")
        self.plane.pending.setdefault(self._key(), {})[position] = self.body
        return self.empty(202, {"x-ms-request-server-encrypted": "true"})

    async def flush(self, tree: Tree) -> web.Response:
        node = self.existing(tree)
        position = self._position()
        self.authorize(f"{BLOBS}/write", lambda c: tree.allowed(c, self.path, WRITE))
        committed = node.get("length", 0)
        pending = self.plane.pending.get(self._key(), {})
        data = b""
        at = committed
        for start in sorted(pending):
            if start != at:
                break
            data += pending[start]
            at += len(pending[start])
        if at != position:
            raise DfsError(400, "InvalidFlushPosition", "The uploaded data is not contiguous or the position query "
                                                        "parameter value is not equal to the length of the file after "
                                                        "appending the uploaded data.")
        if data:
            old = b""
            if committed:
                status, _, old = await self.plane.engine(self.res, "GET", self.plane.blob_path(self.fs, self.path))
                if status != 200:
                    old = b""
            headers = {"x-ms-blob-type": "BlockBlob"}
            if self.request.headers.get("x-ms-content-type"):
                headers["x-ms-blob-content-type"] = self.request.headers["x-ms-content-type"]
            await self.plane.engine(self.res, "PUT", self.plane.blob_path(self.fs, self.path), headers, old + data)
        if (self.q.get("retainuncommitteddata") or "").lower() != "true":
            self.plane.pending.pop(self._key(), None)
        node.update({"length": position, "etag": _etag(), "mtime": now_ms()})
        self.save()
        return self.empty(200, {"ETag": node["etag"], "Last-Modified": _http_date(node["mtime"]),
                                "x-ms-request-server-encrypted": "true"})

    async def read(self, tree: Tree) -> web.StreamResponse:
        self.authorize(f"{BLOBS}/read", lambda c: tree.node(self.path) is not None and
                       tree.allowed(c, self.path, READ))
        node = self.existing(tree)
        if node["type"] != FILE:
            raise DfsError(400, "InvalidInput", "One of the request inputs is not valid: the path is a directory.")
        headers = {k: v for k, v in self.request.headers.items() if k.lower() in ("range", "x-ms-range")}
        status, up, data = await self.plane.engine(self.res, "GET", self.plane.blob_path(self.fs, self.path), headers)
        if status >= 400 and not (status == 404 and node.get("length", 0) == 0):
            raise DfsError(416 if status == 416 else 404, "InvalidRange" if status == 416 else "PathNotFound",
                           "The range specified is invalid for the current size of the resource." if status == 416
                           else "The specified path does not exist.")
        out = self.headers({**self.item_headers(tree, self.path), "Content-Type": up.get("Content-Type",
                                                                                       "application/octet-stream")})
        out["Content-Length"] = str(len(data))
        if "Content-Range" in up:
            out["Content-Range"] = up["Content-Range"]
        return web.Response(status=206 if status == 206 else 200, body=data, headers=out)

    def properties(self, tree: Tree) -> web.Response:
        self.authorize(f"{BLOBS}/read", lambda c: tree.allowed(c, self.path, 0))
        self.existing(tree)
        h = self.item_headers(tree, self.path)
        if (self.q.get("action") or "").lower() == "getaccesscontrol":
            h["x-ms-acl"] = ",".join(tree.item(self.path).entries())
        length = h.pop("Content-Length", "0")
        resp = web.Response(status=200, headers=self.headers(h))
        resp.headers["Content-Length"] = length
        return resp

    def _owner_or_superuser(self, tree: Tree, caller: Caller) -> bool:
        return caller.superuser or (tree.allowed(caller, self.path, 0) and
                                    tree.item(self.path).owner.lower() == caller.oid.lower())

    async def set_access_control(self, tree: Tree) -> web.Response:
        self.existing(tree)
        h = self.request.headers
        caller = self.plane.caller(self.principal, self.res, self.fs)
        if not self._owner_or_superuser(tree, caller):
            raise self.denied()
        if h.get("x-ms-permissions") and h.get("x-ms-acl"):
            raise DfsError(400, "InvalidInput", "One of the request inputs is not valid: x-ms-permissions and x-ms-acl "
                                                "are mutually exclusive.")
        if h.get("x-ms-owner") and not caller.superuser:
            raise self.denied()
        item = tree.item(self.path)
        try:
            if h.get("x-ms-acl"):
                item.set_acl(parse_acl(h["x-ms-acl"]))
            if h.get("x-ms-permissions"):
                item.set_mode(parse_mode(h["x-ms-permissions"]))
        except AclError as e:
            raise DfsError(400, "InvalidInput", f"One of the request inputs is not valid: {e}") from None
        if item.default_acl and not tree.is_dir(self.path):
            raise DfsError(400, "InvalidInput", "One of the request inputs is not valid: a file cannot have a default "
                                                "ACL.")
        if h.get("x-ms-owner"):
            item.owner = h["x-ms-owner"].lower() if h["x-ms-owner"] != SUPERUSER else SUPERUSER
        if h.get("x-ms-group"):
            item.group = h["x-ms-group"].lower() if h["x-ms-group"] != SUPERUSER else SUPERUSER
        tree.save_item(self.path, item)
        node = tree.node(self.path)
        node["etag"] = _etag()
        self.save()
        return self.empty(200, {"ETag": node["etag"], "Last-Modified": _http_date(node["mtime"])})

    async def set_access_control_recursive(self, tree: Tree) -> web.Response:
        self.existing(tree)
        mode = (self.q.get("mode") or "").lower()
        if mode not in ("set", "modify", "remove"):
            raise DfsError(400, "InvalidQueryParameterValue", "Value for one of the query parameters specified in the "
                                                              "request URI is invalid: mode.")
        try:
            entries = parse_acl(self.request.headers.get("x-ms-acl", ""), allow_remove=(mode == "remove"))
        except AclError as e:
            raise DfsError(400, "InvalidInput", f"One of the request inputs is not valid: {e}") from None
        caller = self.plane.caller(self.principal, self.res, self.fs)
        counts = {"directoriesSuccessful": 0, "filesSuccessful": 0, "failureCount": 0, "failedEntries": []}
        for p in [self.path] + sorted(tree.descendants(self.path)):
            is_dir = tree.is_dir(p)
            item = tree.item(p)
            if not (caller.superuser or item.owner.lower() == caller.oid.lower()):
                counts["failureCount"] += 1
                counts["failedEntries"].append({"errorMessage": MSG_PERMISSION, "name": p.lstrip("/"),
                                                "type": "DIRECTORY" if is_dir else "FILE"})
                continue
            mine = entries if is_dir else [e for e in entries if not e.default]
            try:
                {"set": item.set_acl, "modify": item.modify, "remove": item.remove}[mode](mine)
            except AclError as e:
                raise DfsError(400, "InvalidInput", f"One of the request inputs is not valid: {e}") from None
            tree.save_item(p, item)
            counts["directoriesSuccessful" if is_dir else "filesSuccessful"] += 1
        self.save()
        return self.json(counts)

    async def set_properties(self, tree: Tree) -> web.Response:
        node = self.existing(tree)
        self.authorize(f"{BLOBS}/write", lambda c: tree.allowed(c, self.path, WRITE))
        node["etag"] = _etag()
        self.save()
        return self.empty(200, {"ETag": node["etag"], "Last-Modified": _http_date(node["mtime"])})

    async def delete(self, tree: Tree) -> web.Response:
        if self.path == "/":
            raise DfsError(400, "InvalidResourceName", "The root directory cannot be deleted.")
        self.authorize(f"{BLOBS}/delete", lambda c: tree.allowed(c, self.path, WRITE | EXECUTE, on_parent=True))
        node = self.existing(tree)
        if node["type"] == DIRECTORY and tree.children(self.path) and (self.q.get("recursive") or "").lower() != "true":
            raise DfsError(409, "DirectoryNotEmpty", "The recursive query parameter value must be true to delete a "
                                                     "non-empty directory.")
        for p in tree.remove(self.path):
            await self.plane.engine(self.res, "DELETE", self.plane.blob_path(self.fs, p))
            self.plane.pending.pop((self.res["name"], self.fs, p), None)
        self.save()
        return self.empty(200)

    async def rename(self, tree: Tree) -> web.Response:
        source_raw = unquote(self.request.headers["x-ms-rename-source"].partition("?")[0])
        src_fs, _, src_path = source_raw.lstrip("/").partition("/")
        if src_fs != self.fs:
            raise DfsError(400, "InvalidRenameSourcePath", "Renaming across filesystems is not supported by the "
                                                           "emulator.")
        try:
            source = normalise(src_path)
        except PathError as e:
            raise DfsError(400, "InvalidRenameSourcePath", str(e)) from None
        if tree.node(source) is None:
            raise DfsError(404, "SourcePathNotFound", "The source path for a rename operation does not exist.")
        if tree.node(self.path) is not None or self.path.startswith(source + "/"):
            raise DfsError(409, "PathAlreadyExists", "The specified path already exists.")
        if not tree.is_dir(parent_of(self.path)):
            raise DfsError(404, "RenameDestinationParentPathNotFound", "The parent directory of the destination path "
                                                                       "does not exist.")
        self.authorize(f"{BLOBS}/move/action",
                       lambda c: tree.allowed(c, source, WRITE | EXECUTE, on_parent=True)
                       and tree.allowed(c, self.path, WRITE | EXECUTE, on_parent=True))
        moved = [source] + tree.descendants(source)
        for p in moved:
            dest = self.path + p[len(source):]
            status, up, data = await self.plane.engine(self.res, "GET", self.plane.blob_path(self.fs, p))
            headers = {"x-ms-blob-type": "BlockBlob"}
            if tree.is_dir(p):
                headers["x-ms-meta-hdi_isfolder"] = "true"
            await self.plane.engine(self.res, "PUT", self.plane.blob_path(self.fs, dest), headers,
                                    data if status == 200 else b"")
            await self.plane.engine(self.res, "DELETE", self.plane.blob_path(self.fs, p))
        tree.move(source, self.path)
        self.save()
        return self.empty(201, {"ETag": _etag()})

