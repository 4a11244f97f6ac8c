"""Running emulators: each ``milab serve`` registers itself once ready and unregisters when it
stops, so ``milab status`` can list them and ``milab stop`` stops only a milab emulator.

A record is ``<runs dir>/<pid>.json`` (``$XDG_RUNTIME_DIR/milab`` or ``/tmp/milab-<uid>``, 0700):
pid, start time, proxy, state directory (and whether it is temporary), emulated hosts, and the
process's start time from ``/proc`` so a recycled pid is never taken for the emulator.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

from .cloud.files import private_dir, write_atomic


def runs_dir() -> Path:
    base = os.environ.get("XDG_RUNTIME_DIR")
    path = Path(base) / "milab" if base and Path(base).is_dir() else Path(tempfile.gettempdir()) / f"milab-{os.getuid()}"
    return private_dir(path)


def _proc_start(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _cmdline(pid: int) -> list[str]:
    try:
        return [a for a in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0") if a]
    except OSError:
        return []


def is_emulator(pid: int) -> bool:
    """Is this process a ``milab serve`` (``python -m milab serve`` or the ``milab`` script)?"""
    args = _cmdline(pid)
    for i, a in enumerate(args[:-1]):
        if args[i + 1] == "serve" and (a == "milab" or a.endswith("/milab")):
            return True
    return False


def emulated_hosts() -> list[str]:
    from milab.cloud.pki import TLS_HOSTS
    return sorted(set(TLS_HOSTS) - {"localhost", "127.0.0.1", "::1"}) + ["169.254.169.254 (IMDS)",
                                                                         "169.254.129.3 (App Service)"]


def register(emu: Any, *, temporary: bool) -> None:
    pid = os.getpid()
    record = {"pid": pid, "proc_start": _proc_start(pid),
              "started": dt.datetime.now().astimezone().replace(microsecond=0).isoformat(),
              "proxy": emu.proxy_url, "state_dir": str(emu.run_dir), "temporary": temporary,
              "hosts": emulated_hosts()}
    write_atomic(runs_dir() / f"{pid}.json", json.dumps(record), durable=False)  # 0600 from creation


def unregister(pid: int) -> None:
    (runs_dir() / f"{pid}.json").unlink(missing_ok=True)


def _record(pid: int) -> dict | None:
    try:
        return json.loads((runs_dir() / f"{pid}.json").read_text())
    except (OSError, ValueError):
        return None


def running() -> list[dict]:
    """Records of emulators that are alive (stale records are removed)."""
    out = []
    for path in sorted(runs_dir().glob("*.json")):
        try:
            record = json.loads(path.read_text())
            pid = int(record["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)
            continue
        if is_emulator(pid) and _proc_start(pid) == record.get("proc_start"):
            out.append(record)
        else:
            path.unlink(missing_ok=True)
    return out


def stop(pid: int, timeout: float = 15.0) -> tuple[bool, str]:
    """SIGTERM a milab emulator, wait for it to exit, remove its temporary run directory."""
    if not Path(f"/proc/{pid}").exists():
        return False, f"no process {pid}"
    if not is_emulator(pid):
        return False, f"process {pid} is not a milab emulator; not stopping it"
    record = _record(pid) or {}
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False, f"no process {pid}"
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        try:  # our own child (a test): reap it
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                break
        except ChildProcessError:
            pass
        stat = Path(f"/proc/{pid}/stat")
        try:
            if stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":
                break
        except (OSError, IndexError):
            break
        time.sleep(0.05)
    else:
        if Path(f"/proc/{pid}").exists():
            return False, f"milab emulator {pid} did not stop within {timeout:.0f} s"
    unregister(pid)
    state = record.get("state_dir")
    if record.get("temporary") and state and Path(state).exists():
        import shutil
        shutil.rmtree(state, ignore_errors=True)
    return True, f"stopped milab emulator {pid}"
