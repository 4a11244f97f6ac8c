"""The forward proxy every client on the emulator target uses (HTTP_PROXY / HTTPS_PROXY).

* ``CONNECT host:443`` (HTTP/1.0 or 1.1) to an emulated host is answered by the emulator itself:
  the proxy starts TLS on the client's own connection, with the certificate that covers every
  emulated host name, and hands it to the emulator's HTTP server (no second connection, no bytes
  copied in Python). A client that sent bytes before the ``200`` is instead tunnelled to the
  emulator's internal TLS listener. A host that is not emulated is refused, so nothing ever
  leaves the machine.
* Any other request (absolute-URI plain HTTP such as ``GET http://169.254.169.254/...``,
  or origin-form to the control API) is relayed to the emulator's plain-HTTP listener,
  which routes by host.

Request heads are parsed with h11; after the head the proxy only copies bytes.

No client can stop or exhaust it: at most ``max_connections`` clients at once (the next one
gets ``503`` with ``Retry-After``), a request head must arrive within ``idle_timeout``, a
client that stops reading for ``idle_timeout`` is dropped, a tunnel ends when the emulator
closes its side (its listeners close idle keep-alive connections after ``idle_timeout``), and a
peer that resets or half-closes is one log line, never an exception.
"""
from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import functools
import logging
import re
import secrets
import socket
import struct
import sys

import h11

from .pki import TLS_HOSTS

log = logging.getLogger("milab.proxy")
HEAD_LIMIT = 64 * 1024
IDLE_TIMEOUT = 30.0  # seconds: request head, a stalled write, and (in the listeners) keep-alive idleness
MAX_CONNECTIONS = 512  # concurrent client connections on the proxy port
REFUSING_LIMIT = 32  # refused connections answered politely at once; beyond, they are closed at once
_CHUNK = 65536

# RFC 3986 reg-name (as DNS uses it) or a bracketed IPv6 literal, and an optional port.
_AUTHORITY = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?\.?)(?::([0-9]{1,5}))?")


@functools.lru_cache(maxsize=1024)  # every request's Host goes through it; clients use a few
def split_authority(authority: str) -> tuple[str, int | None] | None:
    """``host[:port]`` as (lower-cased host without brackets, port or None); None when malformed."""
    m = _AUTHORITY.fullmatch(authority)
    if not m:
        return None
    host = m.group(1)
    if not host.startswith("[") and (len(host.rstrip(".")) > 253 or
                                     any(len(label) > 63 for label in host.split("."))):
        return None  # longer than DNS allows (RFC 1035 2.3.4)
    port = int(m.group(2)) if m.group(2) is not None else None
    if port is not None and not 0 < port < 65536:
        return None
    return host.strip("[]").lower(), port


def host_is_emulated(host: str) -> bool:
    host = host.lower().rstrip(".")
    return any(fnmatch.fnmatchcase(host, pattern) and (not pattern.startswith("*.") or host.count(".") ==
                                                       pattern.count("."))
               for pattern in TLS_HOSTS) or host in ("127.0.0.1", "::1")


def extra(transport, name: str):
    """``transport.get_extra_info(name)`` (a transport or a stream writer), or None once it is closed:
    uvloop's transports raise there instead of answering None as asyncio's do."""
    try:
        return transport.get_extra_info(name)
    except Exception:  # (AttributeError from uvloop for a closed handle)
        return None


class PeerGone(Exception):
    """A peer reset, closed or stopped reading: the connection ends, the proxy goes on."""


