"""The directory model (milab/cloud/directory): first-party apps, groups with nesting, app role
assignments, name lookup, persistence, and group membership counting in Azure RBAC."""
from __future__ import annotations

import json
import uuid

import pytest

from milab.cloud.authorization import by_name, role_definition_id
from milab.cloud.directory import GLOBAL_ADMINISTRATOR, Directory, DirectoryError, apps
from milab.cloud.server import Config, Emulator
from milab.cloud.state import State

GRAPH = apps.GRAPH_APP_ID
AAD_GRAPH = apps.AAD_GRAPH_APP_ID


@pytest.fixture
def directory() -> Directory:
    return Directory(State.new())


def _mi(d: Directory, name: str) -> str:
    return d.state.new_managed_identity("system-assigned", name, f"/subscriptions/s/resourceGroups/rg/providers/"
                                                                  f"Microsoft.Compute/virtualMachines/{name}").object_id


def test_a_new_tenant_has_the_first_party_apps_an_admin_and_global_administrators(directory):
    d = directory
    for app_id, name in [(GRAPH, "Microsoft Graph"), (AAD_GRAPH, "Windows Azure Active Directory"),
                         ("e406a681-f3d4-42a8-90b6-c2b029497af1", "Azure Storage"),
                         ("cfa8b339-82a2-471a-a3c9-0fc0be7a4093", "Azure Key Vault"),
                         ("022907d3-0f1b-48f7-badc-1ba6abab6d66", "Azure SQL Database"),
                         ("a232010e-820c-4083-83bb-3ace5fc29d0b", "Azure Cosmos DB"),
                         ("797f4846-ba00-4fd7-ba43-dac1f8f63013", "Windows Azure Service Management API"),
                         ("e9f49c6b-5ce5-44c8-925d-015017e9f7ad", "Azure Data Lake")]:
        sp = d.by_app_id(app_id)
        assert sp is not None and sp.display_name == name and sp.kind == "first-party" and sp.secret is None
    # the page's Directory.Read.All of Azure AD Graph, and Microsoft Graph's
    assert apps.AZURE_AD_GRAPH.role_by_value("Directory.Read.All").id == "5778995a-e1bf-45b8-affa-663a9f3f4d04"
    assert apps.MICROSOFT_GRAPH.role_by_value("Directory.Read.All").id == "7ab1d382-f21e-4acd-a863-ba3e13f7da61"
    [admin] = d.state.users.values()
    assert admin["userPrincipalName"].endswith(".onmicrosoft.com")
    assert d.is_directory_admin(d.state.operator.object_id) and d.is_directory_admin(admin["id"])
    assert not d.is_directory_admin(_mi(d, "vm1"))
    assert Directory(d.state).seed() is False  # seeding twice adds nothing


def test_groups_nest_transitively_and_survive_cycles(directory):
    d = directory
    vm = _mi(d, "vm1")
    inner = d.create_group("inner", "inner")
    outer = d.create_group("outer", "outer")
    mail = d.create_group("mail only", "mail", security_enabled=False, mail_enabled=True)
    d.add_member(inner["id"], vm)
    d.add_member(outer["id"], inner["id"])
    d.add_member(mail["id"], vm)
    d.add_member(inner["id"], outer["id"])  # a cycle
    assert d.groups_of(vm) == {inner["id"], outer["id"], mail["id"]}
    assert d.groups_of(vm, security_only=True) == {inner["id"], outer["id"]}
    assert d.principal_ids(vm) == {vm, inner["id"], outer["id"], mail["id"]}
    assert d.state.groups_of(vm) == d.groups_of(vm)  # what Key Vault's access policies ask
    assert d.member_groups(vm) == [inner["id"], outer["id"], mail["id"]]  # in creation order
    assert d.token_groups(vm) == [inner["id"], outer["id"]]
    with pytest.raises(DirectoryError) as e:
        d.add_member(inner["id"], vm)
    assert e.value.kind == "exists"
    with pytest.raises(DirectoryError) as e:
        d.add_member(inner["id"], str(uuid.uuid4()))
    assert e.value.kind == "not_found"
    with pytest.raises(DirectoryError) as e:
        d.add_member(inner["id"], inner["id"])
    assert e.value.kind == "invalid"
    d.remove_member(inner["id"], vm)
    assert d.groups_of(vm) == {mail["id"]}
    with pytest.raises(DirectoryError):
        d.remove_member(inner["id"], vm)


