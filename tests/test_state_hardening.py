"""The state directory: acknowledged ARM writes survive ``kill -9``; every directory and file is private
from creation; one emulator per directory (and a killed one never blocks a restart); one resource that
cannot be saved never breaks the saving of everything else."""
from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import ROOT, operator_token, proxied_session

from milab.cloud import files
from milab.cloud.state import MAX_DEPTH, State, UnstorableResource
from milab.targets.emulator import EmbeddedEmulator

GROUPS = "/subscriptions/{sub}/resourceGroups"
GENERIC = "Microsoft.Network/networkSecurityGroups"  # a type ARM stores as given (catalog: generic)


class Arm:
    def __init__(self, env: dict):
        self.s = proxied_session(env)
        self.h = {"Authorization": f"Bearer {operator_token(self.s, env)}"}
        self.base = "https://management.azure.com" + GROUPS.format(sub=env["AZURE_SUBSCRIPTION_ID"])

    def put(self, path: str, body, api: str = "2021-04-01"):
        data = body if isinstance(body, str) else json.dumps(body)
        return self.s.put(f"{self.base}{path}?api-version={api}", data=data,
                          headers={**self.h, "Content-Type": "application/json"}, timeout=30)

    def get(self, path: str, api: str = "2021-04-01"):
        return self.s.get(f"{self.base}{path}?api-version={api}", headers=self.h, timeout=30)


