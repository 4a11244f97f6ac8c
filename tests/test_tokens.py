"""The one token validator: signature, issuer, tenant, audience, nbf/exp, malformed input,
and how ARM reports each failure."""
from __future__ import annotations

import time
import uuid

import jwt
import pytest

from milab.cloud.tokens import CLOCK_SKEW, SigningKey, TokenError, TokenService, bearer

TENANT = str(uuid.uuid4())
ARM = ["https://management.azure.com/", "https://management.azure.com"]


@pytest.fixture(scope="module")
def svc() -> TokenService:
    return TokenService(TENANT)


def _issue(svc, **over):
    token, claims = svc.issue(audience=over.pop("aud", "https://management.azure.com/"), oid=str(uuid.uuid4()),
                              appid=str(uuid.uuid4()), lifetime=over.pop("lifetime", 3600),
                              now=over.pop("now", None))
    if over:  # re-sign with changed claims
        claims.update(over)
        token = jwt.encode(claims, svc.key.private_key, algorithm="RS256", headers={"kid": svc.key.kid})
    return token


def _reason(svc, token, audiences=ARM):
    with pytest.raises(TokenError) as e:
        svc.validate(token, audiences)
    return e.value.reason


def test_valid_token_claims(svc):
    token = _issue(svc)
    claims = svc.validate(token, ARM)
    assert claims["iss"] == f"https://sts.windows.net/{TENANT}/"
    assert claims["tid"] == TENANT and claims["ver"] == "1.0"
    assert jwt.get_unverified_header(token)["alg"] == "RS256"


def test_jwks_verifies_tokens(svc):
    token = _issue(svc)
    jwk = svc.jwks()["keys"][0]
    key = jwt.PyJWK(jwk).key
    assert jwt.decode(token, key, algorithms=["RS256"], audience="https://management.azure.com/")["tid"] == TENANT


def test_bad_signature(svc):
    other = TokenService(TENANT, SigningKey(svc.key.kid, SigningKey.generate().private_key))
    assert _reason(svc, _issue(other)) == "signature"


def test_tampered_payload(svc):
    head, payload, sig = _issue(svc).split(".")
    forged = jwt.encode({"aud": "https://management.azure.com/"}, "x" * 32, algorithm="HS256").split(".")[1]
    assert _reason(svc, f"{head}.{forged}.{sig}") == "signature"


def test_unknown_key_id(svc):
    stranger = TokenService(TENANT)
    assert _reason(svc, _issue(stranger)) == "signature"


def test_alg_none_refused(svc):
    token = jwt.encode({"aud": ARM[0], "iss": f"https://sts.windows.net/{TENANT}/", "tid": TENANT,
                        "exp": time.time() + 600, "nbf": time.time()}, None, algorithm="none")
    assert _reason(svc, token) == "signature"


def test_wrong_issuer(svc):
    assert _reason(svc, _issue(svc, iss="https://sts.windows.net/someone-else/")) == "issuer"


def test_wrong_tenant(svc):
    assert _reason(svc, _issue(svc, tid=str(uuid.uuid4()))) == "tenant"


def test_wrong_audience(svc):
    assert _reason(svc, _issue(svc, aud="https://vault.azure.net")) == "audience"


def test_audience_must_match_exactly(svc):
    assert _reason(svc, _issue(svc, aud="https://management.azure.com/extra")) == "audience"
    assert _reason(svc, _issue(svc, aud="HTTPS://MANAGEMENT.AZURE.COM/")) == "audience"


