"""Helpers the storage tests share: accounts made through ARM, Shared Key requests, tokens from
the control API, role assignments (with conditions), Storage's error code, and
azure-storage-blob clients that reach the emulator through its proxy."""
from __future__ import annotations

import datetime as dt
import email.utils
import re
import time
import uuid

from milab.cloud.storage.signing import shared_key_authorization

API = "2023-01-01"
READER_DATA = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"  # Storage Blob Data Reader
CONTRIBUTOR_DATA = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"  # Storage Blob Data Contributor
OWNER_DATA = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"  # Storage Blob Data Owner
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
KEY_OPERATOR = "81a9662b-bebf-436f-a333-f67b29880f12"
STORAGE = "https://storage.azure.com/"


def expiry(hours: float = 1) -> str:
    """A SAS expiry time, ``hours`` from now."""
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def code(r) -> str | None:
    m = re.search(r"<Code>([^<]+)</Code>", r.text)
    return m.group(1) if m else None


def signed(http, w, method, raw, key, body=None, extra=None, scheme="https"):
    """A Shared Key request of account ``w`` (``raw``: path and query as sent)."""
    headers = {"x-ms-date": email.utils.formatdate(usegmt=True), "x-ms-version": "2021-08-06", **(extra or {})}
    to_sign = dict(headers)
    if body:
        to_sign["Content-Length"] = str(len(body))
    headers["Authorization"] = shared_key_authorization(method, raw, to_sign, w["name"], key)
    return http.request(method, f"{scheme}://{w['name']}.blob.core.windows.net{raw}", headers=headers, data=body,
                        timeout=60)


def token(control, oid, audience=STORAGE, offset=0):
    return control.call("POST", "/_milab/tokens", json={"object_id": oid, "audience": audience,
                                                         "issued_offset": offset, "lifetime": 3600})["access_token"]


def bearer(tok: str, version: str = "2021-08-06", **extra) -> dict:
    return {"Authorization": f"Bearer {tok}", "x-ms-version": version, **extra}


def grant(arm, sub, oid, role_guid, scope, condition=None, version="2.0"):
    """A role assignment; returns a function that deletes it."""
    name = str(uuid.uuid4())
    props = {"roleDefinitionId": f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{role_guid}",
             "principalId": oid}
    if condition is not None:
        props.update({"condition": condition, "conditionVersion": version})
    r = arm.call("PUT", f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}", "2022-04-01",
                 {"properties": props})
    assert r.status_code == 201, r.text
    return lambda: arm.call("DELETE", f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}",
                            "2022-04-01")


def identity(arm, sub, rg, name="id") -> str:
    r = arm.call("PUT", f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/"
                        f"userAssignedIdentities/{name}-{uuid.uuid4().hex[:6]}", "2023-01-31", {"location": "westus"})
    assert r.status_code in (200, 201), r.text
    return r.json()["properties"]["principalId"]


def make_account(arm, sub, rg, containers=(), prefix="sa", **properties) -> dict:
    """A storage account made through ARM, its containers and keys."""
    name = f"{prefix}{uuid.uuid4().hex[:12]}"
    path = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{name}"
    r = arm.call("PUT", path, API, {"location": "westus", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2",
                                    "properties": properties})
    assert r.status_code in (200, 202), r.text  # the 202 itself: test_account_create_is_accepted_then_polled
    for c in containers:
        r = arm.call("PUT", f"{path}/blobServices/default/containers/{c}", API, {"properties": {}})
        assert r.status_code in (200, 201), r.text
    keys = arm.call("POST", f"{path}/listKeys", API).json()["keys"]
    return {"sub": sub, "rg": rg, "name": name, "id": path, "path": path, "key1": keys[0]["value"],
            "key2": keys[1]["value"], "url": f"https://{name}.blob.core.windows.net"}


def container_id(w, container: str) -> str:
    return f"{w['id']}/blobServices/default/containers/{container}"


class StaticToken:
    """A TokenCredential for azure-storage-blob that returns one token minted by the control API."""

    def __init__(self, tok: str):
        self.tok = tok

    def get_token(self, *scopes, **kwargs):
        from azure.core.credentials import AccessToken
        return AccessToken(self.tok, int(time.time()) + 3000)


def blob_service(emu_env, w, credential):
    """azure-storage-blob's client for account ``w``, through the emulator's proxy."""
    from azure.storage.blob import BlobServiceClient
    return BlobServiceClient(w["url"], credential=credential, proxies={"https": emu_env["HTTPS_PROXY"],
                                                                      "http": emu_env["HTTP_PROXY"]},
                             connection_verify=emu_env["REQUESTS_CA_BUNDLE"])
