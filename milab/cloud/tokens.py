"""Token issuance and the one token validator every emulated service uses.

Access tokens are RS256 JWTs shaped like Entra ID v1 access tokens: ``aud`` is
exactly the requested resource, ``iss`` is ``https://sts.windows.net/{tid}/``, and
``oid``/``appid``/``tid``/``xms_mirid``/``roles``/``iat``/``nbf``/``exp`` are set.
Validation checks, in Azure's order: well-formed, signature (against the emulator's
keys by ``kid``), issuer and tenant, audience (the set a service accepts), then
``nbf``/``exp``. Each failure is a :class:`TokenError` with a stable ``reason`` that
each service maps to its own error code and body shape.
"""
from __future__ import annotations

import base64
import time
import uuid
from dataclasses import dataclass
from typing import Any, Iterable

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

CLOCK_SKEW = 300  # seconds of nbf/exp leeway, as Azure services allow


class TokenError(Exception):
    """A token that a service must refuse. ``reason`` is one of:
    missing, malformed, signature, issuer, tenant, audience, expired, not_yet_valid."""

    def __init__(self, reason: str, message: str, claims: dict | None = None):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.claims = claims or {}


def _b64url_uint(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey

    @classmethod
    def generate(cls) -> "SigningKey":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(kid=uuid.uuid4().hex[:27], private_key=key)

    def jwk(self) -> dict:
        pub = self.private_key.public_key().public_numbers()
        return {"kty": "RSA", "use": "sig", "kid": self.kid, "x5t": self.kid,
                "n": _b64url_uint(pub.n), "e": _b64url_uint(pub.e), "alg": "RS256"}

    def pem(self) -> bytes:
        return self.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption())

    @classmethod
    def from_pem(cls, kid: str, pem: bytes) -> "SigningKey":
        return cls(kid=kid, private_key=serialization.load_pem_private_key(pem, password=None))


VERIFIED_CACHE = 4096  # signature-verified tokens remembered (about 1 KB each); beyond, forgotten at once


def issuer_for(tenant_id: str) -> str:
    return f"https://sts.windows.net/{tenant_id}/"


class TokenService:
    """Signs tokens for one tenant and validates tokens presented to any service."""

    def __init__(self, tenant_id: str, key: SigningKey | None = None, clock=time.time):
        self.tenant_id = tenant_id
        self.key = key or SigningKey.generate()
        self.clock = clock
        self.validation_enabled = True  # switched off only to prove denial tests can fail
        # Tokens whose signature already verified: the exact token text -> (kid, claims). Parsing and
        # verifying an RS256 JWT is most of what a token-authenticated request costs; a client sends
        # the same token for an hour. Only the signature step is skipped on a hit: issuer, tenant,
        # audience and lifetime are checked on every use, and a token signed with another key than
        # the current one never matches.
        self._verified: dict[str, tuple[str, dict]] = {}

    # -- issuance ---------------------------------------------------------------------
    def issue(self, *, audience: str, oid: str, appid: str, lifetime: int = 3600,
              extra: dict[str, Any] | None = None, now: float | None = None) -> tuple[str, dict]:
        now = int(self.clock() if now is None else now)
        claims: dict[str, Any] = {
            "aud": audience,
            "iss": issuer_for(self.tenant_id),
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "aio": uuid.uuid4().hex,
            "appid": appid,
            "appidacr": "2",
            "idp": issuer_for(self.tenant_id),
            "idtyp": "app",
            "oid": oid,
            "rh": "0.milab",
            "sub": oid,
            "tid": self.tenant_id,
            "uti": uuid.uuid4().hex[:22],
            "ver": "1.0",
        }
        if extra:
            claims.update(extra)
        token = jwt.encode(claims, self.key.private_key, algorithm="RS256",
                           headers={"kid": self.key.kid, "x5t": self.key.kid, "typ": "JWT"})
        return token, claims

    def jwks(self) -> dict:
        return {"keys": [self.key.jwk()]}

    # -- validation -------------------------------------------------------------------
    def validate(self, token: str | None, audiences: Iterable[str], *, tenant_id: str | None = None) -> dict:
        """Return the claims of a token the caller may accept, or raise TokenError."""
        if not token:
            raise TokenError("missing", "No access token was presented.")
        if not isinstance(token, str) or not token.isascii():
            raise TokenError("malformed", "The access token is not a well-formed JWT: it has non-ASCII characters.")
        known = self._verified.get(token) if self.validation_enabled else None
        if known is not None and known[0] == self.key.kid:
            return self._check_claims(dict(known[1]), audiences, tenant_id)
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
            if not isinstance(header, dict) or not isinstance(unverified, dict):
                raise jwt.DecodeError("the header and payload must be JSON objects")
        except jwt.PyJWTError as e:
            raise TokenError("malformed", f"The access token is not a well-formed JWT: {e}.") from None
        if not self.validation_enabled:
            return unverified
        if header.get("alg") != "RS256":
            raise TokenError("signature", f"The token's algorithm '{header.get('alg')}' is not accepted.", unverified)
        if header.get("kid") != self.key.kid:
            raise TokenError("signature", "The token's signing key is not one of the issuer's keys.", unverified)
        try:
            claims = jwt.decode(token, self.key.private_key.public_key(), algorithms=["RS256"],
                                options={"verify_aud": False, "verify_exp": False, "verify_nbf": False,
                                         "verify_iat": False, "verify_iss": False})
        except jwt.InvalidSignatureError:
            raise TokenError("signature", "The token's signature is invalid.", unverified) from None
        except jwt.PyJWTError as e:
            raise TokenError("malformed", f"The access token is invalid: {e}.", unverified) from None
        if len(self._verified) >= VERIFIED_CACHE:
            self._verified.clear()
        self._verified[token] = (self.key.kid, dict(claims))
        return self._check_claims(claims, audiences, tenant_id)

    def _check_claims(self, claims: dict, audiences: Iterable[str], tenant_id: str | None) -> dict:
        tid = tenant_id or self.tenant_id
        iss = claims.get("iss")
        if iss not in (issuer_for(self.tenant_id), f"https://login.microsoftonline.com/{self.tenant_id}/v2.0"):
            raise TokenError("issuer", f"The access token is from the wrong issuer '{iss}'.", claims)
        if claims.get("tid") != tid:
            raise TokenError("tenant", f"The access token is from tenant '{claims.get('tid')}', "
                                       f"which is not the tenant '{tid}' of this resource.", claims)
        accepted = list(audiences)
        aud = claims.get("aud")
        if aud not in accepted:
            raise TokenError("audience", f"The access token has been obtained for wrong audience or resource "
                                         f"'{aud}'. It should exactly match one of the allowed audiences "
                                         + ",".join(f"'{a}'" for a in accepted) + ".", claims)
        now = self.clock()
        nbf, exp = claims.get("nbf"), claims.get("exp")
        if not isinstance(exp, (int, float)) or not isinstance(nbf, (int, float)):
            raise TokenError("malformed", "The access token has no valid 'nbf'/'exp' claims.", claims)
        if now > exp + CLOCK_SKEW:
            raise TokenError("expired", f"The access token expiry UTC time '{_utc(exp)}' is earlier than "
                                        f"current UTC time '{_utc(now)}'.", claims)
        if now < nbf - CLOCK_SKEW:
            raise TokenError("not_yet_valid", f"The access token is not valid before UTC time '{_utc(nbf)}'; "
                                              f"current UTC time is '{_utc(now)}'.", claims)
        return claims


def _utc(ts: float) -> str:
    return time.strftime("%m/%d/%Y %H:%M:%S", time.gmtime(ts))


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()
