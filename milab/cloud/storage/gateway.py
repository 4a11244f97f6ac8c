"""The authorizing Blob gateway: ``https://<account>.blob.core.windows.net`` in front of Azurite.

Every request is checked here before anything reaches Azurite, in this order:

1. **Well-formed input**: the request target must be valid percent-encoded UTF-8 (else ``400
   InvalidUri``) and header values ASCII (else ``400 InvalidHeaderValue``), so nothing a client
   sends can make the gateway or Azurite fail with a 5xx.
2. **Secure transfer**: a plain-HTTP request to an account with ``supportsHttpsTrafficOnly``
   (the default) is ``400 AccountRequiresHttps``, whatever its credential.
3. **The credential**, exactly one kind:

   * ``Authorization: Bearer <token>``: the shared validator (signature, issuer, tenant, audience
     ``https://storage.azure.com[/]`` or the account URL, lifetime; validated tokens are cached
     until they expire), ``x-ms-version`` 2017-11-09 or later, then RBAC with the operation's
     permission (:mod:`.actions`) at the container or account scope, with the request's
     attributes for role-assignment conditions (container name, blob path, blob index tags,
     List Blobs prefix, suboperation). The authorized request is re-signed with the account key.
   * ``SharedKey`` / ``SharedKeyLite``: passed to Azurite unchanged, which checks the signature
     with the keys ARM handed out.
   * any other ``Authorization`` header: ``403 AuthenticationFailed``. A header that is present is
     always verified (the launcher stops Azurite's public-access shortcut for such requests).
   * a SAS (``sig`` in the query): ``sip`` must contain the caller's address (``403
     AuthorizationSourceIPMismatch``), ``spr=https`` needs HTTPS (``403
     AuthorizationProtocolMismatch``); a user-delegation SAS (``skoid``) additionally needs the
     delegating principal to hold the operation's RBAC permission *now* (``403
     AuthorizationPermissionMismatch``); Azurite verifies the signature, permissions and times.
   * none: anonymous. Refused with ``409 PublicAccessNotPermitted`` unless the account has
     ``allowBlobPublicAccess`` true; then the container's public access level decides (Azurite),
     a private container answering ``404 ResourceNotFound``.

4. **Operation rules**: a container cannot be made public on an account that does not allow it
   (``409 PublicAccessNotPermitted``, Create Container and Set Container ACL); the source of Copy
   Blob, Copy Blob From URL, Put Blob From URL and Put Block From URL is authorized for the
   caller (``x-ms-copy-source-authorization``, the source's own SAS, the caller's RBAC read on the
   source for OAuth, the account key for a same-account source under Shared Key, or public read
   access), else ``CannotVerifyCopySource``; Get User Delegation Key is answered here (OAuth only).

After Azurite answers, an acknowledged write is made durable (Azurite's databases are saved
before the client hears back), and container creation, deletion, ACL and metadata changes are
mirrored in ARM's ``blobServices/default/containers`` resources: one set of containers.

Answers have Storage's shape: an XML ``<Error><Code/><Message/></Error>`` body, the
``x-ms-error-code`` header and, for OAuth failures, the ``WWW-Authenticate`` challenge. An account
host that no storage account has answers ``404 AccountNotFound`` (a real client would fail DNS
resolution, which a proxy that already accepted the CONNECT cannot reproduce).

``Config.permissive_storage`` (``milab serve --permissive-storage``) turns every check off: any
request, with any credential or none, is re-signed with the account key. It exists only so the
project's tests can show that every storage denial check fails without the gateway.
"""
from __future__ import annotations

import base64
import datetime as dt
import email.utils
import hashlib
import hmac
import ipaddress
import logging
import re
import secrets
import uuid
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote, unquote, unquote_to_bytes, urlsplit
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import aiohttp
from aiohttp import web
from yarl import URL

from ..authorization import RequestContext
from ..authorization.conditions import attributes_in
from ..files import write_atomic
from ..tokens import CLOCK_SKEW, TokenError
from . import actions
from .azurite import AzuriteManager, AzuriteUnavailable
from .signing import SAS_VERSION_NEW, query_has_sas, service_sas, shared_key_authorization

if TYPE_CHECKING:  # pragma: no cover
    from ..server import Emulator

log = logging.getLogger("milab.storage")

SUFFIX = ".blob.core.windows.net"
STORAGE_AUDIENCES = ("https://storage.azure.com", "https://storage.azure.com/")
MIN_OAUTH_VERSION = "2017-11-09"
ACCOUNT_TYPE = "Microsoft.Storage/storageAccounts"
ADMIN_VERSION = "2021-08-06"
_HOP = {"host", "connection", "keep-alive", "proxy-authorization", "proxy-connection", "te", "trailer",
        "transfer-encoding", "upgrade", "content-length"}
_RESP_DROP = {"connection", "keep-alive", "transfer-encoding", "content-length", "server", "date"}
_SAS_PARAMS = ("sv", "ss", "srt", "sp", "se", "st", "spr", "sip", "sig", "sr", "si", "skoid", "sktid", "skt", "ske",
               "sks", "skv", "saoid", "suoid", "scid", "sdd", "ses", "rscc", "rscd", "rsce", "rscl", "rsct")
PROTO_HEADER = "x-milab-forwarded-proto"  # the client's protocol, for Azurite's SAS spr check
SOURCE_SAS_HEADER = "x-milab-copy-source-sas"  # gateway -> launcher only; stripped from client requests
STREAM_THRESHOLD = 256 * 1024  # bodies above this are streamed, not buffered
TOKEN_CACHE_SIZE = 4096

