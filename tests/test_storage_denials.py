"""The Blob gateway's authorization, denial by denial: copy sources authorized for the caller,
credentials verified whenever they are present, anonymous access only where the account allows
public access, role-assignment conditions, SAS source addresses, and user-delegation SAS checked
against the delegating principal's RBAC when used. Each test ends at a denial
(``expected <status> <code>``); ``test_storage_permissive`` runs them against a permissive
gateway, where every one must fail there."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest

from blob_support import (CONTRIBUTOR_DATA, READER_DATA, bearer, blob_service, code, container_id, expiry, grant,
                          identity, make_account, signed, StaticToken, token)
from milab.cloud.storage.signing import service_sas

C = "Microsoft.Storage/storageAccounts/blobServices/containers"
READ = f"{C}/blobs/read"


def denied(status_and_code, status: int, expected: str, what: str) -> None:
    got = tuple(status_and_code)
    assert got == (status, expected), f"{what}: expected {status} {expected}, got {got[0]} {got[1]}"


def outcome(r) -> tuple[int, str | None]:
    return r.status_code, code(r)


def sdk_outcome(fn) -> tuple[int, str | None]:
    from azure.core.exceptions import HttpResponseError
    try:
        fn()
    except HttpResponseError as e:
        return e.status_code, e.error_code
    return 200, None


@pytest.fixture(scope="module")
def world(arm, http, control, emu_env):
    """An account with containers box-a (where the identity may write) and box-b (a secret)."""
    sub = emu_env["AZURE_SUBSCRIPTION_ID"]
    rg = arm.group()
    w = make_account(arm, sub, rg, containers=("box-a", "box-b"), prefix="dn")
    for raw, body, extra in (("/box-b/secret.txt", b"top secret", {}),
                             ("/box-a/open.txt", b"open data", {}),
                             ("/box-a/tagged.txt", b"tagged", {"x-ms-tags": "Project=Cascade"}),
                             ("/box-a/public/readme.txt", b"readme", {})):
        r = signed(http, w, "PUT", raw, w["key1"], body, {"x-ms-blob-type": "BlockBlob", **extra})
        assert r.status_code == 201, r.text
    w["oid"] = identity(arm, sub, rg)
    return w


# -- Copy Blob and its kin: the source is authorized for the caller -----------------------------
def test_copy_source_is_authorized_for_the_caller(world, arm, control, emu_env):
    w = world
    revoke = grant(arm, w["sub"], w["oid"], CONTRIBUTOR_DATA, container_id(w, "box-a"))
    try:
        svc = blob_service(emu_env, w, StaticToken(token(control, w["oid"])))
        src = f"{w['url']}/box-b/secret.txt"
        dst = svc.get_blob_client("box-a", f"stolen-{uuid.uuid4().hex[:6]}.txt")
        assert sdk_outcome(lambda: svc.get_blob_client("box-a", "open.txt").download_blob().readall()) == (200, None)
        denied(sdk_outcome(lambda: dst.start_copy_from_url(src)), 403, "CannotVerifyCopySource", "async Copy Blob")
        denied(sdk_outcome(lambda: dst.start_copy_from_url(src, requires_sync=True)), 403, "CannotVerifyCopySource",
               "Copy Blob From URL")
        denied(sdk_outcome(lambda: dst.upload_blob_from_url(src)), 403, "CannotVerifyCopySource", "Put Blob From URL")
        denied(sdk_outcome(lambda: dst.stage_block_from_url("QUFBQQ==", src)), 403, "CannotVerifyCopySource",
               "Put Block From URL")
        denied(sdk_outcome(lambda: dst.download_blob().readall()), 404, "BlobNotFound", "the copy's destination")
    finally:
        revoke()


# -- present credentials are verified; public access follows the account --------------------------
def test_present_credentials_are_verified_on_public_containers(arm, http, emu_env):
    sub = emu_env["AZURE_SUBSCRIPTION_ID"]
    rg = arm.group()
    w = make_account(arm, sub, rg, prefix="pb", allowBlobPublicAccess=True)
    other = make_account(arm, sub, rg, prefix="ot")
    r = arm.call("PUT", f"{w['path']}/blobServices/default/containers/pub", "2023-01-01",
                 {"properties": {"publicAccess": "Container"}})
    assert r.status_code == 201 and r.json()["properties"]["publicAccess"] == "Container", r.text
    assert signed(http, w, "PUT", "/pub/doc.txt", w["key1"], b"public doc",
                  {"x-ms-blob-type": "BlockBlob"}).status_code == 201
    url = f"{w['url']}/pub/doc.txt"
    anonymous = http.get(url, timeout=60)
    assert anonymous.status_code == 200 and anonymous.text == "public doc", anonymous.text
    bogus = dict(signed(http, w, "GET", "/pub/doc.txt", w["key1"]).request.headers)
    bogus["Authorization"] = bogus["Authorization"][:-6] + "AAAAA="
    denied(outcome(http.get(url, headers=bogus, timeout=60)), 403, "AuthenticationFailed", "a bogus Shared Key")
    foreign = signed(http, {"name": w["name"]}, "GET", "/pub/doc.txt", other["key1"])
    denied(outcome(foreign), 403, "AuthenticationFailed", "another account's key")
    for header in ("Garbage x", "Bearer\tx", "SharedKey", "Bearer"):
        denied(outcome(http.get(url, headers={"Authorization": header, "x-ms-version": "2021-08-06"}, timeout=60)),
               403, "AuthenticationFailed", f"Authorization: {header!r}")


def test_public_access_follows_allow_blob_public_access(arm, http, emu_env):
    sub = emu_env["AZURE_SUBSCRIPTION_ID"]
    rg = arm.group()
    w = make_account(arm, sub, rg, containers=("priv",), prefix="np")  # allowBlobPublicAccess unset: false
    put = signed(http, w, "PUT", "/priv/doc.txt", w["key1"], b"doc", {"x-ms-blob-type": "BlockBlob"})
    assert put.status_code == 201, put.text
    denied(outcome(http.get(f"{w['url']}/priv/doc.txt", timeout=60)), 409, "PublicAccessNotPermitted",
           "an anonymous read where the account allows no public access")
    denied(outcome(signed(http, w, "PUT", "/priv?restype=container&comp=acl", w["key1"],
                          extra={"x-ms-blob-public-access": "container"})), 409, "PublicAccessNotPermitted",
           "Set Container ACL making a container public")
    denied(outcome(signed(http, w, "PUT", "/newpub?restype=container", w["key1"],
                          extra={"x-ms-blob-public-access": "blob"})), 409, "PublicAccessNotPermitted",
           "Create Container with public access")
    # an account that allowed public access, then stopped: its public containers stop answering anonymously
    v = make_account(arm, sub, rg, prefix="fl", allowBlobPublicAccess=True)
    assert arm.call("PUT", f"{v['path']}/blobServices/default/containers/was-public", "2023-01-01",
                    {"properties": {"publicAccess": "Blob"}}).status_code == 201
    assert signed(http, v, "PUT", "/was-public/doc.txt", v["key1"], b"doc",
                  {"x-ms-blob-type": "BlockBlob"}).status_code == 201
    assert http.get(f"{v['url']}/was-public/doc.txt", timeout=60).status_code == 200
    r = arm.call("PATCH", v["path"], "2023-01-01", {"properties": {"allowBlobPublicAccess": False}})
    assert r.status_code == 200 and r.json()["properties"]["allowBlobPublicAccess"] is False, r.text
    denied(outcome(http.get(f"{v['url']}/was-public/doc.txt", timeout=60)), 409, "PublicAccessNotPermitted",
           "an anonymous read after allowBlobPublicAccess was turned off")


# -- role-assignment conditions --------------------------------------------------------------------
def _read(http, control, w, path):
    return http.get(w["url"] + path, headers=bearer(token(control, w["oid"])), timeout=60)


CONDITIONS = {
    "container-name": (None, f"@Resource[{C}:name] StringEquals 'box-a'", ["/box-a/open.txt"], "/box-b/secret.txt",
                       "Blob Data Reader at the account, condition container name StringEquals 'box-a', reading box-b"),
    # the documented form: "Read blobs with a blob index tag" (storage-auth-abac-examples)
    "blob-index-tag": ("box-a", f"((!(ActionMatches{{'{READ}'}} AND NOT SubOperationMatches{{'Blob.List'}})) OR "
                                f"(@Resource[{C}/blobs/tags:Project<$key_case_sensitive$>] StringEquals 'Cascade'))",
                       ["/box-a/tagged.txt", "/box-a?restype=container&comp=list"],  # Blob.List is excluded
                       "/box-a/open.txt", "reading a blob without the Project=Cascade tag"),
    "path-or-not": ("box-a", f"(!(ActionMatches{{'{READ}'}}) || (@Resource[{C}/blobs:path] StringStartsWith 'public/' "
                             f"&& NOT @Resource[{C}/blobs:path] StringLike '*.secret'))",
                    ["/box-a/public/readme.txt"], "/box-a/open.txt", "reading outside the path the condition allows"),
}


@pytest.mark.parametrize("case", CONDITIONS)
def test_role_assignment_conditions(world, arm, http, control, case):
    w = world
    container, condition, allowed, refused, what = CONDITIONS[case]
    scope = container_id(w, container) if container else w["id"]
    revoke = grant(arm, w["sub"], w["oid"], READER_DATA, scope, condition=condition)
    try:
        for path in allowed:
            assert _read(http, control, w, path).status_code == 200, path
        denied(outcome(_read(http, control, w, refused)), 403, "AuthorizationPermissionMismatch", what)
    finally:
        revoke()


@pytest.mark.parametrize("condition", [
    "@Principal[Microsoft.Directory/CustomSecurityAttributes/Id:Eng_Project] StringEquals 'x'",  # not provided
    f"@Resource[{C}:name] DateTimeGreaterThan '2020-01-01T00:00:00Z'",  # an operator not implemented
    f"@Resource[{C}:name] StringEquals 'box-a' AND @Resource[{C}:name] StringLike 'b*' OR "
    f"@Resource[{C}:name] StringEquals 'box-a'",  # AND and OR mixed without parentheses: no parse
    f"@Resource[{C}:name] StringEquals",  # truncated
], ids=["principal-attribute", "datetime-operator", "unparenthesised", "truncated"])
def test_a_condition_that_cannot_be_evaluated_denies(world, arm, http, control, condition):
    w = world
    revoke = grant(arm, w["sub"], w["oid"], READER_DATA, container_id(w, "box-a"), condition=condition)
    try:
        denied(outcome(_read(http, control, w, "/box-a/open.txt")), 403, "AuthorizationPermissionMismatch",
               f"an assignment whose condition cannot be evaluated ({condition[:40]}...)")
    finally:
        revoke()


# -- SAS: the signed IP range ------------------------------------------------------------------------
def test_sas_source_ip_range(world, http):
    w = world

    def sas(ip):
        return service_sas(w["name"], w["key1"], {"canonicalizedResource": f"/blob/{w['name']}/box-a",
                                                  "signedResource": "c", "signedPermission": "r",
                                                  "signedIp": ip, "signedExpiry": expiry()}, "2022-11-02")
    assert http.get(f"{w['url']}/box-a/open.txt?{sas('127.0.0.1')}", timeout=60).status_code == 200
    assert http.get(f"{w['url']}/box-a/open.txt?{sas('127.0.0.0-127.255.255.255')}", timeout=60).status_code == 200
    r = http.get(f"{w['url']}/box-a/open.txt?{sas('10.1.2.3')}", timeout=60)
    denied(outcome(r), 403, "AuthorizationSourceIPMismatch", "a SAS with sip=10.1.2.3 used from 127.0.0.1")
    assert "source IP 127.0.0.1" in r.text


# -- user delegation ------------------------------------------------------------------------------------
def test_user_delegation_sas_acts_for_the_delegating_principal(world, arm, http, control, emu_env):
    from azure.storage.blob import BlobSasPermissions, UserDelegationKey, generate_blob_sas
    w = world
    revoke = grant(arm, w["sub"], w["oid"], READER_DATA, w["id"])
    revoked = False
    try:
        svc = blob_service(emu_env, w, StaticToken(token(control, w["oid"])))
        now = dt.datetime.now(dt.timezone.utc)
        key = svc.get_user_delegation_key(now - dt.timedelta(minutes=5), now + dt.timedelta(hours=1))
        assert key.signed_oid == w["oid"] and key.signed_service == "b" and key.value
        sas = generate_blob_sas(w["name"], "box-a", "open.txt", user_delegation_key=key,
                                permission=BlobSasPermissions(read=True), expiry=now + dt.timedelta(hours=1))
        url = f"{w['url']}/box-a/open.txt?{sas}"
        assert http.get(url, timeout=60).text == "open data"
        # a key "derived" without the emulator's secret (Azurite's published seed) does not verify
        forged = UserDelegationKey()
        for k in ("signed_oid", "signed_tid", "signed_start", "signed_expiry", "signed_service", "signed_version"):
            setattr(forged, k, getattr(key, k))
        import base64
        import hashlib
        import hmac
        text = "\n".join([key.signed_oid, key.signed_tid, key.signed_start, key.signed_expiry, "b",
                          key.signed_version])
        forged.value = base64.b64encode(hmac.new(b"azurite-user-delegation-signing-seed-v1", text.encode(),
                                                 hashlib.sha256).digest()).decode()
        forged_sas = generate_blob_sas(w["name"], "box-b", "secret.txt", user_delegation_key=forged,
                                       permission=BlobSasPermissions(read=True), expiry=now + dt.timedelta(hours=1))
        denied(outcome(http.get(f"{w['url']}/box-b/secret.txt?{forged_sas}", timeout=60)), 403,
               "AuthenticationFailed", "a user-delegation SAS signed with a forged key")
        revoke()
        revoked = True
        denied(outcome(http.get(url, timeout=60)), 403, "AuthorizationPermissionMismatch",
               "a user-delegation SAS after the delegating principal lost its role")
    finally:
        if not revoked:
            revoke()
