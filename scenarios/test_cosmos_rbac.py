"""Cosmos DB with data-plane RBAC (seed 002): the VM's identity (system- or user-assigned) gets
DocumentDB Account Contributor on the account (Azure RBAC) to create the database and the container
through Resource Manager with its own token, as the page's management client does, then Cosmos DB
Built-in Data Contributor through a ``sqlRoleAssignment`` at scope ``/``; inside the VM, azure-cosmos
with ``DefaultAzureCredential`` (``AZURE_CLIENT_ID`` selecting the user-assigned identity) creates,
point-reads and queries the page's item.

The page's management program creates the container without a partition key; the container gets
the key path ``/_partitionKey``, the property the page's item carries.

Denials: the management call before DocumentDB Account Contributor (403 AuthorizationFailed); the data
calls before the ``sqlRoleAssignment`` (403 substatus 5301); Built-in Data Reader writing; an assignment
scoped to another container; an ARM Owner with no data role; an ARM token presented to Cosmos (401);
an expired token (401); ``disableLocalAuth`` refusing the account key (401) while tokens still work.
"""
from __future__ import annotations

import email.utils
import json
import uuid

import pytest
from azure.cosmos import CosmosClient
from azure.cosmos.exceptions import CosmosHttpResponseError

from fixtures.cosmos import cosmos_keys, cosmos_mgmt, run_cosmos_program
from milab import redact, registry

from .helpers import assert_denied, claims

VARIANTS = [t.variant for t in registry.TUTORIALS if t.family == "cosmos_rbac"]
pytestmark = [pytest.mark.tutorial(family="cosmos_rbac"), pytest.mark.parametrize("variant", VARIANTS)]


class RbacPage:
    def __init__(self, facts, vm, account, principal_id, client_id):
        self.facts, self.vm, self.account = facts, vm, account
        self.principal_id, self.client_id = principal_id, client_id

    def item(self) -> dict:
        f = self.facts
        return {"id": str(uuid.uuid4()), f["partition_key_property"]: f["partition_key_value"]}

    def steps(self, *ops, container: str | None = None, item: dict | None = None) -> list[dict]:
        f = self.facts
        base = {"database": f["database"], "container": container or f["container"]}
        out = []
        for op in ops:
            if op == "mgmt_database":
                out.append({"op": op, "database": f["database"]})
            elif op == "mgmt_container":
                out.append({"op": op, **base})
            elif op == "create":
                out.append({"op": op, **base, "item": item})
            elif op == "read":
                out.append({"op": op, **base, "id": item["id"], "pk": f["partition_key_value"]})
            elif op == "query":
                out.append({"op": op, **base, "query": f["query"]})
        return out

    def run(self, target, steps):
        return run_cosmos_program(self.vm, target, self.account, steps, client_id=self.client_id)


@pytest.fixture
def rbac_page(variant, tutorial_facts, resource_group, vm_factory, user_identity, cosmos_account):
    facts = tutorial_facts
    rg = resource_group()
    if facts["identity"] == "user":
        ua = user_identity(rg)
        vm = vm_factory(rg, os=facts["os"], identity="user", user_identities=(ua,))
        principal, client_id = ua.principal_id, ua.client_id
    else:
        vm = vm_factory(rg, os=facts["os"], identity="system")
        principal, client_id = vm.principal_id, None
    account = cosmos_account(rg)
    assert account.endpoint == facts["endpoint"].format(account=account.name)
    return RbacPage(facts, vm, account, principal, client_id)


@pytest.fixture
def page_container(rbac_page, target, cosmos_container):
    """The page's database and container, made by the operator (for the denial tests), with the
    partition key path the page's management program ends up with."""
    f = rbac_page.facts
    return cosmos_container(rbac_page.account, f["database"], f["container"], "/" + f["partition_key_property"])


