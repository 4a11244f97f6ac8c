"""Key Vault: the resource provider (names, global uniqueness, soft delete, purge, recovery,
access-policy operations, RBAC on the control plane) and the secrets data plane (the challenge,
Key Vault's token errors, both authorization models and their 403 bodies, secret versions and
attributes, soft delete, recovery, purge, backup and restore, hostile input), with raw HTTP."""
from __future__ import annotations

import base64

import time
import uuid

import pytest

from milab.cloud.arm.keyvault import apply_policies
from milab.cloud.keyvault.access import policy_permits
from milab.cloud.keyvault.service import KEY_VAULT_APP_ID, KeyVaultService
from support import operator_token

KV = "https://vault.azure.net"
API = "2025-05-01"
DATA_API = "7.6"
ALL_SECRETS = ["get", "list", "set", "delete", "backup", "restore", "recover", "purge"]


@pytest.fixture(scope="module")
def env(emu_env):
    return emu_env


@pytest.fixture(scope="module")
def kv_token(http, env) -> str:
    """The operator's token for Key Vault (client credentials, scope https://vault.azure.net/.default)."""
    return operator_token(http, env, "https://vault.azure.net/.default")


@pytest.fixture(scope="module")
def rg(arm) -> str:
    return arm.group()


def _vault_body(env, *, rbac=False, policies=None, **extra) -> dict:
    props = {"tenantId": env["AZURE_TENANT_ID"], "sku": {"family": "A", "name": "standard"},
             "enableRbacAuthorization": rbac, "accessPolicies": policies if policies is not None else [], **extra}
    return {"location": "westus", "properties": props}


def _name() -> str:
    return f"t-kv{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def make_vault(arm, env, rg):
    def make(*, rbac=False, secrets_for_operator=True, name=None, **extra):
        name = name or _name()
        pol = [] if rbac or not secrets_for_operator else [
            {"tenantId": env["AZURE_TENANT_ID"], "objectId": env["MILAB_OPERATOR_OBJECT_ID"],
             "permissions": {"secrets": ALL_SECRETS}}]
        r = arm.call("PUT", f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{name}",
                     API, _vault_body(env, rbac=rbac, policies=pol, **extra))
        assert r.status_code == 200, r.text
        return r.json()
    return make


def _dp(http, vault: dict, method: str, path: str, token: str | None, body=None, api: str | None = DATA_API,
        headers=None):
    url = f"{vault['properties']['vaultUri'].rstrip('/')}{path}"
    if api:
        url += ("&" if "?" in url else "?") + f"api-version={api}"
    h = {"Authorization": f"Bearer {token}"} if token else {}
    h.update(headers or {})
    return http.request(method, url, json=body, headers=h, timeout=30)


def _mint(control, oid: str, audience: str = KV, **kw) -> str:
    return control.call("POST", "/_milab/tokens", json={"object_id": oid, "audience": audience, **kw})["access_token"]


def _err(r):
    e = r.json()["error"]
    return r.status_code, e["code"], (e.get("innererror") or {}).get("code")


def _identity(arm, rg) -> dict:
    r = arm.call("PUT", f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/"
                        f"userAssignedIdentities/id{uuid.uuid4().hex[:8]}", "2023-01-31", {"location": "westus"})
    assert r.status_code in (200, 201), r.text
    return r.json()["properties"]


# -- pure functions --------------------------------------------------------------------------------
def test_policy_check_takes_the_caller_and_its_groups():
    tid, group, user = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    policies = [{"tenantId": tid, "objectId": group, "permissions": {"secrets": ["get"]}}]
    assert policy_permits(policies, tid, {user, group}, None, "secrets", "get")
    assert not policy_permits(policies, tid, {user}, None, "secrets", "get")
    assert not policy_permits(policies, tid, {user, group}, None, "secrets", "list")
    assert not policy_permits(policies, str(uuid.uuid4()), {group}, None, "secrets", "get")  # another tenant
    compound = [{"tenantId": tid, "objectId": user, "applicationId": "app", "permissions": {"secrets": ["all"]}}]
    assert policy_permits(compound, tid, {user}, "app", "secrets", "purge")
    assert not policy_permits(compound, tid, {user}, "other-app", "secrets", "get")


