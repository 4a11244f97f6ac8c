"""Microsoft.KeyVault: vaults, their access policies, soft-deleted vaults and purge, and the
ARM view of secrets.

Shapes and rules (cited where they are checked):

* ``PUT .../vaults/{name}`` answers 200 with the vault and ``provisioningState`` Succeeded
  (azure-rest-api-specs ``KeyVault/examples/2025-05-01/createVault.json``; the Azure CLI's
  ``test_keyvault_mgmt.yaml`` recording shows 200 on create too). ``vaultUri`` is
  ``https://<name>.vault.azure.net/`` (that recording's GET).
* Names: 3-24 letters, digits and hyphens, starting with a letter, ending with a letter or
  digit, no consecutive hyphens; otherwise 400 ``VaultNameNotValid`` with the message ARM
  deployments report (hashicorp/terraform-provider-azurerm and Azure/azure-cli issues).
* Names are global: another live vault of that name is 409 ``VaultAlreadyExists``; a
  soft-deleted one of this subscription holds the name until it is purged or recovered
  (``properties.createMode: recover``): 409 ``ConflictError`` "Exist soft deleted vault with the
  same name." (both messages as deployments report them; Learn "Common error codes for Azure
  Key Vault").
* Soft delete is always on: ``enableSoftDelete: false`` on a new vault is changed to true, as
  the Key Vault team describes (Azure/azure-powershell#15970); ``softDeleteRetentionInDays`` is
  7-90 (default 90); purge protection, once on, stays on.
* ``enableRbacAuthorization`` defaults to false, and to true for vaults created with
  api-version 2026-02-01 or later (Learn, "Azure Key Vault access control default").
* ``DELETE`` moves the vault to ``/subscriptions/{s}/providers/Microsoft.KeyVault/locations/
  {location}/deletedVaults/{name}`` (type ``Microsoft.KeyVault/deletedVaults``, shape of
  ``listDeletedVaults.json``), secrets and all; ``POST .../purge`` (200, no body:
  ``purgeDeletedVault.json``) frees the name, and is refused under purge protection.
* ``PUT .../vaults/{name}/accessPolicies/{add|replace|remove}`` (``updateAccessPoliciesAdd.json``)
  is authorized by the front door as ``Microsoft.KeyVault/vaults/accessPolicies/write``, the
  operation ARM publishes for it; the answer has type ``Microsoft.KeyVault/vaults/accessPolicies``.
* ``.../vaults/{name}/secrets/{secret}`` (``Microsoft.KeyVault/vaults/secrets``) is the ARM view
  of a data-plane secret: no value on read; PUT sets a new version (as templates do).
"""
from __future__ import annotations

import copy
import re
import time
from typing import Any

from ..keyvault import secrets as S
from ..keyvault.access import SECRET_PERMISSIONS
from .base import INTERNAL, Call, ResourceType, now_iso
from .errors import ArmError

VAULT_TYPE = "Microsoft.KeyVault/vaults"
DELETED_TYPE = "Microsoft.KeyVault/deletedVaults"
LOCATION_DELETED_TYPE = "Microsoft.KeyVault/locations/deletedVaults"
POLICIES_TYPE = "Microsoft.KeyVault/vaults/accessPolicies"
SECRET_TYPE = "Microsoft.KeyVault/vaults/secrets"

#: the api-versions of Microsoft.KeyVault/vaults (azure-rest-api-specs, stable and preview;
#: azure-mgmt-keyvault 14.1 sends 2026-05-15)
KEYVAULT_API_VERSIONS = (
    "2015-06-01", "2016-10-01", "2018-02-14-preview", "2018-02-14", "2019-09-01", "2020-04-01-preview",
    "2021-04-01-preview", "2021-06-01-preview", "2021-10-01", "2021-11-01-preview", "2022-02-01-preview",
    "2022-07-01", "2022-11-01", "2023-02-01", "2023-07-01", "2023-08-01-preview", "2024-04-01-preview",
    "2024-11-01", "2024-12-01-preview", "2025-05-01", "2026-02-01", "2026-03-01-preview", "2026-04-01-preview",
    "2026-04-01", "2026-05-15",
)
RBAC_DEFAULT_FROM = "2026-02-01"

