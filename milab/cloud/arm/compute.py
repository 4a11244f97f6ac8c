"""Microsoft.Compute/virtualMachines (and scale sets) with managed identities, and Run Command.

Identity formats follow the api-version: before 2018-06-01 user-assigned identities are
an ``identityIds`` array; from 2018-06-01 a ``userAssignedIdentities`` dictionary. PUT
replaces the identity; PATCH with the dictionary format merges (a ``null`` value removes
an identity), and a type without ``UserAssigned`` drops every user-assigned identity.
"""
from __future__ import annotations

import secrets
import uuid

from .base import INTERNAL, Call, ResourceType, now_iso
from .errors import ArmError
from . import identity

DICT_FORMAT_FROM = "2018-06-01"
COMPUTE_STYLE = identity.IdentityStyle(both="SystemAssigned, UserAssigned", dict_format_from=DICT_FORMAT_FROM,
                                       keep_on_put_without_identity=True)  # Compute keeps it (see identity.py)

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
        add_guest(call.state, rid)
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
        remove_guests(call, existing["id"])

    views = {"instanceView": lambda call, res: _instance_view(res)}

    def render(self, call: Call, res: dict) -> dict:
        out = super().render(call, res)
        # GET ...?$expand=instanceView (az vm create reads the new VM's power state this way)
        if "instanceview" in call.query.get("$expand", "").lower() and isinstance(out.get("properties"), dict):
            out["properties"] = {**out["properties"], "instanceView": _instance_view(res)}
        return out

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


def add_guest(state, host_id: str) -> str:
    """Make ``host_id`` (a VM, a scale-set instance, a container group, a site) a guest: processes run
    in its context carry this secret, and IMDS answers for the host's identities."""
    secret = secrets.token_urlsafe(24)
    state.vm_secrets[secret] = host_id
    return secret


def remove_guests(call: Call, host_id: str) -> None:
    """``host_id`` is deleted: its guests' credential and its disk go with it."""
    for secret, rid in list(call.state.vm_secrets.items()):
        if rid.lower() == host_id.lower():
            del call.state.vm_secrets[secret]
    call.emu.guests.drop_disks(host_id)


def _instance_view(res: dict) -> dict:
    now = res.get(INTERNAL, {}).get("created")
    return {"statuses": [{"code": "ProvisioningState/succeeded", "level": "Info",
                          "displayStatus": "Provisioning succeeded", "time": now},
                         {"code": "PowerState/running", "level": "Info", "displayStatus": "VM running"}],
            "vmAgent": {"vmAgentVersion": "2.7.41491.1102", "statuses": [
                {"code": "ProvisioningState/succeeded", "level": "Info", "displayStatus": "Ready",
                 "message": "Guest Agent is running", "time": now}]},
            "computerName": (res.get("properties", {}).get("osProfile") or {}).get("computerName")}


class VirtualMachineScaleSet(VirtualMachine):
    """A scale set: ``sku.capacity`` instances (``.../virtualMachines/{instanceId}``), each a guest whose
    IMDS answers for the set's identities (identity.py's ``identity_host``). PUT and PATCH change the
    identity as on VMs (the shared model), and a new capacity scales out or in (highest ids go first)."""

    type = "Microsoft.Compute/virtualMachineScaleSets"

    def __init__(self, type_name: str | None = None):
        super().__init__(type_name)
        self.actions = {"start": self._noop, "restart": self._noop, "poweroff": self._noop,
                        "deallocate": self._noop, "manualupgrade": self._noop, "delete": self._delete_instances}

    def validate(self, call: Call, body: dict, existing: dict | None) -> None:
        ResourceType.validate(self, call, body, existing)
        if existing is None and not isinstance(body.get("sku"), dict):
            raise ArmError(400, "InvalidParameter", "Required parameter 'sku' is missing (null).")
        self._capacity(body.get("sku"))

    @staticmethod
    def _capacity(sku) -> int | None:
        if not isinstance(sku, dict) or "capacity" not in sku:
            return None
        cap = sku["capacity"]
        if not isinstance(cap, int) or isinstance(cap, bool) or not 0 <= cap <= 1000:
            raise ArmError(400, "InvalidParameter", f"The value '{cap}' of parameter 'sku.capacity' is not valid: "
                                                    f"a scale set has from 0 to 1000 instances.")
        return cap

    def _profile(self, res: dict) -> dict:
        vmp = dict(res.get("properties", {}).get("virtualMachineProfile") or {})
        osp = dict(vmp.get("osProfile") or {})
        osp.pop("adminPassword", None)
        if osp:
            vmp["osProfile"] = osp
        return vmp

    def create(self, call: Call, rid: str, body: dict) -> dict:
        res = ResourceType.create(self, call, rid, body)
        res["properties"]["uniqueId"] = str(uuid.uuid4())
        res["properties"]["timeCreated"] = res[INTERNAL]["created"]
        res["properties"]["virtualMachineProfile"] = self._profile(res)
        res.setdefault("sku", {}).setdefault("capacity", 2)
        res[INTERNAL]["next_instance"] = 0
        return res

    def replace(self, call: Call, existing: dict, body: dict) -> dict:
        res = ResourceType.replace(self, call, existing, body)
        res["properties"]["uniqueId"] = existing["properties"].get("uniqueId")
        res["properties"]["timeCreated"] = existing["properties"].get("timeCreated")
        res["properties"]["virtualMachineProfile"] = self._profile(res)
        res.setdefault("sku", dict(existing.get("sku") or {}))
        res["sku"].setdefault("capacity", (existing.get("sku") or {}).get("capacity", 0))
        return res

    def patch(self, call: Call, existing: dict, body: dict) -> dict:
        self._capacity(body.get("sku") if isinstance(body, dict) else None)
        res = super().patch(call, existing, body)
        if isinstance(body.get("sku"), dict):
            res["sku"] = {**(existing.get("sku") or {}), **body["sku"]}
        res["properties"]["virtualMachineProfile"] = self._profile(res)
        return res

    def on_delete(self, call: Call, existing: dict) -> None:
        existing.setdefault(INTERNAL, {})["deleting"] = True

    def instances(self, state, res: dict) -> list[dict]:
        prefix = res["id"].lower() + "/virtualmachines/"
        return sorted((r for k, r in state.resources.items() if k.startswith(prefix) and k.count("/") ==
                       prefix.count("/")), key=lambda r: int(r.get("instanceId", "0")))

    def after_write(self, call: Call, res: dict) -> None:
        """Scale to ``sku.capacity`` (called by the front door after PUT and PATCH store the set)."""
        want = int((res.get("sku") or {}).get("capacity") or 0)
        have = self.instances(call.state, res)
        for inst in have[want:][::-1]:
            INSTANCE.on_delete(call, inst, scale_in=True)
            call.state.delete(inst["id"])
        for _ in range(max(0, want - len(have))):
            n = res[INTERNAL].get("next_instance", 0)
            res[INTERNAL]["next_instance"] = n + 1
            call.state.put(INSTANCE.new(call, res, str(n)))
        # instances follow the set's model (storage profile, OS profile)
        for inst in self.instances(call.state, res):
            INSTANCE.follow(inst, res)

    def _delete_instances(self, call: Call, res: dict):
        body = call.body if isinstance(call.body, dict) else {}
        ids = [str(i) for i in body.get("instanceIds") or []]
        if not ids:
            raise ArmError(400, "InvalidParameter", "Required parameter 'instanceIds' is missing (null).")
        for inst in self.instances(call.state, res):
            if inst.get("instanceId") in ids:
                INSTANCE.on_delete(call, inst)
                call.state.delete(inst["id"])
        return 200, None

    def render(self, call: Call, res: dict) -> dict:
        out = super().render(call, res)
        out.get("properties", {}).pop("vmId", None)
        return out


