"""Microsoft.Storage: storage accounts (keys, service and account SAS) and blob containers.

Every account is backed by its own Azurite process (``milab/cloud/storage``); ARM hands out
the keys that process checks. Operations are authorized by the front door with their real
actions: ``listKeys`` -> ``Microsoft.Storage/storageAccounts/listkeys/action`` (Storage
Account Key Operator Service Role has it, Reader does not), ``regenerateKey``,
``listServiceSas``, ``listAccountSas``, and ``.../blobServices/containers/write`` for
containers.

Creating an account answers ``202 Accepted`` with an empty body and a ``Location`` to poll
(``.../providers/Microsoft.Storage/locations/{location}/asyncoperations/{id}?monitor=true``),
which answers 200 with the account, as Storage does (recorded live in the Azure CLI's
``test_create_storage_account_v2.yaml``); azure-mgmt-storage's ``begin_create`` and ``az storage
account create`` poll it. The emulator finishes at once, so the first poll succeeds; ``Retry-After:
1`` keeps the SDK poller from its 30 s default.

Containers are one set with the Blob API's (:mod:`milab.cloud.storage.gateway` mirrors the
containers created, deleted or changed there): a container PUT here is created in Azurite, a
DELETE is carried out there (recorded as a tombstone on the account until Azurite confirms, so a
crash in between cannot resurrect it), and public access follows the account's
``allowBlobPublicAccess``: false when unset (the current REST specs and SDKs), and then a
container cannot be made public (``409 PublicAccessNotPermitted``).
"""
from __future__ import annotations

import base64
import os
import re
import uuid
from typing import Any

from ..storage.signing import SasError, account_sas, sas_version_for, service_sas
from ..authorization import scope_contains
from .base import INTERNAL, Call, ResourceType, now_iso
from .errors import ArmError

ACCOUNT_TYPE = "Microsoft.Storage/storageAccounts"
CONTAINER_TYPE = "Microsoft.Storage/storageAccounts/blobServices/containers"
BLOB_SERVICE_TYPE = "Microsoft.Storage/storageAccounts/blobServices"

STORAGE_API_VERSIONS = (
    "2015-05-01-preview", "2015-06-15", "2016-01-01", "2016-05-01", "2016-12-01", "2017-06-01", "2017-10-01",
    "2018-02-01", "2018-03-01-preview", "2018-07-01", "2018-11-01", "2019-04-01", "2019-06-01",
    "2020-08-01-preview", "2021-01-01", "2021-02-01", "2021-04-01", "2021-06-01", "2021-08-01", "2021-09-01",
    "2022-05-01", "2022-09-01", "2023-01-01", "2023-04-01", "2023-05-01", "2024-01-01", "2025-01-01",
    "2025-06-01", "2025-08-01", "2026-09-01",
)
CONTAINER_API_VERSIONS = tuple(v for v in STORAGE_API_VERSIONS if v >= "2018-02-01")
TOMBSTONES = "deleted_containers"  # on the account: container deletions Azurite has not confirmed
PUBLIC_LEVELS = {"none": "None", "container": "Container", "blob": "Blob"}
MSG_PUBLIC = "Public access is not permitted on this storage account."

