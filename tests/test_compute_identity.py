"""VM identities over REST as the configure pages describe them: both api-version
formats, PUT replacing and PATCH merging, ``null`` removing one identity, ``None``
removing all, and the errors ARM gives for wrong shapes."""
from __future__ import annotations

import uuid

import pytest

OLD, NEW = "2017-12-01", "2018-06-01"


@pytest.fixture
def rg(arm):
    return arm.group()


@pytest.fixture
def identities(arm, rg):
    out = []
    for i in range(3):
        r = arm.call("PUT", f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/"
                            f"userAssignedIdentities/ID{i + 1}", "2018-11-30", {"location": "westus"})
        assert r.status_code == 201, r.text
        out.append(r.json())
    return out


def vm_path(arm, rg, name="vm1"):
    return f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{name}"


def vm_body(identity=None):
    body = {"location": "westus", "properties": {"hardwareProfile": {"vmSize": "Standard_D2_v2"},
                                                 "osProfile": {"adminUsername": "azureuser", "computerName": "myVM",
                                                               "adminPassword": "Not-returned-1"}}}
    if identity is not None:
        body["identity"] = identity
    return body


def test_create_with_system_identity_and_secret_not_returned(arm, rg):
    r = arm.call("PUT", vm_path(arm, rg), NEW, vm_body({"type": "SystemAssigned"}))
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["identity"]["type"] == "SystemAssigned"
    uuid.UUID(doc["identity"]["principalId"])
    assert doc["identity"]["tenantId"]
    assert "adminPassword" not in r.text
    assert arm.call("GET", vm_path(arm, rg), NEW).json()["identity"] == doc["identity"]


def test_dictionary_format_from_2018_06_01(arm, rg, identities):
    ua = {identities[0]["id"]: {}, identities[1]["id"]: {}}
    r = arm.call("PUT", vm_path(arm, rg), NEW, vm_body({"type": "UserAssigned", "userAssignedIdentities": ua}))
    assert r.status_code == 201, r.text
    got = r.json()["identity"]
    assert got["type"] == "UserAssigned"
    assert set(got["userAssignedIdentities"]) == set(ua)
    entry = got["userAssignedIdentities"][identities[0]["id"]]
    assert entry == {"principalId": identities[0]["properties"]["principalId"],
                     "clientId": identities[0]["properties"]["clientId"]}
    # the same VM read with the old api-version shows the array format
    old = arm.call("GET", vm_path(arm, rg), OLD).json()["identity"]
    assert sorted(old["identityIds"]) == sorted(ua)
    assert "userAssignedIdentities" not in old


def test_array_format_before_2018_06_01(arm, rg, identities):
    ids = [identities[0]["id"]]
    r = arm.call("PUT", vm_path(arm, rg), OLD, vm_body({"type": "SystemAssigned, UserAssigned", "identityIds": ids}))
    assert r.status_code == 201, r.text
    got = r.json()["identity"]
    assert got["type"] == "SystemAssigned, UserAssigned" and got["identityIds"] == ids and got["principalId"]


def test_wrong_format_for_api_version_is_refused(arm, rg, identities):
    r = arm.call("PUT", vm_path(arm, rg), NEW, vm_body({"type": "UserAssigned", "identityIds": [identities[0]["id"]]}))
    assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidParameter", r.text
    r = arm.call("PUT", vm_path(arm, rg), OLD,
                 vm_body({"type": "UserAssigned", "userAssignedIdentities": {identities[0]["id"]: {}}}))
    assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidParameter", r.text


def test_identity_id_must_be_a_full_resource_id(arm, rg, identities):
    key = identities[0]["id"].lstrip("/")  # as one page prints it, without the leading slash
    r = arm.call("PUT", vm_path(arm, rg), NEW, vm_body({"type": "UserAssigned", "userAssignedIdentities": {key: {}}}))
    assert r.status_code == 400, r.text


def test_missing_identity_is_failed_identity_operation(arm, rg):
    missing = f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/nope"
    r = arm.call("PUT", vm_path(arm, rg), NEW, vm_body({"type": "UserAssigned", "userAssignedIdentities": {missing: {}}}))
    assert r.status_code == 400 and r.json()["error"]["code"] == "FailedIdentityOperation", r.text


