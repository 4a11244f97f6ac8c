"""Assign a managed identity access to a resource: the portal's IAM blade as the ARM call it makes
(a role assignment with principalType ServicePrincipal at the storage account), listed and removed,
with the effect checked from inside the VM or a scale-set instance: the storage account is read
with the identity's token after the grant and refused before it and after its removal."""
from __future__ import annotations

import uuid

import pytest

from fixtures.hosts import instance_host, vmss_body
from milab import registry

from .helpers import assert_denied, assert_ok
from .lifecycle import ARM, arm_get_from

FAMILY = "rbac_assign"
VARIANTS = [t.variant for t in registry.TUTORIALS if t.family == FAMILY]
pytestmark = [pytest.mark.tutorial(family=FAMILY), pytest.mark.parametrize("variant", VARIANTS)]
ROLE_IDS = {"Reader": "acdd72a7-3385-48ef-bd42-f606fba81ae7"}
STORAGE_API = "2016-12-01"


def test_procedure(variant, tutorial_facts, target, arm_rest, shared_group, vm_factory, storage_account):
    facts, rg = tutorial_facts, shared_group
    if facts["host"] == "vm":
        host = vm_factory(rg, identity="system")
        principal = host.principal_id
    else:
        name = target.unique_name("ss")[-20:].replace("-", "")
        body = vmss_body(target, rg, name)
        body["identity"] = {"type": "SystemAssigned"}
        r = arm_rest.call("PUT", f"{rg.id}/providers/Microsoft.Compute/virtualMachineScaleSets/{name}", "2018-06-01",
                          body)
        assert r.status == 201, r.text[:300]
        principal = r.body["identity"]["principalId"]
        host = instance_host(target, rg, r.body["id"])
    account = storage_account(rg)
    token = host.imds_token(ARM).json()["access_token"]
    assert_denied(arm_get_from(host, token, account.id, STORAGE_API), 403, "AuthorizationFailed",
                  "reading the storage account before the role assignment")

    # the portal: Access control (IAM) > Add role assignment > Reader > Virtual Machine > Save
    scope = account.id
    ra_path = f"{scope}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
    put = arm_rest.call("PUT", ra_path, facts["api_version"], {"properties": {
        "roleDefinitionId": f"/subscriptions/{target.subscription_id}/providers/Microsoft.Authorization/"
                            f"roleDefinitions/{ROLE_IDS[facts['role']]}",
        "principalId": principal, "principalType": "ServicePrincipal"}})
    assert put.status == 201, put.text[:300]
    assert put.body["properties"]["scope"].lower() == scope.lower()
    listed = arm_rest.call("GET", f"{scope}/providers/Microsoft.Authorization/roleAssignments?$filter=principalId eq "
                                  f"'{principal}'", facts["api_version"])
    assert any(a["id"].lower() == ra_path.lower() for a in listed.body["value"]), listed.text[:300]

    got = target.wait_for(lambda: arm_get_from(host, token, account.id, STORAGE_API), lambda r: r.status == 200,
                          f"{facts['role']} on the storage account to take effect")
    doc = assert_ok(got, "reading the storage account with the identity's token")
    assert doc["id"].lower() == account.id.lower()
    # Reader reads, and nothing more: the keys stay out of reach
    keys = host.http("POST", f"https://management.azure.com{account.id}/listKeys?api-version={STORAGE_API}",
                     {"Authorization": f"Bearer {token}"}, "")
    assert_denied(keys, 403, "AuthorizationFailed", "a Reader listing the account's keys")

    assert arm_rest.call("DELETE", ra_path, facts["api_version"]).status in (200, 204)
    after = target.wait_for(lambda: arm_get_from(host, token, account.id, STORAGE_API), lambda r: r.status == 403,
                            "the removed role assignment to take effect")
    assert_denied(after, 403, "AuthorizationFailed", "after the role assignment was removed")
