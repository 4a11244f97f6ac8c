"""The Blob gateway and the Storage resource provider: operation -> RBAC permission, token
audiences, Storage's error shapes, SAS and Shared Key signatures verified by Azurite, the RP's
authorization (Reader vs Key Operator), key regeneration, account names."""
from __future__ import annotations

import datetime as dt
import email.utils
import re
import uuid

import pytest

from milab.cloud.storage import actions
from milab.cloud.storage.gateway import storage_error
from milab.cloud.storage.signing import (account_sas, service_sas, shared_key_authorization,
                                         shared_key_string_to_sign)

B = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"
C = "Microsoft.Storage/storageAccounts/blobServices/containers"
API = "2023-01-01"


# -- pure functions --------------------------------------------------------------------------
@pytest.mark.parametrize("method,path,query,action,data,container", [
    ("GET", "/c/b.txt", "", f"{B}/read", True, "c"),
    ("HEAD", "/c/dir/b.txt", "", f"{B}/read", True, "c"),
    ("PUT", "/c/b.txt", "", f"{B}/write", True, "c"),
    ("PUT", "/c/b.txt", "comp=block&blockid=AAAA", f"{B}/write", True, "c"),
    ("PUT", "/c/b.txt", "comp=appendblock", f"{B}/add/action", True, "c"),
    ("DELETE", "/c/b.txt", "", f"{B}/delete", True, "c"),
    ("GET", "/c/b.txt", "comp=tags", f"{B}/tags/read", True, "c"),
    ("PUT", "/c/b.txt", "comp=tags", f"{B}/tags/write", True, "c"),
    ("GET", "/c", "restype=container&comp=list", f"{B}/read", True, "c"),
    ("GET", "/c", "restype=container", f"{B}/read", True, "c"),
    ("PUT", "/c", "restype=container", f"{C}/write", False, "c"),
    ("DELETE", "/c", "restype=container", f"{C}/delete", False, "c"),
    ("PUT", "/c", "restype=container&comp=metadata", f"{C}/write", False, "c"),
    ("GET", "/", "comp=list", f"{B}/read", True, None),
    ("GET", "/", "restype=service&comp=properties", f"{B}/read", True, None),
    ("POST", "/", "restype=service&comp=userdelegationkey",
     "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action", False, None),
])
def test_operation_to_permission(method, path, query, action, data, container):
    p = actions.required_permission(method, path, query)
    assert (p.action, p.data_action, p.container) == (action, data, container), p


def test_permission_scope():
    acct = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a"
    assert actions.scope_for(acct, actions.required_permission("GET", "/c%20x/b", "")) == \
        f"{acct}/blobServices/default/containers/c x"
    assert actions.scope_for(acct, actions.required_permission("GET", "/", "comp=list")) == acct


def test_error_shape():
    r = storage_error(403, "AuthorizationPermissionMismatch", "not allowed", detail="why")
    body = r.body.decode()
    assert r.status == 403 and r.headers["x-ms-error-code"] == "AuthorizationPermissionMismatch"
    assert r.headers["Content-Type"].startswith("application/xml")
    assert re.match(r'<\?xml version="1.0" encoding="utf-8"\?><Error><Code>AuthorizationPermissionMismatch</Code>'
                    r"<Message>not allowed\nRequestId:[0-9a-f-]+\nTime:.+</Message>"
                    r"<AuthenticationErrorDetail>why</AuthenticationErrorDetail></Error>$", body), body


def test_shared_key_string_to_sign():
    sts = shared_key_string_to_sign("PUT", "/c/b%20x.txt?comp=block&blockid=QQ%3D%3D",
                                    {"Content-Length": "5", "Content-Type": "text/plain",
                                     "x-ms-version": "2021-08-06", "x-ms-date": "Sun, 01 Jan 2023 00:00:00 GMT",
                                     "X-Ms-Blob-Type": "BlockBlob"}, "acct")
    assert sts == ("PUT\n\n\n5\n\ntext/plain\n\n\n\n\n\n\n"
                   "x-ms-blob-type:BlockBlob\nx-ms-date:Sun, 01 Jan 2023 00:00:00 GMT\nx-ms-version:2021-08-06\n"
                   "/acct/c/b%20x.txt\nblockid:QQ==\ncomp:block")


