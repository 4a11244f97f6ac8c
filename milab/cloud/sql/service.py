"""The Azure SQL gateway of the emulator: logins, sessions and the ways clients reach it.

Clients reach ``<server>.database.windows.net:1433`` by two routes (README, "Azure SQL"):

1. **through the proxy**: ``CONNECT <server>.database.windows.net:1433`` to the emulator's
   forward proxy opens a tunnel to this gateway (the client knows the server by the tunnel's
   target), for clients that can tunnel a socket (``tedious`` with a socket from the proxy,
   ``pytds`` with one);
2. **by address**, for the ODBC driver and mssql-python, which cannot use an HTTP proxy:

   * inside a namespaced guest, by the page's own name and port: each server has a listener on
     ``<its loopback address>:1433`` of the guest's network namespace, and the guest's own
     ``/etc/hosts`` maps ``<server>.database.windows.net`` to that address
     (:meth:`SqlService.guest_endpoints`, served through ``Guests.add_endpoints``); the guest is
     an Azure host (the firewall's "Allow Azure services" rule lets it in);
   * outside namespaces (the operator, a guest under ``--guest-isolation none``): each server
     has a listener on a loopback port of the host, and ``MILAB_SQL_SERVERS`` (in the operator's
     and such guests' environment) names the JSON file mapping each server's name to it; the
     client connects there with ``HostNameInCertificate`` set to the real name.

Token logins are checked by the shared validator (``emu.tokens.validate``) for Azure SQL's
audiences, then mapped to the server's Entra admin or a contained user (:mod:`.security`).
"""
from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import os
import socket
import ssl
import struct
import uuid
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ...sqlclient import SERVERS_VAR  # outside namespaces: the file of the servers' loopback addresses
from ..directory.apps import GRAPH_APP_ID, by_app_id
from ..files import write_atomic
from ..guests import GuestEndpoint, endpoint_address
from ..proxy import extra
from ..tokens import TokenError
from . import tds
from .connection import Connection
from .engine import Batch, Database, external_user
from .errors import TOKEN_PRINCIPAL, SqlError, login_failed
from .security import FIXED_ROLES, DbPrincipal, Identity

if TYPE_CHECKING:  # pragma: no cover
    from ..server import Emulator

log = logging.getLogger("milab.sql")

SUFFIX = ".database.windows.net"
PORT = 1433
GUEST_CLIENT_IP = "10.0.0.4"  # the address a VM's guest connects from (its private address in its VNet)
SERVER_TYPE = "Microsoft.Sql/servers"
DATABASE_TYPE = "Microsoft.Sql/servers/databases"
SQL_APP_ID = "022907d3-0f1b-48f7-badc-1ba6abab6d66"  # Azure SQL Database's first-party app
# What the server's own identity needs to resolve names for a service-principal admin (Learn,
# "Managed identities in Microsoft Entra for Azure SQL": User.Read.All, GroupMember.Read.All,
# Application.Read.All on Microsoft Graph; or the Directory Readers role).
GRAPH_READ_ROLES = ("User.Read.All", "GroupMember.Read.All", "Application.Read.All")
DIRECTORY_READERS = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"  # directory role template id
SETUP_URL = "https://aka.ms/sqlaadsetup"


def server_name_of(host: str | None) -> str | None:
    """``<server>`` of ``<server>.database.windows.net`` (any case, a trailing dot allowed)."""
    host = (host or "").lower().rstrip(".")
    if host.endswith(SUFFIX) and host.count(".") == SUFFIX.count("."):
        return host[: -len(SUFFIX)] or None
    return None


