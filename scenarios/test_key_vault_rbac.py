"""Key Vault with Azure RBAC (the current pages' model): the vault has
``enableRbacAuthorization``, the VM's system-assigned identity gets Key Vault Secrets User on the
vault, fetches a token for ``https://vault.azure.net`` from IMDS and reads the secret with the
page's request and with azure-keyvault-secrets; Key Vault Secrets Officer writes.

Pages: the Windows and Linux "access Azure Key Vault" tutorials, in their RBAC form (registry
family ``key_vault_rbac``). Denials: no role, Secrets User writing, a role on another vault, a
role on another secret, control-plane roles (Reader, Key Vault Contributor) and Key Vault Reader
reading values, an access policy (ignored in this model), an ARM token, an expired token.
"""
from __future__ import annotations

import pytest

from fixtures import keyvault as kv
from milab import registry

VARIANTS = [t.variant for t in registry.TUTORIALS if t.family == "key_vault_rbac"]
pytestmark = [pytest.mark.tutorial(family="key_vault_rbac"), pytest.mark.parametrize("variant", VARIANTS)]

DENIED = (403, "Forbidden", "ForbiddenByRbac")


def test_key_vault_rbac(keyvault_page, target, grant):
    facts, rg, vm, vault, secret = keyvault_page
    token = kv.page_token(vm, facts)

    before = kv.get_secret(vm, vault, facts, token)
    kv.assert_kv_denied(before, *DENIED, "before the role assignment")
    assert "Microsoft.KeyVault/vaults/secrets/getSecret/action" in before.body and vm.principal_id in before.body

    # Key Vault Secrets User on the vault (the page's "Grant your VM access" step in RBAC form).
    grant(vm.principal_id, facts["role"], vault.id)
    got = kv.read_when_granted(target, vm, vault, facts, token, what=f"the {facts['role']} assignment")
    kv.assert_page_response(got, vault, facts, facts["secret_value"])

    out = kv.sdk_secret(vm, vault, "get", facts["secret_name"])
    assert out == {"ok": True, "value": facts["secret_value"], "id": secret.id}, out


def test_key_vault_rbac_secret_scope(keyvault_page, target, grant, vault_secret):
    """A role on one secret reads that secret and no other."""
    facts, rg, vm, vault, secret = keyvault_page
    vault_secret(vault, "OtherSecret", "not-for-this-vm-1")
    token = kv.page_token(vm, facts)
    kv.assert_kv_denied(kv.get_secret(vm, vault, facts, token), *DENIED, "before the secret-scope assignment")
    grant(vm.principal_id, facts["role"], f"{vault.id}/secrets/{facts['secret_name']}")
    got = kv.read_when_granted(target, vm, vault, facts, token, what="the secret-scope assignment")
    kv.assert_page_response(got, vault, facts, facts["secret_value"])
    kv.assert_kv_denied(kv.get_secret(vm, vault, facts, token, "OtherSecret"), *DENIED,
                     "a secret-scope role reading another secret")


def test_key_vault_rbac_officer_writes(keyvault_page, target, grant):
    facts, rg, vm, vault, secret = keyvault_page
    kv.assert_sdk_denied(kv.sdk_secret(vm, vault, "set", "WrittenByVm", "from-the-vm-1"), 403, "ForbiddenByRbac",
                      "setting a secret without a role")
    grant(vm.principal_id, facts["writer_role"], vault.id)
    out = target.wait_for(lambda: kv.sdk_secret(vm, vault, "set", "WrittenByVm", "from-the-vm-1"),
                          lambda o: o.get("ok"), f"the {facts['writer_role']} assignment to take effect")
    assert out["ok"] and out["id"].startswith(f"{vault.uri}secrets/WrittenByVm/"), out
    got = kv.get_secret(vm, vault, facts, kv.page_token(vm, facts), "WrittenByVm")
    assert got.status == 200 and got.json()["value"] == "from-the-vm-1" and got.json()["id"] == out["id"], got.body


def test_key_vault_rbac_denied_user_writing(keyvault_page, target, grant):
    facts, rg, vm, vault, secret = keyvault_page
    grant(vm.principal_id, facts["role"], vault.id)
    token = kv.page_token(vm, facts)
    kv.read_when_granted(target, vm, vault, facts, token, what=f"the {facts['role']} assignment")
    put = vm.http("PUT", vault.secret_url("WrittenByUser", facts["vault_api_version"]),
                  {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}, '{"value": "nope-1234"}')
    kv.assert_kv_denied(put, *DENIED, f"{facts['role']} setting a secret")
    assert "setSecret/action" in put.body


def test_key_vault_rbac_denied_other_vault(keyvault_page, target, grant, key_vault):
    facts, rg, vm, vault, secret = keyvault_page
    other = key_vault(rg, rbac=True)
    grant(vm.principal_id, facts["role"], other.id)
    token = kv.page_token(vm, facts)
    kv.assert_kv_denied(kv.get_secret(vm, vault, facts, token), *DENIED, "a role assigned on another vault")


def test_key_vault_rbac_denied_control_plane_roles(keyvault_page, target, grant):
    """Reader and Key Vault Contributor hold no data actions; Key Vault Reader reads metadata only."""
    facts, rg, vm, vault, secret = keyvault_page
    token = kv.page_token(vm, facts)
    for role in ("Reader", "Key Vault Contributor", "Key Vault Reader"):
        ra = grant(vm.principal_id, role, vault.id)
        kv.assert_kv_denied(kv.get_secret(vm, vault, facts, token), *DENIED, f"{role} reading a secret's value")
        grant.revoke(ra)
    ra = grant(vm.principal_id, "Key Vault Reader", vault.id)
    listed = target.wait_for(lambda: vm.http("GET", f"{vault.uri}secrets?api-version={facts['vault_api_version']}",
                                             {"Authorization": f"Bearer {token}"}),
                             lambda r: r.status == 200, "the Key Vault Reader assignment to take effect")
    assert any(i["id"].endswith(f"/secrets/{facts['secret_name']}") and "value" not in i
               for i in listed.json()["value"]), listed.body[:300]


def test_key_vault_rbac_denied_access_policy_ignored(keyvault_page, target, access_policy):
    facts, rg, vm, vault, secret = keyvault_page
    access_policy(vault, vm.principal_id, ["get", "list"])
    token = kv.page_token(vm, facts)
    kv.assert_kv_denied(kv.get_secret(vm, vault, facts, token), *DENIED, "an access policy on an Azure RBAC vault")


def test_key_vault_rbac_denied_wrong_audience(keyvault_page, target, grant):
    facts, rg, vm, vault, secret = keyvault_page
    grant(vm.principal_id, facts["role"], vault.id)
    token = kv.page_token(vm, facts, "https://management.azure.com/")
    r = kv.get_secret(vm, vault, facts, token)
    kv.assert_kv_denied(r, 401, "Unauthorized", None, "an ARM token presented to Key Vault")
    assert "AKV10022" in r.body


def test_key_vault_rbac_denied_expired_token(keyvault_page, target, grant):
    facts, rg, vm, vault, secret = keyvault_page
    grant(vm.principal_id, facts["role"], vault.id)
    token = target.expired_token(vm.principal_id, facts["imds_resource"])
    kv.assert_kv_denied(kv.get_secret(vm, vault, facts, token), 401, "Unauthorized", None, "an expired token")