# -- against the embedded emulator ------------------------------------------------------------
@pytest.fixture(scope="module")
def world(arm, http, control, emu_env):
    """An account with two containers and a blob, and an identity without roles."""
    sub = emu_env["AZURE_SUBSCRIPTION_ID"]
    rg = arm.group()
    name = f"gw{uuid.uuid4().hex[:12]}"
    acct_path = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{name}"
    r = arm.call("PUT", acct_path, API, {"location": "westus", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"})
    assert r.status_code == 202, r.text
    for c in ("one", "two"):
        r = arm.call("PUT", f"{acct_path}/blobServices/default/containers/{c}", API, {"properties": {}})
        assert r.status_code in (200, 201), r.text
    keys = arm.call("POST", f"{acct_path}/listKeys", API).json()["keys"]
    ident = arm.call("PUT", f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/"
                            f"userAssignedIdentities/gw-id", "2023-01-31", {"location": "westus"}).json()
    w = {"sub": sub, "rg": rg, "name": name, "path": acct_path, "key1": keys[0]["value"], "key2": keys[1]["value"],
         "oid": ident["properties"]["principalId"], "url": f"https://{name}.blob.core.windows.net"}
    w["id"] = acct_path
    put = signed(http, w, "PUT", "/one/hello.txt", w["key1"], b"Hello world! :)",
                 {"x-ms-blob-type": "BlockBlob", "Content-Type": "text/plain"})
    assert put.status_code == 201, put.text
    return w


def signed(http, w, method, raw, key, body=None, extra=None):
    headers = {"x-ms-date": email.utils.formatdate(usegmt=True), "x-ms-version": "2021-08-06", **(extra or {})}
    to_sign = dict(headers)
    if body:
        to_sign["Content-Length"] = str(len(body))
    headers["Authorization"] = shared_key_authorization(method, raw, to_sign, w["name"], key)
    return http.request(method, w["url"] + raw, headers=headers, data=body, timeout=60)


def token(control, oid, audience, offset=0):
    return control.call("POST", "/_milab/tokens", json={"object_id": oid, "audience": audience,
                                                         "issued_offset": offset, "lifetime": 3600})["access_token"]


def grant(arm, w, role_guid, scope):
    name = str(uuid.uuid4())
    r = arm.call("PUT", f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}", "2022-04-01",
                 {"properties": {"roleDefinitionId": f"/subscriptions/{w['sub']}/providers/Microsoft.Authorization/"
                                                     f"roleDefinitions/{role_guid}", "principalId": w["oid"]}})
    assert r.status_code == 201, r.text
    return lambda: arm.call("DELETE", f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}",
                            "2022-04-01")


READER_DATA = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
KEY_OPERATOR = "81a9662b-bebf-436f-a333-f67b29880f12"


def code(r):
    m = re.search(r"<Code>([^<]+)</Code>", r.text)
    return m.group(1) if m else None


def get(http, w, path, tok, version="2017-11-09"):
    h = {"Authorization": f"Bearer {tok}"}
    if version:
        h["x-ms-version"] = version
    return http.get(w["url"] + path, headers=h, timeout=60)