class SqlService:
    def __init__(self, emu: "Emulator"):
        self.emu = emu
        emu.data_planes[SUFFIX] = self
        self.permissive = bool(getattr(emu.config, "permissive_sql", False))
        self.dir = emu.run_dir / "sql"
        self._contexts: dict[bool, ssl.SSLContext] = {}
        self._host = ""
        self._listeners: dict[str, dict[str, Any]] = {}
        self._spid = 50
        self._tasks: set[asyncio.Task] = set()
        emu.guests.add_endpoints(self.guest_endpoints)
        emu.guests.host_route_env[SERVERS_VAR] = str(self.servers_file)

    # -- the HTTP side (nothing: Azure SQL speaks TDS on 1433) ------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"error": {"code": "HostNotEmulated", "message": (
            f"Azure SQL serves TDS on port {PORT} of '{request.host}', not HTTPS.")}}, status=502)

    async def start(self) -> None:
        self._host = self.emu.config.host
        for res in list(self.emu.state.resources.values()):
            if res.get("type", "").lower() == SERVER_TYPE.lower():
                self.server_created(res["name"])
        self._publish()

    async def close(self) -> None:
        for name in list(self._listeners):
            self.server_deleted(name, publish=False)
        for t in list(self._tasks):
            t.cancel()

    # -- route 2 outside namespaces: a loopback listener per logical server -----------------------------
    @property
    def servers_file(self):
        return self.emu.run_dir / "sql-servers.json"

    def server_created(self, name: str) -> None:
        """Open the server's loopback listener (synchronously: it accepts before ARM answers)."""
        name = name.lower()
        if name in self._listeners or not self._host:
            return
        sock = socket.socket(socket.AF_INET6 if ":" in self._host else socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((self._host, 0))
        sock.listen(128)
        sock.setblocking(False)
        entry: dict[str, Any] = {"sock": sock, "server": None}
        self._listeners[name] = entry

        async def serve():
            entry["server"] = await asyncio.start_server(
                lambda r, w: self._accept_local(name, r, w), sock=sock, limit=64 * 1024)
        self._spawn(serve())
        self._publish()

    def server_deleted(self, name: str, publish: bool = True) -> None:
        entry = self._listeners.pop(name.lower(), None)
        if entry is not None:
            if entry["server"] is not None:
                entry["server"].close()
            else:
                entry["sock"].close()
        if publish:
            self._publish()

    def endpoints(self) -> dict[str, str]:
        """``<server>.database.windows.net`` -> ``host:port`` of its loopback listener."""
        return {f"{name}{SUFFIX}": f"{self._host}:{e['sock'].getsockname()[1]}" for name, e in self._listeners.items()}

    def _publish(self) -> None:
        """``MILAB_SQL_SERVERS``: the servers' loopback addresses, for clients outside namespaces."""
        # 0600 from creation, like every file of the run directory
        write_atomic(self.servers_file, json.dumps(self.endpoints(), indent=1, sort_keys=True), durable=False)

    def _spawn(self, coro) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def tls_context(self, strict: bool) -> ssl.SSLContext:
        ctx = self._contexts.get(strict)
        if ctx is None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.emu.pki.leaf_cert, self.emu.pki.leaf_key)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            if strict:
                ctx.set_alpn_protocols(["tds/8.0"])
            else:  # TLS inside PRELOGIN: the TDS 7.x clients' TLS 1.2
                ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            self._contexts[strict] = ctx
        return ctx

    # -- routes in ------------------------------------------------------------------------------------
    async def _accept_local(self, name: str, reader, writer) -> None:
        """A server's loopback listener (route 2 outside namespaces): a host process such as the
        operator's, or a guest that is not isolated (an Azure host when it says so)."""
        peer = extra(writer, "peername") or ("127.0.0.1", 0)
        await Connection(self, reader, writer, server_name=name, client_ip=peer[0], from_azure=False).run()

    def guest_endpoints(self) -> list[GuestEndpoint]:
        """Route 2 inside a namespaced guest: every server at ``127.1.x.y:1433`` of the guest's own
        loopback, by its name."""
        def serve(name: str):
            return lambda r, w: Connection(self, r, w, server_name=name, client_ip=GUEST_CLIENT_IP,
                                           from_azure=True).run()
        names = sorted(r["name"].lower() for r in self.emu.state.resources.values()
                       if r.get("type", "").lower() == SERVER_TYPE.lower())
        return [GuestEndpoint(f"{name}{SUFFIX}", endpoint_address(1, i), PORT, serve(name))
                for i, name in enumerate(names)]

    @property
    def route(self) -> "_ProxyRoute":
        return _ProxyRoute(self)

    def server_exists(self, host: str) -> bool:
        name = server_name_of(host)
        return name is not None and self.server(name) is not None

    async def tunnel(self, host: str, reader, writer, from_azure: bool) -> None:
        """Route 1: a CONNECT tunnel from the proxy to ``host:1433``."""
        await Connection(self, reader, writer, server_name=server_name_of(host),
                         client_ip=GUEST_CLIENT_IP if from_azure else "127.0.0.1", from_azure=from_azure).run()

    # -- the model ------------------------------------------------------------------------------------
    def server(self, name: str) -> dict | None:
        name = (name or "").lower()
        return next((r for r in self.emu.state.resources.values()
                     if r.get("type", "").lower() == SERVER_TYPE.lower() and r.get("name", "").lower() == name), None)

    def databases(self, server: dict) -> list[dict]:
        return [r for r in self.emu.state.children(server["id"]) if r["type"].lower() == DATABASE_TYPE.lower()]

    def database_resource(self, server: dict, name: str) -> dict | None:
        return self.emu.state.get(f"{server['id']}/databases/{name}")

    def database_file(self, db: dict) -> Database:
        internal = db.setdefault("_milab", {})
        if not internal.get("file"):
            internal["file"] = f"{uuid.uuid4().hex}.sqlite"
        self.dir.mkdir(parents=True, exist_ok=True)
        return Database(str(self.dir / internal["file"]))

    def drop_database(self, db: dict) -> None:
        f = (db.get("_milab") or {}).get("file")
        if f:
            for suffix in ("", "-wal", "-shm"):
                try:
                    os.unlink(self.dir / (f + suffix))
                except FileNotFoundError:
                    pass

    def host_label(self, conn: Connection) -> str:
        return self.resolve_name(conn) or ""

    def resolve_name(self, conn: Connection, login: tds.Login7 | None = None) -> str | None:
        for candidate in (conn.server_name, server_name_of(conn.sni),
                          server_name_of(login.servername.split(",")[0].removeprefix("tcp:") if login else None)):
            if candidate:
                return candidate
        return None

    # -- login ----------------------------------------------------------------------------------------
    def login(self, conn: Connection, login: tds.Login7) -> "Session":
        name = self.resolve_name(conn, login)
        server = self.server(name) if name else None
        if server is None:
            # what a client that reached no logical server hears (Azure SQL's gateway, Msg 40532)
            raise SqlError(40532, f'Cannot open server "{name or login.servername}" requested by the login. The '
                                  f'login failed.', severity=20, fatal=True)
        self._firewall(conn, server)
        identity = self._authenticate(server, login)
        db_name = login.database or "master"
        db = self.database_resource(server, db_name)
        if db is None:
            raise _cannot_open(db_name, identity)
        principal = self._principal(server, db, identity)
        self._spid += 1
        return Session(self, conn, server, db, identity, principal, self._spid)

    def _firewall(self, conn: Connection, server: dict) -> None:
        """Azure SQL's firewall: the rules of the server (``0.0.0.0``-``0.0.0.0`` lets Azure hosts in)."""
        if self.permissive:
            return
        rules = [r for r in self.emu.state.children(server["id"])
                 if r["type"].lower() == "microsoft.sql/servers/firewallrules"]
        if (server.get("properties") or {}).get("publicNetworkAccess", "Enabled") == "Disabled":
            # Msg 47073: "Reason: An instance-specific error occurred while establishing a connection to SQL Server.
            # Connection was denied since Deny Public Network Access is set to Yes"
            raise SqlError(47073, "Reason: An instance-specific error occurred while establishing a connection to SQL "
                                  "Server. Connection was denied since Deny Public Network Access is set to Yes "
                                  "(https://docs.microsoft.com/azure/azure-sql/database/connectivity-settings#deny-"
                                  "public-network-access). To connect to this server, use the Private Endpoint from "
                                  "inside your virtual network (https://docs.microsoft.com/azure/sql-database/sql-"
                                  "database-private-endpoint-overview#how-to-set-up-private-link-for-azure-sql-"
                                  "database).", severity=14, fatal=True)
        ip = ipaddress.ip_address(conn.client_ip)
        for r in rules:
            p = r.get("properties") or {}
            try:
                lo, hi = ipaddress.ip_address(p.get("startIpAddress")), ipaddress.ip_address(p.get("endIpAddress"))
            except ValueError:
                continue
            if str(lo) == str(hi) == "0.0.0.0":
                if conn.from_azure:
                    return
                continue
            if lo <= ip <= hi:
                return
        raise SqlError(40615, f"Cannot open server '{server['name']}' requested by the login. Client with IP address "
                              f"'{conn.client_ip}' is not allowed to access the server.  To enable access, use the "
                              f"Azure Management Portal or run sp_set_firewall_rule on the master database to create "
                              f"a firewall rule for this IP address or address range.  It may take up to five minutes "
                              f"for this change to take effect.", severity=14, fatal=True)

    def admin(self, server: dict) -> dict | None:
        res = self.emu.state.get(f"{server['id']}/administrators/ActiveDirectory")
        return (res or {}).get("properties") or None

    def entra_only(self, server: dict) -> bool:
        res = self.emu.state.get(f"{server['id']}/azureADOnlyAuthentications/Default")
        return bool(((res or {}).get("properties") or {}).get("azureADOnlyAuthentication"))

    def _authenticate(self, server: dict, login: tds.Login7) -> Identity:
        if login.fedauth is not None:
            return self._token_login(server, login.fedauth)
        if login.integrated:
            raise login_failed("", "The login is from an untrusted domain and cannot be used with Integrated "
                                   "authentication.")
        user = login.username.split("@", 1)[0]
        props = server.get("properties") or {}
        if self.entra_only(server):
            # Azure SQL with Entra-only authentication refuses SQL logins: "Login failed for user '...'.
            # Reason: Azure Active Directory only authentication is enabled. Please contact your system
            # administrator."
            raise login_failed(user, "Reason: Azure Active Directory only authentication is enabled. Please contact "
                                     "your system administrator.")
        expected = ((server.get("_milab") or {}).get("password"))
        if (self.permissive or (user and user.lower() == str(props.get("administratorLogin", "")).lower()
                                and expected is not None and login.password == expected)):
            return Identity(login=props.get("administratorLogin") or user, object_id=None, app_id=None, kind="sql")
        raise login_failed(user)

    def _token_login(self, server: dict, fedauth: tds.FedAuth) -> Identity:
        if fedauth.library != tds.FEDAUTH_LIBRARY_SECURITYTOKEN or fedauth.token is None:
            raise SqlError(33147, "Federated Authentication Feature data used in login record to open a connection is "
                                  "structurally or semantically invalid; the connection has been closed. Please "
                                  "contact the vendor of the client library.", severity=20, fatal=True)
        app = by_app_id(SQL_APP_ID)
        try:
            claims = self.emu.tokens.validate(fedauth.token, app.audiences if app else ())
        except TokenError as e:
            if e.reason == "expired":
                # Msg 18456, Level 14, State 233: "... Token is expired." (microsoft/azuredatastudio#14497)
                raise login_failed(detail="Token is expired.", state=233) from None
            if e.reason in ("issuer", "tenant"):
                # a token of another tenant: "Login failed for user '<token-identified principal>'. The server is not
                # currently configured to accept this token." (microsoft/azuredatastudio#21422)
                raise login_failed(detail="The server is not currently configured to accept this token.") from None
            # a token for another resource, a bad signature, not a JWT: "Login failed for user '<token-identified
            # principal>'. Incorrect or invalid token." (microsoft/vscode-mssql#22031: an ARM token sent to SQL)
            raise login_failed(detail="Incorrect or invalid token.") from None
        oid = str(claims.get("oid") or "")
        obj = self.emu.directory.object(oid)
        if obj is None and not self.permissive:
            raise login_failed()
        app_only = claims.get("idtyp") == "app" or (obj is not None and obj.type == "servicePrincipal")
        login_name = (obj.display_name if obj else oid)
        if obj is not None and obj.type == "user":
            login_name = (obj.doc or {}).get("userPrincipalName") or obj.display_name
        return Identity(login=login_name, object_id=oid.lower(), app_id=str(claims.get("appid") or "").lower() or None,
                        kind="entra", service_principal=app_only, claims=claims)

    def is_admin(self, server: dict, identity: Identity) -> bool:
        if identity.kind == "sql":
            return True
        admin = self.admin(server)
        if not admin:
            return False
        sid = str(admin.get("sid") or "").lower()
        if sid and sid in (identity.object_id, identity.app_id):
            return True
        return bool(sid) and sid in {g.lower() for g in self.emu.directory.caller_ids(identity.claims)}

    def _principal(self, server: dict, db: dict, identity: Identity) -> DbPrincipal:
        if self.is_admin(server, identity):
            return DbPrincipal("dbo", dbo=True)
        catalog = catalog_of(db)
        ids = {i.lower() for i in self.emu.directory.caller_ids(identity.claims)} if identity.claims else set()
        users = [u for u in catalog["users"].values() if u["object_id"] in ids]
        direct = [u for u in users if u["object_id"] == identity.object_id]
        if not users:
            if self.permissive:
                return DbPrincipal(identity.login, dbo=True)
            raise login_failed()
        user = (direct or users)[0]
        roles = {r for u in users for r, members in catalog["members"].items() if u["name"].lower() in members}
        return DbPrincipal(user["name"], dbo=self.permissive, roles=frozenset(roles))

    # -- directory reads for CREATE USER ... FROM EXTERNAL PROVIDER -----------------------------------
    def server_can_read_directory(self, server: dict) -> str | None:
        """None when the server may read the directory for a service-principal admin; otherwise the
        message Azure SQL gives (Learn, "Microsoft Entra service principals with Azure SQL",
        Troubleshooting)."""
        ident = ((server.get("_milab") or {}).get("identity")) or {}
        principals = [ident.get("system")] if ident.get("system") else []
        for ua in ident.get("user") or []:
            res = self.emu.state.get(ua)
            pid = ((res or {}).get("properties") or {}).get("principalId")
            if pid and self.emu.state.principals.get(pid):
                principals.append(pid)
        if not principals:
            return (f'Server identity is not configured. Please follow the steps in "Assign a Microsoft Entra identity '
                    f'to your server and add Directory Reader permission to your identity" ({SETUP_URL})')
        readers = {m.lower() for m in self.emu.state.directory_roles.get(DIRECTORY_READERS, [])}
        for pid in principals:
            held = set(self.emu.directory.app_roles(pid, GRAPH_APP_ID))
            if set(GRAPH_READ_ROLES) <= held or held & {"Directory.Read.All"} or \
                    readers & {i.lower() for i in self.emu.directory.principal_ids(pid)}:
                return None
        return "User or server identity does not have permission to read from Azure Active Directory."


