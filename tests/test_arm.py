"""ARM's front door: api-version checks, error shapes and codes, authorization before
existence, role assignments at any scope and their list filters, and the catalogue."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest
from support import fixed_clock

from milab.cloud.arm import catalog
from milab.cloud.arm.ids import parse

READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"


def rd(sub, guid=READER):
    return f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


def test_missing_and_unknown_api_version(arm):
    r = arm.call("GET", f"/subscriptions/{arm.sub}/resourceGroups", api_version=None)
    assert r.status_code == 400 and r.json()["error"]["code"] == "MissingApiVersionParameter"
    r = arm.call("GET", f"/subscriptions/{arm.sub}/resourceGroups/x/providers/Microsoft.Compute/virtualMachines/v",
                 api_version="2012-01-01")
    assert r.status_code == 400 and r.json()["error"]["code"] == "NoRegisteredProviderFound"
    assert "2018-06-01" in r.json()["error"]["message"]


def test_documented_old_api_versions_read_groups(arm):
    name = arm.group()
    for v in ("2016-06-01", "2016-09-01", "2025-04-01"):
        r = arm.call("GET", f"/subscriptions/{arm.sub}/resourceGroups/{name}", api_version=v)
        assert r.status_code == 200, (v, r.text)
        assert set(r.json()) >= {"id", "name", "location", "properties"}


def test_not_found_codes(arm):
    r = arm.call("GET", f"/subscriptions/{arm.sub}/resourceGroups/does-not-exist")
    assert r.status_code == 404 and r.json()["error"]["code"] == "ResourceGroupNotFound"
    name = arm.group()
    r = arm.call("GET", f"/subscriptions/{arm.sub}/resourceGroups/{name}/providers/Microsoft.Compute/"
                        f"virtualMachines/nope", api_version="2024-07-01")
    assert r.status_code == 404 and r.json()["error"]["code"] == "ResourceNotFound"
    r = arm.call("GET", f"/subscriptions/{uuid.uuid4()}/resourceGroups")
    assert r.status_code == 404 and r.json()["error"]["code"] == "SubscriptionNotFound"


def test_group_names_are_case_insensitive(arm):
    name = arm.group(f"CaseGroup{uuid.uuid4().hex[:6]}")
    r = arm.call("GET", f"/subscriptions/{arm.sub}/resourcegroups/{name.lower()}")
    assert r.status_code == 200 and r.json()["name"] == name


def test_malformed_body_is_a_clear_400(arm):
    name = arm.group()
    r = arm.http.put(f"https://management.azure.com/subscriptions/{arm.sub}/resourceGroups/{name}"
                     f"?api-version=2021-04-01", data=b"{not json",
                     headers={"Authorization": f"Bearer {arm.token}", "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidRequestContent"
    r = arm.call("PUT", f"/subscriptions/{arm.sub}/resourceGroups/{uuid.uuid4().hex}", body={})
    assert r.status_code == 400 and r.json()["error"]["code"] == "LocationRequired"


def _identity(arm, rg, name="ID1"):
    r = arm.call("PUT", f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/"
                        f"userAssignedIdentities/{name}", "2024-11-30", {"location": "westus"})
    assert r.status_code == 201, r.text
    return r.json()


def test_user_assigned_identity_crud(arm):
    rg = arm.group()
    ident = _identity(arm, rg)
    props = ident["properties"]
    for k in ("tenantId", "principalId", "clientId"):
        uuid.UUID(props[k])
    base = f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities"
    listed = arm.call("GET", base, "2024-11-30").json()["value"]
    assert [i["name"] for i in listed] == ["ID1"]
    old = arm.call("GET", f"{base}/ID1", "2015-08-31-preview").json()
    assert "clientSecretUrl" in old["properties"]
    # systemData from 2023-01-31 on (the operator is a service principal: its appId, "Application")
    sd = listed[0]["systemData"]
    assert sd["createdByType"] == sd["lastModifiedByType"] == "Application" and sd["createdBy"]
    assert sd["createdAt"].endswith("Z") and sd["lastModifiedAt"] >= sd["createdAt"]
    assert "systemData" not in old and "systemData" not in arm.call("GET", f"{base}/ID1",
                                                                    "2022-01-31-preview").json()
    again = arm.call("PUT", f"{base}/ID1", "2024-11-30", {"location": "westus", "tags": {"a": "b"}}).json()
    assert again["systemData"]["createdAt"] == sd["createdAt"]
    assert arm.call("DELETE", f"{base}/ID1", "2024-11-30").status_code == 200
    assert arm.call("GET", f"{base}/ID1", "2024-11-30").status_code == 404
    bad = arm.call("PUT", f"{base}/a", "2024-11-30", {"location": "westus"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "InvalidResourceName"


def _assign(arm, scope, principal, role=READER, name=None):
    return arm.call("PUT", f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name or uuid.uuid4()}",
                    "2022-04-01", {"properties": {"roleDefinitionId": rd(arm.sub, role), "principalId": principal,
                                                  "principalType": "ServicePrincipal"}})


def test_role_assignments_rbac_and_errors(arm, control):
    rg = arm.group()
    other = arm.group()
    ident = _identity(arm, rg)
    pid = ident["properties"]["principalId"]
    scope = f"/subscriptions/{arm.sub}/resourceGroups/{rg}"
    token = control.call("POST", "/_milab/tokens", json={"object_id": pid,
                                                         "audience": "https://management.azure.com/"})["access_token"]
    # authorization comes before existence: an ungranted caller gets 403 even for a missing group
    r = arm.call("GET", f"/subscriptions/{arm.sub}/resourceGroups/no-such-group", token=token)
    assert r.status_code == 403 and r.json()["error"]["code"] == "AuthorizationFailed"
    assert pid in r.json()["error"]["message"]
    ra = _assign(arm, scope, pid)
    assert ra.status_code == 201, ra.text
    assert ra.json()["properties"]["scope"] == scope
    assert arm.call("GET", scope, token=token).status_code == 200
    assert arm.call("GET", f"/subscriptions/{arm.sub}/resourceGroups/{other}", token=token).status_code == 403
    # Reader cannot write, not even role assignments
    denied = _assign(arm, scope, pid)
    denied = arm.call("PUT", f"{scope}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}",
                      "2022-04-01", {"properties": {"roleDefinitionId": rd(arm.sub), "principalId": pid}}, token=token)
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "AuthorizationFailed"
    # the group list shows only what the caller may read
    names = [g["name"] for g in arm.call("GET", f"/subscriptions/{arm.sub}/resourceGroups", token=token)
             .json()["value"]]
    assert names == [rg]
    # duplicates, bad ids, unknown principals and roles
    dup = _assign(arm, scope, pid)
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "RoleAssignmentExists"
    assert _assign(arm, scope, pid, name="not-a-guid").json()["error"]["code"] == "InvalidRoleAssignmentId"
    assert _assign(arm, scope, str(uuid.uuid4())).json()["error"]["code"] == "PrincipalNotFound"
    assert _assign(arm, scope, pid, role=str(uuid.uuid4())).json()["error"]["code"] == "RoleDefinitionDoesNotExist"
    # list filters
    lst = arm.call("GET", f"{scope}/providers/Microsoft.Authorization/roleAssignments", "2022-04-01",
                   headers=None).json()["value"]
    assert any(a["properties"]["principalId"] == pid for a in lst)
    flt = arm.call("GET", f"{scope}/providers/Microsoft.Authorization/roleAssignments?$filter=principalId eq '{pid}'",
                   "2022-04-01").json()["value"]
    assert [a["properties"]["principalId"] for a in flt] == [pid]
    # revoke: the same token loses access at once
    assert arm.call("DELETE", ra.json()["id"], "2022-04-01").status_code == 200
    assert arm.call("GET", scope, token=token).status_code == 403
    assert arm.call("DELETE", ra.json()["id"], "2022-04-01").status_code == 204


def test_role_assignment_inherited_from_subscription(arm, control):
    rg = arm.group()
    pid = _identity(arm, rg, "ID9")["properties"]["principalId"]
    ra = _assign(arm, f"/subscriptions/{arm.sub}", pid)
    try:
        token = control.call("POST", "/_milab/tokens", json={"object_id": pid,
                                                             "audience": "https://management.azure.com"})[
            "access_token"]
        assert arm.call("GET", f"/subscriptions/{arm.sub}/resourceGroups/{rg}", token=token).status_code == 200
    finally:
        arm.call("DELETE", ra.json()["id"], "2022-04-01")


def test_role_definitions_by_name(arm):
    r = arm.call("GET", f"/subscriptions/{arm.sub}/providers/Microsoft.Authorization/roleDefinitions"
                        f"?$filter=roleName eq 'Reader'", "2022-04-01")
    (reader,) = r.json()["value"]
    assert reader["name"] == READER and reader["properties"]["permissions"][0]["actions"] == ["*/read"]
    r = arm.call("GET", f"/subscriptions/{arm.sub}/providers/Microsoft.Authorization/roleDefinitions/{uuid.uuid4()}",
                 "2022-04-01")
    assert r.status_code == 404 and r.json()["error"]["code"] == "RoleDefinitionDoesNotExist"


def test_delete_group_deletes_what_is_in_it(arm):
    rg = arm.group()
    ident = _identity(arm, rg)
    scope = f"/subscriptions/{arm.sub}/resourceGroups/{rg}"
    ra = _assign(arm, scope, ident["properties"]["principalId"])
    deleting = arm.call("DELETE", scope)
    assert deleting.status_code == 202 and deleting.headers["Location"].startswith(
        f"https://management.azure.com/subscriptions/{arm.sub}/operationresults/"), deleting.headers
    done = arm.http.get(deleting.headers["Location"], headers={"Authorization": f"Bearer {arm.token}"}, timeout=30)
    assert done.status_code == 200 and done.content == b"", done.text
    assert arm.call("GET", ident["id"], "2024-11-30").status_code == 404
    gone = arm.call("GET", ra.json()["id"], "2022-04-01")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "RoleAssignmentNotFound", gone.text


@pytest.mark.parametrize("path, type_, tail", [
    ("/subscriptions/s/resourceGroups/rg", "Microsoft.Resources/subscriptions/resourceGroups", None),
    ("/subscriptions/s/resourcegroups", "Microsoft.Resources/subscriptions", "resourceGroups"),
    ("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm/runCommand",
     "Microsoft.Compute/virtualMachines", "runCommand"),
    ("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm/providers/"
     "Microsoft.Authorization/roleAssignments/x", "Microsoft.Authorization/roleAssignments", None),
])
def test_path_parsing(path, type_, tail):
    ref = parse(path)
    assert ref.type == type_ and ref.tail == tail


def test_catalogue_knows_the_documented_versions():
    assert "2017-12-01" in catalog.known_api_versions("Microsoft.Compute/virtualMachines")
    assert "2016-09-01" in catalog.known_api_versions("Microsoft.Resources/resourceGroups")
    assert "2023-09-01" in catalog.known_api_versions("Microsoft.Network/virtualNetworks")  # modelled (network.py)
    assert catalog.known_api_versions("Microsoft.Cache/redis") is None  # stored generically
    assert "runcommand" in catalog.known_actions("Microsoft.Compute/virtualMachines")


def test_arm_times_keep_their_fraction_on_a_whole_second(monkeypatch):
    """isoformat() drops '.ffffff' when the microsecond is 0; '...:46Z' then sorts after '...:46.5Z'."""
    from milab.cloud.arm import base
    monkeypatch.setattr(base, "dt", fixed_clock(dt.datetime(2026, 12, 2, 5, 30, 46, tzinfo=dt.timezone.utc)))
    assert base.now_iso() == "2026-12-02T05:30:46.000000Z"
    assert base.now_iso() < "2026-12-02T05:30:46.500000Z"
