"""Azure RBAC emulation: built-in roles, wildcard matching, planes, scopes, evaluator."""

from __future__ import annotations

import re

import pytest

from milab.cloud.authorization import (
    BUILTIN_ROLES,
    Assignment,
    Evaluator,
    action_matches,
    by_id,
    by_name,
    permits,
    required_action,
    scope_contains,
    to_arm,
)

SUB = "/subscriptions/00000000-0000-0000-0000-0000000000aa"
RG = f"{SUB}/resourceGroups/rg"
RG2 = f"{SUB}/resourceGroups/rg2"
VM = f"{RG}/providers/Microsoft.Compute/virtualMachines/vm1"
SA = f"{RG}/providers/Microsoft.Storage/storageAccounts/acct1"
CONTAINER = f"{SA}/blobServices/default/containers/c1"

BLOB_READ = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"
BLOB_WRITE = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write"
BLOB_DELETE = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete"
RA_WRITE = "Microsoft.Authorization/roleAssignments/write"
VM_WRITE = "Microsoft.Compute/virtualMachines/write"
VM_READ = "Microsoft.Compute/virtualMachines/read"
RG_READ = "Microsoft.Resources/subscriptions/resourceGroups/read"
LIST_KEYS = "Microsoft.Storage/storageAccounts/listkeys/action"

GUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

KNOWN_GUIDS = {
    "Owner": "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    "Contributor": "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "Reader": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
    "User Access Administrator": "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
    "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "Storage Account Key Operator Service Role": "81a9662b-bebf-436f-a333-f67b29880f12",
    "Managed Identity Operator": "f1a07417-d97a-45cb-824c-7a7467783830",
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
}


def role(name: str) -> dict:
    found = by_name(name)
    assert found is not None, f"missing built-in role {name!r}"
    return found


# --------------------------------------------------------------------------- wildcards


@pytest.mark.parametrize(
    "pattern, action, expected",
    [
        ("*", "Microsoft.Compute/virtualMachines/write", True),
        ("*/read", RG_READ, True),
        ("*/read", "Microsoft.Compute/virtualMachines/write", False),
        ("*/read", "Microsoft.Compute/virtualMachines/readx", False),
        ("Microsoft.Authorization/*/Write", RA_WRITE, True),
        ("Microsoft.Authorization/*/Write", "Microsoft.Authorization/roleAssignments/read", False),
        ("Microsoft.Authorization/*/Write", "Microsoft.Compute/roleAssignments/write", False),
        ("Microsoft.Storage/storageAccounts/*", LIST_KEYS, True),
        ("Microsoft.Storage/storageAccounts/*", "Microsoft.Storage/storageAccountsX/read", False),
        ("Microsoft.Storage/storageAccounts/*", "Microsoft.Storage/storageAccounts", False),
        ("microsoft.compute/VIRTUALMACHINES/Read", VM_READ, True),
        ("Microsoft.Compute/virtualMachines/read", "Microsoft.Compute/virtualMachines/write", False),
        ("Microsoft.Compute/virtualMachines/read", "Microsoft.Compute/virtualMachinesXread", False),
        # a whole-segment wildcard can stand for no segment (Managed Identity Operator)
        (
            "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
            "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action",
            True,
        ),
        ("", VM_READ, False),
    ],
)
def test_action_matches(pattern, action, expected):
    assert action_matches(pattern, action) is expected


def test_dot_is_literal_not_regex():
    assert not action_matches("Microsoft.Compute/*", "MicrosoftXCompute/virtualMachines/read")


# --------------------------------------------------------------------------- notActions


def test_contributor_cannot_write_role_assignments_but_can_write_vms():
    contributor = role("Contributor")
    assert not permits(contributor, RA_WRITE)
    assert not permits(contributor, "Microsoft.Authorization/roleAssignments/delete")
    assert permits(contributor, "Microsoft.Authorization/roleAssignments/read")
    assert permits(contributor, VM_WRITE)
    assert permits(contributor, LIST_KEYS)


