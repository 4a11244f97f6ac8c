"""The emulator's own control API (origin-form requests to the proxy port, header
``X-Milab-Control: <key>``): health, environments for the operator and for a VM's
context, switches that prove denial tests can fail, and test-only token minting."""
from __future__ import annotations

import hmac
import json
import time
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:  # pragma: no cover
    from .server import Emulator


def _err(status: int, message: str) -> web.Response:
    return web.json_response({"error": {"code": "MilabControl", "message": message}}, status=status)


class ControlService:
    def __init__(self, emu: "Emulator"):
        self.emu = emu

    async def handle(self, request: web.Request) -> web.Response:
        if request.path == "/_milab/health":
            return web.json_response({"ready": True, "pid": self.emu.pid,
                                      "guest_isolation": self.emu.guests.isolation.mode})
        key = request.headers.get("X-Milab-Control", "")
        if not hmac.compare_digest(key.encode(), self.emu.control_key.encode()):
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
                body = await request.json()
                vm_id = body.get("vm_id", "")
                if self.emu.state.get(vm_id) is None:
                    return _err(404, f"No emulated VM '{vm_id}'.")
                code, out, err = await self.emu.guests.run(vm_id, str(body.get("script", "")),
                                                          float(body.get("timeout", 300)))
                return web.json_response({"exit_code": code, "stdout": out, "stderr": err})
            if path == "/_milab/imds-faults" and request.method == "POST":
                body = await request.json()
                vm_id = str(body.get("vm_id", ""))
                if self.emu.state.get(vm_id) is None:
                    return _err(404, f"No emulated VM '{vm_id}'.")
                self.emu.imds.inject(vm_id, [int(s) for s in body.get("statuses", [])])
                return web.json_response({"pending": self.emu.imds.faults.get(vm_id.lower(), [])})
            if path == "/_milab/imds-requests" and request.method == "GET":
                return web.json_response({"count": self.emu.imds.requests.get(request.query.get("id", "").lower(), 0)})
            if path == "/_milab/config":
                if request.method == "POST":
                    body = await request.json()
                    if "enforce_rbac" in body:
                        self.emu.config.enforce_rbac = bool(body["enforce_rbac"])
                    if "validate_tokens" in body:
                        self.emu.tokens.validation_enabled = bool(body["validate_tokens"])
                return web.json_response({"enforce_rbac": self.emu.config.enforce_rbac,
                                          "validate_tokens": self.emu.tokens.validation_enabled})
            if path == "/_milab/tokens" and request.method == "POST":
                return await self.mint(request)
        except (ValueError, json.JSONDecodeError) as e:
            return _err(400, f"Malformed control request: {e}")
        return _err(404, f"No control endpoint {request.method} {path}.")

    async def mint(self, request: web.Request) -> web.Response:
        """Sign a token for an existing principal with a chosen lifetime window (for expiry tests)."""
        body = await request.json()
        p = self.emu.state.principals.get(str(body.get("object_id", "")))
        if p is None:
            return _err(404, f"No principal with object id '{body.get('object_id')}'.")
        now = time.time() + float(body.get("issued_offset", 0))
        extra = {"xms_mirid": p.mi_resource_id} if p.mi_resource_id else {}
        extra.update(body.get("claims") or {})  # e.g. another tenant's tid/iss, for validation tests
        token, claims = self.emu.tokens.issue(audience=str(body["audience"]), oid=p.object_id, appid=p.app_id,
                                              lifetime=int(body.get("lifetime", 3600)), now=now, extra=extra)
        return web.json_response({"access_token": token, "expires_on": claims["exp"]})
