"""Managed identities on other hosts (seed 001): a container instance with a system-assigned
identity and a web app with a user-assigned one, each from its Bicep file's ARM JSON through
Microsoft.Resources/deployments; the deployment's output as the page shows it; then from inside
the host a token (IMDS in the container group, App Service's IDENTITY_ENDPOINT in the site), the
denial before a role is granted, and the role's effect."""
from __future__ import annotations

import uuid

import pytest

from milab import registry
from milab.guest import parse_output
from milab.targets import Vm

from .helpers import assert_denied, assert_ok, claims
from .lifecycle import ARM, arm_get_from, deploy, load_template

FAMILY = "other_hosts"
VARIANTS = [t.variant for t in registry.TUTORIALS if t.family == FAMILY]
pytestmark = [pytest.mark.tutorial(family=FAMILY), pytest.mark.parametrize("variant", VARIANTS)]


def _in_host_steps_possible(target) -> None:
    if target.name == "azure":
        pytest.skip("steps inside a container group or a web app need az container exec or Kudu, not Run Command; "
                    "they run on the emulator")


def _site_token(site: Vm, client_id: str | None = None):
    """The App Service token request the site's code makes (IDENTITY_ENDPOINT, X-IDENTITY-HEADER)."""
    query = "api-version=2019-08-01&resource=" + ARM + (f"&client_id={client_id}" if client_id else "")
    script = (f'curl -sS "$IDENTITY_ENDPOINT?{query}" -H "X-IDENTITY-HEADER: $IDENTITY_HEADER" '
              f"-w '\\nmilab-status:%{{http_code}}\\n'\n")
    code, out, err = site.target.run_in_vm(site, script)
    return parse_output(out, None, err)


def test_procedure(variant, tutorial_facts, target, arm_rest, shared_group, grant, user_identity, cleanup):
    facts, rg = tutorial_facts, shared_group
    name = target.unique_name(facts["host"])[-22:].replace("-", "")
    if facts["host"] == "aci":
        props = deploy(target, rg.name, f"{name}-d", load_template("container-instance.json"),
                       {"instanceName": name})
        out = props.outputs["systemAssignedIdentity"]["value"]
        assert out["type"] == "SystemAssigned" and out["tenantId"], out
        uuid.UUID(out["principalId"])
        host_id = f"{rg.id}/providers/Microsoft.ContainerInstance/containerGroups/{name}"
        shown = arm_rest.call("GET", host_id, facts["api_version"]).body
        assert shown["identity"]["principalId"] == out["principalId"]
        assert shown["properties"]["instanceView"]["state"] == "Running"
        _in_host_steps_possible(target)
        host = Vm(target, rg.name, name, host_id, "linux")
        token = host.imds_token(ARM).json()["access_token"]
        principal = out["principalId"]
    else:
        ua = user_identity(rg)
        plan = f"{name}-plan"
        props = deploy(target, rg.name, f"{name}-d", load_template("app-service-web-app.json"),
                       {"planName": plan, "webAppName": name, "identityName": ua.name})
        out = props.outputs["userAssignedIdentity"]["value"]
        assert out["type"] == "UserAssigned", out
        (key, entry), = out["userAssignedIdentities"].items()
        assert key.lower() == ua.id.lower() and entry == {"clientId": ua.client_id, "principalId": ua.principal_id}
        host_id = f"{rg.id}/providers/Microsoft.Web/sites/{name}"
        _in_host_steps_possible(target)
        host = Vm(target, rg.name, name, host_id, "linux")
        # App Service does not pick the lone user-assigned identity: the code must name it
        refused = _site_token(host)
        assert refused.status == 400 and refused.json()["message"] == "Unable to load the proper Managed Identity."
        got = _site_token(host, ua.client_id)
        body = assert_ok(got, "the App Service token endpoint with client_id")
        assert body["expires_on"].isdigit() and body["client_id"] == ua.client_id
        token, principal = body["access_token"], ua.principal_id
    assert claims(token)["oid"] == principal
    assert_denied(arm_get_from(host, token, rg.id, "2016-09-01"), 403, "AuthorizationFailed",
                  "reading the resource group before the grant")
    grant(principal, facts["role"], rg.id)
    got = target.wait_for(lambda: arm_get_from(host, token, rg.id, "2016-09-01"), lambda r: r.status == 200,
                          f"{facts['role']} on the group to take effect")
    assert assert_ok(got, "reading the group with the host's identity")["name"] == rg.name
