"""Storage via SAS: the VM's system-assigned identity gets Storage Account Contributor on the
account, fetches an ARM token from IMDS, asks ``listServiceSas`` (api-version 2017-06-01) for a
container SAS with the page's body, then uploads and downloads a blob with it: as REST calls
from the VM and through azure-storage-blob.

Pages: the Windows and Linux "access Azure Storage via a SAS credential" tutorials (registry
family ``storage_sas``). Denials: ``listServiceSas`` before the grant, an expired SAS, a
permission the SAS lacks, a SAS for another container, a tampered signature.
"""
from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from fixtures.storage import assert_storage_denied, sdk_blob
from milab import registry

from .helpers import assert_denied, assert_ok, imds_token

VARIANTS = [t.variant for t in registry.TUTORIALS if t.family == "storage_sas"]
pytestmark = [pytest.mark.tutorial(family="storage_sas"), pytest.mark.parametrize("variant", VARIANTS)]



def _expiry(hours: float) -> str:
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _body(facts, account, container, expiry: str, **override) -> dict:
    body = json.loads(json.dumps(facts["request_body"]).replace("{account}", account.name)
                      .replace("{container}", container.name).replace("{expiry}", expiry))
    body.update(override)
    return body


def _list_service_sas(vm, facts, target, account, token, body: dict):
    path = facts["arm_path"].format(subscription_id=target.subscription_id, resource_group=account.resource_group,
                                    account=account.name)
    return vm.http("POST", f"https://management.azure.com{path}?api-version={facts['arm_api_version']}",
                   {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}, json.dumps(body))


def _sas(vm, facts, target, account, token, body: dict) -> str:
    got = target.wait_for(lambda: _list_service_sas(vm, facts, target, account, token, body),
                          lambda r: r.status == 200, "the Storage Account Contributor assignment to take effect")
    return assert_ok(got, "listServiceSas after the grant")[facts["response_key"]]


def _put(vm, facts, url, sas, data):
    return vm.http("PUT", f"{url}?{sas}", {**facts["storage_headers"], "x-ms-blob-type": "BlockBlob",
                                           "Content-Type": "text/plain"}, data)


def _get(vm, facts, url, sas):
    return vm.http("GET", f"{url}?{sas}", dict(facts["storage_headers"]))


@pytest.fixture
def granted(storage_page, target, grant):
    """The page's grant and ARM token: Storage Account Contributor on the account."""
    facts, rg, vm, account, container = storage_page
    grant(vm.principal_id, facts["role"], account.id)
    return imds_token(vm, facts)


def test_storage_sas(storage_page, target, grant):
    facts, rg, vm, account, container = storage_page
    token = imds_token(vm, facts)
    body = _body(facts, account, container, _expiry(2))

    # Before the grant ARM refuses to make a SAS.
    assert_denied(_list_service_sas(vm, facts, target, account, token, body), 403, "AuthorizationFailed",
                  "listServiceSas before the grant")

    grant(vm.principal_id, facts["role"], account.id)
    sas = _sas(vm, facts, target, account, token, body)
    fields = dict(p.split("=", 1) for p in sas.split("&"))
    assert fields["sv"] == facts["sas_version"] and fields["sr"] == body["signedResource"]
    assert fields["sp"] == body["signedPermission"] and fields["spr"] == body["signedProtocol"]
    assert "sig" in fields

    # Upload and download the page's file with the SAS.
    url = account.blob_url(container.name, facts["blob_name"])
    put = _put(vm, facts, url, sas, facts["blob_content"])
    assert put.status == 201, f"upload with the SAS: {put.status} {put.body[:300]}"
    got = _get(vm, facts, url, sas)
    assert got.status == 200 and got.body == facts["blob_content"], f"download: {got.status} {got.body[:200]}"

    # The same with azure-storage-blob and the SAS inside the VM.
    sdk_url = account.blob_url(container.name, "sdk-" + facts["blob_name"])
    assert sdk_blob(vm, "upload", f"{sdk_url}?{sas}", data=facts["blob_content"]) == {"ok": True}
    assert sdk_blob(vm, "download", f"{sdk_url}?{sas}") == {"ok": True, "content": facts["blob_content"]}


def test_storage_sas_denied_expired(storage_page, target, granted):
    facts, rg, vm, account, container = storage_page
    sas = _sas(vm, facts, target, account, granted,
               _body(facts, account, container, _expiry(-1), signedStart=_expiry(-3)))
    url = account.blob_url(container.name, facts["blob_name"])
    assert_storage_denied(_put(vm, facts, url, sas, facts["blob_content"]), 403, "AuthenticationFailed",
                          "an expired SAS")
    out = sdk_blob(vm, "upload", f"{url}?{sas}", data=facts["blob_content"])
    assert (out.get("status"), out.get("code")) == (403, "AuthenticationFailed"), out


def test_storage_sas_denied_missing_permission(storage_page, target, granted):
    facts, rg, vm, account, container = storage_page
    sas = _sas(vm, facts, target, account, granted,
               _body(facts, account, container, _expiry(2), signedPermission="r"))
    url = account.blob_url(container.name, facts["blob_name"])
    assert_storage_denied(_put(vm, facts, url, sas, facts["blob_content"]), 403, "AuthorizationPermissionMismatch",
                          "writing with a read-only SAS")


def test_storage_sas_denied_other_container(storage_page, target, granted, blob_container):
    facts, rg, vm, account, container = storage_page
    other = blob_container(account)
    sas = _sas(vm, facts, target, account, granted, _body(facts, account, other, _expiry(2)))
    url = account.blob_url(container.name, facts["blob_name"])
    assert_storage_denied(_put(vm, facts, url, sas, facts["blob_content"]), 403, "AuthenticationFailed",
                          "a SAS for another container")
    ok = _put(vm, facts, account.blob_url(other.name, facts["blob_name"]), sas, facts["blob_content"])
    assert ok.status == 201, f"the same SAS on its own container: {ok.status} {ok.body[:200]}"


def test_storage_sas_denied_tampered_signature(storage_page, target, granted):
    facts, rg, vm, account, container = storage_page
    sas = _sas(vm, facts, target, account, granted, _body(facts, account, container, _expiry(2)))
    sig = re.search(r"sig=([^&]+)", sas).group(1)
    tampered = sas.replace(sig, ("B" if sig[0] != "B" else "C") + sig[1:])
    url = account.blob_url(container.name, facts["blob_name"])
    assert_storage_denied(_put(vm, facts, url, tampered, facts["blob_content"]), 403, "AuthenticationFailed",
                          "a SAS whose signature was altered")