def test_owner_and_uaa_can_write_role_assignments():
    assert permits(role("Owner"), RA_WRITE)
    uaa = role("User Access Administrator")
    assert permits(uaa, RA_WRITE)
    assert not permits(uaa, VM_WRITE)
    rbac_admin = role("Role Based Access Control Administrator")
    assert permits(rbac_admin, RA_WRITE)
    assert not permits(rbac_admin, "Microsoft.Authorization/policyAssignments/write")


def test_reader_reads_everything_writes_nothing():
    reader = role("Reader")
    for action in (VM_READ, RG_READ, "Microsoft.KeyVault/vaults/read", "Microsoft.Authorization/roleAssignments/read"):
        assert permits(reader, action), action
    for action in (VM_WRITE, "Microsoft.Compute/virtualMachines/delete", RA_WRITE, LIST_KEYS):
        assert not permits(reader, action), action


def test_notactions_subtract_only_within_the_role():
    cosmos_operator = role("Cosmos DB Operator")
    assert permits(cosmos_operator, "Microsoft.DocumentDB/databaseAccounts/write")
    assert not permits(cosmos_operator, "Microsoft.DocumentDB/databaseAccounts/listKeys/action")
    assert not permits(cosmos_operator, "Microsoft.DocumentDB/databaseAccounts/readonlykeys/action")
    assert permits(role("DocumentDB Account Contributor"), "Microsoft.DocumentDB/databaseAccounts/listKeys/action")


def test_key_operator_role_is_narrow():
    key_op = role("Storage Account Key Operator Service Role")
    assert permits(key_op, LIST_KEYS)
    assert permits(key_op, "Microsoft.Storage/storageAccounts/regeneratekey/action")
    assert not permits(key_op, "Microsoft.Storage/storageAccounts/read")


def test_managed_identity_operator_can_assign_but_not_create():
    mio = role("Managed Identity Operator")
    assert permits(mio, "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action")
    assert permits(mio, "Microsoft.ManagedIdentity/userAssignedIdentities/read")
    assert not permits(mio, "Microsoft.ManagedIdentity/userAssignedIdentities/write")
    mic = role("Managed Identity Contributor")
    assert permits(mic, "Microsoft.ManagedIdentity/userAssignedIdentities/write")
    assert not permits(mic, "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action")


# --------------------------------------------------------------------------- data plane separation


def test_owner_cannot_read_blob_data():
    owner = role("Owner")
    assert not permits(owner, BLOB_READ, data_action=True)
    assert permits(owner, BLOB_READ)  # as a control-plane string, "*" matches; the plane flag is what counts


def test_blob_data_reader_reads_but_does_not_write_or_delete():
    reader = role("Storage Blob Data Reader")
    assert permits(reader, BLOB_READ, data_action=True)
    assert not permits(reader, BLOB_WRITE, data_action=True)
    assert not permits(reader, BLOB_DELETE, data_action=True)
    assert permits(reader, "Microsoft.Storage/storageAccounts/blobServices/containers/read")
    # dataActions never grant control-plane actions
    assert not permits(reader, BLOB_READ, data_action=False)


def test_blob_data_contributor_and_owner():
    contributor = role("Storage Blob Data Contributor")
    assert permits(contributor, BLOB_WRITE, data_action=True)
    assert permits(contributor, BLOB_DELETE, data_action=True)
    assert not permits(contributor, "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/modifyPermissions/action", data_action=True)
    assert permits(role("Storage Blob Data Owner"), "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/modifyPermissions/action", data_action=True)


def test_key_vault_secrets_user_data_only():
    user = role("Key Vault Secrets User")
    assert permits(user, "Microsoft.KeyVault/vaults/secrets/getSecret/action", data_action=True)
    assert not permits(user, "Microsoft.KeyVault/vaults/secrets/setSecret/action", data_action=True)
    assert not permits(user, "Microsoft.KeyVault/vaults/read")
    assert not permits(role("Key Vault Contributor"), "Microsoft.KeyVault/vaults/secrets/getSecret/action", data_action=True)


def test_permits_accepts_arm_shape():
    arm = to_arm(role("Reader"))
    assert permits(arm, VM_READ)
    assert not permits(arm, VM_WRITE)


