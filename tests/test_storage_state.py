"""With a state directory, storage accounts, their keys and their blobs survive an emulator
restart, and a crash: the account's data lives under the run directory, Azurite learns the
accounts again at start, acknowledged writes are saved before they are acknowledged, and ARM's
containers are reconciled with the engine's."""
from __future__ import annotations

import contextlib
import email.utils
import os
import signal
import stat
from pathlib import Path

from support import operator_token, proxied_session

from milab.cloud.storage.signing import shared_key_authorization
from milab.targets.emulator import EmbeddedEmulator

API = "2023-01-01"


def _arm(s, env):
    return {"Authorization": f"Bearer {operator_token(s, env)}"}


def _blob(s, method, name, raw, key, body=None):
    h = {"x-ms-date": email.utils.formatdate(usegmt=True), "x-ms-version": "2021-08-06"}
    if body is not None:
        h["x-ms-blob-type"] = "BlockBlob"
    signed = {**h, "Content-Length": str(len(body))} if body else h
    h["Authorization"] = shared_key_authorization(method, raw, signed, name, key)
    return s.request(method, f"https://{name}.blob.core.windows.net{raw}", headers=h, data=body, timeout=60)


def _account(s, env, group: str, name: str, container: str) -> tuple[str, str]:
    """A group, an account and a container through ARM; returns the account's URL and key1."""
    h = _arm(s, env)
    rg = f"https://management.azure.com/subscriptions/{env['AZURE_SUBSCRIPTION_ID']}/resourceGroups/{group}"
    assert s.put(f"{rg}?api-version=2021-04-01", json={"location": "westus"}, headers=h).status_code == 201
    acct = f"{rg}/providers/Microsoft.Storage/storageAccounts/{name}"
    assert s.put(f"{acct}?api-version={API}", json={"location": "westus", "sku": {"name": "Standard_LRS"}},
                 headers=h).status_code in (200, 202)  # 202 since the create is polled; 200 on older code
    assert s.put(f"{acct}/blobServices/default/containers/{container}?api-version={API}", json={},
                 headers=h).status_code == 201
    return acct, s.post(f"{acct}/listKeys?api-version={API}", headers=h).json()["keys"][0]["value"]


def test_blobs_and_keys_survive_a_restart(tmp_path):
    name = "keptacct01"
    first = EmbeddedEmulator(state_dir=tmp_path)
    try:
        s = proxied_session(first.env)
        acct, key = _account(s, first.env, "kept", name, "box")
        assert _blob(s, "PUT", name, "/box/kept.txt", key, b"kept").status_code == 201
    finally:
        first.stop()
    second = EmbeddedEmulator(state_dir=tmp_path)
    try:
        s2 = proxied_session(second.env)
        r = _blob(s2, "GET", name, "/box/kept.txt", key)
        assert r.status_code == 200 and r.text == "kept", r.text
    finally:
        second.stop()


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            out += [int(p) for p in (task / "children").read_text().split()]
    return out


def _crash(emu: EmbeddedEmulator) -> None:
    """kill -9 of the emulator and of its blob engine at once: nothing gets to save on the way out."""
    victims = _children(emu.proc.pid) + [emu.proc.pid]
    for pid in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    emu.proc.wait(10)


def test_acknowledged_containers_and_blobs_survive_kill_9(tmp_path):
    """Everything the emulator acknowledged is in the blob engine after a crash and a restart with
    the same state directory, and ARM's containers are the engine's; blob data is private."""
    name = "crashacct01"
    first = EmbeddedEmulator(state_dir=tmp_path)
    try:
        s = proxied_session(first.env)
        acct, key = _account(s, first.env, "crash", name, "via-arm")
        assert _blob(s, "PUT", name, "/via-blob-api?restype=container", key).status_code == 201
        for i in range(5):
            assert _blob(s, "PUT", name, f"/via-arm/blob-{i}.txt", key, f"arm {i}".encode()).status_code == 201
            assert _blob(s, "PUT", name, f"/via-blob-api/blob-{i}.txt", key, f"api {i}".encode()).status_code == 201
        _crash(first)  # right after the last acknowledgement
    finally:
        first.stop()
    second = EmbeddedEmulator(state_dir=tmp_path)
    try:
        s2 = proxied_session(second.env)
        h2 = _arm(s2, second.env)
        listed = s2.get(f"{acct}/blobServices/default/containers?api-version={API}", headers=h2).json()["value"]
        assert sorted(c["name"] for c in listed) == ["via-arm", "via-blob-api"], listed
        for i in range(5):
            for c, text in (("via-arm", "arm"), ("via-blob-api", "api")):
                r = _blob(s2, "GET", name, f"/{c}/blob-{i}.txt", key)
                assert r.status_code == 200 and r.text == f"{text} {i}", (c, i, r.status_code, r.text[:200])
    finally:
        second.stop()
    data = tmp_path / "azurite"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    loose = [str(p) for p in data.rglob("*") if stat.S_IMODE(p.stat().st_mode) & 0o077]
    assert not loose, f"blob data readable by others: {loose}"