def test_access_policy_operations():
    t, o = str(uuid.uuid4()), str(uuid.uuid4())
    cur = [{"tenantId": t, "objectId": o, "permissions": {"secrets": ["get"]}}]
    added = apply_policies(cur, [{"tenantId": t, "objectId": o, "permissions": {"secrets": ["list", "GET"]}}], "add")
    assert added[0]["permissions"]["secrets"] == ["get", "list"]
    replaced = apply_policies(added, [{"tenantId": t, "objectId": o, "permissions": {"secrets": ["set"]}}], "replace")
    assert replaced[0]["permissions"] == {"secrets": ["set"]}
    assert apply_policies(replaced, [{"tenantId": t, "objectId": o, "permissions": {"secrets": ["set"]}}],
                          "remove") == []
    assert cur[0]["permissions"]["secrets"] == ["get"]  # the input is never changed


def test_routes():
    r = KeyVaultService.route
    assert r("GET", "/secrets/a/") == ("get", {"name": "a", "secret_version": None})
    assert r("GET", "//secrets/a") == ("get", {"name": "a", "secret_version": None})
    assert r("GET", "/secrets/a/" + "f" * 32) == ("get", {"name": "a", "secret_version": "f" * 32})
    assert r("PATCH", "/secrets/a/") == ("update", {"name": "a", "secret_version": None})
    assert r("GET", "/secrets/a/versions")[0] == "versions"
    assert r("POST", "/secrets/restore")[0] == "restore"
    assert r("POST", "/deletedsecrets/a/recover")[0] == "recover"
    assert r("DELETE", "/deletedsecrets/a")[0] == "purge"


# -- the challenge and tokens ------------------------------------------------------------------------
def test_unauthenticated_request_gets_the_challenge(http, make_vault, env):
    v = make_vault()
    r = _dp(http, v, "GET", "/secrets/x", None)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == (f'Bearer authorization="https://login.windows.net/{env["AZURE_TENANT_ID"]}"'
                                             f', resource="https://vault.azure.net"')
    assert r.json() == {"error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer or PoP "
                                                                     "token."}}
    assert r.headers["Content-Type"].startswith("application/json") and r.headers["x-ms-keyvault-region"] == "westus"


@pytest.mark.parametrize("case", ["arm", "slash", "expired", "tenant", "garbage"])
def test_token_failures_are_401_with_the_challenge(http, control, make_vault, env, case):
    v = make_vault()
    oid = env["MILAB_OPERATOR_OBJECT_ID"]
    other = str(uuid.uuid4())
    token, needle = {
        "arm": (_mint(control, oid, "https://management.azure.com/"), "AKV10022: Invalid audience"),
        "slash": (_mint(control, oid, "https://vault.azure.net/"), "found: https://vault.azure.net/."),
        "expired": (_mint(control, oid, issued_offset=-7200), "[TokenExpired]"),
        "tenant": (_mint(control, oid, claims={"tid": other, "iss": f"https://sts.windows.net/{other}/"}),
                   "AKV10032: Invalid issuer"),
        "garbage": ("not.a.jwt", "AKV10000"),
    }[case]
    r = _dp(http, v, "GET", "/secrets/x", token)
    assert r.status_code == 401 and r.json()["error"]["code"] == "Unauthorized", r.text
    assert needle in r.json()["error"]["message"], r.text
    assert "WWW-Authenticate" in r.headers


def test_application_id_audience_is_accepted(http, control, make_vault, env):
    v = make_vault()
    token = _mint(control, env["MILAB_OPERATOR_OBJECT_ID"], KEY_VAULT_APP_ID)  # a v2 token's aud
    assert _err(_dp(http, v, "GET", "/secrets/nothing-here", token))[:2] == (404, "SecretNotFound")


