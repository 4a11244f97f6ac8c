"""The Blob gateway and the storage resource provider under hostile and unusual input, and the
behaviours that make the storage emulation one with Azure's: copies whose source the caller may
read, Put Blob From URL, one set of containers for ARM and the Blob API, the 202-then-poll
account creation, bad input answered with Storage's 4xx, secure transfer."""
from __future__ import annotations

import datetime as dt
import socket
import ssl
import uuid

import pytest

from blob_support import (API, CONTRIBUTOR_DATA, READER_DATA, bearer, blob_service, code, container_id, expiry,
                          grant, identity, make_account, signed, StaticToken, token)
from milab.cloud.storage.signing import service_sas


@pytest.fixture(scope="module")
def world(arm, http, emu_env):
    sub = emu_env["AZURE_SUBSCRIPTION_ID"]
    rg = arm.group()
    w = make_account(arm, sub, rg, containers=("box-a", "box-b"), prefix="hd")
    r = signed(http, w, "PUT", "/box-b/source.txt", w["key1"], b"source data",
               {"x-ms-blob-type": "BlockBlob", "x-ms-blob-content-type": "text/x-milab"})
    assert r.status_code == 201, r.text
    w["oid"] = identity(arm, sub, rg)
    return w


# -- copies the caller may make ----------------------------------------------------------------------
def test_copies_with_read_access_to_the_source(world, arm, control, emu_env):
    w = world
    revokes = [grant(arm, w["sub"], w["oid"], CONTRIBUTOR_DATA, container_id(w, "box-a")),
               grant(arm, w["sub"], w["oid"], READER_DATA, container_id(w, "box-b"))]
    try:
        svc = blob_service(emu_env, w, StaticToken(token(control, w["oid"])))
        src = f"{w['url']}/box-b/source.txt"
        a = svc.get_container_client("box-a")
        copy = a.get_blob_client("async.txt").start_copy_from_url(src)
        assert copy["copy_status"] in ("success", "pending"), copy
        assert a.get_blob_client("sync.txt").start_copy_from_url(src, requires_sync=True)["copy_status"] == "success"
        a.get_blob_client("from-url.txt").upload_blob_from_url(src)
        blocks = a.get_blob_client("blocks.txt")
        blocks.stage_block_from_url("QUFBQQ==", src)
        blocks.commit_block_list(["QUFBQQ=="])
        for name in ("async.txt", "sync.txt", "from-url.txt", "blocks.txt"):
            assert a.get_blob_client(name).download_blob().readall() == b"source data", name
        # Put Blob From URL copies the source's content properties unless told otherwise
        assert a.get_blob_client("from-url.txt").get_blob_properties().content_settings.content_type == "text/x-milab"
    finally:
        for revoke in revokes:
            revoke()


def test_put_blob_from_url_with_shared_key_and_a_source_sas(world, http):
    w = world
    r = signed(http, w, "PUT", "/box-a/pbfu.txt", w["key1"],
               extra={"x-ms-blob-type": "BlockBlob", "x-ms-copy-source": f"{w['url']}/box-b/source.txt",
                      "x-ms-version": "2021-08-06"})
    assert r.status_code == 201 and "ETag" in r.headers, (r.status_code, r.text)
    assert signed(http, w, "GET", "/box-a/pbfu.txt", w["key1"]).text == "source data"
    sas = service_sas(w["name"], w["key2"], {"canonicalizedResource": f"/blob/{w['name']}/box-b/source.txt",
                                             "signedResource": "b", "signedPermission": "r",
                                             "signedExpiry": expiry()}, "2022-11-02")
    src_sas = f"{w['url']}/box-b/source.txt?{sas}"
    r = signed(http, w, "PUT", "/box-a/pbfu-sas.txt", w["key1"],
               extra={"x-ms-blob-type": "BlockBlob", "x-ms-copy-source": src_sas})
    assert r.status_code == 201, r.text
    r = signed(http, w, "PUT", "/box-a/missing.txt", w["key1"],
               extra={"x-ms-blob-type": "BlockBlob", "x-ms-copy-source": f"{w['url']}/box-b/nothing.txt"})
    assert (r.status_code, code(r)) == (404, "CannotVerifyCopySource"), r.text
    r = signed(http, w, "PUT", "/box-a/elsewhere.txt", w["key1"],
               extra={"x-ms-blob-type": "BlockBlob", "x-ms-copy-source": "https://example.com/file.txt"})
    assert (r.status_code, code(r)) == (404, "CannotVerifyCopySource"), r.text


