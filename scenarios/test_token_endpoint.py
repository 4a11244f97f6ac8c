"""The IMDS token endpoint itself, as the "acquire an access token" page documents it:
the request and response of "Get a token using HTTP", every row of its error tables that
applies to IMDS, identity selection with client_id / object_id / mi_res_id, and the
cases the page implies: a VM without an identity, a VM with two user-assigned
identities and no selector, and tokens scoped to the calling VM only.
"""
from __future__ import annotations

import time
from urllib.parse import quote

import pytest

from .helpers import assert_ok, claims

pytestmark = pytest.mark.tutorial(family="token_endpoint", variant="http")


@pytest.fixture
def rg(resource_group):
    return resource_group()


@pytest.fixture
def system_vm(rg, vm_factory):
    return vm_factory(rg, os="linux", identity="system")


def _imds_error(result, status: int, error: str, what: str) -> None:
    assert result.status == status, f"{what}: expected HTTP {status}, got {result.status}: {result.body[:300]}"
    body = result.json()
    assert body.get("error") == error, f"{what}: expected error {error!r}, got {body}"
    assert body.get("error_description"), f"{what}: the error has no error_description: {body}"


def test_documented_request_and_response(system_vm, tutorial_facts):
    """Get a token using HTTP: the sample request and every element of the sample response."""
    f = tutorial_facts
    before = int(time.time())
    result = system_vm.imds_token(f["imds_resource"], f["imds_api_version"], headers=f["imds_headers"],
                                  url=f["imds_url"])
    body = assert_ok(result, "the documented IMDS request")
    for field in f["response_fields"]:
        assert field in body, f"response lacks documented element {field!r}: {sorted(body)}"
    assert body["token_type"] == "Bearer"
    assert body["resource"] == f["imds_resource"], "resource must echo the request's resource"
    c = claims(body["access_token"])
    assert c["aud"] == f["imds_resource"], "the aud claim is the requested resource"
    assert int(body["expires_on"]) == c["exp"], "expires_on corresponds to the exp claim"
    assert int(body["not_before"]) == c["nbf"], "not_before corresponds to the nbf claim"
    # 5 minutes of clock skew either side, and 5 more below: on Azure iat may come before the request
    # (a backdated iat or a token IMDS cached; not verified here), which 'before - 300' gave no room
    assert before - 600 <= c["iat"] <= int(time.time()) + 300
    assert 0 < int(body["expires_in"]) <= c["exp"] - c["iat"]
    assert c["oid"] == system_vm.principal_id
    assert c["xms_mirid"].lower() == system_vm.id.lower()
    assert c["iss"].startswith("https://sts.windows.net/")


def test_resource_url_encoded_or_not(system_vm, tutorial_facts):
    """The page's curl and PowerShell samples send resource percent-encoded; others send it raw."""
    f = tutorial_facts
    raw = assert_ok(system_vm.imds_token(f["imds_resource"], f["imds_api_version"]), "raw resource")
    enc = assert_ok(system_vm.imds_token(quote(f["imds_resource"], safe=""), f["imds_api_version"]),
                    "percent-encoded resource")
    assert claims(enc["access_token"])["aud"] == claims(raw["access_token"])["aud"] == f["imds_resource"]


def test_tokens_are_cached_per_identity_and_resource(system_vm, tutorial_facts):
    """Token caching: IMDS answers a repeated request from its cache, and a new resource with a new token."""
    f = tutorial_facts
    first = assert_ok(system_vm.imds_token(f["imds_resource"], f["imds_api_version"]), "first request")
    second = assert_ok(system_vm.imds_token(f["imds_resource"], f["imds_api_version"]), "second request")
    other = assert_ok(system_vm.imds_token("https://vault.azure.net", f["imds_api_version"]), "other resource")
    assert first["access_token"] == second["access_token"]
    assert other["access_token"] != first["access_token"]
    assert claims(other["access_token"])["aud"] == "https://vault.azure.net"


