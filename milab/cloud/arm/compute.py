"""Microsoft.Compute/virtualMachines (and scale sets) with managed identities, and Run Command.

Identity formats follow the api-version: before 2018-06-01 user-assigned identities are
an ``identityIds`` array; from 2018-06-01 a ``userAssignedIdentities`` dictionary. PUT
replaces the identity; PATCH with the dictionary format merges (a ``null`` value removes
an identity), and a type without ``UserAssigned`` drops every user-assigned identity.
"""
from __future__ import annotations

import secrets
import uuid

from .base import INTERNAL, Call, ResourceType
from .errors import ArmError
from . import identity

DICT_FORMAT_FROM = "2018-06-01"
COMPUTE_STYLE = identity.IdentityStyle(both="SystemAssigned, UserAssigned", dict_format_from=DICT_FORMAT_FROM)

COMPUTE_API_VERSIONS = (
    "2015-05-01-preview", "2015-06-15", "2016-03-30", "2016-04-30-preview", "2017-03-30", "2017-12-01",
    "2018-04-01", "2018-06-01", "2018-10-01", "2019-03-01", "2019-07-01", "2019-12-01", "2020-06-01",
    "2020-12-01", "2021-03-01", "2021-04-01", "2021-07-01", "2021-11-01", "2022-03-01", "2022-08-01",
    "2022-11-01", "2023-03-01", "2023-07-01", "2023-09-01", "2024-03-01", "2024-07-01", "2024-11-01",
    "2025-04-01", "2025-11-01", "2026-04-01",
)
def os_type(res: dict) -> str:
    sp = res.get("properties", {}).get("storageProfile") or {}
    declared = (sp.get("osDisk") or {}).get("osType")
    if declared:
        return "Windows" if str(declared).lower() == "windows" else "Linux"
    image = sp.get("imageReference") or {}
    text = " ".join(str(image.get(k, "")) for k in ("publisher", "offer", "sku")).lower()
    return "Windows" if "windows" in text else "Linux"


class VirtualMachine(ResourceType):
    type = "Microsoft.Compute/virtualMachines"
    api_versions = COMPUTE_API_VERSIONS

    def __init__(self, type_name: str | None = None):
        super().__init__(type_name)
        self.actions = {"runcommand": self.run_command, "start": self._noop, "restart": self._noop,
                        "poweroff": self._noop, "deallocate": self._noop}

    # -- identity (the shared model in identity.py, spelt the Compute way) -------------------------
    identity_style = COMPUTE_STYLE

    # -- resource lifecycle -----------------------------------------------------------------
    def validate(self, call: Call, body: dict, existing: dict | None) -> None:
        super().validate(call, body, existing)
        if existing is None:
            props = body.get("properties")
            if not isinstance(props, dict) or not isinstance(props.get("hardwareProfile"), dict):
                raise ArmError(400, "InvalidParameter", "Required parameter 'hardwareProfile' is missing (null).")

    def create(self, call: Call, rid: str, body: dict) -> dict:
        res = super().create(call, rid, body)
        props = res["properties"]
        os_profile = dict(props.get("osProfile") or {})
        os_profile.pop("adminPassword", None)  # ARM never returns secrets
        if os_profile:
            props["osProfile"] = os_profile
        props["vmId"] = str(uuid.uuid4())
        props["timeCreated"] = res[INTERNAL]["created"]
        call.state.vm_secrets[secrets.token_urlsafe(24)] = rid
        return res

    def replace(self, call: Call, existing: dict, body: dict) -> dict:
        res = super().replace(call, existing, body)
        res["properties"]["vmId"] = existing["properties"].get("vmId")
        res["properties"]["timeCreated"] = existing["properties"].get("timeCreated")
        osp = dict(res["properties"].get("osProfile") or {})
        osp.pop("adminPassword", None)
        if osp:
            res["properties"]["osProfile"] = osp
        return res

    def on_delete(self, call: Call, existing: dict) -> None:
        for secret, rid in list(call.state.vm_secrets.items()):
            if rid.lower() == existing["id"].lower():
                del call.state.vm_secrets[secret]

    # -- actions -----------------------------------------------------------------------------
    def _noop(self, call: Call, res: dict):
        return 200, None

    def run_command(self, call: Call, res: dict):
        body = call.body if isinstance(call.body, dict) else None
        if not body or not body.get("commandId"):
            raise ArmError(400, "InvalidParameter", "Required parameter 'commandId' is missing (null).")
        command = str(body["commandId"])
        osname = os_type(res)
        expected = "RunPowerShellScript" if osname == "Windows" else "RunShellScript"
        if command.lower() != expected.lower():
            raise ArmError(409 if command.lower() in ("runpowershellscript", "runshellscript") else 400,
                           "OperationNotAllowed" if command.lower() in ("runpowershellscript", "runshellscript")
                           else "InvalidParameter",
                           f"The command '{command}' is not supported on a {osname} virtual machine; "
                           f"use '{expected}'.")
        script = body.get("script") or []
        if isinstance(script, str):
            script = [script]
        return call.emu.guests.start_run_command(call, res, "\n".join(str(s) for s in script),
                                                 body.get("parameters") or [])


class VirtualMachineScaleSet(VirtualMachine):
    type = "Microsoft.Compute/virtualMachineScaleSets"

    def validate(self, call: Call, body: dict, existing: dict | None) -> None:
        ResourceType.validate(self, call, body, existing)
