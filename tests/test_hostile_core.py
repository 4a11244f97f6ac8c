"""Hostile clients against the emulator's core (proxy, listeners, host routing, control API):
each case gets a precise 4xx (never a 5xx), the emulator survives, and its log has no traceback.
Then the exhaustion classes: clients that go away early, idle or stalled connections, and more
connections than the emulator serves at once."""
from __future__ import annotations

import json
import os
import socket
import time

import pytest
from hostile import hostile_emulator  # noqa: F401  (the fixture)
from hostile import (IDLE_TIMEOUT, Case, assert_survived, check, health, open_tunnel, proxy_address, read_responses,
                     send_raw, start_hostile)

BAD_HOSTS = [("byte-ff", b"management.azure.com\xff"), ("port-abc", b"management.azure.com:abc"),
             ("port-99999", b"management.azure.com:99999"), ("port-0", b"management.azure.com:0"),
             ("space", b"management azure.com"), ("empty", b""), ("userinfo", b"user@management.azure.com"),
             ("long", b"a" * 300 + b".blob.core.windows.net")]
# every HTTPS service the emulator serves (Azure SQL's TDS has its own malformed-packet tests in test_sql.py)
TLS_HOSTS = ["management.azure.com", "login.microsoftonline.com", "acct1.blob.core.windows.net", "vault1.vault.azure.net",
             "cosmos1.documents.azure.com", "graph.microsoft.com", "graph.windows.net", "acct1.dfs.core.windows.net",
             "adls1.azuredatalakestore.net"]


def _get(host: bytes, path: bytes = b"/") -> bytes:
    return b"GET " + path + b" HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n"