class _ProxyRoute:
    """What the proxy hands ``CONNECT <server>.database.windows.net:1433`` to."""

    def __init__(self, service: SqlService):
        self.service = service

    def accepts(self, host: str) -> bool:
        return self.service.server_exists(host)

    async def tunnel(self, host: str, reader, writer, proxy_authorization: str | None) -> None:
        from ..imds import vm_secret_from_proxy_auth
        secret = vm_secret_from_proxy_auth(proxy_authorization)
        from_azure = bool(secret) and self.service.emu.state.vm_for_secret(secret) is not None
        await self.service.tunnel(host, reader, writer, from_azure)


def _cannot_open(db_name: str, identity: Identity) -> SqlError:
    user = identity.login if identity.kind == "sql" else TOKEN_PRINCIPAL
    err = login_failed(user)
    # Msg 4060, Level 11: 'Cannot open database "%.*ls" requested by the login. The login failed.'
    err.also = [SqlError(4060, f'Cannot open database "{db_name}" requested by the login. The login failed.',
                         severity=11)]
    return err


def catalog_of(db: dict) -> dict:
    internal = db.setdefault("_milab", {})
    cat = internal.setdefault("sql", {})
    cat.setdefault("users", {})
    cat.setdefault("members", {})
    cat.setdefault("next_id", 5)
    return cat


