"""Template deployments: the expression language, the engine and the deployments resource,
through the real azure-mgmt-resource client and raw REST (including the JSON-with-comments
body `az deployment group create` sends)."""
from __future__ import annotations

import json
import uuid

import pytest

from milab.cloud.arm import templates as T

RES_API = "2022-09-01"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"


# ------------------------------------------------------------------------ the language

@pytest.mark.parametrize("args,expected", [
    # published outputs of ARM's uniqueString
    (("test",), "rbgf3xv4ufgzg"), (("hello", "world"), "a7wkljktk6wne"), (("abc",), "cgtzqvhu4i23s"),
    (("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/my-rg",), "bmg7c6xu4tw46"),
    (("foo", "bar", "baz"), "xzi4ioaxtmth4"),
])
def test_unique_string_matches_arm(args, expected):
    assert T.FUNCTIONS["uniquestring"](*args) == expected


def test_guid_is_a_version_5_uuid_in_arms_namespace():
    g = uuid.UUID(T.FUNCTIONS["guid"]("a", "b", "c"))
    assert g.version == 5
    assert g == uuid.uuid5(uuid.UUID("11fb06fb-712d-4ddd-98c7-e71bbd588830"), "a-b-c")


def _scope(**params):
    s = T.Scope("sub", "tenant", {"id": "/subscriptions/sub/resourceGroups/rg", "name": "rg", "location": "westus"},
                parameters={k.lower(): v for k, v in params.items()},
                variable_defs={"vmname": "[concat('vm-', parameters('n'))]", "loop": "[variables('loop')]"})
    s.reference = lambda target, api, full: {"identity": {"principalId": f"pid-of-{target}"}} if full else \
        {"provisioningState": "Succeeded"}
    return s


@pytest.mark.parametrize("expr,expected", [
    ("[concat('Microsoft.Compute/virtualMachines/', variables('vmName'))]", "Microsoft.Compute/virtualMachines/vm-1"),
    ("[resourceId('Microsoft.ManagedIdentity/userAssignedIdentities/', 'ua1')]",
     "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ua1"),
    ("[resourceID('other', 'Microsoft.Compute/virtualMachines/extensions', 'vm', 'ext')]",
     "/subscriptions/sub/resourceGroups/other/providers/Microsoft.Compute/virtualMachines/vm/extensions/ext"),
    ("[reference(resourceId('Microsoft.Compute/virtualMachines', 'vm'), '2017-12-01', 'Full').identity.principalId]",
     "pid-of-/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm"),
    ("[reference('vm').provisioningState]", "Succeeded"),
    ("[resourceGroup().location]", "westus"),
    ("[subscription().subscriptionId]", "sub"),
    ("[format('{0}-{1}', 'a', 2)]", "a-2"),
    ("[createArray(1, 2, 3)[1]]", 2),
    ("[if(equals(parameters('n'), '1'), 'one', fail())]", "one"),  # only the chosen branch is evaluated
    ("[toLower(string(length(createArray('a'))))]", "1"),
    ("[json('{\"a\": {\"b\": [5]}}').a.b[0]]", 5),
    ("[['literal]", "['literal]"),
    ("not [an expression", "not [an expression"),
    ("[concat('it''s')]", "it's"),
])
def test_expressions(expr, expected):
    assert T.evaluate_value(expr, _scope(n="1")) == expected


@pytest.mark.parametrize("expr,message", [
    ("[parameters(Location')]", "Unable to parse language expression"),  # the VMSS template page's typo
    ("[myResourceGroup().location]", "The template function 'myResourceGroup' is not valid"),  # 002's page
    ("[concat('a']", "Unable to parse language expression"),
    ("[parameters('nope')]", "The template parameter 'nope' is not found"),
    ("[variables('loop')]", "referenced in a cycle"),
    ("[resourceGroup().nothere]", "doesn't exist, available properties are"),
    ("[createArray(1)[3]]", "out of bounds"),
    ("[copyIndex()]", "copyIndex"),
])
def test_expression_errors_are_template_errors(expr, message):
    with pytest.raises(T.TemplateError) as e:
        T.evaluate_value(expr, _scope(n="1"))
    assert message in e.value.message and e.value.code == "InvalidTemplate"


# ------------------------------------------------------------------------ the resource

