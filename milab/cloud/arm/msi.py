"""Microsoft.ManagedIdentity/userAssignedIdentities: a resource whose creation makes a service principal."""
from __future__ import annotations

import re

from .base import INTERNAL, Call, ResourceType, now_iso
from .errors import ArmError
from .identity import user_identity_resource

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,127}$")


def msi_cased(resource_id: str) -> str:
    """An identity's id as Microsoft.ManagedIdentity spells it: ``resourcegroups`` in lower case,
    whatever the request said. Recorded: ``PUT .../resourceGroups/cli_test_identity_mgmt_000001/
    providers/Microsoft.ManagedIdentity/userAssignedIdentities/myidentity`` answers ``"id":
    "/subscriptions/.../resourcegroups/cli_test_identity_mgmt_000001/providers/..."`` (azure-cli,
    identity/tests/latest/recordings/test_identity_management.yaml, create and list)."""
    parts = resource_id.split("/")
    if len(parts) > 4 and parts[3].lower() == "resourcegroups":
        parts[3] = "resourcegroups"
    return "/".join(parts)


# Microsoft.ManagedIdentity returns ARM's ``systemData`` (createdBy/createdByType/createdAt and the
# lastModified* three) from api-version 2023-01-31 on; 2022-01-31-preview and older do not list it
# (Azure/bicep-types-az generated/msi/microsoft.managedidentity/2023-01-31/types.md against
# 2022-01-31-preview/types.md). A service principal's call is recorded as its appId with
# createdByType "Application" (e.g. azure-sdk-for-js recordings: "createdBy":"azure_client_id",
# "createdByType":"Application"), a managed identity's as "ManagedIdentity".
SYSTEM_DATA_SINCE = "2023-01-31"


def _actor(call: Call) -> tuple[str, str]:
    claims = call.claims or {}
    if claims.get("xms_mirid"):
        return claims.get("appid") or claims.get("oid", ""), "ManagedIdentity"
    if claims.get("idtyp") == "app" or not claims.get("upn"):
        return claims.get("appid") or claims.get("azp") or claims.get("oid", ""), "Application"
    return claims["upn"], "User"


def _touch(call: Call, res: dict, created: bool) -> None:
    by, kind = _actor(call)
    at = now_iso()
    record = dict((res.get(INTERNAL) or {}).get("system_data") or {})
    if created or not record:
        record.update(createdBy=by, createdByType=kind, createdAt=at)
    record.update(lastModifiedBy=by, lastModifiedByType=kind, lastModifiedAt=at)
    res[INTERNAL] = {**(res.get(INTERNAL) or {}), "system_data": record}


class UserAssignedIdentity(ResourceType):
    type = "Microsoft.ManagedIdentity/userAssignedIdentities"
    api_versions = ("2015-08-31-preview", "2018-11-30", "2021-09-30-preview", "2022-01-31-preview",
                    "2023-01-31", "2023-07-31-preview", "2024-11-30", "2025-01-31-preview",
                    "2025-05-31-preview")  # the last is what azure-cli 2.91 sends
    identity_style = None  # an identity is not a host of identities

    def validate(self, call: Call, body: dict, existing: dict | None) -> None:
        super().validate(call, body, existing)
        if existing is None and not _NAME.match(call.ref.name or ""):
            raise ArmError(400, "InvalidResourceName",
                           f"Resource name {call.ref.name} is invalid. The name can contain only letters, numbers, "
                           f"underscores and hyphens, must start with a letter or number, and be 3 to 128 characters.")

    def create(self, call: Call, rid: str, body: dict) -> dict:
        res = super().create(call, msi_cased(rid), body)  # stored as returned: what clients pass on
        sp = call.state.new_managed_identity("user-assigned", call.ref.name, res["id"])
        res["properties"] = {"tenantId": call.state.tenant_id, "principalId": sp.object_id, "clientId": sp.app_id}
        _touch(call, res, created=True)
        return res

    def replace(self, call: Call, existing: dict, body: dict) -> dict:
        res = self.retag(existing, body)
        _touch(call, res, created=False)  # systemData: who changed it, when
        return res

    def patch(self, call: Call, existing: dict, body: dict) -> dict:
        return self.replace(call, existing, body)

    def render(self, call: Call, res: dict) -> dict:
        out = super().render(call, res)
        out["id"] = msi_cased(out["id"])
        props = dict(out["properties"])
        if call.api_version < "2018-11-30":
            p = props
            props["clientSecretUrl"] = (f"https://control-{res.get('location', 'westus')}.identity.azure.net"
                                        f"{res['id']}/credentials?tid={p['tenantId']}&oid={p['principalId']}"
                                        f"&aid={p['clientId']}")
        out["properties"] = props
        out.setdefault("tags", {})
        system_data = (res.get(INTERNAL) or {}).get("system_data")
        if system_data and call.api_version >= SYSTEM_DATA_SINCE:
            out["systemData"] = dict(system_data)
        return out

    def on_delete(self, call: Call, existing: dict) -> None:
        call.state.remove_principal(existing["properties"].get("principalId"))


identity_resource = user_identity_resource


__all__ = ["UserAssignedIdentity", "identity_resource", "INTERNAL"]