class ScaleSetInstance(ResourceType):
    """``virtualMachineScaleSets/{set}/virtualMachines/{instanceId}``: made and removed by scaling the set."""

    type = "Microsoft.Compute/virtualMachineScaleSets/virtualMachines"
    api_versions = COMPUTE_API_VERSIONS
    identity_style = None  # the instances' identities are the set's (identity.identity_host)
    views = {"instanceView": lambda call, res: _instance_view(res)}

    def __init__(self, type_name: str | None = None):
        super().__init__(type_name)
        self.actions = {"runcommand": VirtualMachine.run_command.__get__(self), "start": self._noop,
                        "restart": self._noop, "poweroff": self._noop, "deallocate": self._noop}

    def _noop(self, call: Call, res: dict):
        return 200, None

    def validate(self, call: Call, body: dict, existing: dict | None) -> None:
        if existing is None:
            raise ArmError(409, "OperationNotAllowed", "Scale set instances are created by setting the scale set's "
                                                       "'sku.capacity'.")
        super().validate(call, body, existing)

    def new(self, call: Call, vmss: dict, instance_id: str) -> dict:
        rid = f"{vmss['id']}/virtualMachines/{instance_id}"
        res = {"id": rid, "name": f"{vmss['name']}_{instance_id}", "type": self.type, "instanceId": instance_id,
               "location": vmss.get("location"), "sku": {k: v for k, v in (vmss.get("sku") or {}).items()
                                                        if k != "capacity"},
               "properties": {"latestModelApplied": True, "vmId": str(uuid.uuid4()), "provisioningState": "Succeeded",
                              "timeCreated": now_iso()},
               INTERNAL: {"created": now_iso(), "identity_host": vmss["id"]}}
        self.follow(res, vmss)
        add_guest(call.state, rid)
        return res

    @staticmethod
    def follow(inst: dict, vmss: dict) -> None:
        vmp = (vmss.get("properties") or {}).get("virtualMachineProfile") or {}
        props = inst["properties"]
        if vmp.get("storageProfile"):
            props["storageProfile"] = vmp["storageProfile"]
        osp = dict(vmp.get("osProfile") or {})
        prefix = osp.pop("computerNamePrefix", vmss["name"][:9])
        osp.pop("adminPassword", None)
        osp["computerName"] = f"{prefix}{int(inst['instanceId']):06X}"
        props["osProfile"] = osp
        if vmp.get("networkProfile"):
            props["networkProfileConfiguration"] = vmp["networkProfile"]

    def on_delete(self, call: Call, existing: dict, scale_in: bool = False) -> None:
        remove_guests(call, existing["id"])
        parent = call.state.get(existing["id"].rsplit("/", 2)[0])
        if parent is not None and not scale_in and not (parent.get(INTERNAL) or {}).get("deleting"):
            sku = dict(parent.get("sku") or {})
            sku["capacity"] = max(0, int(sku.get("capacity") or 0) - 1)
            parent["sku"] = sku

    def render(self, call: Call, res: dict) -> dict:
        out = super().render(call, res)
        if "instanceview" in call.query.get("$expand", "").lower():
            out["properties"] = {**out["properties"], "instanceView": _instance_view(res)}
        return out


INSTANCE = ScaleSetInstance()