def test_caller_ids_trust_the_tokens_groups_claim_when_there_is_one(directory):
    d = directory
    vm = _mi(d, "vm1")
    g = d.create_group("g", "g")
    d.add_member(g["id"], vm)
    assert d.caller_ids({"oid": vm}) == {vm, g["id"]}  # no claim: the directory, now
    assert d.caller_ids({"oid": vm, "groups": []}) == {vm}  # a token issued before the membership
    assert d.caller_ids({}) == set()


def test_app_roles_reach_token_roles_only_for_the_resource_app(directory):
    d = directory
    vm = _mi(d, "vm1")
    aad = d.by_app_id(AAD_GRAPH)
    graph = d.by_app_id(GRAPH)
    a = d.assign_app_role(vm, aad.object_id, "5778995a-e1bf-45b8-affa-663a9f3f4d04")
    assert len(a["id"]) == 43 and a["principalType"] == "ServicePrincipal"
    assert d.app_roles(vm, AAD_GRAPH) == ["Directory.Read.All"]
    assert d.token_roles(vm, "https://graph.windows.net") == ["Directory.Read.All"]
    assert d.token_roles(vm, "https://graph.windows.net/") == ["Directory.Read.All"]
    assert d.token_roles(vm, "https://graph.microsoft.com") == []  # a role on another resource app
    assert d.token_claims(vm, "https://graph.windows.net", managed_identity=True) == {"roles": ["Directory.Read.All"]}
    with pytest.raises(DirectoryError) as e:
        d.assign_app_role(vm, aad.object_id, "5778995a-e1bf-45b8-affa-663a9f3f4d04")
    assert e.value.kind == "exists" and "already exists" in e.value.message
    with pytest.raises(DirectoryError) as e:  # Microsoft Graph's id is not an app role of AAD Graph
        d.assign_app_role(vm, aad.object_id, "7ab1d382-f21e-4acd-a863-ba3e13f7da61")
    assert e.value.kind == "invalid"
    with pytest.raises(DirectoryError) as e:
        d.assign_app_role(vm, d.by_app_id("e406a681-f3d4-42a8-90b6-c2b029497af1").object_id, str(uuid.uuid4()))
    assert e.value.kind == "invalid"
    d.assign_app_role(vm, graph.object_id, "7ab1d382-f21e-4acd-a863-ba3e13f7da61")
    assert d.token_roles(vm, GRAPH) == ["Directory.Read.All"]  # a v2 audience is the app id
    d.remove_app_role_assignment(a["id"])
    assert d.token_roles(vm, "https://graph.windows.net") == []


def test_app_roles_of_a_group_reach_its_users_not_its_service_principals(directory):
    d = directory
    vm = _mi(d, "vm1")
    [admin] = d.state.users
    g = d.create_group("g", "g")
    d.add_member(g["id"], vm)
    d.add_member(g["id"], admin)
    d.assign_app_role(g["id"], d.by_app_id(GRAPH).object_id, "7ab1d382-f21e-4acd-a863-ba3e13f7da61")
    assert d.app_roles(admin, GRAPH) == ["Directory.Read.All"]
    assert d.app_roles(vm, GRAPH) == []


def test_name_lookup_is_unique_ambiguous_or_empty(directory):
    d = directory
    one = _mi(d, "myVM")
    assert [o.id for o in d.lookup_name("myvm")] == [one]
    sp = d.state.principals[one]
    assert [o.id for o in d.lookup_name(sp.app_id)] == [one]  # a service principal by its app id
    _mi(d, "myVM")
    assert len(d.lookup_name("myVM")) == 2  # ambiguous: SQL refuses it
    g = d.create_group("readers", "readers")
    assert [(o.id, o.type) for o in d.lookup_name("Readers")] == [(g["id"], "group")]
    [admin] = d.state.users.values()
    assert [o.type for o in d.lookup_name(admin["userPrincipalName"].upper())] == ["user"]
    assert d.lookup_name("nobody") == []
    assert [o.type for o in d.find_by_display_name("Microsoft Graph")] == ["servicePrincipal"]
    assert d.object(one.upper()).id == one and d.object("not-a-guid") is None


