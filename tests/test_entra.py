"""Entra's token endpoints and metadata as the SDKs use them, with Entra's error codes."""
from __future__ import annotations

import jwt
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ClientSecretCredential


def _token(http, env, **form):
    data = {"grant_type": "client_credentials", "client_id": env["AZURE_CLIENT_ID"],
            "client_secret": env["AZURE_CLIENT_SECRET"], "scope": "https://management.azure.com/.default"}
    data.update(form)
    tenant = data.pop("tenant", env["AZURE_TENANT_ID"])
    return http.post(f"https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token", data=data, timeout=30)


def test_sdk_credential_gets_an_arm_token(emu_env):
    cred = ClientSecretCredential(emu_env["AZURE_TENANT_ID"], emu_env["AZURE_CLIENT_ID"],
                                  emu_env["AZURE_CLIENT_SECRET"])
    tok = cred.get_token("https://management.azure.com/.default")
    claims = jwt.decode(tok.token, options={"verify_signature": False})
    assert claims["aud"] == "https://management.azure.com"
    assert claims["appid"] == emu_env["AZURE_CLIENT_ID"]
    assert claims["oid"] == emu_env["MILAB_OPERATOR_OBJECT_ID"]


def test_sdk_credential_with_a_wrong_secret_fails(emu_env):
    cred = ClientSecretCredential(emu_env["AZURE_TENANT_ID"], emu_env["AZURE_CLIENT_ID"], "wrong-secret-value")
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
        cred.get_token("https://management.azure.com/.default")


@pytest.mark.parametrize("form, status, error, code", [
    ({"client_secret": "nope"}, 401, "invalid_client", 7000215),
    ({"client_id": "00000000-0000-0000-0000-000000000000"}, 400, "unauthorized_client", 700016),
    ({"scope": "https://management.azure.com/user_impersonation"}, 400, "invalid_scope", 1002012),
    ({"scope": "https://unknown.example.com/.default"}, 400, "invalid_resource", 500011),
    ({"scope": ""}, 400, "invalid_request", 900144),
    ({"grant_type": "password"}, 400, "unsupported_grant_type", 70003),
    ({"tenant": "11111111-1111-1111-1111-111111111111"}, 400, "invalid_request", 90002),
])
def test_token_errors(http, emu_env, form, status, error, code):
    r = _token(http, emu_env, **form)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] == error and body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}:")


def test_openid_metadata_and_keys(http, emu_env):
    t = emu_env["AZURE_TENANT_ID"]
    doc = http.get(f"https://login.microsoftonline.com/{t}/v2.0/.well-known/openid-configuration", timeout=10).json()
    assert doc["token_endpoint"] == f"https://login.microsoftonline.com/{t}/oauth2/v2.0/token"
    keys = http.get(doc["jwks_uri"], timeout=10).json()["keys"]
    token = _token(http, emu_env).json()["access_token"]
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in keys if k["kid"] == kid)
    assert jwt.decode(token, jwt.PyJWK(key).key, algorithms=["RS256"], audience="https://management.azure.com")


def _post(http, env, body: bytes, content_type: str | None, version: str = "v2.0", headers=None):
    url = (f"https://login.microsoftonline.com/{env['AZURE_TENANT_ID']}/oauth2/"
           f"{'v2.0/token' if version == 'v2.0' else 'token'}")
    h = {"Content-Type": content_type} if content_type else {}
    h.update(headers or {})
    return http.post(url, data=body, headers=h, timeout=30)


def _form(env, **extra) -> bytes:
    from urllib.parse import urlencode
    fields = {"grant_type": "client_credentials", "client_id": env["AZURE_CLIENT_ID"],
              "client_secret": env["AZURE_CLIENT_SECRET"], "scope": "https://management.azure.com/.default"}
    fields.update(extra)
    return urlencode(fields).encode()


