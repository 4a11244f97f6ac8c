"""Cosmos DB: the resource provider (accounts, keys, identity, SQL resources, data-plane RBAC
resources) and the data plane (key and Entra auth, items, queries, errors), with raw HTTP and the
real azure-cosmos clients against the embedded emulator."""
from __future__ import annotations

import asyncio
import base64
import email.utils
import json
import os
import re
import time
import uuid

import pytest
from azure.cosmos import CosmosClient, PartitionKey
from azure.cosmos.exceptions import CosmosHttpResponseError

from milab.cloud.cosmos.auth import master_key_authorization

API = "2024-11-15"


@pytest.fixture(scope="module")
def acct(arm):
    """An account with keys and a container ``db/items`` (partition key ``/pk``)."""
    rg = arm.group()
    name = f"t{uuid.uuid4().hex[:10]}"
    path = f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.DocumentDB/databaseAccounts/{name}"
    r = arm.call("PUT", path, API, {"location": "westus", "properties": {
        "databaseAccountOfferType": "Standard", "locations": [{"locationName": "westus"}]}})
    assert r.status_code == 200 and r.json()["properties"]["provisioningState"] == "Succeeded", r.text
    assert r.json()["properties"]["documentEndpoint"] == f"https://{name}.documents.azure.com:443/"
    keys = arm.call("POST", f"{path}/listKeys", API).json()
    for sub, body in ((f"{path}/sqlDatabases/db", {"properties": {"resource": {"id": "db"}}}),
                      (f"{path}/sqlDatabases/db/containers/items",
                       {"properties": {"resource": {"id": "items", "partitionKey": {"paths": ["/pk"]}}}})):
        got = arm.call("PUT", sub, API, body)
        assert got.status_code == 200, got.text
    return {"rg": rg, "name": name, "path": path, "keys": keys, "endpoint": f"https://{name}.documents.azure.com:443/",
            "host": f"{name}.documents.azure.com"}


def signed(http, acct, method, path, key=None, body=None, headers=None, date=None):
    key = key or acct["keys"]["primaryMasterKey"]
    auth, date = master_key_authorization(key, method, path, date)
    h = {"Authorization": auth, "x-ms-date": date, "x-ms-version": "2018-12-31", **(headers or {})}
    return http.request(method, f"https://{acct['host']}/{path}", headers=h,
                        data=json.dumps(body) if body is not None else None, timeout=30)


def container(acct, key=None):
    return CosmosClient(acct["endpoint"], key or acct["keys"]["primaryMasterKey"]) \
        .get_database_client("db").get_container_client("items")


# -- the resource provider ------------------------------------------------------------------------
def test_account_validation_and_global_names(arm, acct):
    base = f"/subscriptions/{arm.sub}/resourceGroups/{acct['rg']}/providers/Microsoft.DocumentDB/databaseAccounts"
    body = {"location": "westus", "properties": {"databaseAccountOfferType": "Standard",
                                                 "locations": [{"locationName": "westus"}]}}
    assert arm.call("PUT", f"{base}/Bad_Name", API, body).json()["error"]["code"] == "InvalidResourceName"
    no_loc = {"location": "westus", "properties": {"databaseAccountOfferType": "Standard"}}
    r = arm.call("PUT", f"{base}/t{uuid.uuid4().hex[:8]}", API, no_loc)
    assert r.status_code == 400 and "locations" in r.json()["error"]["message"]
    for bad in ({"disableLocalAuth": "yes"}, {"consistencyPolicy": "Strong"},
                {"locations": [{"locationName": "westus", "failoverPriority": "first"}]}, {"locations": "westus"}):
        r = arm.call("PATCH", acct["path"], API, {"properties": bad})
        assert r.status_code == 400 and r.json()["error"]["code"] == "BadRequest", (bad, r.text)
    other = arm.group()
    r = arm.call("PUT", base.replace(acct["rg"], other) + f"/{acct['name']}", API, body)
    assert r.status_code == 409, r.text


