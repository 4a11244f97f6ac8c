"""Azure SQL: the resource provider, the TDS gateway (both routes, Encrypt=yes and strict, token
and SQL logins), T-SQL and its errors, and hostile input, with pyodbc and ODBC Driver 18 against
the embedded emulator; a bare TDS exchange over a CONNECT tunnel stands in for clients that
tunnel (it is also how malformed packets are sent)."""
from __future__ import annotations

import base64
import json
import socket
import ssl
import struct
import sys
import uuid

import pyodbc
import pytest

from milab import sqlclient
from milab.cloud.sql import tds
from milab.targets.emulator import Control, EmbeddedEmulator
from support import Arm, make_vm, proxied_session, run
from support import operator_token as get_token

API = "2021-11-01"
PASSWORD = "Milab!pass123"


@pytest.fixture(scope="module")
def server(arm, emu_env, http, monkeypatch_module):
    monkeypatch_module.setenv(sqlclient.SERVERS_VAR, emu_env["MILAB_SQL_SERVERS"])
    return make_server(arm, emu_env, http)


def make_server(arm, emu_env, http) -> dict:
    """A server (SQL admin login, Entra admin: the operator) and its database ``db1``; its firewall
    lets Azure hosts and 127.0.0.1 in."""
    rg = arm.group()
    name = f"t{uuid.uuid4().hex[:10]}"
    path = f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.Sql/servers/{name}"
    r = arm.call("PUT", path, API, {"location": "westus", "identity": {"type": "SystemAssigned"}, "properties": {
        "administratorLogin": "sqladmin", "administratorLoginPassword": PASSWORD}})
    assert r.status_code == 202 and "serverAzureAsyncOperation" in r.headers["Azure-AsyncOperation"], r.text
    assert "administratorLoginPassword" not in r.text and PASSWORD not in r.text
    poll = http.get(r.headers["Azure-AsyncOperation"], headers={"Authorization": f"Bearer {arm.token}"})
    assert poll.json()["status"] == "Succeeded", poll.text
    for rule, ip in (("AllowAllWindowsAzureIps", "0.0.0.0"), ("local", "127.0.0.1")):
        got = arm.call("PUT", f"{path}/firewallRules/{rule}", API,
                       {"properties": {"startIpAddress": ip, "endIpAddress": ip}})
        assert got.status_code in (200, 201), got.text
    admin = arm.call("PUT", f"{path}/administrators/ActiveDirectory", API, {"properties": {
        "administratorType": "ActiveDirectory", "login": "milab-operator", "sid": emu_env["MILAB_OPERATOR_OBJECT_ID"],
        "tenantId": emu_env["AZURE_TENANT_ID"]}})
    assert admin.status_code == 202, admin.text
    db = arm.call("PUT", f"{path}/databases/db1", API, {"location": "westus"})
    assert db.status_code == 202, db.text
    return {"name": name, "fqdn": f"{name}.database.windows.net", "path": path, "rg": rg}


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


@pytest.fixture(scope="module")
def sql_token(http, emu_env) -> str:
    return get_token(http, emu_env, sqlclient.SQL_SCOPE)


def connect(server, token=None, database="db1", **kw):
    return sqlclient.connect(server["fqdn"], database, token=token, **kw)


def rows(cur) -> list[tuple]:
    return [tuple(r) for r in cur.fetchall()]


def error_of(fn) -> str:
    with pytest.raises(pyodbc.Error) as e:
        fn()
    return str(e.value)


# -- the resource provider ------------------------------------------------------------------------
def test_server_read_never_shows_the_password(arm, server):
    r = arm.call("GET", server["path"], API)
    props = r.json()["properties"]
    assert r.status_code == 200 and props["fullyQualifiedDomainName"] == server["fqdn"] and props["state"] == "Ready"
    assert "administratorLoginPassword" not in props and PASSWORD not in r.text
    assert props["administrators"]["administratorType"] == "ActiveDirectory"
    dbs = arm.call("GET", f"{server['path']}/databases", API).json()["value"]
    assert {d["name"] for d in dbs} == {"master", "db1"}


