"""App roles and groups reach tokens: a token issued after an app role assignment carries
``roles``, one issued before does not; managed identities' tokens carry their security groups;
IMDS hands back its cached (stale) token unless the cache is switched off or waited out."""
from __future__ import annotations

import pytest

from milab.cloud.directory import apps
from milab.cloud.server import Config, Emulator

DIRECTORY_READ_ALL = "5778995a-e1bf-45b8-affa-663a9f3f4d04"  # Azure AD Graph's, as on the 2019 pages
AAD_GRAPH = "https://graph.windows.net"


@pytest.fixture
def emu(tmp_path):
    e = Emulator(Config(state_dir=tmp_path))
    sub = e.state.subscription_id
    vm_id = f"/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"
    sp = e.state.new_managed_identity("system-assigned", "vm1", vm_id)
    e.state.put({"id": vm_id, "name": "vm1", "type": "Microsoft.Compute/virtualMachines", "location": "westus",
                 "properties": {}, "_milab": {"identity": {"system": sp.object_id, "user": []}}})
    e.vm, e.sp = e.state.get(vm_id), sp
    return e


def _grant(emu, principal_id: str, role_id: str = DIRECTORY_READ_ALL, app_id: str = apps.AAD_GRAPH_APP_ID):
    return emu.directory.assign_app_role(principal_id, emu.directory.by_app_id(app_id).object_id, role_id)


def test_imds_hands_back_its_cached_token_without_the_new_role(emu):
    before, c0 = emu.imds.token_for(emu.sp, AAD_GRAPH)
    assert "roles" not in c0
    _grant(emu, emu.sp.object_id)
    again, c1 = emu.imds.token_for(emu.sp, AAD_GRAPH)
    assert again == before and "roles" not in c1  # the cached token, issued before the grant
    other, c2 = emu.imds.token_for(emu.sp, AAD_GRAPH + "/")  # the cache is per resource URI
    assert c2["roles"] == ["Directory.Read.All"]
    assert emu.imds.expire_cache(emu.vm) == 2  # waiting the cache out
    fresh, c3 = emu.imds.token_for(emu.sp, AAD_GRAPH)
    assert fresh != before and c3["roles"] == ["Directory.Read.All"]
    assert "roles" not in emu.imds.token_for(emu.sp, "https://graph.microsoft.com")[1]  # another resource app


def test_with_the_cache_switched_off_every_token_is_fresh(emu):
    emu.config.imds_token_cache = False
    first, _ = emu.imds.token_for(emu.sp, AAD_GRAPH)
    _grant(emu, emu.sp.object_id)
    second, claims = emu.imds.token_for(emu.sp, AAD_GRAPH)
    assert second != first and claims["roles"] == ["Directory.Read.All"]


def test_managed_identity_tokens_carry_their_security_groups(emu):
    d = emu.directory
    g = d.create_group("myGroup", "NotSet")
    parent = d.create_group("parent", "parent")
    mail = d.create_group("mail", "mail", security_enabled=False, mail_enabled=True)
    d.add_member(g["id"], emu.sp.object_id)
    d.add_member(parent["id"], g["id"])
    d.add_member(mail["id"], emu.sp.object_id)
    emu.config.imds_token_cache = False
    _, claims = emu.imds.token_for(emu.sp, "https://storage.azure.com/")
    assert claims["groups"] == [g["id"], parent["id"]]  # transitive, security groups only
    d.remove_member(g["id"], emu.sp.object_id)
    assert "groups" not in emu.imds.token_for(emu.sp, "https://storage.azure.com/")[1]


def test_operator_tokens_from_entra_carry_app_roles_once_granted(emu):
    op = emu.state.operator
    form = {"grant_type": "client_credentials", "client_id": op.app_id, "client_secret": op.secret,
            "scope": "https://graph.microsoft.com/.default"}
    import json
    import jwt

    def roles() -> list | None:
        body = json.loads(emu.entra.token(emu.state.tenant_id, form, v2=True).text)
        return jwt.decode(body["access_token"], options={"verify_signature": False}).get("roles")

    assert roles() is None
    _grant(emu, op.object_id, "06b708a9-e830-4db3-a914-8e69da51d44f", apps.GRAPH_APP_ID)
    assert roles() == ["AppRoleAssignment.ReadWrite.All"]  # Entra issues a fresh token every time
