"""One client connection to the emulated Azure SQL gateway, over asyncio streams.

The exchange (MS-TDS 3.2.5, as Azure SQL runs it):

1. ``Encrypt=yes`` / ``Mandatory``: the client's PRELOGIN; the answer carries ENCRYPT_ON
   (ENCRYPT_REQ to a client that asked for none: Azure SQL encrypts every session) and
   FEDAUTHREQUIRED when asked; then TLS, whose handshake records travel inside PRELOGIN
   packets (type 0x12 from the client, 0x04 from the server), capped at TLS 1.2 as SQL Server's
   TDS 7.x clients expect; after it, every byte is TLS.
   ``Encrypt=strict`` (TDS 8.0): TLS from the first byte (ALPN ``tds/8.0``), PRELOGIN inside it.
2. LOGIN7, with the access token in its FEDAUTH feature (SECURITYTOKEN) or a SQL login and
   password; the service decides (:meth:`SqlService.login`) and answers LOGINACK or 18456.
3. Requests: SQL batches, RPCs (``sp_executesql``, ``sp_prepexec`` ...), transaction-manager
   requests and attentions, each answered by the session.

Anything that breaks the protocol closes the connection, without a traceback and without
touching other connections.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import struct
from typing import TYPE_CHECKING

from . import tds
from .errors import SqlError
from .tds import ProtocolError

if TYPE_CHECKING:  # pragma: no cover
    from .service import SqlService

log = logging.getLogger("milab.sql")

READ_TIMEOUT = 300  # an idle client is dropped after this many seconds
LOGIN_TIMEOUT = 30  # PRELOGIN, TLS and LOGIN7 must be done within this
TLS_RECORD = 0x16


class Connection:
    def __init__(self, service: "SqlService", reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                 server_name: str | None, client_ip: str, from_azure: bool):
        self.service = service
        self.reader = reader
        self.writer = writer
        self.server_name = server_name  # what the route says (CONNECT target, the guest's address)
        self.client_ip = client_ip
        self.from_azure = from_azure  # an Azure host (a VM's guest), for the firewall
        self.sni: str | None = None
        self.tls: ssl.SSLObject | None = None
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()
        self._plain = bytearray()  # decrypted (or plain) bytes not yet consumed
        self.packet_size = tds.DEFAULT_PACKET
        self.spid = 0
        self.strict = False

    # -- bytes in and out ------------------------------------------------------------------------
    async def _raw(self, n: int = 65536) -> bytes:
        data = await self.reader.read(n)
        if not data:
            raise EOFError
        return data

    async def _fill(self) -> None:
        if self.tls is None:
            self._plain += await self._raw()
            return
        while True:
            try:
                data = self.tls.read(65536)
            except ssl.SSLWantReadError:
                self._in.write(await self._raw())
                continue
            except ssl.SSLError as e:
                raise ProtocolError(f"TLS: {e}") from None
            if not data:
                raise EOFError
            self._plain += data
            return

    async def _exactly(self, n: int) -> bytes:
        while len(self._plain) < n:
            await self._fill()
        out = bytes(self._plain[:n])
        del self._plain[:n]
        return out

    async def read_message(self) -> tuple[int, bytes, int]:
        """One client message: its packet type, its payload (all packets up to EOM), the status of
        its first packet."""
        payload = bytearray()
        kind = first_status = None
        while True:
            head = await self._exactly(tds.HEADER.size)
            ptype, status, length, _spid, _pid, _win = tds.HEADER.unpack(head)
            if length < tds.HEADER.size or length > tds.MAX_PACKET + 1:
                raise ProtocolError(f"a packet declares {length} bytes")
            if kind is None:
                kind, first_status = ptype, status
            elif ptype != kind:
                raise ProtocolError("a message mixes packet types")
            payload += await self._exactly(length - tds.HEADER.size)
            if len(payload) > tds.MAX_MESSAGE:
                raise ProtocolError("the message is too large")
            if status & tds.STATUS_EOM:
                return kind, bytes(payload), first_status

    def _flush_tls(self) -> None:
        data = self._out.read()
        if data:
            self.writer.write(data)

    async def send(self, payload: bytes, kind: int = tds.REPLY) -> None:
        data = tds.packets(kind, payload, self.packet_size, self.spid)
        if self.tls is None:
            self.writer.write(data)
        else:
            self.tls.write(data)
            self._flush_tls()
        await self.writer.drain()

    # -- TLS -----------------------------------------------------------------------------------------
    def _sni(self, sslobj, name, ctx) -> None:
        self.sni = name

    def _start_tls(self, strict: bool) -> None:
        ctx = self.service.tls_context(strict)
        ctx.sni_callback = self._sni
        self.tls = ctx.wrap_bio(self._in, self._out, server_side=True)

    async def tls_in_prelogin(self) -> None:
        """The TLS handshake, its records wrapped in PRELOGIN packets."""
        self._start_tls(strict=False)
        tls, self.tls = self.tls, None  # packets stay plain until the handshake is done
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                out = self._out.read()
                if out:
                    self.writer.write(tds.packets(tds.REPLY, out, self.packet_size))
                    await self.writer.drain()
                kind, payload, _ = await self.read_message()
                if kind != tds.PRELOGIN:
                    raise ProtocolError("the client left the TLS handshake")
                self._in.write(payload)
            except ssl.SSLError as e:
                raise ProtocolError(f"TLS handshake: {e}") from None
        out = self._out.read()
        if out:
            self.writer.write(tds.packets(tds.REPLY, out, self.packet_size))
            await self.writer.drain()
        if self._plain:  # bytes after the handshake are TLS records already
            self._in.write(bytes(self._plain))
            self._plain.clear()
        self.tls = tls

    async def tls_strict(self) -> None:
        self._start_tls(strict=True)
        tls = self.tls
        self._in.write(bytes(self._plain))
        self._plain.clear()
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._flush_tls()
                await self.writer.drain()
                self._in.write(await self._raw())
            except ssl.SSLError as e:
                raise ProtocolError(f"TLS handshake: {e}") from None
        self._flush_tls()
        await self.writer.drain()

    # -- the exchange ---------------------------------------------------------------------------------
    async def run(self) -> None:
        try:
            session = await asyncio.wait_for(self._login(), LOGIN_TIMEOUT)
            if session is not None:
                await self._serve(session)
        except (EOFError, ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.TimeoutError:
            log.debug("SQL client %s timed out", self.client_ip)
        except ProtocolError as e:
            log.info("SQL client %s broke the protocol: %s", self.client_ip, e)
        except Exception:  # noqa: BLE001 - one connection never takes the service down
            log.exception("SQL connection from %s failed", self.client_ip)
        finally:
            with contextlib.suppress(Exception):
                self.writer.close()

    async def _login(self):
        first = await self._raw(1)
        self._plain += first
        if first[0] == TLS_RECORD:
            self.strict = True
            await self.tls_strict()
        kind, payload, _ = await self.read_message()
        if kind != tds.PRELOGIN:
            raise ProtocolError(f"the first message is of type 0x{kind:02x}, not PRELOGIN")
        options = tds.parse_prelogin(payload)
        client_enc = options.get(tds.PL_ENCRYPTION, b"\x00")[:1] or b"\x00"
        answer = [(tds.PL_VERSION, bytes([12, 0]) + struct.pack(">H", 2000) + b"\x00\x00"),
                  (tds.PL_ENCRYPTION, bytes([tds.ENCRYPT_REQ if client_enc[0] in (tds.ENCRYPT_OFF,
                                                                                  tds.ENCRYPT_NOT_SUP)
                                             else tds.ENCRYPT_ON])),
                  (tds.PL_INSTOPT, b"\x00"), (tds.PL_THREADID, b""), (tds.PL_MARS, b"\x00")]
        if options.get(tds.PL_FEDAUTHREQUIRED, b"\x00")[:1] == b"\x01":
            answer.append((tds.PL_FEDAUTHREQUIRED, b"\x01"))
        await self.send(tds.build_prelogin(answer))
        if not self.strict:
            if client_enc[0] == tds.ENCRYPT_NOT_SUP:
                return None  # Azure SQL refuses clients that cannot encrypt
            await self.tls_in_prelogin()
        kind, payload, _ = await self.read_message()
        if kind != tds.LOGIN7:
            raise ProtocolError(f"expected LOGIN7, got a message of type 0x{kind:02x}")
        login = tds.parse_login7(payload)
        self.packet_size = min(max(login.packet_size or tds.DEFAULT_PACKET, tds.MIN_PACKET), tds.MAX_PACKET)
        try:
            session = self.service.login(self, login)
        except SqlError as e:
            out = tds.Tokens()
            for err in [*e.also, e]:
                out.error(err.number, err.state, err.severity, err.message, self.service.host_label(self))
            out.done(tds.DONE_ERROR)
            await self.send(out.bytes())
            return None
        await self.send(session.login_response(login))
        return session

    async def _serve(self, session) -> None:
        while True:
            kind, payload, status = await asyncio.wait_for(self.read_message(), READ_TIMEOUT)
            if kind == tds.ATTENTION:
                out = tds.Tokens()
                out.done(tds.DONE_ATTN)
                await self.send(out.bytes())
                continue
            if status & (tds.STATUS_RESETCONNECTION | tds.STATUS_RESETCONNECTIONSKIPTRAN):
                session.reset()
            if kind == tds.SQL_BATCH:
                response = session.batch(tds.parse_batch(payload))
            elif kind == tds.RPC:
                response = session.rpc(tds.parse_rpc(payload))
            elif kind == tds.TRANSACTION:
                response = session.transaction(tds.parse_transaction(payload))
            else:
                raise ProtocolError(f"a request of type 0x{kind:02x} after login")
            await self.send(response)
            if session.closed:
                return