_ACCOUNT_NAME = re.compile(r"^[a-z0-9]{3,24}$")
_CONTAINER_NAME = re.compile(r"^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


def new_key() -> str:
    return base64.b64encode(os.urandom(64)).decode()


def _gateway(call: Call):
    return call.emu.data_planes.get(".blob.core.windows.net")


def _account_name(res: dict) -> str:
    return res["name"]


def _key_permissions(call: Call) -> str:
    return "Full" if call.api_version < "2018-01-01" else "FULL"


def _keys_doc(call: Call, res: dict) -> dict:
    keys = res[INTERNAL]["keys"]
    created = res[INTERNAL].get("keys_created", {})
    out = []
    for name in ("key1", "key2"):
        k = {"keyName": name, "value": keys[name], "permissions": _key_permissions(call)}
        if call.api_version >= "2021-01-01":
            k["creationTime"] = created.get(name, res[INTERNAL].get("created"))
        out.append(k)
    return {"keys": out}


def list_keys(call: Call, res: dict) -> tuple[int, Any]:
    return 200, _keys_doc(call, res)


def regenerate_key(call: Call, res: dict) -> tuple[int, Any]:
    body = call.body if isinstance(call.body, dict) else {}
    name = str(body.get("keyName") or "")
    if name.lower() not in ("key1", "key2"):
        raise ArmError(400, "InvalidValuesForRequestParameters",
                       f"Values for request parameters are invalid: keyName '{name}'. Valid values are key1, key2.")
    name = name.lower()
    res[INTERNAL]["keys"][name] = new_key()
    res[INTERNAL].setdefault("keys_created", {})[name] = now_iso()
    call.state.put(res)
    gw = _gateway(call)
    if gw is not None:
        keys = res[INTERNAL]["keys"]
        gw.azurite.rekey(res["name"], keys["key1"], keys["key2"])
    return 200, _keys_doc(call, res)


def _sas_key(res: dict, body: dict) -> str:
    key_to_sign = str(body.get("keyToSign") or "key1").lower()
    if key_to_sign not in ("key1", "key2"):
        raise ArmError(400, "InvalidValuesForRequestParameters", f"keyToSign '{key_to_sign}' is not key1 or key2.")
    return res[INTERNAL]["keys"][key_to_sign]


def _list_sas(call: Call, res: dict, kind: str, sign) -> tuple[int, Any]:
    """listServiceSas / listAccountSas: a SAS token signed with the key the body names."""
    body = call.body if isinstance(call.body, dict) else None
    if body is None:
        raise ArmError(400, "InvalidRequestContent", f"The request content was invalid: a {kind}SasParameters "
                                                     f"JSON object is required.")
    params = {k: str(v) for k, v in body.items() if v is not None}
    try:
        token = sign(res["name"], _sas_key(res, body), params, sas_version_for(call.api_version))
    except SasError as e:
        raise ArmError(400, "InvalidValuesForRequestParameters", str(e)) from None
    return 200, {f"{kind.lower()}SasToken": token}


def list_service_sas(call: Call, res: dict) -> tuple[int, Any]:
    return _list_sas(call, res, "Service", service_sas)


def list_account_sas(call: Call, res: dict) -> tuple[int, Any]:
    return _list_sas(call, res, "Account", account_sas)


def allows_public_access(account: dict) -> bool:
    return (account.get("properties") or {}).get("allowBlobPublicAccess") is True


class StorageAccount(ResourceType):
    type = ACCOUNT_TYPE
    api_versions = STORAGE_API_VERSIONS
    created_status = 202  # Storage accepts a create and finishes it asynchronously (see the module doc)
    actions = {"listKeys": list_keys, "regenerateKey": regenerate_key, "listServiceSas": list_service_sas,
               "listAccountSas": list_account_sas}

    def validate(self, call: Call, body: dict, existing: dict | None) -> None:
        name = call.ref.name or ""
        if existing is None and not _ACCOUNT_NAME.match(name):
            raise ArmError(400, "AccountNameInvalid",
                           f"{name} is not a valid storage account name. Storage account name must be between 3 and "
                           f"24 characters in length and use numbers and lower-case letters only.")
        super().validate(call, body, existing)
        if existing is None:
            for r in call.state.resources.values():
                if r.get("type", "").lower() == ACCOUNT_TYPE.lower() and r.get("name") == name:
                    raise ArmError(409, "StorageAccountAlreadyTaken", f"The storage account named {name} is "
                                                                      f"already taken.")
            if not isinstance(body.get("sku"), dict) or not body["sku"].get("name"):
                raise ArmError(400, "MissingRequiredProperty" if "sku" not in body else "InvalidRequestContent",
                               "The 'sku' property with a 'name' (e.g. Standard_LRS) is required.")

    def create(self, call: Call, rid: str, body: dict) -> dict:
        res = super().create(call, rid, body)
        name = call.ref.name
        props = res["properties"]
        loc = res.get("location", "westus")
        created = now_iso()
        props.setdefault("supportsHttpsTrafficOnly", True)
        props.setdefault("allowBlobPublicAccess", False)
        props.update({
            "provisioningState": "Succeeded", "creationTime": created, "primaryLocation": loc,
            "statusOfPrimary": "available",
            "primaryEndpoints": {"blob": f"https://{name}.blob.core.windows.net/",
                                 "queue": f"https://{name}.queue.core.windows.net/",
                                 "table": f"https://{name}.table.core.windows.net/",
                                 "file": f"https://{name}.file.core.windows.net/",
                                 "dfs": f"https://{name}.dfs.core.windows.net/",
                                 "web": f"https://{name}.z5.web.core.windows.net/"},
        })
        if res.get("kind") in (None, "StorageV2", "BlobStorage"):
            props.setdefault("accessTier", "Hot")
        res.setdefault("kind", "StorageV2")
        sku = dict(res.get("sku") or {"name": "Standard_LRS"})
        sku.setdefault("tier", "Premium" if str(sku.get("name", "")).startswith("Premium") else "Standard")
        res["sku"] = sku
        keys = {"key1": new_key(), "key2": new_key()}
        res[INTERNAL].update({"keys": keys, "keys_created": {"key1": created, "key2": created}})
        # the blob service every account has, parent of its containers
        svc_id = f"{rid}/blobServices/default"
        call.state.put({"id": svc_id, "name": "default", "type": BLOB_SERVICE_TYPE,
                        "properties": {"cors": {"corsRules": []}, "deleteRetentionPolicy": {"enabled": False}},
                        INTERNAL: {"created": created}})
        gw = _gateway(call)
        if gw is not None:
            gw.azurite.add(name, keys["key1"], keys["key2"])
        self._accepted(call, res)
        return res

    def _accepted(self, call: Call, res: dict) -> None:
        """202 with Location: an operation that has already succeeded, whose monitor answers the
        account (the ARM front door serves ``.../locations/{l}/asyncoperations/{id}``)."""
        op_id = str(uuid.uuid4())
        loc = res.get("location", "westus")
        location = (f"{call.base_url}/subscriptions/{call.state.subscription_id}/providers/Microsoft.Storage/"
                    f"locations/{loc}/asyncoperations/{op_id}?monitor=true&api-version={call.api_version}")
        call.emu.operations[op_id] = {"status": "Succeeded", "startTime": now_iso(), "endTime": now_iso(),
                                      "result": self.render(call, res, accepted=False), "caller": call.caller_oid,
                                      "location": location}
        call.headers.update({"Location": location, "Retry-After": "1"})
        call.storage_accepted = True  # the 202 has no body

    def replace(self, call: Call, existing: dict, body: dict) -> dict:
        res = dict(existing)
        if "tags" in body:
            res["tags"] = body.get("tags") or {}
        if isinstance(body.get("properties"), dict):
            props = dict(res["properties"])
            for k, v in body["properties"].items():
                if k not in ("provisioningState", "primaryEndpoints", "creationTime"):
                    props[k] = v
            res["properties"] = props
        return res

    def patch(self, call: Call, existing: dict, body: dict) -> dict:
        return self.replace(call, existing, body if isinstance(body, dict) else {})

    def render(self, call: Call, res: dict, accepted: bool = True) -> dict | None:
        if accepted and getattr(call, "storage_accepted", False) and call.method == "PUT":
            return None
        out = super().render(call, res)
        out.setdefault("tags", {})
        return out

    def on_delete(self, call: Call, existing: dict) -> None:
        gw = _gateway(call)
        if gw is not None:
            gw.azurite.remove(existing["name"])


class BlobService(ResourceType):
    type = BLOB_SERVICE_TYPE
    api_versions = CONTAINER_API_VERSIONS
    location_required = False
    identity_style = None


def container_document(rid: str, name: str, public_access: str, metadata: dict, account_id: str) -> dict:
    """A blob container as ARM stores it (created through ARM or through the Blob API)."""
    return {"id": rid, "name": name, "type": CONTAINER_TYPE, "etag": f'"0x{uuid.uuid4().hex[:15].upper()}"',
            "properties": {"publicAccess": public_access, "metadata": dict(metadata or {}),
                           "leaseStatus": "Unlocked", "leaseState": "Available",
                           "hasImmutabilityPolicy": False, "hasLegalHold": False, "deleted": False,
                           "remainingRetentionDays": 0, "defaultEncryptionScope": "$account-encryption-key",
                           "denyEncryptionScopeOverride": False,
                           "lastModifiedTime": now_iso()},
            INTERNAL: {"created": now_iso(), "account": account_id}}


def forget_container(state, rid: str) -> None:
    """A container deleted through the Blob API: its ARM resource and the role assignments at or
    below it go, as when ARM deletes it."""
    state.delete(rid)
    for k, ra in list(state.role_assignments.items()):
        if scope_contains(rid, ra["properties"]["scope"]):
            del state.role_assignments[k]


async def push_public_access(gw, account: str, port: int, container: str, level: str) -> None:
    """Set a container's public access level in Azurite, keeping its stored access policies."""
    raw = f"/{container}?restype=container&comp=acl"
    status, acl = await gw.admin(account, port, "GET", raw)
    body = acl if status == 200 and acl.strip() else b'<?xml version="1.0" encoding="utf-8"?><SignedIdentifiers/>'
    headers = {"Content-Type": "application/xml"}
    if level != "None":
        headers["x-ms-blob-public-access"] = level.lower()
    await gw.admin(account, port, "PUT", raw, headers=headers, body=body)


def _public_level(call: Call, body: dict, account: dict | None) -> str | None:
    """The publicAccess a container PUT/PATCH asks for (None: not given), checked against the account."""
    props = body.get("properties") if isinstance(body.get("properties"), dict) else {}
    if "publicAccess" not in props:
        return None
    level = PUBLIC_LEVELS.get(str(props.get("publicAccess") or "None").lower())
    if level is None:
        raise ArmError(400, "InvalidValuesForRequestParameters",
                       f"Values for request parameters are invalid: publicAccess '{props.get('publicAccess')}'. "
                       f"Valid values are None, Container, Blob.")
    if level != "None" and account is not None and not allows_public_access(account):
        # as recorded live: {"error":{"code":"PublicAccessNotPermitted","message":"Public access is not
        # permitted on this storage account.\nRequestId:..."}} (409)
        raise ArmError(409, "PublicAccessNotPermitted", MSG_PUBLIC)
    return level


class BlobContainer(ResourceType):
    type = CONTAINER_TYPE
    api_versions = CONTAINER_API_VERSIONS
    location_required = False
    identity_style = None

    @staticmethod
    def _account(call: Call) -> dict | None:
        return call.state.get(call.ref.id.split("/blobServices/")[0])

    def validate(self, call: Call, body: dict, existing: dict | None) -> None:
        super().validate(call, body, existing)
        name = call.ref.name or ""
        if existing is None and (name != "$root" and not _CONTAINER_NAME.match(name)):
            raise ArmError(400, "ContainerOperationFailure",
                           f"The specified resource name '{name}' contains invalid characters or is not 3-63 "
                           f"characters of lower-case letters, digits and single hyphens.")
        _public_level(call, body, self._account(call))

    def create(self, call: Call, rid: str, body: dict) -> dict:
        props = dict(body.get("properties") or {})
        level = _public_level(call, body, self._account(call)) or "None"
        account_id = rid.split("/blobServices/")[0]
        res = container_document(rid, call.ref.name, level, props.get("metadata") or {}, account_id)
        account = call.ref.names[0]
        container = call.ref.name
        acct = self._account(call)
        if acct is not None and container in acct[INTERNAL].get(TOMBSTONES, []):
            acct[INTERNAL][TOMBSTONES].remove(container)
        gw = _gateway(call)
        if gw is not None:
            async def create_in_azurite(port: int) -> None:
                await gw.admin(account, port, "PUT", f"/{container}?restype=container")
                if level != "None":
                    await push_public_access(gw, account, port, container, level)
                await gw.azurite.flush()
            gw.azurite.after_ready(account, create_in_azurite)
        return res

    def replace(self, call: Call, existing: dict, body: dict) -> dict:
        res = dict(existing)
        props = dict(res["properties"])
        level = _public_level(call, body, self._account(call))
        if isinstance(body.get("properties"), dict) and "metadata" in body["properties"]:
            props["metadata"] = body["properties"]["metadata"] or {}
        if level is not None and level != props.get("publicAccess"):
            props["publicAccess"] = level
            gw = _gateway(call)
            if gw is not None:
                account, container = call.ref.names[0], existing["name"]

                async def set_in_azurite(port: int) -> None:
                    await push_public_access(gw, account, port, container, level)
                    await gw.azurite.flush()
                gw.azurite.after_ready(account, set_in_azurite)
        res["properties"] = props
        return res

    def patch(self, call: Call, existing: dict, body: dict) -> dict:
        return self.replace(call, existing, body if isinstance(body, dict) else {})

    def on_delete(self, call: Call, existing: dict) -> None:
        account = call.ref.names[0] if call.ref.names else existing["id"].split("/")[8]
        container = existing["name"]
        gw = _gateway(call)
        if gw is None or call.ref.type.lower() != CONTAINER_TYPE.lower():
            return  # deleting the account removes its Azurite with everything in it
        acct = self._account(call)
        if acct is not None:
            stones = acct[INTERNAL].setdefault(TOMBSTONES, [])
            if container not in stones:
                stones.append(container)

        async def delete_in_azurite(port: int) -> None:
            await gw.admin(account, port, "DELETE", f"/{container}?restype=container")
            await gw.azurite.flush()
            still = gw.account_resource(account)
            if still is not None and container in still[INTERNAL].get(TOMBSTONES, []):
                still[INTERNAL][TOMBSTONES].remove(container)
                call.state.save()
        gw.azurite.after_ready(account, delete_in_azurite)


TYPES = (StorageAccount(), BlobService(), BlobContainer())
