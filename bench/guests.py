"""Guest isolation benchmark: prints figures, asserts nothing.

The cost of running a guest in its own namespaces (``--guest-isolation namespaces``) next to
running it as the emulator's user on the host (``--guest-isolation none``), on two fresh
emulators, the series interleaved so both see the same machine load:

* a trivial guest (``true``) through the control API (what ``vm.http``/``vm.python`` use);
* an in-VM IMDS token request with curl (a typical in-VM step);
* a trivial Run Command through ARM (POST, then polling the operation every 10 ms);
* in process, the guest's ``HOME`` and ``/tmp``: the VM's disk (kept between runs) next to fresh
  tmpfs per run (what every guest had before VMs kept their disks), and a new host's first run
  (its disk is mounted, then dropped);
* with ``--scenarios``: the wall time of ``pytest scenarios -n 2`` against each.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from milab.targets.emulator import ENV_VAR, Control, EmbeddedEmulator  # noqa: E402

IMDS = "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/"


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


class Bench:
    def __init__(self, mode: str):
        self.mode = mode
        self.emu = EmbeddedEmulator(extra_args=["--guest-isolation", mode])
        env = self.emu.env
        self.control = Control(env)
        self.op = requests.Session()
        self.op.trust_env = False
        self.op.proxies = {"http": env["HTTP_PROXY"], "https": env["HTTPS_PROXY"]}
        self.op.verify = env["REQUESTS_CA_BUNDLE"]
        tok = self.op.post(f"https://login.microsoftonline.com/{env['AZURE_TENANT_ID']}/oauth2/v2.0/token",
                           data={"grant_type": "client_credentials", "client_id": env["AZURE_CLIENT_ID"],
                                 "client_secret": env["AZURE_CLIENT_SECRET"],
                                 "scope": "https://management.azure.com/.default"}).json()["access_token"]
        self.op.headers["Authorization"] = f"Bearer {tok}"
        rg = f"https://management.azure.com/subscriptions/{env['AZURE_SUBSCRIPTION_ID']}/resourceGroups/bench"
        self.op.put(rg + "?api-version=2021-04-01", json={"location": "westus"}).raise_for_status()
        self.vm = self.op.put(f"{rg}/providers/Microsoft.Compute/virtualMachines/vm1?api-version=2024-07-01",
                              json={"location": "westus", "identity": {"type": "SystemAssigned"},
                                    "properties": {"hardwareProfile": {"vmSize": "Standard_B1s"}}}).json()
        self.series: dict[str, list[float]] = {}

    def timed(self, what: str, fn) -> None:
        t = time.perf_counter()
        fn()
        self.series.setdefault(what, []).append((time.perf_counter() - t) * 1000)

    def run(self, script: str) -> None:
        r = self.control.call("POST", "/_milab/run", json={"vm_id": self.vm["id"], "script": script})
        assert r["exit_code"] == 0, r

    def run_command(self) -> None:
        r = self.op.post(f"https://management.azure.com{self.vm['id']}/runCommand?api-version=2024-07-01",
                         json={"commandId": "RunShellScript", "script": ["true"]})
        assert r.status_code == 202, r.text
        while self.op.get(r.headers["Azure-AsyncOperation"]).json()["status"] == "InProgress":
            time.sleep(0.01)

    def stop(self) -> None:
        self.emu.stop()


def disk_series(n: int) -> list[str]:
    """A trivial namespaced guest on its VM's disk, on fresh tmpfs, and as a new host's first run."""
    import asyncio

    from milab.cloud.server import Config, Emulator

    async def measure() -> dict[str, list[float]]:
        emu = Emulator(Config(guest_isolation="namespaces"))
        await emu.start()
        guests = emu.guests
        vm = "/subscriptions/s/resourceGroups/bench/providers/Microsoft.Compute/virtualMachines/disk"
        env = {"PATH": "/usr/bin:/bin", "HOME": "/home/guest"}

        async def once(host: str, disk) -> None:
            code, out, err = await guests._run_isolated(host, ["true"], env, 30, "bench", [], disk)
            assert code == 0, (code, out, err)

        series: dict[str, list[float]] = {}

        async def timed(what: str, coro) -> None:
            t = time.perf_counter()
            await coro
            series.setdefault(what, []).append((time.perf_counter() - t) * 1000)
        try:
            await once(vm, guests.disk(vm))  # warm up: the launcher, the VM's disk
            for i in range(n):
                await timed("on the VM's disk", once(vm, guests.disk(vm)))
                await timed("on fresh tmpfs (as before)", once(vm, None))
                new = f"{vm}-{i}"
                await timed("on a new host's disk (its first run)", once(new, guests.disk(new)))
                guests.drop_disks(new)
        finally:
            await emu.stop()
        return series

    series = asyncio.run(measure())
    ref = statistics.median(series["on fresh tmpfs (as before)"])
    return [f"guest (true) in process, n={n}, HOME and /tmp {what}: p50 {statistics.median(v):.1f} ms "
            f"(p90 {pct(v, 90):.1f}); {statistics.median(v) - ref:+.1f} ms against fresh tmpfs"
            for what, v in series.items()]


def scenarios_wall(bench: Bench) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MILAB_", "AZURE_"))}
    env[ENV_VAR] = str(bench.emu.env_file)
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "pytest", "scenarios", "-q", "-n", "2", "-p", "no:cacheprovider",
                        "--no-reports"], cwd=ROOT, env=env, capture_output=True, text=True)
    last = (p.stdout.strip().splitlines() or ["?"])[-1]
    return f"{time.perf_counter() - t:.1f} s wall ({last})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=40, help="runs per series")
    ap.add_argument("--scenarios", action="store_true", help="also time 'pytest scenarios -n 2' in both modes")
    a = ap.parse_args()
    benches = [Bench("namespaces"), Bench("none")]
    try:
        if benches[0].emu.env.get("MILAB_GUEST_ISOLATION") != "namespaces":
            print("namespaces are unavailable here (not root?): nothing to compare")
            return 1
        for b in benches:  # warm up: the launcher, the IMDS token cache, connections
            b.run("true"), b.run(f"curl -sS -H Metadata:true '{IMDS}' >/dev/null"), b.run_command()
        for _ in range(a.n):
            for b in benches:
                b.timed("trivial guest (true) via the control API", lambda: b.run("true"))
                b.timed("in-VM IMDS token with curl", lambda: b.run(f"curl -sS -H Metadata:true '{IMDS}' >/dev/null"))
                b.timed("trivial Run Command through ARM (POST + poll)", b.run_command)
        ns, none = benches
        for what in ns.series:
            a50, b50 = statistics.median(ns.series[what]), statistics.median(none.series[what])
            print(f"{what}, n={a.n}: namespaces p50 {a50:.1f} ms (p90 {pct(ns.series[what], 90):.1f}), "
                  f"none p50 {b50:.1f} ms (p90 {pct(none.series[what], 90):.1f}); overhead {a50 - b50:+.1f} ms")
        for line in disk_series(a.n):
            print(line)
        if a.scenarios:
            for b in (none, ns, none, ns):
                print(f"pytest scenarios -n 2, guest isolation {b.mode}: {scenarios_wall(b)}")
    finally:
        for b in benches:
            b.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
