"""A bounded hostile-input harness: raw bytes to the emulator's proxy port, or through a CONNECT
tunnel and TLS to any emulated host, then the checks every such case must pass:

* no answer is a 5xx (and, when the case says so, the answer is exactly the status it names);
* the emulator is still alive and answers ``GET /_milab/health``;
* its log gained no traceback.

A case is data (``Case``): where it goes (``host`` None for the proxy port, else the emulated
host name a tunnel and TLS reach), the raw request (bytes, or a function of the emulator's
environment for cases that need a token or the control key), what the client does after
sending (read, half-close, reset), and the statuses it accepts. Each service keeps its corpus
next to its tests and runs it with ``check``::

    from hostile import Case, check, hostile_emulator  # noqa: F401  (the fixture)

    ARM_CASES = [Case("put-deep-body", host="management.azure.com", raw=lambda env: ..., expect=(400,))]

    @pytest.mark.parametrize("case", ARM_CASES, ids=lambda c: c.id)
    def test_arm_hostile(hostile_emulator, case):
        check(hostile_emulator, case)

Every socket has a timeout, every read a size limit: a case takes at most a few seconds.
"""
from __future__ import annotations

import re
import socket
import ssl
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import urlparse

import h11
import pytest

from milab.targets.emulator import EmbeddedEmulator

READ_LIMIT = 4 * 1024 * 1024
IDLE_TIMEOUT = 2  # the hostile emulator's --idle-timeout: stalled cases end quickly


@dataclass(frozen=True)
class Case:
    id: str
    raw: bytes | Callable[[dict], bytes]  # the request bytes, or a function of the emulator's environment
    host: str | None = None  # None: straight to the proxy port; else CONNECT <host>:443 and TLS to that host
    after: str = "read"  # read | half-close (shutdown(SHUT_WR), then read) | reset (RST at once, read nothing)
    expect: tuple[int, ...] = ()  # the statuses allowed for every answer; () means any 4xx (or no answer)
    responses: int = 1  # how many answers to wait for (pipelined requests)

    def request(self, env: dict) -> bytes:
        return self.raw(env) if callable(self.raw) else self.raw


@dataclass
class Reply:
    raw: bytes
    statuses: list[int] = field(default_factory=list)


