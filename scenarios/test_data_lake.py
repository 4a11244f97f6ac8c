"""Data Lake: the VM's system-assigned identity gets POSIX ACL entries (Read and Execute on the
root, an access permission only; Read, Write and Execute on a new folder, as an access and a
default entry), gets a token from IMDS, lists the root, uploads a file into the folder and reads
it back.

Pages: the 2019 Windows and Linux "access Azure Data Lake Store" tutorials (registry family
``data_lake``, variants ``windows`` and ``linux``): Data Lake Storage Gen1's WebHDFS, the token for
``https://datalake.azure.net/`` (exact, with the slash), ``LISTSTATUS`` and the two-step ``CREATE``
(the Linux page's ``curl -i -X PUT -L -T``, which follows the 307; the Windows page's two
``Invoke-WebRequest -MaximumRedirection 0``). Gen1 is retired, so on a sandbox subscription these
are reported obsolete with their successor, Gen2 (variants ``gen2-windows``, ``gen2-linux``): the
same ACLs on a hierarchical-namespace storage account, the DFS REST calls (list, create, append,
flush, read) with a token for Storage, and the SDK reading the file back.

Denials: no ACL at all, a read-only ACL writing, no execute on the parent directory, the wrong
audience and an expired token.
"""
from __future__ import annotations

import json
import shlex
from urllib.parse import quote

import pytest

from milab import registry

from .helpers import claims

VARIANTS = [t.variant for t in registry.TUTORIALS if t.family == "data_lake"]
pytestmark = [pytest.mark.tutorial(family="data_lake"), pytest.mark.parametrize("variant", VARIANTS)]


