"""The proxy serves a CONNECT to an emulated HTTPS host on the client's own connection: TLS is
started there and the server's protocol runs on it, with no second connection and no bytes copied
in Python. A client that sends bytes before the ``200`` is tunnelled to the internal TLS listener
instead. Either way the connection is counted until it ends, and ``close()`` ends it."""
from __future__ import annotations

import asyncio
import ssl

import pytest

from milab.cloud import pki as pki_mod
from milab.cloud.pki import Pki
from milab.cloud.proxy import Proxy


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request):
    """Each test on the standard event loop and on uvloop's, which ``milab serve`` uses."""
    if request.param == "asyncio":
        return asyncio.run
    uvloop = pytest.importorskip("uvloop")
    return uvloop.run


class _Echo(asyncio.Protocol):
    """The stand-in for the emulator's HTTP server: answers each chunk with its tag and the peer."""

    def __init__(self, tag: bytes):
        self.tag = tag

    def connection_made(self, transport):
        self.transport = transport
        self.peer = transport.get_extra_info("peername")

    def data_received(self, data):
        self.transport.write(self.tag + b" " + str(self.peer[1] if isinstance(self.peer, tuple) else "unix").encode()
                             + b" " + data)


def _server_context(p: Pki) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(p.leaf_cert, p.leaf_key)
    return ctx


async def _world(tmp_path):
    p = pki_mod.create(tmp_path / "pki")
    sock = str(tmp_path / "tls.sock")
    internal = await asyncio.get_running_loop().create_unix_server(lambda: _Echo(b"internal"), sock,
                                                                   ssl=_server_context(p))
    proxy = Proxy(sock, str(tmp_path / "none.sock"), idle_timeout=5, tls_context=_server_context(p),
                  server_protocol=lambda: _Echo(b"handed"))
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", 0)
    return p, proxy, server, internal


async def _connect(server):
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"CONNECT management.azure.com:443 HTTP/1.1\r\nHost: management.azure.com:443\r\n\r\n")
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    return reader, writer


def test_connect_is_served_on_the_clients_own_connection(tmp_path, run):
    async def go():
        p, proxy, server, internal = await _world(tmp_path)
        try:
            reader, writer = await _connect(server)
            client_port = writer.get_extra_info("sockname")[1]
            ctx = ssl.create_default_context(cafile=str(p.bundle))
            await writer.start_tls(ctx, server_hostname="management.azure.com")
            writer.write(b"ping")
            answer = await asyncio.wait_for(reader.read(100), 5)
            # the server protocol ran in the proxy's process, on the client's own TCP connection
            assert answer == b"handed " + str(client_port).encode() + b" ping"
            assert proxy.active == 1 and not proxy._clients  # counted; no internal connection opened
            writer.close()
            for _ in range(100):
                if proxy.active == 0:
                    break
                await asyncio.sleep(0.02)
            assert proxy.active == 0
        finally:
            server.close()
            internal.close()
            await proxy.close()
    run(go())


def test_a_client_that_sends_before_the_200_is_tunnelled_to_the_internal_listener(tmp_path, run):
    """Bytes a client sends before the proxy's ``200`` stay in the proxy's reader, where TLS started on
    the transport would never see them; such a client is spliced to the internal TLS listener, which
    gets every byte."""
    async def go():
        p, proxy, server, internal = await _world(tmp_path)
        port = server.sockets[0].getsockname()[1]
        try:
            ctx = ssl.create_default_context(cafile=str(p.bundle))
            tls = ssl.MemoryBIO(), ssl.MemoryBIO()
            obj = ctx.wrap_bio(*tls, server_hostname="management.azure.com")
            with pytest.raises(ssl.SSLWantReadError):
                obj.do_handshake()
            hello = tls[1].read()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"CONNECT management.azure.com:443 HTTP/1.1\r\nHost: management.azure.com:443\r\n\r\n"
                         + hello)  # ClientHello sent early
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200"), head
            while True:  # finish the handshake over the tunnel
                try:
                    obj.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    writer.write(tls[1].read())
                    tls[0].write(await asyncio.wait_for(reader.read(65536), 5))
            writer.write(tls[1].read())
            obj.write(b"ping")
            writer.write(tls[1].read())
            got = b""
            while b"ping" not in got:
                tls[0].write(await asyncio.wait_for(reader.read(65536), 5))
                try:
                    got += obj.read(1000)
                except ssl.SSLWantReadError:
                    pass
            assert got == b"internal unix ping"  # the internal listener answered, through the splice
            assert proxy.active == 1
            writer.close()
        finally:
            server.close()
            internal.close()
            await proxy.close()
        assert proxy.active == 0
    run(go())


def test_close_ends_connections_it_handed_to_the_server(tmp_path, run):
    async def go():
        p, proxy, server, internal = await _world(tmp_path)
        reader, writer = await _connect(server)
        await writer.start_tls(ssl.create_default_context(cafile=str(p.bundle)),
                               server_hostname="management.azure.com")
        assert proxy.active == 1
        server.close()
        internal.close()
        await proxy.close()
        assert proxy.active == 0
        try:  # the client sees its connection end (the proxy aborts it: a reset)
            assert await asyncio.wait_for(reader.read(100), 5) == b""
        except ConnectionResetError:
            pass
    run(go())


def test_a_failed_handshake_is_the_end_of_that_connection_only(tmp_path, run):
    async def go():
        p, proxy, server, internal = await _world(tmp_path)
        try:
            reader, writer = await _connect(server)
            writer.write(b"this is not a TLS ClientHello\r\n\r\n")
            answer = await asyncio.wait_for(reader.read(100), 5)
            assert answer == b"" or answer[:1] == b"\x15", answer  # closed, or a TLS alert record first
            for _ in range(100):
                if proxy.active == 0:
                    break
                await asyncio.sleep(0.02)
            assert proxy.active == 0
            reader, writer = await _connect(server)  # the proxy goes on serving
            await writer.start_tls(ssl.create_default_context(cafile=str(p.bundle)),
                                   server_hostname="management.azure.com")
            writer.write(b"ping")
            assert (await asyncio.wait_for(reader.read(100), 5)).endswith(b" ping")
            writer.close()
        finally:
            server.close()
            internal.close()
            await proxy.close()
    run(go())
