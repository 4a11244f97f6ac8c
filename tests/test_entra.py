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
