"""Key Vault with an access policy: the operator creates a vault and the secret, gives the VM's
system-assigned identity the "Secret Management" access policy, and the VM fetches a token for
``https://vault.azure.net`` from IMDS and reads the secret with the page's request
(``GET https://<vault>/secrets/<name>?api-version=2016-10-01``, curl on Linux, Invoke-WebRequest on
Windows) and with azure-keyvault-secrets.

Pages: the Windows and Linux "access Azure Key Vault" tutorials of 2019 (registry family
``key_vault``). Denials: no policy, a ``list``-only policy, a policy for another object id, after
the policy is removed, an ARM token, an expired token, and Key Vault Contributor (it manages the
vault, not its secrets, until it writes itself a policy).
"""
from __future__ import annotations

import pytest

from fixtures import keyvault as kv
from milab import registry

from .helpers import claims

VARIANTS = [t.variant for t in registry.TUTORIALS if t.family == "key_vault"]
pytestmark = [pytest.mark.tutorial(family="key_vault"), pytest.mark.parametrize("variant", VARIANTS)]

DENIED = (403, "Forbidden", "AccessDenied")


def test_key_vault(keyvault_page, target, access_policy):
    facts, rg, vm, vault, secret = keyvault_page

    # "Get an access token using the VM identity": the page's IMDS request for Key Vault.
    token = kv.page_token(vm, facts)
    assert claims(token)["oid"] == vm.principal_id

    # Before the access policy the token is valid but the vault grants it nothing.
    before = kv.get_secret(vm, vault, facts, token)
    kv.assert_kv_denied(before, *DENIED, "before the access policy")
    assert vm.principal_id in before.json()["error"]["message"] and "secrets get permission" in before.body

    # "Grant your VM access to a Secret stored in a Key Vault": the Secret Management template.
    access_policy(vault, vm.principal_id, facts["policy_permissions"])

    # The page's request and its documented response.
    got = kv.read_when_granted(target, vm, vault, facts, token, what="the access policy")
    kv.assert_page_response(got, vault, facts, facts["secret_value"])

    # The same read through azure-keyvault-secrets with ManagedIdentityCredential inside the VM.
    out = kv.sdk_secret(vm, vault, "get", facts["secret_name"])
    assert out == {"ok": True, "value": facts["secret_value"], "id": secret.id}, out


def test_key_vault_denied_no_policy(keyvault_page, target):
    facts, rg, vm, vault, secret = keyvault_page
    token = kv.page_token(vm, facts)
    kv.assert_kv_denied(kv.get_secret(vm, vault, facts, token), *DENIED, "without an access policy")
    kv.assert_sdk_denied(kv.sdk_secret(vm, vault, "get", facts["secret_name"]), 403, "AccessDenied",
                      "azure-keyvault-secrets without an access policy")


def test_key_vault_denied_list_only(keyvault_page, target, access_policy):
    facts, rg, vm, vault, secret = keyvault_page
    access_policy(vault, vm.principal_id, ["list"])
    token = kv.page_token(vm, facts)
    listed = target.wait_for(lambda: vm.http("GET", f"{vault.uri}secrets?api-version={facts['vault_api_version']}",
                                             {"Authorization": f"Bearer {token}"}),
                             lambda r: r.status == 200, "the list-only access policy to take effect")
    assert listed.status == 200 and any(i["id"].endswith(f"/secrets/{facts['secret_name']}")
                                        for i in listed.json()["value"]), listed.body[:300]
    kv.assert_kv_denied(kv.get_secret(vm, vault, facts, token), *DENIED, "a list-only policy reading the value")
    assert "secrets get permission" in kv.get_secret(vm, vault, facts, token).body


def test_key_vault_denied_other_object_id(keyvault_page, target, access_policy, user_identity):
    facts, rg, vm, vault, secret = keyvault_page
    other = user_identity(rg)
    access_policy(vault, other.principal_id, facts["policy_permissions"])
    token = kv.page_token(vm, facts)
    kv.assert_kv_denied(kv.get_secret(vm, vault, facts, token), *DENIED, "a policy for another object id")


def test_key_vault_denied_after_policy_removed(keyvault_page, target, access_policy):
    facts, rg, vm, vault, secret = keyvault_page
    access_policy(vault, vm.principal_id, facts["policy_permissions"])
    token = kv.page_token(vm, facts)
    assert kv.read_when_granted(target, vm, vault, facts, token, what="the access policy").status == 200
    access_policy(vault, vm.principal_id, facts["policy_permissions"], kind="remove")
    gone = target.wait_for(lambda: kv.get_secret(vm, vault, facts, token), lambda r: r.status == 403,
                           "the removed access policy to stop applying")
    kv.assert_kv_denied(gone, *DENIED, "after the access policy was removed")


def test_key_vault_denied_wrong_audience(keyvault_page, target, access_policy):
    facts, rg, vm, vault, secret = keyvault_page
    access_policy(vault, vm.principal_id, facts["policy_permissions"])
    token = kv.page_token(vm, facts, "https://management.azure.com/")
    r = kv.get_secret(vm, vault, facts, token)
    kv.assert_kv_denied(r, 401, "Unauthorized", None, "an ARM token presented to Key Vault")
    assert "AKV10022" in r.body


def test_key_vault_denied_expired_token(keyvault_page, target, access_policy):
    facts, rg, vm, vault, secret = keyvault_page
    access_policy(vault, vm.principal_id, facts["policy_permissions"])
    token = target.expired_token(vm.principal_id, facts["imds_resource"])
    kv.assert_kv_denied(kv.get_secret(vm, vault, facts, token), 401, "Unauthorized", None, "an expired token")


def test_key_vault_contributor_manages_but_does_not_read(keyvault_page, target, grant):
    """Key Vault Contributor manages the vault but holds no data access; on an access-policy vault
    it can, however, write itself a policy (the role's documented warning), and then read."""
    facts, rg, vm, vault, secret = keyvault_page
    grant(vm.principal_id, "Key Vault Contributor", vault.id)
    token = kv.page_token(vm, facts)
    kv.assert_kv_denied(kv.get_secret(vm, vault, facts, token), *DENIED, "Key Vault Contributor reading a secret")
    arm = kv.page_token(vm, facts, "https://management.azure.com/")
    body = ('{"properties": {"accessPolicies": [{"tenantId": "%s", "objectId": "%s", '
            '"permissions": {"secrets": ["get"]}}]}}' % (vault.tenant_id, vm.principal_id))
    put = target.wait_for(lambda: vm.http("PUT", f"https://management.azure.com{vault.id}/accessPolicies/add"
                                                 f"?api-version=2023-07-01",
                                          {"Authorization": f"Bearer {arm}", "Content-Type": "application/json"}, body),
                          lambda r: r.status == 200, "the Key Vault Contributor assignment to take effect")
    assert put.status == 200 and put.json()["type"] == "Microsoft.KeyVault/vaults/accessPolicies", put.body[:300]
    got = kv.read_when_granted(target, vm, vault, facts, token, what="the self-granted access policy")
    kv.assert_page_response(got, vault, facts, facts["secret_value"])
