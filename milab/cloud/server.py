"""The embedded emulated Azure: one asyncio process on loopback.

Listeners: the public proxy port (what clients put in HTTP(S)_PROXY and what the
control API answers on), an internal TLS listener with the emulator's certificate, and
an internal plain-HTTP listener. Both internal listeners serve one aiohttp application
that routes by host name to the emulated services.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
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
from .proxy import Proxy
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


class Emulator:
    def __init__(self, config: Config | None = None):
        self.config = config or Config()
        self.run_dir = private_dir(self.config.state_dir) if self.config.state_dir else new_private_dir(
            "milab-emulator-")  # 0700 either way
        # one emulator per state directory, for as long as it lives (raises DirInUse)
        self.lock = DirLock(self.run_dir).acquire() if self.config.state_dir else None
        self.pki = pki_mod.create(self.run_dir / "pki")
        self.state = State.load_or_new(self.config.state_dir)
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
        self._tasks: set[asyncio.Task] = set()
        self._runner: web.AppRunner | None = None
        self._proxy_server: asyncio.base_events.Server | None = None

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

        ``request`` (an ``authorization.conditions.RequestContext``) carries the request's attributes
        for role assignments with conditions (Azure ABAC); without it such assignments grant no data
        action."""
        if not self.config.enforce_rbac:
            return True
        return bool(self.evaluator.check({principal_id}, action, scope, self.state.assignments(),
                                         data_action=data_action, request=request))

    def spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- routing by host ----------------------------------------------------------------------
    @web.middleware
    async def _errors(self, request: web.Request, handler):
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except UnstorableResource as e:  # the state layer refuses what it could not keep (ARM's shape)
            return _json(400, {"error": {"code": "InvalidRequestContent", "message": str(e)}})
        except Exception:  # never a traceback to a client; the log has it
            log.exception("unhandled error for %s %s", request.method, request.url)
            return web.json_response({"error": {"code": "InternalServerError",
                                                "message": "The emulator failed to process the request; "
                                                           "see its log."}}, status=500)

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        host = (request.url.host or request.host or "").split(":")[0].lower().strip("[]")
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
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        tls_site = web.TCPSite(self._runner, self.config.host, 0, ssl_context=self.pki.server_context())
        http_site = web.TCPSite(self._runner, self.config.host, 0)
        await tls_site.start()
        await http_site.start()
        tls_port = tls_site._server.sockets[0].getsockname()[1]
        http_port = http_site._server.sockets[0].getsockname()[1]
        proxy = Proxy(self.config.host, tls_port, http_port)
        self.proxy = proxy  # guests' in-namespace listeners are served by the same proxy
        self._proxy_server = await asyncio.start_server(proxy.handle, self.config.host, self.config.port,
                                                        limit=64 * 1024)
        self.port = self._proxy_server.sockets[0].getsockname()[1]
        for plane in list(self.data_planes.values()):
            if hasattr(plane, "start"):
                await plane.start()
        await self.guests.decide_isolation(self.config.guest_isolation)
        log.info("emulator ready on %s:%s", self.config.host, self.port)

    async def stop(self) -> None:
        for plane in self.data_planes.values():
            await plane.close()
        for t in list(self._tasks):
            t.cancel()
        await self.guests.close()
        if self._proxy_server:
            self._proxy_server.close()
        if self._runner:
            await self._runner.cleanup()
        self.state.save()
        if self.lock:
            self.lock.release()

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
            "NODE_EXTRA_CA_CERTS": bundle,
            "AZURE_TENANT_ID": self.state.tenant_id, "AZURE_CLIENT_ID": op.app_id,
            "AZURE_CLIENT_SECRET": op.secret or "", "AZURE_SUBSCRIPTION_ID": self.state.subscription_id,
            "AZURE_AUTHORITY_HOST": "https://login.microsoftonline.com",
            "MILAB_EMULATOR_URL": self.proxy_url, "MILAB_CONTROL_KEY": self.control_key,
            "MILAB_EMULATOR_PID": str(self.pid), "MILAB_EMULATOR_DIR": str(self.run_dir),
            "MILAB_OPERATOR_OBJECT_ID": op.object_id,
            "MILAB_GUEST_ISOLATION": self.guests.isolation.mode,
        }

    def write_env_file(self, path: Path) -> None:
        write_atomic(path, json.dumps(self.operator_env()))  # 0600 from creation: it holds the operator secret


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
