"""Azure SQL benchmark: token-login latency and SELECT round trips over one connection with pyodbc
and Microsoft's ODBC Driver 18 against the emulator's TDS gateway, side by side in one run with
references measured the same way:

* login: a new pyodbc connection with an access token (PRELOGIN, TLS inside PRELOGIN, LOGIN7 with
  the token, checked by the shared validator, the Entra admin's session), closed again; beside a
  new HTTPS connection through the emulator's proxy (CONNECT, TLS) and one authorized ARM GET, the
  nearest thing an HTTP client does to open a session;
* round trips: ``SELECT id, name FROM bench WHERE id = ?`` on one connection, beside the same
  statement on the same database file with Python's sqlite3 (what the gateway's engine costs at
  the bottom) and an ARM GET of the server on one kept-alive HTTPS connection through the proxy.

The emulator runs in this process (``bench/blob.py``'s ``start_emulator``); every measurement runs
in a separate client process, so client and server do not share an interpreter. The client finds
the server's loopback listener through ``MILAB_SQL_SERVERS`` (the route for processes outside guest
namespaces, README "Azure SQL"). Prints p50/p99 and rates; asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

QUERY = "SELECT id, name FROM bench WHERE id = ?"
ROWS = 1000


# -- the client (a separate process) -----------------------------------------------------------
def timed(op, n: int, warm: int = 5) -> dict:
    for _ in range(warm):
        op()
    lat, start = [], time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        op()
        lat.append(time.perf_counter() - t)
    wall = time.perf_counter() - start
    lat.sort()
    return {"rate": n / wall, "p50_ms": lat[n // 2] * 1000, "p99_ms": lat[min(n - 1, int(n * .99))] * 1000}


def client_main(spec: dict) -> dict:
    mode, n = spec["mode"], spec["n"]
    if mode in ("sql-login", "sql-select"):
        from milab import sqlclient

        def connect():
            return sqlclient.connect(spec["fqdn"], spec["database"], token=spec["token"])
        if mode == "sql-login":
            return timed(lambda: connect().close(), n)
        conn = connect()
        cur = conn.cursor()
        ids = iter(range(10 ** 9))
        return timed(lambda: cur.execute(QUERY, next(ids) % ROWS + 1).fetchall(), n, warm=50)
    if mode == "sqlite-select":
        import sqlite3
        conn = sqlite3.connect(spec["file"])
        ids = iter(range(10 ** 9))
        return timed(lambda: conn.execute(QUERY, (next(ids) % ROWS + 1,)).fetchall(), n, warm=50)
    import requests
    headers = {"Authorization": f"Bearer {spec['arm_token']}"}

    def session():
        s = requests.Session()
        s.trust_env = False
        s.proxies = {"https": spec["proxy"]}
        s.verify = spec["bundle"]
        return s

    def get(s):
        r = s.get(spec["url"], headers=headers, timeout=30)
        assert r.status_code == 200, r.text  # a refused request would not measure a round trip
    if mode == "arm-connect":
        def fresh():
            with session() as s:
                get(s)
        return timed(fresh, n)
    s = session()
    return timed(lambda: get(s), n, warm=20)


# -- set-up ----------------------------------------------------------------------------------------
def setup(emu) -> dict:
    from azure.identity import ClientSecretCredential
    from azure.mgmt.resource.resources import ResourceManagementClient
    from azure.mgmt.sql import SqlManagementClient

    from milab import sqlclient

    env = emu.operator_env()
    os.environ.update(env)
    cred = ClientSecretCredential(env["AZURE_TENANT_ID"], env["AZURE_CLIENT_ID"], env["AZURE_CLIENT_SECRET"])
    sub, loc, rg = env["AZURE_SUBSCRIPTION_ID"], "westus", "bench"
    with ResourceManagementClient(cred, sub) as resources:
        resources.resource_groups.create_or_update(rg, {"location": loc})
    with SqlManagementClient(cred, sub) as sql:  # closed: no connection to the proxy left open
        name = f"bench-sql-{uuid.uuid4().hex[:8]}"
        server = sql.servers.begin_create_or_update(rg, name, {
            "location": loc, "properties": {"administratorLogin": "benchadmin",
                                            "administratorLoginPassword": f"B{uuid.uuid4().hex}!"}}).result()
        sql.firewall_rules.create_or_update(rg, name, "local", {"properties": {"startIpAddress": "127.0.0.1",
                                                                               "endIpAddress": "127.0.0.1"}})
        sql.server_azure_ad_administrators.begin_create_or_update(rg, name, "ActiveDirectory", {"properties": {
            "administratorType": "ActiveDirectory", "login": "bench-operator", "sid": env["MILAB_OPERATOR_OBJECT_ID"],
            "tenantId": env["AZURE_TENANT_ID"]}}).result()
        db = sql.databases.begin_create_or_update(rg, name, "bench", {"location": loc}).result()
    token = cred.get_token(sqlclient.SQL_SCOPE).token
    with sqlclient.connect(server.fully_qualified_domain_name, "bench", token=token) as conn:
        cur = conn.cursor()
        cur.execute("CREATE TABLE bench (id INT PRIMARY KEY, name NVARCHAR(50))")
        cur.executemany("INSERT INTO bench (id, name) VALUES (?, ?)", [(i, f"row {i}") for i in range(1, ROWS + 1)])
        conn.commit()
    db_res = emu.state.get(db.id) or next(r for r in emu.state.resources.values() if r.get("id", "").lower()
                                           == db.id.lower())
    common = {"fqdn": server.fully_qualified_domain_name, "database": "bench", "token": token,
              "arm_token": cred.get_token("https://management.azure.com/.default").token,
              "url": f"https://management.azure.com{server.id}?api-version=2021-11-01",
              "proxy": env["HTTPS_PROXY"], "bundle": env["REQUESTS_CA_BUNDLE"],
              "file": str(emu.sql.dir / db_res["_milab"]["file"])}
    return common


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--logins", type=int, default=200)
    ap.add_argument("--selects", type=int, default=3000)
    ap.add_argument("--client", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.client:
        print(json.dumps(client_main(json.loads(a.client))))
        return 0

    from blob import run_client, running_emulator  # bench/blob.py: the emulator in a thread of this process
    with running_emulator() as emu:
        common = setup(emu)
        runs = [("sql-login", a.logins, "token login, pyodbc + ODBC Driver 18 (new connection)"),
                ("arm-connect", a.logins, "reference: new HTTPS connection via the proxy + ARM GET"),
                ("sql-select", a.selects, "SELECT by key over one connection (pyodbc)"),
                ("sqlite-select", a.selects * 10, "reference: the same SELECT, sqlite3 on the same file"),
                ("arm-get", a.selects, "reference: ARM GET over one kept-alive HTTPS connection")]
        results = {mode: run_client(__file__, {**common, "mode": mode, "n": n}) for mode, n, _ in runs}
    print(f"Azure SQL on the emulator: {a.logins} logins, {a.selects} SELECTs (sqlite3: {a.selects * 10})")
    for mode, _, label in runs:
        r = results[mode]
        print(f"  {label:58s} {r['rate']:8.0f} /s   p50 {r['p50_ms']:8.3f} ms   p99 {r['p99_ms']:8.3f} ms")
    print(f"  login p50 / HTTPS connect+GET p50: "
          f"{results['sql-login']['p50_ms'] / results['arm-connect']['p50_ms']:.2f}")
    print(f"  SELECT round trips / ARM GET round trips: "
          f"{results['sql-select']['rate'] / results['arm-get']['rate']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