@dataclass
class HostileEmulator:
    env: dict
    log: Path
    proc: object

    def log_size(self) -> int:
        return self.log.stat().st_size

    def log_since(self, offset: int) -> str:
        with open(self.log, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")


def proxy_address(env: dict) -> tuple[str, int]:
    u = urlparse(env["MILAB_EMULATOR_URL"])
    return u.hostname, u.port


def _reset(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def read_responses(sock: socket.socket, count: int, timeout: float = 10, methods: list[bytes] | None = None) \
        -> Reply:
    """Read until ``count`` whole HTTP responses arrived, the peer closed, or ``timeout`` passed."""
    conn = h11.Connection(h11.CLIENT)
    reply = Reply(b"")
    deadline = time.monotonic() + timeout
    methods = methods or []
    parse_ok = True

    def expect_next() -> None:
        method = methods[len(reply.statuses)] if len(reply.statuses) < len(methods) else b"GET"
        conn.send(h11.Request(method=method, target="/", headers=[("Host", "x")]))
        conn.send(h11.EndOfMessage())

    expect_next()
    while len(reply.statuses) < count and len(reply.raw) < READ_LIMIT:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            data = sock.recv(65536)
        except (socket.timeout, ssl.SSLError, OSError):
            break
        reply.raw += data
        if not parse_ok:
            if not data:
                break
            continue
        conn.receive_data(data)
        try:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA or event is h11.PAUSED:
                    break
                if isinstance(event, h11.Response):
                    reply.statuses.append(event.status_code)
                if isinstance(event, h11.ConnectionClosed):
                    return reply
                if isinstance(event, h11.EndOfMessage):
                    if len(reply.statuses) >= count or conn.their_state is h11.MUST_CLOSE:
                        return reply
                    conn.start_next_cycle()
                    expect_next()
        except h11.RemoteProtocolError:  # not HTTP (or not parsable): fall back to the status lines
            parse_ok = False
        if not data:
            break
    if not parse_ok or not reply.statuses:
        reply.statuses = [int(m) for m in re.findall(rb"(?:^|\r\n)HTTP/1\.[01] (\d{3}) ", reply.raw)][:max(count, 1)]
    return reply


def _finish(sock: socket.socket, after: str, count: int, methods: list[bytes]) -> Reply:
    if after == "reset":
        _reset(sock)
        return Reply(b"")
    if after == "half-close":
        sock.shutdown(socket.SHUT_WR)
    try:
        return read_responses(sock, count, methods=methods)
    finally:
        sock.close()


def _methods(raw: bytes) -> list[bytes]:
    return re.findall(rb"(?:^|\r\n\r\n)([A-Z]+) ", raw)


def send_raw(env: dict, data: bytes, after: str = "read", count: int = 1, timeout: float = 10) -> Reply:
    """Send ``data`` to the proxy port as is."""
    sock = socket.create_connection(proxy_address(env), timeout=timeout)
    try:
        sock.sendall(data)
    except OSError:  # the proxy may close early (a head too large): what it answered is still readable
        pass
    return _finish(sock, after, count, _methods(data))


def open_tunnel(env: dict, host: str, timeout: float = 10) -> ssl.SSLSocket:
    """CONNECT host:443 through the proxy, then TLS to ``host`` trusting the emulator's CA."""
    sock = socket.create_connection(proxy_address(env), timeout=timeout)
    sock.sendall(f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head and len(head) < 65536:
        chunk = sock.recv(1)
        if not chunk:
            break
        head += chunk
    assert head.split(b" ")[1:2] == [b"200"], f"CONNECT {host}:443 answered {head[:200]!r}"
    ctx = ssl.create_default_context(cafile=env["REQUESTS_CA_BUNDLE"])
    return ctx.wrap_socket(sock, server_hostname=host)


def send_tls(env: dict, host: str, data: bytes, after: str = "read", count: int = 1, timeout: float = 10) -> Reply:
    """Send ``data`` inside TLS to the emulated ``host``, through a CONNECT tunnel."""
    tls = open_tunnel(env, host, timeout)
    try:
        tls.sendall(data)
    except OSError:
        pass
    if after == "half-close":  # TLS has no half-close of its own: close the TCP write side under it
        socket.socket.shutdown(tls, socket.SHUT_WR)  # (SSLSocket.shutdown would drop the TLS layer)
        after = "read"
    return _finish(tls, after, count, _methods(data))


def send(env: dict, case: Case) -> Reply:
    data = case.request(env)
    if case.host is None:
        return send_raw(env, data, case.after, case.responses)
    return send_tls(env, case.host, data, case.after, case.responses)


def health(env: dict, timeout: float = 10) -> int | None:
    """The status of ``GET /_milab/health`` on the proxy port (None when nothing answers)."""
    try:
        reply = send_raw(env, b"GET /_milab/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                         timeout=timeout)
    except OSError:
        return None
    return reply.statuses[0] if reply.statuses else None


def tracebacks(text: str) -> list[str]:
    """The tracebacks in a stretch of the emulator's log (each with the line that names it)."""
    lines = text.splitlines()
    return ["\n".join(lines[max(0, i - 1):i + 30]) for i, line in enumerate(lines)
            if "Traceback (most recent call last)" in line]


def assert_survived(emu: HostileEmulator, log_offset: int, what: str = "") -> None:
    assert emu.proc.poll() is None, f"{what}: the emulator exited with {emu.proc.returncode}"
    status = health(emu.env)
    assert status == 200, f"{what}: /_milab/health answered {status}"
    found = tracebacks(emu.log_since(log_offset))
    assert not found, f"{what}: the emulator's log has a traceback:\n{found[0]}"


def check(emu: HostileEmulator, case: Case) -> Reply:
    """Send ``case``; no 5xx, only the statuses it expects, and the emulator survived with a clean log."""
    offset = emu.log_size()
    reply = send(emu.env, case)
    bad = [s for s in reply.statuses if s >= 500]
    assert not bad, f"{case.id}: answered {bad}: {reply.raw[:600]!r}"
    if case.expect:  # (a client that half-closed or reset may get fewer answers, or none)
        assert (reply.statuses or case.after != "read") and all(s in case.expect for s in reply.statuses), \
            f"{case.id}: answered {reply.statuses}, expected {case.expect}: {reply.raw[:600]!r}"
    elif case.after == "read":
        assert all(400 <= s < 500 for s in reply.statuses), \
            f"{case.id}: answered {reply.statuses}, expected a 4xx: {reply.raw[:600]!r}"
    time.sleep(0.05)  # let the emulator log whatever the case made it log
    assert_survived(emu, offset, case.id)
    return reply


def start_hostile(*switches: str, nofile: int | None = None, state_dir: Path | None = None) -> EmbeddedEmulator:
    """A dedicated emulator (its own log; a crash takes down nothing else) with short timeouts."""
    return EmbeddedEmulator(extra_args=["--idle-timeout", str(IDLE_TIMEOUT), *switches], state_dir=state_dir,
                            nofile=nofile)


@pytest.fixture(scope="module")
def hostile_emulator():
    emu = start_hostile()
    try:
        yield HostileEmulator(emu.env, emu.log, emu.proc)
    finally:
        emu.stop()
