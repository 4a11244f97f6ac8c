"""Every storage denial check can fail: against an emulator whose Blob gateway is permissive
(``--permissive-storage``: any credential or none is re-signed with the account key, so bearer
permissions, audiences, expiry, SAS and Shared Key signatures are not checked) and whose ARM
skips RBAC (``--no-rbac``: ``listKeys`` / ``listServiceSas`` without a role), every storage
scenario fails, and each fails at a denial assertion ("expected 40x <code>"), not in set-up.
The same tests pass against the real emulator in the normal run."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from milab.targets.emulator import ENV_VAR, EmbeddedEmulator

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ["scenarios/test_storage_rbac.py", "scenarios/test_storage_key.py", "scenarios/test_storage_sas.py"]
DENIAL = re.compile(r"expected 40[13] \w+|\(40[13], '\w+'\)")


def test_storage_denials_fail_against_a_permissive_gateway(tmp_path):
    emu = EmbeddedEmulator(extra_args=["--permissive-storage", "--no-rbac"])
    try:
        junit = tmp_path / "junit.xml"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "AZURE_", "MILAB_"))}
        env[ENV_VAR] = str(emu.env_file)
        cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2", "--no-reports", "-q",
               f"--junitxml={junit}", "-o", "addopts=", *SCENARIOS]
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    finally:
        emu.stop()
    assert junit.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    outcomes: dict[str, str] = {}
    for case in ET.parse(junit).iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        failure = case.find("failure")
        if failure is None:
            outcomes[name] = "error" if case.find("error") is not None else "passed"
        else:
            text = (failure.get("message") or "") + (failure.text or "")
            outcomes[name] = "denial failed" if DENIAL.search(text) else f"failed elsewhere: {text[:300]}"
    assert len(outcomes) >= 30, outcomes
    wrong = {n: o for n, o in outcomes.items() if o != "denial failed"}
    assert not wrong, f"with a permissive storage gateway these tests did not fail at a denial check: {wrong}"