def test_v1_endpoint_answers_with_strings(http, emu_env):
    body = _form(emu_env, resource="https://management.azure.com/")
    r = _post(http, emu_env, body, "application/x-www-form-urlencoded", version="v1")
    assert r.status_code == 200, r.text
    doc = r.json()
    for k in ("expires_in", "ext_expires_in", "expires_on", "not_before"):
        assert isinstance(doc[k], str) and doc[k].isdigit(), (k, doc[k])
    assert doc["resource"] == "https://management.azure.com/" and doc["token_type"] == "Bearer"
    v2 = _token(http, emu_env).json()
    assert isinstance(v2["expires_in"], int) and "expires_on" not in v2  # v2.0 keeps numbers


def test_error_bodies_have_error_uri_and_one_correlation_id(http, emu_env):
    r = _token(http, emu_env, client_secret="nope")
    body = r.json()
    assert body["error_uri"] == "https://login.microsoftonline.com/error?code=7000215"
    desc = body["error_description"]
    assert f"Correlation ID: {body['correlation_id']}" in desc and f"Trace ID: {body['trace_id']}" in desc
    assert f"Timestamp: {body['timestamp']}" in desc
    mine = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    r = _post(http, emu_env, _form(emu_env, client_secret="nope"), "application/x-www-form-urlencoded",
              headers={"client-request-id": mine})
    assert r.json()["correlation_id"] == mine and f"Correlation ID: {mine}" in r.json()["error_description"]
    assert r.headers["client-request-id"] == mine


FORM = "application/x-www-form-urlencoded"
MALFORMED = [  # body, Content-Type, the error, the parameter Entra then says is missing
    (b"grant_type=client_credentials&client_id=\xff\xfe&client_secret=x&scope=https%3A%2F%2Fmanagement.azure.com"
     b"%2F.default", FORM, "unauthorized_client", None),
    (b"grant_type=client_credentials&client_id=%ff%fe", FORM, "invalid_request", "scope"),
    (b"grant_type=client_credentials", FORM + "; charset=bogus", "invalid_request", "client_id"),
    (b"\xff\xfe\xfd", FORM + "; charset=utf-16", "invalid_request", "grant_type"),
    (b"--x\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\nclient_credentials\r\n--x--\r\n",
     "multipart/form-data", "invalid_request", "grant_type"),
    (b"--x\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\nclient_cre",
     "multipart/form-data; boundary=x", "invalid_request", "grant_type"),
    (b'{"grant_type": "client_credentials"}', "application/json", "invalid_request", "grant_type"),
    (b"", None, "invalid_request", "grant_type"),
]


@pytest.mark.parametrize("body, content_type, error, missing", MALFORMED)
def test_malformed_token_requests_are_entra_errors(http, emu_env, body, content_type, error, missing):
    r = _post(http, emu_env, body, content_type)
    assert r.status_code in (400, 401), r.text
    doc = r.json()
    assert doc["error"] == error, doc
    if missing:  # Entra reads nothing from a body that is not a form
        assert doc["error_codes"] == [900144] and f"parameter: '{missing}'" in doc["error_description"], doc


@pytest.mark.parametrize("resource", ["https://management.azure.com/\n", "https://management.azure.com/\r\n",
                                      "https://management.azure.com/\t", " https://management.azure.com/",
                                      "https://management.azure.com/\x00", "https://management.azure.com\u2028"])
def test_resources_with_control_characters_or_whitespace_are_refused(http, emu_env, resource):
    v1 = _post(http, emu_env, _form(emu_env, resource=resource), "application/x-www-form-urlencoded", version="v1")
    assert v1.status_code == 400 and v1.json()["error"] == "invalid_resource", v1.text
    assert v1.json()["error_codes"] == [500011]
    if resource.startswith(" "):
        return  # in a v2.0 scope a space only separates scopes (RFC 6749 3.3)
    v2 = _post(http, emu_env, _form(emu_env, scope=resource + "/.default"), FORM)
    assert v2.status_code == 400 and v2.json()["error"] == "invalid_resource", v2.text
    assert v2.json()["error_codes"] == [500011]