# Role-assignment condition attributes the gateway provides (Learn: "Actions and attributes for
# Azure role assignment conditions for Azure Blob Storage")
ATTR_ACCOUNT = "@Resource[Microsoft.Storage/storageAccounts:name]"
ATTR_CONTAINER = f"@Resource[{actions.CONTAINERS}:name]"
ATTR_PATH = f"@Resource[{actions.BLOBS}:path]"
ATTR_PREFIX = f"@Request[{actions.BLOBS}:prefix]"
ATTR_TAG_KEYS = (f"@Resource[{actions.BLOBS}/tags&$keys$&]", f"@Request[{actions.BLOBS}/tags&$keys$&]")

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

MSG_AUTH_INFO = ("Server failed to authenticate the request. Please refer to the information in the www-authenticate "
                 "header.")
MSG_AUTH_FAILED = ("Server failed to authenticate the request. Make sure the value of Authorization header is formed "
                   "correctly including the signature.")
MSG_PERMISSION = "This request is not authorized to perform this operation using this permission."
MSG_NOT_FOUND = "The specified resource does not exist."
MSG_PUBLIC = "Public access is not permitted on this storage account."
MSG_INVALID_URI = "The requested URI does not represent any resource on the server."


def storage_error(status: int, code: str, message: str, headers: dict | None = None,
                  detail: str | None = None, extra: dict[str, str] | None = None) -> web.Response:
    rid = str(uuid.uuid4())
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
    body = (f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{escape(code)}</Code>'
            f"<Message>{escape(message)}\nRequestId:{rid}\nTime:{now}</Message>")
    if detail:
        body += f"<AuthenticationErrorDetail>{escape(detail)}</AuthenticationErrorDetail>"
    for k, v in (extra or {}).items():
        body += f"<{k}>{escape(v)}</{k}>"
    body += "</Error>"
    h = {"x-ms-error-code": code, "x-ms-request-id": rid, "x-ms-version": ADMIN_VERSION,
         "Content-Type": "application/xml"}
    h.update(headers or {})
    return web.Response(status=status, body=body.encode(), headers=h)


class Refused(Exception):
    """A check failed: ``response`` is the answer."""

    def __init__(self, response: web.Response):
        super().__init__(response.status)
        self.response = response


def _credential_detail(raw: str) -> str:
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


_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def request_target(request: web.Request) -> tuple[str, str]:
    """(path, query) of the request as sent, percent-encoded; an absolute-form target (a plain-HTTP
    request relayed by the proxy) is reduced to its path and query. Raises :class:`Refused` with
    ``400 InvalidUri`` when the target is not valid percent-encoded UTF-8."""
    raw = request.raw_path
    if raw.startswith(("http://", "https://")):
        parts = urlsplit(raw)
        raw = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    path, _, query = raw.partition("?")
    try:
        if _BAD_ESCAPE.search(raw) or not path.startswith("/"):
            raise ValueError(raw)
        unquote_to_bytes(path).decode("utf-8")
        unquote_to_bytes(query.replace("+", " ")).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise Refused(storage_error(400, "InvalidUri", MSG_INVALID_URI)) from None
    return path, query


def check_headers(request: web.Request) -> None:
    for name, value in request.headers.items():
        if not value.isascii():
            shown = value.encode("utf-8", "surrogateescape").decode("ascii", "backslashreplace")
            raise Refused(storage_error(400, "InvalidHeaderValue",
                                        "The value for one of the HTTP headers is not in the correct format.",
                                        extra={"HeaderName": name, "HeaderValue": shown}))


def _ip_in(sip: str, addr: str) -> bool:
    try:
        ip = ipaddress.ip_address(addr)
        lo, _, hi = sip.partition("-")
        lo_ip = ipaddress.ip_address(lo.strip())
        hi_ip = ipaddress.ip_address(hi.strip()) if hi else lo_ip
    except ValueError:
        return False
    return ip.version == lo_ip.version == hi_ip.version and lo_ip <= ip <= hi_ip


def _public_level(res: dict) -> str:
    return str((res.get("properties") or {}).get("publicAccess") or "None")


def _allows_public(account: dict) -> bool:
    # unset means false (current REST specs and SDKs: "The default interpretation is false")
    return (account.get("properties") or {}).get("allowBlobPublicAccess") is True


def _tags_from_xml(data: bytes) -> dict[str, str]:
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError:
        return {}
    return {t.findtext("Key") or "": t.findtext("Value") or "" for t in root.iter("Tag")}


def _tags_from_header(value: str | None) -> dict[str, str] | None:
    if value is None:
        return None
    return {k: v for k, v in parse_qsl(value, keep_blank_values=True)}


