"""Helpers the project's tests share: clients that reach an emulator the way any client does,
and running scenarios in a subprocess against an emulator started with given switches."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
import types
from dataclasses import dataclass
from pathlib import Path

import requests

from milab.targets.emulator import ENV_VAR, Control, EmbeddedEmulator

ROOT = Path(__file__).resolve().parent.parent


def fixed_clock(moment: dt.datetime) -> types.SimpleNamespace:
    """A stand-in for a module's ``datetime`` import (``monkeypatch.setattr(mod, "dt", fixed_clock(t))``)
    whose ``datetime.now()`` is ``moment``."""
    return types.SimpleNamespace(datetime=types.SimpleNamespace(now=lambda tz=None: moment),
                                 timezone=dt.timezone, timedelta=dt.timedelta)


def proxied_session(env: dict) -> requests.Session:
    """A session that goes through the emulator's proxy and trusts its CA."""
    s = requests.Session()
    s.trust_env = False
    s.proxies = {"http": env["HTTP_PROXY"], "https": env["HTTPS_PROXY"]}
    s.verify = env["REQUESTS_CA_BUNDLE"]
    return s


def operator_token(session: requests.Session, env: dict, scope: str = "https://management.azure.com/.default") -> str:
    r = session.post(f"https://login.microsoftonline.com/{env['AZURE_TENANT_ID']}/oauth2/v2.0/token",
                     data={"grant_type": "client_credentials", "client_id": env["AZURE_CLIENT_ID"],
                           "client_secret": env["AZURE_CLIENT_SECRET"], "scope": scope}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


class Arm:
    def __init__(self, http: requests.Session, token: str, sub: str):
        self.http, self.token, self.sub = http, token, sub

    def call(self, method: str, path: str, api_version: str | None = "2021-04-01", body=None, token=None,
             headers=None) -> requests.Response:
        url = f"https://management.azure.com{path}"
        if api_version:
            url += ("&" if "?" in url else "?") + f"api-version={api_version}"
        h = {"Authorization": f"Bearer {token or self.token}"} if (token or self.token) else {}
        h.update(headers or {})
        return self.http.request(method, url, json=body, headers=h, timeout=60)

    def group(self, name: str | None = None) -> str:
        name = name or f"t-{uuid.uuid4().hex[:8]}"
        r = self.call("PUT", f"/subscriptions/{self.sub}/resourceGroups/{name}", body={"location": "westus"})
        assert r.status_code in (200, 201), r.text
        return name


def make_vm(arm, rg, name, identity=None, os_name="Linux") -> dict:
    image = ({"publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy", "sku": "22_04-lts",
              "version": "latest"} if os_name == "Linux" else
             {"publisher": "MicrosoftWindowsServer", "offer": "WindowsServer", "sku": "2022-datacenter",
              "version": "latest"})
    body = {"location": "westus", "identity": identity or {"type": "SystemAssigned"},
            "properties": {"hardwareProfile": {"vmSize": "Standard_B2s"}, "storageProfile": {"imageReference": image},
                           "osProfile": {"computerName": name, "adminUsername": "azureuser"}}}
    r = arm.call("PUT", f"/subscriptions/{arm.sub}/resourceGroups/{rg}/providers/Microsoft.Compute/"
                        f"virtualMachines/{name}", "2024-07-01", body)
    assert r.status_code == 201, r.text
    return r.json()


def run(control: Control, vm: dict, script: str, timeout: float = 60) -> tuple[int, str, str]:
    r = control.call("POST", "/_milab/run", json={"vm_id": vm["id"], "script": script, "timeout": timeout})
    return r["exit_code"], r["stdout"], r["stderr"]


@dataclass
class Outcome:
    name: str  # classname::name
    outcome: str  # passed | failed | error | skipped
    failure: str = ""  # the failure's message and text


def run_scenarios(tmp_path: Path, switches: list[str], selection: list[str], workers: str = "0") -> list[Outcome]:
    """Run scenario tests in a subprocess against a fresh emulator started with ``switches``."""
    emu = EmbeddedEmulator(extra_args=switches)
    try:
        junit = tmp_path / "junit.xml"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "AZURE_", "MILAB_"))}
        env[ENV_VAR] = str(emu.env_file)
        cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--no-reports", "-q", "-n", workers,
               f"--junitxml={junit}", "-o", "addopts=", *selection]
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    finally:
        emu.stop()
    assert junit.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    out = []
    for case in ET.parse(junit).iter("testcase"):
        failure = case.find("failure")
        error = case.find("error")
        if failure is not None:
            outcome, text = "failed", (failure.get("message") or "") + (failure.text or "")
        elif error is not None:
            outcome, text = "error", (error.get("message") or "") + (error.text or "")
        else:
            outcome, text = ("skipped" if case.find("skipped") is not None else "passed"), ""
        out.append(Outcome(f"{case.get('classname')}::{case.get('name')}", outcome, text))
    assert out, proc.stdout[-3000:]
    return out
