"""A Cosmos DB account's own managed identities (seed 000): ``az cosmosdb create --assign-identity``,
``az cosmosdb identity show``, ``az identity create`` / ``list``, ``az cosmosdb identity assign
--identities``, then ``identity remove``; each ``az`` command is the request it sends through
azure-mgmt-cosmosdb / azure-mgmt-msi (PUT with ``identity``, GET, PATCH).

The identity type strings are Cosmos's: ``SystemAssigned,UserAssigned`` without the space Compute
writes. The account's system-assigned identity is a real principal: it gets a token (on the
emulator through the control API's test minting, since no Cosmos host process runs there; skipped on
Azure, where the token is obtained inside the service) and is refused by Resource Manager where it has
no role, allowed once granted; removing the identity removes the principal.
"""
from __future__ import annotations

import pytest
import requests

from fixtures.cosmos import cosmos_mgmt
from milab import registry

VARIANTS = [t.variant for t in registry.TUTORIALS if t.family == "cosmos_account_identity"]
pytestmark = [pytest.mark.tutorial(family="cosmos_account_identity"), pytest.mark.parametrize("variant", VARIANTS)]


def _identity_show(target, account) -> dict:
    """``az cosmosdb identity show``: the account's ``identity`` as the CLI prints it."""
    acct = cosmos_mgmt(target).database_accounts.get(account.resource_group, account.name)
    ident = acct.identity
    if ident is None:
        return {}
    ua = ident.user_assigned_identities
    return {"principalId": ident.principal_id, "tenantId": ident.tenant_id, "type": ident.type,
            "userAssignedIdentities": None if not ua else
            {k: {"clientId": v.client_id, "principalId": v.principal_id} for k, v in ua.items()}}


def _identity_update(target, account, identity: dict) -> None:
    client = cosmos_mgmt(target)
    target.lro(client.database_accounts.begin_update(account.resource_group, account.name, {"identity": identity}))


def _get_group(target, rg, token):
    url = f"https://management.azure.com/subscriptions/{target.subscription_id}/resourceGroups/{rg.name}"
    return requests.get(url, params={"api-version": "2021-04-01"}, headers={"Authorization": f"Bearer {token}"},
                        timeout=60)


def test_cosmos_account_identity(variant, tutorial_facts, target, resource_group, cosmos_account, user_identity,
                                 grant):
    facts = tutorial_facts
    rg = resource_group()

    # az cosmosdb create --assign-identity: a system-assigned identity.
    account = cosmos_account(rg, identity={"type": facts["system_type"]})
    shown = _identity_show(target, account)
    assert sorted(shown) == sorted(facts["identity_show_keys"]), shown
    assert shown["type"] == facts["system_type"] and shown["userAssignedIdentities"] is None
    assert shown["tenantId"] == target.tenant_id and shown["principalId"]
    system_pid = shown["principalId"]

    # az identity create / az identity list: the record whose id is assigned next.
    ua = user_identity(rg)
    listed = [i.as_dict() for i in target.msi.user_assigned_identities.list_by_resource_group(rg.name)]
    mine = next(i for i in listed if i["id"].lower() == ua.id.lower())
    for key in ("client_id", "id", "location", "name", "principal_id", "tenant_id", "type"):
        assert mine.get(key), (key, mine)

    # az cosmosdb identity assign --identities <id>: both kinds, spelt the Cosmos way.
    _identity_update(target, account, {"type": facts["both_type"], "userAssignedIdentities": {ua.id: {}}})
    shown = _identity_show(target, account)
    assert shown["type"] == facts["both_type"], shown
    assert shown["principalId"] == system_pid
    (ua_id, ua_shown), = shown["userAssignedIdentities"].items()
    assert ua_id.lower() == ua.id.lower() and sorted(ua_shown) == sorted(facts["user_identity_keys"])
    assert (ua_shown["clientId"], ua_shown["principalId"]) == (ua.client_id, ua.principal_id)

    # The account's own identity is a principal: a token for ARM, refused without a role, allowed with one.
    token = target.identity_token(system_pid, "https://management.azure.com/")
    refused = _get_group(target, rg, token)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "AuthorizationFailed", \
        f"the account's identity reading the group without a role: expected 403 AuthorizationFailed, got " \
        f"{refused.status_code} {refused.text[:300]}"
    grant(system_pid, "Reader", rg.id)
    got = target.wait_for(lambda: _get_group(target, rg, token), lambda r: r.status_code == 200,
                          "the Reader assignment to take effect")
    assert got.status_code == 200 and got.json()["name"] == rg.name

    # az cosmosdb identity remove --identities <id>, then the system-assigned one.
    _identity_update(target, account, {"type": facts["system_type"]})
    shown = _identity_show(target, account)
    assert shown["type"] == facts["system_type"] and shown["userAssignedIdentities"] is None
    _identity_update(target, account, {"type": "None"})
    assert _identity_show(target, account) == {}
    assert target.identity_token(system_pid, "https://management.azure.com/") is None, \
        "the removed system-assigned identity still gets tokens"