def test_server_validation(arm, server):
    base = server["path"].rsplit("/", 1)[0]
    weak = arm.call("PUT", f"{base}/t{uuid.uuid4().hex[:8]}", API, {"location": "westus", "properties": {
        "administratorLogin": "a", "administratorLoginPassword": "password"}})
    assert weak.status_code == 400 and weak.json()["error"]["code"] == "PasswordNotComplex", weak.text
    bad = arm.call("PUT", f"{base}/Bad_Name", API, {"location": "westus", "properties": {}})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "InvalidServerName", bad.text
    taken = arm.call("PUT", f"{base}/{server['name']}x".replace(server["name"] + "x", server["name"]), API,
                     {"location": "westus", "properties": {}})
    assert taken.status_code in (200, 202), taken.text  # the same server again is an update
    rule = arm.call("PUT", f"{server['path']}/firewallRules/bad", API,
                    {"properties": {"startIpAddress": "10.0.0.9", "endIpAddress": "10.0.0.1"}})
    assert rule.status_code == 400, rule.text
    aad_only_first = arm.call("PUT", f"{server['path']}/administrators/Other", API, {"properties": {}})
    assert aad_only_first.status_code == 400, aad_only_first.text


def test_sql_roles_manage_but_grant_no_data_access(arm, server, control, emu_env, http, sql_token):
    """SQL Server Contributor manages the server but may not switch Entra-only authentication; no
    Azure role logs anyone in (the operator is Owner and logs in only as the Entra admin)."""
    r = arm.call("PUT", f"{server['path']}/azureADOnlyAuthentications/Default", API,
                 {"properties": {"azureADOnlyAuthentication": "yes"}})
    assert r.status_code == 400, r.text
    from milab.cloud.authorization import roles
    role = roles.by_name("SQL Server Contributor")
    assert "Microsoft.Sql/servers/azureADOnlyAuthentications/write" in role["notActions"]


# -- logins ----------------------------------------------------------------------------------------
def test_token_login_as_the_entra_admin_and_sql_login(server, sql_token):
    with connect(server, sql_token) as c:
        assert rows(c.cursor().execute("SELECT SUSER_SNAME(), USER_NAME(), DB_NAME()")) == \
            [("milab-operator", "dbo", "db1")]
    with connect(server, user="sqladmin", password=PASSWORD) as c:
        assert rows(c.cursor().execute("SELECT SUSER_SNAME(), USER_NAME()")) == [("sqladmin", "dbo")]
    assert "(18456)" in error_of(lambda: connect(server, user="sqladmin", password=PASSWORD + "x"))
    missing = error_of(lambda: connect(server, sql_token, database="nosuchdb"))
    assert "(4060)" in missing or "Cannot open database" in missing, missing


def test_encrypt_strict_and_mandatory(server, sql_token):
    for mode in ("strict", "yes", "mandatory"):
        with sqlclient.connect(server["fqdn"], "db1", token=sql_token, encrypt=mode) as c:
            assert c.cursor().execute("SELECT 1").fetchone()[0] == 1, mode


def test_token_refusals(server, http, emu_env, control):
    arm_token = get_token(http, emu_env)
    text = error_of(lambda: connect(server, arm_token))
    assert "(18456)" in text and "Incorrect or invalid token." in text, text
    expired = control.call("POST", "/_milab/tokens", json={"object_id": emu_env["MILAB_OPERATOR_OBJECT_ID"],
                                                           "audience": "https://database.windows.net/",
                                                           "issued_offset": -7200, "lifetime": 3600})["access_token"]
    text = error_of(lambda: connect(server, expired))
    assert "(18456)" in text and "Token is expired." in text, text
    other_tenant = control.call("POST", "/_milab/tokens", json={
        "object_id": emu_env["MILAB_OPERATOR_OBJECT_ID"], "audience": "https://database.windows.net",
        "claims": {"tid": str(uuid.uuid4())}})["access_token"]
    assert "not currently configured to accept this token" in error_of(lambda: connect(server, other_tenant))
    assert "(18456)" in error_of(lambda: connect(server, "not-a-jwt"))


def test_firewall_refuses_an_address_without_a_rule(arm, server, sql_token):
    r = arm.call("DELETE", f"{server['path']}/firewallRules/local", API)
    assert r.status_code in (200, 204), r.text
    try:
        text = error_of(lambda: connect(server, sql_token))
        assert "(40615)" in text and "Client with IP address '127.0.0.1' is not allowed" in text, text
    finally:
        arm.call("PUT", f"{server['path']}/firewallRules/local", API,
                 {"properties": {"startIpAddress": "127.0.0.1", "endIpAddress": "127.0.0.1"}})


