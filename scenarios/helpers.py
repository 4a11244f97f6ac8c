"""Small helpers scenarios share: reading tokens for assertions and checking Azure errors."""
from __future__ import annotations

import jwt

from milab.guest import HttpResult
from milab.reporting import checks


def claims(token: str) -> dict:
    """The claims of a token, for assertions (the services verify signatures; tests only read)."""
    return jwt.decode(token, options={"verify_signature": False})


def assert_denied(result: HttpResult, status: int, code: str, what: str) -> None:
    checks.record(what, passed=result.status == status and result.error_code() == code, status=result.status,
                  code=result.error_code(), expected=f"{status} {code}")
    assert result.status == status and result.error_code() == code, (
        f"{what}: expected {status} {code}, got {result.status} {result.error_code()}: {result.body[:400]}")


def assert_ok(result: HttpResult, what: str) -> dict:
    checks.record(what, passed=result.status == 200, status=result.status,
                  code=None if result.status == 200 else result.error_code(), expected="200")
    assert result.status == 200, f"{what}: expected 200, got {result.status}: {result.body[:400]}"
    return result.json()


def imds_token(vm, facts: dict, resource: str | None = None, **selector: str) -> str:
    """The access token from the page's own IMDS request (its URL, api-version and headers),
    for the page's resource unless another is named; checks the token's audience."""
    resource = resource or facts["imds_resource"]
    result = vm.imds_token(resource, facts["imds_api_version"], headers=facts["imds_headers"],
                           url=facts["imds_url"], **selector)
    token = assert_ok(result, "IMDS token request")["access_token"]
    assert claims(token)["aud"] == resource, f"IMDS issued a token for {claims(token)['aud']!r}, not {resource!r}"
    return token
