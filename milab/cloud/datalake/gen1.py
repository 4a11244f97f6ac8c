"""Data Lake Storage Gen1's WebHDFS file system at ``https://<account>.azuredatalakestore.net/webhdfs/v1/``.

Operations (``op=``, name and value case-insensitive as in WebHDFS): ``LISTSTATUS``,
``GETFILESTATUS``, ``GETCONTENTSUMMARY``, ``MKDIRS``, ``CREATE``, ``APPEND``, ``OPEN``,
``DELETE``, ``RENAME``, ``SETACL``, ``MODIFYACLENTRIES``, ``REMOVEACLENTRIES``,
``REMOVEDEFAULTACL``, ``REMOVEACL``, ``GETACLSTATUS`` / ``MSGETACLSTATUS``, ``SETPERMISSION``,
``SETOWNER``, ``CHECKACCESS``. ``CREATE``, ``APPEND`` and ``OPEN`` are two-step, as the 2019
tutorials show for ``CREATE``: without ``write=true`` (``append=true``, ``read=true``) the answer
is ``307 Temporary Redirect`` with ``Location: ...?op=CREATE&write=true``; the second request does
the work (``201 Created``). Responses carry ``x-ms-webhdfs-version: 17.04.22.00``,
``x-ms-request-id``, ``Status: 0x0`` and, on the empty ones, the service's own ``ContentLength: 0``
header, as the pages' raw responses show.

Authentication: a bearer token whose audience is exactly ``https://datalake.azure.net/`` ("Data
Lake does an exact match on the resource identifier and the trailing slash is important"). The
page's tutorials found no recorded Gen1 answer to a bad token, so it follows WebHDFS's own
mapping (``SecurityException`` is 401) in the service's ``RemoteException`` body.

Authorization: POSIX ACLs (:mod:`.posix`) for the token's ``oid`` and its groups
(``emu.directory.caller_ids``); members of the account's **Owner** role are super-users and pass
every check ("Access control in Azure Data Lake Storage Gen1"). A refusal is 403
``AccessControlException`` with Gen1's text, "<OP> failed with error 0x83090aa2 (Forbidden. ACL
verification failed. Either the resource does not exist or the user is not authorized to perform
the requested operation.)" (quoted in Azure Data Factory's and HDInsight's troubleshooting pages).
Errors use WebHDFS's JSON shape, ``{"RemoteException": {"exception", "message",
"javaClassName"}}`` (Hadoop "WebHDFS REST API", Error Responses), with its status mapping.
``Config.permissive_datalake`` skips the ACL checks (only to prove the denials can fail).
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import uuid
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

from aiohttp import web

from ..authorization import by_name, scope_contains
from ..bodies import BodyError, read_limited
from ..tokens import TokenError, bearer
from .posix import READ, WRITE, EXECUTE, AclError, parse_acl, parse_mode
from .tree import DIRECTORY, FILE, Caller, PathError, Tree, name_of, normalise, now_ms, parent_of

if TYPE_CHECKING:  # pragma: no cover
    from ..server import Emulator

log = logging.getLogger("milab.datalake")

SUFFIX = ".azuredatalakestore.net"
AUDIENCE = "https://datalake.azure.net/"
ACCOUNT_TYPE = "Microsoft.DataLakeStore/accounts"
PREFIX = "/webhdfs/v1"
WEBHDFS_VERSION = "17.04.22.00"
MAX_BODY = 32 * 1024 * 1024
FORBIDDEN = ("failed with error 0x83090aa2 (Forbidden. ACL verification failed. Either the resource does not exist "
             "or the user is not authorized to perform the requested operation.)")
_JAVA = {"AccessControlException": "org.apache.hadoop.security.AccessControlException",
         "FileNotFoundException": "java.io.FileNotFoundException",
         "FileAlreadyExistsException": "org.apache.hadoop.fs.FileAlreadyExistsException",
         "IllegalArgumentException": "java.lang.IllegalArgumentException",
         "SecurityException": "java.lang.SecurityException",
         "PathIsNotEmptyDirectoryException": "org.apache.hadoop.fs.PathIsNotEmptyDirectoryException",
         "UnsupportedOperationException": "java.lang.UnsupportedOperationException",
         "BadOffsetException": "org.apache.hadoop.fs.adl.BadOffsetException"}
_METHODS = {"GET": ("LISTSTATUS", "GETFILESTATUS", "GETCONTENTSUMMARY", "OPEN", "GETACLSTATUS", "MSGETACLSTATUS",
                    "CHECKACCESS"),
            "PUT": ("CREATE", "MKDIRS", "RENAME", "SETACL", "MODIFYACLENTRIES", "REMOVEACLENTRIES",
                    "REMOVEDEFAULTACL", "REMOVEACL", "SETPERMISSION", "SETOWNER"),
            "POST": ("APPEND",), "DELETE": ("DELETE",)}


class WebHdfsError(Exception):
    def __init__(self, status: int, exception: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.exception, self.message, self.headers = status, exception, message, headers or {}


class DataLakeStoreGen1:
    """The WebHDFS data plane of every Gen1 account (registered for ``.azuredatalakestore.net``)."""

    def __init__(self, emu: "Emulator"):
        self.emu = emu
        emu.data_planes[SUFFIX] = self

    async def close(self) -> None:
        pass

    @property
    def permissive(self) -> bool:
        return bool(getattr(self.emu.config, "permissive_datalake", False))

    def account(self, name: str) -> dict | None:
        for r in self.emu.state.resources.values():
            if r.get("type", "").lower() == ACCOUNT_TYPE.lower() and r.get("name") == name:
                return r
        return None

    # -- the request --------------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        rid = str(uuid.uuid4())
        try:
            return await self._handle(request, rid)
        except WebHdfsError as e:
            body = {"RemoteException": {"exception": e.exception, "message": e.message,
                                        "javaClassName": _JAVA.get(e.exception, "java.io.IOException")}}
            return web.Response(status=e.status, text=json.dumps(body), content_type="application/json",
                                headers={**self._headers(rid), **e.headers})

    def _headers(self, rid: str) -> dict:
        return {"x-ms-request-id": rid, "x-ms-webhdfs-version": WEBHDFS_VERSION, "Status": "0x0",
                "Cache-Control": "no-cache, no-cache, no-store, max-age=0", "Pragma": "no-cache", "Expires": "-1",
                "X-Content-Type-Options": "nosniff",
                "Strict-Transport-Security": "max-age=15724800; includeSubDomains"}

    def _stamp(self, rid: str) -> str:
        return f"[{rid}][{dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3]}-00:00]"

    async def _handle(self, request: web.Request, rid: str) -> web.StreamResponse:
        host = (request.url.host or request.host or "").split(":")[0].lower()
        name = host[: -len(SUFFIX)] if host.endswith(SUFFIX) else ""
        res = self.account(name) if name and "." not in name else None
        if res is None:
            raise WebHdfsError(404, "FileNotFoundException",
                               f"The Data Lake Store account '{name}' does not exist in the emulated subscription "
                               f"(a real client would fail to resolve {host}).")
        claims = self.authenticate(request)
        raw_path = request.raw_path.partition("?")[0]
        if not (raw_path == PREFIX or raw_path.startswith(PREFIX + "/")):
            raise WebHdfsError(404, "FileNotFoundException", f"The path '{unquote(raw_path)}' is not a WebHDFS path; "
                                                             f"use {PREFIX}/<path>.")
        try:
            path = normalise(unquote(raw_path[len(PREFIX):]))
        except PathError as e:
            raise WebHdfsError(400, "IllegalArgumentException", str(e)) from None
        q = {k.lower(): v for k, v in request.query.items()}
        op = (q.get("op") or "").upper()
        method = request.method.upper()
        if not op:
            raise WebHdfsError(400, "IllegalArgumentException", "Invalid value for webhdfs parameter \"op\": the "
                                                                "parameter is required.")
        if op not in _METHODS.get(method, ()):
            known = next((m for m, ops in _METHODS.items() if op in ops), None)
            what = f"{op} is an HTTP {known} operation" if known else f"No enum constant {op}"
            raise WebHdfsError(400, "IllegalArgumentException", f"Invalid value for webhdfs parameter \"op\": {what}.")
        try:
            body = await read_limited(request, MAX_BODY)
        except BodyError:
            raise WebHdfsError(413, "IllegalArgumentException", f"The request body is larger than {MAX_BODY} "
                                                                f"bytes.") from None
        tree = Tree(res.setdefault("_milab", {}).setdefault("webhdfs", Tree.new("", "", 0o770).doc))
        caller = self.caller(claims, res)
        ctx = _Op(self, request, rid, op, path, q, body, tree, caller, host)
        out = getattr(ctx, op.lower())()
        if op not in ("LISTSTATUS", "GETFILESTATUS", "GETCONTENTSUMMARY", "OPEN", "GETACLSTATUS", "MSGETACLSTATUS",
                      "CHECKACCESS"):
            self.emu.state.save()
        return out

    def authenticate(self, request: web.Request) -> dict:
        token = bearer(request.headers.get("Authorization"))
        try:
            return self.emu.tokens.validate(token, (AUDIENCE,))
        except TokenError as e:
            tid = self.emu.state.tenant_id
            raise WebHdfsError(401, "SecurityException", f"Failed to validate the access token in the Authorization "
                                                         f"header: {e.message}",
                               {"WWW-Authenticate": f'Bearer authorization_uri="https://login.windows.net/{tid}/'
                                                    f'oauth2/authorize", resource_id="{AUDIENCE}"'}) from None

    def caller(self, claims: dict, account: dict) -> Caller:
        oid = str(claims.get("oid") or "")
        ids = self.emu.directory.caller_ids(claims)
        return Caller(oid, ids - {oid}, superuser=self.permissive or self.is_owner(ids, account["id"]))

    def is_owner(self, principal_ids: set[str], account_id: str) -> bool:
        """Members of the account's Owner role (at the account or above) are Gen1 super-users."""
        owner = by_name("Owner")["name"].lower()
        ids = {i.lower() for i in principal_ids}
        return any(a.principal_id.lower() in ids and a.role_definition_id.rsplit("/", 1)[-1].lower() == owner
                   and scope_contains(a.scope, account_id) for a in self.emu.state.assignments())