class BlobGateway:
    """The data plane at ``*.blob.core.windows.net`` (registered in ``emu.data_planes``)."""

    def __init__(self, emu: "Emulator"):
        self.emu = emu
        self.udk_seed = self._udk_seed(Path(emu.run_dir))
        self.azurite = AzuriteManager(emu.run_dir, emu.pki.leaf_cert, emu.pki.leaf_key, emu.pki.ca_cert,
                                      udk_seed=self.udk_seed)
        self.azurite.on_remove = self._purge_account
        self._session: aiohttp.ClientSession | None = None
        self._tokens: dict[str, dict] = {}  # validated bearer token -> its claims, until it expires
        self._account_ids: dict[str, str] = {}  # account name -> state key
        emu.data_planes[SUFFIX] = self

    @staticmethod
    def _udk_seed(run_dir: Path) -> str:
        """The secret user delegation keys derive from (kept with the state, private)."""
        f = run_dir / "blob-udk-seed"
        if f.exists():
            return f.read_text().strip()
        seed = secrets.token_urlsafe(32)
        write_atomic(f, seed)  # 0600 from creation, on disk before a key is derived from it
        return seed

    @property
    def permissive(self) -> bool:
        return bool(getattr(self.emu.config, "permissive_storage", False))

    # -- accounts and containers in ARM's state ---------------------------------------------------
    def account_resource(self, name: str) -> dict | None:
        key = self._account_ids.get(name)
        if key is not None:
            r = self.emu.state.resources.get(key)
            if r is not None and r.get("name") == name:
                return r
        for k, r in self.emu.state.resources.items():
            if r.get("type", "").lower() == ACCOUNT_TYPE.lower() and r.get("name") == name:
                self._account_ids[name] = k
                return r
        self._account_ids.pop(name, None)
        return None

    def container_resource(self, account: dict, name: str) -> dict | None:
        return self.emu.state.get(f"{account['id']}/blobServices/default/containers/{name}")

    async def start(self) -> None:
        """At emulator start (a state directory with accounts): register every account with Azurite
        and reconcile ARM's containers with the engine's, in the background."""
        for r in list(self.emu.state.resources.values()):
            if r.get("type", "").lower() == ACCOUNT_TYPE.lower():
                self._register(r)

    def _register(self, res: dict) -> None:
        keys = (res.get("_milab") or {}).get("keys")
        if not keys:
            return
        name = res["name"]
        self.azurite.add(name, keys["key1"], keys["key2"])
        self.azurite.after_ready(name, lambda port: self.reconcile(name, port))

    async def reconcile(self, account: str, port: int) -> None:
        """Make the engine and ARM agree on the account's containers: containers ARM acknowledged
        but the engine lacks are created, deletions ARM acknowledged are carried out, and
        containers only the engine has (created through the Blob API) become ARM resources."""
        from ..arm.storage import TOMBSTONES, container_document, push_public_access
        res = self.account_resource(account)
        if res is None:
            return
        internal = res.setdefault("_milab", {})
        for name in list(internal.get(TOMBSTONES, [])):
            await self.admin(account, port, "DELETE", f"/{quote(name)}?restype=container")
        engine = await self.engine_containers(account, port)
        if engine is None:
            return
        changed = bool(internal.pop(TOMBSTONES, None))
        prefix = f"{res['id']}/blobServices/default/containers/".lower()
        arm = {r["name"]: r for k, r in self.emu.state.resources.items() if k.startswith(prefix)}
        for name, doc in arm.items():
            if name not in engine:
                await self.admin(account, port, "PUT", f"/{quote(name)}?restype=container")
                if _public_level(doc) != "None":
                    await push_public_access(self, account, port, name, _public_level(doc))
        for name, (level, metadata) in engine.items():
            if name not in arm:
                self.emu.state.put(container_document(f"{prefix[:-1]}/{name}", name, level, metadata,
                                                      res["id"]))
                changed = True
        await self.azurite.flush()
        if changed:
            self.emu.state.save()

    async def engine_containers(self, account: str, port: int) -> dict[str, tuple[str, dict]] | None:
        """The engine's containers of an account: name -> (public access level, metadata)."""
        out: dict[str, tuple[str, dict]] = {}
        marker = ""
        while True:
            status, data = await self.admin(account, port, "GET",
                                            f"/?comp=list&include=metadata&maxresults=5000{marker}")
            if status != 200:
                return None
            try:
                root = ElementTree.fromstring(data)
            except ElementTree.ParseError:
                return None
            for c in root.iter("Container"):
                level = (c.findtext("Properties/PublicAccess") or "").lower()
                found = c.find("Metadata")
                meta = {m.tag: m.text or "" for m in found} if found is not None else {}
                out[c.findtext("Name") or ""] = ({"container": "Container", "blob": "Blob"}.get(level, "None"), meta)
            nxt = root.findtext("NextMarker")
            if not nxt:
                return out
            marker = f"&marker={quote(nxt)}"

    def _session_for(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            conn = aiohttp.TCPConnector(limit=256, keepalive_timeout=30)  # plain HTTP on loopback
            self._session = aiohttp.ClientSession(connector=conn, auto_decompress=False,
                                                  cookie_jar=aiohttp.DummyCookieJar(),
                                                  timeout=aiohttp.ClientTimeout(total=300))
        return self._session

    # -- entry point -----------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._handle(request)
        except Refused as r:
            return r.response

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        host = (request.url.host or request.host or "").split(":")[0].lower()
        account = host[: -len(SUFFIX)] if host.endswith(SUFFIX) else ""
        res = self.account_resource(account) if account and "." not in account else None
        if res is None:
            return storage_error(404, "AccountNotFound" if account else "InvalidUri",
                                 f"The storage account '{account}' does not exist in the emulated subscription "
                                 f"(a real client would fail to resolve {host}).")
        path, query = request_target(request)
        check_headers(request)
        if not request.secure and (res.get("properties") or {}).get("supportsHttpsTrafficOnly", True) is not False:
            # Storage: "AccountRequiresHttps: The account being accessed does not support http." (400)
            return storage_error(400, "AccountRequiresHttps", "The account being accessed does not support http.")
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() not in _HOP and not k.lower().startswith("x-milab-")}
        perm = actions.required_permission(request.method, path, query)
        if self.permissive:
            if perm.operation == "Get User Delegation Key" and (request.headers.get("Authorization") or "") \
                    .lower().startswith("bearer "):
                import jwt  # any token will do here: its claims are read, not checked
                try:
                    unchecked = jwt.decode(request.headers["Authorization"].split(" ", 1)[1].strip(),
                                           options={"verify_signature": False})
                except jwt.PyJWTError:
                    unchecked = {}
                return await self.user_delegation_key(request, unchecked)
            headers.pop("Authorization", None)
            headers.pop("x-ms-copy-source-authorization", None)
            if query_has_sas(query):
                query = "&".join(p for p in query.split("&") if p.split("=", 1)[0].lower() not in _SAS_PARAMS)
            return await self.forward(request, res, path, query, headers, perm, resign=True)

        q = {k.lower(): v for k, v in parse_qsl(query, keep_blank_values=True)}
        authz = request.headers.get("Authorization")
        claims = None
        if authz is not None:
            scheme, sep, _ = authz.partition(" ")
            if scheme.lower() == "bearer" and sep:
                kind = "bearer"
                claims = await self.authorize_bearer(request, authz, res, path, query, perm)
            elif scheme in ("SharedKey", "SharedKeyLite") and sep:
                kind = "sharedkey"
            else:
                return storage_error(403, "AuthenticationFailed", MSG_AUTH_FAILED,
                                     detail=f"The authorization scheme '{scheme[:40]}' is not supported.")
        elif "sig" in q:
            kind = "sas"
            await self.check_sas(request, res, path, query, q, perm)
        else:
            kind = "anonymous"
            if request.method != "OPTIONS" and not _allows_public(res):  # CORS preflight is unauthenticated
                return storage_error(409, "PublicAccessNotPermitted", MSG_PUBLIC)

        if perm.operation in ("Create Container", "Set Container ACL") and \
                request.headers.get("x-ms-blob-public-access") and not _allows_public(res):
            return storage_error(409, "PublicAccessNotPermitted", MSG_PUBLIC)
        if perm.operation == "Get User Delegation Key" and kind == "bearer":
            return await self.user_delegation_key(request, claims)
        if "x-ms-copy-source" in request.headers and request.method == "PUT" and perm.container:
            sas = await self.authorize_copy_source(request, res, kind, claims)
            if sas:
                headers[SOURCE_SAS_HEADER] = sas
        if kind == "bearer":  # re-signed: the credentials the client sent stay here
            headers.pop("Authorization", None)
            headers.pop("x-ms-copy-source-authorization", None)
        return await self.forward(request, res, path, query, headers, perm, resign=kind == "bearer",
                                  anonymous=kind == "anonymous")

    def _challenge(self) -> str:
        return (f"Bearer authorization_uri=https://login.microsoftonline.com/{self.emu.state.tenant_id}/oauth2/"
                f"authorize resource_id=https://storage.azure.com")

    # -- OAuth -------------------------------------------------------------------------------------
    def validate_token(self, token: str, account: str) -> dict:
        """The claims of a storage token (the shared validator; validated tokens are cached until
        their expiry, which is checked again on every use). Raises TokenError."""
        audiences = STORAGE_AUDIENCES + (f"https://{account}{SUFFIX}", f"https://{account}{SUFFIX}/")
        tokens = self.emu.tokens
        claims = self._tokens.get(token)
        if claims is not None:
            now = tokens.clock()
            if claims.get("aud") in audiences and claims["nbf"] - CLOCK_SKEW <= now <= claims["exp"] + CLOCK_SKEW:
                return claims
            if now > claims["exp"] + CLOCK_SKEW:
                self._tokens.pop(token, None)
        claims = tokens.validate(token, audiences)
        if tokens.validation_enabled:
            if len(self._tokens) >= TOKEN_CACHE_SIZE:
                self._tokens.clear()
            self._tokens[token] = claims
        return claims

    def _token_claims(self, authz: str, account: str) -> dict:
        token = authz.split(" ", 1)[1].strip() if " " in authz else ""
        try:
            return self.validate_token(token, account)
        except TokenError as e:
            raise Refused(storage_error(401, "InvalidAuthenticationInfo", MSG_AUTH_INFO,
                                        {"WWW-Authenticate": self._challenge()},
                                        detail=_TOKEN_DETAIL.get(e.reason, e.message))) from None

    async def authorize_bearer(self, request: web.Request, authz: str, res: dict, path: str, query: str,
                               perm: actions.Permission) -> dict:
        version = request.headers.get("x-ms-version", "")
        if not version or version < MIN_OAUTH_VERSION:
            raise Refused(storage_error(403, "AuthenticationFailed", MSG_AUTH_FAILED,
                                        detail="Authentication scheme Bearer is not supported in this version."))
        claims = self._token_claims(authz, res["name"])
        oid = claims.get("oid", "")
        tags = await self._tags_for(oid, res["name"], path)
        if not self.rbac(oid, res, perm, request, path, query, tags) and \
                not self._acl_permits(claims, res, request.method, path, query):
            log.info("denied %s (%s) for %s", perm.operation, perm.action, oid)
            raise Refused(storage_error(403, "AuthorizationPermissionMismatch", MSG_PERMISSION))
        return claims

    def _acl_permits(self, claims: dict, res: dict, method: str, path: str, query: str) -> bool:
        """On a hierarchical-namespace account, POSIX ACLs may allow what RBAC does not (Data Lake
        Storage's access control model; see milab/cloud/datalake/gen2.py)."""
        dfs = getattr(self.emu, "datalake_gen2", None)
        return dfs is not None and dfs.blob_acl_permits(claims, res, method, path, query)

    def rbac(self, oid: str, res: dict, perm: actions.Permission, request: web.Request | None, path: str,
             query: str, tags: dict[str, str] | None = None) -> bool:
        """RBAC for a principal on this request, conditions evaluated with the request's attributes.
        ``tags`` are the blob's index tags when a condition needs them (see :meth:`needs_tags`)."""
        scope = actions.scope_for(res["id"], perm)
        ctx = self.request_context(res, perm, request, path, query, tags)
        return self.emu.allowed(oid, perm.action, scope, data_action=perm.data_action, request=ctx)

    def request_context(self, res: dict, perm: actions.Permission, request: web.Request | None, path: str,
                        query: str, tags: dict[str, str] | None) -> RequestContext:
        container, blob = actions.split_path(path)
        q = {k.lower(): v for k, v in parse_qsl(query, keep_blank_values=True)}
        attrs: dict = {ATTR_ACCOUNT: res["name"]}
        sub_op = None
        if container is not None:
            attrs[ATTR_CONTAINER] = container
            attrs[ATTR_PATH] = blob  # None on container operations: known, absent
            if perm.operation == "List Blobs":
                sub_op = "Blob.List"
                attrs[ATTR_PREFIX] = q.get("prefix")
        req_tags = _tags_from_header(request.headers.get("x-ms-tags")) if request is not None else None
        if req_tags is not None and perm.action.endswith("/write"):
            sub_op = sub_op or "Blob.Write.WithTagHeaders"
        if blob is not None and tags is not None:
            attrs[ATTR_TAG_KEYS[0]] = sorted(tags)
        if req_tags is not None:
            attrs[ATTR_TAG_KEYS[1]] = sorted(req_tags)

        def tag_lookup(source: str, key: str, case_sensitive: bool):
            found = tags if source == "Resource" else req_tags
            if found is None:  # not a blob operation, or no tags in the request: unevaluable
                raise KeyError(key)
            if case_sensitive:
                return found.get(key)
            return next((v for k, v in found.items() if k.lower() == key.lower()), None)
        return RequestContext(sub_operation=sub_op, attributes=attrs, tag_lookup=tag_lookup)

    def needs_tags(self, oid: str) -> bool:
        """Whether any of the principal's conditional assignments reads blob index tags."""
        for ra in self.emu.state.role_assignments.values():
            p = ra.get("properties") or {}
            condition = p.get("condition")
            if condition and p.get("principalId") == oid and \
                    any(a.startswith("@Resource") and "/blobs/tags" in a for a in attributes_in(condition)):
                return True
        return False

    async def _tags_for(self, oid: str, account: str, path: str) -> dict | None:
        container, blob = actions.split_path(path)
        if container is None or blob is None:
            return None
        return await self._tags_if_needed(oid, account, container, blob)

    async def blob_tags(self, account: str, container: str, blob: str) -> dict[str, str]:
        port = await self._port(account)
        status, data = await self.admin(account, port, "GET", f"/{quote(container)}/{quote(blob)}?comp=tags")
        return _tags_from_xml(data) if status == 200 else {}

    # -- SAS ---------------------------------------------------------------------------------------
    async def check_sas(self, request: web.Request, res: dict, path: str, query: str, q: dict,
                        perm: actions.Permission) -> None:
        sip = q.get("sip")
        remote = request.remote or ""
        if sip and not _ip_in(sip, remote):
            raise Refused(storage_error(403, "AuthorizationSourceIPMismatch",
                                        f"This request is not authorized to perform this operation using this "
                                        f"source IP {remote}."))
        if q.get("spr", "").replace(" ", "") == "https" and not request.secure:
            raise Refused(storage_error(403, "AuthorizationProtocolMismatch",
                                        "This request is not authorized to perform this operation using this "
                                        "protocol."))
        if q.get("skoid"):
            tags = await self._tags_for(q["skoid"], res["name"], path)
            self.check_delegation(q, res, perm, request, path, query, tags)

    def check_delegation(self, q: dict, res: dict, perm: actions.Permission, request: web.Request | None,
                         path: str, query: str, tags: dict[str, str] | None = None) -> None:
        """A user-delegation SAS acts for its delegating principal: that principal must hold the
        operation's permission when the SAS is used (Azure checks RBAC at use time)."""
        if q.get("sktid", "").lower() != self.emu.state.tenant_id.lower():
            raise Refused(storage_error(403, "AuthenticationFailed", MSG_AUTH_FAILED,
                                        detail="The signed tenant of the user delegation key is not this tenant."))
        if not self.rbac(q["skoid"], res, perm, request, path, query, tags):
            raise Refused(storage_error(403, "AuthorizationPermissionMismatch", MSG_PERMISSION))

    async def user_delegation_key(self, request: web.Request, claims: dict) -> web.Response:
        """Get User Delegation Key (OAuth only): a key for the caller, valid at most 7 days; the
        value is derived from the emulator's secret seed, the same derivation Azurite verifies
        user-delegation SAS signatures with."""
        body = await request.read()
        try:
            root = ElementTree.fromstring(body)
            start_s, expiry_s = root.findtext("Start"), root.findtext("Expiry")
            if not expiry_s:
                raise ValueError("Expiry")
            expiry = dt.datetime.fromisoformat(expiry_s.replace("Z", "+00:00"))
            start = dt.datetime.fromisoformat(start_s.replace("Z", "+00:00")) if start_s else None
        except (ElementTree.ParseError, ValueError, AttributeError):
            return storage_error(400, "InvalidXmlDocument", "XML specified is not syntactically valid.")
        now = dt.datetime.now(dt.timezone.utc)
        if expiry.tzinfo is None:
            expiry = expiry.replace(tzinfo=dt.timezone.utc)
        if start is not None and start.tzinfo is None:
            start = start.replace(tzinfo=dt.timezone.utc)
        if expiry <= (start or now) or expiry > now + dt.timedelta(days=7, minutes=5):
            # Storage: the key must expire after it starts and within seven days of now
            return storage_error(400, "InvalidXmlNodeValue",
                                 "The value for one of the XML nodes is not in the correct format.",
                                 extra={"XmlNodeName": "Expiry", "XmlNodeValue": expiry_s})
        start_s = start_s or now.strftime("%Y-%m-%dT%H:%M:%SZ")
        version = request.headers.get("x-ms-version", "")
        oid, tid = claims.get("oid", ""), claims.get("tid", "")
        value = user_delegation_key_value(self.udk_seed, oid, tid, start_s, expiry_s, version)
        xml = (f'<?xml version="1.0" encoding="utf-8"?><UserDelegationKey><SignedOid>{escape(oid)}</SignedOid>'
               f"<SignedTid>{escape(tid)}</SignedTid><SignedStart>{escape(start_s)}</SignedStart>"
               f"<SignedExpiry>{escape(expiry_s)}</SignedExpiry><SignedService>b</SignedService>"
               f"<SignedVersion>{escape(version)}</SignedVersion><Value>{value}</Value></UserDelegationKey>")
        return web.Response(status=200, body=xml.encode(), headers={
            "Content-Type": "application/xml", "x-ms-request-id": str(uuid.uuid4()), "x-ms-version": version})

    # -- copy sources ------------------------------------------------------------------------------
    async def authorize_copy_source(self, request: web.Request, dest: dict, kind: str,
                                    claims: dict | None) -> str | None:
        """Authorize the copy source for this caller, or raise Refused with CannotVerifyCopySource.

        Returns a short-lived read SAS for the operations Azurite reads over loopback (Put Block
        From URL, Put Blob From URL) when the source carries no SAS of its own; it travels in
        :data:`SOURCE_SAS_HEADER`, outside Shared Key's string to sign, so x-ms-copy-source is
        never rewritten (a client's Shared Key signature covers it)."""
        source = request.headers["x-ms-copy-source"]
        try:
            url = urlsplit(source)
            host = (url.hostname or "").lower()
        except ValueError:
            host, url = "", None
        src_account = host[: -len(SUFFIX)] if host.endswith(SUFFIX) else ""
        src = self.account_resource(src_account) if src_account and "." not in src_account else None
        container, blob = actions.split_path(url.path if url else "")
        if url is None or url.scheme not in ("http", "https") or src is None or not container or not blob:
            # only blobs of the emulated accounts can be reached: nothing leaves the machine
            raise Refused(storage_error(404, "CannotVerifyCopySource", MSG_NOT_FOUND))
        sq = {k.lower(): v for k, v in parse_qsl(url.query, keep_blank_values=True)}
        read = actions.Permission("Get Blob", f"{actions.BLOBS}/read", True, container)
        src_path = url.path
        reads_over_loopback = (request.query.get("comp", "").lower() == "block" or
                               ("x-ms-blob-type" in request.headers and "x-ms-requires-sync" not in request.headers
                                and not request.query.get("comp")))
        mint = False
        copy_auth = request.headers.get("x-ms-copy-source-authorization")
        if copy_auth is not None:
            scheme, sep, _ = copy_auth.partition(" ")
            if scheme.lower() != "bearer" or not sep:
                raise Refused(storage_error(401, "CannotVerifyCopySource", MSG_AUTH_FAILED))
            try:
                src_claims = self.validate_token(copy_auth.split(" ", 1)[1].strip(), src_account)
            except TokenError:
                raise Refused(storage_error(401, "CannotVerifyCopySource", MSG_AUTH_INFO)) from None
            await self._source_rbac(src_claims.get("oid", ""), src, read, src_path)
            mint = True
        elif "sig" in sq:
            status = await self._probe(src_account, src_path, url.query)
            if status != 200:
                raise Refused(storage_error(status if status in (401, 403, 404, 409) else 403,
                                            "CannotVerifyCopySource",
                                            MSG_NOT_FOUND if status == 404 else MSG_PERMISSION))
            if sq.get("skoid"):
                tags = await self._tags_if_needed(sq["skoid"], src_account, container, blob)
                try:
                    self.check_delegation(sq, src, read, None, src_path, "", tags)
                except Refused:
                    raise Refused(storage_error(403, "CannotVerifyCopySource", MSG_PERMISSION)) from None
        elif kind == "bearer":
            await self._source_rbac((claims or {}).get("oid", ""), src, read, src_path)
            mint = True
        elif kind == "sharedkey" and src["name"] == dest["name"]:
            mint = True  # the account key reads everything in its account
        else:
            status = await self._probe(src_account, src_path, "") if _allows_public(src) else 404
            if status != 200:
                raise Refused(storage_error(404 if status in (401, 403, 404) else status, "CannotVerifyCopySource",
                                            MSG_NOT_FOUND))
        if not (reads_over_loopback and mint):
            return None
        keys = src["_milab"]["keys"]
        expiry = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=15)).strftime("%Y-%m-%dT%H:%M:%SZ")
        params = {"canonicalizedResource": f"/blob/{src_account}/{container}/{blob}", "signedResource": "b",
                  "signedPermission": "r", "signedExpiry": expiry}
        return service_sas(src_account, keys["key1"], params, SAS_VERSION_NEW)

    async def _source_rbac(self, oid: str, src: dict, read: actions.Permission, src_path: str) -> None:
        container, blob = actions.split_path(src_path)
        tags = await self._tags_if_needed(oid, src["name"], container or "", blob or "")
        if not self.rbac(oid, src, read, None, src_path, "", tags):
            log.info("copy source %s denied for %s", src_path, oid)
            raise Refused(storage_error(403, "CannotVerifyCopySource", MSG_PERMISSION))

    async def _tags_if_needed(self, oid: str, account: str, container: str, blob: str) -> dict | None:
        return await self.blob_tags(account, container, blob) if self.needs_tags(oid) else None

    async def _probe(self, account: str, path: str, query: str) -> int:
        """Get Blob Properties of a copy source with its own credential (a SAS, or none), answered
        by Azurite: that is how the source's credential is verified."""
        port = await self._port(account)
        headers = {"Host": f"{account}{SUFFIX}", "x-ms-version": ADMIN_VERSION}
        url = URL(f"http://127.0.0.1:{port}{path}{'?' + query if query else ''}", encoded=True)
        try:
            async with self._session_for().head(url, headers=headers, allow_redirects=False) as r:
                return r.status
        except aiohttp.ClientError:
            return 503

    # -- to Azurite --------------------------------------------------------------------------------
    async def _port(self, account: str) -> int:
        if account not in self.azurite.accounts:  # not registered yet (a state directory): register it
            res = self.account_resource(account)
            if res is not None:
                self._register(res)
        try:
            port = await self.azurite.port(account)
        except AzuriteUnavailable as e:
            raise Refused(storage_error(503, "ServerBusy", f"The blob engine for this account is unavailable: {e}"))
        if port is None:
            raise Refused(storage_error(503, "ServerBusy", f"The blob engine for '{account}' is not running."))
        return port

    async def forward(self, request: web.Request, res: dict, path: str, query: str, headers: dict,
                      perm: actions.Permission, *, resign: bool, anonymous: bool = False) -> web.StreamResponse:
        account = res["name"]
        port = await self._port(account)
        raw = path + (f"?{query}" if query else "")
        length = request.headers.get("Content-Length", "")
        streamed = length.isdigit() and int(length) > STREAM_THRESHOLD
        if streamed:
            body = request.content.iter_chunked(65536)
            headers["Content-Length"] = length
        else:
            body = await request.read() if request.body_exists else b""
        if resign:
            headers["x-ms-date"] = email.utils.formatdate(usegmt=True)
            headers.pop("Date", None)
            to_sign = dict(headers)
            if not streamed and body:
                to_sign["Content-Length"] = str(len(body))
            headers["Authorization"] = shared_key_authorization(request.method, raw, to_sign, account,
                                                                res["_milab"]["keys"]["key1"])
        headers["Host"] = f"{account}{SUFFIX}"
        headers[PROTO_HEADER] = "https" if request.secure else "http"
        url = URL(f"http://127.0.0.1:{port}{raw}", encoded=True)
        try:
            up_cm = self._session_for().request(request.method, url, headers=headers, data=body or None,
                                                allow_redirects=False, skip_auto_headers=("Content-Type",))
            async with up_cm as up:
                status = up.status
                big = request.method == "GET" and status < 300 and \
                    (up.content_length is None or up.content_length > STREAM_THRESHOLD)
                if big:
                    return await self._stream(request, up)
                data = await up.read()
                out_headers = [(k, v) for k, v in up.headers.items() if k.lower() not in _RESP_DROP]
                resp_length = up.headers.get("Content-Length")
        except aiohttp.ClientError as e:
            return storage_error(503, "ServerBusy", f"The blob engine did not answer: {e}")
        if status == 403 and b"<Code>AuthorizationFailure</Code>" in data and b"failed to authenticate" in data:
            if anonymous:
                # an anonymous request that the container's public access level does not allow
                if perm.container is None:
                    return storage_error(401, "NoAuthenticationInformation", MSG_AUTH_INFO,
                                         {"WWW-Authenticate": self._challenge()})
                return storage_error(404, "ResourceNotFound", MSG_NOT_FOUND)
            # Azurite's code for a Shared Key or SAS signature (or SAS time window) it cannot verify;
            # Storage answers AuthenticationFailed with a detail
            return storage_error(403, "AuthenticationFailed", MSG_AUTH_FAILED, detail=_credential_detail(raw))
        if 200 <= status < 300 and request.method not in ("GET", "HEAD", "OPTIONS"):
            await self.after_write(request, res, perm)
        resp = web.Response(status=status, body=data if request.method != "HEAD" else None)
        for k, v in out_headers:
            resp.headers.add(k, v)
        if request.method == "HEAD" and resp_length is not None:
            resp.headers["Content-Length"] = resp_length
        return resp

    async def _stream(self, request: web.Request, up: aiohttp.ClientResponse) -> web.StreamResponse:
        resp = web.StreamResponse(status=up.status)
        for k, v in up.headers.items():
            if k.lower() not in _RESP_DROP:
                resp.headers.add(k, v)
        if up.content_length is not None:
            resp.content_length = up.content_length
        await resp.prepare(request)
        try:
            async for chunk in up.content.iter_chunked(65536):
                await resp.write(chunk)
            await resp.write_eof()
        except (ConnectionError, aiohttp.ClientError) as e:  # either side went away mid-body
            log.info("blob download cut short: %s", e)
        return resp

    async def after_write(self, request: web.Request, res: dict, perm: actions.Permission) -> None:
        """An acknowledged write: make it durable, and mirror container changes in ARM."""
        await self.azurite.flush()
        from ..arm.storage import container_document, forget_container
        container = perm.container
        if container is None or perm.operation not in ("Create Container", "Delete Container", "Set Container ACL",
                                                       "Set Container Metadata"):
            return
        cid = f"{res['id']}/blobServices/default/containers/{container}"
        level = {"container": "Container", "blob": "Blob"}.get(
            (request.headers.get("x-ms-blob-public-access") or "").lower(), "None")
        metadata = {k[len("x-ms-meta-"):]: v for k, v in request.headers.items() if k.lower().startswith("x-ms-meta-")}
        existing = self.emu.state.get(cid)
        if perm.operation == "Create Container":
            if existing is None:
                self.emu.state.put(container_document(cid, container, level, metadata, res["id"]))
        elif perm.operation == "Delete Container":
            forget_container(self.emu.state, cid)
        elif existing is not None:
            props = dict(existing.get("properties") or {})
            if perm.operation == "Set Container ACL":
                props["publicAccess"] = level
            else:
                props["metadata"] = metadata
            existing["properties"] = props
        self.emu.state.save()

    async def _signed(self, account: str, port: int, key: str, method: str, raw: str, headers: dict | None,
                      body: bytes | None, version: str) -> tuple[int, dict, bytes]:
        """A Shared Key request of the emulator itself to an account's Azurite, on the gateway's session."""
        h = {"x-ms-date": email.utils.formatdate(usegmt=True), "x-ms-version": version, **(headers or {})}
        signed = {**h, "Content-Length": str(len(body))} if body else h
        h["Authorization"] = shared_key_authorization(method, raw, signed, account, key)
        h["Host"] = f"{account}{SUFFIX}"
        url = URL(f"http://127.0.0.1:{port}{raw}", encoded=True)
        async with self._session_for().request(method, url, headers=h, data=body or None, allow_redirects=False,
                                               skip_auto_headers=("Content-Type",)) as r:
            return r.status, dict(r.headers), await r.read()

    async def admin(self, account: str, port: int, method: str, raw: str, key: str | None = None,
                    headers: dict | None = None, body: bytes | None = None) -> tuple[int, bytes]:
        """The emulator's own housekeeping in Azurite (container create/delete, purge)."""
        if key is None:
            res = self.account_resource(account)
            if res is None:
                return 404, b""
            key = res["_milab"]["keys"]["key1"]
        status, _, data = await self._signed(account, port, key, method, raw, headers, body, ADMIN_VERSION)
        if status >= 400 and status != 409 and not (method == "DELETE" and status == 404):
            log.warning("Azurite %s %s for %s answered %s", method, raw, account, status)
        return status, data

    async def engine_request(self, res: dict, method: str, raw: str, headers: dict | None = None,
                             body: bytes = b"", *, version: str = ADMIN_VERSION) -> tuple[int, dict, bytes]:
        """A request of the emulator itself to an account's blobs in Azurite (the DFS endpoint's
        engine): the same route and session as clients' requests, and an acknowledged write made
        durable before the caller answers its client. Raises ``Refused`` when the account's engine
        is not running, ``aiohttp.ClientError`` when it does not answer."""
        account = res["name"]
        port = await self._port(account)
        status, out, data = await self._signed(account, port, res["_milab"]["keys"]["key1"], method, raw, headers,
                                               body, version)
        if 200 <= status < 300 and method not in ("GET", "HEAD"):
            await self.azurite.flush()
        return status, out, data

    async def _purge_account(self, account: str, port: int, key: str) -> None:
        """A deleted account's containers go too (a later account of the same name starts empty)."""
        status, data = await self.admin(account, port, "GET", "/?comp=list", key)
        if status != 200:
            return
        for name in re.findall(rb"<Container><Name>([^<]+)</Name>", data):
            await self.admin(account, port, "DELETE", f"/{quote(name.decode())}?restype=container", key)
        await self.azurite.flush()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        await self.azurite.close()


def user_delegation_key_value(seed: str, oid: str, tid: str, start: str, expiry: str, version: str) -> str:
    """The value of a user delegation key, derived as the launcher makes Azurite derive it."""
    text = "\n".join([oid, tid, start, expiry, "b", version])
    return base64.b64encode(hmac.new(seed.encode(), text.encode(), hashlib.sha256).digest()).decode()


__all__ = ["BlobGateway", "Refused", "SUFFIX", "request_target", "storage_error", "unquote",
           "user_delegation_key_value"]