class Session:
    """A logged-in connection: its database, who it is, its SQLite connection and transaction."""

    def __init__(self, service: SqlService, conn: Connection, server: dict, db: dict, identity: Identity,
                 principal: DbPrincipal, spid: int):
        self.service = service
        self.connection = conn
        self.server = server
        self.db_res = db
        self.identity = identity
        self.principal = principal
        self.spid = spid
        self.server_name = server["name"]
        self.database = db["name"]
        self.db = service.database_file(db)
        self.conn = self.db.connect()
        self.closed = False
        self.in_transaction = False
        self.last_rowcount = 0
        self.prepared: dict[int, tuple[str, list[str]]] = {}
        conn.spid = spid

    def catalog(self) -> dict:
        return catalog_of(self.db_res)

    def login_response(self, login: tds.Login7) -> bytes:
        out = tds.Tokens()
        out.envchange(tds.ENV_DATABASE, self.database, "master")
        out.info(5701, 2, 0, f"Changed database context to '{self.database}'.", self.server_name)
        out.envchange(tds.ENV_COLLATION, tds.COLLATION, b"")
        out.envchange(tds.ENV_LANGUAGE, "us_english", "")
        out.info(5703, 1, 0, "Changed language setting to us_english.", self.server_name)
        version = min(login.tds_version, tds.TDS74) if login.tds_version != tds.TDS80 else tds.TDS80
        out.loginack(version if version >= 0x72000000 else tds.TDS74, "Microsoft SQL Server", (12, 0, 2000))
        out.envchange(tds.ENV_PACKETSIZE, str(self.connection.packet_size), str(self.connection.packet_size))
        if login.features:
            acks = []
            if login.fedauth is not None:
                acks.append((tds.FEATURE_FEDAUTH, b""))
            if tds.FEATURE_UTF8_SUPPORT in login.features:
                acks.append((tds.FEATURE_UTF8_SUPPORT, b"\x00"))
            out.featureextack(acks)
        out.done()
        return out.bytes()

    # -- requests --------------------------------------------------------------------------------------
    def batch(self, text: str, params: dict[str, Any] | None = None) -> bytes:
        return Batch(self, params).run(text)

    def rpc(self, calls: list[tds.RpcCall]) -> bytes:
        out = bytearray()
        for call in calls:
            out += self._rpc(call)
        return bytes(out)

    def _rpc(self, call: tds.RpcCall) -> bytes:
        proc = call.proc if isinstance(call.proc, int) else tds.PROC_NAMES.get(call.proc.lower(), call.proc)
        vals = [p.value for p in call.params]
        try:
            if proc == tds.SP_EXECUTESQL:
                stmt, names = str(vals[0] or ""), _param_names(vals[1] if len(vals) > 1 else "")
                return self._with_status(self.batch(stmt, dict(zip(names, vals[2:]))), 0)
            if proc in (tds.SP_PREPEXEC, tds.SP_PREPARE):
                names, stmt = _param_names(vals[1] or ""), str(vals[2] or "")
                handle = len(self.prepared) + 1
                self.prepared[handle] = (stmt, names)
                body = self.batch(stmt, dict(zip(names, vals[3:]))) if proc == tds.SP_PREPEXEC else b""
                tail = tds.Tokens()
                tail.return_status(0)
                tail.return_value(0, call.params[0].name or "@handle", handle)
                tail.done(tds.DONE_FINAL, 0, 0, tds.TOK_DONEPROC)
                return _strip_final(body) + tail.bytes()
            if proc == tds.SP_EXECUTE:
                stmt, names = self.prepared.get(int(vals[0] or 0), (None, []))
                if stmt is None:
                    raise SqlError(8179, f"Could not find prepared statement with handle {vals[0]}.")
                return self._with_status(self.batch(stmt, dict(zip(names, vals[1:]))), 0)
            if proc == tds.SP_UNPREPARE:
                self.prepared.pop(int(vals[0] or 0), None)
                return self._with_status(b"", 0)
        except (IndexError, TypeError, ValueError):
            raise_error = SqlError(201, f"Procedure or function '{call.proc}' expects parameters that were not "
                                        f"supplied.")
            return self._error(raise_error)
        except SqlError as e:
            return self._error(e)
        return self._error(SqlError(2812, f"Could not find stored procedure '{call.proc}'.", state=62))

    def _error(self, e: SqlError) -> bytes:
        out = tds.Tokens()
        out.error(e.number, e.state, e.severity, e.message, self.server_name)
        out.done(tds.DONE_ERROR, 0, 0, tds.TOK_DONEPROC)
        return out.bytes()

    def _with_status(self, body: bytes, status: int) -> bytes:
        tail = tds.Tokens()
        tail.return_status(status)
        tail.done(tds.DONE_FINAL, 0, 0, tds.TOK_DONEPROC)
        return _strip_final(body) + tail.bytes()

    def transaction(self, request: int) -> bytes:
        out = tds.Tokens()
        descriptor = struct.pack("<Q", self.spid)
        try:
            if request == tds.TM_BEGIN_XACT:
                self.begin()
                out.envchange(tds.ENV_BEGINTRAN, descriptor, b"")
            elif request == tds.TM_COMMIT_XACT:
                self.commit()
                out.envchange(tds.ENV_COMMITTRAN, b"", descriptor)
            elif request == tds.TM_ROLLBACK_XACT:
                self.rollback()
                out.envchange(tds.ENV_ROLLBACKTRAN, b"", descriptor)
            elif request == tds.TM_SAVE_XACT:
                pass
            else:
                raise SqlError(8509, "Distributed transactions are not supported by the emulator.")
        except SqlError as e:
            out.error(e.number, e.state, e.severity, e.message, self.server_name)
            out.done(tds.DONE_ERROR)
            return out.bytes()
        out.done()
        return out.bytes()

    def begin(self) -> None:
        if not self.in_transaction:
            self.conn.execute("BEGIN")
            self.in_transaction = True

    def commit(self) -> None:
        if self.in_transaction:
            self.conn.execute("COMMIT")
            self.in_transaction = False

    def rollback(self) -> None:
        if self.in_transaction:
            self.conn.execute("ROLLBACK")
            self.in_transaction = False

    def reset(self) -> None:
        self.rollback()
        self.prepared.clear()

    # -- security statements -----------------------------------------------------------------------------
    def _save(self) -> None:
        self.service.emu.state.put(self.db_res)
        self.service.emu.state.save()

    def _require(self, permission: str, error: SqlError) -> None:
        if not self.principal.has(permission):
            raise error

    def create_external_user(self, name: str, object_id: str | None) -> None:
        # "User does not have permission to perform this action." (Msg 15247)
        self._require("ALTER ANY USER", SqlError(15247, "User does not have permission to perform this action."))
        catalog = self.catalog()
        if name.lower() in catalog["users"] or name.lower() in FIXED_ROLES or name.lower() in (
                "dbo", "guest", "public", "sys", "information_schema"):
            raise SqlError(15023, f"User, group, or role '{name}' already exists in the current database.")
        if self.identity.kind != "entra":
            raise SqlError(33159, f"Principal '{name}' could not be created. Only connections established with Active "
                                  f"Directory accounts can create other Active Directory users.")
        directory = self.service.emu.directory
        if self.identity.service_principal and not self.service.permissive:
            problem = self.service.server_can_read_directory(self.server)
            if problem:
                raise SqlError(33134, f"Principal '{name}' could not be resolved. Error message: '{problem}'")
        if object_id:
            obj = directory.object(object_id)
            found = [obj] if obj is not None else []
        else:
            found = directory.lookup_name(name)
        if not found and self.service.permissive:  # resolves nothing, authorizes everything
            from ..directory import DirObject
            found = [DirObject(str(uuid.uuid4()), "servicePrincipal", name)]
        if not found:
            raise SqlError(33130, f"Principal '{name}' could not be found or this principal type is not supported.")
        if len(found) > 1:
            # SQL DB checks the display name is unique (the 2019 page's note): Msg 33131
            raise SqlError(33131, f"Principal '{name}' has a duplicate display name. Make the display name unique in "
                                  f"Azure Active Directory and execute this statement again.")
        obj = found[0]
        if any(u["object_id"] == obj.id.lower() for u in catalog["users"].values()):
            raise SqlError(15063, "The login already has an account under a different user name.")
        catalog["users"][name.lower()] = external_user(obj, name, catalog["next_id"])
        catalog["next_id"] += 1
        self._save()

    def alter_role(self, role: str, op: str, member: str) -> None:
        catalog = self.catalog()
        key = role.lower()
        if key not in FIXED_ROLES:
            raise SqlError(15151, f"Cannot alter the role '{role}', because it does not exist or you do not have "
                                  f"permission.")
        needed = "ALTER ANY USER" if key == "db_owner" else "ALTER ANY ROLE"
        if key == "db_owner" and not (self.principal.dbo or "db_owner" in self.principal.roles):
            needed = "never"
        self._require(needed, SqlError(15151, f"Cannot alter the role '{role}', because it does not exist or you do "
                                              f"not have permission."))
        if member.lower() not in catalog["users"]:
            raise SqlError(15151, f"Cannot {'add' if op == 'ADD' else 'drop'} the principal '{member}', because it "
                                  f"does not exist or you do not have permission.")
        members = catalog["members"].setdefault(key, [])
        if op == "ADD" and member.lower() not in members:
            members.append(member.lower())
        elif op == "DROP" and member.lower() in members:
            members.remove(member.lower())
        self._save()

    def drop_user(self, name: str, if_exists: bool) -> None:
        catalog = self.catalog()
        denied = not self.principal.has("ALTER ANY USER")
        if name.lower() not in catalog["users"] or denied:
            if if_exists and not denied:
                return
            raise SqlError(15151, f"Cannot drop the user '{name}', because it does not exist or you do not have "
                                  f"permission.")
        del catalog["users"][name.lower()]
        for members in catalog["members"].values():
            if name.lower() in members:
                members.remove(name.lower())
        self._save()


def _param_names(decl: str) -> list[str]:
    """``@P1 int,@P2 nvarchar(50)`` -> ``['P1', 'P2']``."""
    out = []
    for part in str(decl or "").split(","):
        part = part.strip()
        if part.startswith("@"):
            out.append(part[1:].split()[0].lower())
    return out


def _strip_final(body: bytes) -> bytes:
    """A batch's tokens without its final DONE (an RPC ends with DONEPROC instead)."""
    if len(body) >= 13 and body[-13] == tds.TOK_DONE:
        status = struct.unpack_from("<H", body, len(body) - 12)[0]
        return body[:-13] + (bytes([tds.TOK_DONEINPROC]) + body[-12:] if status & tds.DONE_ERROR else b"")
    return body
