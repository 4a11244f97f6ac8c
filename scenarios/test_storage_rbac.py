"""Storage with RBAC: the VM's system-assigned identity gets Storage Blob Data Reader on the
container, fetches a token for ``https://storage.azure.com/`` from IMDS and reads the blob the
operator uploaded, with the Linux page's REST call (``x-ms-version: 2017-11-09``) and with
azure-storage-blob (the Windows page's .NET program does the same through its SDK).

Pages: the Windows and Linux "access Azure Storage" tutorials (registry family
``storage_rbac``). Denials: no role, a role on another container, Reader (control plane only),
Blob Data Reader writing, an ARM token presented to Storage, an expired token.
"""
from __future__ import annotations

import pytest

from fixtures.storage import assert_storage_denied, sdk_blob
from milab import registry

from .helpers import claims, imds_token

VARIANTS = [t.variant for t in registry.TUTORIALS if t.family == "storage_rbac"]
pytestmark = [pytest.mark.tutorial(family="storage_rbac"), pytest.mark.parametrize("variant", VARIANTS)]


@pytest.fixture
def setup(storage_page, upload_blob):
    """The page's prerequisites: the storage page's VM, account and container, and the page's
    blob ("Hello world! :)")."""
    facts, rg, vm, account, container = storage_page
    url = upload_blob(container, facts["blob_name"], facts["blob_content"])
    return facts, rg, vm, account, container, url


def _get(vm, facts, url, token):
    return vm.http("GET", url, {**facts["storage_headers"], "Authorization": f"Bearer {token}"})


def _read_when_granted(target, vm, facts, url, token):
    return target.wait_for(lambda: _get(vm, facts, url, token), lambda r: r.status == 200,
                           "the Storage Blob Data Reader assignment to take effect")


def test_storage_rbac(setup, target, grant):
    facts, rg, vm, account, container, url = setup

    # The token for Storage, as the page requests it.
    token = imds_token(vm, facts)
    c = claims(token)
    assert c["aud"] == facts["imds_resource"] and c["oid"] == vm.principal_id

    # Before the grant the token is valid but carries no data permission.
    assert_storage_denied(_get(vm, facts, url, token), 403, "AuthorizationPermissionMismatch", "before the grant")

    # Grant Storage Blob Data Reader on the container (the page's "Grant your VM access" section).
    grant(vm.principal_id, facts["role"], container.id)

    # The page's call: GET the blob with the bearer token; the response is the file's content.
    got = _read_when_granted(target, vm, facts, url, token)
    assert got.status == 200, f"reading the blob after the grant: {got.status} {got.body[:300]}"
    assert got.body == facts["blob_content"]

    # The same read through azure-storage-blob with ManagedIdentityCredential inside the VM.
    out = sdk_blob(vm, "download", url, identity=True)
    assert out == {"ok": True, "content": facts["blob_content"]}, out


def test_storage_rbac_denied_no_role(setup, target):
    facts, rg, vm, account, container, url = setup
    token = imds_token(vm, facts)
    assert_storage_denied(_get(vm, facts, url, token), 403, "AuthorizationPermissionMismatch", "without any role")
    out = sdk_blob(vm, "download", url, identity=True)
    assert (out.get("status"), out.get("code")) == (403, "AuthorizationPermissionMismatch"), out


def test_storage_rbac_denied_other_container(setup, target, grant, blob_container, upload_blob):
    facts, rg, vm, account, container, url = setup
    other = blob_container(account)
    other_url = upload_blob(other, facts["blob_name"], facts["blob_content"])
    grant(vm.principal_id, facts["role"], container.id)
    token = imds_token(vm, facts)
    _read_when_granted(target, vm, facts, url, token)  # the granted container reads
    assert_storage_denied(_get(vm, facts, other_url, token), 403, "AuthorizationPermissionMismatch",
                          "reading a container the role was not assigned on")


def test_storage_rbac_denied_control_plane_reader(setup, target, grant):
    facts, rg, vm, account, container, url = setup
    grant(vm.principal_id, "Reader", account.id)
    token = imds_token(vm, facts)
    assert_storage_denied(_get(vm, facts, url, token), 403, "AuthorizationPermissionMismatch",
                          "Reader (control plane only) reading blob data")


def test_storage_rbac_denied_write(setup, target, grant):
    facts, rg, vm, account, container, url = setup
    grant(vm.principal_id, facts["role"], container.id)
    token = imds_token(vm, facts)
    _read_when_granted(target, vm, facts, url, token)
    new_url = account.blob_url(container.name, "written-by-reader.txt")
    put = vm.http("PUT", new_url, {**facts["storage_headers"], "Authorization": f"Bearer {token}",
                                   "x-ms-blob-type": "BlockBlob", "Content-Type": "text/plain"}, "not allowed")
    assert_storage_denied(put, 403, "AuthorizationPermissionMismatch", "Storage Blob Data Reader writing a blob")
    out = sdk_blob(vm, "upload", new_url, data="not allowed", identity=True)
    assert (out.get("status"), out.get("code")) == (403, "AuthorizationPermissionMismatch"), out


def test_storage_rbac_denied_wrong_audience(setup, target, grant):
    facts, rg, vm, account, container, url = setup
    grant(vm.principal_id, facts["role"], container.id)
    token = imds_token(vm, facts, "https://management.azure.com/")
    assert claims(token)["aud"] == "https://management.azure.com/"
    assert_storage_denied(_get(vm, facts, url, token), 401, "InvalidAuthenticationInfo",
                          "an ARM token presented to Storage")


def test_storage_rbac_denied_expired_token(setup, target, grant):
    facts, rg, vm, account, container, url = setup
    grant(vm.principal_id, facts["role"], container.id)
    token = target.expired_token(vm.principal_id, facts["imds_resource"])
    assert_storage_denied(_get(vm, facts, url, token), 401, "InvalidAuthenticationInfo", "an expired token")
