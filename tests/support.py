"""Helpers the project's tests share: clients that reach an emulator the way any client does,
and running scenarios in a subprocess against an emulator started with given switches."""
from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import requests

from milab.targets.emulator import ENV_VAR, EmbeddedEmulator

ROOT = Path(__file__).resolve().parent.parent


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
