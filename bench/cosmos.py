"""Cosmos DB benchmark: point-read and query throughput of the emulator's data plane with the Python
SDK (azure-cosmos, async) and a master key, and with an Entra token, side by side in one run with
``@vercel/cosmosdb-server`` (pinned in ``infra/package.json``) on the same machine and client.

The emulator runs in this process (a thread with its own event loop); cosmosdb-server listens on
loopback with the emulator's certificate (``bench/cosmosdb_server.js``). The load comes from one
separate client process holding a client for every target: the same azure-cosmos code, ``-c``
requests in flight. Both servers are reached the same way: the account's own name
(``https://<account>.documents.azure.com``), resolved by the load client's aiohttp session to the
server's loopback TLS port (for the emulator, its HTTPS for clients that take no proxy,
``MILAB_HTTPS_BY_NAME``, the port ``@azure/cosmos`` reaches it by outside a guest). Addressing
cosmosdb-server as ``https://127.0.0.1:<port>`` would make the SDK treat it as a local emulator and
take other code paths, and reaching only the emulator through an HTTP proxy would add the client's
per-request proxy work to one side only; the rates through the proxy, as clients reach the
emulator, are printed too.

The run is made of paired rounds: each round runs one batch of requests against every target, in
alternating order, so a change of load on the machine (a shared 2-core virtual machine varies by a
third from one minute to the next) weighs on every target alike. Each rate is the median of the
rounds' rates, with the lowest and highest round beside it; each ratio is the median of the ratios
within a round, with the lowest and highest.

On a 2-core machine the SDK client, not the server, sets the rate (it takes a whole core; "busy"
prints the share), so the client's own work per request decides the figure. Under the SDK's
default Session consistency the SDK keeps session tokens from every answer that carries one and,
for each read, hashes the partition key to pick the token to send back; Cosmos DB (and the
emulator) send session tokens, cosmosdb-server sends none, so that work happens against one side
only. Every server is therefore loaded twice: with the SDK's default, and with
``consistency_level="Eventual"``, where the client does the same work against both. Each
server's own CPU time per request, which does not depend on the client and says how much load it
could take, is printed beside the client's (the emulator's includes its proxy when used). The
servers run on the first CPU and the client on the others.

Last, the servers are loaded with as light a client as there is, to see them rather than the SDK:
aiohttp alone, point reads with each item's master-key signature made once, twice the requests in
flight; each server's CPU per request is the figure to read there (on 2 cores even this client can
set the rate). A third server joins them there, the aiohttp floor: a bare aiohttp application (in its own
process) that answers every GET with the bytes and header names of the emulator's point read and
does nothing else. It is what the HTTP and TLS stack every milab service is built on costs, which
no service built on it can go below. Asserts nothing.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from blob import cpu_seconds, operator_session, running_emulator  # noqa: E402  (the emulator in a thread of this process)

API = "2024-11-15"
ITEMS = 100


# -- the load client (a separate process) ------------------------------------------------------
class _StaticToken:
    """An async TokenCredential handing out one token (the identity's, minted for the run)."""

    def __init__(self, token: str):
        self.token = token

    async def get_token(self, *scopes, **kwargs):
        from azure.core.credentials import AccessToken
        return AccessToken(self.token, int(time.time()) + 3000)

    async def close(self):
        pass

    async def __aenter__(self):
        return self

    async def __aexit__(self, *a):
        pass


def _by_name_session(port: int):
    """An aiohttp session that resolves every host name to 127.0.0.1:``port`` (and reads no proxy from
    the environment)."""
    import socket

    import aiohttp

    class Loopback(aiohttp.abc.AbstractResolver):
        async def resolve(self, host, port_=0, family=socket.AF_INET):
            return [{"hostname": host, "host": "127.0.0.1", "port": port, "family": socket.AF_INET, "proto": 0,
                     "flags": 0}]

        async def close(self):
            pass
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=Loopback()))


def _by_name_transport(port: int):
    """The azure-core transport of :func:`_by_name_session`, for the SDK's clients."""
    from azure.core.pipeline.transport import AioHttpTransport
    return AioHttpTransport(session=_by_name_session(port), session_owner=True)