def test_cosmos_rbac(rbac_page, target, grant, sql_role_assignment):
    page, f = rbac_page, rbac_page.facts
    arm_token = _token(page, "https://management.azure.com/")
    data_token = _token(page, f"https://{page.account.host}")

    # Without a role Resource Manager refuses the management client's database create ...
    refused = _create_database(page, target, arm_token)
    assert_denied(refused, 403, "AuthorizationFailed", "creating the database before DocumentDB Account Contributor")
    # ... and the data plane, a separate authorization system, refuses data without a sqlRoleAssignment.
    denied = _create(page, data_token)
    _assert_denied(denied, 403, 5301, "creating an item before the data-plane role assignment")
    assert f"principal [{page.principal_id}]" in denied.body and "items/create" in denied.body

    # DocumentDB Account Contributor on the account (Azure RBAC), Cosmos DB Built-in Data Contributor at
    # scope "/" (a sqlRoleAssignment); then the page's program: database and container through ARM with
    # the VM's own token, create, point read and query with azure-cosmos and DefaultAzureCredential.
    grant(page.principal_id, f["role"], page.account.id)
    sql_role_assignment(page.account, f["data_role"], page.principal_id, f["data_scope"])
    item = page.item()
    out = target.wait_for(
        lambda: page.run(target, page.steps("mgmt_database", "mgmt_container", "create", "read", "query",
                                            item=item)),
        lambda out: all(o["ok"] for o in out), "the role assignments to take effect")
    assert all(o["ok"] for o in out), out
    assert out[3]["item"]["id"] == item["id"] and out[3]["item"][f["partition_key_property"]] == "pkey"
    assert item["id"] in [i["id"] for i in out[4]["items"]]
    made = cosmos_mgmt(target).sql_resources.get_sql_container(page.account.resource_group, page.account.name,
                                                               f["database"], f["container"])
    assert made.resource.partition_key.paths == ["/" + f["partition_key_property"]]


