"""Data Lake Storage over raw HTTP and the SDK: Gen1's resource provider and WebHDFS file
system (ACLs, the two-step CREATE, RemoteException errors, the exact audience), and Gen2's DFS
endpoint on hierarchical accounts (filesystem and path operations, x-ms-acl, RBAC first then
ACLs, the Blob endpoint seeing the same files and ACLs)."""
from __future__ import annotations

import json
import uuid

import pytest

from support import operator_token as get_operator_token

GEN1_API = "2016-11-01"
DATALAKE = "https://datalake.azure.net/"


def mint(control, oid: str, audience: str, **extra) -> str:
    return control.call("POST", "/_milab/tokens", json={"object_id": oid, "audience": audience, **extra})[
        "access_token"]


@pytest.fixture
def rg(arm):
    name = arm.group()
    yield name
    arm.call("DELETE", f"/subscriptions/{arm.sub}/resourceGroups/{name}", "2021-04-01")


def new_vm(arm, rg) -> str:
    name = f"vm{uuid.uuid4().hex[:6]}"
    r = arm.call("PUT", f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/"
                        f"{name}", "2018-06-01", {"location": "westus", "identity": {"type": "SystemAssigned"},
                                                  "properties": {"hardwareProfile": {"vmSize": "Standard_B1s"}}})
    assert r.status_code == 201, r.text
    return r.json()["identity"]["principalId"]


# -- Gen1 ----------------------------------------------------------------------------------------------
@pytest.fixture
def gen1(arm, rg, http, emu_env):
    name = f"adls{uuid.uuid4().hex[:8]}"
    r = arm.call("PUT", f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.DataLakeStore/accounts/"
                        f"{name}", GEN1_API, {"location": "eastus2", "properties": {}})
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["properties"]["endpoint"] == f"{name}.azuredatalakestore.net"
    assert doc["properties"]["provisioningState"] == "Succeeded" and "_milab" not in r.text
    op = get_operator_token(http, emu_env, "https://datalake.azure.net//.default")
    return f"https://{name}.azuredatalakestore.net/webhdfs/v1", op


def hdfs(http, method, url, token, data=None, **kw):
    return http.request(method, url, data=data, headers={"Authorization": f"Bearer {token}"} if token else {},
                        timeout=30, allow_redirects=False, **kw)


def remote(r) -> tuple[int, str]:
    return r.status_code, r.json()["RemoteException"]["exception"]