def test_keys_each_with_its_action(arm, acct):
    path = acct["path"]
    keys = acct["keys"]
    assert sorted(keys) == sorted(["primaryMasterKey", "secondaryMasterKey", "primaryReadonlyMasterKey",
                                   "secondaryReadonlyMasterKey"])
    ro_get = arm.call("GET", f"{path}/readonlykeys", API)
    ro_post = arm.call("POST", f"{path}/readonlykeys/", "2016-03-31")
    assert ro_get.status_code == ro_post.status_code == 200
    assert ro_get.json() == ro_post.json() == {k: keys[k] for k in ("primaryReadonlyMasterKey",
                                                                    "secondaryReadonlyMasterKey")}
    cs = arm.call("POST", f"{path}/listConnectionStrings", API).json()["connectionStrings"]
    assert [c["keyKind"] for c in cs] == ["Primary", "Secondary", "PrimaryReadonly", "SecondaryReadonly"]
    assert cs[0]["connectionString"] == f"AccountEndpoint={acct['endpoint']};AccountKey={keys['primaryMasterKey']};"
    bad = arm.call("POST", f"{path}/regenerateKey", API, {"keyKind": "tertiary"})
    assert bad.status_code == 400
    missing = arm.call("POST", acct["path"] + "x/listKeys", API)
    assert missing.status_code == 404


def test_key_actions_are_authorized_with_their_real_actions(arm, acct, control, http, emu_env):
    """Cosmos DB Account Reader Role may readonlykeys (GET and POST), not listKeys; DocumentDB Account
    Contributor may both."""
    from support import operator_token  # noqa: F401  (the session's helpers)
    ident = arm.call("PUT", f"/subscriptions/{arm.sub}/resourceGroups/{acct['rg']}/providers/"
                            f"Microsoft.ManagedIdentity/userAssignedIdentities/u{uuid.uuid4().hex[:6]}",
                     "2023-01-31", {"location": "westus"}).json()
    pid = ident["properties"]["principalId"]
    token = control.call("POST", "/_milab/tokens", json={"object_id": pid,
                                                         "audience": "https://management.azure.com/"})["access_token"]

    def assign(role_guid):
        ra = f"{acct['path']}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
        r = arm.call("PUT", ra, "2022-04-01", {"properties": {
            "roleDefinitionId": f"/subscriptions/{arm.sub}/providers/Microsoft.Authorization/roleDefinitions/"
                                f"{role_guid}", "principalId": pid, "principalType": "ServicePrincipal"}})
        assert r.status_code == 201, r.text
        return ra

    ra = assign("fbdf93bf-df7d-467e-a4d2-9458aa1360c8")  # Cosmos DB Account Reader Role
    assert arm.call("GET", f"{acct['path']}/readonlykeys", API, token=token).status_code == 200
    assert arm.call("POST", f"{acct['path']}/readonlykeys", API, token=token).status_code == 200
    denied = arm.call("POST", f"{acct['path']}/listKeys", API, token=token)
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "AuthorizationFailed"
    assert "Microsoft.DocumentDB/databaseAccounts/listKeys/action" in denied.json()["error"]["message"]
    arm.call("DELETE", ra, "2022-04-01")
    assign("5bd9cd88-fe45-4216-938b-f97437e15450")  # DocumentDB Account Contributor
    assert arm.call("POST", f"{acct['path']}/listKeys", API, token=token).status_code == 200


def test_sql_resources_are_the_objects_the_data_plane_sees(arm, acct, http):
    # created through ARM: the data plane serves it with its partition key
    doc = signed(http, acct, "GET", "dbs/db/colls/items").json()
    arm_doc = arm.call("GET", f"{acct['path']}/sqlDatabases/db/containers/items", API).json()
    assert doc["_rid"] == arm_doc["properties"]["resource"]["_rid"] and doc["partitionKey"]["paths"] == ["/pk"]
    # created through the data plane with a key: ARM lists it
    made = signed(http, acct, "POST", "dbs", body={"id": "fromdata"})
    assert made.status_code == 201, made.text
    names = [d["name"] for d in arm.call("GET", f"{acct['path']}/sqlDatabases", API).json()["value"]]
    assert "db" in names and "fromdata" in names
    # a container created without a partition key gets the system path the 002 page's items carry
    r = arm.call("PUT", f"{acct['path']}/sqlDatabases/fromdata/containers/nopk", API,
                 {"properties": {"resource": {"id": "nopk"}}})
    assert r.json()["properties"]["resource"]["partitionKey"]["paths"] == ["/_partitionKey"]
    # deleting through ARM: 204, and the data plane no longer has it
    assert arm.call("DELETE", f"{acct['path']}/sqlDatabases/fromdata", API).status_code == 204
    assert signed(http, acct, "GET", "dbs/fromdata").status_code == 404
    bad = arm.call("PUT", f"{acct['path']}/sqlDatabases/other", API, {"properties": {"resource": {"id": "x"}}})
    assert bad.status_code == 400
    orphan = arm.call("PUT", f"{acct['path']}/sqlDatabases/nodb/containers/c", API,
                      {"properties": {"resource": {"id": "c"}}})
    assert orphan.status_code == 404 and orphan.json()["error"]["code"] == "ParentResourceNotFound"