def _create_database(page, target, token):
    """The management client's createUpdateSqlDatabase, sent from the VM with its ARM token."""
    f = page.facts
    url = f"https://management.azure.com{page.account.id}/sqlDatabases/{f['database']}?api-version=2024-11-15"
    return page.vm.http("PUT", url, {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                        json.dumps({"properties": {"resource": {"id": f["database"]}, "options": {}}}))


# -- the denials, from the VM with its own token (REST, as azure-cosmos sends it) ---------------------
def _token(page, resource: str) -> str:
    """The VM identity's token for ``resource`` from IMDS (the user-assigned one chosen by client_id)."""
    sel = {"client_id": page.client_id} if page.client_id else {}
    got = page.vm.imds_token(resource, **sel)
    assert got.status == 200, got.body[:300]
    token = got.json()["access_token"]
    assert claims(token)["oid"] == page.principal_id
    return token


def _data_token(page, target) -> str:
    return _token(page, f"https://{page.account.host}")


def _call(page, method, path, token, body=None, pk=None):
    headers = {"Authorization": f"type=aad&ver=1.0&sig={token}", "x-ms-date": email.utils.formatdate(usegmt=True),
               "x-ms-version": "2018-12-31", "Content-Type": "application/json"}
    if pk is not None:
        headers["x-ms-documentdb-partitionkey"] = json.dumps([pk])
    return page.vm.http(method, page.account.url(path), headers, json.dumps(body) if body is not None else None)


def _create(page, token, container=None):
    f = page.facts
    path = f"dbs/{f['database']}/colls/{container or f['container']}/docs"
    return _call(page, "POST", path, token, page.item(), f["partition_key_value"])


def _assert_denied(result, status, substatus, what):
    body = result.json() if result.body.strip().startswith("{") else {}
    code = {401: "Unauthorized", 403: "Forbidden"}[status]
    assert result.status == status and body.get("code") == code, (
        f"{what}: expected {status} {code}, got {result.status}: {redact.redact(result.body[:400])}")
    if substatus:
        assert f"principal [" in body["message"], body["message"]


def test_cosmos_rbac_denied_data_reader_writes(rbac_page, page_container, target, sql_role_assignment):
    page, f = rbac_page, rbac_page.facts
    sql_role_assignment(page.account, f["reader_data_role"], page.principal_id, "/")
    token = _data_token(page, target)
    got = target.wait_for(lambda: _call(page, "GET", f"dbs/{f['database']}/colls/{f['container']}", token),
                          lambda r: r.status == 200, "the Built-in Data Reader assignment to take effect")
    assert got.status == 200, got.body[:300]
    denied = _create(page, token)
    _assert_denied(denied, 403, 5301, "Built-in Data Reader creating an item")
    assert "sqlDatabases/containers/items/create" in denied.body


def test_cosmos_rbac_denied_other_container(rbac_page, page_container, target, sql_role_assignment,
                                            cosmos_container):
    page, f = rbac_page, rbac_page.facts
    other = cosmos_container(page.account, f["database"], "other", "/" + f["partition_key_property"])
    sql_role_assignment(page.account, f["data_role"], page.principal_id, f"/dbs/{f['database']}/colls/{other.name}")
    token = _data_token(page, target)
    ok = target.wait_for(lambda: _create(page, token, other.name), lambda r: r.status == 201,
                         "the container-scoped assignment to take effect")
    assert ok.status == 201, ok.body[:300]
    _assert_denied(_create(page, token), 403, 5301, "an assignment scoped to another container")


def test_cosmos_rbac_denied_arm_owner(rbac_page, page_container, target, operator):
    page, f = rbac_page, rbac_page.facts
    try:  # the operator is Owner of the subscription, and has no data-plane role
        client = CosmosClient(page.account.endpoint, target.credential)
        client.get_database_client(f["database"]).get_container_client(f["container"]).read()
        got = None
    except CosmosHttpResponseError as e:
        got = e
    assert got is not None and (got.status_code, got.sub_status) == (403, 5301), \
        f"an ARM Owner reading the container: expected 403 Forbidden/5301, got {got}"
    assert operator["object_id"] in str(got)


def test_cosmos_rbac_denied_wrong_audience(rbac_page, page_container, target, sql_role_assignment):
    page, f = rbac_page, rbac_page.facts
    sql_role_assignment(page.account, f["data_role"], page.principal_id, "/")
    arm = _token(page, "https://management.azure.com/")
    _assert_denied(_create(page, arm), 401, None, "an ARM token presented to Cosmos DB")


def test_cosmos_rbac_denied_expired_token(rbac_page, page_container, target, sql_role_assignment):
    page, f = rbac_page, rbac_page.facts
    sql_role_assignment(page.account, f["data_role"], page.principal_id, "/")
    expired = target.expired_token(page.principal_id, f"https://{page.account.host}")
    _assert_denied(_create(page, expired), 401, None, "an expired token")


def test_cosmos_rbac_denied_local_auth_disabled(rbac_page, page_container, target, sql_role_assignment):
    page, f = rbac_page, rbac_page.facts
    key = cosmos_keys(target, page.account)["primaryMasterKey"]
    container = CosmosClient(page.account.endpoint, key).get_database_client(f["database"]) \
        .get_container_client(f["container"])
    container.create_item(page.item())  # the key works while local auth is enabled
    sql_role_assignment(page.account, f["data_role"], page.principal_id, "/")
    target.lro(cosmos_mgmt(target).database_accounts.begin_update(
        page.account.resource_group, page.account.name, {"properties": {"disableLocalAuth": True}}))

    def key_refused():
        try:
            CosmosClient(page.account.endpoint, key).get_database_client(f["database"]) \
                .get_container_client(f["container"]).create_item(page.item())
            return None
        except CosmosHttpResponseError as e:
            return e
    err = target.wait_for(key_refused, lambda e: e is not None, "disableLocalAuth to take effect")
    assert err is not None and err.status_code == 401 and "Local Authorization is disabled" in str(err), \
        f"a key with disableLocalAuth: expected 401 Unauthorized, got {err}"
    token = _data_token(page, target)
    assert _create(page, token).status == 201  # Entra tokens still work
