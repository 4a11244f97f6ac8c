"""Emulated VM guests: the context a process runs in "inside" a VM, and Run Command.

A VM's context is an environment whose proxy carries that VM's credentials, so IMDS
answers for that VM only, and whose CA bundle trusts the emulator. Nothing of the
operator's environment (``AZURE_CLIENT_SECRET`` ...) leaks into it. Run Command runs a
script in that context in the background and reports like Azure's Run Command:
``202`` with ``Azure-AsyncOperation`` and ``Location``, then the instance-view statuses.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import sys
import uuid
from typing import TYPE_CHECKING

from .arm.base import now_iso
from .arm.compute import os_type

if TYPE_CHECKING:  # pragma: no cover
    from .arm.base import Call
    from .server import Emulator

RUN_COMMAND_TIMEOUT = 600
OUTPUT_LIMIT = 4096  # Run Command keeps the last 4 KiB of each stream


def _scrubbed_environ() -> dict[str, str]:
    drop = ("AZURE_", "MILAB_", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "IDENTITY_", "MSI_")
    return {k: v for k, v in os.environ.items() if not k.upper().startswith(drop)}


class Guests:
    def __init__(self, emu: "Emulator"):
        self.emu = emu

    def secret_for(self, vm_id: str) -> str | None:
        for secret, rid in self.emu.state.vm_secrets.items():
            if rid.lower() == vm_id.lower():
                return secret
        return None

    def context_env(self, vm_id: str) -> dict[str, str] | None:
        """The environment of a process inside the VM (only the variables milab sets)."""
        vm = self.emu.state.get(vm_id)
        secret = self.secret_for(vm_id)
        if vm is None or secret is None:
            return None
        proxy = f"http://vm:{secret}@{self.emu.config.host}:{self.emu.port}"
        bundle = str(self.emu.pki.bundle)
        return {"HTTP_PROXY": proxy, "HTTPS_PROXY": proxy, "http_proxy": proxy, "https_proxy": proxy,
                "NO_PROXY": "", "no_proxy": "",
                "REQUESTS_CA_BUNDLE": bundle, "CURL_CA_BUNDLE": bundle, "SSL_CERT_FILE": bundle,
                "NODE_EXTRA_CA_CERTS": bundle,
                # azure-identity's ManagedIdentityCredential (via MSAL) finds IMDS here without probing
                "AZURE_POD_IDENTITY_AUTHORITY_HOST": "http://169.254.169.254",
                "MILAB_VM_ID": vm_id, "MILAB_VM_OS": os_type(vm),
                **_host_env(vm)}

    def command_line(self, osname: str, script: str) -> list[str]:
        if osname == "Windows":
            pwsh = shutil.which("pwsh")
            if pwsh:
                return [pwsh, "-NoProfile", "-NonInteractive", "-Command", script]
            # No PowerShell on this machine: the stand-in runs the steps the script declares.
            return [sys.executable, "-m", "milab.guest", "--run-declared-steps", script]
        return ["bash", "-c", script]

    async def run(self, vm_id: str, script: str, timeout: float = RUN_COMMAND_TIMEOUT) -> tuple[int, str, str]:
        vm = self.emu.state.get(vm_id)
        env = _scrubbed_environ()
        env.update(self.context_env(vm_id) or {})
        proc = await asyncio.create_subprocess_exec(*self.command_line(os_type(vm), script), env=env,
                                                    stdin=asyncio.subprocess.DEVNULL,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                                                    start_new_session=True)
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            return -1, "", f"Run Command timed out after {timeout:.0f} s"
        return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")

    def start_run_command(self, call: "Call", vm: dict, script: str, parameters: list):
        op_id = str(uuid.uuid4())
        loc = vm.get("location", "westus")
        sub = call.state.subscription_id
        base = f"{call.base_url}/subscriptions/{sub}/providers/Microsoft.Compute/locations/{loc}/operations/{op_id}"
        op = {"status": "InProgress", "startTime": now_iso(), "result": None, "caller": call.caller_oid,
              "location": f"{base}?monitor=true&api-version={call.api_version}"}
        self.emu.operations[op_id] = op
        env_params = "".join(f"{p.get('name')}={_shell_quote(str(p.get('value', '')))}\n"
                             for p in parameters if isinstance(p, dict) and p.get("name"))
        osname = os_type(vm)
        full = (env_params + script) if osname == "Linux" else script

        async def runner():
            code, out, err = await self.run(vm["id"], full)
            op["result"] = {"value": _statuses(osname, code, out[-OUTPUT_LIMIT:], err[-OUTPUT_LIMIT:])}
            op["status"] = "Succeeded"
            op["endTime"] = now_iso()

        self.emu.spawn(runner())
        call.headers.update({"Azure-AsyncOperation": f"{base}?api-version={call.api_version}",
                             "Location": op["location"], "Retry-After": "1"})
        return 202, None


def _shell_quote(s: str) -> str:
    return "'" + s.replace("'", "'\"'\"'") + "'"


def _statuses(osname: str, code: int, out: str, err: str) -> list[dict]:
    if osname == "Windows":
        return [{"code": "ComponentStatus/StdOut/succeeded", "level": "Info",
                 "displayStatus": "Provisioning succeeded", "message": out},
                {"code": "ComponentStatus/StdErr/succeeded", "level": "Info",
                 "displayStatus": "Provisioning succeeded", "message": err}]
    if code == 0:
        return [{"code": "ProvisioningState/succeeded", "level": "Info", "displayStatus": "Provisioning succeeded",
                 "message": f"Enable succeeded: \n[stdout]\n{out}\n[stderr]\n{err}\n"}]
    return [{"code": "ProvisioningState/failed", "level": "Error", "displayStatus": "Provisioning failed",
             "message": f"Enable failed: failed to execute command: command terminated with exit status={code}"
                        f"\n[stdout]\n{out}\n[stderr]\n{err}\n"}]


def _host_env(host: dict) -> dict[str, str]:
    """What the host type adds to its guests' environment (a site's IDENTITY_ENDPOINT, app settings)."""
    from .arm.catalog import resource_type
    extra = getattr(resource_type(host["type"]), "guest_env", None)
    return extra(host) if extra else {}
