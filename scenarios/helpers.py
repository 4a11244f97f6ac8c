"""Small helpers scenarios share: reading tokens for assertions and checking Azure errors."""
from __future__ import annotations

import jwt

from milab.guest import HttpResult


def claims(token: str) -> dict:
    """The claims of a token, for assertions (the services verify signatures; tests only read)."""
    return jwt.decode(token, options={"verify_signature": False})


def assert_denied(result: HttpResult, status: int, code: str, what: str) -> None:
    assert result.status == status and result.error_code() == code, (
        f"{what}: expected {status} {code}, got {result.status} {result.error_code()}: {result.body[:400]}")


def assert_ok(result: HttpResult, what: str) -> dict:
    assert result.status == 200, f"{what}: expected 200, got {result.status}: {result.body[:400]}"
    return result.json()