def _nested(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


def test_acknowledged_writes_survive_kill_9_and_the_lock_does_not(tmp_path):
    first = EmbeddedEmulator(state_dir=tmp_path)
    try:
        arm = Arm(first.env)
        for i in range(15):
            r = arm.put(f"/g{i}", {"location": "westus", "tags": {"n": str(i)}})
            assert r.status_code == 201, r.text
        r = arm.put(f"/g0/providers/{GENERIC}/n1", {"location": "westus", "properties": {"k": "v"}}, "2023-09-01")
        assert r.status_code in (200, 201), r.text
    finally:
        first.proc.send_signal(signal.SIGKILL)  # right after the last acknowledgement: no chance to save at exit
        first.proc.wait(10)
    second = EmbeddedEmulator(state_dir=tmp_path)  # the killed emulator's lock is gone with it
    try:
        arm2 = Arm(second.env)
        for i in range(15):
            r = arm2.get(f"/g{i}")
            assert r.status_code == 200 and r.json()["tags"] == {"n": str(i)}, r.text
        assert arm2.get(f"/g0/providers/{GENERIC}/n1", "2023-09-01").status_code == 200
    finally:
        second.stop()


def test_a_second_emulator_on_the_same_state_dir_refuses(tmp_path):
    first = EmbeddedEmulator(state_dir=tmp_path)
    try:
        env_before = (tmp_path / "env.json").read_text()
        for cmd in (["serve", "--state-dir", str(tmp_path), "--env-file", str(tmp_path / "second.json")],
                    ["serve", "--detach", "--state-dir", str(tmp_path)]):
            proc = subprocess.run([sys.executable, "-m", "milab", *cmd], capture_output=True, text=True, timeout=60,
                                  cwd=ROOT, env={k: v for k, v in os.environ.items() if not k.startswith("MILAB_")})
            assert proc.returncode == 2, (cmd, proc.returncode, proc.stdout, proc.stderr)
            lines = proc.stderr.strip().splitlines()
            assert len(lines) == 1 and "is in use by another emulator" in lines[0] and \
                f"pid {first.proc.pid}" in lines[0], proc.stderr
            assert not proc.stdout
        assert first.proc.poll() is None
        assert (tmp_path / "env.json").read_text() == env_before  # the running emulator's files are untouched
        assert not (tmp_path / "second.json").exists()
        with pytest.raises(files.DirInUse):  # the embedded target refuses the same way, touching nothing
            EmbeddedEmulator(state_dir=tmp_path)
        assert (tmp_path / "env.json").read_text() == env_before
    finally:
        first.stop()


def test_status_and_stop_free_a_state_dir_in_use(tmp_path):
    """What the refusal says to do works: ``milab status`` names the holder, ``milab stop --pid`` frees the
    directory (and keeps it: it is not a temporary one), and the next emulator starts there with its state."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MILAB_", "AZURE_"))}
    milab = [sys.executable, "-m", "milab"]

    def run(*args):
        return subprocess.run([*milab, *args], capture_output=True, text=True, timeout=90, cwd=ROOT, env=env)

    started = run("serve", "--detach", "--state-dir", str(tmp_path))
    assert started.returncode == 0, started.stderr
    pid = int(dict(ln[len("export "):].split("=", 1) for ln in started.stdout.splitlines())["MILAB_EMULATOR_PID"])
    second = None
    try:
        refused = run("serve", "--detach", "--state-dir", str(tmp_path))
        assert refused.returncode == 2 and f"milab stop --pid {pid}" in refused.stderr, refused.stderr
        status = json.loads(run("status", "--json").stdout)
        assert [r["state_dir"] for r in status if r["pid"] == pid] == [str(tmp_path)], status
        stopped = run("stop", "--pid", str(pid))
        assert stopped.returncode == 0, stopped.stderr
        assert (tmp_path / "state.json").exists() and (tmp_path / "lock").exists()
        second = run("serve", "--detach", "--state-dir", str(tmp_path))
        assert second.returncode == 0, second.stderr
    finally:
        for out in (started, second):
            if out is not None and out.returncode == 0:
                p = dict(ln[len("export "):].split("=", 1) for ln in out.stdout.splitlines())["MILAB_EMULATOR_PID"]
                run("stop", "--pid", p)


PUBLIC = ("ca.pem", "bundle.pem")  # CA certificates: 0644 (an isolated guest reads the bundle), in a 0700 pki/


def _modes(root: Path) -> dict[str, str]:
    """Every path below ``root`` whose mode is wider than private (0700 directories, 0600 files)."""
    wide = {}
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if path.is_symlink():
            continue
        if path.name in PUBLIC and path.parent.name == "pki" and mode == 0o644 and \
                stat.S_IMODE(path.parent.stat().st_mode) == 0o700:
            continue
        if path.is_dir() and mode != 0o700 or path.is_file() and mode != 0o600 or mode & 0o077:
            wide[str(path.relative_to(root))] = oct(mode)
    return wide


def test_detached_emulator_creates_everything_private(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MILAB_", "AZURE_"))}
    env["TMPDIR"] = str(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "milab", "serve", "--detach"], capture_output=True, text=True,
                          timeout=90, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr
    exports = dict(line[len("export "):].split("=", 1) for line in proc.stdout.splitlines())
    emulator_env = {k: v.strip("'") for k, v in exports.items()}
    folder = Path(emulator_env["MILAB_EMULATOR_DIR"])
    try:
        assert folder.parent == tmp_path
        arm = Arm(emulator_env)  # a write, and a storage account: Azurite starts and keeps blob data here too
        assert arm.put("/g1", {"location": "westus"}).status_code == 201
        r = arm.put("/g1/providers/Microsoft.Storage/storageAccounts/privacytest1",
                    {"location": "westus", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"}, "2023-01-01")
        assert r.status_code in (200, 201, 202), r.text
        deadline = time.monotonic() + 30
        while not (folder / "azurite").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        names = {p.name for p in folder.rglob("*")}
        assert {"state.json", "emulator.log", "env.json", "signing-key.pem", "leaf.key", "lock"} <= names, names
        assert _modes(folder) == {}
    finally:
        subprocess.run([sys.executable, "-m", "milab", "stop", "--pid", emulator_env["MILAB_EMULATOR_PID"]],
                       cwd=ROOT, timeout=30)


def test_private_files_are_created_so_not_chmodded(tmp_path, monkeypatch):
    """Under a permissive umask, with chmod unavailable, what the emulator writes is still 0600 / 0700."""
    from milab.cloud import pki

    def no_chmod(*a, **k):
        raise AssertionError("chmod after writing")

    real_fchmod = os.fchmod

    def fchmod_while_empty(fd, mode):  # setting the mode of a file just created, before any content
        assert os.fstat(fd).st_size == 0, "chmod after writing"
        real_fchmod(fd, mode)

    old = os.umask(0o022)
    try:
        monkeypatch.setattr(os, "chmod", no_chmod)
        monkeypatch.setattr(os, "fchmod", fchmod_while_empty)
        monkeypatch.setattr(Path, "chmod", no_chmod)
        (tmp_path / "state.tmp").write_text("left by a crash, world-readable")
        state = State.new()
        state.path = tmp_path / "state.json"
        state.save()
        pki.create(tmp_path / "pki")
        files.write_atomic(tmp_path / "env.json", "{}")
        with files.open_private_log(tmp_path / "emulator.log") as log:
            log.write(b"x")
        files.private_dir(tmp_path / "d" / "e")
    finally:
        os.umask(old)
    monkeypatch.undo()
    wide = {k: v for k, v in _modes(tmp_path).items() if k not in (".", "d")}  # tmp_path itself is pytest's
    assert wide == {}, wide
    assert not (tmp_path / "state.tmp").exists()


def test_one_unsavable_resource_never_breaks_saving(tmp_path):
    state = State.new()
    state.path = tmp_path / "state.json"
    good = state.put({"id": "/subscriptions/s/resourceGroups/good", "name": "good", "properties": {"v": 1}})
    bad = state.put({"id": "/subscriptions/s/resourceGroups/bad", "name": "bad", "properties": {"v": 1}})
    state.save()
    node = bad["properties"]  # changed in place, past the encoder's reach (not through put)
    for _ in range(5000):
        node["a"] = {}
        node = node["a"]
    good["properties"]["v"] = 2
    state.save()  # must not raise
    assert state.unsaved == {"resources//subscriptions/s/resourcegroups/bad"}
    later = state.put({"id": "/subscriptions/s/resourceGroups/later", "name": "later"})
    state.save()
    loaded = State.load_or_new(tmp_path)
    assert loaded.get(good["id"])["properties"] == {"v": 2}
    assert loaded.get(bad["id"])["properties"] == {"v": 1}  # its last saved version
    assert loaded.get(later["id"]) == later
    del state.resources[bad["id"].lower()]
    state.save()
    assert state.unsaved == set() and State.load_or_new(tmp_path).get(bad["id"]) is None


def test_put_refuses_a_resource_nested_too_deep():
    state = State.new()
    with pytest.raises(UnstorableResource):
        state.put({"id": "/subscriptions/s/resourceGroups/g", "properties": json.loads(_nested(MAX_DEPTH + 1))})
    assert state.get("/subscriptions/s/resourceGroups/g") is None
    state.put({"id": "/subscriptions/s/resourceGroups/g", "properties": json.loads(_nested(MAX_DEPTH - 5))})


def test_a_deeply_nested_body_does_not_break_later_writes(tmp_path):
    """The issue: a PUT nesting ~970 levels made every later ARM write answer 500. Now it is refused
    (400 InvalidRequestContent, here or at ARM's front door) and later writes are saved and survive."""
    emu = EmbeddedEmulator(state_dir=tmp_path)
    try:
        arm = Arm(emu.env)
        assert arm.put("/g1", {"location": "westus"}).status_code == 201
        r = arm.put(f"/g1/providers/{GENERIC}/deep", '{"location": "westus", "properties": '
                    + _nested(970) + "}", "2023-09-01")
        assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidRequestContent", r.text
        r = arm.put("/g2", {"location": "westus"})
        assert r.status_code == 201, r.text
        assert "Traceback" not in emu.log.read_text()
    finally:
        emu.stop()
    again = EmbeddedEmulator(state_dir=tmp_path)
    try:
        arm = Arm(again.env)
        assert arm.get("/g2").status_code == 200
        assert arm.get(f"/g1/providers/{GENERIC}/deep", "2023-09-01").status_code == 404
    finally:
        again.stop()
