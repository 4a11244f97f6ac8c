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
from .msi import identity_resource

DICT_FORMAT_FROM = "2018-06-01"

COMPUTE_API_VERSIONS = (
    "2015-05-01-preview", "2015-06-15", "2016-03-30", "2016-04-30-preview", "2017-03-30", "2017-12-01",
    "2018-04-01", "2018-06-01", "2018-10-01", "2019-03-01", "2019-07-01", "2019-12-01", "2020-06-01",
    "2020-12-01", "2021-03-01", "2021-04-01", "2021-07-01", "2021-11-01", "2022-03-01", "2022-08-01",
    "2022-11-01", "2023-03-01", "2023-07-01", "2023-09-01", "2024-03-01", "2024-07-01", "2024-11-01",
    "2025-04-01", "2025-11-01", "2026-04-01",
)
_IDENTITY_TYPES = {
    "systemassigned": "SystemAssigned",
    "userassigned": "UserAssigned",
    "systemassigned,userassigned": "SystemAssigned, UserAssigned",
    "none": "None",
}


def _norm_type(value) -> str:
    key = str(value).replace(" ", "").lower()
    if key not in _IDENTITY_TYPES:
        raise ArmError(400, "InvalidParameter",
                       f"The value '{value}' of parameter 'identity.type' is invalid. Allowed values are "
                       f"'SystemAssigned', 'UserAssigned', 'SystemAssigned, UserAssigned' and 'None'.")
    return _IDENTITY_TYPES[key]


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

    # -- identity -----------------------------------------------------------------------
    def _requested_user_ids(self, call: Call, identity: dict) -> dict[str, object] | None:
        """The user-assigned identities named in a request body, in the api-version's format
        (id -> {} or None for removal); None when the body names none."""
        dict_format = call.api_version >= DICT_FORMAT_FROM
        if dict_format:
            if "identityIds" in identity and "userAssignedIdentities" not in identity:
                raise ArmError(400, "InvalidParameter",
                               f"Parameter 'identity.identityIds' is not supported in api-version "
                               f"{call.api_version}; from {DICT_FORMAT_FROM} user-assigned identities are given "
                               f"as the dictionary 'identity.userAssignedIdentities'.")
            raw = identity.get("userAssignedIdentities")
            if raw is None:
                return None
            if not isinstance(raw, dict):
                raise ArmError(400, "InvalidParameter",
                               "Parameter 'identity.userAssignedIdentities' must be an object keyed by "
                               "identity resource IDs.")
            return dict(raw)
        if "userAssignedIdentities" in identity and "identityIds" not in identity:
            raise ArmError(400, "InvalidParameter",
                           f"Parameter 'identity.userAssignedIdentities' is not supported in api-version "
                           f"{call.api_version}; use the array 'identity.identityIds'.")
        raw = identity.get("identityIds")
        if raw is None:
            return None
        if not isinstance(raw, list):
            raise ArmError(400, "InvalidParameter", "Parameter 'identity.identityIds' must be an array.")
        return {str(i): {} for i in raw}

    def _check_identity_ids(self, call: Call, ids) -> dict[str, str]:
        """Canonical ids of existing user-assigned identities, keyed by lower-case id."""
        out = {}
        for raw in ids:
            if not str(raw).lower().startswith("/subscriptions/"):
                raise ArmError(400, "InvalidParameter",
                               f"The user-assigned identity '{raw}' is not a valid resource ID; it must start "
                               f"with '/subscriptions/'.")
            ident = identity_resource(call, raw)
            if ident is None:
                raise ArmError(400, "FailedIdentityOperation",
                               f"Identity operation for resource '{call.ref.id}' failed: the user assigned "
                               f"identity '{raw}' was not found.")
            call.authorize_linked("Microsoft.ManagedIdentity/userAssignedIdentities/assign/action", ident["id"])
            out[ident["id"].lower()] = ident["id"]
        return out

    def _apply_identity(self, call: Call, res: dict, identity: dict | None, merge: bool) -> None:
        """Set res[INTERNAL]['identity'] = {'system': principalId|None, 'user': [ids]}."""
        internal = res.setdefault(INTERNAL, {})
        current = internal.get("identity") or {"system": None, "user": []}
        if identity is None:
            if not merge:
                self._set_identity(call, res, current, system=False, user=[])
            return
        if not isinstance(identity, dict):
            raise ArmError(400, "InvalidParameter", "Parameter 'identity' must be an object.")
        if "type" not in identity:
            raise ArmError(400, "InvalidParameter", "Parameter 'identity.type' is required.")
        kind = _norm_type(identity["type"])
        requested = self._requested_user_ids(call, identity)
        want_system = "SystemAssigned" in kind
        user: list[str] = []
        if "UserAssigned" in kind:
            dict_format = call.api_version >= DICT_FORMAT_FROM
            if merge and dict_format:
                keep = {u.lower(): u for u in current["user"]}
                for k, v in (requested or {}).items():
                    if v is None:
                        keep.pop(str(k).lower(), None)
                    else:
                        keep.update(self._check_identity_ids(call, [k]))
                user = list(keep.values())
            elif requested is None:
                if merge:
                    user = list(current["user"])
            else:
                nulls = [k for k, v in requested.items() if v is None]
                if nulls and not merge:
                    raise ArmError(400, "InvalidParameter",
                                   "A null user-assigned identity is only allowed in a PATCH request.")
                user = list(self._check_identity_ids(call, [k for k, v in requested.items() if v is not None])
                            .values())
            if not user:
                raise ArmError(400, "InvalidParameter",
                               f"The identity type '{kind}' requires at least one user-assigned identity "
                               f"in '{'userAssignedIdentities' if dict_format else 'identityIds'}'.")
        elif requested:
            if any(v is not None for v in requested.values()):
                raise ArmError(400, "InvalidParameter",
                               f"User-assigned identities were given but the identity type is '{kind}'.")
        self._set_identity(call, res, current, system=want_system, user=user)

    def _set_identity(self, call: Call, res: dict, current: dict, system: bool, user: list[str]) -> None:
        sys_pid = current.get("system")
        if system and not sys_pid:
            sys_pid = call.state.new_managed_identity("system-assigned", res["name"], res["id"]).object_id
        if not system and sys_pid:
            call.state.remove_principal(sys_pid)
            sys_pid = None
        res[INTERNAL]["identity"] = {"system": sys_pid, "user": user}

    def render_identity(self, call: Call, res: dict) -> dict | None:
        ident = (res.get(INTERNAL) or {}).get("identity") or {"system": None, "user": []}
        system, user = ident.get("system"), ident.get("user") or []
        if not system and not user:
            return None
        kind = "SystemAssigned, UserAssigned" if system and user else ("SystemAssigned" if system else "UserAssigned")
        out: dict = {"type": kind}
        if system:
            out["principalId"] = system
            out["tenantId"] = call.state.tenant_id
        if user:
            if call.api_version >= DICT_FORMAT_FROM:
                ua = {}
                for uid in user:
                    ir = call.state.get(uid)
                    props = (ir or {}).get("properties", {})
                    ua[uid] = {"principalId": props.get("principalId"), "clientId": props.get("clientId")}
                out["userAssignedIdentities"] = ua
            else:
                out["identityIds"] = list(user)
        return out

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
        self._apply_identity(call, res, body.get("identity"), merge=False)
        call.state.vm_secrets[secrets.token_urlsafe(24)] = rid
        return res

    def replace(self, call: Call, existing: dict, body: dict) -> dict:
        res = super().replace(call, existing, body)
        res["properties"]["vmId"] = existing["properties"].get("vmId")
        res[INTERNAL] = dict(existing.get(INTERNAL) or {})
        osp = dict(res["properties"].get("osProfile") or {})
        osp.pop("adminPassword", None)
        if osp:
            res["properties"]["osProfile"] = osp
        self._apply_identity(call, res, body.get("identity"), merge=False)
        return res

    def patch(self, call: Call, existing: dict, body: dict) -> dict:
        res = super().patch(call, existing, body)
        res[INTERNAL] = dict(existing.get(INTERNAL) or {})
        if "identity" in body:
            self._apply_identity(call, res, body.get("identity"), merge=True)
        return res

    def render(self, call: Call, res: dict) -> dict:
        out = super().render(call, res)
        ident = self.render_identity(call, res)
        if ident:
            out["identity"] = ident
        else:
            out.pop("identity", None)
        return out

    def on_delete(self, call: Call, existing: dict) -> None:
        ident = (existing.get(INTERNAL) or {}).get("identity") or {}
        call.state.remove_principal(ident.get("system"))
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
