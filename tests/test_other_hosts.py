"""Identities on hosts other than VMs: Container Instances (IMDS inside the group) and App
Service (its own token endpoint, both protocols, with azure-identity unchanged)."""
from __future__ import annotations

import json
import sys
import uuid

import jwt
import pytest

from milab.guest import HttpStep, PythonStep, parse_output, render, render_python

ACI_API, WEB_API = "2023-05-01", "2023-12-01"
IMDS = "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://vault.azure.net"


@pytest.fixture
def rg(arm):
    return arm.group()


def ua(arm, rg, name="ID1"):
    r = arm.call("PUT", f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/"
                        f"userAssignedIdentities/{name}", "2023-01-31", {"location": "westus"})
    assert r.status_code == 201, r.text
    return r.json()


def group_body(identity):
    """seed 001's container instance (the Bicep file's properties)."""
    return {"location": "westus", "identity": identity, "properties": {
        "containers": [{"name": "aspnet-sample", "properties": {
            "image": "mcr.microsoft.com/dotnet/samples:aspnetapp-chiseled",
            "resources": {"requests": {"cpu": 1, "memoryInGB": 2}}}}], "osType": "Linux"}}


def in_guest(control, host_id, step):
    r = control.call("POST", "/_milab/run", json={"vm_id": host_id, "timeout": 120, "script": render(step, "linux")})
    return parse_output(r["stdout"], step, r["stderr"])


def test_container_group_identity_and_imds_inside(arm, rg, control):
    path = f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.ContainerInstance/containerGroups/cg1"
    r = arm.call("PUT", path, ACI_API, group_body({"type": "SystemAssigned"}))
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["identity"]["type"] == "SystemAssigned" and doc["identity"]["tenantId"]
    assert doc["properties"]["instanceView"]["state"] == "Running"
    got = in_guest(control, doc["id"], HttpStep("GET", IMDS, {"Metadata": "true"}))
    assert got.status == 200, got.body
    assert jwt.decode(got.json()["access_token"], options={"verify_signature": False})["oid"] == \
        doc["identity"]["principalId"]
    bad = arm.call("PUT", path.replace("cg1", "cg2"), ACI_API, {"location": "westus", "properties": {
        "containers": [{"name": "c", "properties": {"image": "x"}}], "osType": "Linux"}})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "MissingContainerResources"


def test_os_type_is_optional_from_2024_05_01_preview_and_checked_when_given(arm, rg):
    """What az container create (2.91) sends: no osType, at 2024-05-01-preview, where the spec made it
    optional; before that version it is required, and a wrong one is refused at every version."""
    path = f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.ContainerInstance/containerGroups/"
    body = group_body({"type": "SystemAssigned"})
    del body["properties"]["osType"]
    r = arm.call("PUT", path + "noos", "2024-05-01-preview", body)
    assert r.status_code == 201 and r.json()["identity"]["principalId"], r.text
    old = arm.call("PUT", path + "noos-old", "2023-05-01", body)
    assert old.status_code == 400 and old.json()["error"]["code"] == "InvalidOsType"
    body["properties"]["osType"] = "Solaris"
    wrong = arm.call("PUT", path + "badsos", "2024-05-01-preview", body)
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "InvalidOsType"


def _plan_and_site(arm, rg, identity, name=None):
    name = name or f"web{uuid.uuid4().hex[:10]}"  # site names are global, as in Azure
    base = f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.Web"
    plan = arm.call("PUT", f"{base}/serverfarms/plan1", WEB_API, {"location": "westus", "sku": {"name": "B1"}})
    assert plan.status_code in (200, 201), plan.text
    body = {"location": "westus", "properties": {"serverFarmId": plan.json()["id"], "siteConfig": {
        "appSettings": [{"name": "GREETING", "value": "hello"}]}}}
    if identity:
        body["identity"] = identity
    site = arm.call("PUT", f"{base}/sites/{name}", WEB_API, body)
    assert site.status_code in (200, 201), site.text
    return site.json()


def test_site_with_user_identity_renders_null_system_ids(arm, rg):
    ident = ua(arm, rg)
    site = _plan_and_site(arm, rg, {"type": "UserAssigned", "userAssignedIdentities": {ident["id"]: {}}})
    assert site["identity"]["principalId"] is None and site["identity"]["tenantId"] is None
    assert site["identity"]["userAssignedIdentities"][ident["id"]]["clientId"] == ident["properties"]["clientId"]
    assert site["properties"]["defaultHostName"] == f"{site['name']}.azurewebsites.net"
    cfg = arm.call("GET", site["id"] + "/config/web", WEB_API)
    assert cfg.status_code == 200 and cfg.json()["properties"]["minTlsVersion"] == "1.2"
    r = arm.call("PATCH", site["id"] + "/config/web", WEB_API, {"properties": {"alwaysOn": True}})
    assert r.status_code == 200 and r.json()["properties"]["alwaysOn"] is True
    settings = arm.call("POST", site["id"] + "/config/appsettings/list", WEB_API).json()
    assert settings["properties"] == {"GREETING": "hello"}
    check = arm.call("POST", f"/subscriptions/{arm.sub}/providers/Microsoft.Web/checknameavailability", WEB_API,
                     {"name": site["name"], "type": "Microsoft.Web/sites"}).json()
    assert check["nameAvailable"] is False and check["reason"] == "AlreadyExists"