def test_api_version_and_names(http, make_vault, kv_token):
    v = make_vault()
    assert _err(_dp(http, v, "GET", "/secrets/x", kv_token, api=None))[:2] == (400, "BadParameter")
    r = _dp(http, v, "GET", "/secrets/x", kv_token, api="9.9")
    assert _err(r)[:2] == (400, "BadParameter") and "(9.9) is not recognized" in r.text
    r = _dp(http, v, "PUT", "/secrets/bad_name", kv_token, {"value": "v"})
    assert _err(r)[:2] == (400, "BadParameter") and "invalid name: bad_name" in r.text
    for api in ("2016-10-01", "7.0", "7.3", "2025-07-01", "2026-04-01"):
        assert _err(_dp(http, v, "GET", "/secrets/missing", kv_token, api=api))[:2] == (404, "SecretNotFound")


# -- secrets --------------------------------------------------------------------------------------------
def test_secret_versions_attributes_and_not_found(http, make_vault, kv_token):
    v = make_vault()
    first = _dp(http, v, "PUT", "/secrets/Pw", kv_token, {"value": "one", "contentType": "text/plain",
                                                          "tags": {"a": "b"}}).json()
    second = _dp(http, v, "PUT", "/secrets/pw", kv_token, {"value": "two"}).json()
    assert first["id"].rsplit("/", 2)[1] == second["id"].rsplit("/", 2)[1] == "Pw"  # the first spelling stays
    a = first["attributes"]
    assert a["enabled"] is True and a["created"] == a["updated"] and a["recoveryLevel"] == "Recoverable+Purgeable"
    assert a["recoverableDays"] == 90 and first["contentType"] == "text/plain" and first["tags"] == {"a": "b"}
    old = "/secrets/Pw/" + first["id"].rsplit("/", 1)[1]
    assert _dp(http, v, "GET", old, kv_token).json()["value"] == "one"
    assert _dp(http, v, "GET", "/secrets/Pw/", kv_token).json()["value"] == "two"
    legacy = _dp(http, v, "GET", "/secrets/Pw", kv_token, api="2016-10-01").json()
    assert "recoverableDays" not in legacy["attributes"]  # added in 7.1
    versions = _dp(http, v, "GET", "/secrets/Pw/versions", kv_token).json()
    assert {i["id"] for i in versions["value"]} == {first["id"], second["id"]} and versions["nextLink"] is None
    listed = _dp(http, v, "GET", "/secrets", kv_token).json()["value"]
    assert [i["id"] for i in listed] == [first["id"].rsplit("/", 1)[0]] and "value" not in listed[0]
    r = _dp(http, v, "GET", "/secrets/nope", kv_token)
    assert _err(r) == (404, "SecretNotFound", None)
    assert r.json()["error"]["message"].startswith("A secret with (name/id) nope was not found in this key vault.")
    assert _err(_dp(http, v, "GET", "/secrets/Pw/" + "0" * 32, kv_token))[:2] == (404, "SecretNotFound")


def test_disabled_secret_is_refused_and_an_expired_one_is_not(http, make_vault, kv_token):
    v = make_vault()
    _dp(http, v, "PUT", "/secrets/s", kv_token, {"value": "v1"})
    r = _dp(http, v, "PATCH", "/secrets/s/", kv_token, {"attributes": {"enabled": False}})
    assert r.status_code == 200 and "value" not in r.json() and r.json()["attributes"]["enabled"] is False
    r = _dp(http, v, "GET", "/secrets/s", kv_token)
    assert r.json() == {"error": {"code": "Forbidden", "message": "Operation get is not allowed on a disabled secret.",
                                  "innererror": {"code": "SecretDisabled"}}}
    assert r.status_code == 403
    past = int(time.time()) - 3600
    _dp(http, v, "PUT", "/secrets/old", kv_token, {"value": "v2", "attributes": {"exp": past}})
    got = _dp(http, v, "GET", "/secrets/old", kv_token).json()
    assert got["value"] == "v2" and got["attributes"]["exp"] == past


