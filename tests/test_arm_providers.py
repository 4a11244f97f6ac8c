"""What ARM answers about itself (providers, locations, cloud metadata, name checks, the image
catalogue), the network resources a VM stands on, the rules for types stored generically, and
the api-versions the emulator accepts: every published one, from one source."""
from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from support import run_scenarios

from milab.cloud.arm import apiversions, catalog

READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"


def sub_path(arm, tail=""):
    return f"/subscriptions/{arm.sub}{tail}"


# -- api-versions ---------------------------------------------------------------------------------------------
def test_every_version_the_installed_sdks_send_is_accepted():
    """The table is made from the REST specs and the installed azure-mgmt-* packages; an SDK upgrade
    that sends a version the table lacks fails here (regenerate with python -m milab.cloud.arm.apiversions)."""
    sent, _ = apiversions.read_sdk_versions(apiversions._default_site_packages()[:1])
    missing = {ns: sorted(set(vs) - set(apiversions.sdk_versions(ns))) for ns, vs in sent.items()}
    assert not {k: v for k, v in missing.items() if v}, missing


def test_published_versions_are_accepted_and_unknown_ones_refused(arm):
    rg = arm.group()
    path = f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1"
    for version in ("2015-08-31-preview", "2025-05-31-preview"):  # the pages' and azure-cli 2.91's
        assert version in catalog.known_api_versions("Microsoft.ManagedIdentity/userAssignedIdentities")
        r = arm.call("PUT", path, version, {"location": "westus"})
        assert r.status_code in (200, 201), r.text
    r = arm.call("PUT", path, "2019-01-01", {"location": "westus"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "NoRegisteredProviderFound"
    assert "2025-05-31-preview" in r.json()["error"]["message"]
    assert "2025-08-01" in catalog.known_api_versions("Microsoft.Storage/storageAccounts")


def test_generic_types_accept_the_published_versions_only(arm):
    rg = arm.group()
    path = f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.Sql/servers/sql{uuid.uuid4().hex[:6]}"
    if catalog.is_known("Microsoft.Sql/servers"):
        pytest.skip("Microsoft.Sql/servers is modelled now: its own tests cover its versions")
    assert arm.call("PUT", path, "2023-08-01", {"location": "westus", "properties": {}}).status_code == 201
    r = arm.call("PUT", path, "2011-01-01", {"location": "westus", "properties": {}})
    assert r.status_code == 400 and r.json()["error"]["code"] == "NoRegisteredProviderFound", r.text


# -- providers, locations, metadata ---------------------------------------------------------------------------
def test_provider_lists_types_locations_and_versions_newest_first(arm):
    r = arm.call("GET", sub_path(arm, "/providers/Microsoft.Compute"), "2024-11-01")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["namespace"] == "Microsoft.Compute" and doc["registrationState"] == "Registered"
    vms = next(t for t in doc["resourceTypes"] if t["resourceType"] == "virtualMachines")
    assert vms["apiVersions"] == sorted(vms["apiVersions"], reverse=True) and "2018-06-01" in vms["apiVersions"]
    assert "West US" in vms["locations"]
    names = [t["resourceType"].lower() for t in doc["resourceTypes"]]
    assert len(names) == len(set(names)), "one entry per type (the Azure CLI needs exactly one)"
    everything = arm.call("GET", sub_path(arm, "/providers"), "2024-11-01").json()["value"]
    assert {"Microsoft.Storage", "Microsoft.ManagedIdentity", "Microsoft.Network"} <= {p["namespace"] for p in everything}


def test_unknown_namespace_is_invalid(arm):
    r = arm.call("GET", sub_path(arm, "/providers/Microsoft.Nothing"), "2024-11-01")
    assert r.status_code == 404 and r.json()["error"]["code"] == "InvalidResourceNamespace"


def test_locations(arm):
    r = arm.call("GET", sub_path(arm, "/locations"), "2022-12-01")
    assert r.status_code == 200
    west = next(l for l in r.json()["value"] if l["name"] == "westus")
    assert west["displayName"] == "West US" and west["id"].endswith("/locations/westus")


def test_metadata_endpoints_need_no_token(http):
    r = http.get("https://management.azure.com/metadata/endpoints?api-version=2019-05-01", timeout=30)
    assert r.status_code == 200
    cloud = r.json()[0]
    assert cloud["resourceManager"] == "https://management.azure.com/" and cloud["name"] == "AzureCloud"
    old = http.get("https://management.azure.com/metadata/endpoints?api-version=2015-01-01", timeout=30).json()
    assert old["authentication"]["loginEndpoint"] == "https://login.microsoftonline.com/"


def _stranger_token(arm, control):
    """A correctly signed ARM token of a principal with no role assignment anywhere (a fresh
    user-assigned identity's service principal)."""
    rg = arm.group()
    ua = arm.call("PUT", f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/"
                         f"userAssignedIdentities/stranger", "2023-01-31", {"location": "westus"}).json()
    r = control.call("POST", "/_milab/tokens", json={"object_id": ua["properties"]["principalId"],
                                                      "audience": "https://management.azure.com/"})
    return r["access_token"]


def test_providers_denied_without_an_assignment(arm, control):
    token = _stranger_token(arm, control)
    for path in ("/providers/Microsoft.Compute", "/locations",
                 "/providers/Microsoft.Compute/locations/westus/publishers"):
        r = arm.call("GET", sub_path(arm, path), "2024-11-01", token=token)
        assert r.status_code == 403 and r.json()["error"]["code"] == "AuthorizationFailed", (path, r.text)


# -- name checks -------------------------------------------------------------------------------------------
def test_storage_name_check(arm):
    rg = arm.group()
    name = f"st{uuid.uuid4().hex[:12]}"
    check = sub_path(arm, "/providers/Microsoft.Storage/checkNameAvailability")
    body = {"name": name, "type": "Microsoft.Storage/storageAccounts"}
    assert arm.call("POST", check, "2023-05-01", body).json() == {"nameAvailable": True}
    r = arm.call("PUT", f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/"
                        f"{name}", "2023-05-01", {"location": "westus", "sku": {"name": "Standard_LRS"},
                                                  "kind": "StorageV2", "properties": {}})
    assert r.status_code == 202, r.text  # Storage finishes a create asynchronously
    taken = arm.call("POST", check, "2023-05-01", body).json()
    assert taken["nameAvailable"] is False and taken["reason"] == "AlreadyExists"
    bad = arm.call("POST", check, "2023-05-01", {"name": "No_Such", "type": "x"}).json()
    assert bad["nameAvailable"] is False and bad["reason"] == "AccountNameInvalid"


def test_name_checks_of_key_vault_sql_and_cosmos(arm):
    free = f"n{uuid.uuid4().hex[:10]}"
    kv = arm.call("POST", sub_path(arm, "/providers/Microsoft.KeyVault/checkNameAvailability"), "2023-07-01",
                  {"name": free, "type": "Microsoft.KeyVault/vaults"}).json()
    assert kv["nameAvailable"] is True
    sql = arm.call("POST", sub_path(arm, "/providers/Microsoft.Sql/checkNameAvailability"), "2023-08-01",
                   {"name": free, "type": "Microsoft.Sql/servers"}).json()
    assert sql == {"name": free, "available": True}
    r = arm.call("HEAD", f"/providers/Microsoft.DocumentDB/databaseAccountNames/{free}", "2024-11-15")
    assert r.status_code == 404  # free


def test_name_check_denied_without_an_assignment(arm, control):
    token = _stranger_token(arm, control)
    r = arm.call("POST", sub_path(arm, "/providers/Microsoft.Storage/checkNameAvailability"), "2023-05-01",
                 {"name": "abcdef123", "type": "Microsoft.Storage/storageAccounts"}, token=token)
    assert r.status_code == 403 and r.json()["error"]["code"] == "AuthorizationFailed"


# -- the image catalogue ---------------------------------------------------------------------------------------
IMG = "/providers/Microsoft.Compute/locations/westus/publishers"


def test_image_catalogue_resolves_the_cli_aliases(arm):
    versions = sub_path(arm, f"{IMG}/MicrosoftWindowsServer/artifacttypes/vmimage/offers/WindowsServer/skus/"
                             f"2016-datacenter-gensecond/versions")
    r = arm.call("GET", versions, "2024-07-01")
    assert r.status_code == 200 and isinstance(r.json(), list) and r.json()[0]["name"]
    one = arm.call("GET", f"{versions}/{r.json()[0]['name']}", "2024-07-01").json()
    assert one["properties"]["osDiskImage"]["operatingSystem"] == "Windows"
    assert one["properties"]["hyperVGeneration"] == "V2"
    pubs = arm.call("GET", sub_path(arm, IMG), "2024-07-01").json()
    assert "Canonical" in [p["name"] for p in pubs]


def test_unknown_image_is_not_found(arm):
    r = arm.call("GET", sub_path(arm, f"{IMG}/Canonical/artifacttypes/vmimage/offers/UbuntuServer/skus/"
                                      f"99.04-LTS/versions"), "2024-07-01")
    assert r.status_code == 404 and r.json()["error"]["message"] == "Artifact: VMImage was not found."


# -- network ---------------------------------------------------------------------------------------------
def net(arm, rg, kind, name):
    return f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.Network/{kind}/{name}"


NIC_BODY = lambda subnet: {"location": "westus", "properties": {"ipConfigurations": [  # noqa: E731
    {"name": "ipconfig1", "properties": {"subnet": {"id": subnet}}}]}}


def test_nic_with_a_dangling_subnet_is_refused(arm):
    rg = arm.group()
    subnet = net(arm, rg, "virtualNetworks", "nowhere") + "/subnets/default"
    r = arm.call("PUT", net(arm, rg, "networkInterfaces", "nic1"), "2023-09-01", NIC_BODY(subnet))
    assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidResourceReference"
    assert "virtualNetworks/nowhere referenced by resource" in r.json()["error"]["message"]
    assert arm.call("GET", net(arm, rg, "networkInterfaces", "nic1"), "2023-09-01").status_code == 404


def test_vnet_subnets_and_a_nic_on_them(arm):
    rg = arm.group()
    vnet = net(arm, rg, "virtualNetworks", "vn1")
    r = arm.call("PUT", vnet, "2023-09-01", {"location": "westus", "properties": {
        "addressSpace": {"addressPrefixes": ["10.9.0.0/16"]},
        "subnets": [{"name": "default", "properties": {"addressPrefix": "10.9.1.0/24"}}]}})
    assert r.status_code == 201, r.text
    sub = arm.call("GET", vnet + "/subnets/default", "2023-09-01")
    assert sub.status_code == 200 and sub.json()["properties"]["addressPrefix"] == "10.9.1.0/24"
    missing = arm.call("PUT", net(arm, rg, "networkInterfaces", "nic0"), "2023-09-01", NIC_BODY(vnet + "/subnets/no"))
    assert missing.status_code == 400 and "subnets/no referenced by resource" in missing.json()["error"]["message"]
    nic = arm.call("PUT", net(arm, rg, "networkInterfaces", "nic1"), "2023-09-01", NIC_BODY(vnet + "/subnets/default"))
    assert nic.status_code == 201, nic.text
    ip = nic.json()["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"]
    assert ip.startswith("10.9.1.")
    assert arm.call("GET", vnet, "2023-09-01").json()["properties"]["subnets"][0]["name"] == "default"


# -- generic types --------------------------------------------------------------------------------------------
def test_generic_create_status_is_the_specs(arm):
    """The create status is the one the type's SDK accepts, modelled or stored generically:
    azure-mgmt-cosmosdb's begin_create_or_update takes only 200, azure-mgmt-web's plans 200 or 202."""
    rg = arm.group()
    base = f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers"
    cosmos = arm.call("PUT", f"{base}/Microsoft.DocumentDB/databaseAccounts/acct{uuid.uuid4().hex[:6]}",
                      "2024-11-15", {"location": "westus", "properties": {
                          "databaseAccountOfferType": "Standard",
                          "locations": [{"locationName": "westus", "failoverPriority": 0}]}})
    assert cosmos.status_code == 200, cosmos.text
    plan = arm.call("PUT", f"{base}/Microsoft.Web/serverfarms/plan1", "2023-12-01", {"location": "westus"})
    assert plan.status_code in (200, 202), plan.text
    other = arm.call("PUT", f"{base}/Microsoft.Cache/redis/r{uuid.uuid4().hex[:6]}", "2023-08-01",
                     {"location": "westus", "properties": {"sku": {"name": "Basic", "family": "C", "capacity": 0}}})
    assert other.status_code == 201, other.text  # what the Redis spec lists for a new cache


def test_child_resources_need_no_location_and_secrets_are_not_returned(arm, emu_env):
    rg = arm.group()
    server = f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.Sql/servers/sql{uuid.uuid4().hex[:6]}"
    r = arm.call("PUT", server, "2023-08-01", {"location": "westus", "properties": {
        "administratorLogin": "milab", "administratorLoginPassword": "Very-s3cret-value"}})
    assert r.status_code in (200, 201, 202), r.text  # the SQL spec's create is long-running (202)
    assert "administratorLoginPassword" not in r.text and "Very-s3cret-value" not in r.text
    got = arm.call("GET", server, "2023-08-01")
    assert got.status_code == 200 and "administratorLoginPassword" not in got.text and "Very-s3cret" not in got.text
    admin = arm.call("PUT", server + "/administrators/ActiveDirectory", "2023-08-01", {"properties": {
        "administratorType": "ActiveDirectory", "login": "vm", "sid": str(uuid.uuid4()),
        "tenantId": emu_env["AZURE_TENANT_ID"]}})  # Azure SQL refuses another tenant than the subscription's
    assert admin.status_code in (200, 201, 202), admin.text  # long-running in the SQL spec


# -- Compute: a PUT without identity keeps it -------------------------------------------------------------------
def test_vm_put_without_identity_keeps_the_identity(arm):
    from test_compute_identity import vm_body, vm_path
    NEW = "2024-07-01"
    rg = arm.group()
    r = arm.call("PUT", vm_path(arm, rg), NEW, vm_body({"type": "SystemAssigned"}))
    assert r.status_code in (200, 201), r.text
    principal = r.json()["identity"]["principalId"]
    body = vm_body(None)
    body.pop("identity", None)
    again = arm.call("PUT", vm_path(arm, rg), NEW, body)
    assert again.status_code == 200, again.text
    assert again.json()["identity"]["principalId"] == principal  # Compute keeps it; type None removes it
    gone = arm.call("PUT", vm_path(arm, rg), NEW, vm_body({"type": "None"}))
    assert "identity" not in gone.json()


# -- the denials above fail against a permissive emulator ------------------------------------------------------
DENIALS = ["tests/test_arm_providers.py::test_providers_denied_without_an_assignment",
           "tests/test_arm_providers.py::test_name_check_denied_without_an_assignment"]


def test_denials_fail_against_a_permissive_emulator(tmp_path):
    outcomes = run_scenarios(tmp_path, ["--no-rbac"], DENIALS)
    assert len(outcomes) == len(DENIALS)
    assert all(o.outcome == "failed" and re.search(r"403|AuthorizationFailed", o.failure) for o in outcomes), \
        [(o.name, o.outcome) for o in outcomes]
