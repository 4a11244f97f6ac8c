"""The forward proxy every client on the emulator target uses (HTTP_PROXY / HTTPS_PROXY).

* ``CONNECT host:443`` (HTTP/1.0 or 1.1) to an emulated host opens a tunnel to the
  emulator's TLS listener, whose certificate covers every emulated host name; a host
  that is not emulated is refused, so nothing ever leaves the machine.
* Any other request (absolute-URI plain HTTP such as ``GET http://169.254.169.254/...``,
  or origin-form to the control API) is relayed to the emulator's plain-HTTP listener,
  which routes by host.

Request heads are parsed with h11; after the head the proxy only copies bytes.
"""
from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging

import h11

from .pki import TLS_HOSTS

log = logging.getLogger("milab.proxy")
HEAD_LIMIT = 64 * 1024
HEAD_TIMEOUT = 30


def host_is_emulated(host: str) -> bool:
    host = host.lower().rstrip(".")
    return any(fnmatch.fnmatchcase(host, pattern) and (not pattern.startswith("*.") or host.count(".") ==
                                                       pattern.count("."))
               for pattern in TLS_HOSTS) or host in ("127.0.0.1", "::1")


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(Exception):
            if writer.can_write_eof():
                writer.write_eof()


async def _splice(a_r, a_w, b_r, b_w) -> None:
    await asyncio.gather(_pipe(a_r, b_w), _pipe(b_r, a_w))
    for w in (a_w, b_w):
        with contextlib.suppress(Exception):
            w.close()


def _simple_response(status: int, reason: bytes, text: str, http_version: bytes = b"1.1") -> bytes:
    body = text.encode()
    return (b"HTTP/" + http_version + b" " + str(status).encode() + b" " + reason + b"\r\n"
            + b"Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"
            + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


class Proxy:
    def __init__(self, host: str, tls_port: int, http_port: int):
        self.host = host
        self.tls_port = tls_port
        self.http_port = http_port

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT)
            except asyncio.LimitOverrunError:
                writer.write(_simple_response(431, b"Request Header Fields Too Large", "request head too large"))
                return
            except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError):
                return
            if head[:8].upper() != b"CONNECT ":
                await self.relay(head, reader, writer)
                return
            await self.tunnel(head, reader, writer)
        finally:
            with contextlib.suppress(Exception):
                await writer.drain()
                if not writer.is_closing():
                    writer.close()

    async def tunnel(self, head: bytes, reader, writer) -> None:
        conn = h11.Connection(h11.SERVER)
        conn.receive_data(head)
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as e:
            writer.write(_simple_response(400, b"Bad Request", f"malformed CONNECT request: {e}"))
            return
        if not isinstance(event, h11.Request):
            writer.write(_simple_response(400, b"Bad Request", "malformed CONNECT request"))
            return
        version = event.http_version
        target = event.target.decode("ascii", "replace")
        host, _, port = target.rpartition(":")
        host = host.strip("[]")
        if not host or not port.isdigit():
            writer.write(_simple_response(400, b"Bad Request", f"CONNECT target '{target}' is not host:port",
                                          version))
            return
        if not host_is_emulated(host) or int(port) != 443:
            writer.write(_simple_response(403, b"Forbidden",
                                          f"milab proxy: {target} is not an emulated Azure endpoint; "
                                          f"the proxy connects nowhere else.", version))
            return
        try:
            up_r, up_w = await asyncio.open_connection(self.host, self.tls_port)
        except OSError as e:
            writer.write(_simple_response(502, b"Bad Gateway", f"emulator TLS listener unreachable: {e}", version))
            return
        writer.write(b"HTTP/" + version + b" 200 Connection established\r\n\r\n")
        await writer.drain()
        await _splice(reader, writer, up_r, up_w)

    async def relay(self, head: bytes, reader, writer) -> None:
        try:
            up_r, up_w = await asyncio.open_connection(self.host, self.http_port)
        except OSError as e:
            writer.write(_simple_response(502, b"Bad Gateway", f"emulator HTTP listener unreachable: {e}"))
            return
        up_w.write(head)
        await _splice(reader, writer, up_r, up_w)