def test_invalid_identity_type(arm, rg):
    r = arm.call("PUT", vm_path(arm, rg), NEW, vm_body({"type": "Sometimes"}))
    assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidParameter"


def test_patch_merges_and_null_removes(arm, rg, identities):
    ids = [i["id"] for i in identities]
    arm.call("PUT", vm_path(arm, rg), NEW, vm_body({"type": "SystemAssigned, UserAssigned",
                                                    "userAssignedIdentities": {ids[0]: {}, ids[1]: {}}}))
    system = arm.call("GET", vm_path(arm, rg), NEW).json()["identity"]["principalId"]
    # add ID3 while keeping the others: PATCH with the dictionary merges
    r = arm.call("PATCH", vm_path(arm, rg), NEW, {"identity": {"type": "SystemAssigned, UserAssigned",
                                                               "userAssignedIdentities": {ids[2]: {}}}})
    assert set(r.json()["identity"]["userAssignedIdentities"]) == set(ids)
    # null removes one identity and keeps the system-assigned one
    r = arm.call("PATCH", vm_path(arm, rg), NEW, {"identity": {"type": "SystemAssigned, UserAssigned",
                                                               "userAssignedIdentities": {ids[1]: None}}})
    got = r.json()["identity"]
    assert set(got["userAssignedIdentities"]) == {ids[0], ids[2]}
    assert got["principalId"] == system, "the system-assigned identity must survive the PATCH"
    # a PATCH that leaves out the identity keeps it
    r = arm.call("PATCH", vm_path(arm, rg), NEW, {"tags": {"k": "v"}})
    assert r.json()["identity"]["principalId"] == system


def test_patch_system_only_drops_user_identities(arm, rg, identities):
    arm.call("PUT", vm_path(arm, rg), NEW, vm_body({"type": "UserAssigned",
                                                    "userAssignedIdentities": {identities[0]["id"]: {}}}))
    r = arm.call("PATCH", vm_path(arm, rg), NEW, {"identity": {"type": "SystemAssigned"}})
    got = r.json()["identity"]
    assert got["type"] == "SystemAssigned" and "userAssignedIdentities" not in got


def test_patch_array_format_replaces_the_list(arm, rg, identities):
    ids = [i["id"] for i in identities]
    arm.call("PUT", vm_path(arm, rg), OLD, vm_body({"type": "UserAssigned", "identityIds": ids[:2]}))
    r = arm.call("PATCH", vm_path(arm, rg), OLD, {"identity": {"type": "UserAssigned", "identityIds": [ids[2]]}})
    assert r.json()["identity"]["identityIds"] == [ids[2]]


def test_none_removes_everything_and_the_service_principal(arm, rg, identities, control):
    arm.call("PUT", vm_path(arm, rg), NEW, vm_body({"type": "SystemAssigned, UserAssigned",
                                                    "userAssignedIdentities": {identities[0]["id"]: {}}}))
    system = arm.call("GET", vm_path(arm, rg), NEW).json()["identity"]["principalId"]
    r = arm.call("PATCH", vm_path(arm, rg), NEW, {"identity": {"type": "None"}})
    assert r.status_code == 200 and "identity" not in r.json(), r.text
    # the system-assigned identity's service principal is gone: a role assignment to it fails
    ra = arm.call("PUT", f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.Authorization/"
                         f"roleAssignments/{uuid.uuid4()}", "2022-04-01",
                  {"properties": {"principalId": system, "roleDefinitionId":
                                  "/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7"}})
    assert ra.status_code == 400 and ra.json()["error"]["code"] == "PrincipalNotFound", ra.text