async def _load(spec: dict) -> dict:
    """Every target in one client process, in paired rounds: each round runs one batch against each
    target (in alternating order), so whatever else the machine does weighs on all of them alike."""
    from azure.cosmos import PartitionKey
    from azure.cosmos.aio import CosmosClient
    clients, containers = [], {}
    for t in spec["targets"]:
        options = {"consistency_level": t["consistency"]} if t["consistency"] != "Session" else {}
        if t.get("port"):  # by name, straight to that loopback port; otherwise as the environment says (proxy)
            options["transport"] = _by_name_transport(t["port"])
        client = CosmosClient(spec["endpoint"], _StaticToken(t["token"]) if t.get("token") else t["key"],
                              **options)
        await client.__aenter__()
        clients.append(client)
        if t.get("populate"):
            db = await client.create_database_if_not_exists("bench")
            c = await db.create_container_if_not_exists("items", PartitionKey("/pk"))
            for i in range(ITEMS):
                await c.upsert_item({"id": f"item{i}", "pk": f"p{i % 10}", "n": i, "text": "x" * 200})
        containers[t["label"]] = client.get_database_client("bench").get_container_client("items")
    rng = random.Random(7)

    async def point(c):
        i = rng.randrange(ITEMS)
        return await c.read_item(f"item{i}", partition_key=f"p{i % 10}")

    async def query(c):
        i = rng.randrange(ITEMS)
        # the filter names the partition key too: cosmosdb-server ignores the partition key header
        return [r async for r in c.query_items("SELECT * FROM c WHERE c.pk = @pk AND c.id = @id",
                                               partition_key=f"p{i % 10}",
                                               parameters=[{"name": "@pk", "value": f"p{i % 10}"},
                                                           {"name": "@id", "value": f"item{i}"}])]

    async def batch(op, c, n: int, lat: list | None) -> None:
        async def worker(k):
            for _ in range(k):
                t = time.perf_counter()
                await op(c)
                if lat is not None:
                    lat.append(time.perf_counter() - t)
        await asyncio.gather(*(worker(n // spec["concurrency"]) for _ in range(spec["concurrency"])))

    per = max(spec["requests"] // spec["rounds"] // spec["concurrency"], 1) * spec["concurrency"]
    out: dict = {}
    try:
        for kind, op in (("point", point), ("query", query)):
            for t in spec["targets"]:
                await batch(op, containers[t["label"]], 10 * spec["concurrency"], None)  # warm-up
            rows = {t["label"]: [] for t in spec["targets"]}
            for r in range(spec["rounds"]):
                for t in (spec["targets"] if r % 2 == 0 else spec["targets"][::-1]):
                    lat: list[float] = []
                    s0, c0, t0 = cpu_seconds(t["pid"]), time.process_time(), time.perf_counter()
                    await batch(op, containers[t["label"]], per, lat)
                    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                    lat.sort()
                    rows[t["label"]].append({
                        "rate": per / wall, "busy": cpu / wall, "client_ms": cpu * 1000 / per,
                        "server_ms": (cpu_seconds(t["pid"]) - s0) * 1000 / per,
                        "p50_ms": lat[len(lat) // 2] * 1000, "p99_ms": lat[int(len(lat) * .99)] * 1000})
            out[kind] = rows
    finally:
        for client in clients:
            await client.__aexit__(None, None, None)
    out["per_batch"] = per
    return out


async def _raw_load(spec: dict) -> dict:
    """Point reads with a client that does as little as it can: aiohttp alone, the master-key signature
    of each item computed once (valid for the 15 minutes Cosmos allows), twice the in-flight requests,
    to load the servers as hard as one client process can. Their CPU per request is the figure: on 2
    cores this client may still set the rate (both sides' busy shares are printed). Every target
    answers the same GETs."""
    from milab.cloud.cosmos.auth import master_key_authorization
    host = spec["endpoint"].split("//", 1)[1].split(":", 1)[0].split("/", 1)[0]
    paths = [f"/dbs/bench/colls/items/docs/item{i}" for i in range(ITEMS)]
    signed = []
    for i, path in enumerate(paths):
        auth, date = master_key_authorization(spec["key"], "GET", path)
        signed.append({"authorization": auth, "x-ms-date": date, "x-ms-version": "2020-07-15",
                       "x-ms-documentdb-partitionkey": json.dumps([f"p{i % 10}"]), "Accept": "application/json"})
    sessions = {t["label"]: _by_name_session(t["port"]) for t in spec["raw"]}
    rng = random.Random(11)
    inflight = 2 * spec["concurrency"]
    per = max(spec["requests"] // spec["rounds"] // inflight, 1) * inflight
    rows: dict = {t["label"]: [] for t in spec["raw"]}
    errors: dict = {t["label"]: 0 for t in spec["raw"]}

    async def batch(label: str, n: int) -> None:
        session = sessions[label]

        async def worker(k):
            for _ in range(k):
                i = rng.randrange(ITEMS)
                async with session.get(f"https://{host}{paths[i]}", headers=signed[i]) as r:
                    await r.read()
                    errors[label] += r.status != 200
        await asyncio.gather(*(worker(n // inflight) for _ in range(inflight)))
    try:
        for t in spec["raw"]:
            await batch(t["label"], 10 * inflight)  # warm-up
        for r in range(spec["rounds"]):
            for t in (spec["raw"] if r % 2 == 0 else spec["raw"][::-1]):
                s0, c0, t0 = cpu_seconds(t["pid"]), time.process_time(), time.perf_counter()
                await batch(t["label"], per)
                wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                rows[t["label"]].append({"rate": per / wall, "busy": cpu / wall, "client_ms": cpu * 1000 / per,
                                         "server_ms": (cpu_seconds(t["pid"]) - s0) * 1000 / per,
                                         "server_busy": (cpu_seconds(t["pid"]) - s0) / wall})
    finally:
        for session in sessions.values():
            await session.close()
    return {"rows": rows, "errors": errors, "per_batch": per, "inflight": inflight}


def client_main(spec_json: str) -> int:
    import logging
    logging.getLogger("azure").setLevel(logging.WARNING)
    spec = json.loads(spec_json)
    out = asyncio.run(_load(spec))
    out["raw"] = asyncio.run(_raw_load(spec))
    print(json.dumps(out))
    return 0


# -- the floor: aiohttp answering a stored point read, with nothing behind it ---------------------
def floor_main(cert: str, key: str) -> int:
    """A bare aiohttp server (a separate process, on the servers' CPU) answering every GET with a
    point read as the emulator answers it (its body and header names, copied here; the bytes, not
    their values, are what costs): the cost of the HTTP and TLS stack every milab service is built on,
    which no service on it can go below."""
    import ssl

    from aiohttp import web
    item = {"id": "item1", "pk": "p1", "n": 1, "text": "x" * 200, "_rid": "8ZU2XBaCkKH4h99+ImCCAg==",
            "_self": "dbs/8ZU2XA==/colls/8ZU2XBaCkKE=/docs/8ZU2XBaCkKH4h99+ImCCAg==/",
            "_etag": '"045417e2-0000-0000-0000-6b0f6b4e0000"', "_attachments": "attachments/", "_ts": 1796172622}
    body = json.dumps(item).encode()
    headers = {"x-ms-activity-id": str(uuid.uuid4()), "x-ms-request-charge": "1", "x-ms-gatewayversion": "2.0.0",
               "x-ms-serviceversion": "version=2.14.0.0", "x-ms-schemaversion": "1.18", "etag": item["_etag"],
               "x-ms-session-token": "0:-1#1", "lsn": "1", "x-ms-alt-content-path": "dbs/bench/colls/items",
               "x-ms-content-path": "8ZU2XBaCkKE=", "x-ms-documentdb-partitionkeyrangeid": "0"}

    async def answer(request):
        return web.Response(body=body, content_type="application/json", charset="utf-8", headers=headers)

    async def serve():
        app = web.Application()
        app.router.add_get("/{tail:.*}", answer)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
        await site.start()
        print(site._server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Event().wait()
    asyncio.run(serve())
    return 0


# -- the servers and the set-up -----------------------------------------------------------------
def start_reference(emu) -> tuple[subprocess.Popen, int]:
    env = {**os.environ, "NODE_PATH": str(ROOT / "infra" / "node_modules")}
    proc = subprocess.Popen(["node", str(ROOT / "bench" / "cosmosdb_server.js"), str(emu.pki.leaf_cert),
                             str(emu.pki.leaf_key)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    line = proc.stdout.readline().strip()
    if not line.isdigit():
        proc.kill()
        raise RuntimeError(f"cosmosdb-server did not start: {line} {proc.stderr.read()[-1000:]}")
    return proc, int(line)


def start_floor(emu) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, __file__, "--floor", str(emu.pki.leaf_cert), str(emu.pki.leaf_key)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    if not line.isdigit():
        proc.kill()
        raise RuntimeError(f"the aiohttp floor did not start: {line} {proc.stderr.read()[-1000:]}")
    return proc, int(line)


def setup_account(emu, s) -> dict:
    """An account, the bench container, a user-assigned identity with Built-in Data Contributor, and
    a token for it."""
    import requests
    env = emu.operator_env()
    tok = s.post(f"https://login.microsoftonline.com/{env['AZURE_TENANT_ID']}/oauth2/v2.0/token",
                 data={"grant_type": "client_credentials", "client_id": env["AZURE_CLIENT_ID"],
                       "client_secret": env["AZURE_CLIENT_SECRET"],
                       "scope": "https://management.azure.com/.default"}).json()["access_token"]
    h = {"Authorization": f"Bearer {tok}"}
    mgmt = "https://management.azure.com"
    rg = f"/subscriptions/{env['AZURE_SUBSCRIPTION_ID']}/resourceGroups/bench"
    s.put(f"{mgmt}{rg}?api-version=2021-04-01", json={"location": "westus"}, headers=h).raise_for_status()
    name = f"bench{uuid.uuid4().hex[:10]}"
    acct = f"{rg}/providers/Microsoft.DocumentDB/databaseAccounts/{name}"
    s.put(f"{mgmt}{acct}?api-version={API}", headers=h, json={"location": "westus", "properties": {
        "databaseAccountOfferType": "Standard", "locations": [{"locationName": "westus"}]}}).raise_for_status()
    key = s.post(f"{mgmt}{acct}/listKeys?api-version={API}", headers=h).json()["primaryMasterKey"]
    ident = s.put(f"{mgmt}{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/bench?"
                  f"api-version=2023-01-31", json={"location": "westus"}, headers=h).json()
    oid = ident["properties"]["principalId"]
    s.put(f"{mgmt}{acct}/sqlRoleAssignments/{uuid.uuid4()}?api-version={API}", headers=h, json={"properties": {
        "roleDefinitionId": f"{acct}/sqlRoleDefinitions/00000000-0000-0000-0000-000000000002", "scope": "/",
        "principalId": oid}}).raise_for_status()
    ctl = requests.Session()
    ctl.trust_env = False
    token = ctl.post(f"{emu.proxy_url}/_milab/tokens", headers={"X-Milab-Control": emu.control_key},
                     json={"object_id": oid, "audience": f"https://{name}.documents.azure.com"}).json()["access_token"]
    return {"endpoint": f"https://{name}.documents.azure.com:443/", "key": key, "token": token}


# With two or more CPUs the servers (this process, the emulator's thread in it, and cosmosdb-server,
# started from it) run on the first and the load client on the others, so the scheduler never puts
# the client and the server it loads on the same CPU.
CPUS = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
SERVER_CPUS, CLIENT_CPUS = (set(CPUS[:1]), set(CPUS[1:])) if len(CPUS) >= 2 else (set(), set())


def _on_cpus(cpus: set[int]):
    if not cpus:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def _median(values) -> float:
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--requests", type=int, default=5000, help="requests per target and kind (default 5000)")
    ap.add_argument("-c", "--concurrency", type=int, default=16, help="requests in flight (default 16)")
    ap.add_argument("-r", "--rounds", type=int, default=10, help="paired rounds (default 10)")
    ap.add_argument("--client", help=argparse.SUPPRESS)
    ap.add_argument("--floor", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.client:
        return client_main(a.client)
    if a.floor:
        return floor_main(*a.floor)

    if SERVER_CPUS:
        os.sched_setaffinity(0, SERVER_CPUS)  # before the emulator's thread and cosmosdb-server start: inherited
    with running_emulator() as emu:
        return _compare(a, emu)


KEY, TOKEN, REF, PROXY = ("emulator, master key", "emulator, Entra token", "cosmosdb-server (no auth)",
                          "emulator via proxy, master key")
EMU, REF_RAW, FLOOR = "emulator, master key", "cosmosdb-server", "aiohttp floor (no service)"


def _compare(a, emu) -> int:
    env = emu.operator_env()
    s = operator_session(emu)
    ref = floor = None
    try:
        acct = setup_account(emu, s)
        emu_port = int(emu.https_by_name.rsplit(":", 1)[1])
        ref, ref_port = start_reference(emu)
        floor, floor_port = start_floor(emu)
        # the client's environment names the emulator's proxy, which only the proxied target uses (the
        # others have their own aiohttp session, which reads no proxy from the environment)
        client_env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("AZURE_", "HTTP", "NO_PROXY"))}
        client_env.update({k: env[k] for k in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "NO_PROXY",
                                               "no_proxy", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")})
        fake_key = base64.b64encode(os.urandom(64)).decode()  # cosmosdb-server checks no key
        me = os.getpid()  # the emulator's thread is in this process, which otherwise waits for the client
        targets = []
        for consistency in ("Session", "Eventual"):
            first = consistency == "Session"
            targets += [
                {"label": KEY, "consistency": consistency, "port": emu_port, "key": acct["key"], "pid": me,
                 "populate": first},
                {"label": TOKEN, "consistency": consistency, "port": emu_port, "token": acct["token"], "pid": me},
                {"label": REF, "consistency": consistency, "port": ref_port, "key": fake_key, "pid": ref.pid,
                 "populate": first}]
        targets.append({"label": PROXY, "consistency": "Session", "key": acct["key"], "pid": me})
        for t in targets:
            t["label"] = f"{t['label']}|{t['consistency']}"
        raw = [{"label": EMU, "port": emu_port, "pid": me}, {"label": REF_RAW, "port": ref_port, "pid": ref.pid},
               {"label": FLOOR, "port": floor_port, "pid": floor.pid}]
        spec = {"requests": a.requests, "rounds": a.rounds, "concurrency": a.concurrency,
                "endpoint": acct["endpoint"], "targets": targets, "raw": raw, "key": acct["key"]}
        out = subprocess.run([sys.executable, __file__, "--client", json.dumps(spec)], capture_output=True,
                             text=True, timeout=3600, env=client_env, preexec_fn=_on_cpus(CLIENT_CPUS))
        if out.returncode != 0:
            raise RuntimeError(out.stderr[-3000:])
        got = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        for proc in (ref, floor):
            if proc is not None:
                proc.kill()
    _report(a, got)
    return 0


def _report(a, got: dict) -> None:
    print(f"azure-cosmos (async), one load client for every target, {a.rounds} paired rounds of "
          f"{got['per_batch']} requests per target and kind ({a.concurrency} in flight; each round runs one "
          f"batch against each target, in alternating order), {ITEMS} items of ~250 B; each server reached by "
          f"the account's name on its own loopback TLS port unless 'via proxy'; consistency is what the client "
          f"asks for (Session is the SDK's default). Rates: the median round, then the lowest and highest "
          f"round; CPU per request of the server and of the load client; busy: the client's CPU over wall time "
          f"(1.00: the client, not the server, sets the rate)")
    for kind, title in (("point", "point read"), ("query", "query by id")):
        for label, rows in got[kind].items():
            name, consistency = label.split("|")
            rates = sorted(r["rate"] for r in rows)
            print(f"  {name:31s} {consistency:8s} {title:11s} {_median(rates):6.0f} req/s ({rates[0]:4.0f}-"
                  f"{rates[-1]:4.0f})   p50 {_median([r['p50_ms'] for r in rows]):5.1f} ms   p99 "
                  f"{_median([r['p99_ms'] for r in rows]):5.1f} ms   CPU server "
                  f"{_median([r['server_ms'] for r in rows]):.3f} client {_median([r['client_ms'] for r in rows]):.3f}"
                  f" ms   busy {_median([r['busy'] for r in rows]):.2f}")

    def ratio(kind, a_label, b_label, field="rate") -> str:
        each = sorted(x[field] / y[field] for x, y in zip(got[kind][a_label], got[kind][b_label]) if y[field])
        return f"{_median(each):.2f} ({each[0]:.2f}-{each[-1]:.2f})" if each else "-"
    print("ratios: the median of the rounds' paired ratios (lowest-highest)")
    for consistency in ("Session", "Eventual"):
        key, tok, ref = (f"{x}|{consistency}" for x in (KEY, TOKEN, REF))
        for kind in ("point", "query"):
            print(f"  {consistency:8s} {kind:5s}: emulator (key) / cosmosdb-server {ratio(kind, key, ref)}   "
                  f"token / key {ratio(kind, tok, key)}   server CPU per request, cosmosdb-server / emulator "
                  f"(key) {ratio(kind, ref, key, 'server_ms')}")
    extra = []
    for name, short in ((KEY, "emulator"), (REF, "cosmosdb-server")):
        for kind in ("point", "query"):
            session, eventual = (_median([r["client_ms"] for r in got[kind][f"{name}|{c}"]]) for c in
                                 ("Session", "Eventual"))
            extra.append(f"{short} {kind} {session - eventual:+.3f}")
    print(f"  the client's CPU per request under Session less under Eventual (its session-token work): "
          f"{', '.join(extra)} ms")
    via, key = f"{PROXY}|Session", f"{KEY}|Session"
    print(f"  through the proxy / by name, point reads: rate {ratio('point', via, key)}, server CPU per request "
          f"{ratio('point', via, key, 'server_ms')}, client CPU per request {ratio('point', via, key, 'client_ms')}")

    raw = got["raw"]
    got["raw_point"] = raw["rows"]
    print(f"server-bound point reads: aiohttp alone as the client (no SDK; each item's master-key signature made "
          f"once), {raw['inflight']} in flight, {a.rounds} paired rounds of {raw['per_batch']}; the aiohttp floor "
          f"answers every GET with the bytes of a point read and nothing behind them (the HTTP and TLS stack milab's "
          f"services are built on). Read the servers' CPU per request; a busy share near 1.00 says which side set "
          f"the rate")
    for label, rows in raw["rows"].items():
        rates = sorted(r["rate"] for r in rows)
        print(f"  {label:31s} point read  {_median(rates):6.0f} req/s ({rates[0]:4.0f}-{rates[-1]:4.0f})   CPU server "
              f"{_median([r['server_ms'] for r in rows]):.3f} client {_median([r['client_ms'] for r in rows]):.3f} ms"
              f"   busy server {_median([r['server_busy'] for r in rows]):.2f} client "
              f"{_median([r['busy'] for r in rows]):.2f}   non-200 answers {raw['errors'][label]}")
    print(f"  emulator / cosmosdb-server {ratio('raw_point', EMU, REF_RAW)}   aiohttp floor / cosmosdb-server "
          f"{ratio('raw_point', FLOOR, REF_RAW)}   emulator / floor {ratio('raw_point', EMU, FLOOR)}   server CPU per "
          f"request, cosmosdb-server / emulator {ratio('raw_point', REF_RAW, EMU, 'server_ms')}, cosmosdb-server / "
          f"floor {ratio('raw_point', REF_RAW, FLOOR, 'server_ms')}")


if __name__ == "__main__":
    sys.exit(main())
