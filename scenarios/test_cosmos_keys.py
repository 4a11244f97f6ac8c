"""Cosmos DB via keys from Resource Manager: the VM's system-assigned identity gets the role the page
grants on the account, fetches an ARM token from IMDS, calls ``listKeys`` or ``readonlykeys`` exactly
as the page does (method, api-version 2016-03-31, body), then uses the key: the REST call behind the
pages' ``az cosmosdb collection show`` (a master-key signed ``GET dbs/Test/colls/Test``) and
azure-cosmos with the key inside the VM to create and read a document.

Pages: the 2019 Windows and Linux Cosmos DB tutorials and the 2022 Windows one (seed 003), registry
family ``cosmos_keys``. The 2019 Windows page assigns Cosmos DB Account Reader Role and then calls
``listKeys``: the scenario asserts the 403 that call gets (the page's ``page_denied`` fact), then takes
the page's own alternative, ``readonlykeys``. Denials: before the grant, a role on another account,
Account Reader calling ``listKeys``, a regenerated key, a read-only key writing.
"""
from __future__ import annotations

import json
import uuid

import pytest
from azure.cosmos import CosmosClient

from fixtures.cosmos import cosmos_keys, cosmos_mgmt, run_cosmos_program
from milab import redact, registry
from milab.cloud.cosmos.auth import master_key_authorization

from .helpers import assert_denied, assert_ok, imds_token

VARIANTS = [t.variant for t in registry.TUTORIALS if t.family == "cosmos_keys"]
pytestmark = [pytest.mark.tutorial(family="cosmos_keys"), pytest.mark.parametrize("variant", VARIANTS)]


@pytest.fixture
def cosmos_page(variant, tutorial_facts, resource_group, vm_factory, cosmos_account, cosmos_container):
    """The page's prerequisites: a VM with a system-assigned identity, a Cosmos DB account and the
    "Test" collection. Returns ``(facts, vm, account, container)``."""
    facts = tutorial_facts
    rg = resource_group()
    vm = vm_factory(rg, os=facts["os"], identity="system")
    account = cosmos_account(rg)
    container = cosmos_container(account, facts["database"], facts["collection"], facts["partition_key"])
    return facts, vm, account, container


def _key_call(vm, facts, target, account, token, operation: str | None = None):
    """The page's key request: POST .../<operation>?api-version=2016-03-31 with the ARM token."""
    path = facts["arm_path"].format(subscription_id=target.subscription_id, resource_group=account.resource_group,
                                    account=account.name)
    if operation and operation != facts["key_operation"]:
        path = path.replace(facts["key_operation"], operation)
    return vm.http("POST", f"https://management.azure.com{path}?api-version={facts['arm_api_version']}",
                   {"Authorization": f"Bearer {token}"}, facts["request_body"])


def _keys_when_granted(vm, facts, target, account, token, operation=None) -> dict:
    got = target.wait_for(lambda: _key_call(vm, facts, target, account, token, operation),
                          lambda r: r.status == 200, "the role assignment to take effect")
    keys = assert_ok(got, f"{operation or facts['key_operation']} after the grant")
    for v in keys.values():
        redact.register_secret(v)
    return keys


def _page_keys(vm, facts, target, account, token) -> dict:
    """The keys the page ends up with: its own call, or, where that call is refused for the role the
    page assigns (the 2019 Windows page), the page's alternative after asserting the refusal."""
    denied = facts.get("page_denied")
    if denied:
        got = target.wait_for(lambda: _key_call(vm, facts, target, account, token, denied["alternative"]),
                              lambda r: r.status == 200, "the role assignment to take effect")
        assert got.status == 200, f"{denied['alternative']} after the grant: {got.status} {got.body[:300]}"
        refused = _key_call(vm, facts, target, account, token)
        assert_denied(refused, denied["status"], denied["code"], f"the page's {denied['operation']} with {facts['role']}")
        assert denied["action"].lower() in refused.body.lower(), refused.body[:400]
        return _keys_when_granted(vm, facts, target, account, token, denied["alternative"])
    return _keys_when_granted(vm, facts, target, account, token)


def _collection_show(vm, account, container, key: str):
    """What ``az cosmosdb collection show --url-connection ... --key`` sends: a master-key signed GET."""
    path = container.link
    auth, date = master_key_authorization(key, "GET", path)
    return vm.http("GET", account.url(path), {"Authorization": auth, "x-ms-date": date, "x-ms-version": "2018-12-31"})