def test_audiences_and_oauth_errors(world, http, control, arm):
    w = world
    revoke = grant(arm, w, READER_DATA, f"{w['id']}/blobServices/default/containers/one")
    try:
        for aud in ("https://storage.azure.com", "https://storage.azure.com/", w["url"], w["url"] + "/"):
            r = get(http, w, "/one/hello.txt", token(control, w["oid"], aud))
            assert r.status_code == 200 and r.text == "Hello world! :)", (aud, r.status_code, r.text)
        for aud in ("https://management.azure.com/", "https://vault.azure.net", "https://other.blob.core.windows.net"):
            r = get(http, w, "/one/hello.txt", token(control, w["oid"], aud))
            assert (r.status_code, code(r)) == (401, "InvalidAuthenticationInfo"), (aud, r.text)
            assert r.headers["x-ms-error-code"] == "InvalidAuthenticationInfo"
            assert r.headers["WWW-Authenticate"] == (f"Bearer authorization_uri=https://login.microsoftonline.com/"
                                                     f"{control.call('GET', '/_milab/env')['AZURE_TENANT_ID']}/oauth2/"
                                                     f"authorize resource_id=https://storage.azure.com")
            assert "Audience validation failed" in r.text
        r = get(http, w, "/one/hello.txt", token(control, w["oid"], "https://storage.azure.com/", offset=-7200))
        assert (r.status_code, code(r)) == (401, "InvalidAuthenticationInfo") and "Lifetime" in r.text
        good = token(control, w["oid"], "https://storage.azure.com/")
        for version in (None, "2017-07-29"):
            r = get(http, w, "/one/hello.txt", good, version)
            assert (r.status_code, code(r)) == (403, "AuthenticationFailed"), r.text
            assert "Bearer is not supported in this version" in r.text
        r = http.get(w["url"] + "/one/hello.txt", headers={"x-ms-version": "2021-08-06"}, timeout=60)
        # anonymous, on an account that does not allow public access (allowBlobPublicAccess unset: false)
        assert (r.status_code, code(r)) == (409, "PublicAccessNotPermitted"), r.text
        r = get(http, w, "/one/hello.txt", good[:-4] + "AAAA")
        assert (r.status_code, code(r)) == (401, "InvalidAuthenticationInfo"), r.text
    finally:
        revoke()


def test_rbac_scopes(world, http, control, arm):
    w = world
    tok = token(control, w["oid"], "https://storage.azure.com/")
    assert (get(http, w, "/one/hello.txt", tok).status_code, ) == (403,)
    r = get(http, w, "/one/hello.txt", tok)
    assert code(r) == "AuthorizationPermissionMismatch" and r.headers["x-ms-error-code"] == code(r)
    rg_scope = f"/subscriptions/{w['sub']}/resourceGroups/{w['rg']}"
    revoke = grant(arm, w, READER_DATA, rg_scope)  # inherited from the group
    try:
        assert get(http, w, "/one/hello.txt", tok).status_code == 200
        assert get(http, w, "/two?restype=container&comp=list", tok).status_code == 200
        assert get(http, w, "/?comp=list", tok).status_code == 200
        put = http.put(w["url"] + "/one/new.txt", data=b"x", timeout=60,
                       headers={"Authorization": f"Bearer {tok}", "x-ms-version": "2021-08-06",
                                "x-ms-blob-type": "BlockBlob"})
        assert (put.status_code, code(put)) == (403, "AuthorizationPermissionMismatch")
    finally:
        revoke()
    revoke = grant(arm, w, READER, w["id"])  # control plane only
    try:
        assert code(get(http, w, "/one/hello.txt", tok)) == "AuthorizationPermissionMismatch"
    finally:
        revoke()


def test_unknown_account_host(http):
    r = http.get("https://nosuchacct0000.blob.core.windows.net/c/b", headers={"x-ms-version": "2021-08-06"},
                 timeout=60)
    assert (r.status_code, code(r)) == (404, "AccountNotFound")


