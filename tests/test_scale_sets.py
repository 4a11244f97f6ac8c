"""Scale sets with instances: capacity, scale out and in, instance views, Run Command on an
instance, and IMDS in every instance answering for the set's identities (and refusing once
they are gone)."""
from __future__ import annotations

import json
import time
import uuid

import pytest

from milab.guest import HttpStep, parse_output, render

OLD, NEW = "2017-12-01", "2018-06-01"
IMDS = "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/"


def vmss_path(arm, rg, name="myVMSS"):
    return f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachineScaleSets/{name}"


def vmss_body(capacity=3, identity=None):
    """The REST page's scale set (its body with osProfile and upgradePolicy where they belong)."""
    body = {"sku": {"tier": "Standard", "capacity": capacity, "name": "Standard_D1_v2"}, "location": "eastus",
            "properties": {"overprovision": True, "upgradePolicy": {"mode": "Manual"}, "virtualMachineProfile": {
                "storageProfile": {"imageReference": {"sku": "2016-Datacenter", "publisher": "MicrosoftWindowsServer",
                                                      "version": "latest", "offer": "WindowsServer"},
                                   "osDisk": {"caching": "ReadWrite", "managedDisk": {"storageAccountType":
                                                                                      "Standard_LRS"},
                                              "createOption": "FromImage"}},
                "osProfile": {"computerNamePrefix": "myVMSS", "adminUsername": "azureuser",
                              "adminPassword": "myPassword12"}}}}
    if identity is not None:
        body["identity"] = identity
    return body


def imds_from(control, instance_id, query="", os_name="windows"):
    """A token request from inside an instance, as the guest's own tool sends it."""
    step = HttpStep("GET", IMDS + query, {"Metadata": "true"})
    r = control.call("POST", "/_milab/run", json={"vm_id": instance_id, "timeout": 60,
                                                   "script": render(step, os_name)})
    result = parse_output(r["stdout"], step, r["stderr"])
    return result.status, result.json()


def instances(arm, rg, name="myVMSS", api=NEW):
    r = arm.call("GET", vmss_path(arm, rg, name) + "/virtualMachines", api)
    assert r.status_code == 200, r.text
    return r.json()["value"]


@pytest.fixture
def rg(arm):
    return arm.group()


def _identity(arm, rg, name):
    r = arm.call("PUT", f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/"
                        f"userAssignedIdentities/{name}", "2018-11-30", {"location": "eastus"})
    assert r.status_code == 201, r.text
    return r.json()


def test_capacity_instances_and_their_imds(arm, rg, control):
    r = arm.call("PUT", vmss_path(arm, rg), NEW, vmss_body(3, {"type": "SystemAssigned"}))
    assert r.status_code == 201, r.text
    doc = r.json()
    assert "adminPassword" not in r.text
    pid = doc["identity"]["principalId"]
    got = instances(arm, rg)
    assert [i["instanceId"] for i in got] == ["0", "1", "2"]
    assert [i["name"] for i in got] == ["myVMSS_0", "myVMSS_1", "myVMSS_2"]
    assert got[0]["properties"]["osProfile"]["computerName"] == "myVMSS000000"
    assert "identity" not in got[0]
    for inst in got:
        status, body = imds_from(control, inst["id"])
        assert status == 200, body
        import jwt
        claims = jwt.decode(body["access_token"], options={"verify_signature": False})
        assert claims["oid"] == pid and claims["xms_mirid"].lower() == doc["id"].lower()
    view = arm.call("GET", got[1]["id"] + "/instanceView", NEW).json()
    assert [s["code"] for s in view["statuses"]] == ["ProvisioningState/succeeded", "PowerState/running"]
    expanded = arm.call("GET", got[1]["id"] + "?$expand=instanceView", NEW).json()
    assert expanded["properties"]["instanceView"]["statuses"] == view["statuses"]


def test_scale_out_and_in(arm, rg, control):
    assert arm.call("PUT", vmss_path(arm, rg), NEW, vmss_body(2, {"type": "SystemAssigned"})).status_code == 201
    r = arm.call("PATCH", vmss_path(arm, rg), NEW, {"sku": {"capacity": 4}})
    assert r.status_code == 200 and r.json()["sku"] == {"tier": "Standard", "capacity": 4, "name": "Standard_D1_v2"}
    assert [i["instanceId"] for i in instances(arm, rg)] == ["0", "1", "2", "3"]
    last = instances(arm, rg)[-1]["id"]
    assert arm.call("PATCH", vmss_path(arm, rg), NEW, {"sku": {"capacity": 1}}).status_code == 200
    assert [i["instanceId"] for i in instances(arm, rg)] == ["0"]
    with pytest.raises(RuntimeError, match="404"):  # a removed instance is no guest any more
        control.call("GET", "/_milab/vm-context", params={"id": last})
    # scaling out again gives new instance ids, as Azure does
    assert arm.call("PATCH", vmss_path(arm, rg), NEW, {"sku": {"capacity": 2}}).status_code == 200
    assert [i["instanceId"] for i in instances(arm, rg)] == ["0", "4"]
    r = arm.call("POST", vmss_path(arm, rg) + "/delete", NEW, {"instanceIds": ["4"]})
    assert r.status_code == 200, r.text
    assert arm.call("GET", vmss_path(arm, rg), NEW).json()["sku"]["capacity"] == 1
    r = arm.call("PATCH", vmss_path(arm, rg), NEW, {"sku": {"capacity": -1}})
    assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidParameter"
    r = arm.call("PUT", vmss_path(arm, rg) + "/virtualMachines/9", NEW, {"location": "eastus"})
    assert r.status_code == 409