def test_soft_delete_recover_purge(http, make_vault, kv_token):
    v = make_vault()
    _dp(http, v, "PUT", "/secrets/s", kv_token, {"value": "v1"})
    d = _dp(http, v, "DELETE", "/secrets/s", kv_token).json()
    assert d["recoveryId"].endswith("/deletedsecrets/s") and d["scheduledPurgeDate"] - d["deletedDate"] == 90 * 86400
    assert _err(_dp(http, v, "GET", "/secrets/s", kv_token))[:2] == (404, "SecretNotFound")
    r = _dp(http, v, "PUT", "/secrets/s", kv_token, {"value": "again"})
    assert _err(r) == (409, "Conflict", "ObjectIsDeletedButRecoverable")
    assert [i["recoveryId"] for i in _dp(http, v, "GET", "/deletedsecrets", kv_token).json()["value"]] == \
        [d["recoveryId"]]
    rec = _dp(http, v, "POST", "/deletedsecrets/s/recover", kv_token)
    assert rec.status_code == 200 and "value" not in rec.json()
    assert _dp(http, v, "GET", "/secrets/s", kv_token).json()["value"] == "v1"
    _dp(http, v, "DELETE", "/secrets/s", kv_token)
    assert _dp(http, v, "DELETE", "/deletedsecrets/s", kv_token).status_code == 204
    r = _dp(http, v, "GET", "/deletedsecrets/s", kv_token)
    assert _err(r)[:2] == (404, "SecretNotFound") and r.json()["error"]["message"] == "Deleted Secret not found: s"
    assert _dp(http, v, "PUT", "/secrets/s", kv_token, {"value": "new"}).status_code == 200


def test_purge_protection_refuses_purge(http, make_vault, kv_token):
    v = make_vault(enablePurgeProtection=True, softDeleteRetentionInDays=7)
    r = _dp(http, v, "PUT", "/secrets/s", kv_token, {"value": "v1"})
    assert r.json()["attributes"]["recoveryLevel"] == "CustomizedRecoverable"
    _dp(http, v, "DELETE", "/secrets/s", kv_token)
    r = _dp(http, v, "DELETE", "/deletedsecrets/s", kv_token)
    assert _err(r)[:2] == (403, "Forbidden") and "purge protection is enabled" in r.text


MARK = "milab-backup-plaintext-marker-7f3a"


def test_backup_and_restore(http, make_vault, kv_token):
    v = make_vault()
    _dp(http, v, "PUT", "/secrets/s", kv_token, {"value": MARK})
    blob = _dp(http, v, "POST", "/secrets/s/backup", kv_token).json()["value"]
    # the backup is opaque: neither its text nor its bytes hold the secret (a short value such as
    # "v1" can occur in random base64 by chance, so the marker is long)
    assert MARK not in blob and MARK.encode() not in base64.b64decode(blob + "=" * (-len(blob) % 4), altchars=b"-_")
    assert _err(_dp(http, v, "POST", "/secrets/restore", kv_token, {"value": blob}))[:2] == (409, "Conflict")
    _dp(http, v, "DELETE", "/secrets/s", kv_token)
    _dp(http, v, "DELETE", "/deletedsecrets/s", kv_token)
    other = make_vault()
    r = _dp(http, other, "POST", "/secrets/restore", kv_token, {"value": blob})
    assert r.status_code == 200 and r.json()["id"].startswith(f"https://{other['name']}.vault.azure.net/secrets/s/")
    assert _dp(http, other, "GET", "/secrets/s", kv_token).json()["value"] == MARK
    tampered = blob[:-4] + ("AAAA" if not blob.endswith("AAAA") else "BBBB")
    assert _err(_dp(http, other, "POST", "/secrets/restore", kv_token, {"value": tampered}))[:2] == \
        (400, "BadParameter")