def test_entra_only_refuses_sql_logins(arm, server, sql_token):
    path = f"{server['path']}/azureADOnlyAuthentications/Default"
    assert arm.call("PUT", path, API, {"properties": {"azureADOnlyAuthentication": True}}).status_code in (200, 201)
    try:
        text = error_of(lambda: connect(server, user="sqladmin", password=PASSWORD))
        assert "(18456)" in text and "Azure Active Directory only authentication is enabled" in text, text
        with connect(server, sql_token) as c:
            assert c.cursor().execute("SELECT 1").fetchone()[0] == 1
    finally:
        arm.call("PUT", path, API, {"properties": {"azureADOnlyAuthentication": False}})


# -- T-SQL -----------------------------------------------------------------------------------------
def test_tsql_errors_and_results(server, sql_token):
    with connect(server, sql_token) as c:
        c.autocommit = True
        cur = c.cursor()
        cur.execute("CREATE TABLE Items (id INT PRIMARY KEY, name NVARCHAR(50), price FLOAT)")
        cur.execute("INSERT INTO dbo.Items VALUES (1, N'pen', 1.5), (2, N'ink', NULL), (3, N'Pad', 2.0)")
        assert cur.rowcount == 3
        assert rows(cur.execute("SELECT TOP 2 name FROM [dbo].[Items] WHERE price IS NOT NULL ORDER BY id")) \
            == [("pen",), ("Pad",)]
        assert rows(cur.execute("SELECT name FROM Items WHERE name = ?", "PAD")) == [("Pad",)]  # CI collation
        assert cur.execute("SELECT COUNT(*) FROM Items i JOIN Items j ON i.id = j.id").fetchone()[0] == 3
        for statement, number in (("SELEC 1", 102), ("SELECT * FROM NoSuchTable", 208),
                                  ("SELECT nope FROM Items", 207), ("USE master", 40508),
                                  ("SELECT * FROM otherdb.dbo.Items", 40515),
                                  ("INSERT INTO Items VALUES (1, N'dup', 0)", 2627),
                                  ("CREATE TABLE Items (id INT)", 2714), ("EXEC sp_who", 2812),
                                  ("SELECT @nothing", 137), ("DROP USER [nobody]", 15151),
                                  ("ALTER ROLE db_nosuch ADD MEMBER [x]", 15151),
                                  ("CREATE USER [milab-nobody-at-all] FROM EXTERNAL PROVIDER", 33134)):
            text = error_of(lambda: cur.execute(statement))
            assert f"({number})" in text, (statement, text)
        principals = rows(cur.execute("SELECT name, type FROM sys.database_principals WHERE is_fixed_role = 1"))
        assert ("db_datareader", "R") in principals and ("db_owner", "R") in principals
        assert "Microsoft SQL Azure" in cur.execute("SELECT @@VERSION").fetchone()[0]


def test_manual_commit_and_rollback(server, sql_token):
    with connect(server, sql_token) as c:
        cur = c.cursor()
        cur.execute("CREATE TABLE Tx (id INT)")
        c.commit()
        cur.execute("INSERT INTO Tx VALUES (1)")
        c.rollback()
        assert cur.execute("SELECT COUNT(*) FROM Tx").fetchone()[0] == 0
        cur.execute("INSERT INTO Tx VALUES (2)")
        c.commit()
    with connect(server, sql_token) as c:
        assert rows(c.cursor().execute("SELECT id FROM Tx")) == [(2,)]