class Lake:
    """One page's Data Lake, whichever generation: the operator's ACL steps and the VM's calls."""

    def __init__(self, facts, target, account):
        self.facts, self.target, self.account = facts, target, account
        self.gen2 = facts["generation"] == 2

    # -- the operator (portal Data Explorer / Storage Explorer "Manage Access") ----------------------
    def make_folder(self) -> None:
        if self.gen2:
            fs = self.account.admin.create_file_system(self.facts["filesystem"])
            self.fs = fs
            fs.create_directory(self.facts["folder"])
        else:
            r = self.account.operator(self.target, "PUT", f"/{self.facts['folder']}", "MKDIRS")
            assert r.status_code == 200 and r.json() == {"boolean": True}, r.text[:300]

    def grant(self, oid: str, path: str, perm: str, default: bool = False) -> None:
        spec = f"user:{oid}:{perm}" + (f",default:user:{oid}:{perm}" if default else "")
        if self.gen2:  # Storage Explorer's "Manage Access" on this folder only: read the ACL, add, set it
            client = self.fs.get_directory_client(path or "/")
            client.set_access_control(acl=client.get_access_control()["acl"] + "," + spec)
        else:
            self.account.grant(self.target, f"/{path}", spec)

    def page_acls(self, oid: str) -> None:
        """The page's two grants: the root (access only), then the folder (access and default)."""
        self.grant(oid, "", self.facts["root_acl"])
        self.grant(oid, self.facts["folder"], self.facts["folder_acl"], default=self.facts["folder_default_acl"])

    # -- in the VM --------------------------------------------------------------------------------------
    def token(self, vm, resource: str | None = None) -> str:
        resource = resource or self.facts["imds_resource"]
        # the pages percent-encode the resource: resource=https%3A%2F%2Fdatalake.azure.net%2F
        r = vm.imds_token(quote(resource, safe=""), self.facts["imds_api_version"], headers=self.facts["imds_headers"],
                          url=self.facts["imds_url"])
        assert r.status == 200, f"IMDS token request: {r.status} {r.body[:300]}"
        token = r.json()["access_token"]
        assert claims(token)["aud"] == resource
        return token

    def url(self, path: str, op: str | None = None) -> str:
        if self.gen2:
            return f"{self.account.dfs_url}/{self.facts['filesystem']}/{path}".rstrip("/")
        return f"{self.account.url}/{path}?op={op}"

    def headers(self, token: str) -> dict:
        return {"Authorization": f"Bearer {token}", **(self.facts.get("dfs_headers") or {})}

    def list_root(self, vm, token, path: str = ""):
        if self.gen2:
            url = f"{self.account.dfs_url}/{self.facts['filesystem']}?resource=filesystem&recursive=false"
            if path:
                url += f"&directory={quote(path)}"
            return vm.http("GET", url, self.headers(token))
        return vm.http("GET", self.url(path, "LISTSTATUS"), self.headers(token))

    def entries(self, result) -> dict[str, dict]:
        doc = result.json()
        if self.gen2:
            return {p["name"]: p for p in doc["paths"]}
        return {e["pathSuffix"]: e for e in doc["FileStatuses"]["FileStatus"]}

    def create(self, vm, token, path: str, content: str):
        """Upload a file as the page does; returns the last answer (201 on success)."""
        if self.gen2:
            h = self.headers(token)
            made = vm.http("PUT", f"{self.url(path)}?resource=file", h)
            if made.status != 201:
                return made
            data = content.encode()
            put = vm.http("PATCH", f"{self.url(path)}?action=append&position=0",
                          {**h, "Content-Type": "application/octet-stream"}, content)
            if put.status != 202:
                return put
            return vm.http("PATCH", f"{self.url(path)}?action=flush&position={len(data)}", h)
        if self.facts["follow_redirect"]:
            return self.curl_create(vm, token, path, content)
        first = vm.http("PUT", self.url(path, "CREATE"), self.headers(token), content, max_redirects=0,
                        show_headers=("Location",))
        if first.status != 307:
            return first
        assert first.headers["Location"] == f"{self.url(path, 'CREATE')}&write=true", first.headers
        return vm.http("PUT", first.headers["Location"], self.headers(token), content, max_redirects=0)

    def curl_create(self, vm, token, path: str, content: str):
        """The Linux page's own command: ``curl -i -X PUT -L -T Test1.txt ...?op=CREATE``."""
        from milab.guest import HttpResult
        script = "\n".join([
            f"cd \"$(mktemp -d)\" && printf %s {shlex.quote(content)} > {shlex.quote(self.facts['file'])}",
            f"curl -sS -i -X PUT -L -T {shlex.quote(self.facts['file'])} -H "
            f"{shlex.quote('Authorization: Bearer ' + token)} {shlex.quote(self.url(path, 'CREATE'))}", ""])
        code, out, err = self.target.run_in_vm(vm, script)
        statuses = [int(line.split()[1]) for line in out.splitlines()
                    if line.startswith("HTTP/") and len(line.split()) > 1 and line.split()[1].isdigit()]
        final = next((s for s in reversed(statuses) if s != 100), 0)
        if final == 201:
            assert 307 in statuses, f"the CREATE did not go through the 307 redirect: {out[:600]}"
            assert f"{self.url(path, 'CREATE')}&write=true" in out
        body = out.replace("\r\n", "\n").rstrip("\n").rsplit("\n\n", 1)[-1]  # the last answer's body
        return HttpResult(final, body if body.lstrip().startswith("{") else "", None, err)

    def read(self, vm, token, path: str):
        if self.gen2:
            return vm.http("GET", self.url(path), self.headers(token))
        return vm.http("GET", f"{self.url(path, 'OPEN')}&read=true", self.headers(token))

    def refused(self, result) -> tuple[int, str | None]:
        try:
            doc = json.loads(result.body)
        except ValueError:
            return result.status, None
        if self.gen2:
            return result.status, (doc.get("error") or {}).get("code")
        return result.status, (doc.get("RemoteException") or {}).get("exception")

    def assert_denied(self, result, status: int, what: str) -> None:
        expected = {403: "AuthorizationPermissionMismatch" if self.gen2 else "AccessControlException",
                    401: "InvalidAuthenticationInfo" if self.gen2 else "SecurityException"}[status]
        got = self.refused(result)
        assert got == (status, expected), f"{what}: expected {status} {expected}, got {got}: {result.body[:300]}"


@pytest.fixture
def lake(variant, tutorial_facts, target, resource_group, vm_factory, gen1_account, gen2_account):
    facts = tutorial_facts
    target.obsolete(facts)
    rg = resource_group()
    vm = vm_factory(rg, os=facts["os"], identity="system")
    account = gen2_account(rg) if facts["generation"] == 2 else gen1_account(rg)
    lk = Lake(facts, target, account)
    lk.make_folder()
    return facts, rg, vm, lk