def test_role_definitions_builtin_and_custom(arm, acct):
    base = f"{acct['path']}/sqlRoleDefinitions"
    listed = {d["name"]: d for d in arm.call("GET", base, API).json()["value"]}
    assert listed["00000000-0000-0000-0000-000000000001"]["properties"]["roleName"] == "Cosmos DB Built-in Data Reader"
    contributor = listed["00000000-0000-0000-0000-000000000002"]["properties"]
    assert contributor["type"] == "BuiltInRole" and \
        "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/*" in \
        contributor["permissions"][0]["dataActions"]
    assert arm.call("DELETE", f"{base}/00000000-0000-0000-0000-000000000002", API).status_code == 400
    rd = str(uuid.uuid4())
    body = {"properties": {"roleName": "reader of db", "type": "CustomRole", "assignableScopes": ["/dbs/db"],
                           "permissions": [{"dataActions": [
                               "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/read"]}]}}
    made = arm.call("PUT", f"{base}/{rd}", API, body)
    assert made.status_code == 200 and made.json()["properties"]["assignableScopes"] == [acct["path"] + "/dbs/db"]
    with_not = json.loads(json.dumps(body))
    with_not["properties"]["permissions"][0]["notDataActions"] = ["x"]
    assert arm.call("PUT", f"{base}/{uuid.uuid4()}", API, with_not).status_code == 400
    outside = json.loads(json.dumps(body))
    outside["properties"]["assignableScopes"] = ["/subscriptions/x/resourceGroups/y"]
    assert arm.call("PUT", f"{base}/{uuid.uuid4()}", API, outside).status_code == 400
    assert arm.call("PUT", f"{base}/not-a-guid", API, body).status_code == 400


def test_role_assignments_are_validated_as_azure_does(arm, acct, emu_env):
    base = f"{acct['path']}/sqlRoleAssignments"
    rd = f"{acct['path']}/sqlRoleDefinitions/00000000-0000-0000-0000-000000000002"
    pid = emu_env["MILAB_OPERATOR_OBJECT_ID"]

    made = []

    def put(**props):
        body = {"roleDefinitionId": rd, "scope": "/", "principalId": pid, **props}
        r = arm.call("PUT", f"{base}/{uuid.uuid4()}", API, {"properties": body})
        if r.status_code == 200:
            made.append(r.json()["id"])
        return r

    ok = put(scope="/dbs/db/colls/items")
    assert ok.status_code == 200 and ok.json()["properties"]["scope"] == acct["path"] + "/dbs/db/colls/items"
    assert put(scope=acct["path"]).json()["properties"]["scope"] == acct["path"]
    doubled = put(scope=acct["path"] + acct["path"])  # the CLI bug of azure-cli issue 31422
    assert doubled.status_code == 400 and "Expected path segment [dbs]" in doubled.json()["error"]["message"]
    assert put(scope="/colls/x").status_code == 400
    other = put(roleDefinitionId=rd.replace(acct["name"], acct["name"] + "x"))
    assert other.status_code == 400 and other.json()["error"]["code"] == "InvalidRoleDefinitionId"
    assert put(roleDefinitionId=rd[:-1] + "9").status_code == 400
    assert put(principalId="not-a-guid").status_code == 400
    missing = put(principalId=str(uuid.uuid4()))
    assert missing.status_code == 400 and "was not found in the AAD tenant" in missing.json()["error"]["message"]
    for ra in made:  # the operator keeps no data-plane role (other tests rely on that)
        assert arm.call("DELETE", ra, API).status_code == 200