UA_TEMPLATE = {  # the user-assigned identity template page, as written
    "$schema": "https://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json#",
    "contentVersion": "1.0.0.0",
    "parameters": {"resourceName": {"type": "string", "metadata": {"description": "<USER ASSIGNED IDENTITY NAME>"}}},
    "resources": [{"type": "Microsoft.ManagedIdentity/userAssignedIdentities", "name": "[parameters('resourceName')]",
                   "apiVersion": "2018-11-30", "location": "[resourceGroup().location]"}],
    "outputs": {"identityName": {"type": "string", "value": "[parameters('resourceName')]"}},
}


def dep_path(arm, rg, name="d1"):
    return f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.Resources/deployments/{name}"


def deploy(arm, rg, template, parameters=None, name="d1", token=None, mode="Incremental"):
    body = {"properties": {"mode": mode, "template": template,
                           "parameters": {k: {"value": v} for k, v in (parameters or {}).items()}}}
    return arm.call("PUT", dep_path(arm, rg, name), RES_API, body, token=token)


def test_deployment_lifecycle_over_rest(arm):
    rg = arm.group()
    r = deploy(arm, rg, UA_TEMPLATE, {"resourceName": "ID1"})
    assert r.status_code == 201, r.text
    assert r.json()["properties"]["provisioningState"] == "Accepted"
    status_url = r.headers["Azure-AsyncOperation"]
    assert "/operationStatuses/" in status_url
    status = arm.http.get(status_url, headers={"Authorization": f"Bearer {arm.token}"}, timeout=30).json()
    assert status == {"status": "Succeeded"}
    doc = arm.call("GET", dep_path(arm, rg), RES_API).json()
    props = doc["properties"]
    assert props["provisioningState"] == "Succeeded"
    assert props["outputs"] == {"identityName": {"type": "String", "value": "ID1"}}
    assert props["parameters"] == {"resourceName": {"type": "String", "value": "ID1"}}
    ua_id = f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ID1"
    assert props["outputResources"] == [{"id": ua_id}]
    ua = arm.call("GET", ua_id, "2018-11-30").json()
    uuid.UUID(ua["properties"]["principalId"])
    ops = arm.call("GET", dep_path(arm, rg) + "/operations", RES_API).json()["value"]
    assert [o["properties"]["targetResource"]["id"] for o in ops] == [ua_id]
    assert ops[0]["properties"]["provisioningState"] == "Succeeded"
    assert ops[0]["properties"]["statusCode"] == "Created"
    one = arm.call("GET", ops[0]["id"], RES_API).json()
    assert one["operationId"] == ops[0]["operationId"]
    listed = arm.call("GET", f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.Resources/"
                             f"deployments", RES_API).json()["value"]
    assert [d["name"] for d in listed] == ["d1"]
    # deployments are not resources of the group
    resources = arm.call("GET", f"/subscriptions/{arm.sub}/resourceGroups/{rg}/resources", RES_API).json()["value"]
    assert [x["type"] for x in resources] == ["Microsoft.ManagedIdentity/userAssignedIdentities"]
    assert arm.call("DELETE", dep_path(arm, rg), RES_API).status_code == 202
    assert arm.call("GET", dep_path(arm, rg), RES_API).json()["error"]["code"] == "DeploymentNotFound"
    assert arm.call("GET", ua_id, "2018-11-30").status_code == 200  # deleting the history keeps the resources


def test_az_cli_body_with_comments_and_unquoted_template_key(arm):
    """``az deployment group create`` splices the template file, comments and all, into the body."""
    rg = arm.group()
    template_text = """{
      // a comment az leaves in
      "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
      "contentVersion": "1.0.0.0",
      "parameters": {"identityName": {"type": "string",
                     "defaultValue": "[uniqueString(subscription().id, resourceGroup().id)]"}},
      /* and a block comment */
      "resources": [{"type": "Microsoft.ManagedIdentity/userAssignedIdentities", "apiVersion": "2023-01-31",
                     "name": "[parameters('identityName')]", "location": "[resourceGroup().location]"}],
      "outputs": {"id": {"type": "string", "value": "[resourceId('Microsoft.ManagedIdentity/userAssignedIdentities',
                  parameters('identityName'))]"}}
    }"""
    body = json.dumps({"properties": {"mode": "Incremental", "parameters": {}}})
    raw = body[:-2] + ", template:" + template_text + "}}"
    for step in ("validate", None):
        url = f"https://management.azure.com{dep_path(arm, rg)}{'/' + step if step else ''}?api-version={RES_API}"
        r = arm.http.request("POST" if step else "PUT", url, data=raw.encode(),
                             headers={"Authorization": f"Bearer {arm.token}", "Content-Type": "application/json"})
        assert r.status_code in (200, 201), r.text
    name = T.FUNCTIONS["uniquestring"](f"/subscriptions/{arm.sub}", f"/subscriptions/{arm.sub}/resourceGroups/{rg}")
    out = arm.call("GET", dep_path(arm, rg), RES_API).json()["properties"]["outputs"]["id"]["value"]
    assert out.endswith(f"/userAssignedIdentities/{name}")