# -- one set of containers ------------------------------------------------------------------------------
def test_containers_are_one_set_for_arm_and_the_blob_api(arm, control, emu_env):
    from azure.core.exceptions import ResourceNotFoundError
    from azure.mgmt.storage import StorageManagementClient
    from azure.identity import ClientSecretCredential
    sub = emu_env["AZURE_SUBSCRIPTION_ID"]
    rg = arm.group()
    w = make_account(arm, sub, rg, prefix="os", allowBlobPublicAccess=True)
    owner = identity(arm, sub, rg)
    revoke = grant(arm, sub, owner, "b7e6dc6d-f1e8-4753-8033-0f276bb0955b", w["id"])  # Storage Blob Data Owner
    proxies = {"https": emu_env["HTTPS_PROXY"]}
    cred = ClientSecretCredential(emu_env["AZURE_TENANT_ID"], emu_env["AZURE_CLIENT_ID"],
                                  emu_env["AZURE_CLIENT_SECRET"], proxies=proxies,
                                  connection_verify=emu_env["REQUESTS_CA_BUNDLE"])
    mgmt = StorageManagementClient(cred, sub, proxies=proxies, connection_verify=emu_env["REQUESTS_CA_BUNDLE"])
    try:
        svc = blob_service(emu_env, w, StaticToken(token(control, owner)))
        svc.get_container_client("via-blob-api").create_container(metadata={"team": "a"}, public_access="blob")
        listed = {c.name: c for c in mgmt.blob_containers.list(rg, w["name"])}
        assert "via-blob-api" in listed and listed["via-blob-api"].public_access == "Blob", listed
        assert mgmt.blob_containers.get(rg, w["name"], "via-blob-api").metadata == {"team": "a"}
        # a role assignment at the container's scope, as for an ARM-created container
        reader = identity(arm, sub, rg)
        grant(arm, sub, reader, READER_DATA, container_id(w, "via-blob-api"))
        svc.get_container_client("via-blob-api").set_container_access_policy({}, public_access=None)
        assert mgmt.blob_containers.get(rg, w["name"], "via-blob-api").public_access in (None, "None")
        # ARM's containers are the Blob API's
        mgmt.blob_containers.create(rg, w["name"], "via-arm", {})
        assert "via-arm" in [c.name for c in svc.list_containers()]
        # deleted through the Blob API: gone from ARM, with the assignments at its scope
        svc.get_container_client("via-blob-api").delete_container()
        with pytest.raises(ResourceNotFoundError):
            mgmt.blob_containers.get(rg, w["name"], "via-blob-api")
        listed = arm.call("GET", f"{container_id(w, 'via-blob-api')}/providers/Microsoft.Authorization/"
                                 f"roleAssignments", "2022-04-01").json()["value"]
        assert not [a for a in listed if a["properties"]["scope"].endswith("/via-blob-api")], listed
        mgmt.blob_containers.delete(rg, w["name"], "via-arm")
        assert "via-arm" not in [c.name for c in svc.list_containers()]
    finally:
        revoke()


def test_arm_refuses_public_containers_where_the_account_does_not_allow_them(arm, emu_env):
    sub = emu_env["AZURE_SUBSCRIPTION_ID"]
    w = make_account(arm, sub, arm.group(), prefix="ap")
    r = arm.call("PUT", f"{w['path']}/blobServices/default/containers/pub", API,
                 {"properties": {"publicAccess": "Container"}})
    assert (r.status_code, r.json()["error"]["code"]) == (409, "PublicAccessNotPermitted"), r.text
    assert r.json()["error"]["message"].startswith("Public access is not permitted on this storage account.")
    r = arm.call("PUT", f"{w['path']}/blobServices/default/containers/odd", API,
                 {"properties": {"publicAccess": "Everyone"}})
    assert r.status_code == 400, r.text
    acct = arm.call("GET", w["path"], API).json()
    assert acct["properties"]["allowBlobPublicAccess"] is False  # unset means false


# -- storage account creation: 202, Location, then 200 -------------------------------------------------
def test_account_create_is_accepted_then_polled(arm, http, emu_env):
    sub = emu_env["AZURE_SUBSCRIPTION_ID"]
    rg = arm.group()
    name = f"lro{uuid.uuid4().hex[:12]}"
    path = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{name}"
    r = arm.call("PUT", path, API, {"location": "westus", "sku": {"name": "Standard_LRS"}})
    assert r.status_code == 202 and r.content == b"", r.text
    loc = r.headers["Location"]
    assert loc.startswith(f"https://management.azure.com/subscriptions/{sub}/providers/Microsoft.Storage/locations/"
                          f"westus/asyncoperations/") and loc.endswith(f"?monitor=true&api-version={API}"), loc
    assert r.headers["Retry-After"] == "1"
    polled = http.get(loc, headers={"Authorization": f"Bearer {arm.token}"}, timeout=60)
    assert polled.status_code == 200 and polled.json()["name"] == name, polled.text
    assert polled.json()["properties"]["provisioningState"] == "Succeeded"
    # an update of an existing account is synchronous
    assert arm.call("PUT", path, API, {"location": "westus", "sku": {"name": "Standard_LRS"}}).status_code == 200


