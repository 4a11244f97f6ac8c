"""Idle-connection benchmark: prints figures, asserts nothing.

Opens N idle connections to a fresh emulator's proxy port (a quarter each: a blank line, one
keep-alive request, a CONNECT tunnel without TLS, nothing at all), then reports the emulator's
open descriptors and resident memory before and with them, whether it still answers
``/_milab/health``, how long it takes to shed them, and how much it logged. The same run is
made against a reference commit (default ``main``, from ``git archive``) side by side.

    .venv/bin/python bench/connections.py [-n 300] [--idle-timeout 5] [--reference main]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
KINDS = [b"\r\n\r\n", b"GET /_milab/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
         b"CONNECT management.azure.com:443 HTTP/1.0\r\n\r\n", b""]


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _health(addr) -> str:
    try:
        with socket.create_connection(addr, timeout=3) as s:
            s.sendall(b"GET /_milab/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            return s.recv(64).split(b"\r\n", 1)[0].split(b" ", 2)[1].decode() or "-"
    except (OSError, IndexError):
        return "no answer"


def run(source: Path, n: int, idle_timeout: float, cap: float) -> dict:
    work = Path(tempfile.mkdtemp(prefix="milab-bench-conn-"))
    env_file, log = work / "env.json", work / "emulator.log"
    help_text = subprocess.run([sys.executable, "-m", "milab", "serve", "--help"], capture_output=True, text=True,
                               cwd=source, env={**os.environ, "PYTHONPATH": str(source)}).stdout
    extra = ["--idle-timeout", str(idle_timeout)] if "--idle-timeout" in help_text else []
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MILAB_", "AZURE_", "HTTP"))}
    env.update(PYTHONPATH=str(source), PYTHONDONTWRITEBYTECODE="1")
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "milab", "serve", "--env-file", str(env_file),
                                 "--state-dir", str(work / "state"), *extra], cwd=source, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        while not env_file.exists():
            if proc.poll() is not None:
                raise SystemExit(f"the emulator from {source} exited: {log.read_text()[-2000:]}")
            time.sleep(0.05)
        u = urlparse(json.loads(env_file.read_text())["MILAB_EMULATOR_URL"])
        addr = (u.hostname, u.port)
        time.sleep(0.5)
        before = {"fds": _fds(proc.pid), "rss": _rss_mb(proc.pid)}
        socks = []
        for i in range(n):
            try:
                s = socket.create_connection(addr, timeout=5)
                s.sendall(KINDS[i % len(KINDS)])
                socks.append(s)
            except OSError:
                break
        time.sleep(1.0)
        during = {"fds": _fds(proc.pid), "rss": _rss_mb(proc.pid), "health": _health(addr)}
        started = time.monotonic()
        while _fds(proc.pid) > before["fds"] + 4 and time.monotonic() - started < cap:
            time.sleep(0.1)
        shed = time.monotonic() - started
        after = {"fds": _fds(proc.pid), "rss": _rss_mb(proc.pid), "health": _health(addr)}
        for s in socks:
            s.close()
        return {"before": before, "during": during, "after": after, "opened": len(socks),
                "shed": f"{shed:.1f} s" if after["fds"] <= before["fds"] + 4 else f"not within {cap:.0f} s",
                "log": log.stat().st_size, "idle_timeout": idle_timeout if extra else None}
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=300, help="idle connections (default 300)")
    ap.add_argument("--idle-timeout", type=float, default=5.0, help="the emulator's --idle-timeout (default 5)")
    ap.add_argument("--reference", default="main", help="git ref to compare with (default main; '' for none)")
    a = ap.parse_args()
    cap = 4 * a.idle_timeout + 10
    results = {"this tree": run(ROOT, a.n, a.idle_timeout, cap)}
    if a.reference:
        ref = Path(tempfile.mkdtemp(prefix="milab-bench-ref-"))
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", a.reference], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(ref)], input=archive.stdout, check=True)
        try:
            results[a.reference] = run(ref, a.n, a.idle_timeout, cap)
        finally:
            shutil.rmtree(ref, ignore_errors=True)
    rows = [("idle connections opened", lambda r: r["opened"]),
            ("--idle-timeout", lambda r: r["idle_timeout"] or "(none)"),
            ("descriptors: before", lambda r: r["before"]["fds"]),
            ("descriptors: with them", lambda r: r["during"]["fds"]),
            ("descriptors: after shedding", lambda r: r["after"]["fds"]),
            ("memory MB: before", lambda r: f"{r['before']['rss']:.1f}"),
            ("memory MB: with them", lambda r: f"{r['during']['rss']:.1f}"),
            ("memory MB: after", lambda r: f"{r['after']['rss']:.1f}"),
            ("health with them", lambda r: r["during"]["health"]),
            ("time to shed them", lambda r: r["shed"]),
            ("health after", lambda r: r["after"]["health"]),
            ("log bytes", lambda r: r["log"])]
    names = list(results)
    print(f"{'':32}" + "".join(f"{n:>22}" for n in names))
    for label, get in rows:
        print(f"{label:32}" + "".join(f"{str(get(results[n])):>22}" for n in names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
