"""The authorizing Blob gateway: ``https://<account>.blob.core.windows.net`` in front of Azurite.

* **Bearer tokens** are checked here, before anything reaches Azurite: the shared validator
  (signature, issuer, tenant, audience ``https://storage.azure.com[/]`` or the account URL,
  lifetime), ``x-ms-version`` 2017-11-09 or later, then RBAC with the operation's permission
  (:mod:`.actions`) at the container or account scope. An authorized request is re-signed
  with the account key (Shared Key) and forwarded.
* **Shared Key and SAS** requests pass to Azurite unchanged: Azurite checks them with the keys
  ARM handed out. Where Azurite's answer differs from Storage's, the gateway rewrites it: a
  signature (or SAS time window) Azurite cannot verify is its ``AuthorizationFailure``, which
  Storage calls ``AuthenticationFailed`` (403, with an ``AuthenticationErrorDetail``).
* **Anonymous** requests are refused (``NoAuthenticationInformation``): the emulator makes
  every container private, the default of the pages.

Answers have Storage's shape: an XML ``<Error><Code/><Message/></Error>`` body, the
``x-ms-error-code`` header and, for OAuth failures, the ``WWW-Authenticate`` challenge.

An account host that no storage account has answers ``404 AccountNotFound`` in Storage's XML
shape. A real client would fail DNS resolution instead, which a proxy that already accepted the
CONNECT cannot reproduce; a 404 naming the account is the nearest observable answer.

``Config.permissive_storage`` (``milab serve --permissive-storage``) turns every check off:
any request, with any credential or none, is re-signed with the account key. It exists only
so the project's tests can show that every storage denial check fails without the gateway.
"""
from __future__ import annotations

import datetime as dt
import email.utils
import logging
import uuid
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

import aiohttp
from aiohttp import web
from yarl import URL

from ..tokens import TokenError
from . import actions
from .azurite import AzuriteManager, AzuriteUnavailable
from .signing import query_has_sas, shared_key_authorization

if TYPE_CHECKING:  # pragma: no cover
    from ..server import Emulator

log = logging.getLogger("milab.storage")

SUFFIX = ".blob.core.windows.net"
STORAGE_AUDIENCES = ("https://storage.azure.com", "https://storage.azure.com/")
MIN_OAUTH_VERSION = "2017-11-09"
ACCOUNT_TYPE = "Microsoft.Storage/storageAccounts"
_HOP = {"host", "connection", "keep-alive", "proxy-authorization", "proxy-connection", "te", "trailer",
        "transfer-encoding", "upgrade", "content-length"}
_RESP_DROP = {"connection", "keep-alive", "transfer-encoding", "content-length", "server", "date"}

_TOKEN_DETAIL = {
    "missing": "No access token was presented.",
    "malformed": "The access token is not a well-formed JWT.",
    "signature": "Signature validation failed.",
    "issuer": "Issuer validation failed. Issuer did not match.",
    "tenant": "Issuer validation failed. Issuer did not match.",
    "audience": "Audience validation failed. Audience did not match.",
    "expired": "Lifetime validation failed. The token is expired.",
    "not_yet_valid": "Lifetime validation failed. The token is not yet valid.",
}

MSG_AUTH_INFO = "Server failed to authenticate the request. Please refer to the information in the www-authenticate header."
MSG_AUTH_FAILED = ("Server failed to authenticate the request. Make sure the value of Authorization header is formed "
                   "correctly including the signature.")
MSG_PERMISSION = "This request is not authorized to perform this operation using this permission."


def storage_error(status: int, code: str, message: str, headers: dict | None = None,
                  detail: str | None = None) -> web.Response:
    rid = str(uuid.uuid4())
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
    body = (f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{escape(code)}</Code>'
            f"<Message>{escape(message)}\nRequestId:{rid}\nTime:{now}</Message>")
    if detail:
        body += f"<AuthenticationErrorDetail>{escape(detail)}</AuthenticationErrorDetail>"
    body += "</Error>"
    h = {"x-ms-error-code": code, "x-ms-request-id": rid, "x-ms-version": "2021-08-06",
         "Content-Type": "application/xml"}
    h.update(headers or {})
    return web.Response(status=status, body=body.encode(), headers=h)


