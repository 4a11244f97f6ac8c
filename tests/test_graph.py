"""Microsoft Graph v1.0 and Azure AD Graph 1.6 over raw HTTP: the operations the tutorials and
the Azure CLI use, their shapes, authorization by application permissions, the operator as a
directory admin, and each API's error body for every refusal."""
from __future__ import annotations

import uuid

import pytest

from support import operator_token as get_operator_token

MSG = "https://graph.microsoft.com/v1.0"
DIRECTORY_READ_ALL_AAD = "5778995a-e1bf-45b8-affa-663a9f3f4d04"
DIRECTORY_READ_ALL = "7ab1d382-f21e-4acd-a863-ba3e13f7da61"
APP_ROLE_ASSIGNMENT_RW = "06b708a9-e830-4db3-a914-8e69da51d44f"


@pytest.fixture(scope="module")
def graph_token(http, emu_env):
    return get_operator_token(http, emu_env, "https://graph.microsoft.com/.default")


@pytest.fixture(scope="module")
def aad_token(http, emu_env):
    return get_operator_token(http, emu_env, "https://graph.windows.net/.default")


@pytest.fixture(scope="module")
def aad(emu_env):
    return f"https://graph.windows.net/{emu_env['AZURE_TENANT_ID']}"


def call(http, method, url, token, body=None, **kw):
    h = {"Authorization": f"Bearer {token}"} if token else {}
    return http.request(method, url, json=body, headers=h, timeout=30, **kw)


@pytest.fixture
def vm(arm):
    """A VM with a system-assigned identity: (its principal id, its name)."""
    rg = arm.group()
    name = f"vm{uuid.uuid4().hex[:6]}"
    r = arm.call("PUT", f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/"
                        f"{name}", "2018-06-01", {"location": "westus", "identity": {"type": "SystemAssigned"},
                                                  "properties": {"hardwareProfile": {"vmSize": "Standard_B1s"}}})
    assert r.status_code == 201, r.text
    yield r.json()["identity"]["principalId"], name
    arm.call("DELETE", f"/subscriptions/{arm.sub}/resourceGroups/{rg}", "2021-04-01")


def mint(control, oid: str, audience: str, roles: list[str] | None = None) -> str:
    """A correctly signed token for the principal, as Entra would issue it with these app roles."""
    claims = {"roles": roles} if roles is not None else {}
    return control.call("POST", "/_milab/tokens", json={"object_id": oid, "audience": audience,
                                                        "claims": claims})["access_token"]


def sp_by_app_id(http, token, app_id):
    r = call(http, "GET", f"{MSG}/servicePrincipals?$filter=appId eq '{app_id}'", token)
    assert r.status_code == 200, r.text
    [sp] = r.json()["value"]
    return sp


def test_service_principals_are_listed_filtered_and_shown(http, graph_token, vm):
    pid, name = vm
    r = call(http, "GET", f"{MSG}/servicePrincipals?$filter=startswith(displayName,'{name}')", graph_token)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["@odata.context"] == f"{MSG}/$metadata#servicePrincipals"
    [sp] = doc["value"]
    assert (sp["id"], sp["displayName"], sp["servicePrincipalType"]) == (pid, name, "ManagedIdentity")
    assert sp["alternativeNames"][0] == "isExplicit=False" and sp["alternativeNames"][1].endswith(f"/{name}")
    assert r.headers["Content-Type"].startswith("application/json;odata.metadata=minimal")
    graph = sp_by_app_id(http, graph_token, "00000003-0000-0000-c000-000000000000")
    assert graph["displayName"] == "Microsoft Graph"
    assert any(a["value"] == "Directory.Read.All" and a["id"] == DIRECTORY_READ_ALL for a in graph["appRoles"])
    got = call(http, "GET", f"{MSG}/servicePrincipals/{pid}", graph_token).json()
    assert got["@odata.context"].endswith("#servicePrincipals/$entity") and got["id"] == pid
    by_app = call(http, "GET", f"{MSG}/servicePrincipals(appId='{got['appId']}')", graph_token)
    assert by_app.json()["id"] == pid
    spn = call(http, "GET", f"{MSG}/servicePrincipals?$filter=servicePrincipalNames/any(c:c eq "
                            f"'https://graph.windows.net')", graph_token).json()["value"]
    assert [s["appId"] for s in spn] == ["00000002-0000-0000-c000-000000000000"]
    page = call(http, "GET", f"{MSG}/servicePrincipals?$top=2", graph_token).json()
    assert len(page["value"]) == 2 and "$skiptoken" in page["@odata.nextLink"]
    rest = call(http, "GET", page["@odata.nextLink"], graph_token).json()
    assert rest["value"] and rest["value"][0]["id"] not in {s["id"] for s in page["value"]}


