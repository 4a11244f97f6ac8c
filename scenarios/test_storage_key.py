"""Storage via access key: the VM's system-assigned identity gets Storage Account Key Operator
Service Role on the account, fetches an ARM token from IMDS, calls ``listKeys`` with the page's
api-version (2016-12-01), then uploads and downloads a blob with the key: as Shared Key REST
calls from the VM (what Az.Storage and ``az storage blob`` send) and through azure-storage-blob.

Pages: the Windows and Linux "access Azure Storage via access key" tutorials (registry family
``storage_key``). Denials: ``listKeys`` before the grant and with Reader only is
``AuthorizationFailed``; a regenerated key stops working while the new one reads the blob.
"""
from __future__ import annotations

import email.utils

import pytest

from fixtures.storage import assert_storage_denied, key_list, sdk_blob, storage_client
from milab import redact, registry
from milab.cloud.storage.signing import shared_key_authorization

from .helpers import assert_denied, assert_ok, imds_token

VARIANTS = [t.variant for t in registry.TUTORIALS if t.family == "storage_key"]
pytestmark = [pytest.mark.tutorial(family="storage_key"), pytest.mark.parametrize("variant", VARIANTS)]



def _list_keys(vm, facts, target, account, token):
    path = facts["arm_path"].format(subscription_id=target.subscription_id, resource_group=account.resource_group,
                                    account=account.name)
    return vm.http("POST", f"https://management.azure.com{path}?api-version={facts['arm_api_version']}",
                   {"Authorization": f"Bearer {token}"}, facts["request_body"])


def _keys_when_granted(vm, facts, target, account, token) -> list[dict]:
    got = target.wait_for(lambda: _list_keys(vm, facts, target, account, token), lambda r: r.status == 200,
                          "the Key Operator assignment to take effect")
    keys = assert_ok(got, "listKeys after the grant")["keys"]
    for k in keys:
        redact.register_secret(k.get("value", ""))
    return keys


def _shared_key_request(vm, facts, account, method, url, key, body=None, content_type=None):
    """A Shared Key request sent from the VM; the harness signs it with the key the VM fetched."""
    headers = {"x-ms-date": email.utils.formatdate(usegmt=True), **facts["storage_headers"]}
    if method == "PUT":
        headers["x-ms-blob-type"] = "BlockBlob"
    if content_type:
        headers["Content-Type"] = content_type
    signed = dict(headers)
    if body is not None:
        signed["Content-Length"] = str(len(body.encode()))
    raw = url.split(".blob.core.windows.net", 1)[1]
    headers["Authorization"] = shared_key_authorization(method, raw, signed, account.name, key)
    return vm.http(method, url, headers, body)


def test_storage_key(storage_page, target, grant):
    facts, rg, vm, account, container = storage_page
    token = imds_token(vm, facts)

    # Before the grant ARM refuses the keys.
    assert_denied(_list_keys(vm, facts, target, account, token), 403, "AuthorizationFailed", "listKeys before the grant")

    # Grant Storage Account Key Operator Service Role on the account, then listKeys as the page does.
    grant(vm.principal_id, facts["role"], account.id)
    keys = _keys_when_granted(vm, facts, target, account, token)
    assert [k["keyName"] for k in keys] == facts["key_names"]
    for k in keys:
        assert set(facts["response_keys"]) <= set(k), k
        assert k["permissions"].lower() == facts["key_permissions"].lower()
    key = keys[0]["value"]

    # Upload and download the page's file with the key (Shared Key REST calls from the VM).
    url = account.blob_url(container.name, facts["blob_name"])
    put = _shared_key_request(vm, facts, account, "PUT", url, key, facts["blob_content"], "text/plain")
    assert put.status == 201, f"upload with the key: {put.status} {redact.redact(put.body[:300])}"
    got = _shared_key_request(vm, facts, account, "GET", url, key)
    assert got.status == 200 and got.body == facts["blob_content"], f"download: {got.status} {got.body[:200]}"

    # The same with azure-storage-blob and the key inside the VM.
    sdk_url = account.blob_url(container.name, "sdk-" + facts["blob_name"])
    assert sdk_blob(vm, "upload", sdk_url, data=facts["blob_content"], credential=key) == {"ok": True}
    assert sdk_blob(vm, "download", sdk_url, credential=key) == {"ok": True, "content": facts["blob_content"]}


def test_storage_key_denied_without_role(storage_page, target, grant):
    facts, rg, vm, account, container = storage_page
    token = imds_token(vm, facts)
    assert_denied(_list_keys(vm, facts, target, account, token), 403, "AuthorizationFailed",
                  "listKeys without any role")
    grant(vm.principal_id, "Reader", account.id)
    assert_denied(_list_keys(vm, facts, target, account, token), 403, "AuthorizationFailed",
                  "listKeys with Reader (which has no listkeys/action)")


def test_storage_key_denied_regenerated_key(storage_page, target, grant):
    facts, rg, vm, account, container = storage_page
    token = imds_token(vm, facts)
    grant(vm.principal_id, facts["role"], account.id)
    old = _keys_when_granted(vm, facts, target, account, token)[0]["value"]
    url = account.blob_url(container.name, facts["blob_name"])
    put = _shared_key_request(vm, facts, account, "PUT", url, old, facts["blob_content"], "text/plain")
    assert put.status == 201, f"upload with the key: {put.status} {put.body[:300]}"

    # The operator regenerates key1: the old value stops working, the blob stays.
    new_keys = storage_client(target).storage_accounts.regenerate_key(account.resource_group, account.name,
                                                                      {"keyName": "key1"})
    new = key_list(new_keys)[0].value
    redact.register_secret(new)
    assert new != old
    stale = target.wait_for(lambda: _shared_key_request(vm, facts, account, "GET", url, old),
                            lambda r: r.status == 403, "the regenerated key to take effect")
    assert_storage_denied(stale, 403, "AuthenticationFailed", "a regenerated (old) key")
    out = sdk_blob(vm, "download", url, credential=old)
    assert (out.get("status"), out.get("code")) == (403, "AuthenticationFailed"), out
    fresh = _shared_key_request(vm, facts, account, "GET", url, new)
    assert fresh.status == 200 and fresh.body == facts["blob_content"], f"new key: {fresh.status} {fresh.body[:200]}"