def _credential_detail(raw: str) -> str:
    from urllib.parse import parse_qsl
    q = {k.lower(): v for k, v in parse_qsl(raw.partition("?")[2], keep_blank_values=True)}
    if "sig" not in q:
        return "The MAC signature found in the HTTP request is not the same as any computed signature."
    now = dt.datetime.now(dt.timezone.utc)
    try:
        expiry = dt.datetime.fromisoformat(q.get("se", "").replace("Z", "+00:00"))
        start = dt.datetime.fromisoformat(q["st"].replace("Z", "+00:00")) if q.get("st") else None
    except ValueError:
        return "Signature fields not well formed."
    if expiry.tzinfo is None:
        expiry = expiry.replace(tzinfo=dt.timezone.utc)
    if start is not None and start.tzinfo is None:
        start = start.replace(tzinfo=dt.timezone.utc)
    if now > expiry or (start is not None and now < start):
        fmt = "%a, %d %b %Y %H:%M:%S GMT"
        return (f"Signature not valid in the specified time frame: Start [{start.strftime(fmt) if start else ''}] - "
                f"Expiry [{expiry.strftime(fmt)}] - Current [{now.strftime(fmt)}]")
    return "Signature did not match. String to sign used was not the one the signature was computed over."


class BlobGateway:
    """The data plane at ``*.blob.core.windows.net`` (registered in ``emu.data_planes``)."""

    def __init__(self, emu: "Emulator"):
        self.emu = emu
        self.azurite = AzuriteManager(emu.run_dir, emu.pki.leaf_cert, emu.pki.leaf_key, emu.pki.ca_cert)
        self.azurite.on_remove = self._purge_account
        self._session: aiohttp.ClientSession | None = None
        emu.data_planes[SUFFIX] = self

    @property
    def permissive(self) -> bool:
        return bool(getattr(self.emu.config, "permissive_storage", False))

    # -- accounts --------------------------------------------------------------------------------
    def account_resource(self, name: str) -> dict | None:
        for r in self.emu.state.resources.values():
            if r.get("type", "").lower() == ACCOUNT_TYPE.lower() and r.get("name") == name:
                return r
        return None

    def _session_for(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            conn = aiohttp.TCPConnector(ssl=self.azurite.client_ssl(), limit=256)
            self._session = aiohttp.ClientSession(connector=conn, auto_decompress=False,
                                                  timeout=aiohttp.ClientTimeout(total=300))
        return self._session

    # -- entry point -----------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        host = (request.url.host or request.host or "").split(":")[0].lower()
        account = host[: -len(SUFFIX)] if host.endswith(SUFFIX) else ""
        res = self.account_resource(account) if account and "." not in account else None
        if res is None:
            return storage_error(404, "AccountNotFound" if account else "InvalidUri",
                                 f"The storage account '{account}' does not exist in the emulated subscription "
                                 f"(a real client would fail to resolve {host}).")
        keys = res.get("_milab", {}).get("keys") or {}
        raw = request.raw_path
        path, _, query = raw.partition("?")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        authz = request.headers.get("Authorization", "")
        scheme = authz.split(" ", 1)[0].lower() if authz else ""
        resign = False
        if self.permissive:
            headers.pop("Authorization", None)
            if query_has_sas(query):
                query = "&".join(p for p in query.split("&") if p.split("=", 1)[0].lower() not in
                                 ("sv", "ss", "srt", "sp", "se", "st", "spr", "sip", "sig", "sr", "si", "skoid",
                                  "sktid", "skt", "ske", "sks", "skv", "rscc", "rscd", "rsce", "rscl", "rsct"))
                raw = path + ("?" + query if query else "")
            resign = True
        elif scheme == "bearer":
            denied = self.authorize_bearer(request, authz, res, path, query)
            if denied is not None:
                return denied
            headers.pop("Authorization", None)
            resign = True
        elif not authz and not query_has_sas(query):
            if request.method == "OPTIONS":
                resign = False  # CORS preflight is unauthenticated; Azurite answers it
            else:
                return storage_error(401, "NoAuthenticationInformation", MSG_AUTH_INFO,
                                     {"WWW-Authenticate": self._challenge()})
        body = await request.read()
        if resign:
            headers["x-ms-date"] = email.utils.formatdate(usegmt=True)
            headers.pop("Date", None)
            if body:
                headers["Content-Length"] = str(len(body))
            headers["Authorization"] = shared_key_authorization(request.method, raw, headers, account,
                                                                keys["key1"])
            headers.pop("Content-Length", None)
        return await self.forward(request, account, raw, headers, body)

    def _challenge(self) -> str:
        return (f"Bearer authorization_uri=https://login.microsoftonline.com/{self.emu.state.tenant_id}/oauth2/"
                f"authorize resource_id=https://storage.azure.com")

    def authorize_bearer(self, request: web.Request, authz: str, res: dict, path: str,
                         query: str) -> web.Response | None:
        account = res["name"]
        version = request.headers.get("x-ms-version", "")
        if not version or version < MIN_OAUTH_VERSION:
            return storage_error(403, "AuthenticationFailed", MSG_AUTH_FAILED,
                                 detail="Authentication scheme Bearer is not supported in this version.")
        token = authz.split(" ", 1)[1].strip() if " " in authz else ""
        audiences = STORAGE_AUDIENCES + (f"https://{account}{SUFFIX}", f"https://{account}{SUFFIX}/")
        try:
            claims = self.emu.tokens.validate(token, audiences)
        except TokenError as e:
            return storage_error(401, "InvalidAuthenticationInfo", MSG_AUTH_INFO,
                                 {"WWW-Authenticate": self._challenge()}, detail=_TOKEN_DETAIL.get(e.reason, e.message))
        perm = actions.required_permission(request.method, path, query)
        scope = actions.scope_for(res["id"], perm)
        if not self.emu.allowed(claims.get("oid", ""), perm.action, scope, data_action=perm.data_action):
            log.info("denied %s (%s) on %s for %s", perm.operation, perm.action, scope, claims.get("oid"))
            return storage_error(403, "AuthorizationPermissionMismatch", MSG_PERMISSION)
        return None

    async def forward(self, request: web.Request, account: str, raw: str, headers: dict,
                      body: bytes) -> web.StreamResponse:
        if account not in self.azurite.accounts:  # an account from a state directory: register it again
            res = self.account_resource(account)
            keys = (res or {}).get("_milab", {}).get("keys")
            if keys:
                self.azurite.add(account, keys["key1"], keys["key2"])
        try:
            port = await self.azurite.port(account)
        except AzuriteUnavailable as e:
            return storage_error(503, "ServerBusy", f"The blob engine for this account is unavailable: {e}")
        if port is None:
            return storage_error(503, "ServerBusy", f"The blob engine for '{account}' is not running.")
        headers["Host"] = f"{account}{SUFFIX}"
        url = URL(f"https://127.0.0.1:{port}{raw}", encoded=True)
        try:
            async with self._session_for().request(request.method, url, headers=headers, data=body or None,
                                                   allow_redirects=False,
                                                   skip_auto_headers=("Content-Type",)) as up:
                data = await up.read()
                out_headers = [(k, v) for k, v in up.headers.items() if k.lower() not in _RESP_DROP]
                status = up.status
                length = up.headers.get("Content-Length")
        except aiohttp.ClientError as e:
            return storage_error(503, "ServerBusy", f"The blob engine did not answer: {e}")
        if status == 403 and b"<Code>AuthorizationFailure</Code>" in data and b"failed to authenticate" in data:
            # Azurite's code for a Shared Key or SAS signature (or SAS time window) it cannot verify;
            # Storage answers AuthenticationFailed with a detail
            return storage_error(403, "AuthenticationFailed", MSG_AUTH_FAILED, detail=_credential_detail(raw))
        resp = web.Response(status=status, body=data if request.method != "HEAD" else None)
        for k, v in out_headers:
            resp.headers.add(k, v)
        if request.method == "HEAD" and length is not None:
            resp.headers["Content-Length"] = length
        return resp

    async def admin(self, account: str, port: int, method: str, raw: str, key: str | None = None) -> tuple[int, bytes]:
        """A Shared Key request of the emulator itself to Azurite (container create/delete, purge)."""
        if key is None:
            res = self.account_resource(account)
            if res is None:
                return 404, b""
            key = res["_milab"]["keys"]["key1"]
        headers = {"x-ms-date": email.utils.formatdate(usegmt=True), "x-ms-version": "2021-08-06",
                   "Host": f"{account}{SUFFIX}"}
        headers["Authorization"] = shared_key_authorization(method, raw, headers, account, key)
        url = URL(f"https://127.0.0.1:{port}{raw}", encoded=True)
        async with self._session_for().request(method, url, headers=headers, skip_auto_headers=("Content-Type",)) as r:
            data = await r.read()
            if r.status >= 400 and r.status != 409 and not (method == "DELETE" and r.status == 404):
                log.warning("Azurite %s %s for %s answered %s", method, raw, account, r.status)
            return r.status, data

    async def _purge_account(self, account: str, port: int, key: str) -> None:
        """A deleted account's containers go too (a later account of the same name starts empty)."""
        import re
        from urllib.parse import quote
        status, data = await self.admin(account, port, "GET", "/?comp=list", key)
        if status != 200:
            return
        for name in re.findall(rb"<Container><Name>([^<]+)</Name>", data):
            await self.admin(account, port, "DELETE", f"/{quote(name.decode())}?restype=container", key)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        await self.azurite.close()
