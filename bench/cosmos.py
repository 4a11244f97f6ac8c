"""Cosmos DB benchmark: point-read and query throughput of the emulator's data plane with the Python
SDK (azure-cosmos, async) and a master key, and with an Entra token, side by side in one run with
``@vercel/cosmosdb-server`` (pinned in ``infra/package.json``) on the same machine and client.

The emulator runs in this process (a thread with its own event loop) and is reached as clients
reach it, through its proxy; cosmosdb-server listens on loopback with the emulator's certificate
(``bench/cosmosdb_server.js``). The load comes from a separate client process: the same
azure-cosmos code, ``-c`` requests in flight, against each server in turn. Prints the rates, the
emulator/reference ratio and the token/key ratio; asserts nothing.
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

from blob import operator_session, running_emulator  # noqa: E402  (the emulator in a thread of this process)

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


async def _load(spec: dict) -> dict:
    from azure.cosmos.aio import CosmosClient
    cred = _StaticToken(spec["token"]) if spec.get("token") else spec["key"]
    async with CosmosClient(spec["endpoint"], cred) as client:
        if spec.get("populate"):
            db = await client.create_database_if_not_exists("bench")
            from azure.cosmos import PartitionKey
            await db.create_container_if_not_exists("items", PartitionKey("/pk"))
        c = client.get_database_client("bench").get_container_client("items")
        if spec.get("populate"):
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


def run_client(spec: dict, env: dict) -> dict:
    out = subprocess.run([sys.executable, __file__, "--client", json.dumps(spec)], capture_output=True, text=True,
                         timeout=900, env=env)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", "--requests", type=int, default=2000)
    ap.add_argument("-c", "--concurrency", type=int, default=16)
    ap.add_argument("-r", "--rounds", type=int, default=3)
    ap.add_argument("--client", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.client:
        return client_main(a.client)

    with running_emulator() as emu:
        return _compare(a, emu)


def _compare(a, emu) -> int:
    env = emu.operator_env()
    s = operator_session(emu)
    ref = None
    try:
        acct = setup_account(emu, s)
        ref, port = start_reference(emu)
        base = {"requests": a.requests, "concurrency": a.concurrency}
        proxied = {k: v for k, v in os.environ.items() if not k.upper().startswith(("AZURE_", "HTTP", "NO_PROXY"))}
        proxied.update({k: env[k] for k in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "NO_PROXY",
                                            "no_proxy", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")})
        direct = {k: v for k, v in proxied.items() if "proxy" not in k.lower()}
        fake_key = base64.b64encode(os.urandom(64)).decode()  # cosmosdb-server checks no key
        runs = {
            "emulator, master key": ({**base, "endpoint": acct["endpoint"], "key": acct["key"], "populate": True},
                                     proxied),
            "emulator, Entra token": ({**base, "endpoint": acct["endpoint"], "token": acct["token"]}, proxied),
            "@vercel/cosmosdb-server (no auth)": ({**base, "endpoint": f"https://127.0.0.1:{port}/", "key": fake_key,
                                                   "populate": True}, direct),
        }
        # rounds alternate the servers so a busy machine slows all of them alike; the best round counts
        results: dict = {}
        for r in range(a.rounds):
            for label, (spec, e) in runs.items():
                got = run_client({**spec, "populate": spec.get("populate") and r == 0}, e)
                best = results.setdefault(label, got)
                for kind in ("point", "query"):
                    if got[kind]["rate"] > best[kind]["rate"]:
                        best[kind] = got[kind]
        print(f"azure-cosmos (async), {a.requests} requests per figure, {a.concurrency} in flight, {ITEMS} items "
              f"of ~250 B, best of {a.rounds} alternating rounds; the emulator through its proxy, cosmosdb-server "
              f"direct")
        for label, r in results.items():
            for kind, title in (("point", "point read"), ("query", "query by id")):
                x = r[kind]
                print(f"  {label:36s} {title:12s} {x['rate']:8.0f} req/s   p50 {x['p50_ms']:6.1f} ms   "
                      f"p99 {x['p99_ms']:6.1f} ms")
        key, tok, ref_r = (results[k] for k in runs)
        for kind in ("point", "query"):
            print(f"  {kind:5s}: emulator (key) / cosmosdb-server {key[kind]['rate'] / ref_r[kind]['rate']:.2f}   "
                  f"token / key {tok[kind]['rate'] / key[kind]['rate']:.2f}")
    finally:
        if ref is not None:
            ref.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