_NAME = re.compile(r"^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_KINDS = {
    "secrets": SECRET_PERMISSIONS,
    "keys": ("all", "encrypt", "decrypt", "wrapkey", "unwrapkey", "sign", "verify", "get", "list", "create", "update",
             "import", "delete", "backup", "restore", "recover", "purge", "release", "rotate", "getrotationpolicy",
             "setrotationpolicy"),
    "certificates": ("all", "get", "list", "delete", "create", "import", "update", "managecontacts", "getissuers",
                     "listissuers", "setissuers", "deleteissuers", "manageissuers", "recover", "purge", "backup",
                     "restore"),
    "storage": ("all", "get", "list", "delete", "set", "update", "regeneratekey", "recover", "purge", "backup",
                "restore", "setsas", "listsas", "getsas", "deletesas"),
}
_SETTABLE = ("enabledForDeployment", "enabledForDiskEncryption", "enabledForTemplateDeployment",
             "publicNetworkAccess", "networkAcls")
DAY = 86400


def deleted_id(subscription: str, location: str, name: str) -> str:
    return f"/subscriptions/{subscription}/providers/Microsoft.KeyVault/locations/{location}/deletedVaults/{name}"


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _vaults(call: Call) -> list[dict]:
    return [r for r in call.state.resources.values() if r.get("type") == VAULT_TYPE]


def deleted_vaults(call: Call) -> list[dict]:
    """Soft-deleted vaults of the subscription; those past their scheduled purge date are purged."""
    out = []
    for r in list(call.state.resources.values()):
        if r.get("type") != DELETED_TYPE:
            continue
        if r[INTERNAL]["purge_at"] <= time.time():
            call.state.delete(r["id"])
            continue
        out.append(r)
    return out


def _bad(message: str, code: str = "BadRequest") -> ArmError:
    return ArmError(400, code, message)


def _bool(props: dict, key: str) -> bool | None:
    v = props.get(key)
    if v is not None and not isinstance(v, bool):
        raise _bad(f"The value of the property '{key}' must be a boolean.")
    return v


