"""The embedded emulated Azure: one asyncio process on loopback.

Listeners: the public proxy port (what clients put in HTTP(S)_PROXY and what the
control API answers on), an internal TLS listener with the emulator's certificate, and
an internal plain-HTTP listener. One aiohttp application routes by host name to the emulated
services. A client's CONNECT tunnel is served by that application on the client's own
connection (the proxy starts TLS on it); the internal listeners, Unix sockets in the private
run directory that only the proxy (which bounds connections and times out idle ones) reaches,
take plain-HTTP requests and the rare tunnel whose client sent bytes before the proxy's answer.
Every connection is closed when a keep-alive idles for ``idle_timeout``, or a TLS handshake or a
request body stalls that long, and a malformed Host gets 400.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import resource
import secrets
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from . import pki as pki_mod
from .arm.app import ArmService, _json
from .authorization import Evaluator
from .control import ControlService
from .entra import EntraService
from .guests import Guests
from .imds import IMDS_HOST, ImdsService
from .files import DirLock, new_private_dir, private_dir, write_atomic
from .nodejs import node_options
from .proxy import IDLE_TIMEOUT, MAX_CONNECTIONS, REFUSING_LIMIT, Proxy, extra, split_authority
from .state import State, UnstorableResource
from .tokens import SigningKey, TokenService

log = logging.getLogger("milab.emulator")


class DataPlane:
    """What a per-account data-plane service (Blob, Key Vault, Cosmos ...) provides."""

    async def handle(self, request: web.Request) -> web.StreamResponse:  # pragma: no cover - interface
        raise NotImplementedError

    async def close(self) -> None:
        """Stop whatever the service started (child processes, sessions)."""

    async def start(self) -> None:
        """Optional: called once when the emulator starts (e.g. to recover state from a state directory)."""

ENTRA_HOSTS = ("login.microsoftonline.com", "login.windows.net", "sts.windows.net")
ARM_HOSTS = ("management.azure.com", "management.core.windows.net")


@dataclass
class Config:
    host: str = "127.0.0.1"
    port: int = 0
    state_dir: Path | None = None
    enforce_rbac: bool = True
    validate_tokens: bool = True
    permissive_storage: bool = False  # the Blob gateway authorizes everything (only to prove denials can fail)
    imds_checks: bool = True
    permissive_cosmos: bool = False  # the Cosmos data plane authorizes everything (only to prove denials can fail)
    guest_isolation: str = "auto"  # auto | namespaces | none (see guests.py)
    idle_timeout: float = IDLE_TIMEOUT  # seconds a connection may idle, or stall a head, body or handshake
    max_connections: int = MAX_CONNECTIONS  # concurrent client connections on the proxy port
    imds_token_cache: bool = True  # IMDS hands back its cached token (stale roles and groups), as Azure does
    permissive_graph: bool = False  # Graph and AAD Graph authorize everything (only to prove denials can fail)
    permissive_datalake: bool = False  # Data Lake skips ACL checks (only to prove denials can fail)
    permissive_sql: bool = False  # Azure SQL lets every login in as dbo (only to prove denials can fail)


class Emulator:
    def __init__(self, config: Config | None = None):
        self.config = config or Config()
        self.run_dir = private_dir(self.config.state_dir) if self.config.state_dir else new_private_dir(
            "milab-emulator-")  # 0700 either way
        # one emulator per state directory, for as long as it lives (raises DirInUse)
        self.lock = DirLock(self.run_dir).acquire() if self.config.state_dir else None
        self.pki = pki_mod.create(self.run_dir / "pki")
        self.state = State.load_or_new(self.config.state_dir)
        from .directory import Directory
        self.directory = Directory(self.state)  # service principals, users, groups, app roles
        self.tokens = TokenService(self.state.tenant_id, self._signing_key())
        self.tokens.validation_enabled = self.config.validate_tokens
        self.evaluator = Evaluator()
        self.operations: dict[str, dict] = {}
        self.control_key = secrets.token_urlsafe(24)
        self.pid = os.getpid()
        self.port = 0
        self.guests = Guests(self)
        self.arm = ArmService(self)
        self.entra = EntraService(self)
        self.imds = ImdsService(self)
        self.control = ControlService(self)
        # Data planes served per account host, keyed by host suffix (".blob.core.windows.net").
        # A data-plane service registers itself here from its constructor.
        self.data_planes: dict[str, "DataPlane"] = {}
        from .storage import BlobGateway
        self.blob = BlobGateway(self)  # registers itself for ".blob.core.windows.net"
        from .keyvault import KeyVaultService
        self.keyvault = KeyVaultService(self)  # registers itself for ".vault.azure.net"
        from .appservice import AppServiceTokens
        self.appservice = AppServiceTokens(self)  # App Service's IDENTITY_ENDPOINT host
        from .cosmos import CosmosGateway
        self.cosmos = CosmosGateway(self)  # registers itself for ".documents.azure.com"
        from .graph import AzureAdGraph, MicrosoftGraph
        self.graph = MicrosoftGraph(self)  # graph.microsoft.com
        self.aad_graph = AzureAdGraph(self)  # graph.windows.net
        from .datalake import DataLakeStoreGen1, DataLakeStoreGen2
        self.datalake_gen1 = DataLakeStoreGen1(self)  # <account>.azuredatalakestore.net (WebHDFS)
        self.datalake_gen2 = DataLakeStoreGen2(self)  # <account>.dfs.core.windows.net
        from .sql import SqlService
        self.sql = SqlService(self)  # <server>.database.windows.net:1433 (TDS), registers ".database.windows.net"
        self._tasks: set[asyncio.Task] = set()
        self.proxy: Proxy | None = None
        self._runner: web.AppRunner | None = None
        self._proxy_server: asyncio.base_events.Server | None = None
        self._by_name_server: asyncio.AbstractServer | None = None
        self.https_by_name = ""  # host:port of the HTTPS for clients that take no proxy, once started

    def _signing_key(self) -> SigningKey:
        f = self.run_dir / "signing-key.pem"
        kid_file = self.run_dir / "signing-key.kid"
        if self.config.state_dir and f.exists() and kid_file.exists():
            return SigningKey.from_pem(kid_file.read_text().strip(), f.read_bytes())
        key = SigningKey.generate()
        if self.config.state_dir:
            write_atomic(f, key.pem())
            write_atomic(kid_file, key.kid)
        return key

    def allowed(self, principal_id: str, action: str, scope: str, data_action: bool = False,
                request=None) -> bool:
        """RBAC for every emulated service: may the principal perform the (data) action at the scope?
        Assignments to any group the principal belongs to (transitively) count, as in Azure RBAC.

        ``request`` (an ``authorization.conditions.RequestContext``) carries the request's attributes
        for role assignments with conditions (Azure ABAC); without it such assignments grant no data
        action."""
        if not self.config.enforce_rbac:
            return True
        return bool(self.evaluator.check(self.directory.principal_ids(principal_id), action, scope,
                                         self.state.assignments(), data_action=data_action, request=request))

    def spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- routing by host ----------------------------------------------------------------------
    @web.middleware
    async def _errors(self, request: web.Request, handler):
        transport = request.transport  # the listeners see the proxy; services see the client's address
        client = self.proxy.client_address(extra(transport, "peername")) if transport and self.proxy \
            else None
        if client:
            request = request.clone(remote=client)
        try:
            if request.body_exists and not request.content.is_eof():
                return await self._with_body_deadline(request, handler)
            return await handler(request)
        except web.HTTPException:
            raise
        except ConnectionError as e:  # the client went away mid-request: nobody reads an answer
            log.info("client went away during %s %s: %s", request.method, request.path, type(e).__name__)
            return web.Response(status=400)
        except UnstorableResource as e:  # the state layer refuses what it could not keep (ARM's shape)
            return _json(400, {"error": {"code": "InvalidRequestContent", "message": str(e)}})
        except Exception:  # never a traceback to a client; the log has it
            log.exception("unhandled error for %s %s%s", request.method, request.host, request.path)
            return web.json_response({"error": {"code": "InternalServerError",
                                                "message": "The emulator failed to process the request; "
                                                           "see its log."}}, status=500)

    async def _with_body_deadline(self, request: web.Request, handler):
        """Run the handler, but answer 408 and close when the client stalls its body for ``idle_timeout``."""
        work = asyncio.ensure_future(handler(request))
        content, seen = request.content, -1
        while True:
            done, _ = await asyncio.wait({work}, timeout=self.config.idle_timeout)
            if done:
                return work.result()
            if content.is_eof():
                return await work  # the whole body is here: the handler may take its time
            if content.total_bytes == seen:
                work.cancel()
                await asyncio.gather(work, return_exceptions=True)
                log.info("closed %s %s: no body bytes for %.0f s", request.method, request.path,
                         self.config.idle_timeout)
                r = web.Response(status=408, text=f"The request body stalled for {self.config.idle_timeout:.0f} s.")
                r.force_close()
                return r
            seen = content.total_bytes

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        host = request_host(request)
        if host is None:
            return invalid_hostname()
        if host in ARM_HOSTS:
            return await self.arm.handle(request)
        if host in ENTRA_HOSTS:
            return await self.entra.handle(request)
        if host == IMDS_HOST:
            return await self.imds.handle(request)
        if host in ("127.0.0.1", "localhost", "::1") and request.path.startswith("/_milab/"):
            return await self.control.handle(request)
        for suffix, service in self.data_planes.items():
            if host.endswith(suffix):
                return await service.handle(request)
        return _json(502, {"error": {"code": "HostNotEmulated",
                                     "message": f"milab emulates no service at '{host}'."}})

    # -- lifecycle --------------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application(middlewares=[self._errors], client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.dispatch)
        idle = self.config.idle_timeout
        # keepalive_timeout also covers a connection that never completes its first request head; a body
        # left unread after the answer is drained for at most lingering_time
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, keepalive_timeout=idle,
                                     lingering_time=min(10.0, idle))
        await self._runner.setup()
        self._tls = self.pki.server_context()  # one for every TLS listener and the proxy's tunnels
        self._socket_dir = _socket_dir(self.run_dir)
        try:
            tls_path, http_path = await self._listen(idle)
        except OSError:  # a file system without sockets: a private temporary directory instead
            self._socket_dir = Path(tempfile.mkdtemp(prefix="milab-sockets-"))
            tls_path, http_path = await self._listen(idle)
        proxy = Proxy(tls_path, http_path, idle_timeout=idle, max_connections=fd_budget(self.config.max_connections),
                      tls_context=self._tls, server_protocol=self._runner.server)
        self.proxy = proxy  # guests' in-namespace listeners are served by the same proxy
        proxy.raw_tunnels[1433] = self.sql.route
        self._proxy_server = await asyncio.start_server(proxy.handle, self.config.host, self.config.port,
                                                        limit=64 * 1024, backlog=PROXY_BACKLOG)
        self.port = self._proxy_server.sockets[0].getsockname()[1]
        # the emulator's HTTPS on a port of its own, for clients that take no proxy and connect to an
        # emulated host by name (the page runner's Node guard routes @azure/cosmos there)
        by_name = socket.create_server((self.config.host, 0), backlog=PROXY_BACKLOG)
        self._by_name_server = await self.serve_https_on(by_name)
        self.https_by_name = f"{self.config.host}:{by_name.getsockname()[1]}"
        self.guests.host_route_env.update(self.by_name_env())
        for plane in list(self.data_planes.values()):
            if hasattr(plane, "start"):
                await plane.start()
        await self.guests.decide_isolation(self.config.guest_isolation)
        log.info("emulator ready on %s:%s", self.config.host, self.port)

    async def serve_https_on(self, sock: socket.socket) -> asyncio.AbstractServer:
        """The emulator's HTTPS, as the proxy's tunnels serve it, on a listening socket: for clients
        that take no proxy and connect to an emulated host by name (the Node.js Cosmos DB SDK connects
        to the account's host itself), on the host's by-name port or on a guest's endpoint (a socket
        handed over from its namespace). Its connections count within the proxy's bound and close
        with it."""
        return await asyncio.get_running_loop().create_server(
            self.proxy.by_name, sock=sock, ssl=self._tls, ssl_handshake_timeout=self.proxy.idle_timeout)

    async def _listen(self, idle: float) -> tuple[str, str]:
        tls_path, http_path = str(self._socket_dir / "tls.sock"), str(self._socket_dir / "http.sock")
        await _UnixListener(self._runner, tls_path, self._tls, idle).start()
        await _UnixListener(self._runner, http_path, None, idle).start()
        return tls_path, http_path

    async def stop(self) -> None:
        for plane in self.data_planes.values():
            await plane.close()
        for t in list(self._tasks):
            t.cancel()
        await self.guests.close()
        if self._by_name_server:
            self._by_name_server.close()
        if self._proxy_server:
            self._proxy_server.close()
            await self.proxy.close()  # end open tunnels now, rather than have their tasks cancelled at exit
        if self._runner:
            await self._runner.cleanup()
        self.state.save()
        if getattr(self, "_socket_dir", None):
            for name in ("tls.sock", "http.sock"):
                (self._socket_dir / name).unlink(missing_ok=True)
            if self._socket_dir.parent != self.run_dir:
                shutil.rmtree(self._socket_dir, ignore_errors=True)
        if self.lock:
            self.lock.release()
        if not self.config.state_dir:  # the run directory it made itself (keys, certificates): gone with it
            shutil.rmtree(self.run_dir, ignore_errors=True)

    # -- what clients need -------------------------------------------------------------------------
    @property
    def proxy_url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    def operator_env(self) -> dict[str, str]:
        op = self.state.operator
        bundle = str(self.pki.bundle)
        return {
            "HTTPS_PROXY": self.proxy_url, "HTTP_PROXY": self.proxy_url,
            "https_proxy": self.proxy_url, "http_proxy": self.proxy_url,
            "NO_PROXY": "127.0.0.1,localhost,::1", "no_proxy": "127.0.0.1,localhost,::1",
            "REQUESTS_CA_BUNDLE": bundle, "CURL_CA_BUNDLE": bundle, "SSL_CERT_FILE": bundle,
            "NODE_EXTRA_CA_CERTS": bundle, "NODE_OPTIONS": node_options(),  # Node's network guard
            "AZURE_TENANT_ID": self.state.tenant_id, "AZURE_CLIENT_ID": op.app_id,
            "AZURE_CLIENT_SECRET": op.secret or "", "AZURE_SUBSCRIPTION_ID": self.state.subscription_id,
            "AZURE_AUTHORITY_HOST": "https://login.microsoftonline.com",
            "MILAB_EMULATOR_URL": self.proxy_url, "MILAB_CONTROL_KEY": self.control_key,
            "MILAB_EMULATOR_PID": str(self.pid), "MILAB_EMULATOR_DIR": str(self.run_dir),
            "MILAB_OPERATOR_OBJECT_ID": op.object_id,
            "MILAB_GUEST_ISOLATION": self.guests.isolation.mode,
            "MILAB_SQL_SERVERS": str(self.sql.servers_file),  # Azure SQL servers' loopback addresses
            **self.by_name_env(),
        }

    def by_name_env(self) -> dict[str, str]:
        """Where a client that takes no proxy finds an emulated host's HTTPS (``host:port``), and the
        names that are emulated (``*.`` standing for one label)."""
        return {"MILAB_HTTPS_BY_NAME": self.https_by_name, "MILAB_EMULATED_HOSTS": ",".join(pki_mod.TLS_HOSTS)}

    def write_env_file(self, path: Path) -> None:
        write_atomic(path, json.dumps(self.operator_env()))  # 0600 from creation: it holds the operator secret


class _UnixListener(web.BaseSite):
    """An internal listener on a Unix socket, with a bounded TLS handshake."""

    def __init__(self, runner: web.BaseRunner, path: str, ssl_context, handshake_timeout: float):
        super().__init__(runner, ssl_context=ssl_context)
        self._path, self._handshake_timeout = path, handshake_timeout

    @property
    def name(self) -> str:
        return f"{'https' if self._ssl_context else 'http'}://unix:{self._path}:"

    async def start(self) -> None:
        await super().start()
        extra = {"ssl_handshake_timeout": self._handshake_timeout} if self._ssl_context else {}
        self._server = await asyncio.get_running_loop().create_unix_server(
            self._runner.server, self._path, ssl=self._ssl_context, backlog=self._backlog, **extra)


def _socket_dir(run_dir: Path) -> Path:
    """Where the internal listeners' sockets live: in the run directory, unless its path is too long."""
    d = run_dir / "sockets"
    if len(str(d / "https.sock")) < 100:  # sun_path holds 108 bytes
        return private_dir(d)
    return Path(tempfile.mkdtemp(prefix="milab-sockets-"))