def test_the_graph_page_flow_app_role_group_membership_and_get_member_groups(http, graph_token, control, vm):
    pid, name = vm
    graph = sp_by_app_id(http, graph_token, "00000003-0000-0000-c000-000000000000")
    g = call(http, "POST", f"{MSG}/groups", graph_token, {"displayName": "myGroup", "mailEnabled": False,
                                                         "mailNickname": "NotSet", "securityEnabled": True})
    assert g.status_code == 201, g.text
    gid = g.json()["id"]
    ref = call(http, "POST", f"{MSG}/groups/{gid}/members/$ref", graph_token,
               {"@odata.id": f"{MSG}/directoryObjects/{pid}"})
    assert ref.status_code == 204, ref.text
    again = call(http, "POST", f"{MSG}/groups/{gid}/members/$ref", graph_token,
                 {"@odata.id": f"{MSG}/directoryObjects/{pid}"})
    assert again.status_code == 400 and "already exist" in again.json()["error"]["message"]
    members = call(http, "GET", f"{MSG}/groups/{gid}/members", graph_token).json()["value"]
    assert [(m["@odata.type"], m["id"]) for m in members] == [("#microsoft.graph.servicePrincipal", pid)]

    before = mint(control, pid, "https://graph.microsoft.com")  # a token issued before the grant
    denied = call(http, "POST", f"{MSG}/servicePrincipals/{pid}/getMemberGroups", before,
                  {"securityEnabledOnly": False})
    assert denied.status_code == 403
    err = denied.json()["error"]
    assert (err["code"], err["message"]) == ("Authorization_RequestDenied",
                                             "Insufficient privileges to complete the operation.")
    assert set(err["innerError"]) == {"date", "request-id", "client-request-id"}

    a = call(http, "POST", f"{MSG}/servicePrincipals/{pid}/appRoleAssignments", graph_token,
             {"principalId": pid, "resourceId": graph["id"], "appRoleId": DIRECTORY_READ_ALL})
    assert a.status_code == 201, a.text
    doc = a.json()
    assert doc["@odata.context"] == f"{MSG}/$metadata#servicePrincipals('{pid}')/appRoleAssignments/$entity"
    assert (doc["principalDisplayName"], doc["resourceDisplayName"], doc["principalType"]) == (
        name, "Microsoft Graph", "ServicePrincipal") and len(doc["id"]) == 43
    dup = call(http, "POST", f"{MSG}/servicePrincipals/{pid}/appRoleAssignments", graph_token,
               {"principalId": pid, "resourceId": graph["id"], "appRoleId": DIRECTORY_READ_ALL})
    assert dup.status_code == 400 and dup.json()["error"]["message"] == \
        "Permission being assigned already exists on the object"
    listed = call(http, "GET", f"{MSG}/servicePrincipals/{graph['id']}/appRoleAssignedTo", graph_token).json()
    assert doc["id"] in {x["id"] for x in listed["value"]}

    after = mint(control, pid, "https://graph.microsoft.com", ["Directory.Read.All"])
    ok = call(http, "POST", f"{MSG}/servicePrincipals/{pid}/getMemberGroups", after, {"securityEnabledOnly": False})
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"@odata.context": f"{MSG}/$metadata#Collection(Edm.String)", "value": [gid]}
    check = call(http, "POST", f"{MSG}/servicePrincipals/{pid}/checkMemberGroups", after,
                 {"groupIds": [gid, str(uuid.uuid4())]}).json()["value"]
    assert check == [gid]
    objects = call(http, "POST", f"{MSG}/directoryObjects/{pid}/getMemberObjects", after,
                   {"securityEnabledOnly": True}).json()["value"]
    assert objects == [gid]

    assert call(http, "DELETE", f"{MSG}/servicePrincipals/{pid}/appRoleAssignments/{doc['id']}",
                graph_token).status_code == 204
    assert call(http, "DELETE", f"{MSG}/groups/{gid}/members/{pid}/$ref", graph_token).status_code == 204
    assert call(http, "POST", f"{MSG}/servicePrincipals/{pid}/getMemberGroups", after,
                {"securityEnabledOnly": False}).json()["value"] == []
    assert call(http, "DELETE", f"{MSG}/groups/{gid}", graph_token).status_code == 204
    assert call(http, "GET", f"{MSG}/groups/{gid}", graph_token).status_code == 404