def _expiry(hours):
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("version", ["2015-04-05", "2018-11-09", "2022-11-02"])
def test_sas_signatures_verify_at_azurite(world, http, version):
    w = world
    c_sas = service_sas(w["name"], w["key1"], {"canonicalizedResource": f"/blob/{w['name']}/one",
                                               "signedResource": "c", "signedPermission": "rl",
                                               "signedProtocol": "https", "signedExpiry": _expiry(1)}, version)
    r = http.get(f"{w['url']}/one/hello.txt?{c_sas}", timeout=60)
    assert r.status_code == 200 and r.text == "Hello world! :)", r.text
    b_sas = service_sas(w["name"], w["key2"], {"canonicalizedResource": f"/blob/{w['name']}/one/hello.txt",
                                               "signedResource": "b", "signedPermission": "r",
                                               "signedExpiry": _expiry(1), "rsct": "text/x-milab"}, version)
    r = http.get(f"{w['url']}/one/hello.txt?{b_sas}", timeout=60)
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/x-milab", r.text
    a_sas = account_sas(w["name"], w["key1"], {"signedServices": "b", "signedResourceTypes": "sco",
                                               "signedPermission": "rl", "signedExpiry": _expiry(1)}, version)
    r = http.get(f"{w['url']}/?comp=list&{a_sas}", timeout=60)
    assert r.status_code == 200 and "<Name>one</Name>" in r.text, r.text
    bad = service_sas(w["name"], "AAAA" + w["key1"][4:], {"canonicalizedResource": f"/blob/{w['name']}/one",
                                                          "signedResource": "c", "signedPermission": "r",
                                                          "signedExpiry": _expiry(1)}, version)
    r = http.get(f"{w['url']}/one/hello.txt?{bad}", timeout=60)
    assert (r.status_code, code(r)) == (403, "AuthenticationFailed"), r.text


