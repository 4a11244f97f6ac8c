"""User-assigned identity CRUD: create, list and delete on every pivot this project runs (REST at
the page's 2015-08-31-preview, the template page's template as written, seed 001's Bicep as its
ARM JSON, the portal as its ARM calls), the documented outputs' fields, what a VM holding a
deleted identity sees, and the overview's claims (one identity on two VMs, granted before it is
assigned; it outlives the VMs)."""
from __future__ import annotations

import uuid

import pytest

from milab import registry
from milab.cloud.arm.templates import FUNCTIONS

from .helpers import assert_denied, assert_ok, claims
from .lifecycle import ARM, arm_get_from, deploy, load_template

FAMILY = "ua_identity_crud"
VARIANTS = [t.variant for t in registry.TUTORIALS if t.family == FAMILY]
pytestmark = [pytest.mark.tutorial(family=FAMILY), pytest.mark.parametrize("variant", VARIANTS)]
UA = "Microsoft.ManagedIdentity/userAssignedIdentities"
FIELDS = ("tenantId", "principalId", "clientId")


def _path(rg, name):
    return f"{rg.id}/providers/{UA}/{name}"


def _check_identity(doc: dict, rg, name: str, api_version: str) -> None:
    assert doc["type"] == UA and doc["name"] == name and doc["id"].lower() == _path(rg, name).lower()
    for k in FIELDS:
        uuid.UUID(doc["properties"][k])
    # before 2018-11-30 the answer also carries clientSecretUrl (the CLI page's create output)
    assert ("clientSecretUrl" in doc["properties"]) == (api_version < "2018-11-30"), doc["properties"]


def _token_from(vm, ua) -> dict:
    got = vm.target.wait_for(lambda: vm.imds_token(ARM, client_id=ua["properties"]["clientId"]),
                             lambda r: r.status == 200, "a token for the identity")
    return claims(assert_ok(got, "IMDS token for the user-assigned identity")["access_token"])