def test_identity_spelt_the_cosmos_way(arm, acct):
    r = arm.call("PATCH", acct["path"], API, {"identity": {"type": "SystemAssigned"}})
    ident = r.json()["identity"]
    assert ident["type"] == "SystemAssigned" and ident["principalId"] and "userAssignedIdentities" not in ident
    ua = arm.call("PUT", f"/subscriptions/{arm.sub}/resourceGroups/{acct['rg']}/providers/"
                         f"Microsoft.ManagedIdentity/userAssignedIdentities/ua{uuid.uuid4().hex[:6]}",
                  "2023-01-31", {"location": "westus"}).json()
    both = arm.call("PATCH", acct["path"], API, {"identity": {"type": "SystemAssigned,UserAssigned",
                                                              "userAssignedIdentities": {ua["id"]: {}}}}).json()
    assert both["identity"]["type"] == "SystemAssigned,UserAssigned"
    assert both["identity"]["userAssignedIdentities"][ua["id"]]["clientId"] == ua["properties"]["clientId"]
    bad = arm.call("PATCH", acct["path"], API, {"identity": {"type": "Everything"}})
    assert bad.status_code == 400 and "'SystemAssigned,UserAssigned'" in bad.json()["error"]["message"]
    none = arm.call("PATCH", acct["path"], API, {"identity": {"type": "None"}}).json()
    assert "identity" not in none


# -- the data plane ------------------------------------------------------------------------------
def test_account_document_names_the_accounts_own_host(http, acct):
    doc = signed(http, acct, "GET", "").json()
    assert doc["id"] == acct["name"]
    assert {loc["databaseAccountEndpoint"] for loc in doc["writableLocations"] + doc["readableLocations"]} == \
        {acct["endpoint"]}


def test_items_with_the_sdk(acct):
    c = container(acct)
    item = c.create_item({"id": "one", "pk": "a", "n": 1})
    assert {"_rid", "_self", "_etag", "_attachments", "_ts"} <= set(item)
    with pytest.raises(CosmosHttpResponseError) as e:
        c.create_item({"id": "one", "pk": "a"})
    assert e.value.status_code == 409
    assert c.read_item("one", "a")["n"] == 1
    with pytest.raises(CosmosHttpResponseError) as e:
        c.read_item("one", "b")  # the same id in another logical partition is another item
    assert e.value.status_code == 404 and "does not exist" in str(e.value)
    replaced = c.replace_item("one", {"id": "one", "pk": "a", "n": 2})
    assert replaced["_etag"] != item["_etag"]
    from azure.core import MatchConditions
    with pytest.raises(CosmosHttpResponseError) as e:
        c.replace_item("one", {"id": "one", "pk": "a", "n": 3}, etag=item["_etag"],
                       match_condition=MatchConditions.IfNotModified)
    assert e.value.status_code == 412
    assert c.upsert_item({"id": "one", "pk": "a", "n": 5})["n"] == 5
    patched = c.patch_item("one", "a", [{"op": "incr", "path": "/n", "value": 1}, {"op": "add", "path": "/t", "value": [1]},
                                        {"op": "remove", "path": "/t"}])
    assert patched["n"] == 6 and "t" not in patched
    with pytest.raises(CosmosHttpResponseError) as e:
        c.patch_item("one", "a", [{"op": "set", "path": "/n", "value": 0}], filter_predicate="from c where c.n = 99")
    assert e.value.status_code == 412
    c.delete_item("one", "a")
    with pytest.raises(CosmosHttpResponseError) as e:
        c.delete_item("one", "a")
    assert e.value.status_code == 404