def _control(path: str, body: bytes, key: bytes | None = None, method: str = "POST", name: str = "") -> Case:
    def raw(env: dict) -> bytes:
        k = env["MILAB_CONTROL_KEY"].encode() if key is None else key
        return (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n").encode() + b"X-Milab-Control: " + k \
            + b"\r\n\r\n" + body
    name = name or (body.decode("ascii", "backslashreplace") if len(body) < 40 else f"{body[:4]!r}x{len(body)}")
    return Case(f"control{path.replace('/_milab', '')}-{name}", raw, expect=(400,) if key is None else (401,))


CORE_CASES: list[Case] = [
    # a malformed Host on the proxy port (relayed to the plain-HTTP listener) and inside TLS tunnels
    *[Case(f"proxy-host-{name}", _get(value, b"/_milab/health"), expect=(400,)) for name, value in BAD_HOSTS],
    *[Case(f"tls-{h}-host-{name}", _get(value), host=h, expect=(400,)) for h in TLS_HOSTS for name, value in BAD_HOSTS],
    # absolute URIs with a malformed authority
    Case("absolute-uri-byte-ff", b"GET http://169.254.169.254\xff/metadata HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n",
         expect=(400,)),
    Case("absolute-uri-port-abc", b"GET http://169.254.169.254:abc/ HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n",
         expect=(400,)),
    Case("absolute-uri-port-99999", b"GET http://169.254.169.254:99999/ HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n",
         expect=(400,)),
    # CONNECT targets that are not host:port, or not emulated
    Case("connect-port-abc", b"CONNECT management.azure.com:abc HTTP/1.1\r\nHost: x\r\n\r\n", expect=(400,)),
    Case("connect-port-99999", b"CONNECT management.azure.com:99999 HTTP/1.1\r\nHost: x\r\n\r\n", expect=(400,)),
    Case("connect-byte-ff", b"CONNECT management.azure.com\xff:443 HTTP/1.1\r\nHost: x\r\n\r\n", expect=(400,)),
    Case("connect-no-port", b"CONNECT management.azure.com HTTP/1.0\r\n\r\n", expect=(400,)),
    Case("connect-bad-ipv6", b"CONNECT [::1:443 HTTP/1.0\r\n\r\n", expect=(400,)),
    Case("connect-not-emulated", b"CONNECT example.com:443 HTTP/1.0\r\n\r\n", expect=(403,)),
    Case("connect-head-200kb", b"CONNECT management.azure.com:443 HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000
         + b"\r\n\r\n", expect=(431,)),
    Case("connect-head-200kb-then-reset", b"CONNECT management.azure.com:443 HTTP/1.1\r\nHost: x\r\nX-Big: "
         + b"a" * 200_000 + b"\r\n\r\n", after="reset"),
    # inside a tunnel: a 200 KB header, then a reset (the crash); and read politely
    *[Case(f"tls-{h}-header-200kb-then-reset", b"GET / HTTP/1.1\r\nHost: " + h.encode() + b"\r\nX-Big: "
           + b"a" * 200_000 + b"\r\n\r\n", host=h, after="reset") for h in TLS_HOSTS],
    Case("tls-header-200kb", b"GET / HTTP/1.1\r\nHost: management.azure.com\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n",
         host="management.azure.com", expect=(400, 431)),
    # pipelined requests, then a half-close or a reset: whatever is answered is 200, the emulator lives on
    Case("pipelined-health-half-close", b"GET /_milab/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" * 50,
         after="half-close", expect=(200,), responses=50),
    Case("pipelined-health-reset", b"GET /_milab/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" * 50, after="reset"),
    Case("tls-pipelined-half-close", b"GET /subscriptions?api-version=2022-12-01 HTTP/1.1\r\nHost: "
         b"management.azure.com\r\n\r\n" * 50, host="management.azure.com", after="half-close", expect=(401,),
         responses=50),
    # not HTTP at all, or HTTP the listeners refuse
    Case("tls-client-hello-to-proxy-port", bytes.fromhex("16030100a5010000a10303") + os.urandom(64) + b"\r\n\r\n"),
    Case("http2-preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
    Case("nul-in-request-line", b"GET /_milab/\x00health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
    Case("bad-method", b"G\x01T /_milab/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
    Case("content-length-and-chunked", b"POST /_milab/tokens HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\n"
         b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    Case("bad-chunk-size", b"POST /_milab/tokens HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
         b"zz\r\nabc\r\n0\r\n\r\n"),
    Case("negative-content-length", b"POST /_milab/tokens HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -1\r\n\r\n"),
    Case("header-without-colon", b"GET /_milab/health HTTP/1.1\r\nHost: 127.0.0.1\r\nNoColonHere\r\n\r\n"),
    # the control API: a key that is not ASCII, and bodies it cannot act on
    _control("/_milab/env", b"", key="\u00e9t\u00e9".encode(), method="GET", name="key-utf8-not-ascii"),
    _control("/_milab/env", b"", key=b"\xff\xfe", method="GET", name="key-not-utf8"),
    *[_control(path, body) for path in ("/_milab/run", "/_milab/imds-faults", "/_milab/config", "/_milab/tokens")
      for body in (b"[]", b"1", b"null", b"\xff\xfe", b"{", b"[" * 100_000)],
    _control("/_milab/run", b'{"vm_id": 5}'),
    _control("/_milab/run", b'{"vm_id": "x", "timeout": "soon"}'),
    _control("/_milab/run", b'{"vm_id": "x", "timeout": 1e400}'),
    _control("/_milab/imds-faults", b'{"vm_id": "x", "statuses": 5}'),
    _control("/_milab/imds-faults", b'{"vm_id": "x", "statuses": ["500"]}'),
    _control("/_milab/config", b'{"enforce_rbac": "false"}'),
    _control("/_milab/tokens", b'{"object_id": []}'),
    _control("/_milab/tokens", b'{"object_id": "x", "audience": "a", "lifetime": 1e400}'),
    _control("/_milab/tokens", b'{"object_id": "x", "audience": "a", "claims": [1]}'),
]


@pytest.mark.parametrize("case", CORE_CASES, ids=lambda c: c.id)
def test_hostile_core(hostile_emulator, case):
    check(hostile_emulator, case)


def test_corpus_ids_are_unique():
    ids = [c.id for c in CORE_CASES]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def test_control_switches_still_work(hostile_emulator):
    """The stricter control API still accepts what its clients send."""
    env = hostile_emulator.env
    r = send_raw(env, _control("/_milab/config", b'{"enforce_rbac": true}').request(env))
    assert r.statuses == [200] and json.loads(r.raw.split(b"\r\n\r\n", 1)[1])["enforce_rbac"] is True


# -- stalls and exhaustion -------------------------------------------------------------------------

def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _holds(pid: int, sock: socket.socket) -> bool:
    """Whether process ``pid`` has a descriptor on the TCP connection whose other end is ``sock`` (IPv4):
    the connection itself, where a count of descriptors also moves as earlier tests' connections close."""
    host, port = sock.getsockname()[:2]
    ours = f"{int.from_bytes(socket.inet_aton(host), 'little'):08X}:{port:04X}"  # /proc/net/tcp's spelling
    with open(f"/proc/{pid}/net/tcp") as table:
        inodes = {f"socket:[{f[9]}]" for f in (line.split() for line in table.readlines()[1:]) if f[2] == ours}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                return True
        except OSError:  # closed meanwhile
            pass
    return False


def _closed_by_peer(sock: socket.socket, timeout: float) -> bool:
    """True when the emulator closes ``sock`` within ``timeout`` (whatever it answered first)."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            if not sock.recv(65536):
                return True
    except socket.timeout:
        return False
    except OSError:
        return True  # a reset is a close too
    return False


@pytest.mark.parametrize("kind", ["nothing", "partial-head", "blank-line", "one-request", "connect-only",
                                  "tls-idle", "stalled-body"])
def test_idle_and_stalled_connections_are_closed(hostile_emulator, kind):
    env = hostile_emulator.env
    offset = hostile_emulator.log_size()
    if kind.startswith(("connect", "tls")):
        if kind == "tls-idle":
            sock = open_tunnel(env, "management.azure.com")
        else:
            sock = socket.create_connection(proxy_address(env))
            sock.sendall(b"CONNECT management.azure.com:443 HTTP/1.0\r\n\r\n")
    else:
        sock = socket.create_connection(proxy_address(env))
        sock.sendall({"nothing": b"", "partial-head": b"GET /_milab/health HTTP/1.1\r\nHost: 127.0.0.1\r\n",
                      "blank-line": b"\r\n\r\n",
                      "one-request": b"GET /_milab/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                      "stalled-body": b"POST /_milab/tokens HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n"
                                      b"\r\n{\"object_id\""}[kind])
    started = time.monotonic()
    try:
        assert _closed_by_peer(sock, 4 * IDLE_TIMEOUT + 3), f"{kind}: still open after {4 * IDLE_TIMEOUT + 3} s"
    finally:
        sock.close()
    assert time.monotonic() - started >= IDLE_TIMEOUT * 0.5, f"{kind}: closed before the idle timeout"
    assert_survived(hostile_emulator, offset, kind)


def test_a_client_that_stops_reading_is_dropped(hostile_emulator):
    """20000 pipelined requests whose answers (1 KB each, more than the kernel buffers hold) are never
    read: the emulator drops the connection after the idle timeout instead of holding its descriptors
    (and a handler) forever."""
    env, pid = hostile_emulator.env, hostile_emulator.proc.pid
    offset = hostile_emulator.log_size()
    sock = socket.create_connection(proxy_address(env))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    request = b"GET /_milab/env HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Milab-Control: " + env["MILAB_CONTROL_KEY"].encode() \
        + b"\r\n\r\n"
    sock.sendall(request)
    # the emulator holds the connection once it has accepted it (looked for now: on a loaded machine the
    # flood below can outlast the idle timeout, after which the emulator has rightly dropped it)
    deadline = time.monotonic() + 10
    while not _holds(pid, sock) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _holds(pid, sock), "the connection is not open at the emulator"
    sock.settimeout(0.5)
    sent = 1
    try:
        for _ in range(20000):
            sock.sendall(request)
            sent += 1
    except (socket.timeout, OSError):
        pass  # the emulator stopped reading: its answers are backed up, as they should be
    deadline = time.monotonic() + 4 * IDLE_TIMEOUT + 2
    while _holds(pid, sock) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _holds(pid, sock), f"after {sent} unread requests the emulator still holds the connection"
    assert _closed_by_peer(sock, 2), "the emulator did not reset the connection"
    sock.close()
    assert_survived(hostile_emulator, offset, "unread answers")


def test_hundreds_of_idle_connections_neither_exhaust_nor_stop_the_emulator(tmp_path):
    """The issue's exhaustion: with a small open-files limit, 300 idle connections (3 descriptors each
    before the fix) made the emulator stop answering and flood its log. Now it serves what fits, answers
    503 with Retry-After beyond, sheds the idle ones after the idle timeout, and logs no traceback."""
    emu = start_hostile(nofile=512)
    try:
        env, pid = emu.env, emu.proc.pid
        baseline = _fds(pid)
        socks, refused, reset = [], 0, 0
        for i in range(300):
            try:
                s = socket.create_connection(proxy_address(env), timeout=5)
                s.sendall([b"\r\n\r\n", b"GET /_milab/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                           b"CONNECT management.azure.com:443 HTTP/1.0\r\n\r\n", b""][i % 4])
            except ConnectionError:  # refused in a flood: answered and closed before we wrote
                reset += 1
                continue
            socks.append(s)
        opened = time.monotonic()
        peak = _fds(pid)
        for s in socks:  # the ones refused at once were told why
            s.settimeout(0.2)
            try:
                data = s.recv(4096)
            except OSError:
                continue
            if data.startswith(b"HTTP/1.1 503 "):
                assert b"Retry-After: 1" in data
                refused += 1
        assert refused > 0, f"no connection was refused with 503 ({reset} were reset)"
        assert peak < 512 - 16, f"{peak} descriptors open of 512"
        assert emu.proc.poll() is None
        started = time.monotonic()
        while _fds(pid) > baseline + 8 and time.monotonic() - started < 4 * IDLE_TIMEOUT + 5:
            time.sleep(0.1)
        shed = time.monotonic() - opened
        assert _fds(pid) <= baseline + 8, f"{_fds(pid)} descriptors still open (baseline {baseline})"
        for s in socks:
            s.close()
        assert health(env) == 200
        log = emu.log.read_text()
        assert "Traceback" not in log, log[-3000:]
        assert len(log) < 20_000, f"the log grew to {len(log)} bytes"
        print(f"\n300 idle connections: peak {peak} descriptors (baseline {baseline}), {refused} refused with 503 "
              f"({reset} more reset), "
              f"all shed {shed:.1f} s after the last was opened (idle timeout {IDLE_TIMEOUT} s)")
    finally:
        emu.stop()


def test_many_connections_at_once_are_refused_politely(tmp_path):
    emu = start_hostile("--max-connections", "5")
    try:
        env = emu.env
        held = [socket.create_connection(proxy_address(env), timeout=5) for _ in range(5)]
        time.sleep(0.2)
        extra = socket.create_connection(proxy_address(env), timeout=5)
        extra.sendall(b"GET /_milab/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        reply = read_responses(extra, 1)
        assert reply.statuses == [503], reply.raw
        assert b"Retry-After: 1" in reply.raw and b"more than 5 connections" in reply.raw
        for s in held:
            s.close()
        time.sleep(0.2)
        assert health(env) == 200  # once they are gone, it serves again
    finally:
        emu.stop()