def test_procedure(variant, tutorial_facts, target, arm_rest, shared_group, vm_factory, grant, cleanup):
    facts, rg = tutorial_facts, shared_group
    api, step = facts["api_version"], facts["step"]
    name = target.unique_name("id")
    cleanup.add(f"identity {name}", lambda: arm_rest.call("DELETE", _path(rg, name), "2018-11-30"))

    if step in ("create", "list", "delete", "role", "shared"):
        r = arm_rest.call("PUT", _path(rg, name), api, {"location": target.location, "tags": target.tags()})
        assert r.status == 201, r.text[:400]
        _check_identity(r.body, rg, name, api)
    if step == "create":
        # what the user cares about: a VM holding the identity gets tokens for it
        vm = vm_factory(rg, identity="user", user_identities=[_ua_obj(r.body, rg)])
        assert _token_from(vm, r.body)["oid"] == r.body["properties"]["principalId"]
    elif step == "list":
        second = target.unique_name("id")
        cleanup.add(f"identity {second}", lambda: arm_rest.call("DELETE", _path(rg, second), "2018-11-30"))
        assert arm_rest.call("PUT", _path(rg, second), api, {"location": target.location}).status == 201
        listed = arm_rest.call("GET", f"{rg.id}/providers/{UA}", api)
        assert listed.status == 200, listed.text[:300]
        got = {i["name"]: i for i in listed.body["value"]}
        assert {name, second} <= set(got), sorted(got)
        assert all(i["type"] == UA for i in got.values())
        _check_identity(got[name], rg, name, api)
    elif step == "delete":
        vm = vm_factory(rg, identity="user", user_identities=[_ua_obj(r.body, rg)])
        _token_from(vm, r.body)
        gone = arm_rest.call("DELETE", _path(rg, name), api)
        assert gone.status in (200, 204), gone.text[:300]
        assert arm_rest.call("GET", _path(rg, name), api).code == "ResourceNotFound"
        # "deleting a user-assigned identity does not remove it from the VM": the reference stays ...
        shown = arm_rest.call("GET", vm.id, "2018-06-01").body["identity"]["userAssignedIdentities"]
        assert r.body["id"].lower() in {k.lower() for k in shown}, shown
        # ... and IMDS issues no token for it any more
        refused = target.wait_for(lambda: vm.imds_token(ARM, client_id=r.body["properties"]["clientId"]),
                                  lambda x: x.status == 400, "IMDS to stop issuing tokens for the deleted identity")
        assert_denied(refused, 400, "invalid_request", "a token for a deleted user-assigned identity")
    elif step == "template":
        props = deploy(target, rg.name, f"{name}-d", load_template("user-assigned-identity-2019.json"),
                       {"resourceName": name})
        assert props.outputs == {"identityName": {"type": "String", "value": name}}
        _check_identity(arm_rest.call("GET", _path(rg, name), api).body, rg, name, api)
    elif step == "bicep":
        props = deploy(target, rg.name, f"{name}-d", load_template("user-assigned-identity.json"), {})
        expected = FUNCTIONS["uniquestring"](f"/subscriptions/{target.subscription_id}", rg.id)
        assert props.outputs["name"] == {"type": "String", "value": expected}, props.outputs
        cleanup.add("the Bicep identity", lambda: arm_rest.call("DELETE", _path(rg, expected), "2018-11-30"))
        assert props.outputs["id"]["value"].lower() == _path(rg, expected).lower()
        _check_identity(arm_rest.call("GET", _path(rg, expected), api).body, rg, expected, api)
    elif step == "role":
        # The portal page's steps open IAM *on the identity* (who may manage it), not a grant *to* it.
        other = target.unique_name("id")
        cleanup.add(f"identity {other}", lambda: arm_rest.call("DELETE", _path(rg, other), "2018-11-30"))
        admin = arm_rest.call("PUT", _path(rg, other), api, {"location": target.location}).body
        grant(admin["properties"]["principalId"], facts["role"], r.body["id"])
        vm = vm_factory(rg, identity="user", user_identities=[_ua_obj(r.body, rg), _ua_obj(admin, rg)])
        token = vm.imds_token(ARM, client_id=r.body["properties"]["clientId"]).json()["access_token"]
        assert_denied(arm_get_from(vm, token, rg.id, "2016-09-01"), 403, "AuthorizationFailed",
                      "the identity itself after 'assign a role' on its IAM page")
        admin_token = vm.imds_token(ARM, client_id=admin["properties"]["clientId"]).json()["access_token"]
        got = target.wait_for(lambda: arm_get_from(vm, admin_token, r.body["id"], api), lambda x: x.status == 200,
                              "the role on the identity to take effect")
        assert_ok(got, f"{facts['role']} on the identity reads it")
    elif step == "shared":
        # granted before it is assigned (pre-authorization), then shared by two VMs
        grant(r.body["properties"]["principalId"], facts["role"], rg.id)
        first = vm_factory(rg, identity="user", user_identities=[_ua_obj(r.body, rg)])
        second = vm_factory(rg, identity="user", user_identities=[_ua_obj(r.body, rg)])
        for vm in (first, second):
            c = _token_from(vm, r.body)
            assert c["oid"] == r.body["properties"]["principalId"]
        token = second.imds_token(ARM).json()["access_token"]  # the lone identity is the default
        got = target.wait_for(lambda: arm_get_from(second, token, rg.id, "2016-09-01"), lambda x: x.status == 200,
                              "the pre-authorized role to take effect")
        assert_ok(got, "the second VM reads the group with the shared identity")
        target.lro(target.compute.virtual_machines.begin_delete(rg.name, first.name))
        assert arm_rest.call("GET", _path(rg, name), api).status == 200, "the identity outlives the VM"
        assert _token_from(second, r.body)["oid"] == r.body["properties"]["principalId"]


def _ua_obj(doc, rg):
    from fixtures.resources import UserIdentity
    return UserIdentity(doc["id"], doc["name"], rg.name, doc["properties"]["principalId"],
                        doc["properties"]["clientId"])