def test_hostile_input(http, make_vault, kv_token, env):
    v = make_vault()
    url = f"{v['properties']['vaultUri']}secrets/s?api-version={DATA_API}"
    h = {"Authorization": f"Bearer {kv_token}", "Content-Type": "application/json"}
    for body in (b"{not json", b"[]", b'{"value": 5}', b'{"value": "x", "attributes": {"exp": "soon"}}',
                 b'{"value": "x", "tags": {"a": 1}}'):
        r = http.put(url, data=body, headers=h, timeout=30)
        assert _err(r)[:2] == (400, "BadParameter"), (body, r.text)
    r = _dp(http, v, "PUT", "/secrets/big", kv_token, {"value": "x" * (25 * 1024 + 1)})
    assert _err(r)[:2] == (400, "BadParameter")
    assert _dp(http, v, "GET", "/keys/k", kv_token).status_code == 501
    assert _dp(http, v, "GET", "/nothing/here", kv_token).status_code == 404
    assert _dp(http, v, "POST", "/secrets/s", kv_token).status_code == 405
    r = http.get(f"https://no-such-vault-{uuid.uuid4().hex[:6]}.vault.azure.net/secrets/s?api-version=7.6", timeout=30)
    assert r.status_code == 404 and r.json()["error"]["code"] == "VaultNotFound"


# -- authorization on the data plane -------------------------------------------------------------------
def test_access_policy_denial_names_the_caller_and_the_permission(http, control, arm, rg, make_vault, env):
    v = make_vault(secrets_for_operator=False)
    ident = _identity(arm, rg)
    token = _mint(control, ident["principalId"])
    r = _dp(http, v, "GET", "/secrets/s", token)
    assert _err(r) == (403, "Forbidden", "AccessDenied")
    msg = r.json()["error"]["message"]
    assert msg.startswith(f"The user, group or application 'appid={ident['clientId']};oid={ident['principalId']};"
                          f"iss=https://sts.windows.net/{env['AZURE_TENANT_ID']}/' does not have secrets get "
                          f"permission on key vault '{v['name']};location=westus'.")
    assert "linkid=2125287" in msg


def test_access_policy_for_a_group_applies_to_its_members(http, control, arm, rg, make_vault, env):
    v = make_vault()
    ident = _identity(arm, rg)
    group = str(uuid.uuid4())
    r = arm.call("PUT", f"{v['id']}/accessPolicies/add", API, {"properties": {"accessPolicies": [
        {"tenantId": env["AZURE_TENANT_ID"], "objectId": group, "permissions": {"secrets": ["get"]}}]}})
    assert r.status_code == 200 and r.json()["type"] == "Microsoft.KeyVault/vaults/accessPolicies", r.text
    member = _mint(control, ident["principalId"], claims={"groups": [group]})
    outsider = _mint(control, ident["principalId"])
    assert _err(_dp(http, v, "GET", "/secrets/s", member))[:2] == (404, "SecretNotFound")  # authorized
    r = _dp(http, v, "GET", "/secrets/s", outsider)
    assert _err(r) == (403, "Forbidden", "AccessDenied")


