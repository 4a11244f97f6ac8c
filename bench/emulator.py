"""Emulator benchmark: prints figures, asserts nothing.

cold start to ready; IMDS token latency (p50/p99, sequential) and throughput (threads);
ARM GET latency; wall time of the ARM-read scenario family serial and with -n 2.
Everything runs on loopback against a fresh embedded emulator.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from milab.targets.emulator import ENV_VAR, Control, EmbeddedEmulator  # noqa: E402


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def session(proxy: str, bundle: str) -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    s.proxies = {"http": proxy, "https": proxy}
    s.verify = bundle
    return s


def timed(fn, n):
    lat = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        lat.append((time.perf_counter() - t) * 1000)
    return lat


def throughput(fn, n, threads):
    t = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda _: fn(), range(n)))
    return n / (time.perf_counter() - t)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=500, help="requests per latency series")
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--skip-scenarios", action="store_true")
    a = ap.parse_args()

    t0 = time.perf_counter()
    emu = EmbeddedEmulator()
    cold = time.perf_counter() - t0
    env = emu.env
    try:
        op = session(env["HTTPS_PROXY"], env["REQUESTS_CA_BUNDLE"])
        tok = op.post(f"https://login.microsoftonline.com/{env['AZURE_TENANT_ID']}/oauth2/v2.0/token",
                      data={"grant_type": "client_credentials", "client_id": env["AZURE_CLIENT_ID"],
                            "client_secret": env["AZURE_CLIENT_SECRET"],
                            "scope": "https://management.azure.com/.default"}).json()["access_token"]
        op.headers["Authorization"] = f"Bearer {tok}"
        sub = env["AZURE_SUBSCRIPTION_ID"]
        rg = f"https://management.azure.com/subscriptions/{sub}/resourceGroups/bench"
        op.put(rg + "?api-version=2021-04-01", json={"location": "westus"}).raise_for_status()
        vm = op.put(f"{rg}/providers/Microsoft.Compute/virtualMachines/vm1?api-version=2024-07-01",
                    json={"location": "westus", "identity": {"type": "SystemAssigned"},
                          "properties": {"hardwareProfile": {"vmSize": "Standard_B1s"}}}).json()
        ctx = Control(env).call("GET", "/_milab/vm-context", params={"id": vm["id"]})
        guest = session(ctx["HTTP_PROXY"], ctx["REQUESTS_CA_BUNDLE"])
        imds = ("http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01"
                "&resource=https://management.azure.com/")

        def imds_call():
            r = guest.get(imds, headers={"Metadata": "true"})
            assert r.status_code == 200, r.text

        def arm_call():
            r = op.get(rg + "?api-version=2016-09-01")
            assert r.status_code == 200, r.text

        imds_call(), arm_call()  # warm up connections and the IMDS cache
        imds_lat = timed(imds_call, a.n)
        imds_tput = throughput(lambda: session(ctx["HTTP_PROXY"], ctx["REQUESTS_CA_BUNDLE"]).get(
            imds, headers={"Metadata": "true"}), a.n, a.threads)
        arm_lat = timed(arm_call, a.n)
        print(f"emulator cold start to ready: {cold * 1000:.0f} ms")
        print(f"IMDS token (cached), sequential, n={a.n}: p50 {statistics.median(imds_lat):.2f} ms, "
              f"p99 {pct(imds_lat, 99):.2f} ms")
        print(f"IMDS token throughput, {a.threads} threads, new connection each: {imds_tput:.0f} req/s")
        print(f"ARM GET resource group (TLS through the proxy, keep-alive), n={a.n}: "
              f"p50 {statistics.median(arm_lat):.2f} ms, p99 {pct(arm_lat, 99):.2f} ms")
        if not a.skip_scenarios:
            for workers in ("0", "2"):
                run_env = {k: v for k, v in os.environ.items() if not k.startswith(("MILAB_", "AZURE_"))}
                run_env[ENV_VAR] = str(emu.env_file)
                t = time.perf_counter()
                p = subprocess.run([sys.executable, "-m", "pytest", "scenarios/test_arm_read.py", "-q", "-n", workers,
                                    "-p", "no:cacheprovider", "--no-reports"], cwd=ROOT, env=run_env,
                                   capture_output=True, text=True)
                wall = time.perf_counter() - t
                last = (p.stdout.strip().splitlines() or ["?"])[-1]
                print(f"ARM-read family, -n {workers}: {wall:.1f} s wall ({last})")
    finally:
        emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