def normalize_policies(value: Any, where: str = "properties.accessPolicies") -> list[dict]:
    """Validate access-policy entries (tenantId, objectId, optional applicationId, permissions)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _bad(f"Invalid value for {where}: an array of access policy entries is expected.")
    out = []
    for i, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise _bad(f"Invalid value for {where}[{i}]: an object is expected.")
        for key in ("tenantId", "objectId"):
            v = entry.get(key)
            if not isinstance(v, str) or not (_GUID.match(v) or (key == "objectId" and v)):
                raise _bad(f"Invalid value for {where}[{i}].{key}: '{v}'.")
        if not _GUID.match(entry["tenantId"]):
            raise _bad(f"Invalid value for {where}[{i}].tenantId: '{entry['tenantId']}'.")
        perms = entry.get("permissions")
        if not isinstance(perms, dict):
            raise _bad(f"Invalid value for {where}[{i}].permissions: an object is expected.")
        clean: dict[str, list[str]] = {}
        for kind, values in perms.items():
            allowed = _KINDS.get(kind)
            if allowed is None or not isinstance(values, list):
                raise _bad(f"Invalid value for {where}[{i}].permissions.{kind}.")
            for j, p in enumerate(values):
                if not isinstance(p, str) or p.lower() not in allowed:
                    raise _bad(f"Invalid value found at {where}[{i}].permissions.{kind}[{j}]: {p}")
            clean[kind] = list(values)
        item = {"tenantId": entry["tenantId"], "objectId": entry["objectId"], "permissions": clean}
        if entry.get("applicationId"):
            item["applicationId"] = entry["applicationId"]
        out.append(item)
    return out


def _same_entry(a: dict, b: dict) -> bool:
    return (a["tenantId"].lower() == b["tenantId"].lower() and a["objectId"].lower() == b["objectId"].lower()
            and (a.get("applicationId") or "").lower() == (b.get("applicationId") or "").lower())


def apply_policies(current: list[dict], change: list[dict], kind: str) -> list[dict]:
    """``add`` merges permissions into matching entries (or adds entries), ``replace`` sets them,
    ``remove`` takes them away and drops entries left with none."""
    out = copy.deepcopy(current)
    for entry in change:
        match = next((e for e in out if _same_entry(e, entry)), None)
        if kind == "remove":
            if match is None:
                continue
            for perm_kind, values in entry["permissions"].items():
                drop = {v.lower() for v in values}
                match["permissions"][perm_kind] = [v for v in match["permissions"].get(perm_kind, [])
                                                   if v.lower() not in drop]
            if not entry["permissions"] or not any(match["permissions"].values()):
                out.remove(match)
        elif match is None:
            out.append(copy.deepcopy(entry))
        elif kind == "replace":
            match["permissions"] = copy.deepcopy(entry["permissions"])
        else:
            for perm_kind, values in entry["permissions"].items():
                have = match["permissions"].setdefault(perm_kind, [])
                have.extend(v for v in values if v.lower() not in {h.lower() for h in have})
    return out


class Vault(ResourceType):
    type = VAULT_TYPE
    api_versions = KEYVAULT_API_VERSIONS
    identity_style = None  # a vault has no managed identity
    created_status = 200  # Key Vault answers a create with 200 (recorded), the spec also lists 201

    # -- write -----------------------------------------------------------------------------------
    def validate(self, call: Call, body: dict, existing: dict | None) -> None:
        name = call.ref.name or ""
        if existing is None and not _NAME.match(name):
            raise ArmError(400, "VaultNameNotValid",
                           f"The vault name '{name}' is invalid. A vault's name must be between 3-24 alphanumeric "
                           f"characters. The name must begin with a letter, end with a letter or digit, and not "
                           f"contain consecutive hyphens. Follow this link for more information: "
                           f"https://go.microsoft.com/fwlink/?linkid=2147742")
        super().validate(call, body, existing)
        props = body.get("properties")
        if not isinstance(props, dict):
            raise _bad("The request content is invalid: 'properties' (with tenantId and sku) is required.")
        recover = str(props.get("createMode") or "default").lower() == "recover"
        if existing is None:
            self._check_name_free(call, name, recover)
        if recover:
            return
        tid = props.get("tenantId")
        if not isinstance(tid, str) or not _GUID.match(tid):
            raise _bad(f"The value '{tid}' of the property 'tenantId' is not a valid tenant id.")
        sku = props.get("sku")
        if not isinstance(sku, dict) or str(sku.get("name", "")).lower() not in ("standard", "premium"):
            raise _bad("The property 'sku' must be {\"family\": \"A\", \"name\": \"standard\" | \"premium\"}.")
        normalize_policies(props.get("accessPolicies"))
        for key in ("enableSoftDelete", "enablePurgeProtection", "enableRbacAuthorization",
                    "enabledForDeployment", "enabledForDiskEncryption", "enabledForTemplateDeployment"):
            _bool(props, key)
        days = props.get("softDeleteRetentionInDays")
        if days is not None and (isinstance(days, bool) or not isinstance(days, int) or not 7 <= days <= 90):
            raise _bad(f"The property 'softDeleteRetentionInDays' must be an integer between 7 and 90, not {days}.")
        if existing is not None and (existing["properties"].get("enablePurgeProtection")
                                     and props.get("enablePurgeProtection") is False):
            raise _bad("The property 'enablePurgeProtection' cannot be set to false: once enabled, purge protection "
                       "cannot be disabled.")

    def _check_name_free(self, call: Call, name: str, recover: bool) -> None:
        rid = call.ref.id.lower()
        for r in _vaults(call):
            if r["name"].lower() == name.lower() and r["id"].lower() != rid:
                raise ArmError(409, "VaultAlreadyExists",
                               f"The vault name '{name}' is already in use. Vault names are globally unique so it is "
                               f"possible that the name is already taken. If you are sure that the vault name was not "
                               f"taken then it is possible that a vault with the same name was recently deleted but "
                               f"not purged after being placed in a recoverable state. If the vault is in a "
                               f"recoverable state then the vault will need to be purged before reusing the name. For "
                               f"more information about VaultAlreadyExists, soft delete and purging a vault follow "
                               f"this link https://go.microsoft.com/fwlink/?linkid=2147740.")
        held = next((d for d in deleted_vaults(call) if d["name"].lower() == name.lower()), None)
        if held is not None and not recover:
            raise ArmError(409, "ConflictError", "Exist soft deleted vault with the same name. ")
        if held is None and recover:
            raise ArmError(404, "ResourceNotFound",
                           f"No soft-deleted vault named '{name}' exists in this subscription to recover.")

    def create(self, call: Call, rid: str, body: dict) -> dict:
        props = body["properties"]
        if str(props.get("createMode") or "").lower() == "recover":
            return self._recover(call, rid, body)
        res = super().create(call, rid, {k: v for k, v in body.items() if k != "properties"})
        rbac = props.get("enableRbacAuthorization")
        if rbac is None:  # the default changed with api-version 2026-02-01, for new vaults only
            rbac = call.api_version >= RBAC_DEFAULT_FROM
        res["properties"] = {
            "sku": {"family": props["sku"].get("family") or "A", "name": props["sku"]["name"].lower()},
            "tenantId": props["tenantId"],
            "accessPolicies": normalize_policies(props.get("accessPolicies")),
            "enabledForDeployment": bool(props.get("enabledForDeployment")),
            "enabledForDiskEncryption": bool(props.get("enabledForDiskEncryption")),
            "enabledForTemplateDeployment": bool(props.get("enabledForTemplateDeployment")),
            "enableSoftDelete": True,
            "softDeleteRetentionInDays": props.get("softDeleteRetentionInDays") or 90,
            "enableRbacAuthorization": bool(rbac),
            "vaultUri": f"https://{call.ref.name.lower()}.vault.azure.net/",
            "provisioningState": "Succeeded",
            "publicNetworkAccess": props.get("publicNetworkAccess") or "Enabled",
        }
        if props.get("enablePurgeProtection"):
            res["properties"]["enablePurgeProtection"] = True
        if props.get("networkAcls") is not None:
            res["properties"]["networkAcls"] = props["networkAcls"]
        res.setdefault("tags", {})
        S.store(res)
        return res

    def _recover(self, call: Call, rid: str, body: dict) -> dict:
        held = next(d for d in deleted_vaults(call) if d["name"].lower() == call.ref.name.lower())
        res = copy.deepcopy(held[INTERNAL]["vault"])
        call.state.delete(held["id"])
        if "tags" in body:
            res["tags"] = body.get("tags") or {}
        for secret in S.latest_names(res):
            call.state.put({"id": f"{res['id']}/secrets/{secret['name']}", "name": secret["name"],
                            "type": SECRET_TYPE, "properties": {}, INTERNAL: {}})
        return res

    def replace(self, call: Call, existing: dict, body: dict) -> dict:
        """PUT on an existing vault: the body's settings replace the stored ones (access policies
        included); the name, URI, soft-delete retention and the secrets stay."""
        res = dict(existing)
        props = dict(existing["properties"])
        new = body["properties"]
        if str(new.get("createMode") or "").lower() == "recover":
            return res
        props["sku"] = {"family": new["sku"].get("family") or "A", "name": new["sku"]["name"].lower()}
        props["tenantId"] = new["tenantId"]
        props["accessPolicies"] = normalize_policies(new.get("accessPolicies"))
        self._update_flags(props, new)
        res["properties"] = props
        if "tags" in body:
            res["tags"] = body.get("tags") or {}
        return res

    @staticmethod
    def _update_flags(props: dict, new: dict) -> None:
        for key in _SETTABLE:
            if key in new and new[key] is not None:
                props[key] = new[key]
        if new.get("enableRbacAuthorization") is not None:
            props["enableRbacAuthorization"] = new["enableRbacAuthorization"]
        if new.get("enablePurgeProtection"):
            props["enablePurgeProtection"] = True

    def patch(self, call: Call, existing: dict, body: dict) -> dict:
        """PATCH (VaultPatchParameters): only what the body names changes."""
        if not isinstance(body, dict):
            raise ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be "
                                                         "deserialized: the body must be a JSON object.")
        new = body.get("properties") or {}
        if not isinstance(new, dict):
            raise _bad("The property 'properties' must be an object.")
        if existing["properties"].get("enablePurgeProtection") and new.get("enablePurgeProtection") is False:
            raise _bad("The property 'enablePurgeProtection' cannot be set to false: once enabled, purge protection "
                       "cannot be disabled.")
        res = dict(existing)
        props = dict(existing["properties"])
        if "accessPolicies" in new:
            props["accessPolicies"] = normalize_policies(new["accessPolicies"])
        if isinstance(new.get("sku"), dict) and new["sku"].get("name"):
            props["sku"] = {"family": new["sku"].get("family") or "A", "name": str(new["sku"]["name"]).lower()}
        self._update_flags(props, new)
        res["properties"] = props
        if "tags" in body:
            res["tags"] = body.get("tags") or {}
        return res

    def render(self, call: Call, res: dict) -> dict:
        out = super().render(call, res)
        out.setdefault("tags", {})
        return out

    # -- delete: soft delete ---------------------------------------------------------------------
    def on_delete(self, call: Call, existing: dict) -> None:
        loc = existing.get("location", "westus")
        t = time.time()
        days = int(existing["properties"].get("softDeleteRetentionInDays") or 90)
        rid = deleted_id(call.state.subscription_id, loc, existing["name"])
        call.state.put({
            "id": rid, "name": existing["name"], "type": DELETED_TYPE,
            "properties": {"vaultId": existing["id"], "location": loc, "deletionDate": _iso(t),
                           "scheduledPurgeDate": _iso(t + days * DAY), "tags": existing.get("tags") or {},
                           "purgeProtectionEnabled": bool(existing["properties"].get("enablePurgeProtection"))},
            INTERNAL: {"vault": copy.deepcopy(existing), "purge_at": t + days * DAY, "created": now_iso()}})


def purge_deleted_vault(call: Call, res: dict) -> tuple[int, Any]:
    if res["properties"].get("purgeProtectionEnabled"):
        raise ArmError(409, "Conflict",
                       f"Vault '{res['name']}' has purge protection enabled: it cannot be purged and will be purged "
                       f"automatically on {res['properties']['scheduledPurgeDate']}.")
    call.state.delete(res["id"])
    return 200, None


class DeletedVault(ResourceType):
    """A soft-deleted vault: read, listed under ``.../deletedVaults``, purged by POST."""
    type = LOCATION_DELETED_TYPE
    api_versions = KEYVAULT_API_VERSIONS
    identity_style = None
    location_required = False
    actions = {"purge": purge_deleted_vault}

    def validate(self, call: Call, body: dict, existing: dict | None) -> None:
        raise ArmError(405, "MethodNotAllowed", "A deleted vault cannot be written; recover it with a vault PUT "
                                                "whose properties.createMode is 'recover'.")

    def on_delete(self, call: Call, existing: dict) -> None:
        raise ArmError(405, "MethodNotAllowed", "A deleted vault is purged with POST .../purge.")


class AccessPolicies(ResourceType):
    """``PUT .../vaults/{v}/accessPolicies/{add|replace|remove}``: changes the vault's access
    policies and answers them. What is stored is the vault itself; nothing is kept at the
    accessPolicies id (a GET there finds nothing, as the real API has no GET)."""
    type = POLICIES_TYPE
    api_versions = KEYVAULT_API_VERSIONS
    identity_style = None
    location_required = False
    created_status = 200

    def validate(self, call: Call, body: dict, existing: dict | None) -> None:
        kind = (call.ref.name or "").lower()
        if kind not in ("add", "replace", "remove"):
            raise _bad(f"The access policy operation kind '{call.ref.name}' is invalid; it must be add, replace or "
                       f"remove.")
        if not isinstance(body, dict) or not isinstance(body.get("properties"), dict) \
                or not isinstance(body["properties"].get("accessPolicies"), list):
            raise _bad("The request content is invalid: 'properties.accessPolicies' (an array) is required.")
        normalize_policies(body["properties"]["accessPolicies"])

    def create(self, call: Call, rid: str, body: dict) -> dict:
        vault = call.state.get(rid.rsplit("/", 2)[0])
        change = normalize_policies(body["properties"]["accessPolicies"])
        res = dict(vault)
        res["properties"] = dict(vault["properties"])
        res["properties"]["accessPolicies"] = apply_policies(vault["properties"].get("accessPolicies") or [], change,
                                                             call.ref.name.lower())
        return res  # the front door stores it: the vault with its new policies

    def render(self, call: Call, res: dict) -> dict:
        return {"id": f"{res['id']}/accessPolicies/", "type": POLICIES_TYPE,
                "properties": {"accessPolicies": copy.deepcopy(res["properties"]["accessPolicies"])}}


class VaultSecret(ResourceType):
    """The ARM view of a data-plane secret (what ``az resource`` and templates see)."""
    type = SECRET_TYPE
    api_versions = KEYVAULT_API_VERSIONS
    identity_style = None
    location_required = False

    def _vault(self, call: Call, rid: str) -> dict:
        return call.state.get(rid.rsplit("/", 2)[0])

    def validate(self, call: Call, body: dict, existing: dict | None) -> None:
        super().validate(call, body, existing)
        props = body.get("properties")
        if not isinstance(props, dict) or not isinstance(props.get("value"), str):
            raise _bad("The request content is invalid: 'properties.value' (a string) is required.")

    def _set(self, call: Call, rid: str, body: dict) -> dict:
        vault = self._vault(call, rid)
        props = body["properties"]
        try:
            S.set_secret(vault, call.ref.name, {"value": props["value"], "contentType": props.get("contentType"),
                                                "attributes": props.get("attributes"), "tags": body.get("tags")})
        except S.KvError as e:
            raise ArmError(e.status, e.inner or e.code, e.message) from None
        call.state.put(vault)
        return {"id": rid, "name": call.ref.name, "type": SECRET_TYPE, "properties": {}, INTERNAL: {}}

    def create(self, call: Call, rid: str, body: dict) -> dict:
        return self._set(call, rid, body)

    def replace(self, call: Call, existing: dict, body: dict) -> dict:
        return self._set(call, existing["id"], body)

    def patch(self, call: Call, existing: dict, body: dict) -> dict:
        raise ArmError(405, "MethodNotAllowed", "Update a secret's attributes on the data plane (PATCH "
                                                "https://<vault>.vault.azure.net/secrets/<name>/<version>).")

    def on_delete(self, call: Call, existing: dict) -> None:
        if call.ref.type.lower() == SECRET_TYPE.lower():
            raise ArmError(405, "MethodNotAllowed", "Delete a secret on the data plane (DELETE "
                                                    "https://<vault>.vault.azure.net/secrets/<name>).")

    def render(self, call: Call, res: dict) -> dict:
        vault = self._vault(call, res["id"]) or {}
        secret = S.find(vault, res["name"]) if vault else None
        props: dict[str, Any] = {}
        if secret is not None:
            ver = secret["versions"][secret["latest"]]
            a = ver["attributes"]
            props["attributes"] = {k: a[k] for k in ("enabled", "nbf", "exp", "created", "updated")
                                   if a.get(k) is not None}
            if ver.get("contentType") is not None:
                props["contentType"] = ver["contentType"]
            props["secretUri"] = S.secret_id(vault, secret)
            props["secretUriWithVersion"] = S.secret_id(vault, secret, secret["latest"])
        out = {"id": res["id"], "name": res["name"], "type": SECRET_TYPE, "location": vault.get("location"),
               "properties": props}
        if secret is not None and secret["versions"][secret["latest"]].get("tags"):
            out["tags"] = dict(secret["versions"][secret["latest"]]["tags"])
        return out


class DeletedVaultListing(DeletedVault):
    type = DELETED_TYPE


TYPES = (Vault(), DeletedVault(), DeletedVaultListing(), AccessPolicies(), VaultSecret())