# -- bad input is a 4xx ------------------------------------------------------------------------------------
def _raw(emu_env, host: str, request: bytes) -> bytes:
    """One request through a CONNECT tunnel and TLS, bytes as given."""
    port = int(emu_env["MILAB_EMULATOR_URL"].rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n".encode())
        assert sock.recv(1024).startswith(b"HTTP/1.1 200")
        ctx = ssl.create_default_context(cafile=emu_env["REQUESTS_CA_BUNDLE"])
        with ctx.wrap_socket(sock, server_hostname=host) as tls:
            tls.sendall(request)
            data = b""
            while b"</Error>" not in data and len(data) < 65536:
                chunk = tls.recv(65536)
                if not chunk:
                    break
                data += chunk
    return data


@pytest.mark.parametrize("target,extra,expected", [
    (b"/box-a/x", b"x-ms-meta-a: \xff\xfe\r\n", b"InvalidHeaderValue"),
    (b"/box-a/x", b"x-ms-client-request-id: \xc3\xa9t\xc3\xa9\r\n", b"InvalidHeaderValue"),
    (b"/c/%ff%fe", b"", b"InvalidUri"),
    (b"/a%e", b"", b"InvalidUri"),
    (b"/box-a/x?comp=%zz", b"", b"InvalidUri"),
], ids=["ff-fe-header", "utf8-header", "invalid-utf8-path", "truncated-escape", "bad-query-escape"])
def test_malformed_requests_are_400(world, control, emu_env, target, extra, expected):
    w = world
    host = f"{w['name']}.blob.core.windows.net"
    tok = token(control, w["oid"]).encode()
    data = _raw(emu_env, host, b"GET " + target + b" HTTP/1.1\r\nHost: " + host.encode() + b"\r\nAuthorization: Bearer "
                + tok + b"\r\nx-ms-version: 2021-08-06\r\n" + extra + b"Connection: close\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 400 ") and b"<Code>" + expected + b"</Code>" in data, data[:600]


def test_plain_http_needs_the_account_to_allow_it(world, arm, http, emu_env):
    w = world
    r = signed(http, w, "GET", "/box-b/source.txt", w["key1"], scheme="http")
    assert (r.status_code, code(r)) == (400, "AccountRequiresHttps"), r.text
    sas = service_sas(w["name"], w["key1"], {"canonicalizedResource": f"/blob/{w['name']}/box-b",
                                             "signedResource": "c", "signedPermission": "r",
                                             "signedExpiry": expiry()}, "2022-11-02")
    r = http.get(f"http://{w['name']}.blob.core.windows.net/box-b/source.txt?{sas}", timeout=60)
    assert (r.status_code, code(r)) == (400, "AccountRequiresHttps"), r.text
    v = make_account(arm, w["sub"], w["rg"], containers=("plain",), prefix="ht", supportsHttpsTrafficOnly=False)
    assert signed(http, v, "PUT", "/plain/x.txt", v["key1"], b"over http", {"x-ms-blob-type": "BlockBlob"},
                  scheme="http").status_code == 201
    assert signed(http, v, "GET", "/plain/x.txt", v["key1"], scheme="http").text == "over http"
    https_only = service_sas(v["name"], v["key1"], {"canonicalizedResource": f"/blob/{v['name']}/plain",
                                                    "signedResource": "c", "signedPermission": "r",
                                                    "signedProtocol": "https", "signedExpiry": expiry()},
                             "2022-11-02")
    r = http.get(f"http://{v['name']}.blob.core.windows.net/plain/x.txt?{https_only}", timeout=60)
    assert (r.status_code, code(r)) == (403, "AuthorizationProtocolMismatch"), r.text


def test_user_delegation_key_rules(world, arm, control, http):
    w = world
    revoke = grant(arm, w["sub"], w["oid"], READER_DATA, w["id"])
    try:
        now = dt.datetime.now(dt.timezone.utc)

        def key(start, expiry):
            body = (f"<?xml version='1.0' encoding='utf-8'?><KeyInfo><Start>{start}</Start><Expiry>{expiry}</Expiry>"
                    f"</KeyInfo>").encode()
            return http.post(f"{w['url']}/?restype=service&comp=userdelegationkey", data=body, timeout=60,
                             headers=bearer(token(control, w["oid"]), "2021-08-06"))
        fmt = "%Y-%m-%dT%H:%M:%SZ"
        ok = key(now.strftime(fmt), (now + dt.timedelta(days=1)).strftime(fmt))
        assert ok.status_code == 200 and "<SignedOid>" + w["oid"] in ok.text, ok.text
        too_long = key(now.strftime(fmt), (now + dt.timedelta(days=8)).strftime(fmt))
        assert too_long.status_code == 400, too_long.text
        assert key("x", "y").status_code == 400
        r = signed(http, w, "POST", "/?restype=service&comp=userdelegationkey", w["key1"], b"<KeyInfo/>")
        assert r.status_code == 403, r.text  # only OAuth may ask for a user delegation key
    finally:
        revoke()