def test_identity_changes_reach_every_instance(arm, rg, control):
    id1, id2 = _identity(arm, rg, "ID1"), _identity(arm, rg, "ID2")
    assert arm.call("PUT", vmss_path(arm, rg), OLD, vmss_body(2, {"type": "UserAssigned",
                                                                  "identityIds": [id1["id"]]})).status_code == 201
    inst = instances(arm, rg)[1]["id"]
    status, body = imds_from(control, inst)  # a single user-assigned identity is the default
    assert status == 200 and body["client_id"] == id1["properties"]["clientId"]
    # PATCH at 2018-06-01 adds ID2 and the system identity; a selector is needed for the user ones
    r = arm.call("PATCH", vmss_path(arm, rg), NEW, {"identity": {"type": "SystemAssigned, UserAssigned",
                                                                "userAssignedIdentities": {id2["id"]: {}}}})
    assert r.status_code == 200, r.text
    assert set(r.json()["identity"]["userAssignedIdentities"]) == {id1["id"], id2["id"]}
    status, body = imds_from(control, inst, f"&client_id={id2['properties']['clientId']}")
    assert status == 200 and body["client_id"] == id2["properties"]["clientId"]
    system = r.json()["identity"]["principalId"]
    # None: every instance loses every identity; the system-assigned principal is gone from the directory
    r = arm.call("PATCH", vmss_path(arm, rg), NEW, {"identity": {"type": "None"}})
    assert r.status_code == 200 and "identity" not in r.json()
    status, body = imds_from(control, inst)
    assert status == 400 and body["error"] == "invalid_request", body
    r = arm.call("PUT", f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.Authorization/"
                        f"roleAssignments/{uuid.uuid4()}", "2022-04-01",
                 {"properties": {"roleDefinitionId": f"/subscriptions/{arm.sub}/providers/Microsoft.Authorization/"
                                                     f"roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7",
                                 "principalId": system}})
    assert r.status_code == 400 and r.json()["error"]["code"] == "PrincipalNotFound"


def test_run_command_on_an_instance(arm, rg, http):
    body = vmss_body(1, {"type": "SystemAssigned"})
    body["properties"]["virtualMachineProfile"]["storageProfile"]["imageReference"] = {
        "publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server", "version": "latest"}
    assert arm.call("PUT", vmss_path(arm, rg), NEW, body).status_code == 201
    inst = instances(arm, rg)[0]["id"]
    r = arm.call("POST", inst + "/runCommand", "2024-07-01",
                 {"commandId": "RunShellScript", "script": [f"curl -s -H Metadata:true '{IMDS}'"]})
    assert r.status_code == 202, r.text
    url = r.headers["Location"]
    for _ in range(100):
        done = http.get(url, headers={"Authorization": f"Bearer {arm.token}"}, timeout=30)
        if done.status_code == 200:
            break
        time.sleep(0.05)
    message = done.json()["value"][0]["message"]
    assert '"token_type": "Bearer"' in message, message


def test_a_deleted_user_identity_stays_on_the_vm_but_gets_no_token(arm, rg, control):
    """The user-assigned CRUD pages: deleting an identity does not remove it from the resources using it."""
    id1, id2 = _identity(arm, rg, "ID1"), _identity(arm, rg, "ID2")
    vm = f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/vm1"
    body = {"location": "eastus", "identity": {"type": "UserAssigned",
                                               "userAssignedIdentities": {id1["id"]: {}, id2["id"]: {}}},
            "properties": {"hardwareProfile": {"vmSize": "Standard_B1s"}, "storageProfile": {"imageReference": {
                "publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server", "version": "latest"}}}}
    assert arm.call("PUT", vm, NEW, body).status_code == 201
    sel = f"&client_id={id1['properties']['clientId']}"
    status, _ = imds_from(control, vm, sel, "linux")
    assert status == 200
    assert arm.call("DELETE", id1["id"], "2018-11-30").status_code == 200
    status, err = imds_from(control, vm, sel, "linux")
    assert status == 400 and err["error"] == "invalid_request", err
    # the other identity is now the only one, so it is the default
    status, body_ = imds_from(control, vm, "", "linux")
    assert status == 200 and body_["client_id"] == id2["properties"]["clientId"]
    shown = arm.call("GET", vm, NEW).json()["identity"]["userAssignedIdentities"]
    assert shown[id1["id"]] == {"principalId": id1["properties"]["principalId"],
                                "clientId": id1["properties"]["clientId"]}