VM_WITH_ROLE = {  # the VM template page's system-assigned identity and Reader role assignment sections
    "$schema": "https://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json#",
    "contentVersion": "1.0.0.0",
    "parameters": {"vmName": {"type": "string"}, "builtInRoleType": {"type": "string", "defaultValue": "Reader",
                                                                    "allowedValues": ["Reader", "Contributor"]},
                   "rbacGuid": {"type": "string"}},
    "variables": {"vmResourceId": "[resourceId('Microsoft.Compute/virtualMachines', parameters('vmName'))]",
                  "Reader": "[concat('/subscriptions/', subscription().subscriptionId, "
                            "'/providers/Microsoft.Authorization/roleDefinitions/', "
                            "'acdd72a7-3385-48ef-bd42-f606fba81ae7')]",
                  "Contributor": "[concat('/subscriptions/', subscription().subscriptionId, "
                                 "'/providers/Microsoft.Authorization/roleDefinitions/', "
                                 "'b24988ac-6180-42a0-ab88-20f7382dd24c')]"},
    "resources": [
        {"apiVersion": "2018-06-01", "type": "Microsoft.Compute/virtualMachines", "name": "[parameters('vmName')]",
         "location": "[resourceGroup().location]", "identity": {"type": "SystemAssigned"},
         "properties": {"hardwareProfile": {"vmSize": "Standard_B1s"},
                        "storageProfile": {"imageReference": {"publisher": "Canonical", "offer": "UbuntuServer",
                                                              "sku": "18.04-LTS", "version": "latest"}}}},
        {"apiVersion": "2017-09-01", "type": "Microsoft.Authorization/roleAssignments",
         "name": "[parameters('rbacGuid')]",
         "properties": {"roleDefinitionId": "[variables(parameters('builtInRoleType'))]",
                        "principalId": "[reference(variables('vmResourceId'), '2017-12-01', 'Full').identity.principalId]",
                        "scope": "[resourceGroup().id]"},
         "dependsOn": ["[concat('Microsoft.Compute/virtualMachines/', parameters('vmName'))]"]},
    ],
    "outputs": {"principalId": {"type": "string", "value": "[reference(variables('vmResourceId'), '2018-06-01', "
                                                           "'Full').identity.principalId]"}},
}


def test_reference_full_and_role_assignment_in_dependency_order(arm):
    rg = arm.group()
    guid = str(uuid.uuid4())
    # resources listed in the wrong order: dependsOn decides
    template = dict(VM_WITH_ROLE, resources=list(reversed(VM_WITH_ROLE["resources"])))
    r = deploy(arm, rg, template, {"vmName": "myVM", "rbacGuid": guid})
    assert r.status_code == 201, r.text
    doc = arm.call("GET", dep_path(arm, rg), RES_API).json()["properties"]
    assert doc["provisioningState"] == "Succeeded", doc
    vm = arm.call("GET", f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.Compute/"
                         f"virtualMachines/myVM", "2018-06-01").json()
    pid = vm["identity"]["principalId"]
    assert doc["outputs"]["principalId"]["value"] == pid
    ra = arm.call("GET", f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.Authorization/"
                         f"roleAssignments/{guid}", "2022-04-01").json()
    assert ra["properties"]["principalId"] == pid
    assert ra["properties"]["roleDefinitionId"].endswith(READER)
    assert doc["dependencies"][0]["dependsOn"][0]["resourceName"] == "myVM"