class _Op:
    """One WebHDFS operation on one account's tree."""

    def __init__(self, plane: DataLakeStoreGen1, request: web.Request, rid: str, op: str, path: str, q: dict,
                 body: bytes, tree: Tree, caller: Caller, host: str):
        self.plane, self.request, self.rid, self.op, self.path = plane, request, rid, op, path
        self.q, self.body, self.tree, self.caller, self.host = q, body, tree, caller, host

    # -- answers --------------------------------------------------------------------------------------
    def json(self, doc: dict, status: int = 200) -> web.Response:
        return web.Response(status=status, text=json.dumps(doc), content_type="application/json",
                            headers=self.plane._headers(self.rid))

    def empty(self, status: int = 200, extra: dict | None = None) -> web.Response:
        h = self.plane._headers(self.rid)
        h["ContentLength"] = "0"  # sic: the service's own header, beside Content-Length
        h.update(extra or {})
        return web.Response(status=status, headers=h)

    def forbidden(self) -> WebHdfsError:
        log.info("Gen1 %s on %s denied for %s", self.op, self.path, self.caller.oid)
        stamp = self.plane._stamp(self.rid)
        return WebHdfsError(403, "AccessControlException",
                            f"{self.op} {FORBIDDEN}. [{self.rid}] {FORBIDDEN}. {stamp}")

    def not_found(self, path: str | None = None) -> WebHdfsError:
        return WebHdfsError(404, "FileNotFoundException", f"File/Folder does not exist: {path or self.path} "
                                                          f"{self.plane._stamp(self.rid)}")

    def need(self, want: int, *, on_parent: bool = False, path: str | None = None) -> None:
        if not self.tree.allowed(self.caller, path or self.path, want, on_parent=on_parent):
            raise self.forbidden()

    def existing(self, path: str | None = None) -> dict:
        node = self.tree.node(path or self.path)
        if node is None:
            raise self.not_found(path)
        return node

    def status(self, path: str, suffix: str) -> dict:
        node = self.tree.node(path)
        item = self.tree.item(path)
        is_file = node["type"] == FILE
        return {"length": node.get("length", 0), "pathSuffix": suffix, "type": node["type"],
                "blockSize": 268435456 if is_file else 0, "accessTime": node.get("atime", 0),
                "modificationTime": node.get("mtime", 0), "replication": 1 if is_file else 0,
                "permission": item.octal(), "owner": item.owner, "group": item.group}

    def flag(self, name: str) -> bool:
        return (self.q.get(name) or "").lower() == "true"

    def redirect(self, flag: str) -> web.Response:
        """The first step of a two-step operation: 307 to the same operation with ``flag=true``."""
        params = [(k, v) for k, v in self.request.query.items() if k.lower() not in ("op", flag)]
        query = "&".join([f"op={self.op}"] + [f"{quote(k)}={quote(v)}" for k, v in params] + [f"{flag}=true"])
        location = f"https://{self.host}{PREFIX}{quote(self.path)}?{query}"
        return self.empty(307, {"Location": location})

    # -- reads ----------------------------------------------------------------------------------------
    def liststatus(self) -> web.Response:
        node = self.existing() if self.tree.allowed(self.caller, self.path, 0) else None
        if node is None:
            raise self.forbidden()
        if node["type"] == FILE:
            return self.json({"FileStatuses": {"FileStatus": [self.status(self.path, "")]}})
        self.need(READ | EXECUTE)
        entries = [self.status(p, name_of(p)) for p in self.tree.children(self.path)]
        return self.json({"FileStatuses": {"FileStatus": entries}})

    def getfilestatus(self) -> web.Response:
        self.need(0)
        self.existing()
        return self.json({"FileStatus": self.status(self.path, "")})

    def getcontentsummary(self) -> web.Response:
        self.need(READ | EXECUTE)
        self.existing()
        below = self.tree.descendants(self.path)
        files = [p for p in below if self.tree.node(p)["type"] == FILE]
        length = sum(self.tree.node(p).get("length", 0) for p in files)
        return self.json({"ContentSummary": {"directoryCount": len(below) - len(files) + 1, "fileCount": len(files),
                                             "length": length, "quota": -1, "spaceConsumed": length,
                                             "spaceQuota": -1}})

    def getaclstatus(self) -> web.Response:
        self.need(0)
        self.existing()
        item = self.tree.item(self.path)
        return self.json({"AclStatus": {"entries": item.entries(), "owner": item.owner, "group": item.group,
                                        "permission": item.octal(), "stickyBit": False}})

    msgetaclstatus = getaclstatus

    def checkaccess(self) -> web.Response:
        action = self.q.get("fsaction") or ""
        if len(action) != 3 or any(c not in allowed for c, allowed in zip(action, ("r-", "w-", "x-"))):
            raise WebHdfsError(400, "IllegalArgumentException", f"Invalid value for webhdfs parameter \"fsaction\": "
                                                                f"'{action}'.")
        self.need(0)
        self.existing()
        want = (READ if action[0] == "r" else 0) | (WRITE if action[1] == "w" else 0) | (EXECUTE if action[2] == "x"
                                                                                      else 0)
        self.need(want)
        return self.empty()

    def open(self) -> web.Response:
        self.need(READ)
        node = self.existing()
        if node["type"] != FILE:
            raise WebHdfsError(404, "FileNotFoundException", f"Path is not a file: {self.path}")
        if not self.flag("read"):
            return self.redirect("read")
        data = base64.b64decode(node.get("data") or "")
        offset = int(self.q.get("offset") or 0) if (self.q.get("offset") or "0").isdigit() else -1
        if offset < 0 or offset > len(data):
            raise WebHdfsError(400, "BadOffsetException", f"Invalid offset {self.q.get('offset')} for {self.path}")
        length = self.q.get("length")
        end = len(data) if not (length and length.isdigit()) else offset + int(length)
        node["atime"] = now_ms()
        return web.Response(status=200, body=data[offset:end], content_type="application/octet-stream",
                            headers=self.plane._headers(self.rid))

    # -- writes ---------------------------------------------------------------------------------------
    def _deepest_existing(self, path: str) -> str:
        p = path
        while p != "/" and self.tree.node(p) is None:
            p = parent_of(p)
        return p

    def mkdirs(self) -> web.Response:
        node = self.tree.node(self.path)
        if node is not None:
            if node["type"] == FILE:
                raise WebHdfsError(403, "FileAlreadyExistsException", f"Cannot create directory {self.path}: a file "
                                                                      f"exists at that path.")
            self.need(0)
            return self.json({"boolean": True})
        base = self._deepest_existing(self.path)
        if self.tree.node(base)["type"] == FILE:
            raise WebHdfsError(403, "FileAlreadyExistsException", f"Parent path is not a directory: {base}")
        self.need(WRITE | EXECUTE, path=base)
        self.tree.mkdirs(self.path, self.caller.oid)
        return self.json({"boolean": True})

    def create(self) -> web.Response:
        if self.path == "/":
            raise WebHdfsError(400, "IllegalArgumentException", "Cannot create a file at the root path.")
        existing = self.tree.node(self.path)
        if existing is not None and existing["type"] == DIRECTORY:
            raise WebHdfsError(403, "FileAlreadyExistsException", f"{self.path} is a directory.")
        if existing is not None and not self.flag("overwrite"):
            raise WebHdfsError(403, "FileAlreadyExistsException", f"CREATE failed: {self.path} already exists and "
                                                                  f"overwrite is false.")
        base = self._deepest_existing(parent_of(self.path))
        if self.tree.node(base)["type"] == FILE:
            raise WebHdfsError(403, "FileAlreadyExistsException", f"Parent path is not a directory: {base}")
        self.need(WRITE | EXECUTE, path=base)
        if not self.flag("write"):
            return self.redirect("write")
        self.tree.mkdirs(parent_of(self.path), self.caller.oid)
        node = existing if existing is not None else self.tree.add(self.path, FILE, self.caller.oid)
        node.update({"data": base64.b64encode(self.body).decode(), "length": len(self.body), "mtime": now_ms()})
        location = f"https://{self.host}{PREFIX}{quote(self.path)}?{self.request.query_string}"
        return self.empty(201, {"Location": location})

    def append(self) -> web.Response:
        node = self.existing() if self.tree.allowed(self.caller, self.path, 0) else None
        if node is None:
            raise self.forbidden()
        if node["type"] != FILE:
            raise WebHdfsError(404, "FileNotFoundException", f"Path is not a file: {self.path}")
        self.need(WRITE)
        if not self.flag("append"):
            return self.redirect("append")
        data = base64.b64decode(node.get("data") or "")
        offset = self.q.get("offset")
        if offset is not None and (not offset.isdigit() or int(offset) != len(data)):
            raise WebHdfsError(400, "BadOffsetException", f"APPEND failed: the offset {offset} is not the file's "
                                                          f"length {len(data)}.")
        data += self.body
        node.update({"data": base64.b64encode(data).decode(), "length": len(data), "mtime": now_ms()})
        return self.empty()

    def delete(self) -> web.Response:
        if self.path == "/":
            raise WebHdfsError(403, "AccessControlException", "The root directory cannot be deleted.")
        self.need(WRITE | EXECUTE, on_parent=True)
        node = self.tree.node(self.path)
        if node is None:
            return self.json({"boolean": False})
        if node["type"] == DIRECTORY and self.tree.children(self.path) and not self.flag("recursive"):
            raise WebHdfsError(403, "PathIsNotEmptyDirectoryException", f"`{self.path} is non empty': Directory is "
                                                                        f"not empty")
        self.tree.remove(self.path)
        return self.json({"boolean": True})

    def rename(self) -> web.Response:
        dest_raw = self.request.query.get("destination") or next(
            (v for k, v in self.request.query.items() if k.lower() == "destination"), "")
        try:
            dest = normalise(dest_raw)
        except PathError as e:
            raise WebHdfsError(400, "IllegalArgumentException", str(e)) from None
        if not dest_raw or dest == "/" or self.path == "/":
            raise WebHdfsError(400, "IllegalArgumentException", "RENAME needs a source and a destination other than "
                                                                "the root.")
        self.need(WRITE | EXECUTE, on_parent=True)
        self.need(WRITE | EXECUTE, on_parent=True, path=dest)
        if self.tree.node(self.path) is None or self.tree.node(dest) is not None or \
                not self.tree.is_dir(parent_of(dest)) or dest.startswith(self.path + "/"):
            return self.json({"boolean": False})
        self.tree.move(self.path, dest)
        return self.json({"boolean": True})

    # -- access control ---------------------------------------------------------------------------------
    def _own(self):
        """ACL and permission changes: traversal, then the item's owner or a super-user."""
        self.need(0)
        self.existing()
        item = self.tree.item(self.path)
        if not (self.caller.superuser or item.owner.lower() == self.caller.oid.lower()):
            raise self.forbidden()
        return item

    def _spec(self, allow_remove: bool = False):
        spec = self.q.get("aclspec")
        if not spec:
            raise WebHdfsError(400, "IllegalArgumentException", "Invalid value for webhdfs parameter \"aclspec\": the "
                                                                "parameter is required.")
        try:
            return parse_acl(spec, allow_remove=allow_remove)
        except AclError as e:
            raise WebHdfsError(400, "IllegalArgumentException", f"Invalid value for webhdfs parameter \"aclspec\": "
                                                                f"{e}") from None

    def _change(self, fn) -> web.Response:
        item = self._own()
        try:
            fn(item)
        except AclError as e:
            raise WebHdfsError(400, "IllegalArgumentException", str(e)) from None
        if not self.tree.is_dir(self.path) and item.default_acl:
            raise WebHdfsError(400, "IllegalArgumentException", "Invalid ACL: only directories may have a default "
                                                                "ACL.")
        self.tree.save_item(self.path, item)
        return self.empty()

    def setacl(self) -> web.Response:
        entries = self._spec()
        return self._change(lambda item: item.set_acl(entries))

    def modifyaclentries(self) -> web.Response:
        entries = self._spec()
        return self._change(lambda item: item.modify(entries))

    def removeaclentries(self) -> web.Response:
        entries = self._spec(allow_remove=True)
        return self._change(lambda item: item.remove(entries))

    def removedefaultacl(self) -> web.Response:
        return self._change(lambda item: item.remove_default())

    def removeacl(self) -> web.Response:
        return self._change(lambda item: item.remove_all())

    def setpermission(self) -> web.Response:
        text = self.q.get("permission") or "755"
        try:
            mode = parse_mode(text)
        except AclError as e:
            raise WebHdfsError(400, "IllegalArgumentException", f"Invalid value for webhdfs parameter "
                                                                f"\"permission\": {e}") from None
        return self._change(lambda item: item.set_mode(mode))

    def setowner(self) -> web.Response:
        owner, group = self.q.get("owner"), self.q.get("group")
        item = self._own()
        if owner and not self.caller.superuser:  # only a super-user gives an item away
            raise self.forbidden()
        if owner:
            item.owner = owner.lower()
        if group:
            item.group = group.lower()
        self.tree.save_item(self.path, item)
        return self.empty()
