"""Blob benchmark: small-blob GET throughput through the authorizing gateway with a bearer
token, versus the same GETs straight to the account's Azurite (its HTTPS port) with Shared Key,
in one run. Both are reached alike: a loopback HTTPS port (for the gateway, the emulator's port for
clients that take no proxy, ``MILAB_HTTPS_BY_NAME``) with the account's name in ``Host``; the
gateway is also loaded through the proxy, as clients reach it, which adds the client's proxy work.

The emulator runs in this process (a thread with its own event loop) so the account's Azurite
port can be read; the load comes from a separate client process (aiohttp, N requests with C
in flight) so client and server do not share an interpreter. The two modes alternate in
``--rounds`` rounds (gateway first in odd rounds, direct first in even ones) and each mode's
figures add up its rounds, so a change of load on a shared machine during the run weighs on
both alike. Besides rates and latencies it prints the CPU time per request of the emulator
(this process) and of Azurite in each mode, which the machine's load hardly changes. Prints
figures and their ratio; asserts nothing.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import email.utils
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from milab.cloud.storage.signing import shared_key_authorization  # noqa: E402

API = "2023-01-01"


# -- the load client (a separate process) ------------------------------------------------------
async def _load(spec: dict) -> dict:
    import aiohttp
    ctx = ssl.create_default_context(cafile=spec["ca"])
    conn = aiohttp.TCPConnector(ssl=ctx, limit=spec["concurrency"])
    lat: list[float] = []
    errors = 0
    async with aiohttp.ClientSession(connector=conn, trust_env=False) as s:
        async def one():
            nonlocal errors
            headers = {"x-ms-version": "2021-08-06"}
            if spec["mode"] == "gateway":
                headers["Authorization"] = f"Bearer {spec['token']}"
                if spec.get("proxy"):
                    url, kw = spec["url"], {"proxy": spec["proxy"]}
                else:  # by name, at the emulator's HTTPS for clients that take no proxy (as Azurite direct)
                    headers["Host"] = spec["host"]
                    url, kw = spec["direct"], {}
            else:
                headers["Host"] = spec["host"]
                headers["x-ms-date"] = email.utils.formatdate(usegmt=True)
                headers["Authorization"] = shared_key_authorization("GET", spec["path"], headers, spec["account"],
                                                                    spec["key"])
                url, kw = spec["direct"], {}
            t = time.perf_counter()
            async with s.get(url, headers=headers, **kw) as r:
                await r.read()
                if r.status != 200:
                    errors += 1
            lat.append(time.perf_counter() - t)

        async def worker(n):
            for _ in range(n):
                await one()
        await asyncio.gather(*(worker(20) for _ in range(spec["concurrency"])))  # warm-up
        lat.clear()
        per = spec["requests"] // spec["concurrency"]
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(per) for _ in range(spec["concurrency"])))
        wall = time.perf_counter() - t0
    return {"count": len(lat), "wall": wall, "lat": lat, "errors": errors}


def client_main(spec_json: str) -> int:
    print(json.dumps(asyncio.run(_load(json.loads(spec_json)))))
    return 0


def cpu_seconds(pid: int) -> float:
    """CPU seconds of a process (Linux /proc), 0 where that is not available: the sum over its threads'
    schedstat, to the nanosecond (a benchmark's batch may take a tenth of a second of CPU, and the
    10 ms ticks of /proc/<pid>/stat are too coarse for that), else user and system time from stat."""
    try:
        return sum(int(Path(f"/proc/{pid}/task/{task}/schedstat").read_text().split()[0])
                   for task in os.listdir(f"/proc/{pid}/task")) / 1e9
    except (OSError, IndexError, ValueError):
        pass
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


# -- the emulator and the set-up -----------------------------------------------------------------
def start_emulator():
    from milab.cloud.arm.bootstrap import bootstrap
    from milab.cloud.server import Config, Emulator, run_loop
    box: dict = {}
    ready = threading.Event()

    def run():
        async def go():
            state_dir = Path(tempfile.mkdtemp(prefix="milab-bench-blob-"))  # saves cost what a kept one's do
            emu = Emulator(Config(state_dir=state_dir))
            await emu.start()
            bootstrap(emu)
            box["emu"], box["loop"] = emu, asyncio.get_running_loop()
            box["stop"] = asyncio.Event()
            ready.set()
            await box["stop"].wait()
            await emu.stop()
            shutil.rmtree(state_dir, ignore_errors=True)
        run_loop(go())
    t = threading.Thread(target=run, daemon=True)
    t.start()
    ready.wait(60)
    return box, t


@contextlib.contextmanager
def running_emulator():
    """``with running_emulator() as emu``: :func:`start_emulator`, stopped again on the way out."""
    import logging
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    box, thread = start_emulator()
    try:
        yield box["emu"]
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(30)


def operator_session(emu):
    """A requests session of the operator's: through the emulator's proxy, trusting its CA."""
    import requests
    env = emu.operator_env()
    s = requests.Session()
    s.trust_env = False
    s.proxies = {"http": env["HTTPS_PROXY"], "https": env["HTTPS_PROXY"]}
    s.verify = env["REQUESTS_CA_BUNDLE"]
    return s


def run_client(script: str, spec: dict, timeout: float = 900) -> dict:
    """Run ``script --client <spec>`` (a benchmark's load client) in its own process: its last line, as JSON."""
    out = subprocess.run([sys.executable, script, "--client", json.dumps(spec)], capture_output=True, text=True,
                         timeout=timeout, env=os.environ.copy())
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", "--requests", type=int, default=2000)
    ap.add_argument("-c", "--concurrency", type=int, default=16)
    ap.add_argument("--size", type=int, default=1024, help="blob size in bytes")
    ap.add_argument("--rounds", type=int, default=4, help="alternating rounds per mode")
    ap.add_argument("--client", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.client:
        return client_main(a.client)

    import requests
    with running_emulator() as emu:
        env = emu.operator_env()
        s = operator_session(emu)
        tok = s.post(f"https://login.microsoftonline.com/{env['AZURE_TENANT_ID']}/oauth2/v2.0/token",
                     data={"grant_type": "client_credentials", "client_id": env["AZURE_CLIENT_ID"],
                           "client_secret": env["AZURE_CLIENT_SECRET"],
                           "scope": "https://management.azure.com/.default"}).json()["access_token"]
        h = {"Authorization": f"Bearer {tok}"}
        sub = env["AZURE_SUBSCRIPTION_ID"]
        rg = f"/subscriptions/{sub}/resourceGroups/bench"
        mgmt = "https://management.azure.com"
        s.put(f"{mgmt}{rg}?api-version=2021-04-01", json={"location": "westus"}, headers=h).raise_for_status()
        name = f"bench{uuid.uuid4().hex[:10]}"
        acct = f"{rg}/providers/Microsoft.Storage/storageAccounts/{name}"
        s.put(f"{mgmt}{acct}?api-version={API}", json={"location": "westus", "sku": {"name": "Standard_LRS"}},
              headers=h).raise_for_status()
        s.put(f"{mgmt}{acct}/blobServices/default/containers/bench?api-version={API}", json={},
              headers=h).raise_for_status()
        key = s.post(f"{mgmt}{acct}/listKeys?api-version={API}", headers=h).json()["keys"][0]["value"]
        ident = s.put(f"{mgmt}{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/bench?"
                      f"api-version=2023-01-31", json={"location": "westus"}, headers=h).json()
        oid = ident["properties"]["principalId"]
        s.put(f"{mgmt}{acct}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}?api-version=2022-04-01",
              json={"properties": {"principalId": oid, "roleDefinitionId":
                    f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/"
                    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"}}, headers=h).raise_for_status()
        ctl = requests.Session()
        ctl.trust_env = False
        storage_token = ctl.post(f"{emu.proxy_url}/_milab/tokens", headers={"X-Milab-Control": emu.control_key},
                                 json={"object_id": oid, "audience": "https://storage.azure.com/"}).json()["access_token"]
        path = "/bench/small.bin"
        host = f"{name}.blob.core.windows.net"
        body = os.urandom(a.size)
        put_h = {"x-ms-date": email.utils.formatdate(usegmt=True), "x-ms-version": "2021-08-06",
                 "x-ms-blob-type": "BlockBlob"}
        put_h["Authorization"] = shared_key_authorization("PUT", path, {**put_h, "Content-Length": str(len(body))},
                                                          name, key)
        r = s.put(f"https://{host}{path}", data=body, headers=put_h)
        assert r.status_code == 201, r.text
        port = emu.blob.azurite.listening_port
        by_name = emu.https_by_name.rsplit(":", 1)[1]
        per_round = max(a.concurrency, a.requests // a.rounds)
        base = {"requests": per_round, "concurrency": a.concurrency, "ca": str(emu.pki.ca_cert), "account": name,
                "key": key, "path": path, "host": host}
        # the first two are reached alike (a loopback HTTPS port, the account's name in Host), so their
        # ratio is the gateway's; through the proxy, as clients reach it, the client's own proxy work adds
        specs = {
            "gateway (bearer token, RBAC, re-signed)": {**base, "mode": "gateway", "token": storage_token,
                                                        "direct": f"https://127.0.0.1:{by_name}{path}"},
            "Azurite direct (Shared Key)": {**base, "mode": "direct", "direct": f"https://127.0.0.1:{port}{path}"},
            "gateway through the proxy": {**base, "mode": "gateway", "url": f"https://{host}{path}",
                                          "proxy": emu.proxy_url, "token": storage_token},
        }
        totals = {label: {"count": 0, "wall": 0.0, "lat": [], "errors": 0, "emu_cpu": 0.0, "azurite_cpu": 0.0,
                          "sent": 0} for label in specs}
        labels = list(specs)
        for i in range(a.rounds):
            for label in (labels if i % 2 == 0 else labels[::-1]):
                emu0, az0 = time.process_time(), cpu_seconds(emu.blob.azurite.proc.pid)
                out = subprocess.run([sys.executable, __file__, "--client", json.dumps(specs[label])],
                                     capture_output=True, text=True, timeout=600)
                if out.returncode != 0:
                    print(out.stderr[-2000:], file=sys.stderr)
                    return 1
                r, t = json.loads(out.stdout.strip().splitlines()[-1]), totals[label]
                t["emu_cpu"] += time.process_time() - emu0
                t["azurite_cpu"] += cpu_seconds(emu.blob.azurite.proc.pid) - az0
                t["sent"] += r["count"] + 20 * a.concurrency  # with the warm-up
                for k in ("count", "wall", "errors"):
                    t[k] += r[k]
                t["lat"] += r["lat"]
        print(f"small-blob GET ({a.size} B), {a.rounds} alternating rounds of {per_round} requests per mode, "
              f"{a.concurrency} in flight; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; "
              f"Azurite start-up: {', '.join(f'{t:.2f} s' for t in emu.blob.azurite.start_times)}")
        for label, t in totals.items():
            lat = sorted(t["lat"])
            print(f"  {label:42s} {t['count'] / t['wall']:8.0f} req/s   p50 {lat[len(lat) // 2] * 1000:6.1f} ms"
                  f"   p99 {lat[int(len(lat) * .99)] * 1000:6.1f} ms   errors {t['errors']}   CPU per request: "
                  f"emulator {t['emu_cpu'] / t['sent'] * 1000:.2f} ms, "
                  f"Azurite {t['azurite_cpu'] / t['sent'] * 1000:.2f} ms")
        g, d, p = (totals[k]["count"] / totals[k]["wall"] for k in labels)
        print(f"  ratio gateway/direct: {g / d:.2f}   through the proxy/direct: {p / d:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