@pytest.mark.parametrize("change,code,fragment", [
    (lambda t: t["parameters"].pop("rbacGuid"), "InvalidTemplate", "parameters 'rbacGuid' in the parameters file"),
    (lambda t: t["resources"][1]["dependsOn"].append("Microsoft.Compute/virtualMachines/other"), "InvalidTemplate",
     "is not defined in the template"),
    (lambda t: t["resources"][0].update(dependsOn=["[parameters('rbacGuid')]"]), "InvalidTemplate",
     "Circular dependency"),
    (lambda t: t["resources"][0].update(name="[parameters(vmName')]"), "InvalidTemplate",
     "Unable to parse language expression"),
    (lambda t: t["resources"][0].pop("apiVersion"), "InvalidTemplate", "missing the required property 'apiVersion'"),
])
def test_preflight_errors(arm, change, code, fragment):
    rg = arm.group()
    template = json.loads(json.dumps(VM_WITH_ROLE))
    change(template)
    r = deploy(arm, rg, template, {"vmName": "v", "rbacGuid": str(uuid.uuid4())})
    assert r.status_code == 400 and r.json()["error"]["code"] == code, r.text
    assert fragment in r.json()["error"]["message"]
    # nothing was deployed, nothing was recorded
    assert arm.call("GET", dep_path(arm, rg), RES_API).status_code == 404
    assert arm.call("GET", f"/subscriptions/{arm.sub}/resourceGroups/{rg}/resources", RES_API).json()["value"] == []


def test_parameter_checks(arm):
    rg = arm.group()
    r = deploy(arm, rg, VM_WITH_ROLE, {"vmName": "v"})
    assert r.status_code == 400 and "'rbacGuid' is not provided" in r.json()["error"]["message"]
    r = deploy(arm, rg, VM_WITH_ROLE, {"vmName": "v", "rbacGuid": "g", "builtInRoleType": "Owner"})
    assert r.status_code == 400 and "not part of the allowed value(s): 'Reader,Contributor'" in r.text
    r = deploy(arm, rg, VM_WITH_ROLE, {"vmName": 5, "rbacGuid": "g"})
    assert r.status_code == 400 and "Expected 'String, Uri'. Actual 'Integer'" in r.text


def test_a_resource_providers_error_fails_the_deployment_with_its_code(arm):
    rg = arm.group()
    template = json.loads(json.dumps(VM_WITH_ROLE))
    del template["resources"][0]["properties"]["hardwareProfile"]  # Compute refuses the VM
    r = deploy(arm, rg, template, {"vmName": "v", "rbacGuid": str(uuid.uuid4())})
    assert r.status_code == 201
    status = arm.http.get(r.headers["Azure-AsyncOperation"], headers={"Authorization": f"Bearer {arm.token}"},
                          timeout=30).json()
    assert status["status"] == "Failed"
    err = status["error"]
    assert err["code"] == "DeploymentFailed" and err["target"].endswith("/deployments/d1")
    assert "At least one resource deployment operation failed" in err["message"]
    (detail,) = err["details"]  # the role assignment waiting for the VM is not attempted
    assert detail["code"] == "InvalidParameter" and detail["target"].endswith("/virtualMachines/v")
    ops = arm.call("GET", dep_path(arm, rg) + "/operations", RES_API).json()["value"]
    assert [o["properties"]["provisioningState"] for o in ops] == ["Failed"]
    assert ops[0]["properties"]["statusMessage"]["error"]["code"] == "InvalidParameter"