def test_gen1_the_tutorial_acls_list_and_two_step_create(gen1, http, arm, rg, control):
    base, op = gen1
    vm = new_vm(arm, rg)
    # the page's portal steps: root r-x (access only), TestFolder rwx (access and default)
    assert hdfs(http, "PUT", f"{base}/?op=MODIFYACLENTRIES&aclspec=user:{vm}:r-x", op).status_code == 200
    assert hdfs(http, "PUT", f"{base}/TestFolder?op=MKDIRS", op).json() == {"boolean": True}
    r = hdfs(http, "PUT", f"{base}/TestFolder?op=MODIFYACLENTRIES&aclspec=user:{vm}:rwx,default:user:{vm}:rwx", op)
    assert r.status_code == 200 and r.headers["x-ms-webhdfs-version"] == "17.04.22.00"
    token = mint(control, vm, DATALAKE)
    r = hdfs(http, "GET", f"{base}/?op=LISTSTATUS", token)
    assert r.status_code == 200, r.text
    [entry] = r.json()["FileStatuses"]["FileStatus"]
    assert {k: entry[k] for k in ("length", "pathSuffix", "type", "blockSize", "replication", "permission")} == {
        "length": 0, "pathSuffix": "TestFolder", "type": "DIRECTORY", "blockSize": 0, "replication": 0,
        "permission": "770"}
    assert set(entry) == {"length", "pathSuffix", "type", "blockSize", "accessTime", "modificationTime",
                          "replication", "permission", "owner", "group"}
    # the two-step CREATE: 307 to ...&write=true, then 201
    first = hdfs(http, "PUT", f"{base}/TestFolder/Test1.txt?op=CREATE", token, b"Test file.\n")
    assert first.status_code == 307 and first.text == ""
    assert first.headers["Location"] == f"{base}/TestFolder/Test1.txt?op=CREATE&write=true"
    assert first.headers["ContentLength"] == "0"
    second = hdfs(http, "PUT", first.headers["Location"], token, b"Test file.\n")
    assert second.status_code == 201, second.text
    # and following the redirect, as curl -L does
    follow = http.put(f"{base}/TestFolder/Test2.txt?op=CREATE", data=b"again\n",
                      headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert follow.status_code == 201 and follow.history[0].status_code == 307
    opened = http.get(f"{base}/TestFolder/Test1.txt?op=OPEN", headers={"Authorization": f"Bearer {token}"},
                      timeout=30)
    assert opened.status_code == 200 and opened.content == b"Test file.\n"
    # the default ACL reached the new file; its owner is the VM
    acl = hdfs(http, "GET", f"{base}/TestFolder/Test1.txt?op=GETACLSTATUS", token).json()["AclStatus"]
    assert acl["owner"] == vm and f"user:{vm}:rwx" in acl["entries"] and acl["permission"] == "660"
    st = hdfs(http, "GET", f"{base}/TestFolder/Test1.txt?op=GETFILESTATUS", token).json()["FileStatus"]
    assert (st["type"], st["length"]) == ("FILE", 11)
    assert hdfs(http, "POST", f"{base}/TestFolder/Test1.txt?op=APPEND&append=true", token, b"more").status_code == 200
    assert hdfs(http, "GET", f"{base}/TestFolder/Test1.txt?op=OPEN&read=true", token).content == b"Test file.\nmore"
    assert hdfs(http, "DELETE", f"{base}/TestFolder/Test2.txt?op=DELETE", token).json() == {"boolean": True}


def test_gen1_denials(gen1, http, arm, rg, control):
    base, op = gen1
    vm, other = new_vm(arm, rg), new_vm(arm, rg)
    hdfs(http, "PUT", f"{base}/?op=MODIFYACLENTRIES&aclspec=user:{vm}:r-x", op)
    hdfs(http, "PUT", f"{base}/ReadOnly?op=MKDIRS", op)
    hdfs(http, "PUT", f"{base}/ReadOnly?op=MODIFYACLENTRIES&aclspec=user:{vm}:r-x", op)
    hdfs(http, "PUT", f"{base}/NoTraverse/Inner?op=MKDIRS", op)
    hdfs(http, "PUT", f"{base}/NoTraverse?op=MODIFYACLENTRIES&aclspec=user:{vm}:rw-", op)
    hdfs(http, "PUT", f"{base}/NoTraverse/Inner?op=MODIFYACLENTRIES&aclspec=user:{vm}:rwx", op)
    token = mint(control, vm, DATALAKE)
    r = hdfs(http, "GET", f"{base}/?op=LISTSTATUS", mint(control, other, DATALAKE))  # no ACL at all
    assert remote(r) == (403, "AccessControlException")
    msg = r.json()["RemoteException"]
    assert msg["message"].startswith("LISTSTATUS failed with error 0x83090aa2 (Forbidden. ACL verification failed.")
    assert msg["javaClassName"] == "org.apache.hadoop.security.AccessControlException"
    r = hdfs(http, "PUT", f"{base}/ReadOnly/x.txt?op=CREATE&write=true", token, b"no")  # read-only ACL writing
    assert remote(r) == (403, "AccessControlException")
    assert remote(hdfs(http, "PUT", f"{base}/ReadOnly/x.txt?op=CREATE", token, b"no")) == (403, "AccessControlException")
    r = hdfs(http, "GET", f"{base}/NoTraverse/Inner?op=LISTSTATUS", token)  # no execute on the parent
    assert remote(r) == (403, "AccessControlException")
    assert hdfs(http, "GET", f"{base}/NoTraverse/Inner?op=LISTSTATUS", op).status_code == 200  # the super-user
    for what, bad in [("an ARM token", mint(control, vm, "https://management.azure.com/")),
                      ("no trailing slash", mint(control, vm, "https://datalake.azure.net")),
                      ("a storage token", mint(control, vm, "https://storage.azure.com/")), ("no token", None)]:
        r = hdfs(http, "GET", f"{base}/?op=LISTSTATUS", bad)
        assert remote(r) == (401, "SecurityException"), what
        assert "WWW-Authenticate" in r.headers
    # the VM cannot change an ACL it does not own
    assert remote(hdfs(http, "PUT", f"{base}/ReadOnly?op=SETACL&aclspec=user::rwx,group::rwx,other::rwx", token)) == \
        (403, "AccessControlException")


def test_gen1_refuses_bad_requests_as_webhdfs_does(gen1, http):
    base, op = gen1
    cases = [("GET", f"{base}/?op=NOSUCHOP", 400, "IllegalArgumentException"),
             ("GET", f"{base}/", 400, "IllegalArgumentException"),
             ("PUT", f"{base}/?op=LISTSTATUS", 400, "IllegalArgumentException"),
             ("GET", f"{base}/missing?op=GETFILESTATUS", 404, "FileNotFoundException"),
             ("PUT", f"{base}/?op=SETACL&aclspec=user:x", 400, "IllegalArgumentException"),
             ("PUT", f"{base}/?op=SETPERMISSION&permission=999", 400, "IllegalArgumentException"),
             ("GET", f"{base}/a/%2E%2E/b?op=LISTSTATUS", 400, "IllegalArgumentException"),
             ("GET", f"https://{base.split('/')[2].replace('adls', 'nope')}/webhdfs/v1/?op=LISTSTATUS", 404,
              "FileNotFoundException")]
    for method, url, status, exc in cases:
        assert remote(hdfs(http, method, url, op)) == (status, exc), (method, url)
    # param names and values are case-insensitive (azure-datalake-store sends OP=...)
    assert hdfs(http, "GET", f"{base}/?OP=liststatus", op).status_code == 200
    hdfs(http, "PUT", f"{base}/f.txt?op=CREATE&write=true", op, b"1")
    assert remote(hdfs(http, "PUT", f"{base}/f.txt?op=CREATE&write=true", op, b"2")) == \
        (403, "FileAlreadyExistsException")
    assert hdfs(http, "PUT", f"{base}/f.txt?op=CREATE&write=true&overwrite=true", op, b"2").status_code == 201
    hdfs(http, "PUT", f"{base}/d/e?op=MKDIRS", op)
    assert remote(hdfs(http, "DELETE", f"{base}/d?op=DELETE", op)) == (403, "PathIsNotEmptyDirectoryException")
    assert hdfs(http, "DELETE", f"{base}/d?op=DELETE&recursive=true", op).json() == {"boolean": True}


# -- Gen2 ----------------------------------------------------------------------------------------------
@pytest.fixture
def gen2(arm, rg):
    name = f"hns{uuid.uuid4().hex[:10]}"
    r = arm.call("PUT", f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/"
                        f"{name}", "2023-01-01", {"location": "westus", "kind": "StorageV2",
                                                  "sku": {"name": "Standard_LRS"},
                                                  "properties": {"isHnsEnabled": True}})
    assert r.status_code in (200, 201, 202), r.text
    keys = arm.call("POST", f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.Storage/"
                            f"storageAccounts/{name}/listKeys", "2023-01-01").json()["keys"]
    return name, keys[0]["value"], f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.Storage/" \
                                   f"storageAccounts/{name}"


class StaticToken:
    """A token credential holding one token (what the VM's ManagedIdentityCredential hands the SDK)."""

    def __init__(self, token: str):
        self.token = token

    def get_token(self, *scopes, **kw):
        from azure.core.credentials import AccessToken
        return AccessToken(self.token, 2**31)


def _sdk_env(emu_env, monkeypatch):
    for k in ("HTTPS_PROXY", "HTTP_PROXY", "REQUESTS_CA_BUNDLE"):
        monkeypatch.setenv(k, emu_env[k])


def test_gen2_sdk_acls_and_rbac_together(gen2, http, arm, rg, control, emu_env, monkeypatch):
    from azure.core.exceptions import HttpResponseError
    from azure.storage.filedatalake import DataLakeServiceClient
    _sdk_env(emu_env, monkeypatch)
    name, key, account_id = gen2
    url = f"https://{name}.dfs.core.windows.net"
    vm = new_vm(arm, rg)
    admin = DataLakeServiceClient(url, credential=key)
    fs = admin.create_file_system("data")
    root = fs.get_directory_client("/")
    assert root.get_access_control()["permissions"] == "rwxr-x---"
    folder = fs.create_directory("TestFolder")
    root.set_access_control(acl=f"user::rwx,user:{vm}:r-x,group::r-x,other::---")
    folder.set_access_control(acl=f"user::rwx,user:{vm}:rwx,group::r-x,other::---,default:user::rwx,"
                                  f"default:user:{vm}:rwx,default:group::r-x,default:other::---")
    got = folder.get_access_control()
    assert got["owner"] == "$superuser" and f"user:{vm}:rwx" in got["acl"] and f"default:user:{vm}:rwx" in got["acl"]

    vm_client = DataLakeServiceClient(url, credential=StaticToken(mint(control, vm, "https://storage.azure.com/")))
    vfs = vm_client.get_file_system_client("data")
    f = vfs.get_file_client("TestFolder/Test1.txt")
    f.upload_data(b"Test file.\n", overwrite=True)
    assert f.download_file().readall() == b"Test file.\n"  # through the Blob endpoint, allowed by the ACL
    props = f.get_access_control()
    assert props["owner"] == vm and props["permissions"].startswith("rw")
    names = [p.name for p in vfs.get_paths(recursive=True)]
    assert names == ["TestFolder", "TestFolder/Test1.txt"]
    # read-only on the root: writing there is refused by ACL and RBAC alike
    with pytest.raises(HttpResponseError) as e:
        vfs.get_file_client("top.txt").upload_data(b"no", overwrite=True)
    assert e.value.status_code == 403 and e.value.error_code == "AuthorizationPermissionMismatch"
    # no execute on TestFolder's parent: a VM without an entry on the root cannot reach the folder
    other = new_vm(arm, rg)
    folder.update_access_control_recursive(acl=f"user:{other}:rwx")
    ofs = DataLakeServiceClient(url, credential=StaticToken(mint(control, other, "https://storage.azure.com/"))
                                ).get_file_system_client("data")
    with pytest.raises(HttpResponseError) as e:
        ofs.get_file_client("TestFolder/Test1.txt").download_file().readall()
    assert e.value.status_code == 403
    # Azure RBAC first: Storage Blob Data Reader on the account reads without any ACL
    role = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
    r = arm.call("PUT", f"{account_id}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}", "2022-04-01",
                 {"properties": {"roleDefinitionId": f"/subscriptions/{arm.sub}/providers/Microsoft.Authorization/"
                                                     f"roleDefinitions/{role}", "principalId": other}})
    assert r.status_code == 201, r.text
    assert ofs.get_file_client("TestFolder/Test1.txt").download_file().readall() == b"Test file.\n"
    with pytest.raises(HttpResponseError):  # ...but a reader still cannot write where the ACL does not allow it
        ofs.get_file_client("top.txt").upload_data(b"no", overwrite=True)


def test_gen2_rest_operations_and_errors(gen2, http, arm, rg, control):
    name, key, _ = gen2
    vm = new_vm(arm, rg)
    base = f"https://{name}.dfs.core.windows.net"
    op_headers = {"x-ms-version": "2021-08-06"}

    def call(method, path, token=None, headers=None, data=None):
        h = {**op_headers, **(headers or {})}
        if token:
            h["Authorization"] = f"Bearer {token}"
        return http.request(method, base + path, headers=h, data=data, timeout=30)

    owner_token = mint(control, vm, f"https://{name}.dfs.core.windows.net")
    # the VM has no role at all: creating a filesystem is a container write it may not do
    r = call("PUT", "/fs1?resource=filesystem", owner_token)
    assert r.status_code == 403 and r.json()["error"]["code"] == "AuthorizationPermissionMismatch"
    assert r.headers["x-ms-error-code"] == "AuthorizationPermissionMismatch"
    r = call("GET", "/fs1?resource=filesystem&recursive=false", owner_token)
    assert r.status_code == 404 and r.json()["error"]["code"] == "FilesystemNotFound"
    r = call("GET", "/fs1?resource=filesystem&recursive=false", mint(control, vm, "https://management.azure.com/"))
    assert r.status_code == 401 and r.json()["error"]["code"] == "InvalidAuthenticationInfo"
    r = http.get(f"{base}/fs1?resource=filesystem&recursive=false", headers=op_headers, timeout=30)
    assert r.status_code == 401 and r.json()["error"]["code"] == "NoAuthenticationInformation"
    bad_key = http.get(f"{base}/fs1?resource=filesystem&recursive=false",
                       headers={**op_headers, "Authorization": f"SharedKey {name}:AAAA"}, timeout=30)
    assert bad_key.status_code == 403 and bad_key.json()["error"]["code"] == "AuthenticationFailed"
    flat = http.get(f"https://nothere{uuid.uuid4().hex[:6]}.dfs.core.windows.net/x?resource=filesystem",
                    headers=op_headers, timeout=30)
    assert flat.status_code == 404


def test_gen2_needs_a_hierarchical_account(arm, rg, http, control):
    name = f"flat{uuid.uuid4().hex[:10]}"
    r = arm.call("PUT", f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/"
                        f"{name}", "2023-01-01", {"location": "westus", "kind": "StorageV2",
                                                  "sku": {"name": "Standard_LRS"}})
    assert r.status_code in (200, 201, 202), r.text
    r = http.get(f"https://{name}.dfs.core.windows.net/x?resource=filesystem&recursive=false",
                 headers={"x-ms-version": "2021-08-06"}, timeout=30)
    assert r.status_code == 409 and json.loads(r.text)["error"]["code"] == "HierarchicalNamespaceNotEnabled"