def test_application_permissions_each_operation_needs(http, control, vm):
    pid, _ = vm

    def token(*roles):
        return mint(control, pid, "https://graph.microsoft.com", list(roles))

    sps = f"{MSG}/servicePrincipals"
    assert call(http, "GET", sps, token()).status_code == 403
    assert call(http, "GET", sps, token("User.Read.All")).status_code == 403
    for role in ("Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All",
                 "Directory.ReadWrite.All"):
        assert call(http, "GET", sps, token(role)).status_code == 200, role
    groups = f"{MSG}/servicePrincipals/{pid}/getMemberGroups"
    body = {"securityEnabledOnly": True}
    assert call(http, "POST", groups, token("Application.Read.All"), body).status_code == 403
    assert call(http, "POST", groups, token("GroupMember.Read.All"), body).status_code == 403
    assert call(http, "POST", groups, token("Application.Read.All", "GroupMember.Read.All"), body).status_code == 200
    create = {"displayName": "x", "mailNickname": "x", "securityEnabled": True, "mailEnabled": False}
    assert call(http, "POST", f"{MSG}/groups", token("Directory.Read.All"), create).status_code == 403
    made = call(http, "POST", f"{MSG}/groups", token("Group.Create"), create)
    assert made.status_code == 201
    assert call(http, "DELETE", f"{MSG}/groups/{made.json()['id']}", token("GroupMember.ReadWrite.All")).status_code \
        == 403
    assert call(http, "DELETE", f"{MSG}/groups/{made.json()['id']}", token("Group.ReadWrite.All")).status_code == 204
    graph = call(http, "GET", f"{sps}?$filter=appId eq '00000003-0000-0000-c000-000000000000'",
                 token("Application.Read.All")).json()["value"][0]
    grant = {"principalId": pid, "resourceId": graph["id"], "appRoleId": DIRECTORY_READ_ALL}
    assert call(http, "POST", f"{sps}/{pid}/appRoleAssignments", token("Application.ReadWrite.All"),
                grant).status_code == 403
    assert call(http, "POST", f"{sps}/{pid}/appRoleAssignments", token("AppRoleAssignment.ReadWrite.All"),
                grant).status_code == 201


def test_tokens_graph_refuses(http, control, emu_env, vm):
    pid, _ = vm
    url = f"{MSG}/servicePrincipals"
    cases = {
        "no token": (None, "Access token is empty."),
        "an ARM token": (mint(control, pid, "https://management.azure.com/", ["Directory.Read.All"]),
                         "Access token validation failure. Invalid audience."),
        "an AAD Graph token": (mint(control, pid, "https://graph.windows.net", ["Directory.Read.All"]),
                               "Access token validation failure. Invalid audience."),
        "garbage": ("not-a-jwt", "Access token validation failure."),
    }
    for what, (token, message) in cases.items():
        r = call(http, "GET", url, token)
        assert r.status_code == 401, what
        assert (r.json()["error"]["code"], r.json()["error"]["message"]) == ("InvalidAuthenticationToken", message), what
    expired = control.call("POST", "/_milab/tokens", json={"object_id": pid, "audience": "https://graph.microsoft.com",
                                                           "issued_offset": -7200, "lifetime": 3600})["access_token"]
    r = call(http, "GET", url, expired)
    assert r.status_code == 401 and "expired" in r.json()["error"]["message"]
    for aud in ("https://graph.microsoft.com/", "00000003-0000-0000-c000-000000000000"):
        assert call(http, "GET", url, mint(control, pid, aud, ["Directory.Read.All"])).status_code == 200, aud


