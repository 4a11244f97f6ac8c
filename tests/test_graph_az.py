"""The real Azure CLI against the emulated Microsoft Graph: ``az ad sp list --display-name``,
``az ad sp show --id`` (by app id and by object id) and ``az role assignment create --assignee
<objectId>``, which looks the principal up in Graph (``directoryObjects/getByIds``) to learn its
type. The CLI and an emulator of its own run in a network namespace with only loopback
(``unshare -rn``), with nothing but the emulator's environment, so nothing can leave the machine.

The CLI is the one ``make`` installs in ``.venv-az`` (or ``$MILAB_AZ_CLI``); without it, or
without user namespaces, the test is skipped with the reason."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Runs inside the namespace: an emulator, then az with only the emulator's environment.
PROGRAM = r'''
import json, os, shutil, subprocess, sys, tempfile
from milab.targets.emulator import EmbeddedEmulator
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
emu = EmbeddedEmulator()
env = emu.env
config = tempfile.mkdtemp()
base = {"PATH": "/usr/bin:/bin", "HOME": config, "AZURE_CONFIG_DIR": config, "AZURE_CORE_COLLECT_TELEMETRY": "no",
        "AZURE_CORE_SURVEY_MESSAGE": "no", "AZURE_EXTENSION_USE_DYNAMIC_INSTALL": "no", "AZURE_CORE_NO_COLOR": "1",
        "HTTPS_PROXY": env["HTTPS_PROXY"], "HTTP_PROXY": env["HTTP_PROXY"],
        "REQUESTS_CA_BUNDLE": env["REQUESTS_CA_BUNDLE"]}
out = {}
def az(key, *args):
    r = subprocess.run([sys.argv[1], *args, "-o", "json"], env=base, capture_output=True, text=True, timeout=300)
    out[key] = {"rc": r.returncode, "out": json.loads(r.stdout) if r.stdout.strip() else None,
                "err": r.stderr[-1500:]}
    return out[key]["out"]
try:
    az("login", "login", "--service-principal", "-u", env["AZURE_CLIENT_ID"],
       "--password=" + env["AZURE_CLIENT_SECRET"],
       "--tenant", env["AZURE_TENANT_ID"])
    az("sp_list", "ad", "sp", "list", "--display-name", "Microsoft Graph")
    az("sp_show_app", "ad", "sp", "show", "--id", "00000002-0000-0000-c000-000000000000")
    az("group", "group", "create", "-n", "rg1", "-l", "westus")
    ident = az("identity", "identity", "create", "-g", "rg1", "-n", "myIdentity")
    if ident is None:  # the CLI said why in out["identity"]; the test shows it
        raise SystemExit
    pid = ident["principalId"]
    az("sp_show_oid", "ad", "sp", "show", "--id", pid)
    az("sp_list_mi", "ad", "sp", "list", "--display-name", "myIdentity")
    az("assign", "role", "assignment", "create", "--assignee", pid, "--role", "Reader", "--scope",
       f"/subscriptions/{env['AZURE_SUBSCRIPTION_ID']}/resourceGroups/rg1")
    out["pid"] = pid
except SystemExit:
    pass
finally:
    emu.stop()
    shutil.rmtree(config, ignore_errors=True)  # the CLI's sign-in: the operator's secret, its tokens
print("MILAB-RESULT " + json.dumps(out))
'''


def _az() -> str | None:
    explicit = os.environ.get("MILAB_AZ_CLI")
    for candidate in ([explicit] if explicit else []) + [str(ROOT / ".venv-az" / "bin" / "az")]:
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def test_az_ad_sp_and_role_assignment_work_against_the_emulated_graph(tmp_path):
    az = _az()
    if az is None:
        pytest.skip("no Azure CLI: 'make' installs it in .venv-az (or set MILAB_AZ_CLI)")
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-rn", "true"]).returncode != 0:
        pytest.skip("no user network namespaces here (unshare -rn): the CLI is only run where it cannot call out")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "MILAB_", "HTTP", "PYTEST_"))}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run(["unshare", "-rn", sys.executable, "-c", PROGRAM, az], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("MILAB-RESULT ")), None)
    assert line, proc.stdout[-2000:] + proc.stderr[-2000:]
    r = json.loads(line.split(" ", 1)[1])
    for key in ("login", "sp_list", "sp_show_app", "group", "identity", "sp_show_oid", "sp_list_mi", "assign"):
        assert key in r and r[key]["rc"] == 0, (key, r.get(key, {}).get("err"), {k: v["rc"] for k, v in r.items()
                                                                               if isinstance(v, dict)})
    assert [(s["displayName"], s["appId"]) for s in r["sp_list"]["out"]] == [
        ("Microsoft Graph", "00000003-0000-0000-c000-000000000000")]
    assert r["sp_show_app"]["out"]["displayName"] == "Windows Azure Active Directory"
    mi = r["sp_show_oid"]["out"]
    assert (mi["id"], mi["displayName"], mi["servicePrincipalType"]) == (r["pid"], "myIdentity", "ManagedIdentity")
    assert [s["id"] for s in r["sp_list_mi"]["out"]] == [r["pid"]]
    ra = r["assign"]["out"]
    assert (ra["principalId"], ra["principalType"]) == (r["pid"], "ServicePrincipal")
    assert ra["roleDefinitionId"].endswith("/acdd72a7-3385-48ef-bd42-f606fba81ae7")