def test_queries_with_the_sdk_and_the_query_plan_exchange(acct, http):
    c = container(acct)
    for i in range(30):
        c.upsert_item({"id": f"q{i:02d}", "pk": f"p{i % 3}", "n": i, "kind": "query"})
    where = "c.kind = 'query'"
    assert len(list(c.query_items(f"SELECT * FROM c WHERE {where}", enable_cross_partition_query=True,
                                  max_item_count=7))) == 30  # continuation across pages
    assert list(c.query_items(f"SELECT VALUE COUNT(1) FROM c WHERE {where}", enable_cross_partition_query=True)) == [30]
    top = list(c.query_items(f"SELECT TOP 3 c.n FROM c WHERE {where} ORDER BY c.n DESC",
                             enable_cross_partition_query=True))
    assert top == [{"n": 29}, {"n": 28}, {"n": 27}]
    one = list(c.query_items(f"SELECT VALUE c.n FROM c WHERE {where} AND c.n < @m ORDER BY c.n", partition_key="p1",
                             parameters=[{"name": "@m", "value": 10}]))
    assert one == [1, 4, 7]
    # the raw exchange: the gateway refuses to merge, the plan tells the SDK how
    body = {"query": "SELECT * FROM c ORDER BY c.n", "parameters": []}
    hdr = {"x-ms-documentdb-isquery": "True", "Content-Type": "application/query+json",
           "x-ms-documentdb-query-enablecrosspartition": "True"}
    refused = signed(http, acct, "POST", "dbs/db/colls/items/docs", body=body, headers=hdr)
    assert refused.status_code == 400 and refused.headers["x-ms-substatus"] == "1004"
    plan = signed(http, acct, "POST", "dbs/db/colls/items/docs", body=body,
                  headers={**hdr, "x-ms-cosmos-is-query-plan-request": "True"}).json()
    assert plan["queryInfo"]["orderBy"] == ["Ascending"] and "orderByItems" in plan["queryInfo"]["rewrittenQuery"]
    assert json.loads(refused.json()["additionalErrorInfo"]) == plan  # the refusal carries the plan, as a string
    bad = signed(http, acct, "POST", "dbs/db/colls/items/docs", body={"query": "SELEC * FROM c"}, headers=hdr)
    assert bad.status_code == 400 and bad.json()["code"] == "BadRequest" and "SC1001" in bad.json()["message"]


def test_async_client(acct):
    from azure.cosmos.aio import CosmosClient as AsyncClient

    async def go():
        async with AsyncClient(acct["endpoint"], acct["keys"]["primaryMasterKey"]) as client:
            c = client.get_database_client("db").get_container_client("items")
            await c.upsert_item({"id": "async", "pk": "z"})
            got = await c.read_item("async", "z")
            rows = [r async for r in c.query_items("SELECT VALUE COUNT(1) FROM c WHERE c.pk = 'z'")]
            return got["id"], rows
    assert asyncio.run(go()) == ("async", [1])


def test_point_reads_see_every_write_at_once(http, acct):
    """The data plane remembers parsed headers, signatures and items' JSON; none of that may outlive
    what it stands for. Every read below is the same signed request (one date), sent again."""
    c = container(acct)
    c.create_item({"id": "memo", "pk": "m", "n": 1})
    date = email.utils.formatdate(usegmt=True)
    pk = {"x-ms-documentdb-partitionkey": '["m"]'}

    def read():
        r = signed(http, acct, "GET", "dbs/db/colls/items/docs/memo", headers=pk, date=date)
        if r.status_code == 200:
            assert r.headers["etag"] == r.json()["_etag"]
            assert r.headers["Content-Type"] == "application/json; charset=utf-8"
            assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                                r.headers["x-ms-activity-id"])
        return r

    first, again = read(), read()
    assert first.json() == again.json() and first.json()["n"] == 1
    assert first.headers["x-ms-activity-id"] != again.headers["x-ms-activity-id"]
    c.replace_item("memo", {"id": "memo", "pk": "m", "n": 2})
    assert read().json()["n"] == 2

    def query(text="SELECT * FROM c WHERE c.id = 'memo'"):
        return list(c.query_items(text, partition_key="m"))
    assert [d["n"] for d in query()] == [2] and query()[0] == read().json()
    c.patch_item("memo", "m", [{"op": "incr", "path": "/n", "value": 1}])
    assert read().json()["n"] == 3 and [d["n"] for d in query()] == [3]
    assert query("SELECT c.n, c._etag FROM c WHERE c.id = 'memo'") == [{"n": 3, "_etag": read().json()["_etag"]}]
    c.upsert_item({"id": "memo", "pk": "m", "n": 4, "more": "x"})
    assert read().json()["more"] == "x"
    c.delete_item("memo", "m")
    assert read().status_code == 404
    c.create_item({"id": "memo", "pk": "m", "n": 5})  # recreated: a new item, not the old one's JSON
    assert read().json()["n"] == 5
    c.delete_item("memo", "m")
    # the same partition key header against a container with two key paths is still refused
    bad = signed(http, acct, "GET", "dbs/db/colls/items/docs/memo", headers={"x-ms-documentdb-partitionkey": '["m", 1]'},
                 date=date)
    assert bad.status_code == 400 and bad.headers["x-ms-substatus"] == "1001"