def test_rbac_vault_denial_and_secret_scope(http, control, arm, rg, make_vault, env, kv_token):
    v = make_vault(rbac=True)
    sub = arm.sub
    officer = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
    user = "4633458b-17de-408a-b874-0445c86b69e6"
    r = _dp(http, v, "PUT", "/secrets/s", kv_token, {"value": "v1"})
    assert _err(r) == (403, "Forbidden", "ForbiddenByRbac")  # Owner holds no data actions
    msg = r.json()["error"]["message"]
    assert "Action: 'Microsoft.KeyVault/vaults/secrets/setSecret/action'" in msg
    assert f"Resource: '{v['id'].lower()}/secrets/s'" in msg and "Assignment: (not found)" in msg

    def assign(scope, role, pid):
        r = arm.call("PUT", f"{scope}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}", "2022-04-01",
                     {"properties": {"principalId": pid, "roleDefinitionId":
                      f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{role}"}})
        assert r.status_code == 201, r.text
    assign(v["id"], officer, env["MILAB_OPERATOR_OBJECT_ID"])
    assert _dp(http, v, "PUT", "/secrets/s", kv_token, {"value": "v1"}).status_code == 200
    assert _dp(http, v, "PUT", "/secrets/t", kv_token, {"value": "v2"}).status_code == 200
    ident = _identity(arm, rg)
    assign(f"{v['id']}/secrets/s", user, ident["principalId"])  # the secret is an ARM resource too
    token = _mint(control, ident["principalId"])
    assert _dp(http, v, "GET", "/secrets/s", token).json()["value"] == "v1"
    assert _err(_dp(http, v, "GET", "/secrets/t", token)) == (403, "Forbidden", "ForbiddenByRbac")
    assert _err(_dp(http, v, "GET", "/secrets", token)) == (403, "Forbidden", "ForbiddenByRbac")  # vault scope
    arm_view = arm.call("GET", f"{v['id']}/secrets", API).json()["value"]
    assert {s["name"] for s in arm_view} == {"s", "t"} and all("value" not in s["properties"] for s in arm_view)


# -- the resource provider ------------------------------------------------------------------------------
def test_vault_document_and_defaults(arm, rg, env):
    name = _name()
    path = f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{name}"
    r = arm.call("PUT", path, "2023-07-01", _vault_body(env, rbac=None, enableSoftDelete=False))
    assert r.status_code == 200, r.text
    p = r.json()["properties"]
    assert p["vaultUri"] == f"https://{name}.vault.azure.net/" and p["provisioningState"] == "Succeeded"
    assert p["enableSoftDelete"] is True and p["softDeleteRetentionInDays"] == 90  # soft delete cannot be off
    assert p["enableRbacAuthorization"] is False  # before 2026-02-01
    r = arm.call("PUT", path.replace(name, _name()), "2026-02-01",
                 {"location": "westus", "properties": {"tenantId": env["AZURE_TENANT_ID"],
                                                       "sku": {"family": "A", "name": "standard"}}})
    assert r.json()["properties"]["enableRbacAuthorization"] is True  # the new default
    r = arm.call("PATCH", path, API, {"properties": {"enableRbacAuthorization": True}, "tags": {"a": "b"}})
    assert r.status_code == 200 and r.json()["properties"]["enableRbacAuthorization"] is True
    assert r.json()["tags"] == {"a": "b"} and r.json()["properties"]["vaultUri"] == p["vaultUri"]
    listed = arm.call("GET", f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults",
                      API).json()["value"]
    assert name in {v["name"] for v in listed}


@pytest.mark.parametrize("name", ["1abc", "ab", "a" * 25, "abc-", "ab--cd", "ab_cd"])
def test_vault_name_rules(arm, rg, env, name):
    r = arm.call("PUT", f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{name}",
                 API, _vault_body(env))
    assert r.status_code == 400 and r.json()["error"]["code"] == "VaultNameNotValid", r.text


def test_invalid_vault_bodies(arm, rg, env):
    path = f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{_name()}"
    for body in ({"location": "westus"}, _vault_body(env, softDeleteRetentionInDays=3),
                 {"location": "westus", "properties": {"tenantId": "nope", "sku": {"name": "standard"}}},
                 _vault_body(env, policies=[{"tenantId": env["AZURE_TENANT_ID"], "objectId": "x",
                                             "permissions": {"secrets": ["fly"]}}])):
        r = arm.call("PUT", path, API, body)
        assert r.status_code == 400, (body, r.text)


def test_names_are_global_and_held_until_purged(arm, rg, env, make_vault):
    v = make_vault()
    name = v["name"]
    other_rg = arm.group()
    other = f"/subscriptions/{arm.sub}/resourceGroups/{other_rg}/providers/Microsoft.KeyVault/vaults/{name}"
    r = arm.call("PUT", other, API, _vault_body(env))
    assert r.status_code == 409 and r.json()["error"]["code"] == "VaultAlreadyExists", r.text
    assert arm.call("DELETE", v["id"], API).status_code == 200
    deleted = f"/subscriptions/{arm.sub}/providers/Microsoft.KeyVault/locations/westus/deletedVaults/{name}"
    d = arm.call("GET", deleted, API).json()
    assert d["type"] == "Microsoft.KeyVault/deletedVaults" and d["properties"]["vaultId"] == v["id"]
    listed = arm.call("GET", f"/subscriptions/{arm.sub}/providers/Microsoft.KeyVault/deletedVaults", API).json()
    assert name in {x["name"] for x in listed["value"]}
    r = arm.call("PUT", other, API, _vault_body(env))
    assert r.status_code == 409 and r.json()["error"] == {"code": "ConflictError",
                                                          "message": "Exist soft deleted vault with the same name. "}
    r = arm.call("POST", f"{deleted}/purge", API)
    assert r.status_code == 200 and not r.content
    assert arm.call("GET", deleted, API).status_code == 404
    assert arm.call("PUT", other, API, _vault_body(env)).status_code == 200


def test_recover_brings_back_the_vault_and_its_secrets(http, arm, rg, env, make_vault, kv_token):
    v = make_vault()
    _dp(http, v, "PUT", "/secrets/kept", kv_token, {"value": "still-here"})
    assert arm.call("DELETE", v["id"], API).status_code == 200
    assert _dp(http, v, "GET", "/secrets/kept", kv_token).status_code == 404  # no endpoint while deleted
    r = arm.call("PUT", v["id"], API, {"location": "westus", "properties": {"createMode": "recover"}})
    assert r.status_code == 200, r.text
    assert _dp(http, v, "GET", "/secrets/kept", kv_token).json()["value"] == "still-here"
    r = arm.call("PUT", v["id"].replace(v["name"], _name()), API,
                 {"location": "westus", "properties": {"createMode": "recover"}})
    assert r.status_code == 404


def test_purge_protected_vault_cannot_be_purged(arm, make_vault):
    v = make_vault(enablePurgeProtection=True)
    r = arm.call("PATCH", v["id"], API, {"properties": {"enablePurgeProtection": False}})
    assert r.status_code == 400
    arm.call("DELETE", v["id"], API)
    deleted = f"/subscriptions/{arm.sub}/providers/Microsoft.KeyVault/locations/westus/deletedVaults/{v['name']}"
    assert arm.call("POST", f"{deleted}/purge", API).status_code == 409
    assert arm.call("GET", deleted, API).status_code == 200


def test_control_plane_rbac(http, control, arm, rg, env, make_vault):
    """Key Vault Contributor changes access policies; Reader may not; neither reads secrets."""
    v = make_vault()
    ident = _identity(arm, rg)
    arm_token = _mint(control, ident["principalId"], "https://management.azure.com/")
    body = {"properties": {"accessPolicies": [{"tenantId": env["AZURE_TENANT_ID"], "objectId": ident["principalId"],
                                               "permissions": {"secrets": ["get"]}}]}}

    def assign(role):
        r = arm.call("PUT", f"{v['id']}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}",
                     "2022-04-01", {"properties": {"principalId": ident["principalId"], "roleDefinitionId":
                                    f"/subscriptions/{arm.sub}/providers/Microsoft.Authorization/roleDefinitions/"
                                    f"{role}"}})
        assert r.status_code == 201, r.text
    assign("acdd72a7-3385-48ef-bd42-f606fba81ae7")  # Reader
    r = arm.call("PUT", f"{v['id']}/accessPolicies/add", API, body, token=arm_token)
    assert r.status_code == 403 and "Microsoft.KeyVault/vaults/accessPolicies/write" in r.text
    assert _err(_dp(http, v, "GET", "/secrets/s", _mint(control, ident["principalId"]))) == \
        (403, "Forbidden", "AccessDenied")
    assign("f25e0fa2-a7c8-4377-a976-54943a77a395")  # Key Vault Contributor
    r = arm.call("PUT", f"{v['id']}/accessPolicies/add", API, body, token=arm_token)
    assert r.status_code == 200, r.text
    assert _err(_dp(http, v, "GET", "/secrets/s", _mint(control, ident["principalId"])))[:2] == (404, "SecretNotFound")
    r = arm.call("PUT", f"{v['id']}/accessPolicies/remove", API, body, token=arm_token)
    assert ident["principalId"] not in {p["objectId"] for p in r.json()["properties"]["accessPolicies"]}
    r = arm.call("PUT", f"{v['id']}/accessPolicies/sideways", API, body)
    assert r.status_code == 400
