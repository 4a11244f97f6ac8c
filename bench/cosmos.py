"""Cosmos DB benchmark: point-read and query throughput of the emulator's data plane with the Python
SDK (azure-cosmos, async) and a master key, and with an Entra token, side by side in one run with
``@vercel/cosmosdb-server`` (pinned in ``infra/package.json``) on the same machine and client.

The emulator runs in this process (a thread with its own event loop); cosmosdb-server listens on
loopback with the emulator's certificate (``bench/cosmosdb_server.js``). The load comes from a
separate client process: the same azure-cosmos code, ``-c`` requests in flight, against each server
in turn. Both servers are reached the same way: the account's own name
(``https://<account>.documents.azure.com``), resolved by the load client's aiohttp session to the
server's loopback TLS port (for the emulator, :meth:`Emulator.open_tls_port`). Addressing
cosmosdb-server as ``https://127.0.0.1:<port>`` would make the SDK treat it as a local emulator and
take other code paths, and reaching only the emulator through an HTTP proxy would add the client's
per-request proxy work to one side only; the rates through the proxy, as clients reach the
emulator, are printed too.

On a 2-core machine the SDK client, not the server, sets the rate (it takes a whole core), so the
client's own work per request decides the figure. Under the SDK's default Session consistency the
SDK keeps session tokens from every answer that carries one and, for each point read, hashes the
partition key to pick the token to send back; Cosmos DB (and the emulator) send session tokens,
cosmosdb-server sends none, so that work happens against one side only. The bench therefore runs
each server twice: with the SDK's default, and with ``consistency_level="Eventual"``, where the
client does the same work against both. It also prints each server's own CPU time per request
(the emulator's includes its proxy when used), which does not depend on the client, and the
client's.

The servers run on the first CPU and the client on the others. Rounds alternate the servers; each
figure is the median over the rounds with the lowest and highest beside it, and each ratio the
median of the ratios within a round: on a shared 2-core virtual machine the same run varies by a
third from one round to the next, so a single best round says little. Asserts nothing.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from blob import cpu_seconds, in_emulator, operator_session, running_emulator  # noqa: E402  (the emulator in a thread of this process)

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


def _by_name_transport(port: int):
    """An aiohttp transport whose session resolves every host name to 127.0.0.1:``port`` (and reads no
    proxy from the environment)."""
    import socket

    import aiohttp
    from azure.core.pipeline.transport import AioHttpTransport

    class Loopback(aiohttp.abc.AbstractResolver):
        async def resolve(self, host, port_=0, family=socket.AF_INET):
            return [{"hostname": host, "host": "127.0.0.1", "port": port, "family": socket.AF_INET, "proto": 0,
                     "flags": 0}]

        async def close(self):
            pass
    return AioHttpTransport(session=aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=Loopback())),
                            session_owner=True)


async def _load(spec: dict) -> dict:
    from azure.cosmos.aio import CosmosClient
    cred = _StaticToken(spec["token"]) if spec.get("token") else spec["key"]
    options = {}
    if spec.get("consistency"):
        options["consistency_level"] = spec["consistency"]
    if spec.get("port"):  # by name, straight to that loopback port; otherwise as the environment says (proxy)
        options["transport"] = _by_name_transport(spec["port"])
    requests = 0
    async with CosmosClient(spec["endpoint"], cred, **options) as client:
        if spec.get("populate"):
            db = await client.create_database_if_not_exists("bench")
            from azure.cosmos import PartitionKey
            await db.create_container_if_not_exists("items", PartitionKey("/pk"))
        c = client.get_database_client("bench").get_container_client("items")
        if spec.get("populate"):
            requests += ITEMS + 2
            for i in range(ITEMS):
                await c.upsert_item({"id": f"item{i}", "pk": f"p{i % 10}", "n": i, "text": "x" * 200})
        rng = random.Random(7)

        async def point():
            i = rng.randrange(ITEMS)
            return await c.read_item(f"item{i}", partition_key=f"p{i % 10}")

        async def query():
            i = rng.randrange(ITEMS)
            # the filter names the partition key too: cosmosdb-server ignores the partition key header
            return [r async for r in c.query_items("SELECT * FROM c WHERE c.pk = @pk AND c.id = @id",
                                                   partition_key=f"p{i % 10}",
                                                   parameters=[{"name": "@pk", "value": f"p{i % 10}"},
                                                               {"name": "@id", "value": f"item{i}"}])]
        out = {}
        for label, op in (("point", point), ("query", query)):
            lat: list[float] = []

            async def worker(n):
                nonlocal requests
                requests += n
                for _ in range(n):
                    t = time.perf_counter()
                    await op()
                    lat.append(time.perf_counter() - t)
            await asyncio.gather(*(worker(10) for _ in range(spec["concurrency"])))  # warm-up
            lat.clear()
            per = spec["requests"] // spec["concurrency"]
            t0 = time.perf_counter()
            await asyncio.gather(*(worker(per) for _ in range(spec["concurrency"])))
            wall = time.perf_counter() - t0
            lat.sort()
            out[label] = {"rate": len(lat) / wall, "p50_ms": lat[len(lat) // 2] * 1000,
                          "p99_ms": lat[int(len(lat) * .99)] * 1000}
        out["requests"] = requests  # with the warm-up: what the server's CPU time is divided by
        return out


def client_main(spec_json: str) -> int:
    import logging
    logging.getLogger("azure").setLevel(logging.WARNING)
    print(json.dumps(asyncio.run(_load(json.loads(spec_json)))))
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


def run_client(spec: dict, env: dict, server_pid: int) -> dict:
    """One load run; adds the server's and the client's CPU milliseconds per request."""
    before, children = cpu_seconds(server_pid), resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([sys.executable, __file__, "--client", json.dumps(spec)], capture_output=True, text=True,
                         timeout=900, env=env, preexec_fn=_on_cpus(CLIENT_CPUS))
    used = cpu_seconds(server_pid) - before
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    client = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    got = json.loads(out.stdout.strip().splitlines()[-1])
    got["cpu_ms"] = used * 1000 / got["requests"]
    got["client_ms"] = client * 1000 / got["requests"]
    return got


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--requests", type=int, default=5000)
    ap.add_argument("-c", "--concurrency", type=int, default=16)
    ap.add_argument("-r", "--rounds", type=int, default=5)
    ap.add_argument("--client", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.client:
        return client_main(a.client)

    if SERVER_CPUS:
        os.sched_setaffinity(0, SERVER_CPUS)  # before the emulator's thread and cosmosdb-server start: inherited
    with running_emulator() as emu:
        return _compare(a, emu)


def _compare(a, emu) -> int:
    env = emu.operator_env()
    s = operator_session(emu)
    ref = None
    try:
        acct = setup_account(emu, s)
        emu_port = in_emulator(emu, emu.open_tls_port())
        ref, ref_port = start_reference(emu)
        base = {"requests": a.requests, "concurrency": a.concurrency, "endpoint": acct["endpoint"]}
        proxied = {k: v for k, v in os.environ.items() if not k.upper().startswith(("AZURE_", "HTTP", "NO_PROXY"))}
        proxied.update({k: env[k] for k in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "NO_PROXY",
                                            "no_proxy", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")})
        direct = {k: v for k, v in proxied.items() if "proxy" not in k.lower()}
        fake_key = base64.b64encode(os.urandom(64)).decode()  # cosmosdb-server checks no key
        me = os.getpid()
        runs = {}  # label -> (spec, environment, server pid)
        for consistency in ("Session", "Eventual"):
            c = {} if consistency == "Session" else {"consistency": consistency}
            runs[("emulator, master key", consistency)] = (
                {**base, **c, "port": emu_port, "key": acct["key"], "populate": consistency == "Session"}, direct, me)
            runs[("emulator, Entra token", consistency)] = (
                {**base, **c, "port": emu_port, "token": acct["token"]}, direct, me)
            runs[("cosmosdb-server (no auth)", consistency)] = (
                {**base, **c, "port": ref_port, "key": fake_key, "populate": consistency == "Session"}, direct,
                ref.pid)
        runs[("emulator via proxy, master key", "Session")] = ({**base, "key": acct["key"]}, proxied, me)
        # Rounds alternate the servers, so a change of load on the machine weighs on all of them; every
        # figure is the median over the rounds (with the lowest and highest), and each ratio the median
        # of the ratios within a round.
        rounds: dict = {label: [] for label in runs}
        for r in range(a.rounds):
            for label, (spec, e, pid) in runs.items():
                rounds[label].append(run_client({**spec, "populate": spec.get("populate") and r == 0}, e, pid))
        print(f"azure-cosmos (async), {a.requests} requests per figure, {a.concurrency} in flight, {ITEMS} items "
              f"of ~250 B, median (lowest-highest) of {a.rounds} alternating rounds; each server reached by the "
              f"account's name on its own loopback TLS port unless 'via proxy'; consistency is what the client "
              f"asks for (Session is the SDK's default); CPU is per request, both kinds, of the server and of the "
              f"load client")
        for (label, consistency), got in rounds.items():
            for kind, title in (("point", "point read"), ("query", "query by id")):
                rates = sorted(g[kind]["rate"] for g in got)
                print(f"  {label:31s} {consistency:8s} {title:11s} {_median(rates):6.0f} req/s ({rates[0]:4.0f}-"
                      f"{rates[-1]:4.0f})   p50 {_median([g[kind]['p50_ms'] for g in got]):5.1f} ms   p99 "
                      f"{_median([g[kind]['p99_ms'] for g in got]):5.1f} ms   CPU server "
                      f"{_median([g['cpu_ms'] for g in got]):.3f} client {_median([g['client_ms'] for g in got]):.3f}"
                      f" ms")

        def ratio(a_label, b_label, value) -> str:
            each = sorted(value(x) / value(y) for x, y in zip(rounds[a_label], rounds[b_label]))
            return f"{_median(each):.2f} ({each[0]:.2f}-{each[-1]:.2f})"
        for consistency in ("Session", "Eventual"):
            key, tok, ref_r = ((k, consistency) for k in
                               ("emulator, master key", "emulator, Entra token", "cosmosdb-server (no auth)"))
            for kind in ("point", "query"):
                print(f"  {consistency:8s} {kind:5s}: emulator (key) / cosmosdb-server "
                      f"{ratio(key, ref_r, lambda g: g[kind]['rate'])}   token / key "
                      f"{ratio(tok, key, lambda g: g[kind]['rate'])}")
            print(f"  {consistency:8s} server CPU per request: cosmosdb-server / emulator (key) "
                  f"{ratio(ref_r, key, lambda g: g['cpu_ms'])}")
        via, key = ("emulator via proxy, master key", "Session"), ("emulator, master key", "Session")
        print(f"  through the proxy / by name: point reads {ratio(via, key, lambda g: g['point']['rate'])}, "
              f"server CPU per request {ratio(via, key, lambda g: g['cpu_ms'])}, client CPU per request "
              f"{ratio(via, key, lambda g: g['client_ms'])}")
    finally:
        if ref is not None:
            ref.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