# --------------------------------------------------------------------------- scopes


@pytest.mark.parametrize(
    "outer, inner, expected",
    [
        (SUB, RG, True),
        (SUB, VM, True),
        (RG, VM, True),
        (RG, RG, True),
        (RG, RG2, False),  # prefix-name trap
        (RG2, RG, False),
        (RG, SUB, False),
        (VM, RG, False),
        ("/", VM, True),
        ("/", "/", True),
        (RG + "/", VM, True),
        (RG.replace("resourceGroups", "resourcegroups").upper(), VM.lower(), True),
        (f"{RG}/providers/Microsoft.Compute/virtualMachines/vm", VM, False),
        ("/subscriptions/other", VM, False),
    ],
)
def test_scope_contains(outer, inner, expected):
    assert scope_contains(outer, inner) is expected


# --------------------------------------------------------------------------- evaluator


def assign(scope: str, role_name: str, principal: str = "p1", rid: str | None = None) -> Assignment:
    guid = role(role_name)["name"]
    return Assignment(
        id=f"{scope}/providers/Microsoft.Authorization/roleAssignments/{rid or guid}",
        scope=scope,
        role_definition_id=f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/{guid}",
        principal_id=principal,
    )


def test_subscription_assignment_applies_to_rg_and_resource():
    ev = Evaluator()
    a = [assign(SUB, "Contributor")]
    assert ev.check({"p1"}, VM_WRITE, VM, a).allowed
    assert ev.check({"p1"}, RG_READ, RG, a).allowed
    decision = ev.check({"p1"}, VM_WRITE, VM, a)
    assert decision.matched_assignment == a[0]
    assert "Contributor" in decision.reason


def test_rg_assignment_does_not_leak_to_sibling_or_parent():
    ev = Evaluator()
    a = [assign(RG, "Owner")]
    assert ev.check({"p1"}, VM_WRITE, VM, a).allowed
    assert not ev.check({"p1"}, VM_WRITE, f"{RG2}/providers/Microsoft.Compute/virtualMachines/vm1", a).allowed
    assert not ev.check({"p1"}, "Microsoft.Resources/subscriptions/resourceGroups/write", SUB, a).allowed
    denied = ev.check({"p1"}, RG_READ, RG2, a)
    assert not denied and denied.matched_assignment is None and denied.reason


def test_deny_by_default_and_principal_filter():
    ev = Evaluator()
    assert not ev.check({"p1"}, VM_READ, VM, []).allowed
    a = [assign(SUB, "Owner", principal="someone-else")]
    assert not ev.check({"p1"}, VM_READ, VM, a).allowed
    assert not ev.check(set(), VM_READ, VM, a).allowed
    # group membership: any of the caller's ids may hold the assignment
    assert ev.check({"p1", "someone-else"}, VM_READ, VM, a).allowed


def test_evaluator_data_plane():
    ev = Evaluator()
    a = [assign(SUB, "Owner"), assign(SA, "Storage Blob Data Reader", rid="r2")]
    assert not ev.check({"p1"}, BLOB_WRITE, CONTAINER, a, data_action=True).allowed
    granted = ev.check({"p1"}, BLOB_READ, CONTAINER, a, data_action=True)
    assert granted.allowed and granted.matched_assignment == a[1]


def test_evaluator_roles_are_additive():
    ev = Evaluator()
    a = [assign(RG, "Contributor"), assign(RG, "User Access Administrator", rid="r2")]
    assert ev.check({"p1"}, RA_WRITE, VM, a).allowed


def test_unknown_role_grants_nothing_and_custom_lookup_plugs_in():
    a = [Assignment("ra1", SUB, "/providers/Microsoft.Authorization/roleDefinitions/11111111-2222-3333-4444-555555555555", "p1")]
    assert not Evaluator().check({"p1"}, VM_READ, VM, a).allowed
    custom = {"roleName": "VM Reader", "actions": ["Microsoft.Compute/virtualMachines/read"], "notActions": []}

    def lookup(rid: str):
        return custom if rid.lower().endswith("11111111-2222-3333-4444-555555555555") else by_id(rid)

    ev = Evaluator(lookup)
    assert ev.check({"p1"}, VM_READ, VM, a).allowed
    assert not ev.check({"p1"}, VM_WRITE, VM, a).allowed