def test_cosmos_keys(cosmos_page, target, grant):
    facts, vm, account, container = cosmos_page
    token = imds_token(vm, facts)

    # Before the grant Resource Manager refuses the keys.
    assert_denied(_key_call(vm, facts, target, account, token), 403, "AuthorizationFailed", "keys before the grant")

    # The page's role on the account, then its key request.
    grant(vm.principal_id, facts["role"], account.id)
    keys = _page_keys(vm, facts, target, account, token)
    assert sorted(keys) == sorted(facts["response_keys"]), keys
    key = keys[facts["response_keys"][0]]

    # `az cosmosdb collection show` with the key: the collection the page created.
    shown = _collection_show(vm, account, container, key)
    doc = assert_ok(shown, "collection show with the key")
    assert doc["id"] == facts["collection"] and set(facts["collection_keys"]) <= set(doc), doc
    assert doc["partitionKey"]["paths"] == [facts["partition_key"]]

    # azure-cosmos with the key inside the VM: create (with a read/write key) and read a document.
    item = {"id": str(uuid.uuid4()), facts["partition_key"].strip("/"): "tutorial", "text": "hello"}
    if "primaryMasterKey" not in keys:  # a read-only key reads what someone with a read/write key wrote
        writer = CosmosClient(account.endpoint, cosmos_keys(target, account)["primaryMasterKey"])
        writer.get_database_client(container.database).get_container_client(container.name).create_item(item)
        steps = []
    else:
        steps = [{"op": "create", "database": container.database, "container": container.name, "item": item}]
    steps.append({"op": "read", "database": container.database, "container": container.name, "id": item["id"],
                  "pk": "tutorial"})
    out = run_cosmos_program(vm, target, account, steps, key=key)
    assert all(o["ok"] for o in out), out
    assert out[-1]["item"]["text"] == "hello" and out[-1]["item"]["_etag"]


def test_cosmos_keys_denied_role_on_another_account(cosmos_page, target, grant, resource_group, cosmos_account):
    facts, vm, account, container = cosmos_page
    token = imds_token(vm, facts)
    other = cosmos_account(resource_group())
    grant(vm.principal_id, facts["role"], other.id)
    assert_denied(_key_call(vm, facts, target, account, token), 403, "AuthorizationFailed",
                  "keys of an account the role is not assigned on")


def test_cosmos_keys_denied_account_reader_list_keys(cosmos_page, target, grant):
    facts, vm, account, container = cosmos_page
    token = imds_token(vm, facts)
    grant(vm.principal_id, "Cosmos DB Account Reader Role", account.id)
    _keys_when_granted(vm, facts, target, account, token, "readonlykeys")
    got = _key_call(vm, facts, target, account, token, "listKeys")
    assert_denied(got, 403, "AuthorizationFailed", "listKeys with Cosmos DB Account Reader Role")


def test_cosmos_keys_denied_regenerated_key(cosmos_page, target, grant):
    facts, vm, account, container = cosmos_page
    token = imds_token(vm, facts)
    grant(vm.principal_id, facts["role"], account.id)
    keys = _page_keys(vm, facts, target, account, token)
    name = facts["response_keys"][0]
    old = keys[name]
    assert _collection_show(vm, account, container, old).status == 200

    # The operator regenerates that key: the old value stops working at once, the new one works.
    kind = {"primaryMasterKey": "primary", "primaryReadonlyMasterKey": "primaryReadonly"}[name]
    client = cosmos_mgmt(target)
    target.lro(client.database_accounts.begin_regenerate_key(account.resource_group, account.name,
                                                             {"keyKind": kind}))
    new = cosmos_keys(target, account)[name]
    assert new != old
    stale = target.wait_for(lambda: _collection_show(vm, account, container, old), lambda r: r.status == 401,
                            "the regenerated key to take effect")
    assert_denied(stale, 401, "Unauthorized", "a regenerated (old) key")
    assert _collection_show(vm, account, container, new).status == 200


def test_cosmos_keys_denied_read_only_key_writes(cosmos_page, target, grant):
    facts, vm, account, container = cosmos_page
    token = imds_token(vm, facts)
    grant(vm.principal_id, "Cosmos DB Account Reader Role", account.id)
    ro = _keys_when_granted(vm, facts, target, account, token, "readonlykeys")["primaryReadonlyMasterKey"]
    assert _collection_show(vm, account, container, ro).status == 200  # reads work with a read-only key
    item = {"id": str(uuid.uuid4()), facts["partition_key"].strip("/"): "tutorial"}
    path = f"{container.link}/docs"
    auth, date = master_key_authorization(ro, "POST", path)
    got = vm.http("POST", account.url(path), {"Authorization": auth, "x-ms-date": date, "x-ms-version": "2018-12-31",
                                              "Content-Type": "application/json",
                                              "x-ms-documentdb-partitionkey": json.dumps(["tutorial"])},
                  json.dumps(item))
    assert_denied(got, 401, "Unauthorized", "a read-only key creating a document")
