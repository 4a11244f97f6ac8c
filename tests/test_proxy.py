"""The forward proxy: CONNECT over HTTP/1.0 and 1.1 into TLS with the emulator's
certificate, absolute-URI plain HTTP, refusal of hosts that are not emulated, and clear
answers to malformed input."""
from __future__ import annotations

import json
import socket
import ssl
from urllib.parse import urlparse

import pytest

from milab.cloud.proxy import host_is_emulated


def _proxy_addr(env):
    u = urlparse(env["MILAB_EMULATOR_URL"])
    return u.hostname, u.port


def _connect(env, target: str, version: str = "1.1", host_header: bool = True) -> tuple[socket.socket, bytes]:
    s = socket.create_connection(_proxy_addr(env), timeout=10)
    req = f"CONNECT {target} HTTP/{version}\r\n" + (f"Host: {target}\r\n" if host_header else "") + "\r\n"
    s.sendall(req.encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    return s, head


@pytest.mark.parametrize("version, host_header", [("1.0", False), ("1.1", True)])
def test_connect_tunnels_to_tls_for_emulated_hosts(emu_env, version, host_header):
    s, head = _connect(emu_env, "management.azure.com:443", version, host_header)
    assert head.split(b"\r\n")[0].split(b" ")[1] == b"200", head
    ctx = ssl.create_default_context(cafile=emu_env["REQUESTS_CA_BUNDLE"])
    with ctx.wrap_socket(s, server_hostname="management.azure.com") as tls:
        tls.sendall(b"GET /subscriptions?api-version=2022-12-01 HTTP/1.1\r\nHost: management.azure.com\r\n"
                    b"Connection: close\r\n\r\n")
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    status = data.split(b"\r\n", 1)[0]
    assert b"401" in status, status  # reached ARM, which wants a token
    body = json.loads(data.split(b"\r\n\r\n", 1)[1])
    assert body["error"]["code"] == "AuthenticationFailed"


def test_certificate_covers_account_hosts(emu_env):
    s, head = _connect(emu_env, "myaccount.blob.core.windows.net:443")
    assert b" 200 " in head.split(b"\r\n")[0]
    ctx = ssl.create_default_context(cafile=emu_env["REQUESTS_CA_BUNDLE"])
    with ctx.wrap_socket(s, server_hostname="myaccount.blob.core.windows.net") as tls:
        assert tls.version() in ("TLSv1.2", "TLSv1.3")


@pytest.mark.parametrize("target", ["example.com:443", "management.azure.com:80", "10.0.0.1:443",
                                    "evil.management.azure.com.example.org:443"])
def test_connect_refuses_hosts_it_does_not_emulate(emu_env, target):
    s, head = _connect(emu_env, target)
    s.close()
    assert head.split(b"\r\n")[0].split(b" ")[1] == b"403", head
    assert b"not an emulated Azure endpoint" in head


def test_malformed_connect_is_400(emu_env):
    s, head = _connect(emu_env, "no-port-here")
    s.close()
    assert b" 400 " in head.split(b"\r\n")[0]


def test_absolute_uri_imds_needs_a_vm_context(http, emu_env):
    r = http.get("http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01"
                 "&resource=https://management.azure.com/", headers={"Metadata": "true"}, timeout=10)
    assert r.status_code == 403 and r.json()["error"] == "not_in_a_vm"


def test_absolute_uri_to_unknown_host_is_502(http):
    r = http.get("http://not-azure.example/", timeout=10)
    assert r.status_code == 502 and r.json()["error"]["code"] == "HostNotEmulated"


def test_host_matching():
    assert host_is_emulated("management.azure.com")
    assert host_is_emulated("acct1.blob.core.windows.net")
    assert host_is_emulated("MyVault.vault.azure.net.")
    assert not host_is_emulated("a.b.blob.core.windows.net")
    assert not host_is_emulated("blob.core.windows.net.evil.com")
    assert not host_is_emulated("169.254.169.254")  # IMDS is plain HTTP only


def test_instance_metadata_answers_for_the_calling_vm(arm, control, http):
    rg = arm.group()
    vm = arm.call("PUT", f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/"
                         f"win1", "2024-07-01",
                  {"location": "westus", "properties": {"hardwareProfile": {"vmSize": "Standard_B2s"}, "storageProfile": {
                      "imageReference": {"publisher": "MicrosoftWindowsServer", "offer": "WindowsServer",
                                         "sku": "2022-datacenter-azure-edition", "version": "latest"}}}}).json()
    ctx = control.call("GET", "/_milab/vm-context", params={"id": vm["id"]})
    r = http.get("http://169.254.169.254/metadata/instance?api-version=2021-02-01", headers={"Metadata": "true"},
                 proxies={"http": ctx["HTTP_PROXY"]}, timeout=10)
    assert r.status_code == 200, r.text
    compute = r.json()["compute"]
    assert compute["resourceId"] == vm["id"] and compute["osType"] == "Windows" and compute["resourceGroupName"] == rg


def test_connections_by_name_count_within_the_proxys_bound():
    """A guest's connection to an emulated host by name (TLS done by its listener) counts in the
    proxy's ``active``, as the proxy's own do: beyond ``max_connections`` it is aborted before the
    server hears of it, and a closed one frees its place."""
    import asyncio

    from milab.cloud.proxy import Proxy

    class Transport:
        aborted = False

        def abort(self):
            self.aborted = True

    async def scenario():
        made, lost = [], []

        class Server(asyncio.Protocol):
            def connection_made(self, transport):
                made.append(transport)

            def connection_lost(self, exc):
                lost.append(exc)

        proxy = Proxy("tls", "http", max_connections=1, server_protocol=Server)
        first, second, t1, t2 = proxy.by_name(), proxy.by_name(), Transport(), Transport()
        first.connection_made(t1)
        second.connection_made(t2)
        assert (proxy.active, proxy.refused, made, t1.aborted, t2.aborted) == (1, 1, [t1], False, True)
        second.connection_lost(None)
        assert proxy.active == 1 and lost == []
        first.connection_lost(None)
        assert proxy.active == 0 and lost == [None] and not proxy._transports
        third, t3 = proxy.by_name(), Transport()
        third.connection_made(t3)
        assert proxy.active == 1 and not t3.aborted and made == [t1, t3]

    asyncio.run(scenario())