def _wait(target, fetch, what):
    return target.wait_for(fetch, lambda r: r.status in (200, 201), what)


def test_data_lake(lake, target):
    facts, rg, vm, lk = lake
    lk.page_acls(vm.principal_id)
    token = lk.token(vm)
    listed = _wait(target, lambda: lk.list_root(vm, token), "the ACLs to take effect")
    assert listed.status == 200, listed.body[:300]
    folder = lk.entries(listed)[facts["folder"]]
    if lk.gen2:
        assert folder["isDirectory"] == "true"
    else:
        assert (folder["type"], folder["permission"]) == ("DIRECTORY", facts["list_permission"])
    path = f"{facts['folder']}/{facts['file']}"
    made = lk.create(vm, token, path, facts["file_content"])
    assert made.status in (200, 201), f"uploading {path}: {made.status} {made.body[:400]}"
    got = lk.read(vm, token, path)
    assert got.status == 200 and got.body == facts["file_content"].rstrip("\r\n"), (got.status, got.body[:200])
    if lk.gen2:  # and the SDK inside the VM reads it back with its managed identity
        out = vm.python(_SDK_READ.format(url=json.dumps(lk.account.dfs_url), fs=json.dumps(facts["filesystem"]),
                                         path=json.dumps(path)),
                        packages=("azure-storage-file-datalake", "azure-identity"))
        assert out.status == 0, out.stderr[-600:]
        assert json.loads(out.body.strip().splitlines()[-1]) == {"content": facts["file_content"]}


_SDK_READ = '''
import json
from azure.identity import ManagedIdentityCredential
from azure.storage.filedatalake import DataLakeServiceClient
client = DataLakeServiceClient({url}, credential=ManagedIdentityCredential())
data = client.get_file_system_client({fs}).get_file_client({path}).download_file().readall()
print(json.dumps({{"content": data.decode()}}))
'''


def test_data_lake_denied_no_acl(lake, target, vm_factory):
    facts, rg, vm, lk = lake
    lk.page_acls(vm.principal_id)
    stranger = vm_factory(rg, os=facts["os"], identity="system")
    lk.assert_denied(lk.list_root(stranger, lk.token(stranger)), 403, "listing the root without an ACL entry")


def test_data_lake_denied_read_only_acl_writing(lake, target):
    facts, rg, vm, lk = lake
    lk.grant(vm.principal_id, "", facts["root_acl"])
    lk.grant(vm.principal_id, facts["folder"], "r-x")  # Read and Execute only on the folder
    token = lk.token(vm)
    _wait(target, lambda: lk.list_root(vm, token, facts["folder"]), "the read-only ACL to take effect")
    lk.assert_denied(lk.create(vm, token, f"{facts['folder']}/{facts['file']}", facts["file_content"]), 403,
                     "writing with a read-only ACL")


def test_data_lake_denied_no_execute_on_the_parent(lake, target):
    facts, rg, vm, lk = lake
    lk.grant(vm.principal_id, facts["folder"], facts["folder_acl"], default=True)  # nothing on the root
    token = lk.token(vm)
    lk.assert_denied(lk.list_root(vm, token, facts["folder"]), 403, "listing the folder without execute on the root")
    lk.assert_denied(lk.create(vm, token, f"{facts['folder']}/{facts['file']}", facts["file_content"]), 403,
                     "creating in the folder without execute on the root")


def test_data_lake_denied_wrong_or_expired_token(lake, target):
    facts, rg, vm, lk = lake
    lk.page_acls(vm.principal_id)
    lk.token(vm)  # the right token works (the page's grants are in place)
    wrong = lk.token(vm, "https://management.azure.com/")
    lk.assert_denied(lk.list_root(vm, wrong), 401, "an ARM token")
    if not lk.gen2:  # "Data Lake does an exact match on the resource identifier and the trailing slash is important"
        lk.assert_denied(lk.list_root(vm, lk.token(vm, "https://datalake.azure.net")), 401, "no trailing slash")
    expired = target.expired_token(vm.principal_id, facts["imds_resource"])  # skipped where it cannot be made
    lk.assert_denied(lk.list_root(vm, expired), 401, "an expired token")
