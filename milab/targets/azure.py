"""The sandbox-subscription target: the operator from DefaultAzureCredential, in-VM steps
through Run Command, and bounded waits for role assignments to propagate."""
from __future__ import annotations

import os
import re

import pytest

from .base import Target, Vm

_STDOUT = re.compile(r"\[stdout\]\n(.*?)\n\[stderr\]\n(.*)$", re.S)


class AzureTarget(Target):
    name = "azure"
    propagation_timeout = float(os.environ.get("MILAB_PROPAGATION_TIMEOUT", "600"))
    poll_interval = 15.0
    wait_for_deletes = False

    def __init__(self, subscription_id: str, location: str, prefix: str):
        from azure.identity import DefaultAzureCredential
        super().__init__(subscription_id, location, prefix,
                         DefaultAzureCredential(exclude_managed_identity_credential=True))
        self.tenant_id = os.environ.get("AZURE_TENANT_ID")

    def run_in_vm(self, vm: Vm, script: str) -> tuple[int, str, str]:
        command = "RunPowerShellScript" if vm.os == "windows" else "RunShellScript"
        params = {"commandId": command, "script": script.splitlines()}
        if vm.scale_set:  # an instance of a scale set
            result = self.compute.virtual_machine_scale_set_vms.begin_run_command(
                vm.resource_group, vm.scale_set, vm.instance_id, params).result()
        else:
            result = self.compute.virtual_machines.begin_run_command(vm.resource_group, vm.name, params).result()
        statuses = list(result.value or [])
        if vm.os == "windows":
            out = next((s.message or "" for s in statuses if "StdOut" in (s.code or "")), "")
            err = next((s.message or "" for s in statuses if "StdErr" in (s.code or "")), "")
            return 0, out, err
        message = statuses[0].message if statuses else ""
        m = _STDOUT.search(message or "")
        out, err = (m.group(1), m.group(2)) if m else (message or "", "")
        failed = bool(statuses) and "failed" in (statuses[0].code or "").lower()
        return (1 if failed else 0), out, err

    def obsolete(self, facts: dict) -> None:
        retired = facts.get("retired")
        if retired:
            pytest.skip(f"obsolete: {retired['service']} was retired ({retired['when']}); its successor, "
                        f"{retired['successor']}, runs as {retired['successor_tutorial']}")

    def refresh_identity_token(self, vm: Vm, resource: str) -> str:
        # IMDS's cache cannot be flushed and lasts up to 24 h, but it is kept per resource URI:
        # the other spelling of the same App ID URI (trailing slash or not) is a token IMDS has
        # not cached yet, issued with the roles and groups the directory has now.
        other = resource[:-1] if resource.endswith("/") else resource + "/"
        used = self.__dict__.setdefault("_refreshed", set())
        if (vm.id.lower(), other) in used:
            pytest.skip(f"IMDS on {vm.name} has cached both spellings of {resource}; Azure cannot show a token "
                        f"issued after this change for up to 24 h (the emulator can: it expires the cache)")
        used.add((vm.id.lower(), other))
        self.note(f"fresh token for {resource}: requested as {other!r}, a resource URI {vm.name} had not asked "
                  f"for (IMDS caches per URI for up to 24 h and cannot be refreshed)")
        return other

    def expired_token(self, principal_id: str, audience: str) -> str:
        pytest.skip("Entra cannot be asked for an already-expired token; the expiry check runs on the emulator")

    def identity_token(self, principal_id: str, audience: str) -> str | None:
        pytest.skip("a Cosmos DB account's own identity gets its tokens inside the service; the harness cannot "
                    "ask for one on Azure (checked on the emulator)")

    def inject_imds_faults(self, vm: Vm, statuses: list[int]) -> None:
        pytest.skip("Azure's IMDS cannot be made to fail on demand; retry behaviour is checked on the emulator")

    def imds_request_count(self, vm: Vm) -> int:
        pytest.skip("Azure's IMDS does not report how many requests it saw")