def test_graph_refuses_bad_requests_in_its_own_shape(http, graph_token, vm):
    pid, _ = vm
    cases = [
        ("GET", f"{MSG}/servicePrincipals?$filter=foo eq 'x'", None, 400, "Request_UnsupportedQuery"),
        ("GET", f"{MSG}/servicePrincipals?$filter=displayName eq", None, 400, "BadRequest"),
        ("GET", f"{MSG}/servicePrincipals?$top=0", None, 400, "Request_BadRequest"),
        ("GET", f"{MSG}/servicePrincipals/not-a-guid", None, 400, "Request_BadRequest"),
        ("GET", f"{MSG}/servicePrincipals/{uuid.uuid4()}", None, 404, "Request_ResourceNotFound"),
        ("GET", f"{MSG}/nothingHere", None, 400, "BadRequest"),
        ("GET", "https://graph.microsoft.com/v9/servicePrincipals", None, 400, "BadRequest"),
        ("PATCH", f"{MSG}/servicePrincipals", {}, 405, "Request_BadRequest"),
        ("POST", f"{MSG}/servicePrincipals/{pid}/getMemberGroups", [1, 2], 400, "Request_BadRequest"),
        ("POST", f"{MSG}/servicePrincipals/{pid}/getMemberGroups", {"securityEnabledOnly": 3}, 400,
         "Request_BadRequest"),
        ("POST", f"{MSG}/groups", {"displayName": "no nickname"}, 400, "Request_BadRequest"),
        ("POST", f"{MSG}/servicePrincipals/{pid}/appRoleAssignments", {"principalId": pid}, 400, "Request_BadRequest"),
        ("POST", f"{MSG}/directoryObjects/getByIds", {"ids": "x"}, 400, "Request_BadRequest"),
    ]
    for method, url, body, status, code in cases:
        r = call(http, method, url, graph_token, body)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), (method, url, r.text)
    raw = http.post(f"{MSG}/groups", data=b"{not json", headers={"Authorization": f"Bearer {graph_token}",
                                                                 "Content-Type": "application/json"}, timeout=30)
    assert raw.status_code == 400 and raw.json()["error"]["code"] == "Request_BadRequest"


def test_get_by_ids_names_the_object_type_for_az_role_assignment(http, graph_token, vm, emu_env):
    pid, _ = vm
    r = call(http, "POST", f"{MSG}/directoryObjects/getByIds", graph_token,
             {"ids": [pid, emu_env["MILAB_OPERATOR_OBJECT_ID"], str(uuid.uuid4())],
              "types": ["user", "group", "servicePrincipal", "directoryObjectPartnerReference"]})
    assert r.status_code == 200, r.text
    assert [(o["@odata.type"], o["id"]) for o in r.json()["value"]] == [
        ("#microsoft.graph.servicePrincipal", pid),
        ("#microsoft.graph.servicePrincipal", emu_env["MILAB_OPERATOR_OBJECT_ID"])]


# -- Azure AD Graph ------------------------------------------------------------------------------------
def test_aad_graph_the_linux_page_calls(http, aad_token, aad, control, vm):
    pid, name = vm
    r = call(http, "GET", f"https://graph.windows.net/myorganization/servicePrincipals?$filter="
                          f"startswith%28displayName%2C%27{name}%27%29&api-version=1.6", aad_token)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["odata.metadata"] == "https://graph.windows.net/myorganization/$metadata#directoryObjects"
    [sp] = doc["value"]
    assert (sp["odata.type"], sp["objectType"], sp["objectId"]) == (
        "Microsoft.DirectoryServices.ServicePrincipal", "ServicePrincipal", pid)
    assert r.headers["Content-Type"].startswith("application/json; odata=minimalmetadata")
    # the page's mangled "&24filter=" is no $filter at all: every service principal comes back
    mangled = call(http, "GET", "https://graph.windows.net/myorganization/servicePrincipals?api-version=1.6&24filter="
                                "appId%20eq%20'00000002-0000-0000-c000-000000000000'", aad_token).json()["value"]
    assert len(mangled) > 1
    [aadsp] = call(http, "GET", f"{aad}/servicePrincipals?api-version=1.6&$filter=appId eq "
                                f"'00000002-0000-0000-c000-000000000000'", aad_token).json()["value"]
    assert aadsp["appDisplayName"] == "Windows Azure Active Directory"
    role = next(a for a in aadsp["appRoles"] if a["value"] == "Directory.Read.All")
    assert role == {"allowedMemberTypes": ["Application"], "description": "Allows the app to read data in your "
                    "company or school directory, such as users, groups, and apps.", "displayName":
                    "Read directory data", "id": DIRECTORY_READ_ALL_AAD, "isEnabled": True,
                    "value": "Directory.Read.All"}

    g = call(http, "POST", f"{aad}/groups?api-version=1.6", aad_token,
             {"displayName": "myGroup", "mailEnabled": False, "mailNickname": "NotSet", "securityEnabled": True})
    assert g.status_code == 201 and g.json()["objectType"] == "Group", g.text
    gid = g.json()["objectId"]
    link = call(http, "POST", f"{aad}/groups/{gid}/$links/members?api-version=1.6", aad_token,
                {"url": f"{aad}/directoryObjects/{pid}"})
    assert link.status_code == 204, link.text

    before = mint(control, pid, "https://graph.windows.net")
    url = f"https://graph.windows.net/myorganization/servicePrincipals/{pid}/getMemberGroups?api-version=1.6"
    denied = call(http, "POST", url, before, {"securityEnabledOnly": False})
    assert denied.status_code == 403
    e = denied.json()["odata.error"]
    assert (e["code"], e["message"]) == ("Authorization_RequestDenied", {
        "lang": "en", "value": "Insufficient privileges to complete the operation."}) and e["requestId"] and e["date"]

    a = call(http, "POST", f"https://graph.windows.net/myorganization/servicePrincipals/{pid}/appRoleAssignments"
                           f"?api-version=1.6", aad_token,
             {"id": DIRECTORY_READ_ALL_AAD, "principalId": pid, "resourceId": aadsp["objectId"]})
    assert a.status_code == 201, a.text
    assert (a.json()["objectType"], a.json()["resourceDisplayName"], a.json()["principalDisplayName"]) == (
        "AppRoleAssignment", "Windows Azure Active Directory", name)
    dup = call(http, "POST", f"{aad}/servicePrincipals/{pid}/appRoleAssignments?api-version=1.6", aad_token,
               {"id": DIRECTORY_READ_ALL_AAD, "principalId": pid, "resourceId": aadsp["objectId"]})
    assert dup.status_code == 400 and dup.json()["odata.error"]["message"]["value"] == \
        "Permission being assigned already exists on the object"

    after = mint(control, pid, "https://graph.windows.net", ["Directory.Read.All"])
    ok = call(http, "POST", url, after, {"securityEnabledOnly": False})
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"odata.metadata": "https://graph.windows.net/myorganization/$metadata#Collection(Edm.String)",
                         "value": [gid]}
    # the Windows page sends the boolean as a string, with the tenant id in the path
    win = call(http, "POST", f"{aad}/servicePrincipals/{pid}/getMemberGroups?api-version=1.6", after,
               {"securityEnabledOnly": "false"})
    assert win.status_code == 200 and win.json()["value"] == [gid]
    assert win.json()["odata.metadata"].startswith(f"{aad}/$metadata#")
    listed = call(http, "GET", f"{aad}/servicePrincipals/{aadsp['objectId']}/appRoleAssignedTo?api-version=1.6",
                  aad_token).json()["value"]
    assert a.json()["objectId"] in {x["objectId"] for x in listed}
    assert call(http, "DELETE", f"{aad}/servicePrincipals/{pid}/appRoleAssignments/{a.json()['objectId']}"
                                f"?api-version=1.6", aad_token).status_code == 204
    assert call(http, "DELETE", f"{aad}/groups/{gid}/$links/members/{pid}?api-version=1.6", aad_token).status_code \
        == 204
    assert call(http, "DELETE", f"{aad}/groups/{gid}?api-version=1.6", aad_token).status_code == 204