def _simple_response(status: int, reason: bytes, text: str, http_version: bytes = b"1.1",
                     headers: bytes = b"") -> bytes:
    body = text.encode()
    return (b"HTTP/" + http_version + b" " + str(status).encode() + b" " + reason + b"\r\n"
            + b"Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n" + headers
            + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


async def _send(writer: asyncio.StreamWriter, data: bytes, timeout: float) -> None:
    """Write and wait until the peer took it; a peer that is gone or does not read raises PeerGone."""
    if writer.is_closing():
        raise PeerGone("closed")
    try:
        writer.write(data)
        async with asyncio.timeout(timeout):  # (not wait_for: on 3.11 a cancelled wait_for can hang on drain)
            await writer.drain()
    except asyncio.TimeoutError:
        raise PeerGone(f"did not read for {timeout:.0f} s") from None
    except (ConnectionError, OSError) as e:
        raise PeerGone(type(e).__name__) from None


def _close(writer: asyncio.StreamWriter, timeout: float) -> None:
    """Close after flushing, but never keep the descriptor longer than ``timeout`` for a peer that does not read."""
    transport = writer.transport
    with contextlib.suppress(Exception):
        transport.close()  # idempotent; flushes what is buffered, then closes
    if transport.get_write_buffer_size():
        asyncio.get_running_loop().call_later(timeout, _abort_if_open, transport)


def _abort_if_open(transport: asyncio.BaseTransport) -> None:
    if transport.get_protocol() is not None:  # (asyncio clears it once the connection is gone)
        _reset(transport)


def _reset(transport: asyncio.BaseTransport) -> None:
    """Drop a connection now, with a RST: the kernel keeps nothing queued for a peer that does not read."""
    sock = extra(transport, "socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, timeout: float) -> None:
    """Copy until ``src`` ends (EOF returns; a reset or a stalled ``dst`` raises PeerGone)."""
    while True:
        try:
            data = await src.read(_CHUNK)
        except (ConnectionError, OSError) as e:
            raise PeerGone(type(e).__name__) from None
        if not data:
            return
        await _send(dst, data, timeout)


Address = tuple[str, int] | str  # (host, port) of a TCP listener, or the path of a Unix socket


async def _open(address: Address) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes | None]:
    """A connection to an internal listener, and the name the listener sees as its peer (Unix sockets on
    Linux get a unique abstract name, so the listener can learn which client it serves)."""
    if not isinstance(address, str):
        return (*await asyncio.open_connection(*address), None)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setblocking(False)
    name = None
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            sock.bind(b"\0milab-proxy-" + secrets.token_hex(8).encode())
            name = sock.getsockname()
    try:
        await asyncio.get_running_loop().sock_connect(sock, address)
    except BaseException:
        sock.close()
        raise
    return (*await asyncio.open_unix_connection(sock=sock), name)


class _Watched(asyncio.Protocol):
    """The protocol of a connection handed to the emulator's server: passes every event on to the
    server's own protocol, and resolves ``ended`` once the connection is gone.

    ``loop.start_tls`` may deliver the first application bytes (sent with the client's last
    handshake message) before it returns, that is before anyone could call ``connection_made``; they
    are held until then, so the server's protocol sees its events in order."""

    def __init__(self, inner: asyncio.Protocol):
        self.inner = inner
        self.ended = asyncio.get_running_loop().create_future()
        self._made = False
        self._early: list[bytes | None] = []  # data (None for EOF) that came before connection_made

    def connection_made(self, transport):
        if self.ended.done():  # gone during the handshake: the server never hears of it
            return
        self._made = True
        self.inner.connection_made(transport)
        early, self._early = self._early, []
        for data in early:
            if data is None:
                self.inner.eof_received()
            else:
                self.inner.data_received(data)

    def data_received(self, data):
        if self._made:
            self.inner.data_received(data)
        else:
            self._early.append(data)

    def eof_received(self):
        if self._made:
            return self.inner.eof_received()
        self._early.append(None)
        return True  # keep the transport open until the server has seen the EOF

    def pause_writing(self):
        if self._made:
            self.inner.pause_writing()

    def resume_writing(self):
        if self._made:
            self.inner.resume_writing()

    def connection_lost(self, exc):
        try:
            if self._made:
                self.inner.connection_lost(exc)
        finally:
            if not self.ended.done():
                self.ended.set_result(None)


class _Counted(_Watched):
    """A connection made straight to the emulator's HTTPS by name (a guest's endpoint, TLS done by
    the listener), within the proxy's bound: counted in ``active`` and closed by ``close`` like the
    proxy's own; one beyond ``max_connections`` is closed at once."""

    def __init__(self, proxy: "Proxy", inner: asyncio.Protocol):
        super().__init__(inner)
        self.proxy = proxy
        self._transport = None

    def connection_made(self, transport):
        if not self.proxy._admit(transport):
            self.proxy._count_refusal()
            transport.abort()
            return
        self._transport = transport
        super().connection_made(transport)

    def connection_lost(self, exc):
        try:
            super().connection_lost(exc)
        finally:
            if self._transport is not None:
                self.proxy._release(self._transport)
                self._transport = None


class Proxy:
    def __init__(self, tls_address: Address, http_address: Address, *, idle_timeout: float = IDLE_TIMEOUT,
                 max_connections: int = MAX_CONNECTIONS, tls_context=None, server_protocol=None):
        self.tls_address = tls_address  # the emulator's internal listeners
        self.http_address = http_address
        # With both, a tunnel to an emulated HTTPS host is served on the client's own connection:
        # TLS with ``tls_context``, then ``server_protocol()`` (the emulator's HTTP server) on it.
        self.tls_context = tls_context
        self.server_protocol = server_protocol
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self.active = 0  # client connections being served
        self.refusing = 0  # client connections being told 503
        self.refused = 0  # since start
        self._transports: set[asyncio.BaseTransport] = set()  # of the connections being served, both sides
        self._clients: dict[bytes | None, tuple] = {}  # the listeners' peer name -> the client's address
        # Tunnels to services that are not HTTPS on 443, by port: port -> handler with
        # ``accepts(host)`` and ``async tunnel(host, reader, writer, proxy_authorization)`` (Azure SQL's
        # TDS on 1433).
        self.raw_tunnels: dict[int, object] = {}

    def by_name(self) -> asyncio.Protocol:
        """The protocol of a connection to an emulated HTTPS host that came straight to its name
        (see :class:`_Counted`): the emulator's server, as a tunnel gets it after its ``200``."""
        return _Counted(self, self.server_protocol())

    def client_address(self, listener_peer) -> str | None:
        """The address of the client a listener's connection (known by its peer name) is relayed for."""
        if not listener_peer:
            return None
        peer = self._clients.get(listener_peer)
        return peer[0] if isinstance(peer, tuple) and peer else None

    async def close(self, timeout: float = 2.0) -> None:
        """End every connection (the emulator is stopping) and wait for their handlers to return."""
        for transport in list(self._transports):
            transport.abort()
        deadline = asyncio.get_running_loop().time() + timeout
        while (self.active or self.refusing) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)

    def _admit(self, transport: asyncio.BaseTransport) -> bool:
        """Count a client connection in, unless ``max_connections`` are being served already."""
        if self.active >= self.max_connections:
            return False
        self.active += 1
        self._transports.add(transport)
        return True

    def _release(self, transport: asyncio.BaseTransport) -> None:
        self.active -= 1
        self._transports.discard(transport)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._admit(writer.transport):
            await self._refuse(reader, writer)
            return
        try:
            await self._serve(reader, writer)
        except PeerGone as e:
            log.info("proxy: connection from %s ended early: %s", _peer(writer), e)
        finally:
            self._release(writer.transport)
            _close(writer, self.idle_timeout)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(self.idle_timeout):
                head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            await _send(writer, _simple_response(431, b"Request Header Fields Too Large", "request head too large"),
                        self.idle_timeout)
            return
        except asyncio.IncompleteReadError:  # closed before a whole head: nothing to answer
            return
        except asyncio.TimeoutError:
            await _send(writer, _simple_response(408, b"Request Timeout",
                                                 f"no complete request head within {self.idle_timeout:.0f} s"),
                        self.idle_timeout)
            return
        except (ConnectionError, OSError) as e:
            raise PeerGone(type(e).__name__) from None
        if head[:8].upper() != b"CONNECT ":
            await self.relay(head, reader, writer)
        else:
            await self.tunnel(head, reader, writer)

    def _count_refusal(self) -> None:
        self.refused += 1
        if self.refused == 1 or self.refused % 1000 == 0:
            log.warning("proxy: %d connections at once (the limit, --max-connections); refusing more "
                        "(%d refused so far)", self.max_connections, self.refused)

    async def _refuse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Beyond the bound: a short 503 (or, when many are refused at once, an immediate close)."""
        self._count_refusal()
        answer = _simple_response(503, b"Service Unavailable", f"milab proxy: more than {self.max_connections} "
                                                               f"connections at once; retry later",
                                  headers=b"Retry-After: 1\r\n")
        if self.refusing >= REFUSING_LIMIT:  # a flood: answer and close at once, holding nothing
            with contextlib.suppress(Exception):
                writer.write(answer)  # (a fresh socket takes these few bytes at once)
            writer.transport.close()
            return
        self.refusing += 1
        try:
            await _send(writer, answer, 1.0)
            with contextlib.suppress(Exception):  # take what the client sent, so closing is a FIN, not a RST
                async with asyncio.timeout(1.0):
                    await reader.read(HEAD_LIMIT)
        except PeerGone:
            pass
        finally:
            self.refusing -= 1
            _close(writer, 1.0)

    async def tunnel(self, head: bytes, reader, writer) -> None:
        conn = h11.Connection(h11.SERVER)
        conn.receive_data(head)
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as e:
            await _send(writer, _simple_response(400, b"Bad Request", f"malformed CONNECT request: {e}"),
                        self.idle_timeout)
            return
        if not isinstance(event, h11.Request):
            await _send(writer, _simple_response(400, b"Bad Request", "malformed CONNECT request"), self.idle_timeout)
            return
        version = event.http_version
        target = event.target.decode("ascii", "replace")
        parsed = split_authority(target)
        if parsed is None or parsed[1] is None:
            await _send(writer, _simple_response(400, b"Bad Request", f"CONNECT target {target!r} is not host:port "
                                                                      f"(a host name and a port from 1 to 65535)",
                                                 version), self.idle_timeout)
            return
        host, port = parsed
        raw = self.raw_tunnels.get(port)
        if raw is not None and raw.accepts(host):
            await _send(writer, b"HTTP/" + version + b" 200 Connection established\r\n\r\n", self.idle_timeout)
            auth = next((v.decode("latin-1") for k, v in event.headers if k.lower() == b"proxy-authorization"), None)
            await raw.tunnel(host, reader, writer, auth)
            return
        if not host_is_emulated(host) or port != 443:
            await _send(writer, _simple_response(403, b"Forbidden",
                                                 f"milab proxy: {target} is not an emulated Azure endpoint; "
                                                 f"the proxy connects nowhere else.", version), self.idle_timeout)
            return
        if self.server_protocol is not None:
            await _send(writer, b"HTTP/" + version + b" 200 Connection established\r\n\r\n", self.idle_timeout)
            # (no await between this check and start_tls pausing the transport: nothing can slip into the reader)
            if not _buffered(reader):
                await self._serve_tls(writer)
                return
            established = True
        else:
            established = False
        try:
            up_r, up_w, name = await _open(self.tls_address)
        except OSError as e:
            log.warning("proxy: the emulator's TLS listener is unreachable: %s", e)
            if not established:  # (after the 200 the client is speaking TLS: it can only be closed)
                await _send(writer, _simple_response(502, b"Bad Gateway", f"emulator TLS listener unreachable: "
                                                                          f"{e}", version), self.idle_timeout)
            return
        self._transports.add(up_w.transport)
        self._clients[name] = extra(writer, "peername")
        try:
            if not established:
                await _send(writer, b"HTTP/" + version + b" 200 Connection established\r\n\r\n",
                            self.idle_timeout)
            await self._splice(reader, writer, up_r, up_w)
        finally:
            self._clients.pop(name, None)
            self._transports.discard(up_w.transport)
            _close(up_w, self.idle_timeout)

    async def _serve_tls(self, writer: asyncio.StreamWriter) -> None:
        """TLS on the client's connection, then the emulator's server on it until either side closes.
        The connection stays counted (``active``) and closeable (``close``) until it is gone."""
        loop = asyncio.get_running_loop()
        watched = _Watched(self.server_protocol())
        try:
            tls = await loop.start_tls(writer.transport, watched, self.tls_context, server_side=True,
                                       ssl_handshake_timeout=self.idle_timeout)
        except (ConnectionError, OSError, asyncio.TimeoutError) as e:  # (ssl.SSLError is an OSError)
            raise PeerGone(f"TLS handshake failed: {type(e).__name__}") from None
        if tls is None or writer.transport.is_closing():
            # closed (or aborted by close()) during the handshake: the TLS layer may never pass the loss on
            if tls is not None:
                tls.abort()
            return
        self._transports.add(tls)
        try:
            watched.connection_made(tls)
            await watched.ended
        finally:
            self._transports.discard(tls)

    async def relay(self, head: bytes, reader, writer) -> None:
        try:
            up_r, up_w, name = await _open(self.http_address)
        except OSError as e:
            log.warning("proxy: the emulator's HTTP listener is unreachable: %s", e)
            await _send(writer, _simple_response(502, b"Bad Gateway", f"emulator HTTP listener unreachable: {e}"),
                        self.idle_timeout)
            return
        self._transports.add(up_w.transport)
        self._clients[name] = extra(writer, "peername")
        try:
            await _send(up_w, head, self.idle_timeout)
            await self._splice(reader, writer, up_r, up_w)
        finally:
            self._clients.pop(name, None)
            self._transports.discard(up_w.transport)
            _close(up_w, self.idle_timeout)

    async def _splice(self, client_r, client_w, up_r, up_w) -> None:
        """Copy both ways until the emulator's side ends; a client's half-close is passed on."""
        async def upward() -> None:
            await _pipe(client_r, up_w, self.idle_timeout)
            with contextlib.suppress(Exception):  # the client half-closed: tell the listener, keep answering
                if up_w.can_write_eof() and not up_w.is_closing():
                    up_w.write_eof()
            await asyncio.Event().wait()  # the answer still flows downward; that side ends the splice

        up = asyncio.ensure_future(upward())
        down = asyncio.ensure_future(_pipe(up_r, client_w, self.idle_timeout))
        try:
            done, _ = await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # PeerGone from either side ends the connection (logged once by handle)
        except PeerGone:  # one side is gone or stalled: what is still buffered for either is moot
            for w in (client_w, up_w):
                _reset(w.transport)
            raise
        finally:
            for task in (up, down):
                task.cancel()
            await asyncio.gather(up, down, return_exceptions=True)


def _buffered(reader: asyncio.StreamReader) -> bool:
    """Whether the client already sent bytes after its CONNECT head (they are in the reader, where a
    TLS layer started on the transport would never see them)."""
    return bool(getattr(reader, "_buffer", b"x"))  # (no public accessor; unknown means "yes": tunnel)


def _peer(writer: asyncio.StreamWriter) -> str:
    peer = extra(writer, "peername")
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else str(peer or "?")
