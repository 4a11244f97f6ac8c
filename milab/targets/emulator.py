"""The embedded emulator target: starts (or reuses) one emulator for the whole run."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from ..cloud.files import DirLock, new_private_dir, open_private_log, private_dir
from .base import Target, Vm

ENV_VAR = "MILAB_EMULATOR_ENV"  # path of the env.json of an emulator to reuse


class EmbeddedEmulator:
    """A ``milab serve`` child process and the environment clients need to reach it."""

    def __init__(self, extra_args: list[str] | None = None, state_dir: Path | None = None,
                 nofile: int | None = None):
        """``nofile`` caps the emulator's open-files limit (soft and hard), for tests of exhaustion."""
        self._own_dir = state_dir is None  # a private temporary directory, removed at stop
        # 0700 (mkdtemp makes it so; a given directory is created so), and the log 0600 from creation
        self.dir = private_dir(state_dir) if state_dir else new_private_dir("milab-run-")
        if not self._own_dir:  # refuse (DirInUse) before touching the files of an emulator running there
            DirLock(self.dir).acquire().release()
        self.env_file = self.dir / "env.json"
        self.env_file.unlink(missing_ok=True)
        self.log = self.dir / "emulator.log"
        cmd = [sys.executable, "-m", "milab", "serve", "--env-file", str(self.env_file),
               "--state-dir", str(self.dir), *(extra_args or [])]
        # not another emulator's client environment (its guests would inherit its Node guard)
        env = {k: v for k, v in os.environ.items()
               if not k.upper().startswith(("AZURE_", "HTTP_PROXY", "HTTPS_PROXY", "MILAB_", "NODE_OPTIONS"))}

        def limit() -> None:
            import resource
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        with open_private_log(self.log) as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=env, start_new_session=True, preexec_fn=limit if nofile else None)
        deadline = time.monotonic() + 60
        while not self.env_file.exists():
            if self.proc.poll() is not None:
                log = self.log.read_text()[-2000:]
                self._remove_dir()
                raise RuntimeError(f"the emulator exited with {self.proc.returncode}: {log}")
            if time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                self._remove_dir()
                raise RuntimeError("the emulator did not become ready within 60 s")
            time.sleep(0.02)
        self.env = json.loads(self.env_file.read_text())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._remove_dir()

    def _remove_dir(self) -> None:
        if self._own_dir:
            import shutil
            shutil.rmtree(self.dir, ignore_errors=True)


def load_env(path: str | Path) -> dict[str, str]:
    return json.loads(Path(path).read_text())


class Control:
    """Client of the emulator's control API (direct to loopback, never through the proxy)."""

    def __init__(self, env: dict[str, str]):
        self.url = env["MILAB_EMULATOR_URL"]
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.headers["X-Milab-Control"] = env["MILAB_CONTROL_KEY"]

    def call(self, method: str, path: str, **kw) -> dict:
        r = self.session.request(method, self.url + path, timeout=kw.pop("timeout", 660), **kw)
        if r.status_code >= 400:
            raise RuntimeError(f"emulator control {method} {path}: {r.status_code} {r.text[:500]}")
        return r.json()

    def config(self, **switches) -> dict:
        return self.call("POST", "/_milab/config", json=switches)


class EmulatorTarget(Target):
    name = "emulator"
    propagation_timeout = 0.0
    poll_interval = 0.05

    def __init__(self, env: dict[str, str], location: str, prefix: str):
        from azure.identity import ClientSecretCredential
        cred = ClientSecretCredential(env["AZURE_TENANT_ID"], env["AZURE_CLIENT_ID"], env["AZURE_CLIENT_SECRET"])
        super().__init__(env["AZURE_SUBSCRIPTION_ID"], location, prefix, cred)
        self.env = env
        self.tenant_id = env["AZURE_TENANT_ID"]
        self.control = Control(env)

    def run_in_vm(self, vm: Vm, script: str) -> tuple[int, str, str]:
        r = self.control.call("POST", "/_milab/run", json={"vm_id": vm.id, "script": script, "timeout": 300})
        return r["exit_code"], r["stdout"], r["stderr"]

    def inject_imds_faults(self, vm: Vm, statuses: list[int]) -> None:
        self.control.call("POST", "/_milab/imds-faults", json={"vm_id": vm.id, "statuses": statuses})

    def imds_request_count(self, vm: Vm) -> int:
        return self.control.call("GET", "/_milab/imds-requests", params={"id": vm.id})["count"]

    def refresh_identity_token(self, vm: Vm, resource: str) -> str:
        n = self.control.call("POST", "/_milab/imds-cache", json={"vm_id": vm.id})["expired"]
        self.note(f"fresh token for {resource}: waited out IMDS's token cache of {vm.name} ({n} cached token(s); "
                  f"the emulator expires them at once, where Azure's cache lasts up to 24 h)")
        return resource

    def expired_token(self, principal_id: str, audience: str) -> str:
        r = self.control.call("POST", "/_milab/tokens", json={"object_id": principal_id, "audience": audience,
                                                              "issued_offset": -7200, "lifetime": 3600})
        return r["access_token"]

    def identity_token(self, principal_id: str, audience: str) -> str | None:
        # the emulator runs no Cosmos DB host process: the control API signs the token the
        # account's identity endpoint would hand out (same issuer, claims and lifetime rules)
        try:
            r = self.control.call("POST", "/_milab/tokens", json={"object_id": principal_id, "audience": audience})
        except RuntimeError as e:
            if " 404 " in str(e):
                return None
            raise
        return r["access_token"]
