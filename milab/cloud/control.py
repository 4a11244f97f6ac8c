"""The emulator's own control API (origin-form requests to the proxy port, header
``X-Milab-Control: <key>``): health, environments for the operator and for a VM's
context, switches that prove denial tests can fail, and test-only token minting."""
from __future__ import annotations

import hmac
import json
import math
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:  # pragma: no cover
    from .server import Emulator


def _err(status: int, message: str) -> web.Response:
    return web.json_response({"error": {"code": "MilabControl", "message": message}}, status=status)


class BadControlRequest(ValueError):
    """A control request the emulator cannot act on: 400 with the reason."""


async def _body(request: web.Request) -> dict:
    """The request's JSON object (400 for anything else: bad UTF-8, bad JSON, an array, null)."""
    try:
        body = json.loads((await request.read()).decode("utf-8") or "{}")
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise BadControlRequest(f"the body is not JSON: {e}") from None
    if not isinstance(body, dict):
        raise BadControlRequest(f"the body must be a JSON object, not {type(body).__name__}")
    return body


def _string(body: dict, key: str, default: str | None = None) -> str:
    value = body.get(key, default)
    if not isinstance(value, str):
        raise BadControlRequest(f"'{key}' must be a string" + ("" if key in body else " (it is required)"))
    return value


def _number(body: dict, key: str, default: float, low: float, high: float) -> float:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not low <= value <= high:
        raise BadControlRequest(f"'{key}' must be a number from {low:g} to {high:g}")
    return value


def _boolean(body: dict, key: str) -> bool:
    if not isinstance(body[key], bool):
        raise BadControlRequest(f"'{key}' must be true or false")
    return body[key]


def _object(body: dict, key: str) -> dict[str, Any]:
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadControlRequest(f"'{key}' must be a JSON object")
    return value


class ControlService:
    def __init__(self, emu: "Emulator"):
        self.emu = emu

    async def handle(self, request: web.Request) -> web.Response:
        if request.path == "/_milab/health":
            return web.json_response({"ready": True, "pid": self.emu.pid,
                                      "guest_isolation": self.emu.guests.isolation.mode})
        # compared as bytes: a header that is not ASCII (or not UTF-8) is simply not the key
        key = request.headers.get("X-Milab-Control", "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(key, self.emu.control_key.encode()):
            return _err(401, "The control API needs the emulator's control key (X-Milab-Control).")
        path = request.path
        try:
            if path == "/_milab/env" and request.method == "GET":
                return web.json_response(self.emu.operator_env())
            if path == "/_milab/vm-context" and request.method == "GET":
                env = self.emu.guests.context_env(request.query.get("id", ""))
                if env is None:
                    return _err(404, f"No emulated VM '{request.query.get('id')}'.")
                return web.json_response(env)
            if path == "/_milab/run" and request.method == "POST":
                body = await _body(request)
                vm_id = _string(body, "vm_id")
                script = _string(body, "script", "")
                timeout = _number(body, "timeout", 300, 0, 3600)
                if self.emu.state.get(vm_id) is None:
                    return _err(404, f"No emulated VM '{vm_id}'.")
                code, out, err = await self.emu.guests.run(vm_id, script, float(timeout))
                return web.json_response({"exit_code": code, "stdout": out, "stderr": err})
            if path == "/_milab/imds-faults" and request.method == "POST":
                body = await _body(request)
                vm_id = _string(body, "vm_id")
                statuses = body.get("statuses", [])
                if not isinstance(statuses, list) or not all(
                        isinstance(s, int) and not isinstance(s, bool) and 100 <= s <= 599 for s in statuses):
                    raise BadControlRequest("'statuses' must be a list of HTTP status codes (100 to 599)")
                if self.emu.state.get(vm_id) is None:
                    return _err(404, f"No emulated VM '{vm_id}'.")
                self.emu.imds.inject(vm_id, statuses)
                return web.json_response({"pending": self.emu.imds.faults.get(vm_id.lower(), [])})
            if path == "/_milab/imds-requests" and request.method == "GET":
                return web.json_response({"count": self.emu.imds.requests.get(request.query.get("id", "").lower(), 0)})
            if path == "/_milab/config":
                if request.method == "POST":
                    body = await _body(request)
                    switches = {k: _boolean(body, k) for k in ("enforce_rbac", "validate_tokens", "imds_token_cache")
                                if k in body}
                    if "enforce_rbac" in switches:
                        self.emu.config.enforce_rbac = switches["enforce_rbac"]
                    if "validate_tokens" in switches:
                        self.emu.tokens.validation_enabled = switches["validate_tokens"]
                    if "imds_token_cache" in switches:
                        self.emu.config.imds_token_cache = switches["imds_token_cache"]
                return web.json_response({"enforce_rbac": self.emu.config.enforce_rbac,
                                          "validate_tokens": self.emu.tokens.validation_enabled,
                                          "imds_token_cache": self.emu.config.imds_token_cache})
            if path == "/_milab/imds-cache" and request.method == "POST":
                # a VM's cached IMDS tokens expire now: what waiting out the ~24 h cache does on Azure
                body = await _body(request)
                vm = self.emu.state.get(str(body.get("vm_id", "")))
                if vm is None:
                    return _err(404, f"No emulated VM '{body.get('vm_id')}'.")
                return web.json_response({"expired": self.emu.imds.expire_cache(vm)})
            if path == "/_milab/tokens" and request.method == "POST":
                return await self.mint(request)
        except BadControlRequest as e:
            return _err(400, f"Malformed control request: {e}.")
        return _err(404, f"No control endpoint {request.method} {path}.")

    async def mint(self, request: web.Request) -> web.Response:
        """Sign a token for an existing principal with a chosen lifetime window (for expiry tests)."""
        body = await _body(request)
        object_id = _string(body, "object_id")
        audience = _string(body, "audience")
        offset = _number(body, "issued_offset", 0, -10 * 365 * 86400, 10 * 365 * 86400)
        lifetime = int(_number(body, "lifetime", 3600, -10 * 365 * 86400, 10 * 365 * 86400))
        claims_extra = _object(body, "claims")  # e.g. another tenant's tid/iss, for validation tests
        p = self.emu.state.principals.get(object_id)
        if p is None:
            return _err(404, f"No principal with object id '{object_id}'.")
        now = time.time() + offset
        extra = {"xms_mirid": p.mi_resource_id} if p.mi_resource_id else {}
        extra.update(claims_extra)
        token, claims = self.emu.tokens.issue(audience=audience, oid=p.object_id, appid=p.app_id,
                                              lifetime=lifetime, now=now, extra=extra)
        return web.json_response({"access_token": token, "expires_on": claims["exp"]})