def test_put_replaces_identity(arm, rg, identities):
    arm.call("PUT", vm_path(arm, rg), NEW, vm_body({"type": "SystemAssigned, UserAssigned",
                                                    "userAssignedIdentities": {identities[0]["id"]: {}}}))
    r = arm.call("PUT", vm_path(arm, rg), NEW, vm_body({"type": "UserAssigned",
                                                        "userAssignedIdentities": {identities[1]["id"]: {}}}))
    assert r.status_code == 200
    got = r.json()["identity"]
    assert got["type"] == "UserAssigned" and list(got["userAssignedIdentities"]) == [identities[1]["id"]]


# -- the shared identity model on types the emulator stores generically -----------------------------
ACI = "Microsoft.Logic/workflows"  # stored generically (Container Instances are modelled in containerinstance.py)


def generic_path(arm, rg, name="cg1"):
    return f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/{ACI}/{name}"


def _assign_reader(arm, rg, principal):
    return arm.call("PUT", f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.Authorization/"
                           f"roleAssignments/{uuid.uuid4()}", "2022-04-01",
                    {"properties": {"principalId": principal, "roleDefinitionId":
                                    "/providers/Microsoft.Authorization/roleDefinitions/"
                                    "acdd72a7-3385-48ef-bd42-f606fba81ae7"}})


def test_generic_type_keeps_identity_with_real_principals(arm, rg, identities):
    ua = identities[0]
    r = arm.call("PUT", generic_path(arm, rg), "2023-05-01",
                 {"location": "westus", "properties": {"osType": "Linux"},
                  "identity": {"type": "SystemAssigned, UserAssigned", "userAssignedIdentities": {ua["id"]: {}}}})
    assert r.status_code == 201, r.text
    got = r.json()["identity"]
    assert got["type"] == "SystemAssigned, UserAssigned"
    uuid.UUID(got["principalId"])
    assert got["userAssignedIdentities"][ua["id"]]["principalId"] == ua["properties"]["principalId"]
    # the system-assigned identity is a principal that can be granted a role
    assert _assign_reader(arm, rg, got["principalId"]).status_code == 201
    assert arm.call("GET", generic_path(arm, rg), "2023-05-01").json()["identity"] == got


def test_generic_put_without_identity_removes_it_and_delete_removes_the_principal(arm, rg):
    body = {"location": "westus", "properties": {}, "identity": {"type": "SystemAssigned"}}
    first = arm.call("PUT", generic_path(arm, rg, "cg2"), "2023-05-01", body).json()["identity"]["principalId"]
    again = arm.call("PUT", generic_path(arm, rg, "cg2"), "2023-05-01", body).json()["identity"]["principalId"]
    assert again == first, "a PUT that keeps the system-assigned identity keeps its principal"
    r = arm.call("PUT", generic_path(arm, rg, "cg2"), "2023-05-01", {"location": "westus", "properties": {}})
    assert r.status_code == 200 and "identity" not in r.json(), r.text
    assert _assign_reader(arm, rg, first).json()["error"]["code"] == "PrincipalNotFound"
    body2 = dict(body, identity={"type": "SystemAssigned"})
    pid = arm.call("PUT", generic_path(arm, rg, "cg3"), "2023-05-01", body2).json()["identity"]["principalId"]
    assert arm.call("DELETE", generic_path(arm, rg, "cg3"), "2023-05-01").status_code in (200, 202, 204)
    assert _assign_reader(arm, rg, pid).json()["error"]["code"] == "PrincipalNotFound"


def test_put_on_existing_vm_keeps_its_principal_and_context(arm, rg, control):
    r = arm.call("PUT", vm_path(arm, rg, "vmk"), NEW, vm_body({"type": "SystemAssigned"}))
    pid = r.json()["identity"]["principalId"]
    vm_id = r.json()["id"]
    before = control.call("GET", "/_milab/vm-context", params={"id": vm_id})
    r = arm.call("PUT", vm_path(arm, rg, "vmk"), NEW, vm_body({"type": "SystemAssigned"}))
    assert r.json()["identity"]["principalId"] == pid
    assert r.json()["properties"]["vmId"] == arm.call("GET", vm_path(arm, rg, "vmk"), NEW).json()["properties"]["vmId"]
    assert control.call("GET", "/_milab/vm-context", params={"id": vm_id}) == before, \
        "a PUT on an existing VM keeps its guest credential"