# -- the error tables -------------------------------------------------------------------------
@pytest.mark.parametrize("headers, why", [
    ({}, "no Metadata header"),
    ({"Metadata": "True"}, "Metadata not in lower case"),
    ({"Metadata": "false"}, "Metadata false"),
], ids=["missing", "wrong-case", "false"])
def test_metadata_header_required(system_vm, tutorial_facts, headers, why):
    f = tutorial_facts
    result = system_vm.imds_token(f["imds_resource"], f["imds_api_version"], headers=headers)
    _imds_error(result, 400, f["errors"]["missing_metadata"]["error"], why)


def test_unknown_resource_is_invalid_resource(system_vm, tutorial_facts):
    f = tutorial_facts
    result = system_vm.imds_token("https://no-such-resource.example.com/", f["imds_api_version"])
    _imds_error(result, 400, f["errors"]["invalid_resource"]["error"], "an unknown resource")
    assert "no-such-resource.example.com" in result.json()["error_description"]


@pytest.mark.parametrize("query, why", [
    ("resource=https://management.azure.com/", "no api-version"),
    ("api-version=2018-02-01", "no resource"),
    ("api-version=2017-09-01&resource=https://management.azure.com/", "an api-version before 2018-02-01"),
    ("api-version=2018-02-01&resource=https://management.azure.com/&resource=https://vault.azure.net",
     "a parameter given twice"),
], ids=["no-api-version", "no-resource", "old-api-version", "duplicate-parameter"])
def test_malformed_requests_are_invalid_request(system_vm, tutorial_facts, query, why):
    result = system_vm.http("GET", f"{tutorial_facts['imds_url']}?{query}", {"Metadata": "true"})
    _imds_error(result, 400, tutorial_facts["errors"]["invalid_request"]["error"], why)


def test_x_forwarded_for_is_rejected(system_vm, tutorial_facts):
    """IMDS refuses requests that went through a proxy that added X-Forwarded-For."""
    f = tutorial_facts
    result = system_vm.http("GET", f"{f['imds_url']}?api-version={f['imds_api_version']}&resource={f['imds_resource']}",
                            {"Metadata": "true", "X-Forwarded-For": "10.0.0.4"})
    assert result.status == 400, result.body
    assert "access_token" not in result.body


def test_vm_without_identity(rg, vm_factory, tutorial_facts):
    vm = vm_factory(rg, os="linux", identity="none")
    f = tutorial_facts
    _imds_error(vm.imds_token(f["imds_resource"], f["imds_api_version"]), 400, "invalid_request",
                "a VM with no identity")


# -- choosing an identity ---------------------------------------------------------------------------
@pytest.fixture
def two_identity_vm(rg, user_identity, vm_factory):
    ids = [user_identity(rg), user_identity(rg)]
    return vm_factory(rg, os="linux", identity="user", user_identities=ids), ids


def test_two_user_identities_need_a_selector(two_identity_vm, tutorial_facts):
    vm, _ = two_identity_vm
    f = tutorial_facts
    _imds_error(vm.imds_token(f["imds_resource"], f["imds_api_version"]), 400, "invalid_request",
                "two user-assigned identities and no selector")


@pytest.mark.parametrize("selector", ["client_id", "object_id", "mi_res_id", "msi_res_id"])
def test_select_identity(two_identity_vm, tutorial_facts, selector):
    vm, ids = two_identity_vm
    f = tutorial_facts
    for ident in ids:
        value = {"client_id": ident.client_id, "object_id": ident.principal_id,
                 "mi_res_id": ident.id, "msi_res_id": ident.id}[selector]
        body = assert_ok(vm.imds_token(f["imds_resource"], f["imds_api_version"], **{selector: value}),
                         f"token chosen by {selector}")
        c = claims(body["access_token"])
        assert c["oid"] == ident.principal_id, f"{selector} chose the wrong identity"
        assert c["appid"] == ident.client_id
        assert c["xms_mirid"].lower() == ident.id.lower()