TOKEN = "{endpoint}?api-version={v}&resource=https://vault.azure.net{sel}"


def test_app_service_token_endpoint_both_protocols(arm, rg, control):
    ident = ua(arm, rg)
    site = _plan_and_site(arm, rg, {"type": "SystemAssigned, UserAssigned",
                                    "userAssignedIdentities": {ident["id"]: {}}})
    env = control.call("GET", "/_milab/vm-context", params={"id": site["id"]})
    assert env["IDENTITY_ENDPOINT"] and env["IDENTITY_HEADER"] and env["GREETING"] == "hello"
    ep, header = env["IDENTITY_ENDPOINT"], env["IDENTITY_HEADER"]

    def ask(v, headers, sel=""):
        return in_guest(control, site["id"], HttpStep("GET", TOKEN.format(endpoint=ep, v=v, sel=sel), headers))

    got = ask("2019-08-01", {"X-IDENTITY-HEADER": header})
    body = got.json()
    assert got.status == 200 and body["token_type"] == "Bearer" and body["expires_on"].isdigit(), got.body
    assert jwt.decode(body["access_token"], options={"verify_signature": False})["oid"] == \
        site["identity"]["principalId"]
    got = ask("2019-08-01", {"X-IDENTITY-HEADER": header}, f"&client_id={ident['properties']['clientId']}")
    assert got.json()["client_id"] == ident["properties"]["clientId"]
    got = ask("2019-08-01", {"X-IDENTITY-HEADER": header}, f"&mi_res_id={ident['id']}")
    assert got.json()["client_id"] == ident["properties"]["clientId"]
    old = ask("2017-09-01", {"secret": header})
    assert old.status == 200 and old.json()["expires_on"].endswith(" +00:00"), old.body
    for headers, status in (({"X-IDENTITY-HEADER": "wrong"}, 401), ({}, 401)):
        denied = ask("2019-08-01", headers)
        assert denied.status == status and set(denied.json()) == {"statusCode", "message", "correlationId"}
    assert ask("2017-09-01", {"X-IDENTITY-HEADER": header}).status == 400
    # no IMDS in an App Service sandbox
    assert in_guest(control, site["id"], HttpStep("GET", IMDS, {"Metadata": "true"})).status == 403
    # user-assigned only and no selector: App Service does not pick the lone identity
    r = arm.call("PATCH", site["id"], WEB_API, {"identity": {"type": "UserAssigned",
                                                            "userAssignedIdentities": {ident["id"]: {}}}})
    assert r.status_code == 200 and r.json()["identity"]["principalId"] is None
    refused = ask("2019-08-01", {"X-IDENTITY-HEADER": header})
    assert refused.status == 400 and refused.json()["message"] == "Unable to load the proper Managed Identity."


CODE = """
import json, os, sys
from azure.identity import ManagedIdentityCredential
for var in sys.argv[1:]:
    os.environ.pop(var, None)
cred = ManagedIdentityCredential(client_id=os.environ.get("UA_CLIENT_ID") or None)
tok = cred.get_token("https://vault.azure.net/.default")
print(json.dumps({"token": tok.token, "expires_on": tok.expires_on}))
"""


@pytest.mark.parametrize("protocol,drop", [("2019-08-01", []), ("2017-09-01", ["IDENTITY_ENDPOINT", "IDENTITY_HEADER"])])
def test_azure_identity_managed_identity_credential_unchanged(arm, rg, control, protocol, drop):
    site = _plan_and_site(arm, rg, {"type": "SystemAssigned"})
    code = CODE.replace("sys.argv[1:]", repr(drop))
    step = PythonStep(code, ("azure-identity",))
    r = control.call("POST", "/_milab/run", json={"vm_id": site["id"], "timeout": 120,
                                                   "script": render_python(step, "linux", prefer=sys.executable)})
    out = parse_output(r["stdout"], None, r["stderr"])
    if protocol == "2017-09-01":
        # With only MSI_ENDPOINT/MSI_SECRET, azure-identity 1.2x takes the Azure ML path, which MSAL now
        # serves: it reads expires_on as epoch seconds, while App Service's 2017-09-01 answer (the one
        # azure-identity's own _parse_expires_on was written for) is "MM/DD/YYYY HH:MM:SS +00:00".
        assert out.status != 0 and "invalid literal for int()" in r["stderr"] and "+00:00" in r["stderr"], \
            r["stderr"][-2000:]
        return
    assert out.status == 0, r["stderr"][-2000:]
    token = json.loads(out.body.strip().splitlines()[-1])["token"]
    assert jwt.decode(token, options={"verify_signature": False})["oid"] == site["identity"]["principalId"]
