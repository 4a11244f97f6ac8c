"""milab parity: recordings of one scenario made against the emulator, compared with a copy in which
one answer differs, report exactly that difference."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from milab import parity
from milab.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_parity_finds_the_one_injected_difference(tmp_path):
    rec = tmp_path / "emulator"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "MILAB_", "PYTEST_"))}
    r = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--no-reports", "-q",
                        "scenarios/test_arm_read.py::test_arm_read[linux-system-assigned]",
                        "--record-responses", str(rec)], capture_output=True, text=True, timeout=600, env=env,
                       cwd=ROOT)
    assert r.returncode == 0, r.stdout[-2000:]
    steps = parity.load(rec)
    assert len(steps) >= 5
    text = "".join(p.read_text() for p in rec.glob("*.jsonl"))
    assert "eyJ" not in text and "access_token\":" not in text  # shapes only, no bodies
    assert any(e["code"] == "AuthorizationFailed" and e["status"] == 403 for e in steps.values())
    assert all(e["endpoint"].startswith(("management.azure.com/subscriptions/{id}/resourceGroups/{name}",
                                         "169.254.169.254/metadata/identity/oauth2/token")) for e in steps.values())

    live = tmp_path / "live"
    live.mkdir()
    lines = [json.loads(ln) for p in sorted(rec.glob("*.jsonl")) for ln in p.read_text().splitlines()]
    denial = next(e for e in lines if e["code"] == "AuthorizationFailed")
    denial["code"] = "AuthorizationFailedLive"  # the one difference
    (live / "live.jsonl").write_text("".join(json.dumps(e) + "\n" for e in lines))

    assert main(["parity", str(rec), "--against", str(rec), "--out", str(tmp_path / "same")]) == 0
    assert main(["parity", str(live), "--against", str(rec), "--out", str(tmp_path / "out")]) == 1
    doc = json.loads((tmp_path / "out" / "parity.json").read_text())
    [diff] = doc["differences"]
    assert (diff["what"], diff["live"], diff["emulator"]) == ("code", "AuthorizationFailedLive", "AuthorizationFailed")
    assert "1 difference" in (tmp_path / "out" / "parity.md").read_text()
    assert main(["parity", str(tmp_path / "nothing"), "--against", str(rec)]) == 2


def test_endpoints_and_shapes_are_normalised():
    assert parity.endpoint("https://management.azure.com/subscriptions/6ea95739-fc2f-4d7c-af96-ac9d2435bda2/"
                           "resourceGroups/milab1-rg-x?api-version=2016-09-01") == \
        "management.azure.com/subscriptions/{id}/resourceGroups/{name}"
    assert parity.endpoint("https://acct1.blob.core.windows.net/c/b.txt") == "{account}.blob.core.windows.net/{container}/{blob}"
    assert parity.shape('{"error": {"code": "X", "message": "m"}}') == ["error", "error.code", "error.message"]
    assert parity.shape("<?xml version='1.0'?><Error/>") == ["<xml>"]
