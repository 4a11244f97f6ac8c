"""ARM read: a VM's managed identity gets Reader on its resource group, fetches an ARM
token from IMDS as the page shows, and reads the group with the page's api-version.

Pages: the Windows and Linux system-assigned quickstarts and the Windows and Linux
user-assigned tutorials (registry family ``arm_read``). Each variant also checks the
denials: before the grant, after revoking it, beyond the granted scope, with a token for
another audience, with an expired token, and from a second VM that was never granted.
"""
from __future__ import annotations

import pytest

from milab import registry

from .helpers import assert_denied, assert_ok, claims, imds_token

VARIANTS = [t.variant for t in registry.TUTORIALS if t.family == "arm_read"]
pytestmark = [pytest.mark.tutorial(family="arm_read"), pytest.mark.parametrize("variant", VARIANTS)]


@pytest.fixture
def setup(variant, tutorial_facts, target, resource_group, user_identity, vm_factory):
    """The page's prerequisites: a resource group and a VM with the page's identity kind."""
    facts = tutorial_facts
    rg = resource_group()
    if facts["identity"] == "user":
        ua = user_identity(rg)
        vm = vm_factory(rg, os=facts["os"], identity="user", user_identities=[ua])
        principal, selector = ua.principal_id, {facts.get("imds_selector") or "client_id": ua.client_id}
    else:
        vm = vm_factory(rg, os=facts["os"], identity="system")
        principal, selector = vm.principal_id, {}
    return facts, rg, vm, principal, selector



def _arm_get(vm, facts, token, target, rg_name):
    path = facts["arm_path"].format(subscription_id=target.subscription_id, resource_group=rg_name)
    return vm.http("GET", f"https://management.azure.com{path}?api-version={facts['arm_api_version']}",
                   {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})


def test_arm_read(setup, target, grant, resource_group):
    facts, rg, vm, principal, selector = setup

    # Before the grant: the token is issued, but ARM refuses to read the group.
    token = imds_token(vm, facts, **selector)
    assert_denied(_arm_get(vm, facts, token, target, rg.name), 403, "AuthorizationFailed", "before the grant")

    # Grant the identity Reader on the resource group (the page's first section).
    assignment = grant(principal, facts["role"], rg.id)

    # Get a token as the page shows and check the documented response.
    result = vm.imds_token(facts["imds_resource"], facts["imds_api_version"], headers=facts["imds_headers"],
                           url=facts["imds_url"], **selector)
    body = assert_ok(result, "IMDS token request")
    for key in ("access_token", "expires_in", "expires_on", "not_before", "resource", "token_type"):
        assert key in body, f"IMDS response lacks {key!r}: keys are {sorted(body)}"
    assert body["token_type"] == "Bearer"
    assert body["resource"] == facts["imds_resource"]
    c = claims(body["access_token"])
    assert c["aud"] == facts["imds_resource"]
    assert c["oid"] == principal
    token = body["access_token"]

    # Call ARM with it: the page's GET of the resource group, with the page's api-version.
    got = target.wait_for(lambda: _arm_get(vm, facts, token, target, rg.name), lambda r: r.status == 200,
                          "Reader on the resource group to take effect")
    doc = assert_ok(got, "GET resource group after the grant")
    for key in facts["expected_keys"]:
        assert key in doc, f"resource group document lacks {key!r}: {sorted(doc)}"
    assert doc["id"].lower() == rg.id.lower()
    assert doc["name"] == rg.name
    assert doc["properties"]["provisioningState"] == facts["expected_provisioning_state"]

    # Reader on the group reads that group and nothing else: not another group, no writes.
    other = resource_group()
    assert_denied(_arm_get(vm, facts, token, target, other.name), 403, "AuthorizationFailed",
                  "reading a group the identity was not granted")
    path = facts["arm_path"].format(subscription_id=target.subscription_id, resource_group=rg.name)
    write = vm.http("PATCH", f"https://management.azure.com{path}?api-version={facts['arm_api_version']}",
                    {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                    '{"tags": {"written-by": "reader"}}')
    assert_denied(write, 403, "AuthorizationFailed", "a Reader writing the group")

    # After the role assignment is deleted, the same token no longer reads the group.
    grant.revoke(assignment)
    after = target.wait_for(lambda: _arm_get(vm, facts, token, target, rg.name), lambda r: r.status == 403,
                            "the revoked assignment to take effect")
    assert_denied(after, 403, "AuthorizationFailed", "after the role assignment was deleted")


def test_arm_read_denied_wrong_audience(setup, target, grant):
    facts, rg, vm, principal, selector = setup
    grant(principal, facts["role"], rg.id)
    token = imds_token(vm, facts, "https://vault.azure.net", **selector)
    assert claims(token)["aud"] == "https://vault.azure.net"
    assert_denied(_arm_get(vm, facts, token, target, rg.name), 401, "InvalidAuthenticationTokenAudience",
                  "a Key Vault token presented to ARM")


def test_arm_read_denied_expired_token(setup, target, grant):
    facts, rg, vm, principal, selector = setup
    grant(principal, facts["role"], rg.id)
    token = target.expired_token(principal, facts["imds_resource"])
    assert claims(token)["oid"] == principal
    assert_denied(_arm_get(vm, facts, token, target, rg.name), 401, "ExpiredAuthenticationToken",
                  "an expired token")


def test_arm_read_denied_ungranted_vm(setup, target, grant, vm_factory):
    facts, rg, vm, principal, selector = setup
    grant(principal, facts["role"], rg.id)
    second = vm_factory(rg, os=facts["os"], identity="system")
    token = imds_token(second, facts)
    assert claims(token)["oid"] == second.principal_id != principal
    assert_denied(_arm_get(second, facts, token, target, rg.name), 403, "AuthorizationFailed",
                  "a second VM that was never granted")
    # the granted identity does read it: the denial is about the caller, not the group
    token = imds_token(vm, facts, **selector)
    got = target.wait_for(lambda: _arm_get(vm, facts, token, target, rg.name), lambda r: r.status == 200,
                          "Reader on the resource group to take effect")
    assert_ok(got, "the granted VM reading the same group")