def test_rp_sas_operations_and_api_versions(world, arm, http):
    w = world
    body = {"canonicalizedResource": f"/blob/{w['name']}/one", "signedResource": "c", "signedPermission": "rcw",
            "signedProtocol": "https", "signedExpiry": _expiry(1)}
    old = arm.call("POST", f"{w['path']}/listServiceSas/", "2017-06-01", body).json()["serviceSasToken"]
    assert old.startswith("sv=2015-04-05&sr=c&spr=https&se=") and "&sp=rcw&sig=" in old
    new = arm.call("POST", f"{w['path']}/listServiceSas", API, body).json()["serviceSasToken"]
    for sas in (old, new):
        assert http.get(f"{w['url']}/one/hello.txt?{sas}", timeout=60).text == "Hello world! :)"
    acc = arm.call("POST", f"{w['path']}/listAccountSas", API,
                   {"signedServices": "b", "signedResourceTypes": "co", "signedPermission": "l",
                    "signedExpiry": _expiry(1)}).json()["accountSasToken"]
    assert http.get(f"{w['url']}/one?restype=container&comp=list&{acc}", timeout=60).status_code == 200
    r = arm.call("POST", f"{w['path']}/listServiceSas", API, {"signedResource": "c"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidValuesForRequestParameters"
    keys = arm.call("POST", f"{w['path']}/listKeys", "2016-12-01").json()["keys"]
    assert [(k["keyName"], k["permissions"]) for k in keys] == [("key1", "Full"), ("key2", "Full")]


def test_rp_authorization_reader_vs_key_operator(world, arm, control):
    w = world
    tok = token(control, w["oid"], "https://management.azure.com/")
    r = arm.call("POST", f"{w['path']}/listKeys", "2016-12-01", token=tok)
    assert (r.status_code, r.json()["error"]["code"]) == (403, "AuthorizationFailed")
    assert "Microsoft.Storage/storageAccounts/listKeys/action" in r.json()["error"]["message"]
    revoke = grant(arm, w, READER, w["id"])
    try:
        assert arm.call("GET", w["path"], API, token=tok).status_code == 200
        r = arm.call("POST", f"{w['path']}/listKeys", "2016-12-01", token=tok)
        assert (r.status_code, r.json()["error"]["code"]) == (403, "AuthorizationFailed")
        r = arm.call("POST", f"{w['path']}/listServiceSas", API, {"signedResource": "c"}, token=tok)
        assert r.status_code == 403
    finally:
        revoke()
    revoke = grant(arm, w, KEY_OPERATOR, w["id"])
    try:
        r = arm.call("POST", f"{w['path']}/listKeys", "2016-12-01", token=tok)
        assert r.status_code == 200 and r.json()["keys"][0]["value"] == w["key1"]
        r = arm.call("POST", f"{w['path']}/listServiceSas", API, {"signedResource": "c"}, token=tok)
        assert (r.status_code, r.json()["error"]["code"]) == (403, "AuthorizationFailed")
    finally:
        revoke()


def test_regenerate_key(arm, http, emu_env):
    sub = emu_env["AZURE_SUBSCRIPTION_ID"]
    rg = arm.group()
    name = f"rk{uuid.uuid4().hex[:12]}"
    path = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{name}"
    assert arm.call("PUT", path, API, {"location": "westus", "sku": {"name": "Standard_LRS"}}).status_code == 202
    assert arm.call("PUT", f"{path}/blobServices/default/containers/data", API, {}).status_code in (200, 201)
    w = {"name": name, "url": f"https://{name}.blob.core.windows.net"}
    key1 = arm.call("POST", f"{path}/listKeys", API).json()["keys"][0]["value"]
    put = signed(http, w, "PUT", "/data/kept.txt", key1, b"still here", {"x-ms-blob-type": "BlockBlob"})
    assert put.status_code == 201, put.text
    keys = arm.call("POST", f"{path}/regenerateKey", API, {"keyName": "key1"}).json()["keys"]
    new1 = keys[0]["value"]
    assert new1 != key1
    r = signed(http, w, "GET", "/data/kept.txt", key1)
    assert (r.status_code, code(r)) == (403, "AuthenticationFailed"), r.text
    r = signed(http, w, "GET", "/data/kept.txt", new1)
    assert r.status_code == 200 and r.text == "still here"
    r = arm.call("POST", f"{path}/regenerateKey", API, {"keyName": "key3"})
    assert r.status_code == 400
    assert arm.call("DELETE", path, API).status_code == 200
    r = signed(http, w, "GET", "/data/kept.txt", new1)
    assert (r.status_code, code(r)) == (404, "AccountNotFound")


def test_account_names(arm, emu_env):
    sub = emu_env["AZURE_SUBSCRIPTION_ID"]
    rg, rg2 = arm.group(), arm.group()
    base = f"/subscriptions/{sub}/resourceGroups/{{rg}}/providers/Microsoft.Storage/storageAccounts/{{name}}"
    body = {"location": "westus", "sku": {"name": "Standard_LRS"}}
    for bad in ("Upper1234", "ab", "a" * 25, "has-dash1"):
        r = arm.call("PUT", base.format(rg=rg, name=bad), API, body)
        assert (r.status_code, r.json()["error"]["code"]) == (400, "AccountNameInvalid"), bad
    name = f"nm{uuid.uuid4().hex[:12]}"
    assert arm.call("PUT", base.format(rg=rg, name=name), API, body).status_code == 202  # accepted, polled
    assert arm.call("PUT", base.format(rg=rg, name=name), API, body).status_code == 200  # same group: update
    r = arm.call("PUT", base.format(rg=rg2, name=name), API, body)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "StorageAccountAlreadyTaken")
    listed = arm.call("GET", f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts",
                      API).json()["value"]
    assert [a["name"] for a in listed] == [name] and "keys" not in str(listed).lower().replace("keyname", "")
    everywhere = arm.call("GET", f"/subscriptions/{sub}/providers/Microsoft.Storage/storageAccounts", API).json()
    assert name in [a["name"] for a in everywhere["value"]]
    r = arm.call("GET", base.format(rg=rg, name=name), "2015-01-01")
    assert r.status_code == 400
    assert arm.call("DELETE", base.format(rg=rg, name=name), API).status_code == 200