def test_aad_graph_refuses_in_its_own_shape(http, aad_token, aad, control, vm):
    pid, _ = vm
    sps = f"{aad}/servicePrincipals?api-version=1.6"
    for what, token, code in [
        ("no token", None, "Authentication_MissingOrMalformed"),
        ("a Microsoft Graph token", mint(control, pid, "https://graph.microsoft.com", ["Directory.Read.All"]),
         "Authentication_MissingOrMalformed"),
        ("expired", control.call("POST", "/_milab/tokens", json={
            "object_id": pid, "audience": "https://graph.windows.net", "issued_offset": -7200,
            "lifetime": 3600})["access_token"], "Authentication_ExpiredToken"),
    ]:
        r = call(http, "GET", sps, token)
        assert (r.status_code, r.json()["odata.error"]["code"]) == (401, code), what
    # a valid token without app roles
    r = call(http, "GET", sps, mint(control, pid, "https://graph.windows.net", []))
    assert r.status_code == 403
    for url, status, code in [
        (f"{aad}/servicePrincipals", 400, "Request_BadRequest"),  # no api-version
        (f"{aad}/servicePrincipals?api-version=9.9", 400, "Request_BadRequest"),
        (f"https://graph.windows.net/{uuid.uuid4()}/servicePrincipals?api-version=1.6", 400, "Request_BadRequest"),
        (f"{aad}/servicePrincipals/{uuid.uuid4()}?api-version=1.6", 404, "Request_ResourceNotFound"),
        (f"{aad}/servicePrincipals?api-version=1.6&$filter=bogus eq 1", 400, "Request_UnsupportedQuery"),
    ]:
        r = call(http, "GET", url, aad_token)
        assert (r.status_code, r.json()["odata.error"]["code"]) == (status, code), (url, r.text)
    assert call(http, "GET", f"{aad}/servicePrincipals?api-version=1.6",
                mint(control, pid, "00000002-0000-0000-c000-000000000000", ["Directory.Read.All"])).status_code == 200