def test_resources_are_deployed_with_the_callers_rights(arm, http, emu_env, control):
    """A Contributor can deploy the VM but not the role assignment: ARM's preflight says so before anything."""
    from support import operator_token  # noqa: F401  (the operator's token is the fixture's)
    rg = arm.group()
    ua = arm.call("PUT", f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/"
                         f"userAssignedIdentities/deployer", "2018-11-30", {"location": "westus"}).json()
    pid = ua["properties"]["principalId"]
    contributor = "b24988ac-6180-42a0-ab88-20f7382dd24c"
    r = arm.call("PUT", f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.Authorization/"
                        f"roleAssignments/{uuid.uuid4()}", "2022-04-01",
                 {"properties": {"roleDefinitionId": f"/subscriptions/{arm.sub}/providers/Microsoft.Authorization/"
                                                     f"roleDefinitions/{contributor}", "principalId": pid}})
    assert r.status_code == 201, r.text
    token = control.call("POST", "/_milab/tokens", json={"object_id": pid, "audience": "https://management.azure.com/"}
                         )["access_token"]
    r = deploy(arm, rg, VM_WITH_ROLE, {"vmName": "v", "rbacGuid": str(uuid.uuid4())}, token=token)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["code"] == "InvalidTemplateDeployment"
    assert "Authorization failed for template resource" in err["message"]
    assert "'Microsoft.Authorization/roleAssignments/write'" in err["message"]
    assert arm.call("GET", f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.Compute/"
                           f"virtualMachines/v", "2018-06-01").status_code == 404
    # without the role assignment the same identity deploys the VM
    template = dict(VM_WITH_ROLE, resources=VM_WITH_ROLE["resources"][:1], outputs={})
    r = deploy(arm, rg, template, {"vmName": "v", "rbacGuid": "unused"}, token=token)
    assert r.status_code == 201, r.text
    r = arm.call("PUT", dep_path(arm, rg, "d2"), RES_API, {"properties": {"mode": "Incremental", "template": template,
                                                                          "parameters": {}}}, token="x.y.z")
    assert r.status_code == 401