def test_a_deleted_principal_leaves_its_groups_and_app_roles(directory):
    d = directory
    vm = _mi(d, "vm1")
    g = d.create_group("g", "g")
    d.add_member(g["id"], vm)
    d.assign_app_role(vm, d.by_app_id(GRAPH).object_id, "7ab1d382-f21e-4acd-a863-ba3e13f7da61")
    d.state.remove_principal(vm)
    assert d.state.groups[g["id"]]["members"] == [] and d.assignments(principal_id=vm) == []
    d.delete_group(g["id"])
    with pytest.raises(DirectoryError):
        d.delete_group(g["id"])


def test_the_directory_persists_and_an_older_state_file_gains_it(tmp_path):
    s = State.load_or_new(tmp_path)
    d = Directory(s)
    g = d.create_group("g", "g")
    d.add_member(g["id"], s.operator.object_id)
    again = State.load_or_new(tmp_path)
    assert again.groups == s.groups and again.users == s.users and again.directory_roles == s.directory_roles
    assert Directory(again).groups_of(s.operator.object_id) == {g["id"]}
    # a state file written before the directory existed: no directory fields, no first-party apps
    raw = json.loads((tmp_path / "state.json").read_text())
    for k in ("users", "groups", "app_role_assignments", "directory_roles"):
        raw.pop(k)
    raw["principals"] = {k: v for k, v in raw["principals"].items() if v["kind"] != "first-party"}
    (tmp_path / "state.json").write_text(json.dumps(raw))
    old = State.load_or_new(tmp_path)
    assert old.groups == {} and old.principal_by_app_id(GRAPH) is None
    Directory(old)
    assert old.principal_by_app_id(GRAPH) is not None and len(old.users) == 1
    assert GLOBAL_ADMINISTRATOR in json.loads((tmp_path / "state.json").read_text())["directory_roles"]


def test_a_role_assigned_to_a_group_applies_to_its_members_in_azure_rbac(tmp_path):
    emu = Emulator(Config(state_dir=tmp_path))
    try:
        d = emu.directory
        vm, other = _mi(d, "vm1"), _mi(d, "vm2")
        outer = d.create_group("outer", "outer")
        inner = d.create_group("inner", "inner")
        d.add_member(outer["id"], inner["id"])
        d.add_member(inner["id"], vm)
        sub = emu.state.subscription_id
        scope = f"/subscriptions/{sub}/resourceGroups/rg"
        rid = f"{scope}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
        emu.state.role_assignments[rid.lower()] = {"id": rid, "properties": {
            "roleDefinitionId": role_definition_id(by_name("Reader"), sub), "principalId": outer["id"],
            "principalType": "Group", "scope": scope}}
        read = "Microsoft.Resources/subscriptions/resourceGroups/read"
        assert emu.allowed(vm, read, scope)  # through two levels of groups
        assert not emu.allowed(other, read, scope)
        d.remove_member(inner["id"], vm)
        assert not emu.allowed(vm, read, scope)  # RBAC asks the directory at each request
    finally:
        emu.state.path = None


def test_key_vault_access_policies_see_the_directorys_groups(tmp_path):
    emu = Emulator(Config(state_dir=tmp_path))
    try:
        d = emu.directory
        vm = _mi(d, "vm1")
        g = d.create_group("secret readers", "readers")
        d.add_member(g["id"], vm)
        # a token without a groups claim (a service principal's): the directory says which groups
        assert emu.keyvault.principals_of({"oid": vm}) == {vm, g["id"]}
        d.remove_member(g["id"], vm)
        assert emu.keyvault.principals_of({"oid": vm}) == {vm}
    finally:
        emu.state.path = None