def test_key_signatures_and_dates(http, acct):
    ok = signed(http, acct, "GET", "dbs/db")
    assert ok.status_code == 200 and ok.json()["id"] == "db"
    wrong = signed(http, acct, "GET", "dbs/db", key=base64.b64encode(os.urandom(64)).decode())
    assert wrong.status_code == 401 and wrong.json()["code"] == "Unauthorized"
    assert "get\ndbs\ndbs/db\n" in wrong.json()["message"]  # the string the server signed
    old = email.utils.formatdate(time.time() - 3600, usegmt=True)
    stale = signed(http, acct, "GET", "dbs/db", date=old)
    assert stale.status_code == 403 and "not valid at the current time" in stale.json()["message"]
    ro = acct["keys"]["secondaryReadonlyMasterKey"]
    assert signed(http, acct, "GET", "dbs/db", key=ro).status_code == 200
    write = signed(http, acct, "POST", "dbs", key=ro, body={"id": "nope"})
    assert write.status_code == 401


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "garbage"}, {"Authorization": "type=master&ver=1.0&sig="},
    {"Authorization": "type=resource&ver=1.0&sig=abc"}, {"Authorization": "type=aad&ver=1.0&sig=not.a.jwt"},
    {"Authorization": "type=master&ver=1.0&sig=%%%", "x-ms-date": "yesterday"},
])
def test_hostile_authorization_is_a_precise_401(http, acct, headers):
    r = http.get(f"https://{acct['host']}/dbs", headers=headers, timeout=30)
    assert r.status_code == 401 and r.json()["code"] == "Unauthorized" and "ActivityId" in r.json()["message"]


@pytest.mark.parametrize("path,body,headers,status", [
    ("dbs/db/colls/items/docs", "not json", {"x-ms-documentdb-partitionkey": '["a"]'}, 400),
    ("dbs/db/colls/items/docs", {"id": "x", "pk": "a"}, {}, 400),
    ("dbs/db/colls/items/docs", {"id": "x", "pk": "a"}, {"x-ms-documentdb-partitionkey": '["b"]'}, 400),
    ("dbs/db/colls/items/docs", {"id": "x", "pk": "a"}, {"x-ms-documentdb-partitionkey": "{{"}, 400),
    ("dbs/db/colls/items/docs", {"id": "a/b", "pk": "a"}, {"x-ms-documentdb-partitionkey": '["a"]'}, 400),
    ("dbs/db/colls/items/docs", {"pk": "a"}, {"x-ms-documentdb-partitionkey": '["a"]'}, 400),
    ("dbs/db/colls/nosuch/docs", {"id": "x", "pk": "a"}, {"x-ms-documentdb-partitionkey": '["a"]'}, 404),
    ("dbs/db/colls/items/sprocs", {"id": "x"}, {}, 400),
])
def test_hostile_requests_get_cosmos_errors(http, acct, path, body, headers, status):
    raw = body if isinstance(body, str) else json.dumps(body)
    auth, date = master_key_authorization(acct["keys"]["primaryMasterKey"], "POST", path)
    r = http.post(f"https://{acct['host']}/{path}", data=raw, timeout=30,
                  headers={"Authorization": auth, "x-ms-date": date, **headers})
    assert r.status_code == status and set(r.json()) == {"code", "message"}, r.text