def test_required_action():
    assert required_action("GET", "Microsoft.Resources/subscriptions/resourceGroups") == RG_READ
    assert required_action("put", "Microsoft.Compute/virtualMachines") == VM_WRITE
    assert required_action("PATCH", "Microsoft.Compute/virtualMachines") == VM_WRITE
    assert required_action("DELETE", "Microsoft.Authorization/roleAssignments") == "Microsoft.Authorization/roleAssignments/delete"
    with pytest.raises(ValueError):
        required_action("POST", "Microsoft.Storage/storageAccounts")


# --------------------------------------------------------------------------- catalogue


@pytest.mark.parametrize("name, guid", sorted(KNOWN_GUIDS.items()))
def test_real_guids(name, guid):
    assert role(name)["name"] == guid
    assert by_id(guid)["roleName"] == name


def test_lookup_by_name_is_case_insensitive():
    assert by_name("storage blob data READER")["name"] == KNOWN_GUIDS["Storage Blob Data Reader"]
    assert by_name("No Such Role") is None


def test_lookup_by_full_id():
    guid = KNOWN_GUIDS["Reader"]
    assert by_id(f"/providers/Microsoft.Authorization/roleDefinitions/{guid}")["roleName"] == "Reader"
    assert by_id(f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/{guid.upper()}")["roleName"] == "Reader"
    assert by_id(f"{SUB}/providers/microsoft.authorization/roledefinitions/{guid}/")["roleName"] == "Reader"
    assert by_id(f"{SUB}/providers/Microsoft.Authorization/roleAssignments/{guid}") is None
    assert by_id("not-a-guid") is None
    assert by_id("11111111-2222-3333-4444-555555555555") is None


def test_lookups_return_copies():
    r = by_name("Reader")
    r["actions"].append("*")
    assert by_name("Reader")["actions"] == ["*/read"]


REQUIRED_ROLES = [
    "Owner", "Contributor", "Reader", "User Access Administrator",
    "Role Based Access Control Administrator", "Virtual Machine Contributor",
    "Managed Identity Operator", "Managed Identity Contributor", "Storage Account Contributor",
    "Storage Account Key Operator Service Role", "Storage Blob Data Reader",
    "Storage Blob Data Contributor", "Storage Blob Data Owner", "Storage Queue Data Reader",
    "Classic Storage Account Key Operator Service Role", "Cosmos DB Account Reader Role",
    "DocumentDB Account Contributor", "Cosmos DB Operator", "Key Vault Administrator",
    "Key Vault Secrets User", "Key Vault Secrets Officer", "Key Vault Reader",
    "Key Vault Contributor", "SQL DB Contributor", "SQL Server Contributor",
    "Website Contributor", "Data Lake Analytics Developer",
]


def test_required_roles_present():
    missing = [n for n in REQUIRED_ROLES if by_name(n) is None]
    assert missing == []


def test_catalogue_is_well_formed():
    names, guids = set(), set()
    keys = {"roleName", "name", "description", "actions", "notActions", "dataActions", "notDataActions", "assignableScopes"}
    for r in BUILTIN_ROLES:
        assert set(r) == keys, r.get("roleName")
        assert GUID_RE.match(r["name"]), r["roleName"]
        assert r["roleName"].casefold() not in names, r["roleName"]
        assert r["name"] not in guids, r["roleName"]
        names.add(r["roleName"].casefold())
        guids.add(r["name"])
        assert r["assignableScopes"] == ["/"]
        assert r["description"].strip()
        assert r["actions"] or r["dataActions"], r["roleName"]
        for k in ("actions", "notActions", "dataActions", "notDataActions"):
            assert all(isinstance(p, str) and p and p == p.strip() for p in r[k]), (r["roleName"], k)
    assert len(BUILTIN_ROLES) >= len(REQUIRED_ROLES)