PROXY_BACKLOG = 128  # the proxy's listen queue, and what asyncio accepts in one loop turn


def _open_fds() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:  # not Linux: a generous guess
        return 64


def fd_budget(max_connections: int) -> int:
    """Raise RLIMIT_NOFILE to fit ``max_connections`` proxied connections (3 descriptors each), or lower the
    bound to what the hard limit allows: the emulator refuses a connection, it never runs out of descriptors.

    Apart from the connections it serves, the process needs what it holds now, a loop turn's accepts
    (``PROXY_BACKLOG``), refused connections being answered (``REFUSING_LIMIT``), and room for Azurite's
    connection pool (256), guests' pipes and files (an eighth of a small limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    apart = _open_fds() + PROXY_BACKLOG + REFUSING_LIMIT
    need = 3 * max_connections + apart + 320
    if soft != resource.RLIM_INFINITY and soft < need:
        target = need if hard == resource.RLIM_INFINITY else min(need, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY or soft >= need:
        return max_connections
    fitted = max(1, (soft - apart - min(320, soft // 8)) // 3)
    log.warning("the open-files limit is %d: serving at most %d connections at once (not %d)",
                soft, fitted, max_connections)
    return fitted


def request_host(request: web.Request) -> str | None:
    """The lower-cased host a request is for, or None when its Host (or absolute URI) is malformed."""
    authority = request.host  # the absolute URI's host, else the Host header, else the listener's own name
    if request.headers.get("Host") is None and (not authority or authority.startswith("/")):
        return "127.0.0.1"  # no Host at all (HTTP/1.0 to the proxy port on loopback)
    if authority.count(":") > 1 and not authority.startswith("["):
        authority = f"[{authority}]"  # an IPv6 literal from an absolute URI
    parsed = split_authority(authority)
    if parsed is None:
        return None
    try:
        request.url  # what every service builds links from must be buildable too
    except ValueError:
        return None
    return parsed[0]


def invalid_hostname() -> web.Response:
    # HTTP.sys, which fronts Azure's endpoints, answers a malformed Host header with 400 "Bad Request -
    # Invalid Hostname" / "HTTP Error 400. The request hostname is invalid." (IIS support blog, "HTTP 400
    # Bad Request when client sends invalid HTTP:Host header value").
    r = web.Response(status=400, content_type="text/html", charset="us-ascii",
                     text="<!DOCTYPE html>\n<html><head><title>Bad Request</title></head><body>"
                          "<h2>Bad Request - Invalid Hostname</h2><hr><p>HTTP Error 400. The request hostname is "
                          "invalid.</p></body></html>\n")
    r.force_close()
    return r


def run_loop(main) -> None:
    """Run the emulator's coroutine to completion on the event loop it is served with: uvloop's
    (libuv) where installed, which spends about an eighth less CPU per request than the standard
    selector loop on the same code, else asyncio's own."""
    try:
        import uvloop
    except ImportError:  # (not installed on Windows; the standard loop serves the same)
        asyncio.run(main)
        return
    uvloop.run(main)


async def serve(config: Config, env_file: Path | None = None, on_ready=None) -> None:
    emu = Emulator(config)
    await emu.start()
    # the operator (Owner on the subscription) exists from the start
    from .arm.bootstrap import bootstrap
    bootstrap(emu)
    if env_file:
        emu.guests.hide(env_file)  # it holds the operator's secret and the control key
        emu.write_env_file(env_file)
    if on_ready:
        on_ready(emu)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    import signal
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover
            pass
    await stop.wait()
    await emu.stop()