@pytest.mark.parametrize("body", [
    "[1]", '["set"]', "[[]]", '{"operations": [null]}', '{"operations": {"op": "set"}}', "[]", '"ops"', "7",
    '[{"op": "set", "path": 5, "value": 1}]', '[{"op": "move", "from": "/pk/x", "path": "/y"}]',
    '[{"op": "incr", "path": "/pk/0", "value": 1}]', '[{"op": "add", "path": "/tags/x", "value": 1}]',
    '{"operations": [{"op": "set", "path": "/n", "value": 1}], "condition": 5}',
])
def test_hostile_patches_are_precise_400s(http, acct, body):
    """Whatever a patch's body holds (the object with ``operations`` or a bare list, as
    @azure/cosmos sends), the answer is Cosmos's 400, and the item is unchanged."""
    path = "dbs/db/colls/items/docs/patchme"
    key = {"x-ms-documentdb-partitionkey": '["a"]'}
    put = signed(http, acct, "POST", "dbs/db/colls/items/docs", body={"id": "patchme", "pk": "a", "tags": ["t"]},
                 headers={**key, "x-ms-documentdb-is-upsert": "True"})
    assert put.status_code in (200, 201), put.text
    auth, date = master_key_authorization(acct["keys"]["primaryMasterKey"], "PATCH", path)
    r = http.patch(f"https://{acct['host']}/{path}", data=body, timeout=30,
                   headers={"Authorization": auth, "x-ms-date": date, "Content-Type": "application/json", **key})
    assert r.status_code == 400 and set(r.json()) == {"code", "message"}, r.text
    after = signed(http, acct, "GET", path, headers=key).json()
    assert (after["pk"], after["tags"], "n" in after) == ("a", ["t"], False), after


def test_oversized_request_is_413(http, acct):
    item = {"id": "big", "pk": "a", "blob": "x" * (3 * 1024 * 1024)}
    r = signed(http, acct, "POST", "dbs/db/colls/items/docs", body=item, headers={"x-ms-documentdb-partitionkey": '["a"]'})
    assert r.status_code == 413 and r.json()["code"] == "RequestEntityTooLarge"


def test_builtin_azure_roles_of_the_cosmos_pages():
    """Cosmos DB Account Reader Role may read keys read-only, DocumentDB Account Contributor all keys,
    Cosmos DB Operator none; the Built-in Data Reader/Contributor are Cosmos roles, not Azure ones."""
    from milab.cloud.authorization import permits, roles
    reader, contributor, operator = (roles.by_name(n) for n in (
        "Cosmos DB Account Reader Role", "DocumentDB Account Contributor", "Cosmos DB Operator"))
    ns = "Microsoft.DocumentDB/databaseAccounts"
    assert permits(reader, f"{ns}/readonlykeys/action") and permits(reader, f"{ns}/readonlykeys/read")
    assert not permits(reader, f"{ns}/listKeys/action")
    assert permits(contributor, f"{ns}/listKeys/action") and permits(contributor, f"{ns}/regenerateKey/action")
    assert permits(operator, f"{ns}/write") and not permits(operator, f"{ns}/listKeys/action")
    assert not permits(operator, f"{ns}/readonlykeys/action")
    assert roles.by_name("Cosmos DB Built-in Data Contributor") is None
    assert roles.by_name("Cosmos DB Built-in Data Reader") is None


def test_bad_continuation_and_page_size(http, acct):
    assert signed(http, acct, "GET", "dbs/db/colls/items/docs", headers={"x-ms-continuation": "xyz"}).status_code == 400
    assert signed(http, acct, "GET", "dbs/db/colls/items/docs", headers={"x-ms-max-item-count": "many"}).status_code \
        == 400


def test_unknown_account_host(http):
    r = http.get("https://nosuchaccount123.documents.azure.com/", timeout=30)
    assert r.status_code == 404 and r.json()["code"] == "NotFound"


