"""Graph: the VM's system-assigned identity is put in a security group and granted the
``Directory.Read.All`` application permission, gets a token from IMDS and asks the directory
which groups it belongs to (``getMemberGroups``); the group is in the answer.

Pages: the 2019 Windows and Linux "access Azure AD Graph API" tutorials (registry family
``graph``, variants ``windows`` and ``linux``; Azure AD Graph is retired, so on a sandbox
subscription they are reported obsolete with their successor) and the Microsoft Graph
equivalent, the "assign a managed identity access to an application role" pages (variants
``msgraph-windows`` and ``msgraph-linux``), which run on both targets.

The operator's steps are the pages' REST calls (the Linux page's curl; the Windows page's AzureAD
PowerShell through its REST equivalent: ``New-AzureADGroup`` is ``POST groups``,
``Add-AzureADGroupMember`` ``POST groups/{id}/$links/members``, ``New-AzureAdServiceAppRoleAssignment``
``POST servicePrincipals/{id}/appRoleAssignments``). Managed identity tokens are cached by IMDS
(per resource URI, up to 24 h) with the app roles and groups they had when issued, so where a
step needs a token issued after a grant, the scenario does what a user must
(``target.refresh_identity_token``) and the report says what that was.

Denials: before the app role; a token issued before the grant (the cached one); a token for the
other Graph API; an app role granted on another resource app; and, in the main test, after the
grant is removed.
"""
from __future__ import annotations

import json

import pytest

from fixtures.directory import AAD_GRAPH, GRAPH
from milab import registry

from .helpers import claims, imds_token

VARIANTS = [t.variant for t in registry.TUTORIALS if t.family == "graph"]
pytestmark = [pytest.mark.tutorial(family="graph"), pytest.mark.parametrize("variant", VARIANTS)]


@pytest.fixture
def page(variant, tutorial_facts, target, resource_group, vm_factory, directory_client):
    """The page's set-up: the VM (the page's OS, system-assigned identity), the operator's client
    of the page's directory API, the VM's service principal, the resource app's service principal
    and its app role, and the VM in a new security group."""
    facts = tutorial_facts
    target.obsolete(facts)
    rg = resource_group()
    vm = vm_factory(rg, os=facts["os"], identity="system")
    tenant = target.tenant_id if facts["graph_tenant"] == "{tenant_id}" else facts["graph_tenant"]
    client = directory_client(facts["api"], tenant or "myorganization")
    # find the VM's service principal by its display name, as the pages do
    found = target.wait_for(lambda: client.service_principals(facts["sp_filter"].format(name=vm.name)),
                            lambda sps: any(client.object_id(s) == vm.principal_id for s in sps),
                            "the VM's service principal to appear in the directory")
    sp = next(s for s in found if client.object_id(s) == vm.principal_id)
    assert sp["displayName"] == vm.name
    # the resource app (Azure AD Graph / Microsoft Graph) and its Directory.Read.All app role
    resource = resource_sp(client, facts)
    role = next(r for r in resource["appRoles"] if r["value"] == facts["app_role"])
    assert role["id"] == facts["app_role_id"] and "Application" in role["allowedMemberTypes"]
    group = client.group(facts["group"]["displayName"], facts["group"])
    client.add_member(group, vm.principal_id)
    return facts, vm, client, resource, group, tenant


def resource_sp(client, facts) -> dict:
    """The resource app's service principal by its app id (the Linux page sends the filter as
    ``&24filter=...``, which is no filter at all: every service principal comes back)."""
    if facts.get("sp_list_query"):
        sps = client.call("GET", "", raw_url=f"{AAD_GRAPH}/myorganization/servicePrincipals?"
                                             f"{facts['sp_list_query']}").ok("the page's list")["value"]
    else:
        sps = client.service_principals(f"appId eq '{facts['resource_app_id']}'")
    return next(s for s in sps if s["appId"] == facts["resource_app_id"])


def member_groups_url(facts, vm, tenant) -> str:
    if facts["api"] == "msgraph":
        return f"{GRAPH}/servicePrincipals/{vm.principal_id}/getMemberGroups"
    return f"{AAD_GRAPH}/{tenant}/servicePrincipals/{vm.principal_id}/getMemberGroups?api-version=1.6"