def test_system_identity_is_the_default_beside_a_user_identity(rg, user_identity, vm_factory, tutorial_facts):
    ua = user_identity(rg)
    vm = vm_factory(rg, os="linux", identity="both", user_identities=[ua])
    f = tutorial_facts
    default = claims(assert_ok(vm.imds_token(f["imds_resource"], f["imds_api_version"]), "no selector")
                     ["access_token"])
    chosen = claims(assert_ok(vm.imds_token(f["imds_resource"], f["imds_api_version"], client_id=ua.client_id),
                              "client_id")["access_token"])
    assert default["oid"] == vm.principal_id
    assert chosen["oid"] == ua.principal_id


def test_more_than_one_selector_is_refused(two_identity_vm, tutorial_facts):
    vm, ids = two_identity_vm
    f = tutorial_facts
    result = vm.imds_token(f["imds_resource"], f["imds_api_version"], client_id=ids[0].client_id,
                           object_id=ids[0].principal_id)
    _imds_error(result, 400, "invalid_request", "client_id and object_id together")


def test_identities_of_another_vm_are_not_available(rg, user_identity, vm_factory, two_identity_vm, tutorial_facts):
    """The security boundary is the VM: an identity attached elsewhere cannot be chosen here."""
    _, ids = two_identity_vm
    bystander = vm_factory(rg, os="linux", identity="system")
    f = tutorial_facts
    for selector, value in (("client_id", ids[0].client_id), ("object_id", ids[0].principal_id),
                            ("mi_res_id", ids[0].id)):
        _imds_error(bystander.imds_token(f["imds_resource"], f["imds_api_version"], **{selector: value}),
                    400, "invalid_request", f"another VM's identity by {selector}")


# -- error handling and retry guidance ---------------------------------------------------------------
@pytest.mark.parametrize("status, error", [(404, "not_found"), (429, "too_many_requests"), (500, "unknown")],
                         ids=["404-updating", "429-throttled", "500-transient"])
def test_transient_errors_carry_error_and_description(system_vm, target, tutorial_facts, status, error):
    """Error handling: a failed request's body is JSON with ``error`` and ``error_description``."""
    f = tutorial_facts
    target.inject_imds_faults(system_vm, [status])
    _imds_error(system_vm.imds_token(f["imds_resource"], f["imds_api_version"]), status, error,
                f"IMDS answering {status}")
    assert_ok(system_vm.imds_token(f["imds_resource"], f["imds_api_version"]), "the request after the failure")


SDK_TOKEN = """
import sys
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ManagedIdentityCredential
try:
    ManagedIdentityCredential().get_token("https://management.azure.com/.default")
except ClientAuthenticationError as e:
    print("refused:", type(e).__name__)
    sys.exit(1)
print("token acquired")
"""


@pytest.mark.parametrize("status", [404, 429, 500, 503])
def test_sdk_retries_what_the_guidance_says_to_retry(system_vm, target, status):
    """Retry guidance: 404, 429 and 5xx are retried; azure-identity does, and then succeeds."""
    before = target.imds_request_count(system_vm)
    target.inject_imds_faults(system_vm, [status])
    result = system_vm.python(SDK_TOKEN, packages=("azure-identity",))
    assert result.status == 0 and "token acquired" in result.body, (result.body[-400:], result.stderr[-400:])
    assert target.imds_request_count(system_vm) - before == 2, "one failed request, one retry"


def test_sdk_does_not_retry_a_request_error(system_vm, target):
    """Retry guidance: 4xx errors are design-time errors and are not retried."""
    before = target.imds_request_count(system_vm)
    target.inject_imds_faults(system_vm, [400])
    result = system_vm.python(SDK_TOKEN, packages=("azure-identity",))
    assert result.status == 1 and "refused" in result.body, (result.body[-400:], result.stderr[-400:])
    assert target.imds_request_count(system_vm) - before == 1, "a 400 must not be retried"