def test_expired_beyond_skew(svc):
    now = time.time()
    assert _reason(svc, _issue(svc, now=now - 7200, lifetime=3600)) == "expired"
    # inside the clock-skew allowance the token is still accepted
    svc.validate(_issue(svc, now=now - 3600 - CLOCK_SKEW // 2, lifetime=3600), ARM)


def test_not_yet_valid(svc):
    assert _reason(svc, _issue(svc, now=time.time() + 3 * CLOCK_SKEW)) == "not_yet_valid"


@pytest.mark.parametrize("token", ["", None, "abc", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30", "Bearer x.y.z"])
def test_malformed(svc, token):
    assert _reason(svc, token) in ("missing", "malformed", "signature")


def test_missing_exp_is_malformed(svc):
    claims = {"aud": ARM[0], "iss": f"https://sts.windows.net/{TENANT}/", "tid": TENANT}
    token = jwt.encode(claims, svc.key.private_key, algorithm="RS256", headers={"kid": svc.key.kid})
    assert _reason(svc, token) == "malformed"


def test_bearer_header_parsing():
    assert bearer("Bearer abc") == "abc"
    assert bearer("bearer   abc ") == "abc"
    assert bearer("Basic abc") is None
    assert bearer("Bearer") is None
    assert bearer(None) is None


# -- how ARM reports each failure --------------------------------------------------------------------
@pytest.mark.parametrize("case, status, code", [
    ("missing", 401, "AuthenticationFailed"),
    ("basic", 401, "AuthenticationFailed"),
    ("garbage", 401, "InvalidAuthenticationToken"),
    ("foreign-key", 401, "InvalidAuthenticationToken"),
    ("wrong-audience", 401, "InvalidAuthenticationTokenAudience"),
    ("expired", 401, "ExpiredAuthenticationToken"),
    ("wrong-tenant", 401, "InvalidAuthenticationTokenTenant"),
])
def test_arm_token_errors(arm, control, emu_env, case, status, code):
    path = f"/subscriptions/{emu_env['AZURE_SUBSCRIPTION_ID']}/resourceGroups"
    oid = emu_env["MILAB_OPERATOR_OBJECT_ID"]
    headers = None
    token = ""
    if case == "basic":
        headers = {"Authorization": "Basic dXNlcjpwYXNz"}
    elif case == "garbage":
        token = "not-a-jwt"
    elif case == "foreign-key":
        token = _issue(TokenService(emu_env["AZURE_TENANT_ID"]))
    elif case == "wrong-audience":
        token = control.call("POST", "/_milab/tokens", json={"object_id": oid, "audience": "https://vault.azure.net"})[
            "access_token"]
    elif case == "expired":
        token = control.call("POST", "/_milab/tokens", json={"object_id": oid, "audience": ARM[0],
                                                             "issued_offset": -7200, "lifetime": 3600})["access_token"]
    elif case == "wrong-tenant":
        other = str(uuid.uuid4())  # signed by the same keys, as Entra signs every tenant's tokens
        token = control.call("POST", "/_milab/tokens", json={
            "object_id": oid, "audience": ARM[0],
            "claims": {"tid": other, "iss": f"https://sts.windows.net/{other}/"}})["access_token"]
    saved = arm.token
    try:
        arm.token = token
        r = arm.call("GET", path, headers=headers)
    finally:
        arm.token = saved
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code, r.text
    assert r.headers.get("WWW-Authenticate", "").startswith("Bearer authorization_uri=")


@pytest.mark.parametrize("token", ["eyJhbGciOiJSUzI1NiJ9.é.x", "W10.W10.", "ImEi.ImEi.", "\u00ff" * 40])
def test_validator_refuses_non_ascii_and_non_object_tokens_as_malformed(token):
    """Every service validates through one function: a token it cannot even decode as a JWT of
    JSON objects is 'malformed' (each service's 401), never an exception that becomes a 500."""
    svc = TokenService(str(uuid.uuid4()))
    with pytest.raises(TokenError) as e:
        svc.validate(token, ARM)
    assert e.value.reason == "malformed"


def test_remembered_signatures_still_check_every_claim_on_each_use():
    """The validator remembers tokens whose signature verified; a later use of the same token is
    still refused for its audience, tenant or lifetime, a token signed by a key that is no longer
    the issuer's is refused although it verified before, and a changed byte is a new token."""
    clock = [time.time()]
    svc = TokenService(TENANT, clock=lambda: clock[0])
    token = _issue(svc, now=clock[0], lifetime=600)
    assert svc.validate(token, ARM)["aud"] == ARM[0]
    assert token in svc._verified  # the second use takes the remembered path
    assert _reason(svc, token, ["https://vault.azure.net"]) == "audience"
    with pytest.raises(TokenError) as e:
        svc.validate(token, ARM, tenant_id=str(uuid.uuid4()))
    assert e.value.reason == "tenant"
    svc.validate(token, ARM)["oid"] = "changed by a caller"  # what a caller does to its copy stays there
    assert svc.validate(token, ARM)["oid"] != "changed by a caller"
    clock[0] += 600 + CLOCK_SKEW + 1
    assert _reason(svc, token) == "expired"
    clock[0] -= 600 + CLOCK_SKEW + 1
    head, body, sig = token.split(".")
    assert _reason(svc, ".".join((head, body, sig[:-4] + ("AAAA" if sig[-4:] != "AAAA" else "BBBB")))) \
        in ("signature", "malformed")
    svc.key = SigningKey.generate()  # the issuer's key rolled over: what the old key signed is refused
    assert _reason(svc, token) == "signature"
