"""ARM answers bad input and edge cases as Azure does: methods it does not route, envelope
fields of the wrong JSON type, bodies too large or too deep, unauthenticated bodies, ARM's own
jobs (deleting a group), $filter on the generic listings, role assignment conflicts, and the
wording clients parse (AuthorizationFailed, RoleAssignmentExists, ResourceNotFound)."""
from __future__ import annotations

import uuid

import pytest

READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
BLOB_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
RA_PATH = "providers/Microsoft.Authorization/roleAssignments"


def rd(sub, guid=READER):
    return f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


@pytest.fixture(scope="module")
def world(arm):
    """One group holding a resource of each kind the front door routes differently."""
    rg = arm.group()
    base = f"/subscriptions/{arm.sub}/resourceGroups/{rg}"
    ident = arm.call("PUT", f"{base}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1", "2023-01-31",
                     {"location": "westus"})
    assert ident.status_code == 201, ident.text
    vm = arm.call("PUT", f"{base}/providers/Microsoft.Compute/virtualMachines/vm1", "2024-07-01",
                  {"location": "westus", "identity": {"type": "SystemAssigned"},
                   "properties": {"hardwareProfile": {"vmSize": "Standard_B1s"}}})
    assert vm.status_code in (200, 201), vm.text
    sa_id = f"{base}/providers/Microsoft.Storage/storageAccounts/h7d{uuid.uuid4().hex[:12]}"
    sa = arm.call("PUT", sa_id, "2023-01-01",
                  {"location": "westus", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"})
    assert sa.status_code in (200, 201, 202), sa.text  # 202: accepted, with no body (the account is at sa_id)
    vnet = arm.call("PUT", f"{base}/providers/Microsoft.Network/virtualNetworks/vnet1", "2023-09-01",
                    {"location": "westus", "tags": {"env": "dev"}})
    assert vnet.status_code in (200, 201), vnet.text
    return {"rg": rg, "base": base, "group": (base, "2021-04-01"), "identity": (ident.json()["id"], "2023-01-31"),
            "vm": (vm.json()["id"], "2024-07-01"), "storage": (sa_id, "2023-01-01"),
            "generic": (vnet.json()["id"], "2023-09-01"), "principal": ident.json()["properties"]["principalId"],
            "ident_id": ident.json()["id"], "vm_principal": vm.json()["identity"]["principalId"]}


KINDS = ("group", "identity", "vm", "storage", "generic")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["POST", "OPTIONS", "TRACE", "PROPFIND", "MKCOL"])
def test_methods_arm_does_not_route_are_405(arm, world, kind, method):
    path, version = world[kind]
    r = arm.call(method, path, version)
    assert r.status_code == 405, r.text
    assert r.json()["error"]["code"] == "MethodNotAllowed"
    assert f"The HTTP method '{method}' is not supported" in r.json()["error"]["message"]
    assert "GET" in r.headers["Allow"]


def test_provider_namespace(arm):
    base = f"/subscriptions/{arm.sub}/providers/Microsoft.Compute"
    r = arm.call("POST", base)
    assert r.status_code == 405 and r.json()["error"]["code"] == "MethodNotAllowed", r.text
    doc = arm.call("GET", base).json()
    assert doc["namespace"] == "Microsoft.Compute" and doc["registrationState"] == "Registered"
    vms = next(t for t in doc["resourceTypes"] if t["resourceType"] == "virtualMachines")
    assert "2018-06-01" in vms["apiVersions"]
    assert arm.call("POST", f"{base}/register").json()["registrationState"] == "Registered"
    assert arm.call("POST", f"/subscriptions/{arm.sub}/providers/Microsoft.Compute/virtualMachines").status_code == 405


BAD_ENVELOPES = [
    ({"location": 1}, "location"),
    ({"location": ["westus"]}, "location"),
    ({"location": {"name": "westus"}}, "location"),
    ({"location": "westus", "properties": [1]}, "properties"),
    ({"location": "westus", "properties": "x"}, "properties"),
    ({"location": "westus", "tags": ["a"]}, "tags"),
    ({"location": "westus", "tags": {"a": {"b": 1}}}, "tags.a"),
    ({"location": "westus", "identity": "SystemAssigned"}, "identity"),
    ({"location": "westus", "sku": "Standard_LRS"}, "sku"),
    ({"location": "westus", "zones": "1"}, "zones"),
    (["westus"], ""),
    ("westus", ""),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("body, path", BAD_ENVELOPES, ids=[str(b) for b, _ in BAD_ENVELOPES])
def test_envelope_of_the_wrong_type_is_invalid_request_content(arm, world, kind, body, path):
    rid, version = world[kind]
    for method, target in (("PUT", rid + "x" if kind != "group" else f"{rid}x{uuid.uuid4().hex[:4]}"),
                           ("PATCH", rid)):
        r = arm.call(method, target, version, body)
        assert r.status_code == 400, (method, r.text)
        err = r.json()["error"]
        assert err["code"] == "InvalidRequestContent", err
        assert err["message"].startswith("The request content was invalid and could not be deserialized: '")
        assert f"Path '{path}'" in err["message"], err
    if kind == "group":  # nothing was created under the refused names
        assert arm.call("GET", rid).status_code == 200


def test_unauthenticated_body_is_401_before_it_is_read(arm, world):
    for body in (b"[" * 100000, b"{not json", b"\xff\xfe\x00"):
        r = arm.http.put(f"https://management.azure.com{world['base']}?api-version=2021-04-01", data=body,
                         headers={"Content-Type": "application/json"}, timeout=30)
        assert r.status_code == 401 and r.json()["error"]["code"] == "AuthenticationFailed", r.text
    r = arm.http.put(f"https://management.azure.com{world['base']}?api-version=2021-04-01", data=b"[" * 100000,
                     headers={"Authorization": "Bearer not.a.token", "Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 401, r.text


def _nested(depth: int) -> dict:
    doc: dict = {"leaf": True}
    for _ in range(depth):
        doc = {"n": doc}
    return doc


def test_deep_and_huge_bodies_are_refused_and_never_stored(arm, world):
    path = f"{world['base']}/providers/Microsoft.Network/virtualNetworks/deep"
    raw = ('{"location": "westus", "properties": ' + '{"n": ' * 970 + '1' + '}' * 970 + '}').encode()
    r = arm.http.put(f"https://management.azure.com{path}?api-version=2023-09-01", data=raw,
                     headers={"Authorization": f"Bearer {arm.token}", "Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidRequestContent", r.text
    for depth in (70, 2000, 100000):
        raw = b"[" * depth + b"]" * depth
        r = arm.http.put(f"https://management.azure.com{path}?api-version=2023-09-01", data=raw,
                         headers={"Authorization": f"Bearer {arm.token}", "Content-Type": "application/json"},
                         timeout=30)
        assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidRequestContent", (depth, r.text)
    assert arm.call("GET", path, "2023-09-01").status_code == 404
    # what a real client sends still nests well within the bound
    ok = arm.call("PUT", path, "2023-09-01", {"location": "westus", "properties": _nested(40)})
    assert ok.status_code == 201, ok.text
    big = {"location": "westus", "properties": {"blob": "x" * (4 * 1024 * 1024)}}
    r = arm.call("PUT", f"{world['base']}/providers/Microsoft.Network/virtualNetworks/big", "2023-09-01", big)
    assert r.status_code == 413 and r.json()["error"] == {
        "code": "RequestContentTooLarge", "message": "The request content size exceeds the maximum size of 4 MB."}
    for bad in (b'{"location": NaN}', b'{"location": "westus", "properties": {"x": Infinity}}'):
        r = arm.http.put(f"https://management.azure.com{path}?api-version=2023-09-01", data=bad,
                         headers={"Authorization": f"Bearer {arm.token}", "Content-Type": "application/json"},
                         timeout=30)
        assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidRequestContent", r.text
    # the emulator still saves every later write
    assert arm.call("PUT", f"{world['base']}/providers/Microsoft.Network/virtualNetworks/after", "2023-09-01",
                    {"location": "westus"}).status_code == 201


def test_group_delete_is_an_arm_job(arm, target):
    r = arm.call("DELETE", f"/subscriptions/{arm.sub}/resourceGroups/no-such-group-{uuid.uuid4().hex[:6]}")
    assert r.status_code == 404 and r.json()["error"]["code"] == "ResourceGroupNotFound", r.text
    name = arm.group()
    r = arm.call("DELETE", f"/subscriptions/{arm.sub}/resourceGroups/{name}")
    assert r.status_code == 202 and r.content == b"", r.text
    location = r.headers["Location"]
    assert location.startswith(f"https://management.azure.com/subscriptions/{arm.sub}/operationresults/")
    assert "Retry-After" in r.headers
    done = arm.http.get(location, headers={"Authorization": f"Bearer {arm.token}"}, timeout=30)
    assert done.status_code == 200 and done.content == b""
    assert arm.call("GET", f"/subscriptions/{arm.sub}/resourceGroups/{name}").status_code == 404
    # the SDK's poller follows the Location to the end
    sdk_group = arm.group()
    poller = target.resources.resource_groups.begin_delete(sdk_group)
    assert poller.result() is None and poller.status() == "Succeeded"
    assert not target.resources.resource_groups.check_existence(sdk_group)


def test_subscription_level_not_found_names_no_python_none(arm):
    r = arm.call("GET", f"/subscriptions/{arm.sub}/providers/Microsoft.Network/virtualNetworks/x", "2023-09-01")
    assert r.status_code == 404 and r.json()["error"]["code"] == "ResourceNotFound"
    assert "'None'" not in r.json()["error"]["message"]
    assert "under resource group '<null>' was not found" in r.json()["error"]["message"]


def test_authorization_failed_names_the_object_id(arm, world, control):
    token = control.call("POST", "/_milab/tokens", json={"object_id": world["principal"],
                                                         "audience": "https://management.azure.com/"})
    r = arm.call("GET", world["group"][0], token=token["access_token"])
    assert r.status_code == 403
    oid = world["principal"]
    assert r.json()["error"]["message"].startswith(
        f"The client '{oid}' with object id '{oid}' does not have authorization to perform action "
        f"'Microsoft.Resources/subscriptions/resourceGroups/read' over scope '{world['group'][0]}'")


def test_identity_ids_keep_the_providers_casing(arm, world):
    """Microsoft.ManagedIdentity answers with lower-case 'resourcegroups'; groups with 'resourceGroups'."""
    ident_id = world["ident_id"]
    assert ident_id.split("/")[3] == "resourcegroups"
    listed = arm.call("GET", f"{world['base']}/providers/Microsoft.ManagedIdentity/userAssignedIdentities",
                      "2023-01-31").json()["value"]
    assert [i["id"] for i in listed] == [ident_id]
    name = f"Case{uuid.uuid4().hex[:6]}"
    r = arm.call("PUT", f"/subscriptions/{arm.sub}/resourcegroups/{name}", body={"location": "westus"})
    assert r.json()["id"] == f"/subscriptions/{arm.sub}/resourceGroups/{name}"


# -- role assignments ---------------------------------------------------------------------------
def _assign(arm, scope, principal, role=READER, name=None, version="2022-04-01"):
    return arm.call("PUT", f"{scope}/{RA_PATH}/{name or uuid.uuid4()}", version,
                    {"properties": {"roleDefinitionId": rd(arm.sub, role), "principalId": principal}})


def test_role_assignment_cannot_be_repointed(arm, world):
    scope = world["base"]
    name = str(uuid.uuid4())
    first = _assign(arm, scope, world["principal"], name=name)
    assert first.status_code == 201, first.text
    assert _assign(arm, scope, world["principal"], name=name).status_code == 201  # the same grant again
    for other in (_assign(arm, scope, world["vm_principal"], name=name),        # another principal
                  _assign(arm, scope, world["principal"], CONTRIBUTOR, name=name),  # another role
                  _assign(arm, f"/subscriptions/{arm.sub}", world["principal"], name=name)):  # another scope
        assert other.status_code == 400, other.text
        assert other.json()["error"] == {
            "code": "RoleAssignmentUpdateNotPermitted",
            "message": "Tenant ID, application ID, principal ID, and scope are not allowed to be updated."}
    got = arm.call("GET", f"{scope}/{RA_PATH}/{name}", "2022-04-01").json()["properties"]
    assert got["principalId"] == world["principal"] and got["roleDefinitionId"].endswith(READER)
    # the same grant under another name: 409 naming the existing assignment as tools parse it
    dup = _assign(arm, scope, world["principal"])
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "RoleAssignmentExists"
    assert dup.json()["error"]["message"] == (f"The role assignment already exists. The ID of the existing role "
                                              f"assignment is {name.replace('-', '')}.")
    arm.call("DELETE", f"{scope}/{RA_PATH}/{name}", "2022-04-01")


@pytest.mark.parametrize("version", ["2015-07-01", "2017-09-01", "2017-10-01-preview"])
def test_data_action_roles_need_2018_01_01_preview(arm, world, version):
    r = _assign(arm, world["base"], world["principal"], BLOB_READER, version=version)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == {
        "code": "UnsupportedApiVersionForRoleDefinitionHasDataActions",
        "message": f"Assignments to roles with DataActions and NotDataActions are not supported on API version "
                   f"'{version}'. The minimum required API version for this operations is '2018-01-01-preview'."}
    ok = _assign(arm, world["base"], world["principal"], READER, version=version)  # no data actions: fine
    assert ok.status_code == 201, ok.text
    arm.call("DELETE", ok.json()["id"], "2022-04-01")
    new = _assign(arm, world["base"], world["principal"], BLOB_READER, version="2018-01-01-preview")
    assert new.status_code == 201, new.text
    arm.call("DELETE", new.json()["id"], "2022-04-01")


@pytest.mark.parametrize("body", [None, [], {"properties": [1]}, {"properties": {"principalId": 1,
                                                                                 "roleDefinitionId": "x"}}])
def test_role_assignment_bodies_of_the_wrong_type(arm, world, body):
    r = arm.call("PUT", f"{world['base']}/{RA_PATH}/{uuid.uuid4()}", "2022-04-01", body)
    assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidRequestContent", r.text


# -- $filter ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tagged(arm):
    """Two groups with resources and tags, named so that filters tell them apart."""
    tag = f"h7d{uuid.uuid4().hex[:6]}"
    a, b = f"fa-{tag}", f"fb-{tag}"
    for g, value in ((a, "blue"), (b, "Blue")):
        r = arm.call("PUT", f"/subscriptions/{arm.sub}/resourceGroups/{g}",
                     body={"location": "westus", "tags": {tag: value}})
        assert r.status_code in (200, 201), r.text
    vnet = "Microsoft.Network/virtualNetworks"
    made = {}
    for g, name, typ, tags in ((a, f"net-{tag}", vnet, {tag: "blue", "other": "x"}),
                               (b, f"net2-{tag}", vnet, {tag: "Blue"}),
                               (b, f"ip-{tag}", "Microsoft.Network/publicIPAddresses", {})):
        r = arm.call("PUT", f"/subscriptions/{arm.sub}/resourceGroups/{g}/providers/{typ}/{name}", "2023-09-01",
                     {"location": "westus", "tags": tags})
        assert r.status_code == 201, r.text
        made[name] = r.json()["id"]
    child = arm.call("PUT", f"{made[f'net-{tag}']}/subnets/sub1", "2023-09-01",
                     {"location": "westus", "properties": {}})
    assert child.status_code == 201, child.text
    return {"tag": tag, "a": a, "b": b, "ids": made}


def _names(arm, path, flt):
    r = arm.call("GET", f"{path}?$filter={flt}")
    assert r.status_code == 200, (flt, r.text)
    return sorted(x["name"] for x in r.json()["value"])


def test_resource_group_filter_by_tag(arm, tagged):
    t = tagged["tag"]
    groups = f"/subscriptions/{arm.sub}/resourcegroups"
    assert _names(arm, groups, f"tagName eq '{t}'") == sorted([tagged["a"], tagged["b"]])
    assert _names(arm, groups, f"tagName eq '{t}' and tagValue eq 'blue'") == [tagged["a"]]
    assert _names(arm, groups, f"tagName eq '{t.upper()}' and tagValue eq 'Blue'") == [tagged["b"]]
    for flt in (f"name eq '{tagged['a']}'", "location eq 'westus'", "tagValue eq 'blue'", "tagName eq",
                "substringof('fa', name)", f"tagName eq '{t}' or", "garbage ' here"):
        r = arm.call("GET", f"{groups}?$filter={flt}")
        assert r.status_code == 400, (flt, r.text)
        assert r.json()["error"] == {"code": "InvalidFilterInQueryString",
                                     "message": f"Invalid $filter '{flt}' specified in the query string."}


def test_resources_filter(arm, tagged):
    t = tagged["tag"]
    everything = f"/subscriptions/{arm.sub}/resources"
    assert _names(arm, everything, f"name eq 'NET-{t}'") == [f"net-{t}"]
    assert _names(arm, everything, f"resourceGroup eq '{tagged['b']}'") == sorted([f"net2-{t}", f"ip-{t}"])
    assert _names(arm, everything, f"resourceType eq 'Microsoft.Network/publicIPAddresses' and "
                                   f"substringof('{t}', name)") == [f"ip-{t}"]
    assert _names(arm, everything, f"substringof('{t}', name) and resourceType ne "
                                   f"'Microsoft.Network/virtualNetworks'") == [f"ip-{t}"]
    assert _names(arm, everything, f"tagName eq '{t}'") == sorted([f"net-{t}", f"net2-{t}"])
    assert _names(arm, everything, f"startswith(tagName, '{t[:5]}')") == sorted([f"net-{t}", f"net2-{t}"])
    by_value = arm.call("GET", f"{everything}?$filter=tagName eq '{t}' and tagValue eq 'blue'").json()["value"]
    assert [r["name"] for r in by_value] == [f"net-{t}"] and "tags" not in by_value[0]
    assert _names(arm, everything, f"name eq 'net-{t}' or name eq 'ip-{t}'") == sorted([f"net-{t}", f"ip-{t}"])
    in_group = f"/subscriptions/{arm.sub}/resourceGroups/{tagged['a']}/resources"
    assert _names(arm, in_group, f"substringof('{t}', name)") == [f"net-{t}"]  # top-level only: no subnet
    assert _names(arm, in_group, "name eq 'sub1'") == []
    for flt in ("identity eq 'x'", "plan eq 'x'", f"name gt 'a'", "resourceType eq", "(name eq 'a'",
                "substringof('x', location)"):
        r = arm.call("GET", f"{everything}?$filter={flt}")
        assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidFilterInQueryString", (flt, r.text)