# -- route 1 and hostile input: a bare TDS exchange over the proxy's CONNECT ----------------------
class Tunnel:
    """A TDS client over ``CONNECT <server>.database.windows.net:1433`` (what tedious does with a
    socket from the proxy): PRELOGIN, TLS inside PRELOGIN, LOGIN7 with an access token."""

    def __init__(self, emu_env, host: str, port: int = 1433, vm_secret: str | None = None):
        proxy = emu_env["HTTPS_PROXY"].rsplit("//", 1)[1]
        ph, pp = proxy.rsplit(":", 1)
        self.sock = socket.create_connection((ph, int(pp)), timeout=15)
        auth = f"Proxy-Authorization: Basic {base64.b64encode(f'vm:{vm_secret}'.encode()).decode()}\r\n" \
            if vm_secret else ""
        self.sock.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n{auth}\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            head += chunk
        self.status = int(head.split()[1]) if head else 0
        self.host, self.env = host, emu_env
        self.tls: ssl.SSLObject | None = None

    def send(self, kind: int, payload: bytes) -> None:
        data = tds.packets(kind, payload, 4096)
        if self.tls is None:
            self.sock.sendall(data)
        else:
            self.tls.write(data)
            self.sock.sendall(self._out.read())

    def _recv_raw(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            if self.tls is None:
                chunk = self.sock.recv(n - len(buf))
            else:
                try:
                    chunk = self.tls.read(n - len(buf))
                except ssl.SSLWantReadError:
                    data = self.sock.recv(65536)
                    if not data:
                        raise EOFError from None
                    self._in.write(data)
                    continue
            if not chunk:
                raise EOFError
            buf += chunk
        return buf

    def message(self) -> bytes:
        out = b""
        while True:
            _t, status, length, *_ = tds.HEADER.unpack(self._recv_raw(8))
            out += self._recv_raw(length - 8)
            if status & tds.STATUS_EOM:
                return out

    def handshake(self) -> None:
        self.send(tds.PRELOGIN, tds.build_prelogin([(tds.PL_VERSION, b"\x11\x00\x00\x00\x00\x00"),
                                                    (tds.PL_ENCRYPTION, b"\x01"), (tds.PL_FEDAUTHREQUIRED, b"\x01")]))
        answer = tds.parse_prelogin(self.message())
        assert answer[tds.PL_ENCRYPTION] == b"\x01" and answer[tds.PL_FEDAUTHREQUIRED] == b"\x01"
        ctx = ssl.create_default_context(cafile=self.env["REQUESTS_CA_BUNDLE"])
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        self._in, self._out = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = ctx.wrap_bio(self._in, self._out, server_hostname=self.host)
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.sock.sendall(tds.packets(tds.PRELOGIN, self._out.read()))
                self._in.write(self.message())
        self.tls = tls

    def login(self, token: str, database: str = "db1") -> bytes:
        self.send(tds.LOGIN7, login7(token, database, self.host))
        return self.message()

    def close(self) -> None:
        self.sock.close()


def login7(token: str, database: str, server: str) -> bytes:
    strings = {"hostname": "milab-test", "username": "", "password": "", "appname": "milab", "servername": server,
               "library": "milab-test", "language": "", "database": database}
    fixed = 94
    data = bytearray()
    offsets = []
    for name in ("hostname", "username", "password", "appname", "servername"):
        raw = strings[name].encode("utf-16-le")
        offsets.append((fixed + len(data), len(raw) // 2))
        data += raw
    ext_off = fixed + len(data)
    data += b"\0\0\0\0"  # the FeatureExt offset, filled in below
    offsets.append((ext_off, 4))
    for name in ("library", "language", "database"):
        raw = strings[name].encode("utf-16-le")
        offsets.append((fixed + len(data), len(raw) // 2))
        data += raw
    feature_off = fixed + len(data)
    raw_token = token.encode("utf-16-le")
    fedauth = bytes([tds.FEDAUTH_LIBRARY_SECURITYTOKEN << 1 | 1]) + struct.pack("<I", len(raw_token)) + raw_token
    data += bytes([tds.FEATURE_FEDAUTH]) + struct.pack("<I", len(fedauth)) + fedauth + b"\xff"
    struct.pack_into("<I", data, ext_off - fixed, feature_off)
    head = struct.pack("<IIIIII", fixed + len(data), tds.TDS74, 4096, 0, 1, 0) + bytes([0xE0, 0x03, 0, 0x10]) + \
        struct.pack("<iI", 0, 0x409)
    head += b"".join(struct.pack("<HH", o, n) for o, n in offsets) + b"\0" * 6 + struct.pack("<HHHHHHI", fixed, 0,
                                                                                                fixed, 0, fixed, 0, 0)
    assert len(head) == fixed
    return head + bytes(data)


def test_connect_tunnel_route(server, emu_env, sql_token):
    t = Tunnel(emu_env, server["fqdn"])
    try:
        assert t.status == 200
        t.handshake()
        answer = t.login(sql_token)
        assert bytes([tds.TOK_LOGINACK]) in answer and "milab-operator" not in answer.decode("utf-16-le", "ignore")
        t.send(tds.SQL_BATCH, struct.pack("<IIHQI", 22, 18, 2, 0, 1) + "SELECT SUSER_SNAME()".encode("utf-16-le"))
        reply = t.message()
        assert reply[0] == tds.TOK_COLMETADATA and "milab-operator".encode("utf-16-le") in reply
    finally:
        t.close()
    refused = Tunnel(emu_env, "no-such-server.database.windows.net")
    assert refused.status == 403
    refused.close()


@pytest.mark.parametrize("garbage", [
    b"\x12\x01\x00\x04\x00\x00\x00\x00",  # a packet shorter than its header
    b"\x12\x01\xff\xff\x00\x00\x01\x00" + b"\0" * 100,  # longer than it is, then silence
    tds.packets(tds.PRELOGIN, b"\x00\xff\xff\x00\x06\xff"),  # an option past the end
    tds.packets(tds.LOGIN7, b"\x10\x00\x00\x00"),  # LOGIN7 before PRELOGIN
    b"GET / HTTP/1.1\r\n\r\n",
    b"\x16\x03\x01\x00\x05hello",  # a TLS record that is no ClientHello
])
def test_malformed_input_closes_the_connection_and_the_server_carries_on(server, emu_env, sql_token, garbage):
    t = Tunnel(emu_env, server["fqdn"])
    t.sock.settimeout(40)
    t.sock.sendall(garbage)
    try:
        t.sock.shutdown(socket.SHUT_WR)
        rest = t.sock.recv(65536)
        while rest and not rest.startswith(b"\x04"):  # at most a PRELOGIN answer, then the end
            rest = t.sock.recv(65536)
    except (ConnectionError, socket.timeout):
        pass
    t.close()
    with connect(server, sql_token) as c:
        assert c.cursor().execute("SELECT 1").fetchone()[0] == 1


def test_bad_login7_after_tls(server, emu_env, sql_token):
    t = Tunnel(emu_env, server["fqdn"])
    try:
        t.handshake()
        t.send(tds.LOGIN7, b"\xff\x00\x00\x00" + b"\0" * 90)
        with pytest.raises((EOFError, ConnectionError, ssl.SSLError, socket.timeout)):
            t.message()
    finally:
        t.close()
    with connect(server, sql_token) as c:
        assert c.cursor().execute("SELECT 1").fetchone()[0] == 1


# -- how a VM's guest reaches a server by the page's name (README, "Azure SQL") --------------------
GUEST_SQL = r"""
import json, os, socket
from milab import sqlclient
fqdn = FQDN
out = {"servers_var": os.environ.get(sqlclient.SERVERS_VAR), "hosts": open("/etc/hosts").read()}
try:
    out["address"] = socket.gethostbyname(fqdn)
except OSError:
    out["address"] = None
with sqlclient.connect(fqdn, "db1", user="sqladmin", password=PASSWORD) as c:
    out["rows"] = [list(r) for r in c.cursor().execute("SELECT SUSER_SNAME(), DB_NAME()").fetchall()]
print(json.dumps(out))
"""


def guest_sql(control, vm: dict, fqdn: str) -> dict:
    program = GUEST_SQL.replace("FQDN", repr(fqdn)).replace("PASSWORD", repr(PASSWORD))
    code, out, err = run(control, vm, f"{sys.executable} - <<'PY'\n{program}\nPY\n", timeout=90)
    assert code == 0, out + err
    return json.loads(out.strip().splitlines()[-1])


def test_a_namespaced_guest_reaches_the_server_by_its_name(arm, server, control, emu_env):
    """In its own namespaces the guest connects to ``<server>.database.windows.net,1433``: its own
    /etc/hosts names a loopback address of its namespace where the emulator listens for that server;
    it never learns where the emulator's files are."""
    if emu_env.get("MILAB_GUEST_ISOLATION") != "namespaces":
        pytest.skip("this run's guests are not isolated")
    vm = make_vm(arm, server["rg"], f"sqlvm{uuid.uuid4().hex[:6]}")
    got = guest_sql(control, vm, server["fqdn"])
    assert got["servers_var"] is None and emu_env["MILAB_EMULATOR_DIR"] not in json.dumps(got), got
    assert got["address"].startswith("127.1.") and f"{got['address']}\t{server['fqdn']}" in got["hosts"], got
    assert got["rows"] == [["sqladmin", "db1"]], got
    with open("/etc/hosts") as f:
        assert server["fqdn"] not in f.read()  # the guest's own hosts file, not the machine's


def test_an_unisolated_guest_reaches_the_server_by_its_loopback_address():
    """Under ``--guest-isolation none`` the guest shares the host's network: it finds the server's
    loopback listener in ``MILAB_SQL_SERVERS``, as the operator does."""
    emu = EmbeddedEmulator(extra_args=["--guest-isolation", "none"])
    try:
        env = emu.env
        http = proxied_session(env)
        arm = Arm(http, get_token(http, env), env["AZURE_SUBSCRIPTION_ID"])
        srv = make_server(arm, env, http)
        vm = make_vm(arm, srv["rg"], "sqlvm")
        got = guest_sql(Control(env), vm, srv["fqdn"])
        assert got["servers_var"] == env["MILAB_SQL_SERVERS"] and got["address"] is None, got
        assert got["rows"] == [["sqladmin", "db1"]], got
    finally:
        emu.stop()
