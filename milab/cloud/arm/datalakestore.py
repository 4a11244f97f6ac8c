"""Microsoft.DataLakeStore/accounts (Data Lake Storage Gen1, retired on 2024-02-29).

The account document follows the REST specs' ``Accounts_Create`` / ``Accounts_Get`` examples
(``specification/datalake-store/resource-manager/Microsoft.DataLakeStore/stable/2016-11-01``):
``endpoint`` ``<name>.azuredatalakestore.net``, ``accountId``, ``state`` Active, encryption,
firewall and trusted-identity-provider settings, ``currentTier``/``newTier``. Creation finishes
synchronously (201, ``provisioningState`` Succeeded). The account's file system (its root
directory, owned by the account's creator with permissions ``770``, which only the creator and
the super-users reach) is kept in the stored resource for the WebHDFS data plane
(``milab/cloud/datalake/gen1.py``) and goes with the account.
"""
from __future__ import annotations

import re
import uuid

from .base import INTERNAL, Call, ResourceType, now_iso
from .errors import ArmError

ACCOUNT_TYPE = "Microsoft.DataLakeStore/accounts"
API_VERSIONS = ("2015-10-01-preview", "2016-11-01")
_NAME = re.compile(r"^[a-z0-9]{3,24}$")
ROOT_MODE = 0o770


class DataLakeStoreAccount(ResourceType):
    type = ACCOUNT_TYPE
    api_versions = API_VERSIONS
    created_status = 201

    def validate(self, call: Call, body: dict, existing: dict | None) -> None:
        name = call.ref.name or ""
        if existing is None and not _NAME.match(name):
            # Accounts_Create: "accountName ... pattern ^[a-z0-9]+$, 3 to 24 characters"
            raise ArmError(400, "InvalidAccountName",
                           f"The account name '{name}' is invalid: it must be 3 to 24 lower-case letters and digits.")
        super().validate(call, body, existing)
        if existing is None:
            for r in call.state.resources.values():
                if r.get("type", "").lower() == ACCOUNT_TYPE.lower() and r.get("name") == name:
                    raise ArmError(409, "AccountNameNotAvailable", f"The account name '{name}' is already in use.")

    def create(self, call: Call, rid: str, body: dict) -> dict:
        from ..datalake.tree import Tree
        res = super().create(call, rid, body)
        props = res["properties"]
        created = now_iso()
        props.update({
            "provisioningState": "Succeeded", "state": "Active", "endpoint": f"{call.ref.name}.azuredatalakestore.net",
            "accountId": str(uuid.uuid4()), "creationTime": created, "lastModifiedTime": created,
            "encryptionState": props.get("encryptionState") or "Enabled",
            "encryptionConfig": props.get("encryptionConfig") or {"type": "ServiceManaged"},
            "encryptionProvisioningState": "Succeeded",
            "firewallState": props.get("firewallState") or "Disabled", "firewallRules": [],
            "virtualNetworkRules": [], "firewallAllowAzureIps": props.get("firewallAllowAzureIps") or "Disabled",
            "trustedIdProviderState": props.get("trustedIdProviderState") or "Disabled", "trustedIdProviders": [],
            "newTier": props.get("newTier") or "Consumption", "currentTier": props.get("newTier") or "Consumption",
        })
        creator = call.caller_oid
        res[INTERNAL]["webhdfs"] = Tree.new(creator, creator, ROOT_MODE).doc
        return res

    def replace(self, call: Call, existing: dict, body: dict) -> dict:
        return self.retag(existing, body)

    def patch(self, call: Call, existing: dict, body: dict) -> dict:
        res = self.replace(call, existing, body if isinstance(body, dict) else {})
        res["properties"] = {**res["properties"], "lastModifiedTime": now_iso()}
        return res

    def render(self, call: Call, res: dict) -> dict:
        out = super().render(call, res)
        out.setdefault("tags", {})
        return out


TYPES = (DataLakeStoreAccount(),)