def test_entra_tokens_are_authorized_by_sql_role_assignments(arm, acct, control, emu_env):
    """An Owner has no data access; a sqlRoleAssignment grants it; metadata writes with a token are
    refused (5300); another audience is 401 naming the accepted ones."""
    pid = emu_env["MILAB_OPERATOR_OBJECT_ID"]

    def token(aud):
        return control.call("POST", "/_milab/tokens", json={"object_id": pid, "audience": aud})["access_token"]

    class Cred:
        def __init__(self, aud):
            self.aud = aud

        def get_token(self, *scopes, **kw):
            from azure.core.credentials import AccessToken
            return AccessToken(token(self.aud), int(time.time()) + 3600)

    host = f"https://{acct['host']}"
    with pytest.raises(CosmosHttpResponseError) as e:
        CosmosClient(acct["endpoint"], Cred(host))
    assert (e.value.status_code, e.value.sub_status) == (403, 5301) and f"principal [{pid}]" in str(e.value)
    with pytest.raises(CosmosHttpResponseError) as e:
        CosmosClient(acct["endpoint"], Cred("https://management.azure.com/"))
    assert e.value.status_code == 401 and "intended for" in str(e.value)
    ra = arm.call("PUT", f"{acct['path']}/sqlRoleAssignments/{uuid.uuid4()}", API, {"properties": {
        "roleDefinitionId": f"{acct['path']}/sqlRoleDefinitions/00000000-0000-0000-0000-000000000002",
        "scope": "/dbs/db", "principalId": pid}})
    assert ra.status_code == 200, ra.text
    try:
        client = CosmosClient(acct["endpoint"], Cred("https://cosmos.azure.com"))
        c = client.get_database_client("db").get_container_client("items")
        c.upsert_item({"id": "aad", "pk": "t"})
        assert c.read_item("aad", "t")["id"] == "aad"
        with pytest.raises(CosmosHttpResponseError) as e:
            client.create_database("viaaad")
        assert (e.value.status_code, e.value.sub_status) == (403, 5300)
    finally:
        arm.call("DELETE", ra.json()["id"], API)


def test_regenerated_key_and_disable_local_auth(arm, http, acct):
    name = f"r{uuid.uuid4().hex[:10]}"
    path = acct["path"].rsplit("/", 1)[0] + "/" + name
    body = {"location": "westus", "properties": {"databaseAccountOfferType": "Standard",
                                                 "locations": [{"locationName": "westus"}]}}
    assert arm.call("PUT", path, API, body).status_code == 200
    other = {**acct, "host": f"{name}.documents.azure.com", "keys": arm.call("POST", f"{path}/listKeys", API).json()}
    old = other["keys"]["secondaryMasterKey"]
    assert signed(http, other, "GET", "dbs", key=old).status_code == 200
    assert arm.call("POST", f"{path}/regenerateKey", API, {"keyKind": "secondary"}).status_code == 200
    assert signed(http, other, "GET", "dbs", key=old).status_code == 401
    new = arm.call("POST", f"{path}/listKeys", API).json()["secondaryMasterKey"]
    assert signed(http, other, "GET", "dbs", key=new).status_code == 200
    arm.call("PATCH", path, API, {"properties": {"disableLocalAuth": True}})
    off = signed(http, other, "GET", "dbs", key=new)
    assert off.status_code == 401 and "Local Authorization is disabled" in off.json()["message"]
    assert arm.call("DELETE", path, API).status_code == 204
    assert http.get(f"https://{name}.documents.azure.com/", timeout=30).status_code == 404


def test_resource_ids_never_hold_a_slash():
    """Standard base64 has '/', which cuts a ``_self`` path; Cosmos writes '-' instead, and azure-cosmos
    parses the path and turns '-' back into '/' to decode. Before, 28% of item links held a '/'."""
    from azure.cosmos import _base

    from milab.cloud.cosmos import model
    for _ in range(2000):
        db = model.rid(None, 4)
        coll = model.rid(db, 4)
        item = model.rid(coll, 8)
        assert "/" not in db + coll + item
        assert base64.b64decode(item.replace("-", "/")).startswith(base64.b64decode(coll.replace("-", "/")))
        assert _base.IsValidBase64String(db)  # its test of a database id: 4 bytes once "-" is "/"
        link = f"dbs/{db}/colls/{coll}/docs/{item}/"
        assert _base.GetItemContainerInfo(link, "dbs/db/colls/items", item) == (coll, "dbs/db/colls/items")