def get_member_groups(vm, facts, tenant, token):
    return vm.http("POST", member_groups_url(facts, vm, tenant),
                   {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                   facts["member_groups_body"])


def error_code(result, facts) -> str | None:
    try:
        doc = json.loads(result.body)
    except ValueError:
        return None
    err = doc.get("odata.error") if facts["api"] == "aad" else doc.get("error")
    return err.get("code") if isinstance(err, dict) else None


def assert_refused(result, facts, status: int, code: str, what: str) -> None:
    got = error_code(result, facts)
    assert result.status == status and got == code, (f"{what}: expected {status} {code}, got {result.status} "
                                                     f"{got}: {result.body[:300]}")


def fresh_token(target, vm, facts) -> str:
    """A token issued after the grant, got as a user must (IMDS caches the old one)."""
    resource = target.refresh_identity_token(vm, facts["imds_resource"])
    return imds_token(vm, facts, resource)


def grant(target, client, vm, resource_id: str, role_id: str) -> dict:
    """The page's app role assignment, then a bounded wait until the directory shows it (a token
    asked for before that would be issued, and cached, without the role)."""
    a = client.grant(vm.principal_id, resource_id, role_id)
    target.wait_for(lambda: client.call("GET", f"servicePrincipals/{vm.principal_id}/appRoleAssignments"),
                    lambda r: r.status == 200 and any(client.object_id(x) == client.object_id(a)
                                                      for x in r.body["value"]),
                    "the app role assignment to be visible in the directory")
    return a


def wait_for_groups(target, vm, facts, tenant, token, group):
    return target.wait_for(lambda: get_member_groups(vm, facts, tenant, token),
                           lambda r: r.status == 200 and group in json.loads(r.body).get("value", []),
                           "the group membership to be visible to getMemberGroups")


def test_graph(page, target):
    facts, vm, client, resource, group, tenant = page

    # Grant the VM's service principal the Directory.Read.All app role of the resource app.
    a = grant(target, client, vm, client.object_id(resource), facts["app_role_id"])
    for k, v in facts["expected_assignment"].items():
        assert a[k] == v, (k, a)
    assert a["principalDisplayName"] == vm.name
    # the Windows page's "check" and "list" commands: the grant is among the resource's assignees
    assigned = client.call("GET", f"servicePrincipals/{client.object_id(resource)}/appRoleAssignedTo").ok(
        "the resource's app role assignments")["value"]
    assert any(x["principalId"] == vm.principal_id for x in assigned)

    # In the VM: a token for the directory API, as the page requests it, then getMemberGroups.
    token = imds_token(vm, facts)
    c = claims(token)
    assert c["oid"] == vm.principal_id and c["aud"] == facts["imds_resource"]
    got = wait_for_groups(target, vm, facts, tenant, token, group)
    assert got.status == 200, got.body[:300]
    doc = json.loads(got.body)
    assert group in doc["value"]
    assert doc[facts["metadata_key"]] == facts["metadata"].format(tenant=tenant)

    # The Windows page's Remove-AzureADServiceAppRoleAssignment: after it, a token issued afterwards
    # is refused (the cached one still holds the role: a user must refresh it).
    client.call("DELETE", f"servicePrincipals/{vm.principal_id}/appRoleAssignments/{client.object_id(a)}").ok(
        "remove the app role assignment", 204)
    after = fresh_token(target, vm, facts)
    assert "roles" not in claims(after)
    assert_refused(get_member_groups(vm, facts, tenant, after), facts, 403, "Authorization_RequestDenied",
                   "a token issued after the grant was removed")


def test_graph_denied_before_app_role(page, target):
    facts, vm, client, resource, group, tenant = page
    token = imds_token(vm, facts)
    assert "roles" not in claims(token)
    assert_refused(get_member_groups(vm, facts, tenant, token), facts, 403, "Authorization_RequestDenied",
                   "getMemberGroups without the app role")


def test_graph_denied_token_issued_before_the_grant(page, target):
    facts, vm, client, resource, group, tenant = page
    before = imds_token(vm, facts)
    grant(target, client, vm, client.object_id(resource), facts["app_role_id"])
    cached = imds_token(vm, facts)  # IMDS hands back the token it cached before the grant
    assert cached == before and "roles" not in claims(cached), (
        "a token issued before the grant: expected 403 Authorization_RequestDenied with the token IMDS cached, "
        "but IMDS issued a new one")
    assert_refused(get_member_groups(vm, facts, tenant, cached), facts, 403, "Authorization_RequestDenied",
                   "the token IMDS cached before the grant")
    # what a user must do: get a token issued after the grant; it carries the role and works
    fresh = fresh_token(target, vm, facts)
    assert claims(fresh)["roles"] == [facts["app_role"]]
    got = wait_for_groups(target, vm, facts, tenant, fresh, group)
    assert got.status == 200 and group in json.loads(got.body)["value"], got.body[:300]


def test_graph_denied_token_for_the_other_graph(page, target):
    facts, vm, client, resource, group, tenant = page
    grant(target, client, vm, client.object_id(resource), facts["app_role_id"])
    other = imds_token(vm, facts, facts["other_resource"])
    assert_refused(get_member_groups(vm, facts, tenant, other), facts, 401, facts["wrong_audience_code"],
                   f"a token for {facts['other_resource']} sent to {facts['imds_resource']}")


def test_graph_denied_app_role_on_another_resource_app(page, target):
    facts, vm, client, resource, group, tenant = page
    # the same permission name, Directory.Read.All, granted on the other Graph's service principal
    [other] = client.service_principals(f"appId eq '{facts['other_app_id']}'")
    grant(target, client, vm, client.object_id(other), facts["other_app_role_id"])
    token = imds_token(vm, facts)  # the first token for this resource: issued after that grant
    assert "roles" not in claims(token)
    assert_refused(get_member_groups(vm, facts, tenant, token), facts, 403, "Authorization_RequestDenied",
                   "an app role on another resource app")
