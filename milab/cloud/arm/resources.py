"""Microsoft.Resources: subscriptions and resource groups."""
from __future__ import annotations

import re

from .base import INTERNAL, Call, ResourceType
from .errors import ArmError

RESOURCES_API_VERSIONS = (
    "2014-04-01", "2014-04-01-preview", "2015-01-01", "2015-11-01", "2016-02-01", "2016-06-01", "2016-07-01",
    "2016-09-01", "2017-05-10", "2017-08-01", "2018-02-01", "2018-05-01", "2019-03-01", "2019-05-01",
    "2019-05-10", "2019-06-01", "2019-07-01", "2019-08-01", "2019-10-01", "2019-11-01", "2020-01-01",
    "2020-06-01", "2020-08-01", "2020-10-01", "2021-01-01", "2021-04-01", "2022-01-01", "2022-09-01",
    "2022-12-01", "2023-07-01", "2024-03-01", "2024-07-01", "2024-11-01", "2025-01-01", "2025-03-01",
    "2025-04-01",
)

_RG_NAME = re.compile(r"^[-\w._()]{1,90}$", re.UNICODE)


class Subscription(ResourceType):
    type = "Microsoft.Resources/subscriptions"
    api_versions = RESOURCES_API_VERSIONS
    identity_style = None

    def document(self, call: Call) -> dict:
        s = call.state
        return {"id": f"/subscriptions/{s.subscription_id}", "subscriptionId": s.subscription_id,
                "tenantId": s.tenant_id, "displayName": s.subscription_name, "state": "Enabled",
                "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01", "quotaId": "milab",
                                         "spendingLimit": "Off"},
                "authorizationSource": "RoleBased"}


class ResourceGroup(ResourceType):
    type = "Microsoft.Resources/subscriptions/resourceGroups"
    api_versions = RESOURCES_API_VERSIONS
    identity_style = None

    def validate(self, call: Call, body: dict, existing: dict | None) -> None:
        super().validate(call, body, existing)
        name = call.ref.resource_group or ""
        if not _RG_NAME.match(name) or name.endswith("."):
            raise ArmError(400, "InvalidResourceGroup",
                           f"The provided resource group name '{name}' has these invalid characters: the name may "
                           f"contain letters, digits, underscores, periods, hyphens and parentheses, up to 90, "
                           f"and may not end in a period.")
        if existing is not None and body.get("location") and \
                body["location"].replace(" ", "").lower() != existing["location"]:
            raise ArmError(409, "InvalidResourceGroupLocation",
                           f"Invalid resource group location '{body['location']}'. The Resource group already "
                           f"exists in location '{existing['location']}'.")

    def create(self, call: Call, rid: str, body: dict) -> dict:
        # ARM spells a group's id one way whatever the request path said: ".../resourcegroups/x" in a
        # request answers "id": "/subscriptions/{s}/resourceGroups/x" (azure-cli recordings, e.g.
        # identity/tests/latest/recordings/test_identity_management.yaml).
        rid = f"/subscriptions/{call.state.subscription_id}/resourceGroups/{call.ref.resource_group}"
        res = super().create(call, rid, body)
        res["name"] = call.ref.resource_group
        res["properties"] = {"provisioningState": "Succeeded"}
        res.setdefault("tags", body.get("tags") or {})
        return res

    def render(self, call: Call, res: dict) -> dict:
        out = super().render(call, res)
        out["type"] = "Microsoft.Resources/resourceGroups"
        if not out.get("tags"):
            out.pop("tags", None)
        # ARM returns the group the way it was created; older api-versions list the same keys
        return {k: out[k] for k in ("id", "name", "type", "location", "tags", "managedBy", "properties") if k in out}


__all__ = ["Subscription", "ResourceGroup", "RESOURCES_API_VERSIONS", "INTERNAL"]