def test_copy_loops_nested_resources_and_complete_mode(arm):
    rg = arm.group()
    stray = arm.call("PUT", f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/"
                            f"userAssignedIdentities/stray", "2018-11-30", {"location": "westus"})
    assert stray.status_code == 201
    template = {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {"count": {"type": "int", "defaultValue": 3}},
        "resources": [
            {"type": "Microsoft.ManagedIdentity/userAssignedIdentities", "apiVersion": "2018-11-30",
             "name": "[concat('id', copyIndex(1))]", "location": "westus",
             "copy": {"name": "ids", "count": "[parameters('count')]"}},
            {"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "[concat('st', "
             "uniqueString(resourceGroup().id))]", "location": "westus", "kind": "StorageV2",
             "sku": {"name": "Standard_LRS"}, "dependsOn": ["ids"],
             "resources": [{"type": "blobServices", "apiVersion": "2023-01-01", "name": "default",
                            "dependsOn": [], "properties": {}}]},
        ],
        "outputs": {"names": {"type": "array", "value": "[createArray(reference('id1', '2018-11-30').clientId)]"}},
    }
    r = deploy(arm, rg, template, mode="Complete")
    assert r.status_code == 201, r.text
    doc = arm.call("GET", dep_path(arm, rg), RES_API).json()["properties"]
    assert doc["provisioningState"] == "Succeeded", doc
    ids = [o["id"].rsplit("/", 1)[-1] for o in doc["outputResources"]]
    assert ids[:3] == ["id1", "id2", "id3"] and ids[-1] == "default"
    uuid.UUID(doc["outputs"]["names"]["value"][0])
    assert arm.call("GET", stray.json()["id"], "2018-11-30").status_code == 404  # complete mode removed it


def test_sdk_poller_and_validate(target_sdk):
    """azure-mgmt-resource's begin_validate / begin_create_or_update pollers against the engine."""
    client, rg = target_sdk
    from azure.mgmt.resource.deployments.models import Deployment, DeploymentProperties
    props = DeploymentProperties(mode="Incremental", template=UA_TEMPLATE,
                                 parameters={"resourceName": {"value": "sdk-id"}})
    valid = client.deployments.begin_validate(rg, "sdk", Deployment(properties=props)).result()
    assert valid.properties.validated_resources[0].id.endswith("/userAssignedIdentities/sdk-id")
    done = client.deployments.begin_create_or_update(rg, "sdk", Deployment(properties=props)).result()
    assert done.properties.provisioning_state == "Succeeded"
    assert done.properties.outputs["identityName"]["value"] == "sdk-id"
    bad = DeploymentProperties(mode="Incremental", template=dict(UA_TEMPLATE, resources=[
        {"type": "Microsoft.ManagedIdentity/userAssignedIdentities", "name": "x!", "apiVersion": "2018-11-30",
         "location": "westus"}]), parameters={"resourceName": {"value": "n"}})
    from azure.core.exceptions import HttpResponseError
    with pytest.raises(HttpResponseError) as e:
        client.deployments.begin_create_or_update(rg, "bad", Deployment(properties=bad)).result()
    assert "DeploymentFailed" in str(e.value) and "InvalidResourceName" in str(e.value)


@pytest.fixture
def target_sdk(emu_env, arm):
    from azure.identity import ClientSecretCredential
    from azure.mgmt.resource.deployments import DeploymentsMgmtClient
    cred = ClientSecretCredential(emu_env["AZURE_TENANT_ID"], emu_env["AZURE_CLIENT_ID"],
                                  emu_env["AZURE_CLIENT_SECRET"])
    return DeploymentsMgmtClient(cred, emu_env["AZURE_SUBSCRIPTION_ID"]), arm.group()


def az_vm_create_template(vm: str, sub: str, rg: str, identity: dict, role_guid: str | None = None) -> dict:
    """The template ``az vm create ... --assign-identity [--scope --role]`` builds (azure-cli's
    vm/_template_builder.py: NSG, public IP, VNet, NIC, VM; the role assignment of
    ``build_msi_role_assignment`` with ``reference('<vm id>', ..., 'Full').identity.principalId``)."""
    net = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network"
    vm_id = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{vm}"
    resources = [
        {"type": "Microsoft.Network/networkSecurityGroups", "name": f"{vm}NSG", "apiVersion": "2015-06-15",
         "location": "westus", "tags": {}, "dependsOn": [], "properties": {"securityRules": [
             {"name": "default-allow-ssh", "properties": {"protocol": "Tcp", "sourcePortRange": "*",
                                                          "destinationPortRange": "22", "sourceAddressPrefix": "*",
                                                          "destinationAddressPrefix": "*", "access": "Allow",
                                                          "priority": 1000, "direction": "Inbound"}}]}},
        {"apiVersion": "2022-01-01", "type": "Microsoft.Network/publicIPAddresses", "name": f"{vm}PublicIP",
         "location": "westus", "tags": {}, "dependsOn": [], "properties": {"publicIPAllocationMethod": "Static"},
         "sku": {"name": "Standard"}},
        {"name": f"{vm}VNET", "type": "Microsoft.Network/virtualNetworks", "location": "westus",
         "apiVersion": "2015-06-15", "dependsOn": [], "tags": {},
         "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                        "subnets": [{"name": f"{vm}Subnet", "properties": {"addressPrefix": "10.0.0.0/24"}}]}},
        {"apiVersion": "2015-06-15", "type": "Microsoft.Network/networkInterfaces", "name": f"{vm}VMNic",
         "location": "westus", "tags": {},
         "dependsOn": [f"Microsoft.Network/virtualNetworks/{vm}VNET",
                       f"Microsoft.Network/networkSecurityGroups/{vm}NSG",
                       f"Microsoft.Network/publicIpAddresses/{vm}PublicIP"],
         "properties": {"ipConfigurations": [{"name": f"ipconfig{vm}", "properties": {
             "privateIPAllocationMethod": "Dynamic",
             "subnet": {"id": f"{net}/virtualNetworks/{vm}VNET/subnets/{vm}Subnet"},
             "publicIPAddress": {"id": f"{net}/publicIPAddresses/{vm}PublicIP"}}}],
             "networkSecurityGroup": {"id": f"{net}/networkSecurityGroups/{vm}NSG"}}},
        {"apiVersion": "2024-07-01", "type": "Microsoft.Compute/virtualMachines", "name": vm, "location": "westus",
         "tags": {}, "dependsOn": [f"Microsoft.Network/networkInterfaces/{vm}VMNic"], "identity": identity,
         "properties": {"hardwareProfile": {"vmSize": "Standard_DS1_v2"},
                        "networkProfile": {"networkInterfaces": [{"id": f"{net}/networkInterfaces/{vm}VMNic"}]},
                        "storageProfile": {"osDisk": {"createOption": "fromImage", "name": None, "caching":
                                                      "ReadWrite", "managedDisk": {"storageAccountType": None}},
                                           "imageReference": {"publisher": "Canonical", "offer":
                                                              "0001-com-ubuntu-server-jammy", "sku": "22_04-lts-gen2",
                                                              "version": "latest"}},
                        "osProfile": {"computerName": vm, "adminUsername": "azureuser",
                                      "adminPassword": "[parameters('adminPassword')]"},
                        "additionalCapabilities": {}}},
    ]
    if role_guid:
        resources.append({"name": role_guid, "type": "Microsoft.Authorization/roleAssignments",
                          "apiVersion": "2015-07-01", "dependsOn": [f"Microsoft.Compute/virtualMachines/{vm}"],
                          "properties": {"roleDefinitionId": f"/subscriptions/{sub}/providers/Microsoft.Authorization/"
                                                             f"roleDefinitions/{READER}",
                                         "principalId": f"[reference('{vm_id}', '2019-07-01', 'Full')"
                                                        f".identity.principalId]",
                                         "scope": f"/subscriptions/{sub}/resourceGroups/{rg}"}})
    return {"$schema": "https://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json#",
            "contentVersion": "1.0.0.0", "parameters": {"adminPassword": {"type": "securestring"}},
            "variables": {}, "resources": resources, "outputs": {}}


def test_the_template_az_vm_create_builds_deploys(arm):
    rg = arm.group()
    guid = str(uuid.uuid4())
    template = az_vm_create_template("myVM", arm.sub, rg, {"type": "SystemAssigned"}, guid)
    r = deploy(arm, rg, template, {"adminPassword": "Secret-Passw0rd!"}, name="vm_deploy_x")
    assert r.status_code == 201, r.text
    doc = arm.call("GET", dep_path(arm, rg, "vm_deploy_x"), RES_API).json()["properties"]
    assert doc["provisioningState"] == "Succeeded", doc
    assert doc["parameters"]["adminPassword"] == {"type": "SecureString"}  # never echoed
    assert "Secret-Passw0rd!" not in json.dumps(doc)
    vm = arm.call("GET", f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.Compute/"
                         f"virtualMachines/myVM", "2024-07-01").json()
    ra = arm.call("GET", f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.Authorization/"
                         f"roleAssignments/{guid}", "2022-04-01").json()
    assert ra["properties"]["principalId"] == vm["identity"]["principalId"]
    assert [o["properties"]["targetResource"]["resourceType"] for o in
            arm.call("GET", dep_path(arm, rg, "vm_deploy_x") + "/operations", RES_API).json()["value"]][-2:] == [
        "Microsoft.Compute/virtualMachines", "Microsoft.Authorization/roleAssignments"]


def test_the_template_az_vmss_create_builds_deploys(arm, control):
    """``az vmss create --assign-identity`` (azure-cli's build_vmss_resource): a VNet, a public IP, a load
    balancer and the scale set with sku.capacity 2; its instances then answer IMDS for the set's identity."""
    rg = arm.group()
    net = f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.Network"
    lb = "myVMSSLB"
    template = {
        "$schema": "https://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0", "parameters": {"adminPassword": {"type": "securestring"}}, "variables": {},
        "resources": [
            {"name": "myVMSSVNET", "type": "Microsoft.Network/virtualNetworks", "location": "westus",
             "apiVersion": "2015-06-15", "dependsOn": [], "tags": {},
             "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                            "subnets": [{"name": "myVMSSSubnet", "properties": {"addressPrefix": "10.0.0.0/24"}}]}},
            {"apiVersion": "2022-01-01", "type": "Microsoft.Network/publicIPAddresses", "name": f"{lb}PublicIP",
             "location": "westus", "tags": {}, "dependsOn": [], "properties": {"publicIPAllocationMethod": "Static"},
             "sku": {"name": "Standard"}},
            {"type": "Microsoft.Network/loadBalancers", "name": lb, "location": "westus", "tags": {},
             "apiVersion": "2022-01-01", "dependsOn": ["Microsoft.Network/virtualNetworks/myVMSSVNET",
                                                       f"Microsoft.Network/publicIpAddresses/{lb}PublicIP"],
             "properties": {"backendAddressPools": [{"name": f"{lb}BEPool"}], "frontendIPConfigurations": [
                 {"name": "loadBalancerFrontEnd", "properties": {"publicIPAddress": {
                     "id": f"{net}/publicIPAddresses/{lb}PublicIP"}}}]},
             "sku": {"name": "Standard"}},
            {"type": "Microsoft.Compute/virtualMachineScaleSets", "name": "myVMSS", "location": "westus", "tags": {},
             "apiVersion": "2024-07-01", "dependsOn": ["Microsoft.Network/virtualNetworks/myVMSSVNET",
                                                       f"Microsoft.Network/loadBalancers/{lb}"],
             "sku": {"name": "Standard_DS1_v2", "capacity": 2}, "identity": {"type": "SystemAssigned"},
             "properties": {"overprovision": True, "upgradePolicy": {"mode": "Manual"},
                            "singlePlacementGroup": None, "virtualMachineProfile": {
                                "storageProfile": {"osDisk": {"createOption": "FromImage", "caching": "ReadWrite",
                                                              "managedDisk": {"storageAccountType": None}},
                                                   "imageReference": {"publisher": "Canonical",
                                                                      "offer": "0001-com-ubuntu-server-jammy",
                                                                      "sku": "22_04-lts-gen2", "version": "latest"}},
                                "osProfile": {"computerNamePrefix": "myvmss", "adminUsername": "azureuser",
                                              "adminPassword": "[parameters('adminPassword')]"},
                                "networkProfile": {"networkInterfaceConfigurations": [{
                                    "name": "myvmssNic", "properties": {"primary": True, "ipConfigurations": [{
                                        "name": "myvmssIPConfig", "properties": {
                                            "subnet": {"id": f"{net}/virtualNetworks/myVMSSVNET/subnets/myVMSSSubnet"},
                                            "loadBalancerBackendAddressPools": [{"id": f"{net}/loadBalancers/{lb}/"
                                                                                       f"backendAddressPools/{lb}BEPool"}]}}]}}]}}}},
        ],
        "outputs": {"VMSS": {"type": "object", "value": "[reference(resourceId('Microsoft.Compute/"
                                                        "virtualMachineScaleSets', 'myVMSS'),providers('Microsoft."
                                                        "Compute', 'virtualMachineScaleSets').apiVersions[0])]"}},
    }
    r = deploy(arm, rg, template, {"adminPassword": "Secret-Passw0rd!"}, name="vmss_deploy_x")
    assert r.status_code == 201, r.text
    doc = arm.call("GET", dep_path(arm, rg, "vmss_deploy_x"), RES_API).json()["properties"]
    assert doc["provisioningState"] == "Succeeded", doc
    assert doc["outputs"]["VMSS"]["value"]["upgradePolicy"] == {"mode": "Manual"}
    vmss = f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachineScaleSets/myVMSS"
    instances = arm.call("GET", vmss + "/virtualMachines", "2024-07-01").json()["value"]
    assert len(instances) == 2
    pid = arm.call("GET", vmss, "2024-07-01").json()["identity"]["principalId"]
    env = control.call("GET", "/_milab/vm-context", params={"id": instances[1]["id"]})
    assert env["MILAB_VM_ID"] == instances[1]["id"] and pid


def test_subscription_scope_deployment_creates_a_group(arm, target_sdk):
    client, _ = target_sdk
    name = f"sub-rg-{uuid.uuid4().hex[:8]}"
    template = {"$schema": "https://schema.management.azure.com/schemas/2018-05-01/subscriptionDeploymentTemplate.json#",
                "contentVersion": "1.0.0.0", "parameters": {"rgName": {"type": "string"}},
                "resources": [{"type": "Microsoft.Resources/resourceGroups", "apiVersion": "2022-09-01",
                               "name": "[parameters('rgName')]", "location": "westus"}],
                "outputs": {"id": {"type": "string", "value": "[subscriptionResourceId('Microsoft.Resources/"
                                                              "resourceGroups', parameters('rgName'))]"}}}
    path = f"/subscriptions/{arm.sub}/providers/Microsoft.Resources/deployments/{name}"
    r = arm.call("PUT", path, RES_API, {"properties": {"mode": "Incremental", "template": template,
                                                       "parameters": {"rgName": {"value": name}}}})
    assert r.status_code == 400 and r.json()["error"]["code"] == "LocationRequired"
    from azure.mgmt.resource.deployments.models import Deployment, DeploymentProperties
    done = client.deployments.begin_create_or_update_at_subscription_scope(name, Deployment(
        location="westus", properties=DeploymentProperties(mode="Incremental", template=template,
                                                           parameters={"rgName": {"value": name}}))).result()
    assert done.properties.provisioning_state == "Succeeded"
    assert done.properties.outputs["id"]["value"] == f"/subscriptions/{arm.sub}/resourceGroups/{name}"
    assert arm.call("GET", f"/subscriptions/{arm.sub}/resourceGroups/{name}").status_code == 200
    client.deployments.begin_delete_at_subscription_scope(name).result()
    assert arm.call("GET", path, RES_API).status_code == 404
